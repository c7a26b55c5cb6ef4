"""k-anonymity by Mondrian partitioning of a weighted quasi-identifier histogram.

The warehouse never ships whole tables to Python. It computes one ``GROUP BY`` over the quasi-identifier
(QI) columns -- the distinct QI tuples and their row counts -- and this module searches on that weighted
histogram. The result is a small *mapping* (original tuple -> released tuple) that is uploaded and joined
back in SQL (``IS NOT DISTINCT FROM``, so NULLs match), which is why:

* the mapping carries the original QI values unchanged, NULLs included;
* released values are always values taken from the input column (never computed ones such as a mean or
  an interval label), so the output table keeps the input schema (ints stay ints, dates stay dates);
* every check is made on *row counts* (the histogram weights), not on histogram rows.

Algorithm: strict multidimensional Mondrian (LeFevre et al., 2006). Each QI is encoded as integer codes
ordered by value (NULL gets its own code, placed first). Starting from one partition holding everything,
a partition is cut along the dimension with the widest normalized code span (the next widest ones are
tried if it cannot be cut) at the weighted median, under the constraint that both sides keep at least
``k`` rows; a partition that cannot be cut is an equivalence class. Splitting is done level by level with
an explicit work list, and each level is vectorized with numpy over *all* open partitions at once: a
per-partition loop costs several numpy calls per partition, and with ~10^5 partitions that alone takes
tens of seconds, while the level-wise loop needs only ~log2(rows / k) rounds of whole-array operations.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

RELEASED_SUFFIX = "__released"
CLASS_ID_COLUMN = "class_id"


class QIKind(StrEnum):
    """How a quasi-identifier is ordered and how a class representative is chosen for it."""

    NUMERIC = "numeric"
    DATE = "date"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class QIColumn:
    """A quasi-identifier column of the histogram."""

    name: str
    kind: QIKind

    def __post_init__(self) -> None:
        # Accept plain strings (e.g. from YAML settings) but fail early on unknown kinds.
        object.__setattr__(self, "kind", QIKind(self.kind))


# eq=False: the generated __eq__/__hash__ would compare/hash the DataFrame, which raises.
@dataclass(frozen=True, eq=False)
class KAnonResult:
    """Outcome of :func:`k_anonymize`.

    ``mapping`` has one row per histogram row, in histogram order: the original QI columns (same names,
    same values, NULLs included), the released values in ``<name>__released`` and ``class_id`` (int, one id
    per distinct released tuple).
    """

    mapping: pd.DataFrame
    k: int
    k_achieved: int
    classes: int
    rows: int


class KAnonymityError(ValueError):
    """The data cannot be released k-anonymously (never publish under k)."""


def released_column(name: str) -> str:
    """Name of the mapping column that holds the released values of QI ``name``."""
    return f"{name}{RELEASED_SUFFIX}"


def k_anonymize(histogram: pd.DataFrame, qis: Sequence[QIColumn], k: int, count_column: str = "__count") -> KAnonResult:
    """Generalize the QI tuples of ``histogram`` so that every released tuple covers at least ``k`` rows.

    ``histogram`` holds one column per QI plus ``count_column`` (positive row counts), one row per distinct
    QI tuple as produced by ``SELECT qi..., COUNT(*) ... GROUP BY qi...``.

    Raises ``ValueError`` for bad input (k < 1, missing columns, non-positive counts, duplicate tuples) and
    :class:`KAnonymityError` if the histogram holds fewer than ``k`` rows. An empty histogram gives an empty
    mapping (an empty table is trivially safe).
    """
    qis = list(qis)
    k = _check_k(k)
    counts = _validated_counts(histogram, qis, count_column)
    hist = histogram.reset_index(drop=True)
    rows = int(counts.sum())
    if len(hist) == 0:
        return KAnonResult(_empty_mapping(hist, qis), k=k, k_achieved=0, classes=0, rows=0)
    if rows < k:
        raise KAnonymityError(f"cannot make {rows} rows {k}-anonymous: fewer rows than k")

    codes = np.column_stack([_encode(hist[q.name]) for q in qis]) if qis else np.zeros((len(hist), 0), np.int64)
    _check_distinct(codes)
    leaf = _mondrian(codes, counts, k)
    n_leaves = int(leaf.max()) + 1
    reps = [_representatives(codes[:, j], counts, leaf, n_leaves, q.kind) for j, q in enumerate(qis)]

    released_codes = np.column_stack([codes[rep, j] for j, rep in enumerate(reps)]) if qis else None
    class_of_leaf, classes = _distinct_tuples(released_codes, n_leaves)
    class_id = class_of_leaf[leaf]
    sizes = np.zeros(classes, dtype=np.int64)
    np.add.at(sizes, class_id, counts)
    k_achieved = int(sizes.min())
    if k_achieved < k:  # pragma: no cover - would be a bug in the partitioning; fail closed
        raise RuntimeError(f"internal error: produced a class of {k_achieved} rows for k={k}")

    mapping = _build_mapping(hist, qis, [rep[leaf] for rep in reps], class_id)
    return KAnonResult(mapping, k=k, k_achieved=k_achieved, classes=classes, rows=rows)


# --------------------------------------------------------------------------------------------- validation


def _check_k(k: int) -> int:
    """k must be a positive integer; bools and floats are rejected to catch config mistakes."""
    if isinstance(k, bool):
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    try:
        k = operator.index(k)
    except TypeError as exc:
        raise ValueError(f"k must be an integer >= 1, got {k!r}") from exc
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return k


def _validated_counts(histogram: pd.DataFrame, qis: list[QIColumn], count_column: str) -> np.ndarray:
    """Check the columns and return the row counts as int64 (they are the weights of everything)."""
    names = [q.name for q in qis]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate quasi-identifier names: {names}")
    reserved = {CLASS_ID_COLUMN, count_column} | {released_column(n) for n in names}
    clashes = sorted(set(names) & reserved)
    if clashes:
        raise ValueError(f"quasi-identifier names clash with output/count column names: {clashes}")
    missing = [c for c in [*names, count_column] if c not in histogram.columns]
    if missing:
        raise ValueError(f"histogram is missing columns: {missing}")

    raw = histogram[count_column]
    if raw.isna().any():
        raise ValueError(f"histogram column {count_column!r} has NULL counts")
    values = pd.to_numeric(raw).to_numpy()
    if values.dtype.kind == "f" and not np.all(np.isfinite(values) & (values == np.round(values))):
        raise ValueError(f"histogram column {count_column!r} must hold integer counts")
    if values.dtype.kind not in "iuf":
        raise ValueError(f"histogram column {count_column!r} must hold integer counts, got {values.dtype}")
    counts = values.astype(np.int64)
    if (counts < 1).any():
        raise ValueError(f"histogram column {count_column!r} must hold positive counts")
    return counts


def _check_distinct(codes: np.ndarray) -> None:
    """A repeated QI tuple would make the SQL join duplicate rows of the output table."""
    if codes.shape[1] == 0:
        if codes.shape[0] > 1:
            raise ValueError("histogram has duplicate quasi-identifier tuples (expected one GROUP BY row each)")
        return
    order = np.lexsort(codes.T[::-1])
    ordered = codes[order]
    if (ordered[1:] == ordered[:-1]).all(axis=1).any():
        raise ValueError("histogram has duplicate quasi-identifier tuples (expected one GROUP BY row each)")


# ----------------------------------------------------------------------------------------------- encoding


def _encode(column: pd.Series) -> np.ndarray:
    """Integer codes ordered by value: NULL (None/NaN/NaT/NA) is 0, the smallest value 1, and so on.

    Ordering by rank rather than by raw value makes numbers, dates and strings one problem, and the
    normalized span (code range / global code range) comparable across columns.
    """
    codes, _ = pd.factorize(column, sort=True, use_na_sentinel=True)
    return codes.astype(np.int64) + 1


def _run_starts(values: np.ndarray) -> np.ndarray:
    """Start positions of the runs of equal values in a sorted array."""
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, values[1:] != values[:-1]])


def _run_lengths(starts: np.ndarray, size: int) -> np.ndarray:
    """Lengths of the runs that start at ``starts`` in an array of ``size`` elements."""
    return np.diff(np.r_[starts, size])


def _grouped_sort(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Stable order by (group, key) for non-negative int arrays; one argsort is faster than lexsort."""
    if group.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.argsort(group * (int(key.max()) + 1) + key, kind="stable")


