"""GCP / NCP and the change figures of `metrics.gcp`, on tiny examples computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from minimization_pipeline.anonymize.kanon import QIColumn, QIKind
from minimization_pipeline.anonymize.metrics import column_scale, gcp, hierarchy_paths, read_arx_hierarchy

#: a, b under X; c, d under Y; all under the root
TREE = {"a": ["X", "*"], "b": ["X", "*"], "c": ["Y", "*"], "d": ["Y", "*"]}


def test_numeric_ncp_is_class_range_over_domain_range() -> None:
    frame = pd.DataFrame({"age": [20, 30, 40, 50]})
    report = gcp(frame, [0, 0, 1, 1], ["age"])
    assert report.gcp == pytest.approx(10 / 30)
    assert report.ncp_by_column == {"age": pytest.approx(10 / 30)}
    assert (report.classes, report.min_class_size, report.average_class_size) == (2, 2, 2.0)
    assert report.rows == 4 and report.rows_suppressed == 0


def test_hierarchical_ncp_counts_leaves_under_the_lowest_common_ancestor() -> None:
    frame = pd.DataFrame({"c": ["a", "b", "c", "d"]})
    assert gcp(frame, [0, 0, 1, 1], ["c"], {"c": TREE}).gcp == pytest.approx(1 / 3)  # (2 - 1) / (4 - 1)
    assert gcp(frame, [0, 1, 0, 1], ["c"], {"c": TREE}).gcp == pytest.approx(1.0)  # root
    assert gcp(frame, [0, 1, 2, 3], ["c"], {"c": TREE}).gcp == 0.0


def test_categorical_without_hierarchy_loses_the_share_of_sorted_values_it_spans() -> None:
    frame = pd.DataFrame({"c": ["a", "a", "b", "c"]})
    # {a, a}: 0; {b, c}: spans 1 step of the 2 between a and c -> 1/2; mean over 4 rows = 0.25
    assert gcp(frame, [0, 0, 1, 1], ["c"]).gcp == pytest.approx(0.25)
    assert gcp(frame, [0, 0, 0, 0], ["c"]).gcp == pytest.approx(1.0)


def test_gcp_averages_over_columns_and_suppressed_rows_count_one_everywhere() -> None:
    frame = pd.DataFrame({"age": [20, 30, 40, 50, 60], "c": ["a", "b", "c", "d", "d"]})
    report = gcp(frame, [0, 0, 1, 1, 9], ["age", "c"], {"c": TREE}, suppressed=[False] * 4 + [True])
    # age: classes {20,30}, {40,50} -> 10/40 each, suppressed row 1; c: {a,b} 1/3, {c,d} 1/3, suppressed 1
    age = (4 * 10 / 40 + 1) / 5
    cat = (4 * (1 / 3) + 1) / 5
    assert report.ncp_by_column == {"age": pytest.approx(age), "c": pytest.approx(cat)}
    assert report.gcp == pytest.approx((age + cat) / 2)
    assert report.rows_suppressed == 1 and report.classes == 2


def test_weighted_histogram_equals_expanded_rows() -> None:
    hist = pd.DataFrame({"age": [20, 30, 50], "c": ["a", "c", "d"], "n": [3, 1, 2]})
    classes = np.array([0, 0, 1])
    rows = hist.loc[hist.index.repeat(hist["n"])].reset_index(drop=True)
    weighted = gcp(hist, classes, ["age", "c"], {"c": TREE}, count_column="n")
    expanded = gcp(rows, np.repeat(classes, hist["n"]), ["age", "c"], {"c": TREE})
    assert weighted.gcp == pytest.approx(expanded.gcp)
    assert weighted.min_class_size == expanded.min_class_size == 2
    assert weighted.rows == 6


def test_null_is_a_value_of_its_own() -> None:
    frame = pd.DataFrame({"x": [1.0, np.nan, np.nan, 3.0], "c": ["a", None, None, "b"]})
    report = gcp(frame, [0, 0, 1, 1], ["x", "c"])
    # class 0 mixes NULL and 1.0 -> 1; class 1 mixes NULL and 3.0 -> 1
    assert report.ncp_by_column == {"x": 1.0, "c": 1.0}
    assert gcp(frame, [0, 1, 1, 2], ["x", "c"]).ncp_by_column == {"x": 0.0, "c": 0.0}


def test_dates_are_measured_like_numbers() -> None:
    frame = pd.DataFrame({"day": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-05", "2024-01-11"])})
    report = gcp(frame, [0, 0, 1, 1], [QIColumn("day", QIKind.DATE)])
    assert report.gcp == pytest.approx((2 / 10 * 2 + 6 / 10 * 2) / 4)


def test_changed_cells_rows_and_distortion() -> None:
    original = pd.DataFrame({"age": [20, 30, 40, 40], "c": ["a", "b", "c", "c"], "n": [1, 1, 2, 1]})
    released = pd.DataFrame({"age": [20, 20, 40, None], "c__released": ["a", "a", "c", None]})
    report = gcp(
        original,
        [0, 0, 1, 9],
        ["age", "c"],
        suppressed=[False, False, False, True],
        released=released,
        count_column="n",
    )
    # rows: 5; changed cells: row 2 (age, c) x1, suppressed row (age, c) x1 -> 4 of 10
    assert report.cells_changed_share == pytest.approx(4 / 10)
    assert report.rows_changed_share == pytest.approx(2 / 5)
    assert report.distortion_by_column == {"age": pytest.approx(10 / 4), "c": pytest.approx(2 / 5)}


def test_empty_input() -> None:
    report = gcp(pd.DataFrame({"age": pd.Series([], dtype="int64")}), [], ["age"])
    assert report.gcp == 0.0 and report.rows == 0 and report.classes == 0


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="one entry per row"):
        gcp(pd.DataFrame({"age": [1, 2]}), [0], ["age"])


@pytest.mark.parametrize(
    "hierarchy",
    [
        TREE,
        {leaf: [leaf, *path] for leaf, path in TREE.items()},  # leaf repeated first
        {leaf: path[:-1] for leaf, path in TREE.items()},  # no root
        pd.DataFrame([[leaf, *path] for leaf, path in TREE.items()]),  # ARX CSV shape
    ],
)
def test_hierarchy_forms_are_equivalent(hierarchy: object) -> None:
    assert hierarchy_paths(hierarchy) == {"a": ("X",), "b": ("X",), "c": ("Y",), "d": ("Y",)}


def test_values_outside_the_hierarchy_are_leaves_under_the_root() -> None:
    scale = column_scale(pd.Series(["a", "zzz", "b"], name="c"), QIKind.CATEGORICAL, TREE)
    assert scale.total_leaves == 5  # a, b, c, d, zzz
    lo, hi = np.minimum(scale.codes[:2], scale.codes[1:]), np.maximum(scale.codes[:2], scale.codes[1:])
    assert scale.ncp(lo, hi).tolist() == [1.0, 1.0]


def test_read_arx_hierarchy(tmp_path: object) -> None:
    path = f"{tmp_path}/h.csv"
    with open(path, "w") as handle:
        handle.write("a;X;*\nb;X;*\nc;Y;*\nd;Y;*")
    assert read_arx_hierarchy(path) == TREE
