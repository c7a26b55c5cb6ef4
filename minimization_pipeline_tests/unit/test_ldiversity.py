"""Tests for `enforce_l_diversity`: merging microaggregation classes until each has >= l sensitive values.

Cases start from row-level data, built the way the warehouse does it: the QI histogram (``GROUP BY`` the QIs),
the real :func:`microaggregate` with ``max_suppression=0``, and ``sensitive`` = rows per (tuple, ``dense_rank``
of the value, NULLs first). The result is then expanded back to rows following the SQL contract (the rows of a
tuple numbered by sensitive value, NULLs first; a piece takes rows ``row_from..row_to``) and every claim is
recomputed with plain pandas; pycanon gives a second opinion.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pycanon import anonymity

from minimization_pipeline.anonymize import ldiversity
from minimization_pipeline.anonymize.kanon import KAnonymityError, QIColumn, QIKind
from minimization_pipeline.anonymize.ldiversity import LDiversityError, LDiversityResult, enforce_l_diversity
from minimization_pipeline.anonymize.metrics import gcp, read_arx_hierarchy
from minimization_pipeline.anonymize.microaggregate import MicroaggregateResult, microaggregate, released_pieces

COUNT = "__count"
NUMERIC, DATE, CATEGORICAL = QIKind.NUMERIC, QIKind.DATE, QIKind.CATEGORICAL
SENSITIVE = "diagnosis"
DIAGNOSES = np.array(["asthma", "cold", "flu", "hiv", None], dtype=object)
REPO = Path(__file__).resolve().parents[2]


def adult_dir() -> Path:
    root = os.environ.get("MINIMIZATION_DATASETS")
    return (Path(root) if root else REPO.parent / "shared" / "datasets") / "adult"


def released(name: str) -> str:
    return f"{name}__released"


def warehouse_inputs(rows: pd.DataFrame, qis: list[QIColumn]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What SQL hands to Python: the QI histogram, rows annotated with tuple and value rank, and `sensitive`."""
    names = [q.name for q in qis]
    groups = rows.groupby(names, dropna=False, sort=True)
    histogram = groups.size().reset_index(name=COUNT)
    rows = rows.assign(
        tuple_index=groups.ngroup().to_numpy(),
        # dense_rank() OVER (ORDER BY s NULLS FIRST)
        value_order=rows[SENSITIVE].rank(method="dense", na_option="top").astype(np.int64).to_numpy(),
    )
    sensitive = rows.groupby(["tuple_index", "value_order"]).size().reset_index(name="count")
    return histogram, rows, sensitive


def expand(rows: pd.DataFrame, assignments: pd.DataFrame) -> pd.Series:
    """Class of every row, as SQL assigns it: rows of a tuple numbered by sensitive value (NULLs first)."""
    ordered = rows.sort_values(["tuple_index", "value_order"], kind="stable")
    numbered = ordered.assign(row_number=ordered.groupby("tuple_index").cumcount() + 1).reset_index()
    joined = numbered.merge(assignments, on="tuple_index")
    hit = joined[(joined["row_from"] <= joined["row_number"]) & (joined["row_number"] <= joined["row_to"])]
    assert hit["index"].is_unique and len(hit) == len(rows), "every row must fall in exactly one piece"
    return hit.set_index("index")["class_id"].reindex(rows.index)


