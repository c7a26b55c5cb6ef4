"""`fetch_pandas` takes a faster road through Arrow but must give exactly what DuckDB's `.df()` gives.

The engine reads its histograms with it: a dtype that changed on the way (a nullable integer turned
float, a date turned `datetime.date`) would change released values and their types.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from minimization_pipeline.warehouse.duckdb import fetch_pandas

MIXED = """
SELECT * FROM (VALUES
    (1::INTEGER, 2::BIGINT, 1.5::DOUBLE, 1.25::DECIMAL(10, 2), DATE '2020-01-02', 'a', true, 'a', 7::INTEGER,
     TIMESTAMP '2020-01-02 03:04:05', 5::HUGEINT, 3::TINYINT, 1.5::FLOAT, [1, 2]),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'b', 8, NULL, NULL, NULL, NULL, NULL)
) AS t(i, b, d, dec, dt, s, bo, s, not_null, ts, h, ti, f, l)
"""

QUERIES = {
    "every type, with and without NULLs, a repeated name": MIXED,
    "text and numbers without NULLs (all through Arrow)": (
        "SELECT 1::INTEGER AS i, 'x' AS s, NULL::VARCHAR AS n, 2.5::DOUBLE AS f"
    ),
    "nothing but a date (all through .df())": "SELECT DATE '2020-01-01' AS d",
    "no rows": "SELECT 'x' AS s, 1 AS n WHERE false",
    "a histogram": "SELECT s, COUNT(*) AS n FROM (VALUES ('a'), ('a'), (NULL), ('b')) AS t(s) GROUP BY s ORDER BY s",
}


@pytest.mark.parametrize("sql", QUERIES.values(), ids=QUERIES.keys())
def test_fetch_pandas_matches_duckdb_df(sql: str) -> None:
    with duckdb.connect() as connection:
        expected = connection.execute(sql).df()
        actual = fetch_pandas(connection, sql)
    pd.testing.assert_frame_equal(actual, expected)


def test_fetch_pandas_binds_parameters() -> None:
    with duckdb.connect() as connection:
        frame = fetch_pandas(connection, "SELECT ? AS s, CAST(? AS INTEGER) AS n", ["q", 3])
    assert frame.to_dict("records") == [{"s": "q", "n": 3}]
    assert str(frame["n"].dtype) == "int32"
