"""Snowflake: the production warehouse, where the warehouse's own size is the knob for large tables.

The engine builds SQL as sqlglot expressions with quoted, lower-case identifiers (asset keys and the
DuckDB default are lower-case). Snowflake folds unquoted identifiers to upper case, so a table a loader
created as ``raw.app.users`` is ``RAW.APP.USERS``: this module folds every all-lower-case quoted
identifier to upper case when it renders, and every all-upper-case name back to lower case when it
reads the catalog. Mixed-case names (created quoted on purpose) are kept as they are both ways.

Types are read into the engine's vocabulary (``NUMBER(38,0)`` → ``BIGINT``, ``TEXT`` → ``VARCHAR``,
``TIMESTAMP_NTZ`` → ``TIMESTAMP``...), so planning, pseudonymization and the checks need no Snowflake
branch; casts render back to the same Snowflake types.

The secret is a bind variable: the connection uses server-side (``qmark``) binding, so the value is sent
apart from the statement and never appears in the query text, nor in QUERY_HISTORY; a connection with
client-side binding is refused. Every session carries a query tag (``minimization_pipeline:<purpose>``,
e.g. ``publish:raw_safe.app.users``) so costs can be attributed.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np
import pandas as pd
from sqlglot import exp

from minimization_pipeline.catalog import Catalog, Table
from minimization_pipeline.warehouse.base import TableRef, Warehouse, WarehouseSession
from minimization_pipeline.warehouse.functions import for_dialect

SECRET_VARIABLE = "MINIMIZATION_SECRET"
STAGING_DATABASE = "minimization_staging"
QUERY_TAG = "minimization_pipeline"
_TEXT = {"TEXT", "VARCHAR", "STRING", "CHAR", "CHARACTER"}
_TIMESTAMPS = {
    "TIMESTAMP_NTZ": "TIMESTAMP",
    "TIMESTAMP_LTZ": "TIMESTAMP WITH TIME ZONE",
    "TIMESTAMP_TZ": "TIMESTAMP WITH TIME ZONE",
}
_FLOATS = {"FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION", "REAL"}


def engine_type(data_type: str, precision: int | None = None, scale: int | None = None) -> str:
    """A Snowflake column type in the engine's vocabulary (the one DuckDB speaks)."""
    kind = data_type.upper().split("(")[0].strip()
    if kind in ("NUMBER", "DECIMAL", "NUMERIC"):
        if not scale:
            return "BIGINT"
        return f"DECIMAL({precision or 38},{scale})"
    if kind in ("INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "BYTEINT"):
        return "BIGINT"
    if kind in _TEXT:
        return "VARCHAR"
    if kind in _FLOATS:
        return "DOUBLE"
    return _TIMESTAMPS.get(kind, kind)


def _as_text(value: object) -> str | None:
    """A pandas/numpy cell as text Snowflake casts back exactly (ISO dates, NaN and NaT as NULL)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        value = pd.Timestamp(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def to_engine_name(name: str) -> str:
    """``USERS`` → ``users``; a mixed-case name (created quoted) is kept as it is."""
    return name.lower() if name == name.upper() else name


def to_snowflake_name(name: str) -> str:
    """``users`` → ``USERS`` (what an unquoted name becomes); a mixed-case name is kept as it is."""
    return name.upper() if name == name.lower() else name


def fold_identifiers(expression: exp.Expression) -> exp.Expression:
    """Render-time case folding of every identifier (see the module docstring)."""

    def fold(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Identifier):
            return exp.Identifier(this=to_snowflake_name(node.name), quoted=True)
        return node

    return expression.copy().transform(fold)


class SnowflakeSession(WarehouseSession):
    dialect = "snowflake"

    def __init__(self, connection: Any, purpose: str = "session", staging_database: str = STAGING_DATABASE) -> None:
        super().__init__()
        style = getattr(connection, "_paramstyle", None) or getattr(connection, "paramstyle", None)
        if style not in ("qmark", "numeric"):
            # pyformat/format bind on the client: the secret would be written into the query text
            raise ValueError(f"the Snowflake connection binds with {style!r}; connect with paramstyle='qmark'")
        self.connection = connection
        self.staging_database = staging_database
        self.cursor = connection.cursor()
        self._tag(purpose)

    def _tag(self, purpose: str) -> None:
        tag = re.sub(r"[^A-Za-z0-9_.:/-]", "_", f"{QUERY_TAG}:{purpose}")
        self.cursor.execute(self.render(f"ALTER SESSION SET QUERY_TAG = '{tag}'"))

    def render(self, sql: str | exp.Expression) -> str:
        text = sql if isinstance(sql, str) else fold_identifiers(for_dialect(sql, self.dialect)).sql(self.dialect)
        self.statements.append(text)
        return text

    def _run(self, sql: str | exp.Expression, params: Sequence[object] | None) -> Any:
        text = self.render(sql)
        return self.cursor.execute(text, list(params) if params is not None else None)

    def execute(self, sql: str | exp.Expression, params: Sequence[object] | None = None) -> None:
        self._run(sql, params)

    def fetch_df(self, sql: str | exp.Expression, params: Sequence[object] | None = None) -> pd.DataFrame:
        cursor = self._run(sql, params)
        names = [to_engine_name(column[0]) for column in cursor.description]
        return pd.DataFrame.from_records(cursor.fetchall(), columns=names)

    def fetch_all(self, sql: str | exp.Expression, params: Sequence[object] | None = None) -> list[tuple]:
        return self._run(sql, params).fetchall()

    def _columns(self, database: str, where: str, params: list[object]) -> list[tuple]:
        """Columns of tables and views; a view is recognised in TABLES (type VIEW) or in VIEWS."""
        db = exp.to_identifier(to_snowflake_name(database), quoted=True).sql("snowflake")
        return self.fetch_all(
            f"""
            SELECT c.table_schema, c.table_name,
                   CASE WHEN t.table_type = 'VIEW' OR v.table_name IS NOT NULL THEN 'VIEW' ELSE 'BASE TABLE' END,
                   c.column_name, c.data_type, c.numeric_precision, c.numeric_scale
            FROM {db}.information_schema.columns AS c
            LEFT JOIN {db}.information_schema.tables AS t
              ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            LEFT JOIN {db}.information_schema.views AS v
              ON v.table_schema = c.table_schema AND v.table_name = c.table_name
            WHERE c.table_schema <> 'INFORMATION_SCHEMA' AND (t.table_name IS NOT NULL OR v.table_name IS NOT NULL)
              {where}
            ORDER BY c.table_schema, c.table_name, c.ordinal_position
            """,
            params,
        )

    def _catalog(self, database: str, rows: list[tuple]) -> Catalog:
        return Catalog.from_rows(
            database,
            [
                (
                    to_engine_name(schema),
                    to_engine_name(table),
                    "view" if kind == "VIEW" else "table",
                    to_engine_name(column),
                    engine_type(data_type, precision, scale),
                )
                for schema, table, kind, column, data_type, precision, scale in rows
            ],
        )

    def catalog(self, database: str) -> Catalog:
        return self._catalog(database, self._columns(database, "", []))

    def sample_rows(self, ref: TableRef, columns: Sequence[str], rows: int, seed: int) -> list[tuple]:
        """A seeded Bernoulli sample sized for about twice `rows`, then cut: Snowflake's fixed-size sampling
        takes no seed, and a sample that changed between runs would change the classification."""
        table = fold_identifiers(ref.expression()).sql(self.dialect)
        total = int(self.fetch_all(f"SELECT COUNT(*) FROM {table}")[0][0])
        if total == 0:
            return []
        percent = min(100.0, math.ceil(2 * rows / total * 100 * 1000) / 1000)
        names = ", ".join(fold_identifiers(exp.column(name, quoted=True)).sql(self.dialect) for name in columns)
        return self.fetch_all(
            f"SELECT {names} FROM {table} SAMPLE BERNOULLI ({percent}) SEED ({int(seed)}) LIMIT {int(rows)}"
        )

    def describe(self, ref: TableRef) -> Table | None:
        rows = self._columns(
            ref.database,
            "AND c.table_schema = ? AND c.table_name = ?",
            [to_snowflake_name(ref.schema), to_snowflake_name(ref.name)],
        )
        tables = self._catalog(ref.database, rows).tables
        return tables[0] if tables else None

    def secret_expression(self) -> exp.Expression:
        return exp.Parameter(this=exp.Var(this=SECRET_VARIABLE))  # $MINIMIZATION_SECRET

    def set_secret(self, secret: str) -> None:
        # Bound server-side (qmark): the value travels apart from the statement text.
        self.execute(f"SET {SECRET_VARIABLE} = ?", [secret])

    def upload_temp(self, name: str, frame: pd.DataFrame, types: dict[str, exp.DataType]) -> exp.Table:
        """Rows go up as text into a session-scoped table, then are cast to `types` in SQL.

        Text bindings, because the connector types an array binding from its first row: a leading NULL
        would send later dates as epoch numbers. Casting in SQL is also what the DuckDB side does.
        """
        target = exp.Table(this=exp.to_identifier(name, quoted=True))
        raw = exp.Table(this=exp.to_identifier(f"{name}__text", quoted=True))
        text_type = exp.DataType.build("VARCHAR")
        columns = [exp.ColumnDef(this=exp.to_identifier(c, quoted=True), kind=text_type) for c in frame.columns]
        temporary = exp.Properties(expressions=[exp.TemporaryProperty()])
        self.execute(
            exp.Create(
                this=exp.Schema(this=raw.copy(), expressions=columns), kind="TABLE", replace=True, properties=temporary
            )
        )
        if len(frame):
            placeholders = ", ".join("?" for _ in frame.columns)
            text = f"INSERT INTO {fold_identifiers(raw).sql('snowflake')} VALUES ({placeholders})"
            self.statements.append(text)
            rows = [tuple(_as_text(value) for value in row) for row in frame.itertuples(index=False, name=None)]
            self.cursor.executemany(text, rows)
        select = exp.select(
            *(exp.cast(exp.column(c, quoted=True), types[c]).as_(c, quoted=True) for c in frame.columns)
        ).from_(raw.copy())
        self.execute(
            exp.Create(this=target.copy(), kind="TABLE", replace=True, expression=select, properties=temporary.copy())
        )
        return target

    def table_comment(self, ref: TableRef) -> str | None:
        db = exp.to_identifier(to_snowflake_name(ref.database), quoted=True).sql("snowflake")
        key = [to_snowflake_name(ref.schema), to_snowflake_name(ref.name)]
        rows = self.fetch_all(
            f"SELECT comment FROM {db}.information_schema.tables WHERE table_schema = ? AND table_name = ?", key
        )
        return rows[0][0] if rows else None

    def object_kind(self, ref: TableRef) -> str | None:
        db = exp.to_identifier(to_snowflake_name(ref.database), quoted=True).sql("snowflake")
        key = [to_snowflake_name(ref.schema), to_snowflake_name(ref.name)]
        views = self.fetch_all(
            f"SELECT 1 FROM {db}.information_schema.views WHERE table_schema = ? AND table_name = ?", key
        )
        if views:
            return "view"
        rows = self.fetch_all(
            f"SELECT table_type FROM {db}.information_schema.tables WHERE table_schema = ? AND table_name = ?", key
        )
        if not rows:
            return None
        return "view" if rows[0][0] == "VIEW" else "table"

    def clone_table(self, source: TableRef, target: TableRef) -> None:
        source_sql = fold_identifiers(source.expression()).sql("snowflake")
        self.execute(f"CREATE TABLE {fold_identifiers(target.expression()).sql('snowflake')} CLONE {source_sql}")

    def staging_ref(self, target: TableRef) -> TableRef:
        """In the private staging database (see `grants.py`): the future grants of RAW_SAFE and PUBLIC,
        which give their readers every new table, do not reach it, so nobody reads an unchecked table."""
        return TableRef(self.staging_database, f"{target.database}__{target.schema}", target.name)

    def swap_in(self, staging: TableRef, target: TableRef) -> None:
        """``CREATE OR REPLACE TABLE target CLONE staging COPY GRANTS``: one atomic statement, a zero-copy
        clone, the grants readers had on the old table kept (a new table gets the database's future
        grants). A view target (pass-through before) is replaced too; then the staging table goes."""
        kind = self.object_kind(target)
        if kind == "view":
            self.drop(target)
            kind = None
        staging_sql = fold_identifiers(staging.expression()).sql("snowflake")
        target_sql = fold_identifiers(target.expression()).sql("snowflake")
        if kind is None:
            self.execute(f"CREATE TABLE {target_sql} CLONE {staging_sql}")
        else:
            self.execute(f"CREATE OR REPLACE TABLE {target_sql} CLONE {staging_sql} COPY GRANTS")
        self.execute(f"DROP TABLE {staging_sql}")


class SnowflakeWarehouse(Warehouse):
    """Sessions on connections from ``connect`` (``SnowflakeResource.get_connection`` in production).

    Databases need no attaching: a session can read and write any database its role may use.
    """

    dialect = "snowflake"

    def __init__(
        self,
        connect: Callable[[], AbstractContextManager[Any]],
        purpose: str = "pipeline",
        staging_database: str = STAGING_DATABASE,
    ) -> None:
        self._connect = connect
        self.purpose = purpose
        self.staging_database = staging_database

    @contextmanager
    def session(
        self,
        read: Sequence[str] = (),
        write: Sequence[str] = (),
        secret: str | None = None,
        purpose: str | None = None,
    ) -> Iterator[SnowflakeSession]:
        with self._connect() as connection:
            session = SnowflakeSession(connection, purpose or self.purpose, self.staging_database)
            if secret is not None:
                session.set_secret(secret)
            yield session

    def exists(self, database: str) -> bool:
        with self._connect() as connection:
            cursor = connection.cursor()
            cursor.execute("SHOW DATABASES")
            names = {row[1] for row in cursor.fetchall()}
        return to_snowflake_name(database) in names