def random_rows(seed: int) -> tuple[pd.DataFrame, list[QIColumn]]:
    """Rows with ints, floats with NaN, dates and text with NULLs; a skewed sensitive value (NULL included)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 160))
    nulls = rng.random(n) < 0.1
    rows = pd.DataFrame(
        {
            "age": rng.integers(18, 45, n),
            "income": np.where(nulls, np.nan, rng.choice([1000.5, 2000.0, 4000.0, 9000.0], n)),
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 30, n), unit="D"),
            "city": pd.Series(np.where(rng.random(n) < 0.1, None, rng.choice(["Bern", "Zug", "Basel"], n))),
        }
    )
    # skewed, and correlated with age in half of the cases, so that many classes are homogeneous
    p = rng.dirichlet(np.full(DIAGNOSES.size, 0.4))
    values = rng.choice(DIAGNOSES, n, p=p)
    if seed % 2:
        values = np.where(rows["age"].to_numpy() < 30, values, DIAGNOSES[seed % 4])
    rows[SENSITIVE] = pd.Series(values, dtype=object)
    qis = [
        QIColumn("age", NUMERIC),
        QIColumn("income", NUMERIC),
        QIColumn("day", DATE),
        QIColumn("city", CATEGORICAL),
    ]
    return rows, qis


def assert_l_diverse(
    rows: pd.DataFrame,
    base: MicroaggregateResult,
    result: LDiversityResult,
    k: int,
    l: int,  # noqa: E741
) -> None:
    """Recompute every property of the result from the frames and the rows alone."""
    a, reps = result.assignments, result.representatives
    # same pieces, same order; only class ids change
    assert list(a.columns) == list(base.assignments.columns)
    pd.testing.assert_frame_equal(a.drop(columns="class_id"), base.assignments.drop(columns="class_id"))
    assert a["class_id"].dtype == base.assignments["class_id"].dtype
    # representatives: one per class used, unchanged rows of the input, dtypes kept
    assert reps["class_id"].is_unique
    assert set(reps["class_id"]) == set(a["class_id"])
    pd.testing.assert_frame_equal(
        reps, base.representatives[base.representatives["class_id"].isin(reps["class_id"])].reset_index(drop=True)
    )
    assert (reps.dtypes == base.representatives.dtypes).all()
    assert not reps.drop(columns="class_id").astype(str).duplicated().any()

    # on rows: every class has >= l distinct values (NULL is one) and still >= k rows
    new_class = expand(rows, a)
    old_class = expand(rows, base.assignments)
    assert new_class.notna().all()
    distinct = rows[SENSITIVE].groupby(new_class).nunique(dropna=False)
    sizes = new_class.value_counts()
    assert distinct.min() == result.l_achieved >= l
    assert sizes.min() >= k
    assert result.l == l
    assert result.classes_merged == base.classes - len(reps)

    # classes are only merged, never split; a merged class keeps the id (and so the representative) of one of its
    # members; only classes holding a violator are merged
    members = pd.DataFrame({"old": old_class, "new": new_class, SENSITIVE: rows[SENSITIVE]})
    assert (members.groupby("old")["new"].nunique() == 1).all()
    old_sizes = members.groupby("old").size()
    old_distinct = members.groupby("old")[SENSITIVE].nunique(dropna=False)
    for new_id, group in members.groupby("new"):
        parts = sorted(group["old"].unique(), key=lambda c: (-old_sizes[c], c))
        assert new_id in parts
        if len(parts) == 2:  # one merge: the larger class leads (after several, the largest merged part)
            assert new_id == parts[0]
        if len(parts) > 1:
            assert (old_distinct[parts] < l).any()


def run_case(seed: int) -> None:
    rows, qis = random_rows(seed)
    k, l = [2, 3, 5][seed % 3], [2, 2, 3, 4][seed % 4]  # noqa: E741
    histogram, rows, sensitive = warehouse_inputs(rows, qis)
    if len(rows) < k:
        return
    base = microaggregate(histogram, qis, k, max_suppression=0.0)
    if rows[SENSITIVE].nunique(dropna=False) < l:
        with pytest.raises(LDiversityError, match=f"cannot make the table {l}-diverse"):
            enforce_l_diversity(base.assignments, base.representatives, sensitive, l)
        return
    result = enforce_l_diversity(base.assignments, base.representatives, sensitive, l)
    assert_l_diverse(rows, base, result, k, l)


@pytest.mark.parametrize("seed", range(100))
def test_random_tables_become_l_diverse(seed: int) -> None:
    run_case(seed)


@pytest.mark.parametrize("seed", range(20))
def test_pycanon_agrees_on_expanded_rows(seed: int) -> None:
    """Released QI values + the sensitive value per row (no NULL QIs: pycanon's groupby drops them)."""
    rng = np.random.default_rng(700 + seed)
    n, k, l = int(rng.integers(20, 120)), [2, 3, 4][seed % 3], [2, 3][seed % 2]  # noqa: E741
    rows = pd.DataFrame(
        {
            "age": rng.integers(20, 60, n),
            "zip": rng.choice(["8001", "8002", "3000", "4051"], n),
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 20, n), unit="D"),
            SENSITIVE: pd.Series(rng.choice(DIAGNOSES, n, p=[0.7, 0.1, 0.1, 0.05, 0.05]), dtype=object),
        }
    )
    qis = [QIColumn("age", NUMERIC), QIColumn("zip", CATEGORICAL), QIColumn("day", DATE)]
    histogram, rows, sensitive = warehouse_inputs(rows, qis)
    base = microaggregate(histogram, qis, k, max_suppression=0.0)
    result = enforce_l_diversity(base.assignments, base.representatives, sensitive, l)
    released_rows = result.representatives.set_index("class_id").loc[expand(rows, result.assignments)]
    released_rows = released_rows.reset_index(drop=True).assign(value_order=rows["value_order"].to_numpy())
    names = [released(q.name) for q in qis]
    assert anonymity.l_diversity(released_rows, names, ["value_order"]) == result.l_achieved >= l
    assert anonymity.k_anonymity(released_rows, names) >= k
    # the input was not l-diverse in most cases; make sure the test exercises merging
    if seed == 0:
        assert result.classes_merged > 0