def _left_weights(group: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative weight within each group (array sorted by group), plus the groups' starts and lengths."""
    cum = np.cumsum(weights)
    starts = _run_starts(group)
    lengths = _run_lengths(starts, group.size)
    before = cum[starts] - weights[starts]
    return cum - np.repeat(before, lengths), starts, lengths


# ------------------------------------------------------------------------------------------- partitioning


def _mondrian(codes: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """Partition id (0..L-1) of every histogram row; every partition holds >= k rows of weight.

    Works level by level: all open partitions are processed together, and the rows of partitions that can
    no longer be cut drop out of the work list, so late levels are cheap.
    """
    n, d = codes.shape
    leaf = np.zeros(n, dtype=np.int64)
    if d == 0 or n == 0:
        return leaf
    global_range = (codes.max(axis=0) - codes.min(axis=0)).astype(np.float64)
    scale = np.where(global_range > 0, global_range, 1.0)
    next_id = 1
    active = np.arange(n)
    while active.size:
        rows = active[np.argsort(leaf[active], kind="stable")]
        seg_start = _run_starts(leaf[rows])
        seg_of_row = np.repeat(np.arange(seg_start.size), _run_lengths(seg_start, rows.size))
        totals = np.add.reduceat(weights[rows], seg_start)
        block = codes[rows]
        spans = (np.maximum.reduceat(block, seg_start, axis=0) - np.minimum.reduceat(block, seg_start, axis=0)) / scale

        split_dim, split_value = _choose_splits(codes, weights, rows, seg_of_row, spans, totals, k)
        is_split = split_dim >= 0
        keep = is_split[seg_of_row]
        rows, segs = rows[keep], seg_of_row[keep]
        right_id = next_id + np.cumsum(is_split) - 1
        go_right = codes[rows, split_dim[segs]] > split_value[segs]
        leaf[rows[go_right]] = right_id[segs[go_right]]
        next_id += int(is_split.sum())
        active = rows  # both halves of every cut partition stay open
    return leaf


def _choose_splits(
    codes: np.ndarray,
    weights: np.ndarray,
    rows: np.ndarray,
    seg_of_row: np.ndarray,
    spans: np.ndarray,
    totals: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut dimension (-1 if none) and cut code per partition: rows with code <= cut go left.

    Dimensions are tried from the widest normalized span down (stable, so ties go to the QI listed first);
    a partition takes the first dimension that has an allowed cut.
    """
    n_seg, d = spans.shape
    split_dim = np.full(n_seg, -1, dtype=np.int64)
    split_value = np.zeros(n_seg, dtype=np.int64)
    pending = totals >= 2 * k  # both sides need k rows
    dim_rank = np.argsort(-spans, axis=1, kind="stable")
    seg_ids = np.arange(n_seg)
    for r in range(d):
        dims = dim_rank[:, r]
        candidate = pending & (spans[seg_ids, dims] > 0)
        if not candidate.any():
            continue
        sel = candidate[seg_of_row]
        sel_rows, sel_segs = rows[sel], seg_of_row[sel]
        found, value = _median_cuts(codes[sel_rows, dims[sel_segs]], weights[sel_rows], sel_segs, totals, k)
        split_dim[found] = dims[found]
        split_value[found] = value
        pending[found] = False
    return split_dim, split_value


def _median_cuts(
    key: np.ndarray, weights: np.ndarray, seg: np.ndarray, totals: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per partition, the allowed cut closest to the weighted median along one dimension.

    A cut lies between two distinct codes (strict partitioning: equal values never get separated) and is
    allowed if both sides weigh >= k. Among allowed cuts the most balanced one wins, ties going to the
    lower cut. Returns the partitions that have an allowed cut and the code each cut is placed after.
    """
    order = _grouped_sort(seg, key)
    key, weights, seg = key[order], weights[order], seg[order]
    left, _, _ = _left_weights(seg, weights)
    cut = np.flatnonzero((key[:-1] != key[1:]) & (seg[:-1] == seg[1:]))
    cut_seg, cut_left = seg[cut], left[cut]
    cut_total = totals[cut_seg]
    allowed = (cut_left >= k) & (cut_total - cut_left >= k)
    cut, cut_seg = cut[allowed], cut_seg[allowed]
    imbalance = np.abs(2 * cut_left[allowed] - cut_total[allowed])
    best = np.lexsort((imbalance, cut_seg))  # stable: equal imbalance keeps the lower cut first
    first = _run_starts(cut_seg[best])
    chosen = best[first]
    return cut_seg[chosen], key[cut[chosen]]


# ---------------------------------------------------------------------------------------- representatives


def _representatives(
    codes: np.ndarray, weights: np.ndarray, leaf: np.ndarray, n_leaves: int, kind: QIKind
) -> np.ndarray:
    """Histogram row whose value is released for each class (taking a row keeps the column's type).

    NUMERIC/DATE: weighted (lower) median of the class's non-NULL values; CATEGORICAL: weighted most common
    non-NULL value, ties to the smallest. A class with only NULLs keeps one of its own (NULL) rows.
    """
    by_leaf = np.argsort(leaf, kind="stable")
    rep = by_leaf[_run_starts(leaf[by_leaf])]  # first row of each class; partition ids are 0..L-1
    assert rep.size == n_leaves
    non_null = np.flatnonzero(codes > 0)
    if non_null.size == 0:
        return rep
    rows = non_null[_grouped_sort(leaf[non_null], codes[non_null])]
    pick = _weighted_mode if kind is QIKind.CATEGORICAL else _weighted_median
    chosen_leaf, chosen_row = pick(rows, leaf[rows], codes[rows], weights[rows])
    rep[chosen_leaf] = chosen_row
    return rep


def _weighted_median(
    rows: np.ndarray, leaf: np.ndarray, codes: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """First row (by value) of each class at which the cumulative weight reaches half the class weight."""
    left, starts, lengths = _left_weights(leaf, weights)
    total = np.repeat(np.add.reduceat(weights, starts), lengths)
    hit = np.flatnonzero(2 * left >= total)
    first = hit[_run_starts(leaf[hit])]
    return leaf[first], rows[first]


def _weighted_mode(
    rows: np.ndarray, leaf: np.ndarray, codes: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Row of the heaviest value of each class; ties go to the smallest value (smallest code)."""
    run = np.flatnonzero(np.r_[True, (leaf[1:] != leaf[:-1]) | (codes[1:] != codes[:-1])])
    run_weight = np.add.reduceat(weights, run)
    run_leaf, run_code = leaf[run], codes[run]
    best = np.lexsort((run_code, -run_weight, run_leaf))
    first = best[_run_starts(run_leaf[best])]
    return run_leaf[first], rows[run[first]]


def _distinct_tuples(released_codes: np.ndarray | None, n_leaves: int) -> tuple[np.ndarray, int]:
    """Class id per partition: partitions whose released tuples coincide (NULL-aware) are one class."""
    if released_codes is None:
        return np.zeros(n_leaves, dtype=np.int64), 1
    uniques, inverse = np.unique(released_codes, axis=0, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), len(uniques)


# ---------------------------------------------------------------------------------------------- mapping


def _build_mapping(
    hist: pd.DataFrame, qis: list[QIColumn], released_rows: list[np.ndarray], class_id: np.ndarray
) -> pd.DataFrame:
    """Originals, then released values (taken from the same column, so the dtype is kept), then class_id."""
    data: dict[str, pd.Series | np.ndarray] = {q.name: hist[q.name] for q in qis}
    for q, source in zip(qis, released_rows, strict=True):
        data[released_column(q.name)] = hist[q.name].take(source).reset_index(drop=True)
    data[CLASS_ID_COLUMN] = class_id
    return pd.DataFrame(data, index=hist.index)


def _empty_mapping(hist: pd.DataFrame, qis: list[QIColumn]) -> pd.DataFrame:
    """Mapping with the right columns and dtypes but no rows."""
    empty = np.zeros(0, dtype=np.int64)
    return _build_mapping(hist.iloc[:0], qis, [empty for _ in qis], empty)
