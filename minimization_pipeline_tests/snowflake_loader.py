"""Load the demo RAW database into a Snowflake (the fakesnow server): what Fivetran or Airbyte would do.

Tables are created with unquoted, upper-case names and Snowflake types, as loaders create them, and the
rows are sent as multi-row literal ``INSERT`` statements.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

_TYPES = {"BIGINT": "NUMBER(38,0)", "INTEGER": "NUMBER(38,0)", "VARCHAR": "VARCHAR", "DOUBLE": "FLOAT"}
CHUNK = 5_000


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool | int | float | Decimal):
        return str(value)
    text = value.isoformat(sep=" ") if isinstance(value, dt.datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


def snowflake_type(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL"):
        return duckdb_type.replace("DECIMAL", "NUMBER")
    if duckdb_type.startswith("TIMESTAMP"):
        return "TIMESTAMP_NTZ"
    return _TYPES.get(duckdb_type, duckdb_type)


def load_raw(duckdb_file: Path, connect: Callable[[], AbstractContextManager[Any]], database: str = "RAW") -> dict:
    """Copy every table of a DuckDB RAW file into ``database``; returns rows per ``schema.table``."""
    source = duckdb.connect(str(duckdb_file), read_only=True)
    counts = {}
    try:
        tables = source.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' ORDER BY 1, 2"
        ).fetchall()
        with connect() as connection:
            cursor = connection.cursor()
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
            for schema, table in tables:
                columns = source.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                    [schema, table],
                ).fetchall()
                name = f"{database}.{schema.upper()}.{table.upper()}"
                cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {database}.{schema.upper()}")
                ddl = ", ".join(f"{column.upper()} {snowflake_type(kind)}" for column, kind in columns)
                cursor.execute(f"CREATE OR REPLACE TABLE {name} ({ddl})")
                # rows as literal VALUES, thousands per statement: fakesnow runs a bound executemany row by
                # row (a minute for the demo). Snowflake casts the quoted dates and timestamps on insert.
                rows = [
                    "(" + ", ".join(_literal(value) for value in row) + ")"
                    for row in source.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
                ]
                for start in range(0, len(rows), CHUNK):
                    cursor.execute(f"INSERT INTO {name} VALUES {', '.join(rows[start : start + CHUNK])}")
                counts[f"{schema}.{table}"] = len(rows)
    finally:
        source.close()
    return counts