# ------------------------------------------------------------------------------------ hand-made cases


def split_tuple_case(first_values: list[str]) -> tuple[pd.DataFrame, MicroaggregateResult, pd.DataFrame]:
    """12 rows of tuple A and 8 of tuple B at k=10: A's rows 1-10 form a class, rows 11-12 join B."""
    rows = pd.DataFrame(
        {
            "age": [30] * 12 + [31] * 8,
            "sex": ["f"] * 20,
            SENSITIVE: first_values + ["b"] * 4 + ["c"] * 4,
        }
    )
    qis = [QIColumn("age", NUMERIC), QIColumn("sex", CATEGORICAL)]
    histogram, rows, sensitive = warehouse_inputs(rows, qis)
    base = microaggregate(histogram, qis, 10, max_suppression=0.0)
    assert base.assignments[["tuple_index", "row_from", "row_to"]].to_numpy().tolist() == [
        [0, 1, 10],
        [0, 11, 12],
        [1, 1, 8],
    ]
    return rows, base, sensitive


def test_split_tuple_uses_the_value_order_of_rows() -> None:
    """A = 2 x a + 10 x b: rows 1-10 hold {a, b} (rows are numbered by value), rows 11-12 {b}; B's class {b, c}.
    Both classes are 2-diverse, so nothing moves and A's pieces stay in different classes."""
    rows, base, sensitive = split_tuple_case(["a"] * 2 + ["b"] * 10)
    result = enforce_l_diversity(base.assignments, base.representatives, sensitive, 2)
    assert result.classes_merged == 0 and result.l_achieved == 2
    pd.testing.assert_frame_equal(result.assignments, base.assignments)
    pd.testing.assert_frame_equal(result.representatives, base.representatives)
    classes = result.assignments["class_id"].tolist()
    assert classes[0] != classes[1] == classes[2]
    assert_l_diverse(rows, base, result, 10, 2)


def test_split_tuple_piece_with_one_value_is_merged() -> None:
    """A = 10 x a + 2 x b: rows 1-10 are all `a` (a violator at l=2) although tuple A holds two values."""
    rows, base, sensitive = split_tuple_case(["a"] * 10 + ["b"] * 2)
    result = enforce_l_diversity(base.assignments, base.representatives, sensitive, 2)
    assert result.classes_merged == 1 and result.assignments["class_id"].nunique() == 1
    assert_l_diverse(rows, base, result, 10, 2)
    # 3-diverse needs everything in one class as well
    assert enforce_l_diversity(base.assignments, base.representatives, sensitive, 3).l_achieved == 3


