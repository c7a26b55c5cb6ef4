"""Tests for the Mondrian k-anonymizer working on a weighted QI histogram.

The checks recompute everything from the mapping with plain pandas (class sizes, representatives), so
they do not trust the numbers the anonymizer reports about itself; pycanon gives a second opinion.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from pycanon import anonymity

from minimization_pipeline.anonymize.kanon import (
    KAnonResult,
    KAnonymityError,
    QIColumn,
    QIKind,
    k_anonymize,
)

COUNT = "__count"
NUMERIC, DATE, CATEGORICAL = QIKind.NUMERIC, QIKind.DATE, QIKind.CATEGORICAL


def released(name: str) -> str:
    return f"{name}__released"


# ------------------------------------------------------------------------------------------ generators


def _null_mask(rng: np.random.Generator, n: int, p: float = 0.15) -> np.ndarray:
    return rng.random(n) < p


def _ages(rng: np.random.Generator, n: int) -> pd.Series:
    return pd.Series(rng.integers(18, 30, n), dtype="int64")


def _incomes(rng: np.random.Generator, n: int) -> pd.Series:
    values = rng.choice([1000.5, 2000.0, 2500.25, 4000.0, 9000.0], n)
    return pd.Series(np.where(_null_mask(rng, n), np.nan, values), dtype="float64")


def _balances(rng: np.random.Generator, n: int) -> pd.Series:
    values = [Decimal(f"{v}.50") for v in rng.integers(0, 6, n)]
    return pd.Series([None if m else v for v, m in zip(values, _null_mask(rng, n), strict=True)], dtype=object)


def _visits(rng: np.random.Generator, n: int) -> pd.Series:
    values = pd.array(rng.integers(0, 7, n), dtype="Int64")
    values[_null_mask(rng, n)] = pd.NA
    return pd.Series(values)


def _births(rng: np.random.Generator, n: int) -> pd.Series:
    days = pd.Timestamp("1990-01-01") + pd.to_timedelta(rng.integers(0, 9, n) * 30, unit="D")
    return pd.Series(days).mask(_null_mask(rng, n))


def _signups(rng: np.random.Generator, n: int) -> pd.Series:
    values = [dt.date(2021, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 6, n)]
    return pd.Series([None if m else v for v, m in zip(values, _null_mask(rng, n), strict=True)], dtype=object)


def _cities(rng: np.random.Generator, n: int) -> pd.Series:
    values = rng.choice(["Bern", "Genf", "Basel", "Zug", "Chur"], n).astype(object)
    values[_null_mask(rng, n)] = None
    return pd.Series(values, dtype=object)


def _plans(rng: np.random.Generator, n: int) -> pd.Series:
    values = pd.array(rng.choice(["free", "pro", "team"], n), dtype="string")
    values[_null_mask(rng, n)] = pd.NA
    return pd.Series(values)


COLUMN_FACTORIES: dict[str, tuple[QIKind, Callable[[np.random.Generator, int], pd.Series]]] = {
    "age": (NUMERIC, _ages),
    "income": (NUMERIC, _incomes),
    "balance": (NUMERIC, _balances),
    "visits": (NUMERIC, _visits),
    "birth": (DATE, _births),
    "signup": (DATE, _signups),
    "city": (CATEGORICAL, _cities),
    "plan": (CATEGORICAL, _plans),
}


def random_histogram(seed: int) -> tuple[pd.DataFrame, list[QIColumn]]:
    """A GROUP BY-like histogram: 1-4 QIs of mixed kinds and dtypes, NULLs, distinct tuples, counts 1..5."""
    rng = np.random.default_rng(seed)
    names = list(rng.choice(list(COLUMN_FACTORIES), size=int(rng.integers(1, 5)), replace=False))
    n = int(rng.integers(1, 80))
    frame = pd.DataFrame({name: COLUMN_FACTORIES[name][1](rng, n) for name in names})
    frame = frame.drop_duplicates().reset_index(drop=True)  # NULL-aware, like GROUP BY
    frame[COUNT] = rng.integers(1, 6, len(frame))
    return frame, [QIColumn(name, COLUMN_FACTORIES[name][0]) for name in names]


def hist(columns: dict[str, list[object]], counts: list[int]) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame[COUNT] = counts
    return frame


# --------------------------------------------------------------------------------- independent checks


def weighted_lower_median(values: list[object], weights: list[int]) -> object:
    totals: dict[object, int] = {}
    for value, weight in zip(values, weights, strict=True):
        totals[value] = totals.get(value, 0) + weight
    half, running = sum(totals.values()) / 2, 0
    for value in sorted(totals):
        running += totals[value]
        if running >= half:
            return value
    raise AssertionError("unreachable")


def weighted_mode(values: list[object], weights: list[int]) -> object:
    totals: dict[object, int] = {}
    for value, weight in zip(values, weights, strict=True):
        totals[value] = totals.get(value, 0) + weight
    return min(totals.items(), key=lambda item: (-item[1], item[0]))[0]


def class_sizes(histogram: pd.DataFrame, result: KAnonResult, qis: list[QIColumn]) -> pd.Series:
    """Rows per distinct released tuple (NULL-aware), i.e. the mapping expanded by count and grouped."""
    frame = result.mapping.assign(**{COUNT: histogram[COUNT].to_numpy()})
    if not qis:
        return pd.Series([frame[COUNT].sum()])
    return frame.groupby([released(q.name) for q in qis], dropna=False)[COUNT].sum()


def assert_valid(histogram: pd.DataFrame, qis: list[QIColumn], k: int, result: KAnonResult) -> None:
    """Everything a consumer relies on, recomputed from the mapping itself."""
    mapping = result.mapping
    expected_columns = [q.name for q in qis] + [released(q.name) for q in qis] + ["class_id"]
    assert list(mapping.columns) == expected_columns
    assert len(mapping) == len(histogram)
    for q in qis:  # originals untouched, NULLs included (the SQL join matches on them)
        pd.testing.assert_series_equal(mapping[q.name].reset_index(drop=True), histogram[q.name].reset_index(drop=True))

    sizes = class_sizes(histogram, result, qis)
    assert result.rows == int(histogram[COUNT].sum())
    assert int(sizes.sum()) == result.rows
    assert (sizes >= k).all(), f"class below k={k}: {sizes.min()}"
    assert result.k == k
    assert result.k_achieved == int(sizes.min())
    assert result.classes == len(sizes)
    assert mapping["class_id"].dtype.kind == "i"
    assert mapping["class_id"].nunique() == result.classes
    if qis:  # class_id <-> released tuple is one to one
        per_tuple = mapping.groupby([released(q.name) for q in qis], dropna=False)["class_id"].nunique()
        assert (per_tuple == 1).all()

    for q in qis:
        assert_types_kept(histogram[q.name], mapping[released(q.name)])
    assert_representatives(histogram, qis, result)


def assert_types_kept(original: pd.Series, out: pd.Series) -> None:
    """Same dtype, and in object columns the same Python types (dates stay dates, Decimals stay Decimals)."""
    assert out.dtype == original.dtype
    if original.dtype == object:
        assert {type(v) for v in out.dropna()} <= {type(v) for v in original.dropna()}


def assert_representatives(histogram: pd.DataFrame, qis: list[QIColumn], result: KAnonResult) -> None:
    """Each class releases a value of its own: weighted lower median / weighted mode of its non-NULLs."""
    mapping, counts = result.mapping, histogram[COUNT].to_numpy()
    for _, idx in mapping.groupby("class_id").indices.items():
        for q in qis:
            out = mapping[released(q.name)].iloc[idx]
            assert out.nunique(dropna=False) == 1
            value = out.iloc[0]
            original = mapping[q.name].iloc[idx]
            present = original.notna().to_numpy()
            if not present.any():
                assert pd.isna(value), "a class with only NULLs must release NULL"
                continue
            assert not pd.isna(value)
            values, weights = list(original[present]), list(counts[idx][present])
            assert value in values, "released value must come from the class"
            pick = weighted_mode if q.kind is CATEGORICAL else weighted_lower_median
            assert value == pick(values, weights)


# ------------------------------------------------------------------------------------------ properties


@pytest.mark.parametrize("seed", range(400))
def test_random_histograms_are_k_anonymous(seed: int) -> None:
    histogram, qis = random_histogram(seed)
    k = [2, 3, 5, 10][seed % 4]
    if histogram[COUNT].sum() < k:
        with pytest.raises(KAnonymityError, match="fewer rows than k"):
            k_anonymize(histogram, qis, k)
        return
    result = k_anonymize(histogram, qis, k)
    assert_valid(histogram, qis, k, result)


@pytest.mark.parametrize("seed", range(0, 400, 7))
def test_deterministic_and_independent_of_row_order(seed: int) -> None:
    histogram, qis = random_histogram(seed)
    k = 3
    if histogram[COUNT].sum() < k:
        pytest.skip("too few rows")
    first = k_anonymize(histogram, qis, k).mapping
    pd.testing.assert_frame_equal(first, k_anonymize(histogram.copy(), qis, k).mapping)

    order = np.random.default_rng(seed).permutation(len(histogram))
    shuffled = k_anonymize(histogram.iloc[order].reset_index(drop=True), qis, k).mapping
    pd.testing.assert_frame_equal(shuffled, first.iloc[order].reset_index(drop=True))


@pytest.mark.parametrize("seed", range(30))
def test_pycanon_agrees(seed: int) -> None:
    """Independent verification on expanded rows (pycanon's groupby drops NULLs, so no NULLs here)."""
    rng = np.random.default_rng(1000 + seed)
    n, k = int(rng.integers(10, 60)), [2, 3, 5][seed % 3]
    histogram = pd.DataFrame(
        {
            "age": rng.integers(20, 60, n),
            "zip": rng.choice(["8001", "8002", "3000", "4051"], n),
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 20, n), unit="D"),
        }
    ).drop_duplicates()
    histogram[COUNT] = rng.integers(1, 4, len(histogram))
    qis = [QIColumn("age", NUMERIC), QIColumn("zip", CATEGORICAL), QIColumn("day", DATE)]
    result = k_anonymize(histogram, qis, k)

    mapping = result.mapping.loc[np.repeat(np.arange(len(histogram)), histogram[COUNT])]
    rows = mapping.rename(columns={released(q.name): f"r_{q.name}" for q in qis}).reset_index(drop=True)
    assert len(rows) == result.rows
    released_qis = [f"r_{q.name}" for q in qis]
    assert anonymity.k_anonymity(rows, released_qis) == result.k_achieved >= k
    # a tuple with fewer than k rows makes the original table fail the same check
    if (histogram[COUNT] < k).any():
        assert anonymity.k_anonymity(rows, [q.name for q in qis]) < k


