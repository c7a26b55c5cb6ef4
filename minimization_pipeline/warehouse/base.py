"""The `Warehouse` interface: everything the pipeline asks of a warehouse, dialect hidden.

SQL is built as sqlglot expressions and rendered here per dialect; identifiers are quoted by sqlglot,
never by string formatting. Only small results (histograms, counts, catalogs) are fetched.
"""

from __future__ import annotations

import abc
import datetime as dt
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
from sqlglot import exp

from minimization_pipeline.catalog import Catalog, Table
from minimization_pipeline.warehouse.functions import for_dialect

STAGING_SUFFIX = "__staging"
#: A staging table's name: the target's plus the suffix, and more ``_`` where RAW has a table of that name.
STAGING_NAME = re.compile(r".*__staging_*")


class SliceSchemaError(RuntimeError):
    """A time slice cannot replace part of a table whose columns are not the slice's."""


def _columns(table: Table) -> str:
    return ", ".join(f"{c.name} {c.data_type}" for c in table.columns)


class WarehouseLockedError(RuntimeError):
    """Another process holds the database; callers such as sensors skip instead of failing."""


@dataclass(frozen=True)
class TableRef:
    database: str
    schema: str
    name: str

    def expression(self, alias: str | None = None) -> exp.Table:
        table = exp.table_(self.name, db=self.schema, catalog=self.database, quoted=True)
        return table.as_(alias, quoted=True) if alias else table

    def staging(self) -> TableRef:
        return TableRef(self.database, self.schema, self.name + STAGING_SUFFIX)

    def __str__(self) -> str:
        return f"{self.database}.{self.schema}.{self.name}"


@dataclass(frozen=True)
class TableSlice(TableRef):
    """The rows of a table whose time ``column`` lies in [``start``, ``end``): one partition, or a range of
    them. As a source it reads like a table (a filtered subquery); ``bucket`` names each row's partition.

    ``grain`` is the partition's SQL unit (``HOUR`` or ``DAY``); ``column_type`` the column's own type,
    so the bounds are compared in it (a DATE column gets dates).
    """

    column: str = ""
    start: dt.datetime = dt.datetime.min
    end: dt.datetime = dt.datetime.max
    grain: str = "HOUR"
    column_type: str = "TIMESTAMP"

    def table(self) -> TableRef:
        return TableRef(self.database, self.schema, self.name)

    def _bound(self, moment: dt.datetime) -> exp.Expression:
        is_date = self.column_type.upper() == "DATE"
        text = moment.date().isoformat() if is_date else moment.isoformat(sep=" ")
        return exp.cast(exp.Literal.string(text), exp.DataType.build(self.column_type))

    def predicate(self, table: str | None = None) -> exp.Expression:
        """``column >= start AND column < end`` (NULL times are in no slice)."""
        column = exp.column(self.column, table=table, quoted=True)
        return exp.and_(
            exp.GTE(this=column, expression=self._bound(self.start)),
            exp.LT(this=column.copy(), expression=self._bound(self.end)),
        )

    def marker(self) -> str:
        """The comment a table built partition by partition carries: which column and grain."""
        return f"minimization_pipeline: k-anonymous per {self.grain.lower()} partition of {self.column}"

    def bucket(self, table: str | None = None) -> exp.Expression:
        """The start of the partition holding a row: ``DATE_TRUNC(grain, column)`` as a TIMESTAMP."""
        column = exp.column(self.column, table=table, quoted=True)
        truncated = exp.TimestampTrunc(this=column, unit=exp.var(self.grain))
        return exp.cast(truncated, exp.DataType.build("TIMESTAMP"))

    def expression(self, alias: str | None = None) -> exp.Expression:  # type: ignore[override]
        rows = exp.select("*").from_(self.table().expression()).where(self.predicate())
        return rows.subquery(alias or "slice", copy=False)

    def __str__(self) -> str:
        return f"{self.database}.{self.schema}.{self.name} [{self.start:%Y-%m-%d %H:%M}, {self.end:%Y-%m-%d %H:%M})"