def one_tuple_classes(ages: list[int], counts: list[int], values: list[list[str | None]]) -> tuple:
    """One class per age (microaggregate at k=2 keeps tuples of >= 2 rows apart)."""
    rows = pd.DataFrame(
        {"age": np.repeat(ages, counts), SENSITIVE: pd.Series([v for vs in values for v in vs], dtype=object)}
    )
    qis = [QIColumn("age", NUMERIC)]
    histogram, rows, sensitive = warehouse_inputs(rows, qis)
    base = microaggregate(histogram, qis, 2, max_suppression=0.0)
    assert base.classes == len(ages) and base.assignments["tuple_index"].is_unique  # one tuple per class
    return rows, base, sensitive


def test_violator_joins_the_nearest_class_and_l_diverse_classes_stay_untouched() -> None:
    """Ages 20 (4 rows, {a, b}), 40 (2 rows, {a}), 90 (3 rows, {b, c}): 40 joins 20 (6 rows x 20/70 < 5 x 50/70);
    the larger class (20) keeps its id and representative; class 90 is untouched."""
    rows, base, sensitive = one_tuple_classes(
        [20, 40, 90], [4, 2, 3], [["a", "a", "b", "b"], ["a", "a"], ["b", "c", "c"]]
    )
    result = enforce_l_diversity(base.assignments, base.representatives, sensitive, 2)
    ids = base.assignments["class_id"].tolist()
    assert result.assignments["class_id"].tolist() == [ids[0], ids[0], ids[2]]
    assert result.representatives["age__released"].tolist() == [20, 90]
    assert result.representatives["age__released"].dtype == base.representatives["age__released"].dtype
    assert result.classes_merged == 1 and result.l_achieved == 2
    assert_l_diverse(rows, base, result, 2, 2)


def test_merged_class_keeps_the_representative_of_the_larger_class() -> None:
    """Ages 20 (2 rows), 30 (5 rows, {a}), 90: 30 joins 20, but 30 is larger, so its id and value survive."""
    rows, base, sensitive = one_tuple_classes([20, 30, 90], [2, 5, 3], [["a", "b"], ["a"] * 5, ["b", "c", "c"]])
    result = enforce_l_diversity(base.assignments, base.representatives, sensitive, 2)
    ids = base.assignments["class_id"].tolist()
    assert result.assignments["class_id"].tolist() == [ids[1], ids[1], ids[2]]
    assert result.representatives["age__released"].tolist() == [30, 90]
    assert_l_diverse(rows, base, result, 2, 2)


def test_a_class_with_the_same_values_is_no_help() -> None:
    """Ages 0 {b, c}, 20 {a}, 38 {a}, 60 {b, c}: 20 and 38 are nearest to each other, but merging them leaves {a};
    each joins its nearest class that brings a new value instead: 20 -> 0, 38 -> 60."""
    rows, base, sensitive = one_tuple_classes(
        [0, 20, 38, 60], [2, 3, 2, 2], [["b", "c"], ["a"] * 3, ["a"] * 2, ["b", "c"]]
    )
    result = enforce_l_diversity(base.assignments, base.representatives, sensitive, 2)
    ids = base.assignments["class_id"].tolist()
    # the larger class leads (20 with 3 rows); on a tie (38 and 60, 2 rows each) the lower id
    assert result.assignments["class_id"].tolist() == [ids[1], ids[1], ids[2], ids[2]]
    assert result.classes_merged == 2
    assert_l_diverse(rows, base, result, 2, 2)


