"""Steps 2–5 for one table: histogram → k-anonymity search → apply in one CTAS → verify → swap.

Only the histogram of quasi-identifier tuples comes to Python and only the mapping goes back; the
rows themselves never leave the warehouse. When the distinct tuples would exceed a budget, the histogram
groups by coarse keys chosen in SQL (`coarsen`), so the search stays a few seconds at 10M rows. The
output is written to `<table>__staging`, verified, and swapped in only when every check passes, so a
failed run never replaces what was published.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlglot import exp

from minimization_pipeline.anonymize import coarsen, pseudonymize, risk, verify
from minimization_pipeline.anonymize.coarsen import Coarsening
from minimization_pipeline.anonymize.generalize import generalize
from minimization_pipeline.anonymize.hierarchy import load_hierarchy
from minimization_pipeline.anonymize.kanon import KAnonymityError, QIKind, released_column
from minimization_pipeline.anonymize.metrics import gcp, read_arx_hierarchy
from minimization_pipeline.anonymize.microaggregate import MicroaggregateResult, microaggregate, released_pieces
from minimization_pipeline.anonymize.plan import ColumnPlan, TablePlan
from minimization_pipeline.anonymize.release import (
    avoid_rare_releases,
    count_holders,
    rare_in_histogram,
    rare_in_warehouse,
)
from minimization_pipeline.anonymize.verify import CheckOutcome
from minimization_pipeline.catalog import Column, Table
from minimization_pipeline.policy import Method, Mode, PassThroughAs, Role, Treatment
from minimization_pipeline.warehouse.base import TableRef, Warehouse, WarehouseSession

HISTOGRAM_TABLE = "__minimization_histogram"
MAPPING_TABLE = "__minimization_mapping"
SPLIT_TABLE = "__minimization_split"


@dataclass(frozen=True)
class OwnNames:
    """The columns the engine adds beside RAW's (a tuple's id and row count, a row's number, ...).

    They share one prefix that no column of the table starts with (see `own_names`), so a RAW column called
    `__tuple_id` or `__rn` is never mistaken for the engine's own: a past bug published such a table empty.
    """

    prefix: str = "__"

    @property
    def count(self) -> str:
        return f"{self.prefix}count"

    @property
    def tuple_id(self) -> str:
        return f"{self.prefix}tuple_id"

    @property
    def partition(self) -> str:
        """The partition (start of its hour or day) of a histogram tuple, for partitioned tables."""
        return f"{self.prefix}partition"

    @property
    def row_from(self) -> str:
        return f"{self.prefix}row_from"

    @property
    def row_to(self) -> str:
        return f"{self.prefix}row_to"

    @property
    def row_number(self) -> str:
        return f"{self.prefix}rn"


def own_names(plan: TablePlan) -> OwnNames:
    """The engine's names for this table: `__` unless some column starts with it (case-insensitively, as
    both warehouses compare names), then one more `_` until none does."""
    return OwnNames(own_prefix(column.name for column in plan.columns))


def own_prefix(names: Iterable[str]) -> str:
    folded = [name.casefold() for name in names]
    prefix = "__"
    while any(name.startswith(prefix) for name in folded):
        prefix += "_"
    return prefix


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
    #: verified but not swapped in yet (`publish(hold=True)`): where it waits for `commit_held`
    held: TableRef | None = None
    #: per quasi-identifier, rows per value before and after (empty when the histogram was coarsened)
    distributions: dict[str, tuple[pd.Series, pd.Series]] = field(default_factory=dict)

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


def _histogram_table() -> exp.Table:
    return exp.Table(this=exp.to_identifier(HISTOGRAM_TABLE, quoted=True))


def build_histogram(session: WarehouseSession, plan: TablePlan, coarsening: Coarsening | None = None) -> pd.DataFrame:
    """One GROUP BY over the quasi-identifiers, kept as a temp table and fetched (tuples + counts).

    With a `coarsening` that coarsens something, the GROUP BY is over its keys and the histogram also holds
    per tuple a representative, the smallest and the largest original value of every coarsened QI (see
    `coarsen`).
    """
    own = own_names(plan)
    if coarsening is not None and coarsening.coarsened:
        select = coarsen.histogram_select(plan, coarsening, own.count, own.tuple_id)
    else:
        qis = [coarsen.finite(column, _col(column.name)) for column in plan.quasi]
        projections = [q.copy().as_(column.name, quoted=True) for q, column in zip(qis, plan.quasi, strict=True)]
        if plan.slice is not None:  # one histogram per partition: the partition is part of the tuple
            qis.insert(0, plan.slice.bucket())
            projections.insert(0, plan.slice.bucket().as_(own.partition, quoted=True))
        order = [exp.Ordered(this=q.copy(), nulls_first=True) for q in qis]
        numbered = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=order))
        select = (
            exp.select(
                *projections,
                exp.Count(this=exp.Star()).as_(own.count, quoted=True),
                numbered.as_(own.tuple_id, quoted=True),
            )
            .from_(plan.source.expression())
            .group_by(*[q.copy() for q in qis])
        )
    session.execute(
        exp.Create(
            this=_histogram_table(),
            kind="TABLE",
            replace=True,
            expression=select,
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        )
    )
    if coarsening is not None and coarsening.coarsened:
        return session.fetch_df(coarsen.histogram_fetch(plan, coarsening, _histogram_table(), own.tuple_id))
    fetch = exp.select("*").from_(_histogram_table()).order_by(_col(own.tuple_id))
    return session.fetch_df(fetch)


def _tuple_match(plan: TablePlan, coarsening: Coarsening | None) -> exp.Expression:
    """RAW row `r` belongs to histogram tuple `h`: null-safe equality of the (coarse) keys."""
    own = own_names(plan)
    matches = []
    for column in plan.quasi:
        value = _col(column.name, "r")
        key = coarsening.key(column, value) if coarsening is not None else coarsen.finite(column, value)
        matches.append(exp.NullSafeEQ(this=key, expression=_col(column.name, "h")))
    if plan.slice is not None:
        matches.insert(0, exp.EQ(this=plan.slice.bucket("r"), expression=_col(own.partition, "h")))
    return exp.and_(*matches)


@dataclass
class Release:
    """What the search decided, in small: one row per piece of a histogram tuple.

    `pieces` holds `__tuple_id`, the 1-based row range `__row_from`..`__row_to` within the tuple, and the
    released value of every quasi-identifier (`<qi>__released`, NULL where suppressed). A tuple whose rows
    all go to one class is a single piece; local recoding may split a tuple's rows between classes.
    """

    pieces: pd.DataFrame
    split: bool
    metrics: dict[str, object]
    coarsening: Coarsening | None = None
    #: the pieces with their original values and class (`microaggregate.released_pieces`), when not scored
    unscored: pd.DataFrame | None = None
    #: the simulated linkage attack on this release (None when the histogram was coarsened: no RAW tuples)
    linkage: risk.LinkageAttack | None = None
    #: per quasi-identifier, rows per value in RAW and in the release (for the before/after plots)
    distributions: dict[str, tuple[pd.Series, pd.Series]] = field(default_factory=dict)


def _hierarchies(plan: TablePlan) -> dict[str, dict[str, list[str]]]:
    return {
        column.name: read_arx_hierarchy(str(column.policy.hierarchy))
        for column in plan.quasi
        if column.policy.hierarchy is not None
    }


def _generalize(plan: TablePlan, histogram: pd.DataFrame) -> Release:
    """ARX-compatible full-domain generalization: every row of a tuple gets the same hierarchy labels.

    Suppressed rows are left out of the output (as ARX removes them): kept as all-NULL rows they could
    form a class smaller than k.
    """
    own = own_names(plan)
    names = [column.name for column in plan.quasi]
    hierarchies = {c.name: load_hierarchy(c.policy.hierarchy, column=c.name) for c in plan.quasi}
    try:
        result = generalize(histogram[[*names, own.count]], hierarchies, plan.k, plan.max_suppression, own.count)
    except KAnonymityError as error:
        raise KAnonymityError(f"{plan.source}: {error}; nothing was published") from error
    kept = ~result.mapping["suppressed"].to_numpy()
    frame = pd.DataFrame(
        {
            own.tuple_id: histogram[own.tuple_id].to_numpy()[kept],
            own.row_from: np.ones(int(kept.sum()), dtype=np.int64),
            own.row_to: histogram[own.count].to_numpy()[kept],
        }
    )
    for name in names:
        frame[released_column(name)] = result.mapping[released_column(name)].to_numpy()[kept]
    metrics: dict[str, object] = {
        "mode": plan.mode.value,
        "gcp_gcp": round(result.gcp, 6),
        "entropy_loss": round(result.loss, 2),
        "levels": dict(result.levels),
        "rows_suppressed": result.rows_suppressed,
        "classes": result.classes,
        "lattice_nodes_checked": result.nodes_checked,
    }
    return Release(frame, split=False, metrics=metrics)


def build_sensitive_histogram(
    session: WarehouseSession, plan: TablePlan, coarsening: Coarsening | None = None
) -> pd.DataFrame:
    """Rows per (histogram tuple, sensitive value), the value as its rank: what l-diversity needs.

    The rank orders values NULLS FIRST, exactly as `_numbered_source` numbers a tuple's rows, so Python
    knows which sensitive values fall in each row range without ever seeing a value.
    """
    own = own_names(plan)
    assert plan.l_diversity is not None
    sensitive = _col(plan.l_diversity.column, "r")
    rank = exp.Window(
        this=exp.Anonymous(this="DENSE_RANK"),
        order=exp.Order(expressions=[exp.Ordered(this=sensitive.copy(), nulls_first=True)]),
    )
    query = (
        exp.select(_col(own.tuple_id, "h"), rank.as_("value_order"), exp.Count(this=exp.Star()).as_("count"))
        .from_(plan.source.expression("r"))
        .join(_histogram_table().as_("h", quoted=True), on=_tuple_match(plan, coarsening))
        .group_by(_col(own.tuple_id, "h"), sensitive.copy())
    )
    return session.fetch_df(query)


def _l_diverse(
    plan: TablePlan, histogram: pd.DataFrame, result: MicroaggregateResult, sensitive: pd.DataFrame
) -> tuple[MicroaggregateResult, dict[str, object]]:
    """Merge classes that hold fewer than l distinct sensitive values (see `ldiversity`)."""
    own = own_names(plan)
    from minimization_pipeline.anonymize.ldiversity import enforce_l_diversity

    assert plan.l_diversity is not None
    index_of = pd.Series(np.arange(len(histogram)), index=histogram[own.tuple_id].to_numpy())
    frame = pd.DataFrame(
        {
            "tuple_index": index_of.loc[sensitive[own.tuple_id].to_numpy()].to_numpy(),
            "value_order": sensitive["value_order"].to_numpy(),
            "count": sensitive["count"].to_numpy(),
        }
    )
    try:
        diverse = enforce_l_diversity(result.assignments, result.representatives, frame, plan.l_diversity.l)
    except KAnonymityError as error:
        raise KAnonymityError(f"{plan.source}: {error}; nothing was published") from error
    a = diverse.assignments
    sizes = (a["row_to"] - a["row_from"] + 1).groupby(a["class_id"]).sum()
    merged = dataclasses.replace(
        result,
        assignments=a,
        representatives=diverse.representatives,
        classes=len(diverse.representatives),
        k_achieved=int(sizes.min()) if len(sizes) else 0,
    )
    return merged, {"l_required": diverse.l, "l_achieved": diverse.l_achieved, "classes_merged": diverse.classes_merged}


def search(
    plan: TablePlan,
    histogram: pd.DataFrame,
    sensitive: pd.DataFrame | None = None,
    coarsening: Coarsening | None = None,
    score: bool = True,
    rare: Mapping[str, pd.Index] | None = None,
) -> Release:
    """Step 3: on the weighted histogram only, find classes of >= k rows with the least distortion.

    On a coarse histogram (`coarsening`), the search orders and scores the keys, each class releases the
    representatives of its representative tuples, and the GCP is the upper bound of `coarsen.coarse_gcp`.
    Otherwise no class releases a value fewer than k rows hold (`release`); ``rare``: those values, when the
    caller counted them over more rows than ``histogram`` (a slice's partitions).
    """
    own = own_names(plan)
    if plan.mode is Mode.GENERALIZE:
        return _generalize(plan, histogram)
    coarse = coarsening if coarsening is not None and coarsening.coarsened else None
    qis = coarse.qi_columns() if coarse else plan.qi_columns
    names = [column.name for column in plan.quasi]
    hierarchies = _hierarchies(plan)
    released = coarsen.released_values(plan, coarse, histogram) if coarse else None
    # With l-diversity, suppression is off: an all-NULL group of suppressed rows could not be made diverse.
    max_suppression = 0.0 if plan.l_diversity else plan.max_suppression
    try:
        result = microaggregate(
            histogram[[*names, own.count]], qis, plan.k, hierarchies, max_suppression, own.count, released=released
        )
    except KAnonymityError as error:
        raise KAnonymityError(f"{plan.source}: {error}; nothing was published") from error
    diversity: dict[str, object] = {}
    if plan.l_diversity is not None:
        if sensitive is None:
            raise ValueError("l-diversity needs the sensitive histogram")
        result, diversity = _l_diverse(plan, histogram, result, sensitive)
    pieces = released_pieces(histogram[[*names, own.count]], result, own.count)
    if coarse is None:
        if rare is None:
            rare = rare_in_histogram(histogram, plan.quasi, plan.k, own.count)
        pieces = avoid_rare_releases(pieces, plan.quasi, rare, own.count)
    elif rare is not None:  # the members' values are their tuples' representatives, counted in the warehouse
        assert released is not None
        members = released_pieces(released.assign(**{own.count: histogram[own.count].to_numpy()}), result, own.count)
        members = avoid_rare_releases(members, plan.quasi, rare, own.count)
        for name in names:
            pieces[released_column(name)] = members[released_column(name)].to_numpy()
    if coarse:
        report = coarsen.coarse_gcp(plan, coarse, histogram, result.assignments, hierarchies, own.count)
    elif not score:  # the caller scores many releases at once
        report = {}
    else:
        scored = gcp(pieces, pieces["class_id"], qis, hierarchies, pieces["suppressed"], pieces, own.count)
        report = {f"gcp_{key}" if key == "gcp" else key: value for key, value in scored.as_metadata().items()}
    assignments = result.assignments
    frame = pd.DataFrame(
        {
            own.tuple_id: histogram[own.tuple_id].to_numpy()[assignments["tuple_index"].to_numpy()],
            own.row_from: assignments["row_from"].to_numpy(),
            own.row_to: assignments["row_to"].to_numpy(),
        }
    )
    for name in names:
        frame[released_column(name)] = pieces[released_column(name)].to_numpy()
    metrics: dict[str, object] = {
        "mode": plan.mode.value,
        "rows_suppressed": result.rows_suppressed,
        **report,
        **diversity,
    }
    split = bool(assignments["tuple_index"].duplicated().any())
    return Release(frame, split=split, metrics=metrics, coarsening=coarse, unscored=None if score else pieces)


def search_partitions(plan: TablePlan, histogram: pd.DataFrame) -> Release:
    """Step 3 for a slice of a partitioned table: every partition made k-anonymous on its own.

    Released tuples that coincide across partitions only make classes larger, so k on every partition is
    k on the whole table, and it stays so when any partition is replaced later. A partition with fewer than
    k rows cannot be released on its own: it is held back (not published, reported), never published
    under k; it is published by the first run that finds k rows in it. A partition with fewer than 2k rows
    is one class (no cut leaves k rows on both sides): all such partitions are done at once, vectorized;
    the others get the full search each.
    """
    own = own_names(plan)
    names = [column.name for column in plan.quasi]
    rows_of = histogram.groupby(own.partition, sort=True)[own.count].sum()
    held = rows_of[rows_of < plan.k]
    single = rows_of[(rows_of >= plan.k) & (rows_of < 2 * plan.k)]
    searched = rows_of[rows_of >= 2 * plan.k]
    partition = histogram[own.partition]
    pieces: list[pd.DataFrame] = []
    scored: list[pd.DataFrame] = []  # every piece with its original values and a class id unique in the slice
    classes = 0
    rare = rare_in_histogram(histogram, plan.quasi, plan.k, own.count)  # over the slice, not one partition
    if len(single):
        ones = histogram[partition.isin(single.index)]
        one_class = single_class_pieces(plan, ones)
        originals = ones[[*names, own.count]].reset_index(drop=True)
        originals["class_id"] = pd.factorize(ones[own.partition])[0]
        originals["suppressed"] = False
        for name in names:
            originals[released_column(name)] = one_class[released_column(name)].to_numpy()
        originals = avoid_rare_releases(originals, plan.quasi, rare, own.count)
        for name in names:
            one_class[released_column(name)] = originals[released_column(name)].to_numpy()
        pieces.append(one_class)
        scored.append(originals)
        classes = int(originals["class_id"].max()) + 1
    split = False
    suppressed = 0
    for _, group in histogram[partition.isin(searched.index)].groupby(own.partition, sort=True):
        searched_release = search(plan, group.reset_index(drop=True), score=False, rare=rare)
        pieces.append(searched_release.pieces)
        split |= searched_release.split
        suppressed += int(searched_release.metrics.get("rows_suppressed", 0))
        assert searched_release.unscored is not None
        part = searched_release.unscored
        part["class_id"] = np.where(part["suppressed"], -1, part["class_id"] + classes)
        classes = int(part["class_id"].max()) + 1 if len(part) else classes
        scored.append(part)
    columns = [own.tuple_id, own.row_from, own.row_to, *(released_column(name) for name in names)]
    frame = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame({c: [] for c in columns})
    metrics: dict[str, object] = {
        "mode": plan.mode.value,
        "partitions_published": len(single) + len(searched),
        "partitions_one_class": len(single),
        "partitions_held_back": len(held),
        "rows_held_back": int(held.sum()),
        "rows_suppressed": suppressed,
    }
    if scored:  # one GCP over the whole slice (every partition's classes, the slice's domains)
        everything = pd.concat(scored, ignore_index=True)
        report = gcp(
            everything, everything["class_id"], plan.qi_columns, _hierarchies(plan), everything["suppressed"],
            everything, own.count,
        )  # fmt: skip
        metrics.update({f"gcp_{key}" if key == "gcp" else key: value for key, value in report.as_metadata().items()})
    if len(held):
        shown = held.head(20)
        metrics["held_back"] = {pd.Timestamp(b).isoformat(sep=" "): int(n) for b, n in shown.items()}
    return Release(frame, split=split, metrics=metrics)


def single_class_pieces(plan: TablePlan, histogram: pd.DataFrame) -> pd.DataFrame:
    """Each partition of ``histogram`` released as one class: every tuple gets the partition's
    representative, as the search gives a class -- numbers and dates the weighted (lower) median,
    categories the most common value (ties: the smallest), NULLs left out unless all are NULL."""
    own = own_names(plan)
    frame = pd.DataFrame(
        {
            own.tuple_id: histogram[own.tuple_id].to_numpy(),
            own.row_from: np.ones(len(histogram), dtype=np.int64),
            own.row_to: histogram[own.count].to_numpy().astype(np.int64),
        }
    )
    partition = histogram[own.partition].to_numpy()
    for column in plan.quasi:
        values = histogram[[own.partition, column.name, own.count]].dropna(subset=[column.name])
        if column.qi_kind is QIKind.CATEGORICAL:
            counts = values.groupby([own.partition, column.name], sort=True)[own.count].sum().reset_index()
            counts = counts.sort_values([own.partition, own.count], ascending=[True, False], kind="stable")
            chosen = counts.drop_duplicates(own.partition).set_index(own.partition)[column.name]
        else:
            ordered = values.sort_values([own.partition, column.name], kind="stable")
            cumulative = ordered.groupby(own.partition, sort=False)[own.count].cumsum()
            total = ordered.groupby(own.partition, sort=False)[own.count].transform("sum")
            chosen = (
                ordered[2 * cumulative >= total].drop_duplicates(own.partition).set_index(own.partition)[column.name]
            )
        released = pd.Series(partition).map(chosen)
        frame[released_column(column.name)] = released.astype(histogram[column.name].dtype, errors="ignore").to_numpy()
    return frame


def upload_release(session: WarehouseSession, plan: TablePlan, release: Release) -> None:
    """The pieces, cast back to the source types, as a session-scoped table."""
    own = own_names(plan)
    types = {own.tuple_id: _type("BIGINT"), own.row_from: _type("BIGINT"), own.row_to: _type("BIGINT")}
    for column in plan.quasi:
        types[released_column(column.name)] = _type(plan.output_type(column))
    session.upload_temp(MAPPING_TABLE, release.pieces, types)
    if release.split:
        split = pd.DataFrame({own.tuple_id: _split_tuples(release.pieces[own.tuple_id])})
        session.upload_temp(SPLIT_TABLE, split, {own.tuple_id: _type("BIGINT")})


def _split_tuples(tuple_ids: pd.Series) -> np.ndarray:
    """Ids of the tuples whose rows go to more than one piece (the only ones `_numbered_source` numbers)."""
    return np.unique(tuple_ids[tuple_ids.duplicated()].to_numpy())


def _numbered_source(plan: TablePlan, split: bool, coarsening: Coarsening | None = None) -> exp.Expression:
    """RAW rows with their histogram tuple id and, when some tuple is split, their number within it.

    Only rows of split tuples are numbered: the others get 1, which lies in the single piece of their tuple
    (rows 1..count). The window then sorts the few split tuples' rows instead of the whole table. The
    numbering orders by every column, so reruns on the same data send the same rows to the same class.
    """
    own = own_names(plan)
    match = _tuple_match(plan, coarsening)
    star = exp.Column(this=exp.Star(), table=exp.to_identifier("r", quoted=True))
    histogram = _histogram_table().as_("h", quoted=True)
    if not split:
        return (
            exp.select(star, _col(own.tuple_id, "h"))
            .from_(plan.source.expression("r"))
            .join(histogram, on=match)
            .subquery("n")
        )
    split_ids = exp.select(_col(own.tuple_id)).from_(exp.Table(this=exp.to_identifier(SPLIT_TABLE, quoted=True)))
    in_split = exp.In(this=_col(own.tuple_id, "h"), query=split_ids.subquery(copy=False))
    whole = (
        exp.select(
            star.copy(), _col(own.tuple_id, "h"), exp.cast(exp.Literal.number(1), _type("BIGINT")).as_(own.row_number)
        )
        .from_(plan.source.expression("r"))
        .join(histogram.copy(), on=match.copy())
        .where(exp.Not(this=in_split.copy()))
    )
    keys = [exp.Ordered(this=_col(c.name, "r")) for c in plan.columns]
    if plan.l_diversity is not None:  # the order `build_sensitive_histogram` ranks values in
        keys.insert(0, exp.Ordered(this=_col(plan.l_diversity.column, "r"), nulls_first=True))
    window = exp.Window(this=exp.RowNumber(), partition_by=[_col(own.tuple_id, "h")], order=exp.Order(expressions=keys))
    numbered = (
        exp.select(star.copy(), _col(own.tuple_id, "h"), window.as_(own.row_number, quoted=True))
        .from_(plan.source.expression("r"))
        .join(histogram.copy(), on=match.copy())
        .where(in_split)
    )
    return exp.union(whole, numbered, distinct=False).subquery("n")


def build_select(
    session: WarehouseSession, plan: TablePlan, split: bool = False, coarsening: Coarsening | None = None
) -> exp.Select:
    """The SELECT that produces the released table, columns in source order with source types."""
    own = own_names(plan)
    secret = session.secret_expression()
    alias = "n" if plan.quasi else "r"
    projections = []
    for column in plan.columns:
        value = _col(column.name, alias)
        if column.role is Role.DIRECT:
            released = direct_expression(column, value, secret)
        elif column.role is Role.QUASI:
            released = exp.cast(_col(released_column(column.name), "m"), _type(plan.output_type(column)))
        else:
            released = value
        projections.append(released.as_(column.name, quoted=True))
    if not plan.quasi:
        return exp.select(*projections).from_(plan.source.expression("r"))
    on = exp.EQ(this=_col(own.tuple_id, "n"), expression=_col(own.tuple_id, "m"))
    if split:
        in_range = exp.Between(this=_col(own.row_number, "n"), low=_col(own.row_from, "m"), high=_col(own.row_to, "m"))
        on = exp.and_(on, in_range)
    mapping = exp.Table(this=exp.to_identifier(MAPPING_TABLE, quoted=True)).as_("m", quoted=True)
    return exp.select(*projections).from_(_numbered_source(plan, split, coarsening)).join(mapping, on=on)


def _expected_schema(plan: TablePlan) -> Table:
    """The schema the output must have: the planned columns with their source types, in order."""
    columns = tuple(Column(column.name, plan.output_type(column)) for column in plan.columns)
    return Table(plan.target.schema, plan.target.name, columns)


def run_checks(
    session: WarehouseSession, output: TableRef, plan: TablePlan, release: Release | None = None
) -> list[CheckOutcome]:
    """Every check on the output; one that raises counts as failed (fail closed). The output's classes are
    counted once, for the k check and the risk check."""
    checks: list[CheckOutcome] = []
    classes: list[risk.RiskReport] = []

    def counted() -> risk.RiskReport:
        if not classes:
            classes.append(verify.measure_classes(session, output, plan))
        return classes[0]

    runners = {
        verify.K_ANONYMITY: lambda: verify.check_k_anonymity(session, output, plan, counted() if plan.quasi else None),
        verify.RE_IDENTIFICATION_RISK: lambda: verify.check_risk(
            plan, counted() if plan.quasi else None, release.linkage if release else None
        ),
        verify.NO_RAW_IDENTIFIERS: lambda: verify.check_no_raw_identifiers(session, output, plan),
        verify.SCHEMA_PARITY: lambda: verify.check_schema_parity(_expected_schema(plan), session.describe(output)),
        verify.PATTERN_SCAN: lambda: verify.check_patterns(session, output, plan),
        verify.NO_OWN_RARE_VALUE: lambda: verify.check_no_own_rare_value(session, output, plan),
        verify.ROWS_ACCOUNTED: lambda: verify.check_rows_accounted(
            session, output, plan, _rows_expected(plan, release)
        ),
    }
    if plan.l_diversity is not None:
        runners[verify.L_DIVERSITY] = lambda: verify.check_l_diversity(session, output, plan)
    for name, run in runners.items():
        try:
            checks.append(run())
        except Exception as error:  # a check that cannot run must not let the table through
            checks.append(CheckOutcome(name, False, f"check could not run: {error}"))
    return checks


def _rows_expected(plan: TablePlan, release: Release | None) -> verify.RowsExpected:
    """What the release does with the source's rows (no release: every row is written once)."""
    if release is None:
        return verify.RowsExpected(mapped=None)
    own = own_names(plan)
    pieces = release.pieces
    mapped = int((pieces[own.row_to] - pieces[own.row_from] + 1).sum()) if len(pieces) else 0
    dropped = int(release.metrics.get("rows_suppressed", 0)) if plan.mode is Mode.GENERALIZE else 0
    return verify.RowsExpected(mapped, dropped, int(release.metrics.get("rows_held_back", 0)))


def measure_before(session: WarehouseSession, plan: TablePlan, histogram: pd.DataFrame, release: Release) -> None:
    """Risk on RAW (before) and the linkage attack on RAW and on the release, into ``release.metrics``;
    the before/after distributions for the plots.

    From the histogram when it holds RAW's tuples. A coarsened histogram holds coarse keys: RAW's class sizes
    are then counted in SQL, and the attack figures are the strongest attacker's expectation.
    """
    own = own_names(plan)
    if release.coarsening is None:
        counts = histogram[own.count].to_numpy(np.int64)
        before = risk.risk_from_class_sizes(counts)
        release.metrics.update(before.as_metadata("_before"))
        release.metrics.update(risk.linkage_on_raw(counts).as_metadata("_before"))
        _with_linkage(plan, histogram, release)
        release.distributions = _distributions(plan, histogram, release)
    else:
        before = risk.measure_risk(session, plan.source, verify.class_keys(plan))
        release.metrics.update(before.as_metadata("_before"))
        # The distance attack needs RAW's tuples, which a coarsened histogram does not hold (and no row value
        # leaves the warehouse): report the strongest attacker's expectation instead, who finds each target's
        # class exactly and guesses within it (average prosecutor risk; unique records are found for sure).
        release.metrics.update(
            linkage_success_before=before.average_prosecutor_risk,
            linkage_unique_success_before=before.unique_records_share,
            linkage_attack="expected success of an attacker who finds each target's class (coarsened histogram)",
        )


def _distributions(
    plan: TablePlan, histogram: pd.DataFrame, release: Release
) -> dict[str, tuple[pd.Series, pd.Series]]:
    """Rows per value of every quasi-identifier, in RAW (the histogram) and in the release (the pieces)."""
    own = own_names(plan)
    pieces = release.pieces
    rows = (pieces[own.row_to] - pieces[own.row_from] + 1).to_numpy()
    out = {}
    for column in plan.quasi:
        before = histogram.groupby(column.name, dropna=False, sort=True)[own.count].sum()
        after = pd.Series(rows).groupby(pieces[released_column(column.name)].to_numpy(), dropna=False).sum()
        out[column.name] = (before, after)
    return out


def _with_linkage(plan: TablePlan, histogram: pd.DataFrame, release: Release) -> None:
    """The simulated attack on the release: targets drawn from RAW's tuples, looked for among the pieces."""
    own = own_names(plan)
    names = [column.name for column in plan.quasi]
    kinds = {column.name: column.qi_kind for column in plan.quasi}
    released = {name: released_column(name) for name in names}
    pieces = release.pieces
    position = pd.Index(histogram[own.tuple_id].to_numpy()).get_indexer(pieces[own.tuple_id].to_numpy())
    frame = pd.DataFrame(
        {"tuple_index": position, "row_from": pieces[own.row_from].to_numpy(), "row_to": pieces[own.row_to].to_numpy()}
    )
    for name in names:
        frame[released[name]] = pieces[released[name]].to_numpy()
    original = histogram[[*names, own.count]]
    if plan.slice is not None:  # the partition is known to the attacker (its time column is kept)
        kinds[own.partition] = QIKind.CATEGORICAL
        released[own.partition] = own.partition
        original = histogram[[own.partition, *names, own.count]]
        frame[own.partition] = histogram[own.partition].to_numpy()[position]
    attack = risk.simulate_linkage(original, frame, kinds, own.count, released, exact=plan.mode is Mode.GENERALIZE)
    release.linkage = attack
    release.metrics.update(attack.as_metadata("_after"))


def _search(session: WarehouseSession, plan: TablePlan, tuple_budget: int | None = None) -> Release | None:
    """Steps 2–3 and the upload of step 4; returns the release with its metrics."""
    own = own_names(plan)
    if not plan.quasi:
        return None
    started = time.perf_counter()
    coarsening = None
    # generalize releases hierarchy labels of values: no keys there; a partition's histogram is small
    if plan.mode is Mode.MICROAGGREGATE and plan.slice is None:
        coarsening = coarsen.choose(session, plan, tuple_budget)
    histogram = build_histogram(session, plan, coarsening)
    histogram_seconds = time.perf_counter() - started
    sensitive = build_sensitive_histogram(session, plan, coarsening) if plan.l_diversity is not None else None
    if plan.slice is not None:
        release = search_partitions(plan, histogram)
    elif coarsening is not None and coarsening.coarsened:
        # a QI grouped by its values is counted by the histogram; a coarsened one's candidates (its tuples'
        # representatives) are counted in the warehouse
        coarse = {column.name for column in coarsening.coarse_columns()}
        counted = [column for column in plan.quasi if column.name in coarse]
        representatives = coarsen.released_values(plan, coarsening, histogram)
        rare = rare_in_histogram(histogram, [c for c in plan.quasi if c.name not in coarse], plan.k, own.count)
        rare |= rare_in_warehouse(session, plan.source, counted, representatives, plan.k)
        release = search(plan, histogram, sensitive, coarsening, rare=rare)
        _null_rare_releases(session, plan, release, counted, representatives)
    else:
        release = search(plan, histogram, sensitive, coarsening)
    upload_release(session, plan, release)
    risk_started = time.perf_counter()
    measure_before(session, plan, histogram, release)
    risk_seconds = time.perf_counter() - risk_started
    release.metrics.update(
        risk_seconds=round(risk_seconds, 3),
        distinct_tuples=len(histogram),
        split_tuples=_split_tuples(release.pieces[own.tuple_id]).size,
        histogram_seconds=round(histogram_seconds, 3),
        search_seconds=round(time.perf_counter() - started - histogram_seconds - risk_seconds, 3),
    )
    if coarsening is not None:
        release.metrics.update(
            coarsened=coarsening.describe() if coarsening.coarsened else {},
            tuple_budget=coarsening.budget,
            coarsening_probes=coarsening.probes,
            coarsening_seconds=coarsening.seconds,
        )
    return release


def _null_rare_releases(
    session: WarehouseSession,
    plan: TablePlan,
    release: Release,
    columns: list[ColumnPlan],
    counted: pd.DataFrame,
) -> None:
    """The last word on a coarsened release: a released value of a coarsened QI that was not among the
    candidates already counted (a centroid) and that the warehouse finds rare becomes NULL. Python never held
    the rows, so it asks, for the new values only."""
    pieces = release.pieces
    for column in columns:
        target = released_column(column.name)
        released = pieces[target].dropna().unique()
        distinct = pd.Series(released[~pd.Series(released).isin(counted[column.name].dropna().unique()).to_numpy()])
        if not len(distinct):
            continue
        counts = count_holders(session, plan.source, column, distinct, plan.output_type(column))
        rare = distinct[(counts > 0) & (counts < plan.k)]
        if len(rare):
            hit = pieces[target].isin(rare).to_numpy()
            values = pieces[target].astype(object).to_numpy(copy=True)
            values[hit] = None
            pieces[target] = pd.Series(values, index=pieces.index).astype(pieces[target].dtype, errors="ignore")
            release.metrics["released_rare_nulled"] = {
                **dict(release.metrics.get("released_rare_nulled", {})),  # type: ignore[arg-type]
                column.name: int(hit.sum()),
            }


def _free_staging(session: WarehouseSession, plan: TablePlan) -> TableRef:
    """Where the table is built and checked. Beside the target (DuckDB) its name is the target's plus
    ``__staging``, and one more ``_`` while the source has a table of that name: a RAW table called
    `x__staging` is published as itself, and building `x` must never drop its copy."""
    staging = session.staging_ref(plan.target)
    if (staging.database, staging.schema) != (plan.target.database, plan.target.schema):
        return staging  # a private staging database (Snowflake): nothing published lives there
    while session.describe(TableRef(plan.source.database, plan.source.schema, staging.name)) is not None:
        staging = TableRef(staging.database, staging.schema, staging.name + "_")
    return staging


def publish(
    warehouse: Warehouse, plan: TablePlan, secret: str, tuple_budget: int | None = None, hold: bool = False
) -> TableResult:
    """Build `plan.target` from `plan.source`: staging, verify, then swap (or drop and report).

    `tuple_budget`: most distinct QI tuples the search gets before keys are coarsened (default
    `coarsen.TUPLE_BUDGET`). `hold`: a verified table stays in staging (``result.held``) until
    `commit_held` swaps it in or `discard_held` drops it, so several tables can be checked together
    (PUBLIC tables joined by a path) and published all or none.
    """
    if hold and (plan.slice is not None or plan.treatment is Treatment.PASS_THROUGH):
        raise ValueError(f"{plan.target}: only a whole treated table can be held before it is published")
    started = time.perf_counter()
    with warehouse.session(
        read=[plan.source.database], write=[plan.target.database], secret=secret, purpose=f"publish:{plan.target}"
    ) as session:
        staging = _free_staging(session, plan)
        session.ensure_schema(plan.target.database, plan.target.schema)
        if (staging.database, staging.schema) != (plan.target.database, plan.target.schema):
            session.ensure_schema(staging.database, staging.schema)
        session.drop(staging)
        metrics: dict[str, object] = {}
        release = None
        try:
            if plan.treatment is Treatment.PASS_THROUGH and plan.pass_through_as is PassThroughAs.CLONE:
                session.clone_table(plan.source, staging)  # every column listed keep (checked by the plan)
            elif plan.treatment is Treatment.PASS_THROUGH:
                session.create_view(staging, build_select(session, plan))
            else:
                release = _search(session, plan, tuple_budget)
                metrics = release.metrics if release else {}
                split = bool(release and release.split)
                select = build_select(session, plan, split, release.coarsening if release else None)
                ctas_started = time.perf_counter()
                session.execute(exp.Create(this=staging.expression(), kind="TABLE", expression=select))
                metrics["ctas_seconds"] = round(time.perf_counter() - ctas_started, 3)
            checks_started = time.perf_counter()
            checks = run_checks(session, staging, plan, release)
            risk_check = next(check for check in checks if check.name == verify.RE_IDENTIFICATION_RISK)
            metrics.update({name: value for name, value in risk_check.metadata.items() if name.endswith("_after")})
            metrics["checks_seconds"] = round(time.perf_counter() - checks_started, 3)
            accounted = next(check for check in checks if check.name == verify.ROWS_ACCOUNTED)
            rows = accounted.metadata.get("published_rows")  # counted by the check (again only if it could not run)
            if not isinstance(rows, int):
                rows = int(session.fetch_all(exp.select("COUNT(*)").from_(staging.expression()))[0][0])
        except BaseException:
            # A staging table that was never verified must not stay readable beside the published one.
            session.drop(staging)
            raise
        published = all(check.passed for check in checks)
        if not published:
            session.drop(staging)
        elif hold:
            pass  # verified; waits in staging for commit_held or discard_held
        elif plan.treatment is Treatment.PASS_THROUGH and plan.pass_through_as is PassThroughAs.VIEW:
            session.drop(staging)
            session.create_view(plan.target, build_select(session, plan))
        else:
            try:
                if plan.slice is not None:  # only the partitions this slice published are replaced
                    session.replace_slice(staging, plan.slice)
                else:
                    session.swap_in(staging, plan.target)  # atomic: the old table or the new one, never neither
            except BaseException:
                session.drop(staging)  # interrupted before the swap: the published table is untouched
                raise
    k_check = next(check for check in checks if check.name == verify.K_ANONYMITY)
    return TableResult(
        plan=plan,
        published=published and not hold,
        held=staging if published and hold else None,
        rows=rows,
        checks=checks,
        seconds=time.perf_counter() - started,
        k_achieved=k_check.metadata.get("k_achieved") if plan.quasi else None,
        classes=k_check.metadata.get("classes") if plan.quasi else None,
        metrics=metrics,
        distributions=release.distributions if release else {},
    )


def commit_held(warehouse: Warehouse, result: TableResult) -> TableResult:
    """Swap a held, verified table in (atomic per table); the result then says published."""
    if result.held is None:
        raise ValueError(f"{result.plan.target}: nothing held to publish")
    with warehouse.session(write=[result.plan.target.database], purpose=f"publish:{result.plan.target}") as session:
        session.swap_in(result.held, result.plan.target)
    return dataclasses.replace(result, published=True, held=None)


def discard_held(warehouse: Warehouse, result: TableResult) -> TableResult:
    """Drop a held table: what was published before stays as it was."""
    if result.held is not None:
        with warehouse.session(write=[result.held.database], purpose=f"discard:{result.plan.target}") as session:
            session.drop(result.held)
    return dataclasses.replace(result, held=None)