# ------------------------------------------------------------------------------------------ edge cases


def test_identity_when_every_tuple_already_has_k_rows() -> None:
    histogram = hist(
        {
            "age": [30, 31, 45, 45],
            "city": ["Bern", "Bern", "Zug", None],
            "day": pd.to_datetime(["2020-01-01"] * 4),
        },
        [5, 6, 5, 9],
    )
    qis = [QIColumn("age", NUMERIC), QIColumn("city", CATEGORICAL), QIColumn("day", DATE)]
    result = k_anonymize(histogram, qis, 5)
    for q in qis:
        pd.testing.assert_series_equal(result.mapping[released(q.name)], histogram[q.name], check_names=False)
    assert result.classes == 4
    assert result.k_achieved == 5
    assert_valid(histogram, qis, 5, result)


def test_single_tuple_is_released_unchanged() -> None:
    histogram = hist({"age": [40], "city": ["Bern"]}, [7])
    qis = [QIColumn("age", NUMERIC), QIColumn("city", CATEGORICAL)]
    result = k_anonymize(histogram, qis, 5)
    assert result.mapping.loc[0, "age__released"] == 40
    assert result.mapping.loc[0, "city__released"] == "Bern"
    assert (result.classes, result.k_achieved, result.rows) == (1, 7, 7)


