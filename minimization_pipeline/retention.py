"""Retention: anonymize, don't delete -- then delete RAW rows whose anonymized copy is verified.

A partitioned table with ``keep_identifiable`` (e.g. 90 days) keeps identifiable rows in RAW only for that
long. Older RAW rows are deleted partition by partition, and only where RAW_SAFE holds that partition
verified *now*: the same number of rows as RAW, and every class of its quasi-identifiers at least k. A
partition that fails (never published, held back, late rows not yet re-run, a class under k) keeps its RAW
rows and is reported with the reason. Nothing is deleted when retention is not asked for.

Production models keep the full history through a view per retained table,
``<history database>.retained.<schema>__<table>``: every partition RAW still has, from RAW, and every
partition RAW no longer has, from RAW_SAFE (anonymized). No row is counted twice and none goes missing,
whatever was deleted when. The view lives where dbt's prod target writes (ANALYTICS), which prod reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlglot import exp

from minimization_pipeline.anonymize.plan import TablePlan
from minimization_pipeline.warehouse.base import TableRef, TableSlice, Warehouse

RETAINED_SCHEMA = "retained"
BUCKET = "__partition"
RETENTION_TABLE = "__minimization_retention"


@dataclass
class RetentionReport:
    """What one retention pass did to one table."""

    table: str
    cutoff: dt.datetime
    partitions_deleted: int = 0
    rows_deleted: int = 0
    #: partitions before the cutoff that RAW keeps, with why (start of partition -> reason)
    blocked: dict[str, str] = field(default_factory=dict)
    view: str = ""

    def as_metadata(self) -> dict[str, object]:
        return {
            "cutoff": self.cutoff.isoformat(sep=" "),
            "partitions_deleted": self.partitions_deleted,
            "rows_deleted": self.rows_deleted,
            "partitions_kept": len(self.blocked),
            "kept_because": dict(list(self.blocked.items())[:20]),
            "history_view": self.view,
        }


def retention_cutoff(now: dt.datetime, plan: TablePlan, keep: dt.timedelta) -> dt.datetime:
    """The first partition still inside the window: partitions that end at or before it may go."""
    assert plan.partition is not None
    return plan.partition.grain.floor(now - keep)


def _slice(ref: TableRef, plan: TablePlan, end: dt.datetime) -> TableSlice:
    """Every partition of ``ref`` before ``end``."""
    assert plan.partition is not None
    column = next(c for c in plan.columns if c.name == plan.partition.column)
    return TableSlice(
        ref.database,
        ref.schema,
        ref.name,
        column=column.name,
        start=plan.partition.start,
        end=end,
        grain=plan.partition.grain.value.upper(),
        column_type=column.data_type,
    )


def apply_retention(
    warehouse: Warehouse, plan: TablePlan, keep: dt.timedelta, now: dt.datetime, history_database: str
) -> RetentionReport:
    """Delete RAW rows older than ``keep`` whose RAW_SAFE partition is verified; (re)create the view."""
    cutoff = retention_cutoff(now, plan, keep)
    raw = _slice(plan.source, plan, cutoff)
    safe = _slice(plan.target, plan, cutoff)
    report = RetentionReport(str(plan.source), cutoff)
    has_copies = warehouse.exists(plan.target.database)
    with warehouse.session(
        read=[plan.source.database, *([plan.target.database] if has_copies else [])],
        write=[plan.source.database, history_database],
        purpose=f"retention:{plan.source}",
    ) as session:
        raw_counts = _counts(session.fetch_df(_per_partition(raw)))
        published = has_copies and session.describe(safe.table()) is not None
        safe_frame = (
            session.fetch_df(_per_partition(safe, [c.name for c in plan.quasi]))
            if published
            else pd.DataFrame({BUCKET: [], "rows_": [], "smallest_class": []})
        )
        safe_counts = _counts(safe_frame)
        smallest = (
            dict(zip(safe_frame[BUCKET].map(_key), safe_frame["smallest_class"], strict=True)) if plan.quasi else {}
        )
        verified = []
        for bucket, rows in sorted(raw_counts.items()):
            copies = safe_counts.get(bucket, 0)
            if copies != rows:
                report.blocked[bucket] = f"RAW has {rows} rows, RAW_SAFE {copies}"
            elif plan.quasi and int(smallest[bucket]) < plan.k:
                report.blocked[bucket] = f"a class of {int(smallest[bucket])} < k={plan.k} in RAW_SAFE"
            else:
                verified.append(bucket)
                report.rows_deleted += rows
        if verified:
            frame = pd.DataFrame({BUCKET: pd.to_datetime(verified)})
            uploaded = session.upload_temp(RETENTION_TABLE, frame, {BUCKET: exp.DataType.build("TIMESTAMP")})
            chosen = exp.select(exp.column(BUCKET, quoted=True)).from_(uploaded)
            where = exp.and_(raw.predicate(), exp.In(this=raw.bucket(), query=chosen.subquery(copy=False)))
            session.execute(exp.Delete(this=raw.table().expression(), where=exp.Where(this=where)))
        report.partitions_deleted = len(verified)
        view = TableRef(history_database, RETAINED_SCHEMA, f"{plan.source.schema}__{plan.source.name}")
        session.ensure_schema(view.database, view.schema)
        select = (
            history_select(raw.table(), safe.table(), raw)
            if published
            else exp.select("*").from_(raw.table().expression())
        )
        session.create_view(view, select)
        report.view = str(view)
    return report


def history_select(raw: TableRef, safe: TableRef, partitions: TableSlice) -> exp.Select:
    """Every row once: RAW's rows, and RAW_SAFE's rows of the partitions RAW no longer holds."""
    still_in_raw = (
        exp.select(exp.Literal.number(1))
        .from_(raw.expression("r"))
        .where(
            exp.and_(
                exp.not_(exp.column(partitions.column, table="r", quoted=True).is_(exp.null())),
                exp.EQ(this=partitions.bucket("r"), expression=partitions.bucket("s")),
            )
        )
    )
    from_raw = exp.select("*").from_(raw.expression())
    from_safe = (
        exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("s", quoted=True)))
        .from_(safe.expression("s"))
        .where(exp.not_(exp.Exists(this=still_in_raw)))
    )
    return exp.union(from_raw, from_safe, distinct=False)


def _per_partition(ref: TableSlice, quasi: list[str] | None = None) -> exp.Select:
    """Rows per partition (and, with ``quasi``, the smallest class of those columns in it)."""
    bucket = ref.bucket()
    if not quasi:
        return (
            exp.select(bucket.as_(BUCKET, quoted=True), exp.Count(this=exp.Star()).as_("rows_", quoted=True))
            .from_(ref.expression())
            .group_by(bucket.copy())
        )
    columns = [exp.column(name, quoted=True) for name in quasi]
    classes = (
        exp.select(bucket.as_(BUCKET, quoted=True), exp.Count(this=exp.Star()).as_("n", quoted=True))
        .from_(ref.expression())
        .group_by(bucket.copy(), *columns)
    )
    n = exp.column("n", quoted=True)
    return (
        exp.select(
            exp.column(BUCKET, quoted=True),
            exp.Sum(this=n).as_("rows_", quoted=True),
            exp.Min(this=n.copy()).as_("smallest_class", quoted=True),
        )
        .from_(classes.subquery("c"))
        .group_by(exp.column(BUCKET, quoted=True))
    )


def _key(moment: object) -> str:
    return pd.Timestamp(moment).isoformat(sep=" ")


def _counts(frame: pd.DataFrame) -> dict[str, int]:
    return {_key(b): int(n) for b, n in zip(frame[BUCKET], frame["rows_"], strict=True)}
