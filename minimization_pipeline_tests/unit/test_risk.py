"""Prosecutor risk from class sizes: hand-computed cases, and the SQL that gets the sizes."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from minimization_pipeline.anonymize.risk import class_size_histogram_sql, risk_from_class_sizes
from minimization_pipeline.warehouse.base import TableRef


def test_risk_of_known_class_sizes() -> None:
    # classes of 1, 1, 2 and 6 records: 10 records, 4 classes
    report = risk_from_class_sizes(np.array([1, 2, 6]), np.array([2, 1, 1]))
    assert report.records == 10 and report.classes == 4
    assert report.highest_prosecutor_risk == 1.0
    assert report.average_prosecutor_risk == pytest.approx(0.4)  # (1 + 1 + 2 * 1/2 + 6 * 1/6) / 10
    assert report.records_at_risk_share == pytest.approx(0.4)  # 1 + 1 + 2 records in classes under 5
    assert report.unique_records_share == pytest.approx(0.2)


def test_a_k_anonymous_table_has_risk_at_most_one_over_k() -> None:
    report = risk_from_class_sizes(np.array([10, 12, 40]))
    assert report.highest_prosecutor_risk == pytest.approx(0.1)
    assert report.unique_records_share == 0.0 and report.records_at_risk_share == 0.0


def test_an_empty_table_has_no_risk_and_bad_sizes_are_refused() -> None:
    assert risk_from_class_sizes(np.zeros(0, dtype=np.int64)).records == 0
    with pytest.raises(ValueError, match="positive"):
        risk_from_class_sizes(np.array([0, 3]))


def test_the_sql_counts_classes_with_nulls_as_one_value() -> None:
    connection = duckdb.connect()
    connection.execute("ATTACH ':memory:' AS raw")
    connection.execute("CREATE SCHEMA raw.s")
    connection.execute(
        "CREATE TABLE raw.s.t AS SELECT * FROM (VALUES (1, 'a'), (1, 'a'), (2, NULL), (2, NULL), (3, 'b')) v(x, y)"
    )
    sql = class_size_histogram_sql(TableRef("raw", "s", "t").expression(), ["x", "y"]).sql("duckdb")
    assert connection.execute(sql).fetchall() == [(1, 1), (2, 2)]
