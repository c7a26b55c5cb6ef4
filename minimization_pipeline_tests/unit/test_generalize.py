"""Tests for ARX-compatible full-domain generalization (hierarchy.py, generalize.py).

The Adult tests reproduce the figures of ARX's own test suite (TestAnonymizationKAnonymity and
TestAnonymizationCombinations) on the real data set, read from ``../shared/datasets/adult`` beside the
checkout or ``$MINIMIZATION_DATASETS/adult``; k is re-verified by pyCANON on the released rows. The small
cases are hand-made so that every expected number can be worked out on paper, and a brute force over the
whole lattice checks the pruned search for every metric.
"""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pycanon import anonymity

from minimization_pipeline.anonymize import generalize as generalize_module
from minimization_pipeline.anonymize.generalize import (
    CLASS_ID_COLUMN,
    SUPPRESSED_COLUMN,
    SUPPRESSED_LABEL,
    GeneralizeError,
    GeneralizeResult,
    Metric,
    generalize,
)
from minimization_pipeline.anonymize.hierarchy import (
    NULL_LEAF,
    Hierarchy,
    HierarchyError,
    load_hierarchies,
    load_hierarchy,
)
from minimization_pipeline.anonymize.kanon import KAnonymityError
from minimization_pipeline.settings import datasets_dir
from minimization_pipeline_tests.benchmarks.adult import ARX_COLUMNS

COUNT = "__count"
ADULT = datasets_dir() / "adult"
#: ARX's test uses every column of adult.csv, in file order, as a quasi-identifier.
ADULT_COLUMNS = ARX_COLUMNS
#: (k, suppression limit, ARX's information loss, ARX's optimal transformation): cases 0-3 of ARX's
#: TestAnonymizationKAnonymity, Metric.createPrecomputedEntropyMetric(0.1, true) (quoted by the data set's README).
ARX_KANONYMITY = (
    (5, 0.04, 255559.85455731067, (1, 0, 1, 1, 3, 2, 2, 0, 1)),
    (100, 0.04, 379417.3460570988, (1, 1, 1, 1, 3, 2, 2, 1, 1)),
    (5, 0.0, 407289.5388925293, (1, 2, 1, 1, 3, 2, 2, 1, 1)),
    (100, 0.0, 453196.8932458743, (0, 4, 1, 1, 3, 2, 2, 1, 1)),
)
ARX_IDS = [f"k{k}-suppression{limit:.0%}" for k, limit, _, _ in ARX_KANONYMITY]
RELATIVE_TOLERANCE = 1e-4  # 0.01 %

needs_adult = pytest.mark.skipif(
    not (ADULT / "adult.csv").exists(),
    reason=f"Adult data set not found at {ADULT} (set $MINIMIZATION_DATASETS to the folder that holds adult/)",
)


def released(name: str) -> str:
    return f"{name}__released"