def test_rows_fewer_than_k_raises() -> None:
    histogram = hist({"age": [30, 31]}, [2, 2])
    with pytest.raises(KAnonymityError, match="cannot make 4 rows 5-anonymous: fewer rows than k"):
        k_anonymize(histogram, [QIColumn("age", NUMERIC)], 5)


def test_rows_equal_k_gives_one_class() -> None:
    histogram = hist({"age": [30, 31, 50], "city": ["Bern", "Zug", "Chur"]}, [1, 2, 2])
    qis = [QIColumn("age", NUMERIC), QIColumn("city", CATEGORICAL)]
    result = k_anonymize(histogram, qis, 5)
    assert (result.classes, result.k_achieved, result.rows) == (1, 5, 5)
    assert set(result.mapping["age__released"]) == {31}  # weighted lower median of 30, 31, 31, 50, 50
    assert set(result.mapping["city__released"]) == {"Chur"}  # Chur and Zug tie at 2: smallest wins
    assert_valid(histogram, qis, 5, result)


def test_equal_weight_ties_are_broken_deterministically() -> None:
    histogram = hist({"age": [20, 10], "city": ["b", "a"]}, [2, 2])
    qis = [QIColumn("age", NUMERIC), QIColumn("city", CATEGORICAL)]
    result = k_anonymize(histogram, qis, 4)
    assert set(result.mapping["age__released"]) == {10}  # lower weighted median
    assert set(result.mapping["city__released"]) == {"a"}  # smallest of the tied modes


