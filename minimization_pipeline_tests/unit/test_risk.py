"""Prosecutor risk from class sizes: hand-computed cases, and the SQL that gets the sizes."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from minimization_pipeline.anonymize.kanon import QIKind
from minimization_pipeline.anonymize.risk import (
    LinkageAttack,
    class_size_histogram_sql,
    linkage_on_raw,
    risk_from_class_sizes,
    simulate_linkage,
)
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


# ---------------------------------------------------------------------------------- the linkage attack
def _pieces(tuples: list[int], ranges: list[tuple[int, int]], values: dict[str, list[object]]) -> pd.DataFrame:
    frame = pd.DataFrame({"tuple_index": tuples, "row_from": [r[0] for r in ranges], "row_to": [r[1] for r in ranges]})
    for name, column in values.items():
        frame[f"{name}__released"] = column
    return frame


def _attack(histogram: pd.DataFrame, pieces: pd.DataFrame, **options: object) -> LinkageAttack:
    kinds = {"age": QIKind.NUMERIC, "zip": QIKind.CATEGORICAL}
    released = {name: f"{name}__released" for name in kinds}
    return simulate_linkage(histogram, pieces, kinds, "n", released, **options)


HISTOGRAM = pd.DataFrame({"age": [20, 30, 40, 50], "zip": ["a", "a", "b", "b"], "n": [1, 1, 1, 1]})


def test_an_identical_release_of_unique_people_is_linked_every_time() -> None:
    pieces = _pieces([0, 1, 2, 3], [(1, 1)] * 4, {"age": [20, 30, 40, 50], "zip": ["a", "a", "b", "b"]})
    attack = _attack(HISTOGRAM, pieces)
    assert attack.attempts == 4 and attack.unique_success == 1.0 and attack.success == 1.0


def test_pairs_sharing_one_released_tuple_halve_the_attack_and_leave_no_unique_match() -> None:
    pieces = _pieces([0, 1, 2, 3], [(1, 1)] * 4, {"age": [25, 25, 45, 45], "zip": ["a", "a", "b", "b"]})
    attack = _attack(HISTOGRAM, pieces)
    assert attack.unique_success == 0.0 and attack.success == pytest.approx(0.5)


def test_a_target_whose_nearest_released_record_is_someone_else_is_missed() -> None:
    # person 2 (age 40, zip b) is released with zip a; the attacker's nearest record is then person 3's
    pieces = _pieces([0, 1, 2, 3], [(1, 1)] * 4, {"age": [20, 30, 40, 50], "zip": ["a", "a", "a", "b"]})
    attack = _attack(HISTOGRAM, pieces)
    assert attack.success == pytest.approx(0.75) and attack.unique_success == pytest.approx(0.75)


def test_suppressed_people_are_not_found_and_the_sample_is_seeded() -> None:
    pieces = _pieces([0, 1], [(1, 1)] * 2, {"age": [20, 30], "zip": ["a", "a"]})  # 2 and 3 not released
    attack = _attack(HISTOGRAM, pieces)
    assert attack.not_released == 2 and attack.success == pytest.approx(0.5)
    big = pd.DataFrame({"age": np.arange(500), "zip": ["a"] * 500, "n": [3] * 500})
    whole = _pieces(list(range(500)), [(1, 3)] * 500, {"age": np.arange(500), "zip": ["a"] * 500})
    first = _attack(big, whole, sample=100, seed=7)
    assert first == _attack(big, whole, sample=100, seed=7)
    assert first.attempts == 100 and first.success == pytest.approx(1 / 3)


def test_a_generalized_release_is_matched_on_its_labels() -> None:
    pieces = _pieces([0, 1, 2, 3], [(1, 1)] * 4, {"age": ["<35"] * 2 + [">=35"] * 2, "zip": ["*"] * 4})
    attack = _attack(HISTOGRAM, pieces, exact=True)
    assert attack.success == pytest.approx(0.5) and attack.unique_success == 0.0


def test_the_attack_on_raw_is_right_once_per_class() -> None:
    attack = linkage_on_raw(np.array([1, 1, 2, 4]), sample=8)
    assert attack.attempts == 8
    assert attack.unique_success == pytest.approx(2 / 8)
    assert attack.success == pytest.approx((1 + 1 + 2 * 0.5 + 4 * 0.25) / 8)


def test_an_empty_release_links_nobody() -> None:
    attack = _attack(HISTOGRAM, _pieces([], [], {"age": [], "zip": []}))
    assert attack.attempts == 4 and attack.not_released == 4 and attack.success == 0.0
