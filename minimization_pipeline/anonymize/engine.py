"""Steps 2–5 for one table: histogram → k-anonymity search → apply in one CTAS → verify → swap.

Only the histogram of quasi-identifier tuples comes to Python and only the mapping goes back; the
rows themselves never leave the warehouse. The output is written to `<table>__staging`, verified,
and swapped in only when every check passes, so a failed run never replaces what was published.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd
from sqlglot import exp

from minimization_pipeline.anonymize import pseudonymize, verify
from minimization_pipeline.anonymize.kanon import KAnonResult, KAnonymityError, k_anonymize, released_column
from minimization_pipeline.anonymize.plan import ColumnPlan, TablePlan
from minimization_pipeline.anonymize.verify import CheckOutcome
from minimization_pipeline.catalog import Column, Table
from minimization_pipeline.policy import Method, Role, Treatment
from minimization_pipeline.warehouse.base import TableRef, Warehouse, WarehouseSession

COUNT = "__count"
TUPLE_ID = "__tuple_id"
HISTOGRAM_TABLE = "__minimization_histogram"
MAPPING_TABLE = "__minimization_mapping"


@dataclass
class TableResult:
    """What happened to one table: published or not, and the figures to show for it."""

    plan: TablePlan
    published: bool
    rows: int
    checks: list[CheckOutcome]
    seconds: float
    k_achieved: int | None = None
    classes: int | None = None
    metrics: dict[str, object] = field(default_factory=dict)

    @property
    def failed_checks(self) -> list[CheckOutcome]:
        return [check for check in self.checks if not check.passed]


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _type(data_type: str) -> exp.DataType:
    return exp.DataType.build(data_type, dialect="duckdb")


def direct_expression(column: ColumnPlan, value: exp.Expression, secret: exp.Expression) -> exp.Expression:
    """The pseudonym of a direct identifier, by the column's method."""
    if column.method is Method.HASH:
        return pseudonymize.hash_value(value, column.data_type, secret)
    if column.method is Method.MASK:
        return pseudonymize.mask_value(value, column.policy.mask)
    if column.method is Method.FAKE:
        return pseudonymize.fake_value(value, column.policy.fake, secret)
    return pseudonymize.null_value(column.data_type)


def build_histogram(session: WarehouseSession, plan: TablePlan) -> pd.DataFrame:
    """One GROUP BY over the quasi-identifiers, kept as a temp table and fetched (tuples + counts)."""
    qis = [_col(column.name) for column in plan.quasi]
    order = [exp.Ordered(this=q.copy(), nulls_first=True) for q in qis]
    numbered = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=order))
    select = (
        exp.select(*qis, exp.Count(this=exp.Star()).as_(COUNT, quoted=True), numbered.as_(TUPLE_ID, quoted=True))
        .from_(plan.source.expression())
        .group_by(*[q.copy() for q in qis])
    )
    session.execute(
        exp.Create(
            this=exp.Table(this=exp.to_identifier(HISTOGRAM_TABLE, quoted=True)),
            kind="TABLE",
            replace=True,
            expression=select,
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        )
    )
    fetch = exp.select("*").from_(exp.to_identifier(HISTOGRAM_TABLE, quoted=True)).order_by(_col(TUPLE_ID))
    return session.fetch_df(fetch)


def upload_mapping(session: WarehouseSession, plan: TablePlan, histogram: pd.DataFrame, result: KAnonResult) -> None:
    """Tuple id → released quasi-identifier values, cast back to the source types."""
    frame = pd.DataFrame({TUPLE_ID: histogram[TUPLE_ID].to_numpy()})
    types = {TUPLE_ID: _type("BIGINT")}
    for column in plan.quasi:
        frame[released_column(column.name)] = result.mapping[released_column(column.name)].to_numpy()
        types[released_column(column.name)] = _type(column.data_type)
    session.upload_temp(MAPPING_TABLE, frame, types)


def build_select(session: WarehouseSession, plan: TablePlan) -> exp.Select:
    """The SELECT that produces the released table, columns in source order with source types."""
    secret = session.secret_expression()
    projections = []
    for column in plan.columns:
        value = _col(column.name, "r")
        if column.role is Role.DIRECT:
            released = direct_expression(column, value, secret)
        elif column.role is Role.QUASI:
            released = exp.cast(_col(released_column(column.name), "m"), _type(column.data_type))
        else:
            released = value
        projections.append(released.as_(column.name, quoted=True))
    select = exp.select(*projections).from_(plan.source.expression("r"))
    if plan.quasi:
        matches = [
            exp.NullSafeEQ(this=_col(column.name, "r"), expression=_col(column.name, "h")) for column in plan.quasi
        ]
        select = select.join(
            exp.Table(this=exp.to_identifier(HISTOGRAM_TABLE, quoted=True)).as_("h", quoted=True),
            on=exp.and_(*matches),
        ).join(
            exp.Table(this=exp.to_identifier(MAPPING_TABLE, quoted=True)).as_("m", quoted=True),
            on=exp.EQ(this=_col(TUPLE_ID, "h"), expression=_col(TUPLE_ID, "m")),
        )
    return select