def test_single_valued_column_stays_and_others_are_split() -> None:
    histogram = hist({"country": ["CH"] * 6, "age": [20, 21, 22, 60, 61, 62]}, [1] * 6)
    qis = [QIColumn("country", CATEGORICAL), QIColumn("age", NUMERIC)]
    result = k_anonymize(histogram, qis, 3)
    assert set(result.mapping["country__released"]) == {"CH"}
    assert list(result.mapping["age__released"]) == [21, 21, 21, 61, 61, 61]
    assert result.classes == 2
    assert_valid(histogram, qis, 3, result)


def test_nulls_are_kept_in_originals_and_null_only_class_releases_null() -> None:
    histogram = hist({"age": [None, None, 50.0], "city": ["x", "y", "z"]}, [3, 2, 5])
    qis = [QIColumn("age", NUMERIC), QIColumn("city", CATEGORICAL)]
    result = k_anonymize(histogram, qis, 5)
    mapping = result.mapping
    assert mapping["age"].isna().tolist() == [True, True, False]
    assert mapping["age__released"].isna().tolist() == [True, True, False]  # class {NULL,x / NULL,y}
    assert mapping["city__released"].tolist() == ["x", "x", "z"]
    assert result.classes == 2
    assert_valid(histogram, qis, 5, result)


def test_null_in_a_mixed_class_gets_a_value_but_keeps_its_original() -> None:
    histogram = hist({"signup": [None, dt.date(2024, 5, 1)], "plan": [pd.NA, "pro"]}, [1, 4])
    histogram["plan"] = histogram["plan"].astype("string")
    qis = [QIColumn("signup", DATE), QIColumn("plan", CATEGORICAL)]
    result = k_anonymize(histogram, qis, 5)
    assert result.mapping["signup"].iloc[0] is None
    assert result.mapping["plan"].isna().iloc[0]
    assert result.mapping["signup__released"].tolist() == [dt.date(2024, 5, 1)] * 2
    assert result.mapping["plan__released"].tolist() == ["pro", "pro"]
    assert_valid(histogram, qis, 5, result)