def histogram_of(frame: pd.DataFrame, columns: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """What the warehouse sends: one row per distinct QI tuple with its row count."""
    return frame.groupby(list(columns), dropna=False).size().rename(COUNT).reset_index()


def released_rows(histogram: pd.DataFrame, result: GeneralizeResult) -> pd.DataFrame:
    """The released QI columns of the non-suppressed rows, expanded from the histogram by its counts."""
    mapping = result.mapping
    expanded = mapping.loc[mapping.index.repeat(histogram[COUNT].to_numpy())]
    kept = expanded.loc[~expanded[SUPPRESSED_COLUMN], [released(name) for name in result.levels]]
    return kept.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- Adult


@pytest.fixture(scope="module")
def adult() -> tuple[pd.DataFrame, dict[str, Hierarchy]]:
    """Adult's rows (age as an integer, as a warehouse would hold it) and ARX's hierarchies."""
    if not (ADULT / "adult.csv").exists():
        pytest.skip(f"Adult data set not found at {ADULT} (set $MINIMIZATION_DATASETS to the folder holding adult/)")
    frame = pd.read_csv(ADULT / "adult.csv", sep=";", dtype=str, keep_default_na=False)
    frame["age"] = pd.to_numeric(frame["age"])
    return frame, load_hierarchies(ADULT, "adult")


@pytest.fixture(scope="module")
def adult_histogram(adult: tuple[pd.DataFrame, dict[str, Hierarchy]]) -> pd.DataFrame:
    frame, _ = adult
    histogram = histogram_of(frame, ADULT_COLUMNS)
    assert len(histogram) == 19_502 and histogram[COUNT].sum() == 30_162
    return histogram


@pytest.fixture(scope="module")
def adult_results(
    adult: tuple[pd.DataFrame, dict[str, Hierarchy]], adult_histogram: pd.DataFrame
) -> dict[tuple[int, float], tuple[GeneralizeResult, float]]:
    """The four ARX cases, each run once (result and seconds)."""
    _, hierarchies = adult
    ordered = {name: hierarchies[name] for name in ADULT_COLUMNS}
    results = {}
    for k, limit, _, _ in ARX_KANONYMITY:
        started = time.perf_counter()
        result = generalize(adult_histogram, ordered, k, limit)
        results[(k, limit)] = (result, time.perf_counter() - started)
    return results


@needs_adult
@pytest.mark.parametrize(("k", "limit", "expected", "transformation"), ARX_KANONYMITY, ids=ARX_IDS)
def test_adult_matches_arx(
    adult_results: dict[tuple[int, float], tuple[GeneralizeResult, float]],
    k: int,
    limit: float,
    expected: float,
    transformation: tuple[int, ...],
) -> None:
    result, seconds = adult_results[(k, limit)]
    print(
        f"\nAdult k={k} suppression<={limit:.0%}: non-uniform entropy {result.loss:,.2f} (ARX {expected:,.2f}), "
        f"levels {result.level_vector} (ARX {transformation}), {result.rows_suppressed} rows suppressed, "
        f"k achieved {result.k_achieved}, {result.classes} classes, GCP {result.gcp:.4f}, "
        f"{result.nodes_checked} of {result.lattice_size} nodes checked, {seconds:.3f} s"
    )
    assert result.loss == pytest.approx(expected, rel=RELATIVE_TOLERANCE)
    assert result.level_vector == transformation
    assert result.k_achieved >= k
    assert result.rows_suppressed <= math.floor(limit * result.rows)
    assert result.suppressed_share <= limit


@needs_adult
@pytest.mark.parametrize(("k", "limit"), [(k, limit) for k, limit, _, _ in ARX_KANONYMITY], ids=ARX_IDS)
def test_adult_release_verified_by_pycanon(
    adult_histogram: pd.DataFrame,
    adult_results: dict[tuple[int, float], tuple[GeneralizeResult, float]],
    k: int,
    limit: float,
) -> None:
    result, _ = adult_results[(k, limit)]
    rows = released_rows(adult_histogram, result)
    assert len(rows) == result.rows - result.rows_suppressed
    assert anonymity.k_anonymity(rows, list(rows.columns)) >= k
    assert rows.groupby(list(rows.columns)).ngroups == result.classes


@needs_adult
def test_adult_mapping_is_the_hierarchy_at_the_chosen_levels(
    adult: tuple[pd.DataFrame, dict[str, Hierarchy]],
    adult_histogram: pd.DataFrame,
    adult_results: dict[tuple[int, float], tuple[GeneralizeResult, float]],
) -> None:
    _, hierarchies = adult
    result, _ = adult_results[(5, 0.04)]
    mapping = result.mapping
    assert len(mapping) == len(adult_histogram)
    kept = ~mapping[SUPPRESSED_COLUMN].to_numpy()
    for name, level in result.levels.items():
        pd.testing.assert_series_equal(mapping[name], adult_histogram[name], check_names=False)
        expected = hierarchies[name].level_of(adult_histogram[name], level)
        assert (mapping[released(name)].to_numpy()[kept] == expected[kept]).all()
        assert (mapping[released(name)].to_numpy()[~kept] == SUPPRESSED_LABEL).all()
    assert (mapping.loc[~kept, CLASS_ID_COLUMN] == -1).all()
    assert mapping.loc[kept, CLASS_ID_COLUMN].nunique() == result.classes


@needs_adult
def test_adult_non_monotonic_entropy_matches_arx(
    adult: tuple[pd.DataFrame, dict[str, Hierarchy]],
) -> None:
    """ARX's TestAnonymizationCombinations: occupation not a QI, k=5; both entropy variants."""
    frame, hierarchies = adult
    columns = [name for name in ADULT_COLUMNS if name != "occupation"]
    histogram = histogram_of(frame, columns)
    ordered = {name: hierarchies[name] for name in columns}
    started = time.perf_counter()
    monotonic = generalize(histogram, ordered, 5, 0.0, metric=Metric.ENTROPY)
    non_monotonic = generalize(histogram, ordered, 5, 0.05, metric=Metric.ENTROPY_NM)
    seconds = time.perf_counter() - started
    print(
        f"\nAdult without occupation, k=5: monotonic 0 % {monotonic.loss:,.2f} (ARX 324,620.53), non-monotonic 5 % "
        f"{non_monotonic.loss:,.2f} (ARX 180,132.41), {seconds:.3f} s for both"
    )
    assert monotonic.loss == pytest.approx(324620.5269918692, rel=RELATIVE_TOLERANCE)
    assert monotonic.level_vector == (1, 1, 1, 1, 3, 2, 2, 1)
    assert non_monotonic.loss == pytest.approx(180132.40848244698, rel=RELATIVE_TOLERANCE)
    assert non_monotonic.level_vector == (0, 0, 1, 1, 2, 2, 2, 0)


@needs_adult
def test_adult_hierarchies_load() -> None:
    hierarchies = load_hierarchies(ADULT, "adult")
    assert sorted(hierarchies) == sorted(ADULT_COLUMNS)
    heights = {name: hierarchy.height for name, hierarchy in hierarchies.items()}
    assert heights == {
        "age": 5,
        "education": 4,
        "marital-status": 3,
        "native-country": 3,
        "occupation": 3,
        "race": 2,
        "salary-class": 2,
        "sex": 2,
        "workclass": 3,
    }
    age = hierarchies["age"]
    assert age.leaves == 100
    assert list(age.level_of(np.array([39, 17]), 2)) == ["30-39", "10-19"]
    assert age.leaves_under("30-39", 2) == 10
    assert age.leaves_under("*", 4) == 100


# ---------------------------------------------------------------------------------------------- tiny cases

ZIP_ROWS = (
    ("13053", "1305*", "130**", "*"),
    ("13058", "1305*", "130**", "*"),
    ("13067", "1306*", "130**", "*"),
    ("13068", "1306*", "130**", "*"),
)
SEX_ROWS = (("Male", "*"), ("Female", "*"))


@pytest.fixture
def tiny() -> tuple[pd.DataFrame, dict[str, Hierarchy]]:
    """Nine records over (zip, sex) as a histogram; zip 13067 is a lone record."""
    histogram = pd.DataFrame(
        {
            "zip": [13053, 13053, 13058, 13067, 13068],
            "sex": ["Male", "Female", "Male", "Female", "Male"],
            COUNT: [3, 1, 2, 1, 2],
        }
    )
    hierarchies = {"zip": Hierarchy.from_rows("zip", ZIP_ROWS), "sex": Hierarchy.from_rows("sex", SEX_ROWS)}
    return histogram, hierarchies


def test_zero_suppression_forces_a_higher_level(tiny: tuple[pd.DataFrame, dict[str, Hierarchy]]) -> None:
    histogram, hierarchies = tiny
    result = generalize(histogram, hierarchies, k=2, max_suppression=0.0)
    assert result.rows_suppressed == 0
    # (1, 1): zip -> 1305*/1306*, sex -> *, classes of 6 and 3. (2, 0) is 2-anonymous too, but generalizing
    # zip to 130** loses more entropy (16.53 bits) than 1305*/1306* and sex together (15.14).
    assert result.level_vector == (1, 1)
    assert result.k_achieved == 3 and result.classes == 2
    assert set(result.mapping[released("zip")]) == {"1305*", "1306*"}
    # With room to suppress the lone record (floor(0.2 * 9) = 1), zip is released as is.
    relaxed = generalize(histogram, hierarchies, k=2, max_suppression=0.2)
    assert relaxed.rows_suppressed == 1
    assert relaxed.level_vector == (0, 1)
    suppressed = relaxed.mapping[relaxed.mapping[SUPPRESSED_COLUMN]]
    assert suppressed["zip"].tolist() == [13067]
    assert (suppressed[[released("zip"), released("sex")]] == SUPPRESSED_LABEL).all(axis=None)


def test_suppression_limit_is_floored_to_whole_rows(tiny: tuple[pd.DataFrame, dict[str, Hierarchy]]) -> None:
    """ARX allows floor(limit * rows) suppressed records: 0.1 * 9 = 0.9 -> 0, so nothing may be suppressed."""
    histogram, hierarchies = tiny
    assert generalize(histogram, hierarchies, k=2, max_suppression=0.1).rows_suppressed == 0
    assert generalize(histogram, hierarchies, k=2, max_suppression=0.12).rows_suppressed == 1


def test_entropy_by_hand(tiny: tuple[pd.DataFrame, dict[str, Hierarchy]]) -> None:
    """Loss of a column = -sum_v a_v log2(a_v / b_v) over the input's values (a: rows of v, b: rows of v's label)."""
    histogram, hierarchies = tiny
    result = generalize(histogram, hierarchies, k=2, max_suppression=0.0)
    # zip at level 1: 13053 (4 of the 6 rows of 1305*), 13058 (2 of 6), 13067 (1 of the 3 of 1306*), 13068 (2 of 3);
    # sex at level 1: Male 7 of 9, Female 2 of 9.
    zip_loss = -(4 * math.log2(4 / 6) + 2 * math.log2(2 / 6) + 1 * math.log2(1 / 3) + 2 * math.log2(2 / 3))
    sex_loss = -(7 * math.log2(7 / 9) + 2 * math.log2(2 / 9))
    # ARX floors each column's loss to 10 decimals before summing.
    assert result.loss == pytest.approx(zip_loss + sex_loss, abs=2e-10)


def test_gcp_by_hand(tiny: tuple[pd.DataFrame, dict[str, Hierarchy]]) -> None:
    histogram, hierarchies = tiny
    result = generalize(histogram, hierarchies, k=2, max_suppression=0.0, metric=Metric.GCP)
    # 2-anonymous without suppression: (1, 1) costs (9 * 1/3 + 9 * 1) / 18 = 2/3 (1305* covers 2 of 4 zip
    # leaves: NCP 1/3; sex at *: NCP 1); (2, 0) costs (9 * 1 + 9 * 0) / 18 = 1/2, so GCP prefers it.
    assert result.level_vector == (2, 0)
    assert result.loss == pytest.approx(0.5)
    assert result.gcp == pytest.approx(result.loss)


def test_k_larger_than_rows(tiny: tuple[pd.DataFrame, dict[str, Hierarchy]]) -> None:
    histogram, hierarchies = tiny
    with pytest.raises(GeneralizeError, match="fewer rows than k"):
        generalize(histogram, hierarchies, k=10, max_suppression=0.5)
    everything = generalize(histogram, hierarchies, k=10, max_suppression=1.0)
    assert everything.rows_suppressed == 9 and everything.classes == 0 and everything.k_achieved == 0
    assert everything.mapping[SUPPRESSED_COLUMN].all()
    assert issubclass(GeneralizeError, KAnonymityError)  # the engine's existing error handling applies


def test_infeasible_limit_is_a_clear_error(tiny: tuple[pd.DataFrame, dict[str, Hierarchy]]) -> None:
    histogram, _ = tiny
    # Without a common root (1305* and 1306* at the top), 1306* never holds more than 3 records: k=4 is out of reach.
    split = Hierarchy.from_rows("zip", [row[:2] for row in ZIP_ROWS])
    only_zip = histogram.groupby("zip", as_index=False)[COUNT].sum()
    with pytest.raises(GeneralizeError, match="not even the most general"):
        generalize(only_zip, {"zip": split}, k=4, max_suppression=0.0)


def test_numbers_and_nulls_match_leaves_as_strings() -> None:
    hierarchy = Hierarchy.from_rows("age", [("39", "30-39", "*"), ("41", "40-49", "*"), (NULL_LEAF, "NULL", "*")])
    values = pd.Series([39, None, 41], dtype="Int64")
    assert list(hierarchy.level_of(values, 1)) == ["30-39", "NULL", "40-49"]
    assert list(hierarchy.level_of(np.array([39.0, np.nan]), 1)) == ["30-39", "NULL"]
    assert list(hierarchy.level_of(["39", "41"], 2)) == ["*", "*"]
    assert hierarchy.common_level([39, 41]) == 2 and hierarchy.common_level([39]) == 0


def test_missing_value_names_column_and_value(tiny: tuple[pd.DataFrame, dict[str, Hierarchy]]) -> None:
    histogram, hierarchies = tiny
    histogram.loc[0, "zip"] = 99999
    with pytest.raises(HierarchyError, match=r"column 'zip': value\(s\) '99999' missing"):
        generalize(histogram, hierarchies, k=2, max_suppression=0.0)
    with pytest.raises(HierarchyError, match="a NULL needs a 'NULL' leaf"):
        hierarchies["sex"].leaf_index(pd.Series(["Male", None]))


@pytest.fixture
def random_table() -> tuple[pd.DataFrame, dict[str, Hierarchy], pd.DataFrame]:
    """300 random records over (zip, age, sex): rows, hierarchies (a 4 x 4 x 2 lattice) and histogram."""
    rng = np.random.default_rng(3)
    rows = 300
    frame = pd.DataFrame(
        {
            "zip": rng.choice([int(row[0]) for row in ZIP_ROWS], rows, p=[0.5, 0.3, 0.15, 0.05]),
            "age": rng.integers(30, 40, rows),
            "sex": rng.choice(["Male", "Female"], rows),
        }
    )
    ages = [(str(age), f"{age - age % 5}-{age - age % 5 + 4}", "30-39", "*") for age in range(30, 40)]
    hierarchies = {
        "zip": Hierarchy.from_rows("zip", ZIP_ROWS),
        "age": Hierarchy.from_rows("age", ages),
        "sex": Hierarchy.from_rows("sex", SEX_ROWS),
    }
    return frame, hierarchies, histogram_of(frame, list(hierarchies))


def test_search_matches_brute_force_for_every_metric(
    random_table: tuple[pd.DataFrame, dict[str, Hierarchy], pd.DataFrame],
) -> None:
    """The pruned search against an exhaustive scan of the lattice, computed row by row with pandas."""
    frame, hierarchies, histogram = random_table
    rows = len(frame)
    nodes = list(itertools.product(*(range(h.height) for h in hierarchies.values())))
    released_at = {node: _labels_at(frame, hierarchies, node) for node in nodes}
    for metric, k, limit in itertools.product(Metric, (3, 10, 40), (0.0, 0.05, 0.3)):
        result = generalize(histogram, hierarchies, k, limit, metric=metric)
        best = min(_brute_force_loss(frame, hierarchies, node, released_at[node], k, limit, metric) for node in nodes)
        assert result.loss == pytest.approx(best, rel=1e-9), (metric, k, limit)
        assert result.rows_suppressed <= math.floor(limit * rows)


def _labels_at(frame: pd.DataFrame, hierarchies: dict[str, Hierarchy], node: tuple[int, ...]) -> pd.DataFrame:
    """Every row's labels at ``node``, plus the size of its class in ``__size``."""
    labels = pd.DataFrame(
        {name: h.level_of(frame[name], level) for (name, h), level in zip(hierarchies.items(), node, strict=True)}
    )
    return labels.assign(__size=labels.groupby(list(hierarchies))[next(iter(hierarchies))].transform("size"))


def _brute_force_loss(
    frame: pd.DataFrame,
    hierarchies: dict[str, Hierarchy],
    node: tuple[int, ...],
    labels: pd.DataFrame,
    k: int,
    limit: float,
    metric: Metric,
) -> float:
    """The loss of one node computed row by row with plain pandas (inf when not anonymous)."""
    suppressed = (labels["__size"] < k).to_numpy()
    if suppressed.sum() > math.floor(limit * len(frame)):
        return math.inf
    loss = 0.0
    for (name, hierarchy), level in zip(hierarchies.items(), node, strict=True):
        original = frame[name].astype(str)
        a = original.map(original.value_counts())
        b = labels[name].map(labels[name].value_counts())
        column = -float((np.log2(a / b)).sum())  # = -sum over values of a * log2(a / b)
        if metric is Metric.ENTROPY_NM and suppressed.any():
            spread = labels[name][suppressed].value_counts().to_numpy(dtype=float)
            column -= float((spread * np.log2(spread / suppressed.sum())).sum())
        if metric is Metric.GCP:
            under = labels[name].map({label: hierarchy.leaves_under(label, level) for label in labels[name].unique()})
            ncp = np.where(suppressed, 1.0, (under - 1) / (hierarchy.leaves - 1))
            column = float(ncp.sum()) / (len(frame) * len(node))
        loss += column
    return loss


def test_keys_wider_than_int64_give_the_same_result(
    random_table: tuple[pd.DataFrame, dict[str, Hierarchy], pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many wide QIs overflow the fixed mixed radix: keys are then compacted node by node, same answers."""
    _, hierarchies, histogram = random_table
    expected = [generalize(histogram, hierarchies, k, 0.05, metric=metric) for k in (3, 40) for metric in Metric]
    monkeypatch.setattr(generalize_module, "_KEY_LIMIT", 16)
    for before, k, metric in zip(expected, (3, 3, 3, 40, 40, 40), list(Metric) * 2, strict=True):
        after = generalize(histogram, hierarchies, k, 0.05, metric=metric)
        assert (after.level_vector, after.loss, after.rows_suppressed) == (
            before.level_vector,
            before.loss,
            before.rows_suppressed,
        )
        pd.testing.assert_frame_equal(after.mapping, before.mapping)


def test_nulls_are_released_as_null() -> None:
    hierarchy = Hierarchy.from_rows("sex", [("Male", "*"), ("Female", "*"), (NULL_LEAF, "*")])
    histogram = pd.DataFrame({"sex": ["Male", None, "Female"], COUNT: [5, 4, 1]})
    result = generalize(histogram, {"sex": hierarchy}, k=3, max_suppression=0.1)
    assert result.level_vector == (0,)
    assert result.mapping[released("sex")].tolist() == ["Male", None, SUPPRESSED_LABEL]
    assert result.mapping[SUPPRESSED_COLUMN].tolist() == [False, False, True]
    assert result.mapping["sex"].tolist() == ["Male", None, "Female"]


# ---------------------------------------------------------------------------------------------- validation


def test_argument_errors(tiny: tuple[pd.DataFrame, dict[str, Hierarchy]]) -> None:
    histogram, hierarchies = tiny
    with pytest.raises(ValueError, match="k must be"):
        generalize(histogram, hierarchies, k=0, max_suppression=0.0)
    with pytest.raises(ValueError, match="max_suppression"):
        generalize(histogram, hierarchies, k=2, max_suppression=4.0)
    with pytest.raises(ValueError, match="missing columns"):
        generalize(histogram.drop(columns="sex"), hierarchies, k=2, max_suppression=0.0)
    with pytest.raises(ValueError, match="integer counts"):
        generalize(histogram.assign(**{COUNT: 1.5}), hierarchies, k=2, max_suppression=0.0)
    with pytest.raises(ValueError, match="not a valid Metric"):
        generalize(histogram, hierarchies, k=2, max_suppression=0.0, metric="height")


def _write(tmp_path: Path, text: str, name: str = "t_hierarchy_zip.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_hierarchy_file_errors_name_file_and_line(tmp_path: Path) -> None:
    ragged = _write(tmp_path, "13053;1305*;*\n13058;1305*\n")
    with pytest.raises(HierarchyError, match=r"t_hierarchy_zip\.csv, line 2: 2 levels where the first row has 3"):
        load_hierarchy(ragged)
    duplicate = _write(tmp_path, "13053;1305*;*\n\n13053;1306*;*\n")
    with pytest.raises(HierarchyError, match=r"line 3: duplicate leaf '13053' \(first at line 1\)"):
        load_hierarchy(duplicate)
    not_a_tree = _write(tmp_path, "13053;1305*;A;*\n13058;1305*;B;*\n")
    with pytest.raises(HierarchyError, match=r"line 2: label '1305\*' of level 1 generalizes to 'B'"):
        load_hierarchy(not_a_tree)
    empty = _write(tmp_path, "\n")
    with pytest.raises(HierarchyError, match="empty"):
        load_hierarchy(empty)


def test_hierarchy_file_loading(tmp_path: Path) -> None:
    path = _write(tmp_path, "13053;1305*;*\r\n13058;1305*;*\r\n13067;1306*;*\r\n")
    hierarchy = load_hierarchy(path)
    assert hierarchy.column == "zip" and hierarchy.height == 3 and hierarchy.leaves == 3
    assert hierarchy.leaves_under("1305*", 1) == 2
    assert hierarchy.common_level(["13053", "13058"]) == 1
    assert hierarchy.common_level(["13053", "13067"]) == 2
    with pytest.raises(KeyError):
        hierarchy.leaves_under("1307*", 1)
    assert list(load_hierarchies(tmp_path, "t")) == ["zip"]