def test_a_big_class_costs_more_than_a_near_one() -> None:
    """Ages 0 {b, c} (2 rows), 10 {a} (2 rows), 18 {b, c} (20 rows): 18 is nearer, but joining it spreads 22 rows
    over 8 years, joining 0 only 4 rows over 10: 10 joins 0 (the GCP objective, not the plain distance)."""
    rows, base, sensitive = one_tuple_classes([0, 10, 18], [2, 2, 20], [["b", "c"], ["a"] * 2, ["b", "c"] * 10])
    result = enforce_l_diversity(base.assignments, base.representatives, sensitive, 2)
    ids = base.assignments["class_id"].tolist()
    assert result.assignments["class_id"].tolist() == [ids[0], ids[0], ids[2]]
    assert_l_diverse(rows, base, result, 2, 2)


def test_null_counts_as_a_value_of_its_own() -> None:
    """{NULL, a} is 2-diverse; the table {NULL, a, b} is at most 3-diverse."""
    _, base, sensitive = one_tuple_classes([20, 40, 90], [2, 2, 2], [[None, "a"], [None, "b"], ["a", "b"]])
    result = enforce_l_diversity(base.assignments, base.representatives, sensitive, 2)
    assert result.classes_merged == 0 and result.l_achieved == 2
    assert enforce_l_diversity(base.assignments, base.representatives, sensitive, 3).l_achieved == 3
    with pytest.raises(LDiversityError, match="cannot make the table 4-diverse: only 3 distinct values"):
        enforce_l_diversity(base.assignments, base.representatives, sensitive, 4)


def test_text_representatives_count_mismatches() -> None:
    """(Bern, f) violates; (Bern, m) differs in one QI, (Zug, m) in two (same rows): it joins (Bern, m)."""
    rows = pd.DataFrame(
        {
            "city": ["Bern"] * 3 + ["Bern"] * 4 + ["Zug"] * 4,
            "sex": ["f"] * 3 + ["m"] * 4 + ["m"] * 4,
            SENSITIVE: ["a"] * 3 + ["b", "c"] * 2 + ["a", "c"] * 2,
        }
    )
    qis = [QIColumn("city", CATEGORICAL), QIColumn("sex", CATEGORICAL)]
    histogram, rows, sensitive = warehouse_inputs(rows, qis)
    base = microaggregate(histogram, qis, 3, max_suppression=0.0)
    assert base.classes == 3
    result = enforce_l_diversity(base.assignments, base.representatives, sensitive, 2)
    reps = result.representatives
    assert reps[["city__released", "sex__released"]].values.tolist() == [["Bern", "m"], ["Zug", "m"]]
    by_tuple = result.assignments.set_index("tuple_index")["class_id"]
    assert by_tuple[0] == by_tuple[1] != by_tuple[2]  # tuples sorted: (Bern, f), (Bern, m), (Zug, m)
    assert_l_diverse(rows, base, result, 3, 2)


def test_representatives_of_many_types() -> None:
    """Nullable ints, date objects, categoricals, bools and tz-aware stamps all enter the price, with their
    dtypes untouched. Class 1 (2 rows) violates: with class 0 (3 rows) the spread is NULL/1 + 1 day + category
    = ~2.003, so 5 rows x 2.003; with class 2 (2 rows) NULL/3 + 364 days + bool = ~2.997 (same category),
    4 rows x 2.997: it joins class 0."""
    reps = pd.DataFrame(
        {
            "class_id": np.array([0, 1, 2], dtype=np.int64),
            "n__released": pd.array([1, None, 3], dtype="Int64"),
            "d__released": pd.Series(
                [datetime.date(2024, 1, 1), datetime.date(2024, 1, 2), datetime.date(2024, 12, 31)], dtype=object
            ),
            "c__released": pd.Categorical(["x", "y", "y"]),
            "b__released": [True, True, False],
            "t__released": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-01"]).tz_localize("Europe/Zurich"),
        }
    )
    assignments = pd.DataFrame(
        {
            "tuple_index": np.arange(3, dtype=np.int64),
            "row_from": np.ones(3, dtype=np.int64),
            "row_to": np.array([3, 2, 2], dtype=np.int64),
            "class_id": np.arange(3, dtype=np.int64),
            "suppressed": np.zeros(3, dtype=bool),
        }
    )
    sensitive = pd.DataFrame({"tuple_index": [0, 0, 1, 2, 2], "value_order": [1, 2, 1, 2, 3], "count": [2, 1, 2, 1, 1]})
    result = enforce_l_diversity(assignments, reps, sensitive, 2)
    assert result.assignments["class_id"].tolist() == [0, 0, 2]
    pd.testing.assert_frame_equal(result.representatives, reps.iloc[[0, 2]].reset_index(drop=True))
    assert (result.representatives.dtypes == reps.dtypes).all()