def test_types_are_kept() -> None:
    histogram = hist(
        {
            "n": pd.Series([1, 2, 3, 4], dtype="int64"),
            "ni": pd.Series([1, None, 3, 4], dtype="Int64"),
            "dec": [Decimal("1.10"), Decimal("2.20"), None, Decimal("4.40")],
            "d": [dt.date(2020, 1, i) for i in range(1, 5)],
            "ts": pd.to_datetime(["2020-01-01", None, "2020-03-01", "2020-04-01"]),
        },
        [1, 1, 1, 1],
    )
    qis = [QIColumn(name, DATE if name in ("d", "ts") else NUMERIC) for name in ["n", "ni", "dec", "d", "ts"]]
    result = k_anonymize(histogram, qis, 2)
    assert_valid(histogram, qis, 2, result)
    out = result.mapping
    assert out["n__released"].dtype == np.dtype("int64")
    assert out["ni__released"].dtype == pd.Int64Dtype()
    assert all(isinstance(v, Decimal) for v in out["dec__released"])
    assert all(type(v) is dt.date for v in out["d__released"])
    assert out["ts__released"].dtype.kind == "M"


def test_empty_histogram() -> None:
    histogram = pd.DataFrame(
        {
            "age": pd.Series([], dtype="int64"),
            "city": pd.Series([], dtype=object),
            COUNT: pd.Series([], dtype="int64"),
        }
    )
    qis = [QIColumn("age", NUMERIC), QIColumn("city", CATEGORICAL)]
    result = k_anonymize(histogram, qis, 5)
    assert (result.k, result.k_achieved, result.classes, result.rows) == (5, 0, 0, 0)
    assert list(result.mapping.columns) == ["age", "city", "age__released", "city__released", "class_id"]
    assert len(result.mapping) == 0
    assert result.mapping["age__released"].dtype == np.dtype("int64")


def test_k_one_is_identity() -> None:
    histogram, qis = random_histogram(3)
    result = k_anonymize(histogram, qis, 1)
    for q in qis:
        pd.testing.assert_series_equal(result.mapping[released(q.name)], histogram[q.name], check_names=False)
    assert result.classes == len(histogram)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_k_is_rejected(k: object) -> None:
    with pytest.raises(ValueError, match="k must be"):
        k_anonymize(hist({"age": [1]}, [5]), [QIColumn("age", NUMERIC)], k)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("histogram", "message"),
    [
        (hist({"age": [1, 2]}, [1, 0]), "positive counts"),
        (hist({"age": [1, 1]}, [1, 1]), "duplicate quasi-identifier tuples"),
        (pd.DataFrame({"age": [1]}), "missing columns"),
    ],
)
def test_bad_histograms_are_rejected(histogram: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        k_anonymize(histogram, [QIColumn("age", NUMERIC)], 1)


def test_kind_accepts_plain_strings() -> None:
    assert QIColumn("age", "numeric").kind is QIKind.NUMERIC  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        QIColumn("age", "interval")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------- performance


def test_200k_tuples_over_4_qis_is_fast() -> None:
    rng = np.random.default_rng(42)
    n, draw = 200_000, 230_000
    frame = pd.DataFrame(
        {
            "age": rng.integers(0, 100, draw),
            "birth": pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 20_000, draw), unit="D"),
            "zip": rng.integers(1000, 9999, draw).astype(str).astype(object),
            "gender": rng.choice(["f", "m", "x"], draw).astype(object),
        }
    )
    histogram = frame.drop_duplicates().head(n).reset_index(drop=True)
    assert len(histogram) == n
    histogram[COUNT] = rng.integers(1, 6, n)
    qis = [
        QIColumn("age", NUMERIC),
        QIColumn("birth", DATE),
        QIColumn("zip", CATEGORICAL),
        QIColumn("gender", CATEGORICAL),
    ]

    start = time.perf_counter()
    result = k_anonymize(histogram, qis, 5)
    elapsed = time.perf_counter() - start
    print(f"\nk_anonymize: {n} tuples x 4 QIs, k=5: {elapsed:.2f} s, {result.classes} classes")

    assert elapsed < 10.0
    sizes = class_sizes(histogram, result, qis)
    assert (sizes >= 5).all()
    assert result.k_achieved == int(sizes.min())
    assert result.classes == len(sizes)
    assert result.rows == int(histogram[COUNT].sum())
