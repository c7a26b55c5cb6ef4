"""Read-only looks into the test warehouse: small queries, real DuckDB files."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


@contextmanager
def open_warehouse(data_dir: Path, *databases: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """Attach the named databases read-only under their own names, as the pipeline does."""
    connection = duckdb.connect()
    try:
        for database in databases:
            path = data_dir / f"{database}.duckdb"
            if path.exists():
                connection.execute(f"ATTACH '{path}' AS {database} (READ_ONLY)")
        yield connection
    finally:
        connection.close()


def text_columns(connection: duckdb.DuckDBPyConnection, database: str) -> list[tuple[str, str, str]]:
    return connection.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_catalog = ? AND data_type = 'VARCHAR' ORDER BY ALL",
        [database],
    ).fetchall()


def tables(connection: duckdb.DuckDBPyConnection, database: str) -> list[tuple[str, str]]:
    return connection.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = ? ORDER BY ALL",
        [database],
    ).fetchall()


def table_digest(data_dir: Path, database: str, schema: str, table: str) -> str:
    """A content fingerprint of one table, to prove it did not change."""
    with open_warehouse(data_dir, "raw", database) as connection:
        rows = f'SELECT CAST(t AS VARCHAR) AS row FROM {database}."{schema}"."{table}" t'
        return connection.execute(f"SELECT md5(string_agg(row, '|' ORDER BY row)) FROM ({rows})").fetchone()[0]