def test_whole_table_with_too_few_values_raises() -> None:
    _, base, sensitive = one_tuple_classes([20, 40, 90], [2, 2, 2], [["a", "a"], ["a", "b"], ["b", "b"]])
    with pytest.raises(LDiversityError, match=r"^cannot make the table 3-diverse: only 2 distinct values of the"):
        enforce_l_diversity(base.assignments, base.representatives, sensitive, 3)
    assert issubclass(LDiversityError, KAnonymityError)
    assert enforce_l_diversity(base.assignments, base.representatives, sensitive, 2).l_achieved == 2


def test_l_one_returns_the_input_unchanged() -> None:
    _, base, sensitive = one_tuple_classes([20, 40, 90], [2, 2, 2], [["a", "a"], ["a", "a"], ["b", "b"]])
    result = enforce_l_diversity(base.assignments, base.representatives, sensitive, 1)
    pd.testing.assert_frame_equal(result.assignments, base.assignments)
    pd.testing.assert_frame_equal(result.representatives, base.representatives)
    assert (result.l, result.l_achieved, result.classes_merged) == (1, 1, 0)


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "2", None])
def test_bad_l_raises(bad: object) -> None:
    _, base, sensitive = one_tuple_classes([20, 40, 90], [2, 2, 2], [["a", "b"]] * 3)
    with pytest.raises(ValueError, match="l must be"):
        enforce_l_diversity(base.assignments, base.representatives, sensitive, bad)  # type: ignore[arg-type]


def test_inconsistent_inputs_raise() -> None:
    _, base, sensitive = one_tuple_classes([20, 40, 90], [2, 2, 2], [["a", "b"]] * 3)
    a, reps = base.assignments, base.representatives
    with pytest.raises(ValueError, match="max_suppression=0"):
        enforce_l_diversity(a.assign(suppressed=[False, True, False]), reps, sensitive, 2)
    with pytest.raises(ValueError, match="cover its rows"):  # counts disagree with the pieces
        enforce_l_diversity(a, reps, sensitive.assign(count=sensitive["count"] + 1), 2)
    with pytest.raises(ValueError, match="same tuples"):
        enforce_l_diversity(a, reps, sensitive[sensitive["tuple_index"] != 1], 2)
    with pytest.raises(ValueError, match="duplicate"):
        enforce_l_diversity(a, reps, pd.concat([sensitive, sensitive.iloc[:1]]), 2)
    with pytest.raises(ValueError, match="without a representative"):
        enforce_l_diversity(a, reps.iloc[:2], sensitive, 2)
    with pytest.raises(ValueError, match="missing columns"):
        enforce_l_diversity(a, reps, sensitive.drop(columns="value_order"), 2)


def test_empty_table_is_returned_as_is() -> None:
    base = microaggregate(pd.DataFrame({"age": pd.Series([], dtype="int64"), COUNT: []}), [QIColumn("age", NUMERIC)], 3)
    sensitive = pd.DataFrame({"tuple_index": [], "value_order": [], "count": []}, dtype="int64")
    result = enforce_l_diversity(base.assignments, base.representatives, sensitive, 3)
    assert len(result.assignments) == 0 and result.l_achieved == 0 and result.classes_merged == 0


# ------------------------------------------------------------------------------ determinism and scale