class WarehouseSession(abc.ABC):
    """One connection with the databases it needs; short-lived so that locks are short too."""

    dialect: str

    def __init__(self) -> None:
        #: Every SQL text sent, so tests can prove the secret never appears in one.
        self.statements: list[str] = []

    def render(self, sql: str | exp.Expression) -> str:
        text = sql if isinstance(sql, str) else for_dialect(sql, self.dialect).sql(dialect=self.dialect)
        self.statements.append(text)
        return text

    @abc.abstractmethod
    def execute(self, sql: str | exp.Expression, params: Sequence[object] | None = None) -> None: ...

    @abc.abstractmethod
    def fetch_df(self, sql: str | exp.Expression, params: Sequence[object] | None = None) -> pd.DataFrame:
        """A small result as pandas: histograms, counts, samples. Never a whole table."""

    @abc.abstractmethod
    def fetch_all(self, sql: str | exp.Expression, params: Sequence[object] | None = None) -> list[tuple]: ...

    @abc.abstractmethod
    def catalog(self, database: str) -> Catalog: ...

    @abc.abstractmethod
    def sample_rows(self, ref: TableRef, columns: Sequence[str], rows: int, seed: int) -> list[tuple]:
        """At most `rows` rows of `columns`, drawn at random in the warehouse, the same ones for a seed."""

    @abc.abstractmethod
    def describe(self, ref: TableRef) -> Table | None:
        """The columns of one table or view (staging ones included), or None if it does not exist."""

    @abc.abstractmethod
    def secret_expression(self) -> exp.Expression:
        """An expression that evaluates to the hashing secret without the secret in the SQL text."""

    @abc.abstractmethod
    def upload_temp(self, name: str, frame: pd.DataFrame, types: dict[str, exp.DataType]) -> exp.Table:
        """Upload a small frame (a mapping) as a session-scoped table, columns cast to `types`."""

    def ensure_schema(self, database: str, schema: str) -> None:
        """`CREATE SCHEMA IF NOT EXISTS`, the same statement on every warehouse."""
        self.execute(
            exp.Create(
                this=exp.Table(
                    this=exp.to_identifier(schema, quoted=True), db=exp.to_identifier(database, quoted=True)
                ),
                kind="SCHEMA",
                exists=True,
            )
        )

    @abc.abstractmethod
    def object_kind(self, ref: TableRef) -> str | None:
        """'table', 'view' or None when nothing of that name exists."""

    def drop(self, ref: TableRef) -> None:
        """Drop a table or view if it exists (the statement names which, as both warehouses require)."""
        kind = self.object_kind(ref)
        if kind:
            self.execute(exp.Drop(tables=[ref.expression()], kind=kind.upper(), exists=True))

    @abc.abstractmethod
    def swap_in(self, staging: TableRef, target: TableRef) -> None:
        """Atomically replace `target` (table or view, or nothing) with the verified staging table."""

    def replace_slice(self, staging: TableRef, target: TableSlice) -> None:
        """Put the verified ``staging`` rows in place of the same partitions of ``target``, atomically.

        Only the partitions ``staging`` holds are replaced: a partition the run did not publish (empty in
        RAW now, say after retention, or held back) keeps what RAW_SAFE had. The first slice of a table
        creates it. Raises :class:`SliceSchemaError` when the published table's columns differ from the
        slice's (RAW's schema changed): only a run over every partition can rebuild it.
        """
        table = target.table()
        marker = target.marker()
        if self.object_kind(table) is None:
            self._replace_whole(staging, table, marker)
            return
        published, staged = self.describe(table), self.describe(staging)
        assert published is not None and staged is not None
        problem = None
        if published.columns != staged.columns:
            problem = (
                f"the published columns ({_columns(published)}) differ from this slice's ({_columns(staged)}): "
                "RAW's schema changed since the table was built"
            )
        elif (comment := self.table_comment(table)) != marker:
            # classes of a table built whole may span partitions: replacing one could leave others under k
            problem = f"it was not built partition by partition ({comment or 'no partition marker'})"
        if problem is not None:
            outside = exp.select("COUNT(*)").from_(table.expression()).where(exp.not_(target.predicate()))
            if int(self.fetch_all(outside)[0][0]) == 0:  # nothing outside the slice: the slice is the table
                self._replace_whole(staging, table, marker)
                return
            raise SliceSchemaError(
                f"{table}: {problem}. Rebuild it with one run over all its partitions (a backfill of every "
                "partition); nothing was replaced"
            )
        buckets = exp.select(target.bucket()).distinct().from_(staging.expression())
        stale = exp.and_(target.predicate(), exp.In(this=target.bucket(), query=buckets.subquery(copy=False)))
        self.execute("BEGIN TRANSACTION")
        try:
            self.execute(exp.Delete(this=table.expression(), where=exp.Where(this=stale)))
            self.execute(exp.insert(exp.select("*").from_(staging.expression()), table.expression()))
            self.execute("COMMIT")
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.drop(staging)

    def _replace_whole(self, staging: TableRef, table: TableRef, marker: str) -> None:
        """The slice is the whole table: swap it in, and mark the table as built partition by partition."""
        self.swap_in(staging, table)
        self.execute(exp.Comment(this=table.expression(), kind="TABLE", expression=exp.Literal.string(marker)))

    def table_comment(self, ref: TableRef) -> str | None:
        """The table's comment (the pipeline marks partitioned tables with one), None if it has none."""
        return None

    def clone_table(self, source: TableRef, target: TableRef) -> None:
        """`target` as a copy of `source` (a new table; Snowflake makes it a zero-copy clone)."""
        select = exp.select("*").from_(source.expression())
        self.execute(exp.Create(this=target.expression(), kind="TABLE", expression=select))

    def staging_ref(self, target: TableRef) -> TableRef:
        """Where `target` is built and checked before it is swapped in: beside it, by default."""
        return target.staging()

    def create_view(self, ref: TableRef, select: exp.Select) -> None:
        """Create or replace a view in one statement, so readers never see it missing."""
        if self.object_kind(ref) == "table":
            self.drop(ref)
        self.execute(exp.Create(this=ref.expression(), kind="VIEW", expression=select, replace=True))


class Warehouse(abc.ABC):
    dialect: str

    @abc.abstractmethod
    @contextmanager
    def session(
        self,
        read: Sequence[str] = (),
        write: Sequence[str] = (),
        secret: str | None = None,
        purpose: str = "pipeline",
    ) -> Iterator[WarehouseSession]:
        """Open a session reading `read` databases and writing `write` ones; `purpose` names the work in
        the warehouse's own records where it has them (Snowflake's query tag), for cost attribution."""

    @abc.abstractmethod
    def exists(self, database: str) -> bool:
        """Whether the database is there at all (before the first run, RAW_SAFE is not)."""