def _changed_share(plan: TablePlan, histogram: pd.DataFrame, result: KAnonResult) -> dict[str, float]:
    """Share of rows whose value of each quasi-identifier changed (computed on the histogram)."""
    counts = histogram[COUNT].to_numpy()
    total = counts.sum()
    shares = {}
    for column in plan.quasi:
        before = result.mapping[column.name]
        after = result.mapping[released_column(column.name)]
        same = (before == after) | (before.isna() & after.isna())
        shares[column.name] = round(float(counts[~same.to_numpy()].sum() / total), 4) if total else 0.0
    return shares


def _expected_schema(plan: TablePlan) -> Table:
    """The schema the output must have: the planned columns with their source types, in order."""
    columns = tuple(Column(column.name, column.data_type) for column in plan.columns)
    return Table(plan.target.schema, plan.target.name, columns)


def run_checks(session: WarehouseSession, output: TableRef, plan: TablePlan) -> list[CheckOutcome]:
    """Every check on the output; one that raises counts as failed (fail closed)."""
    checks: list[CheckOutcome] = []
    runners = {
        verify.K_ANONYMITY: lambda: verify.check_k_anonymity(session, output, plan),
        verify.NO_RAW_IDENTIFIERS: lambda: verify.check_no_raw_identifiers(session, output, plan),
        verify.SCHEMA_PARITY: lambda: verify.check_schema_parity(_expected_schema(plan), session.describe(output)),
        verify.PATTERN_SCAN: lambda: verify.check_patterns(session, output, plan),
    }
    for name, run in runners.items():
        try:
            checks.append(run())
        except Exception as error:  # a check that cannot run must not let the table through
            checks.append(CheckOutcome(name, False, f"check could not run: {error}"))
    return checks


def _search(session: WarehouseSession, plan: TablePlan) -> dict[str, object]:
    """Histogram → k-anonymity search → mapping uploaded; returns metrics of the search."""
    if not plan.quasi:
        return {}
    started = time.perf_counter()
    histogram = build_histogram(session, plan)
    histogram_seconds = time.perf_counter() - started
    try:
        result = k_anonymize(histogram[[c.name for c in plan.quasi] + [COUNT]], plan.qi_columns, plan.k, COUNT)
    except KAnonymityError as error:
        raise KAnonymityError(f"{plan.source}: {error}; nothing was published") from error
    upload_mapping(session, plan, histogram, result)
    metrics: dict[str, object] = {
        "distinct_tuples": len(histogram),
        "histogram_seconds": round(histogram_seconds, 3),
        "search_seconds": round(time.perf_counter() - started - histogram_seconds, 3),
        "rows_changed_share_by_column": _changed_share(plan, histogram, result),
    }
    return metrics


def publish(warehouse: Warehouse, plan: TablePlan, secret: str) -> TableResult:
    """Build `plan.target` from `plan.source`: staging, verify, then swap (or drop and report)."""
    started = time.perf_counter()
    staging = plan.target.staging()
    with warehouse.session(read=[plan.source.database], write=[plan.target.database], secret=secret) as session:
        session.ensure_schema(plan.target.database, plan.target.schema)
        session.drop(staging)
        metrics: dict[str, object] = {}
        try:
            if plan.treatment is Treatment.PASS_THROUGH:
                session.create_view(staging, build_select(session, plan))
            else:
                metrics = _search(session, plan)
                create = exp.Create(this=staging.expression(), kind="TABLE", expression=build_select(session, plan))
                session.execute(create)
            checks = run_checks(session, staging, plan)
            rows = int(session.fetch_all(exp.select("COUNT(*)").from_(staging.expression()))[0][0])
        except BaseException:
            # A staging table that was never verified must not stay readable beside the published one.
            session.drop(staging)
            raise
        published = all(check.passed for check in checks)
        if not published:
            session.drop(staging)
        elif plan.treatment is Treatment.PASS_THROUGH:
            session.drop(staging)
            session.create_view(plan.target, build_select(session, plan))
        else:
            session.swap_in(staging, plan.target)
    k_check = next(check for check in checks if check.name == verify.K_ANONYMITY)
    return TableResult(
        plan=plan,
        published=published,
        rows=rows,
        checks=checks,
        seconds=time.perf_counter() - started,
        k_achieved=k_check.metadata.get("k_achieved") if plan.quasi else None,
        classes=k_check.metadata.get("classes") if plan.quasi else None,
        metrics=metrics,
    )