@pytest.mark.parametrize("seed", [1, 3, 5, 8])
def test_deterministic_and_independent_of_input_row_order(seed: int) -> None:
    rows, qis = random_rows(seed)
    histogram, rows, sensitive = warehouse_inputs(rows, qis)
    base = microaggregate(histogram, qis, 2, max_suppression=0.0)
    first = enforce_l_diversity(base.assignments, base.representatives, sensitive, 2)
    again = enforce_l_diversity(base.assignments.copy(), base.representatives.copy(), sensitive.copy(), 2)
    pd.testing.assert_frame_equal(first.assignments, again.assignments)
    pd.testing.assert_frame_equal(first.representatives, again.representatives)

    rng = np.random.default_rng(seed)
    shuffled_a = base.assignments.sample(frac=1, random_state=rng)
    shuffled_r = base.representatives.sample(frac=1, random_state=rng)
    shuffled = enforce_l_diversity(shuffled_a, shuffled_r, sensitive.sample(frac=1, random_state=rng), 2)
    pd.testing.assert_frame_equal(shuffled.assignments.sort_index(), first.assignments)
    pd.testing.assert_frame_equal(
        shuffled.representatives.sort_values("class_id").reset_index(drop=True),
        first.representatives.sort_values("class_id").reset_index(drop=True),
    )


def large_case(n_classes: int, homogeneous: float, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``n_classes`` one-tuple classes of 5 rows; a share ``homogeneous`` of them hold a single value."""
    rng = np.random.default_rng(seed)
    reps = pd.DataFrame(
        {
            "class_id": np.arange(n_classes, dtype=np.int64),
            "age__released": rng.integers(18, 90, n_classes),
            "income__released": rng.normal(5000, 2000, n_classes).round(),
            "day__released": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1500, n_classes), unit="D"),
            "city__released": rng.choice(["Bern", "Zug", "Basel", "Chur", "Genf"], n_classes),
        }
    )
    assignments = pd.DataFrame(
        {
            "tuple_index": np.arange(n_classes, dtype=np.int64),
            "row_from": np.ones(n_classes, dtype=np.int64),
            "row_to": np.full(n_classes, 5, dtype=np.int64),
            "class_id": rng.permutation(n_classes).astype(np.int64),
            "suppressed": np.zeros(n_classes, dtype=bool),
        }
    )
    single = rng.random(n_classes) < homogeneous
    value = rng.integers(1, 6, n_classes)
    mixed = np.flatnonzero(~single)
    count = np.full(n_classes, 5)
    count[mixed] = rng.integers(1, 5, mixed.size)  # a mixed tuple: value v on some rows, v + 1..3 on the rest
    tuples = np.concatenate((np.arange(n_classes), mixed))
    value = np.concatenate((value, value[mixed] + rng.integers(1, 4, mixed.size)))
    count = np.concatenate((count, 5 - count[mixed]))
    sensitive = pd.DataFrame({"tuple_index": tuples, "value_order": value, "count": count})
    return assignments, reps, sensitive


def check_large(assignments: pd.DataFrame, sensitive: pd.DataFrame, result: LDiversityResult, l: int) -> None:  # noqa: E741
    """Vectorized re-check for the large cases (one piece per tuple)."""
    class_of = pd.Series(result.assignments["class_id"].to_numpy(), index=assignments["tuple_index"].to_numpy())
    distinct = (
        sensitive.assign(cls=class_of.loc[sensitive["tuple_index"]].to_numpy()).groupby("cls")["value_order"].nunique()
    )
    assert distinct.min() == result.l_achieved >= l
    assert set(distinct.index) == set(result.representatives["class_id"])


@pytest.mark.parametrize(
    ("homogeneous", "limit"),
    # CPU seconds (robust to other jobs on the machine): ~0.35 / ~0.75 / ~1.1 s unloaded. When every class
    # violates, it takes ~6 rounds, hence the wider margin for that stress case.
    [(0.05, 2.0), (0.5, 2.0), (1.0, 3.0)],
)
def test_100k_classes_are_fast(homogeneous: float, limit: float) -> None:
    assignments, reps, sensitive = large_case(100_000, homogeneous)
    start = time.process_time()
    result = enforce_l_diversity(assignments, reps, sensitive, 2)
    elapsed = time.process_time() - start
    check_large(assignments, sensitive, result, 2)
    assert result.classes_merged > 0
    assert elapsed < limit, f"{elapsed:.2f} s CPU for 100k classes"


@pytest.mark.parametrize("l", [4, 7])
def test_large_l_with_few_values_per_class_terminates(l: int) -> None:  # noqa: E741
    """Every class holds one or two of 8 values: all classes violate; rounds must still converge (l=7 sizes the
    unions by probing the keys instead of the pairwise comparison)."""
    assignments, reps, sensitive = large_case(20_000, 0.5, seed=1)
    result = enforce_l_diversity(assignments, reps, sensitive, l)
    check_large(assignments, sensitive, result, l)


@pytest.mark.parametrize("seed", [2, 3, 7])
def test_pairwise_and_probed_union_sizes_agree(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The two ways of sizing unions must give the same merges."""
    assignments, reps, sensitive = large_case(5_000, 0.6, seed=seed)
    pairwise = enforce_l_diversity(assignments, reps, sensitive, 3)
    monkeypatch.setattr(ldiversity, "PAIRWISE_LIMIT", 1)
    probed = enforce_l_diversity(assignments, reps, sensitive, 3)
    pd.testing.assert_frame_equal(pairwise.assignments, probed.assignments)
    assert pairwise.classes_merged == probed.classes_merged > 0


# ------------------------------------------------------------------------------------------- UCI Adult

ADULT_QIS = ["age", "workclass", "education", "marital-status", "occupation", "race", "sex", "native-country"]


def test_adult_salary_class_2_diverse() -> None:
    """The price of 2-diversity on UCI Adult (76 % of rows earn <=50K) stays bounded: GCP (ARX hierarchies) at
    k=10 goes from 9.9 % to 16.7 %. Measured alternatives: every class as a candidate 16.4 %; per-QI
    lexicographic orders 22.2 %, and 25.9 % if a class could absorb several violators per round."""
    folder = adult_dir()
    if not (folder / "adult.csv").exists():
        pytest.skip(f"UCI Adult not found at {folder} (set MINIMIZATION_DATASETS to the datasets folder)")
    data = pd.read_csv(folder / "adult.csv", sep=";").rename(columns={"salary-class": SENSITIVE})
    hierarchies = {c: read_arx_hierarchy(str(folder / f"adult_hierarchy_{c}.csv")) for c in ADULT_QIS[1:]}
    qis = [QIColumn("age", NUMERIC)] + [QIColumn(c, CATEGORICAL) for c in ADULT_QIS[1:]]
    histogram, rows, sensitive = warehouse_inputs(data, qis)
    base = microaggregate(histogram, qis, 10, hierarchies, max_suppression=0.0)
    start = time.process_time()
    result = enforce_l_diversity(base.assignments, base.representatives, sensitive, 2)
    seconds = time.process_time() - start
    distinct = rows[SENSITIVE].groupby(expand(rows, result.assignments)).nunique()
    assert distinct.min() == result.l_achieved >= 2
    assert distinct.index.size == len(result.representatives) == base.classes - result.classes_merged

    def gcp_of(assignments: pd.DataFrame, representatives: pd.DataFrame) -> float:
        release = dataclasses.replace(base, assignments=assignments, representatives=representatives)
        pieces = released_pieces(histogram, release)
        return gcp(pieces, pieces["class_id"], qis, hierarchies, count_column=COUNT).gcp

    before, after = gcp_of(base.assignments, base.representatives), gcp_of(result.assignments, result.representatives)
    classes = f"{base.classes} -> {len(result.representatives)} classes"
    print(f"\nUCI Adult k=10 l=2: {classes}, GCP {before:.2%} -> {after:.2%}, {seconds:.2f} s")
    assert before < 0.10 and after < 0.18
    assert seconds < 2.0
