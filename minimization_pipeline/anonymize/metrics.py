"""Information loss of a k-anonymous release, measured on rows or on a weighted QI histogram.

One definition is shared by the pipeline (which reports it as metadata), the search in
:mod:`microaggregate` (which minimizes it) and the benchmark (which scores peers with it), so that a number
quoted anywhere means the same thing.

**NCP / GCP** (Ghinita et al. 2007; Xu et al. 2006). The normalized certainty penalty of one cell says how
much of a column's domain an attacker must consider once he knows the record's equivalence class:

* numbers and dates: ``(max - min of the class's original values) / (max - min of the column)``;
* categories with a hierarchy: ``(leaves under the lowest common ancestor of the class's values - 1) /
  (total leaves - 1)``; values missing from the hierarchy are extra leaves under the root;
* categories without a hierarchy: a flat hierarchy (every value a child of the root), so 0 for a single
  value and 1 otherwise -- the usual convention, and the strictest one;
* a NULL is a value of its own: a class that mixes NULL and non-NULL values has NCP 1 in that column
  (a NULL has no place in a range or hierarchy, so mixing it in says nothing about the value);
* a suppressed row has NCP 1 in every column.

GCP is the row-weighted mean of the NCP over all rows and QIs. Every function takes a weight per row, so a
histogram (one row per distinct tuple, with a count) gives the same figure as the expanded rows.

The per-column :class:`ColumnScale` (integer codes ordered so that a class's NCP depends only on its smallest
and largest code) is also what the search works on: numbers are ordered by value, hierarchical categories in
depth-first order of their hierarchy, where the lowest common ancestor of a set of leaves is the one of its
first and last leaf.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from minimization_pipeline.anonymize.kanon import QIColumn, QIKind

#: NCP lookups are precomputed as a (codes x codes) table up to this many codes per column (8 MB of float32).
_TABLE_LIMIT = 1024


@runtime_checkable
class HierarchyLike(Protocol):
    """A generalization hierarchy: leaf value -> its ancestors' labels, finest level first (root last).

    A plain ``dict[str, list[str]]`` satisfies it (``{"Bachelors": ["Undergraduate", "Higher education",
    "*"]}``). A path may start with the leaf itself and may or may not end with the root; both are accepted.
    """

    def __getitem__(self, key: Any, /) -> Sequence[str]: ...

    def __iter__(self) -> Any: ...

    def __len__(self) -> int: ...


def hierarchy_paths(hierarchy: object) -> dict[str, tuple[str, ...]]:
    """Normalize a hierarchy to ``{leaf: (ancestor labels, finest first, root excluded)}``, in leaf order.

    Accepts a mapping (see :class:`HierarchyLike`), a DataFrame shaped like an ARX hierarchy CSV (first column
    the leaf, then one column per level), or an object with a ``to_mapping()`` / ``as_mapping()`` method.
    """
    if isinstance(hierarchy, pd.DataFrame):
        rows = hierarchy.astype(str).to_numpy().tolist()  # plain lists: ~3x faster than itertuples
        hierarchy = {row[0]: row[1:] for row in rows}
    for method in ("to_mapping", "as_mapping"):
        if not isinstance(hierarchy, Mapping) and callable(getattr(hierarchy, method, None)):
            hierarchy = getattr(hierarchy, method)()
    if not isinstance(hierarchy, Mapping):
        raise TypeError(f"unsupported hierarchy type {type(hierarchy).__name__}: expected a leaf -> ancestors mapping")
    paths: dict[str, tuple[str, ...]] = {}
    for leaf, ancestors in hierarchy.items():
        labels = [str(label) for label in ([ancestors] if isinstance(ancestors, str) else ancestors)]
        if labels and labels[0] == str(leaf):
            labels = labels[1:]
        paths[str(leaf)] = tuple(labels)
    roots = {path[-1] for path in paths.values() if path}
    if len(roots) == 1 and all(paths.values()):  # a shared top label is the root itself
        paths = {leaf: path[:-1] for leaf, path in paths.items()}
    return paths


def read_arx_hierarchy(path: str) -> dict[str, list[str]]:
    """An ARX hierarchy CSV (``;``-separated, no header, leaf first, root last) as a leaf -> ancestors dict."""
    frame = pd.read_csv(path, sep=";", header=None, dtype=str, keep_default_na=False)
    return {row[0]: list(row[1:]) for row in frame.itertuples(index=False, name=None)}


# ------------------------------------------------------------------------------------------ column scales


@dataclass(frozen=True, eq=False)
class ColumnScale:
    """Codes of one QI column and the NCP of a class from its smallest and largest code.

    ``codes[i]`` is the code of row ``i``; code 0 is NULL (reserved even when there are none), codes are
    ordered by value (numbers, dates, categories without hierarchy) or depth-first along the hierarchy.
    """

    name: str
    kind: QIKind
    codes: np.ndarray
    n_codes: int
    values: np.ndarray | None = None  # numeric value per code (NaN for code 0): NUMERIC / DATE
    span: float = 0.0  # max - min of the column's non-NULL values
    table: np.ndarray | None = None  # flattened (n_codes x n_codes) NCP table: hierarchies
    levels: np.ndarray | None = None  # node id per (level, code): large hierarchies
    leaves_under: np.ndarray | None = None  # leaves under the node, per (level, code): large hierarchies
    total_leaves: int = 0

    def ncp(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """NCP (float64) of classes whose smallest code is ``lo`` and largest ``hi`` (arrays, ``lo <= hi``)."""
        if self.values is not None:
            width = (self.values[hi] - self.values[np.maximum(lo, 1)]) / self.span if self.span > 0 else 0.0
            return np.where(lo == 0, (hi > 0).astype(np.float64), width)
        if self.table is not None:
            return self.table[lo * self.n_codes + hi].astype(np.float64)
        if self.levels is not None:
            return _lca_ncp(self.levels, self.leaves_under, self.total_leaves, lo, hi)
        return (lo != hi).astype(np.float64)


def column_scale(column: pd.Series, kind: QIKind | str, hierarchy: object | None = None) -> ColumnScale:
    """Encode one QI column (see :class:`ColumnScale`); a hierarchy is used for categorical columns only."""
    kind = QIKind(kind)
    name = str(column.name)
    if kind is not QIKind.CATEGORICAL:
        codes, uniques = pd.factorize(column, sort=True, use_na_sentinel=True)
        values = np.r_[np.nan, _as_float(pd.Index(uniques), kind)]
        finite = values[1:]
        span = float(finite.max() - finite.min()) if finite.size else 0.0
        return ColumnScale(name, kind, codes.astype(np.int64) + 1, len(values), values=values, span=span)
    if hierarchy is None:
        # No hierarchy: values in sorted order, a class losing the share of the domain's distinct values it
        # spans. Sorted text keeps shared prefixes together (zip 02139 next to 02140), and a class of one
        # value loses nothing; a flat 0/1 loss would let any mixed class cost the same as the whole table.
        codes, uniques = pd.factorize(column, sort=True, use_na_sentinel=True)
        values = np.r_[np.nan, np.arange(len(uniques), dtype=np.float64)]
        span = float(max(len(uniques) - 1, 0))
        return ColumnScale(name, kind, codes.astype(np.int64) + 1, len(uniques) + 1, values=values, span=span)
    return _hierarchy_scale(column, kind, hierarchy_paths(hierarchy))


def _as_float(uniques: pd.Index, kind: QIKind) -> np.ndarray:
    """Numbers as float64, dates as float64 nanoseconds (only differences matter)."""
    if kind is QIKind.DATE or pd.api.types.is_datetime64_any_dtype(uniques.dtype):
        return pd.to_datetime(pd.Series(uniques)).to_numpy("datetime64[ns]").astype(np.int64).astype(np.float64)
    return np.asarray([float(v) for v in uniques], dtype=np.float64)


def _hierarchy_scale(column: pd.Series, kind: QIKind, paths: dict[str, tuple[str, ...]]) -> ColumnScale:
    """Codes in depth-first leaf order; observed values outside the hierarchy become leaves under the root."""
    depth = max((len(p) for p in paths.values()), default=0)
    # pad at the bottom so that paths are aligned at the root; a padded level is a node with one leaf
    padded = {leaf: (leaf,) * (depth - len(p)) + p for leaf, p in paths.items()}
    order = _dfs_order(padded, depth)
    raw_codes, uniques = pd.factorize(column, use_na_sentinel=True)
    labels = [str(v) for v in uniques]
    extras = sorted(set(labels) - set(paths))
    leaves = [*order, *extras]
    code_of = {leaf: i + 1 for i, leaf in enumerate(leaves)}
    unique_codes = np.array([code_of[label] for label in labels] + [0], dtype=np.int64)
    codes = unique_codes[raw_codes]  # the NA sentinel -1 picks the trailing 0
    n_codes = len(leaves) + 1
    has_null = bool((codes == 0).any())

    # node keys per level: level 0 is the leaf, level l the path from the root down to that level
    levels = np.zeros((depth + 2, n_codes), dtype=np.int64)
    keys: dict[tuple, int] = {}
    for c, leaf in enumerate([None, *leaves]):
        path = padded.get(leaf, (leaf,) * depth) if leaf is not None else ("\x00null",) * depth
        chain = [("leaf", leaf), *[("node", *path[lvl:]) for lvl in range(depth)], ("root",)]
        for lvl, key in enumerate(chain):
            levels[lvl, c] = keys.setdefault(key, len(keys))
    weight = np.ones(n_codes, dtype=np.int64)
    weight[0] = int(has_null)  # an unobserved NULL is no leaf of the domain
    leaves_under = np.zeros_like(levels)
    for lvl in range(levels.shape[0]):
        sizes = np.bincount(levels[lvl], weights=weight, minlength=len(keys))
        leaves_under[lvl] = sizes[levels[lvl]]
    total = int(weight.sum())
    scale = dict(levels=levels, leaves_under=leaves_under, total_leaves=total)
    if n_codes <= _TABLE_LIMIT:
        lo, hi = np.divmod(np.arange(n_codes * n_codes), n_codes)
        table = _lca_ncp(levels, leaves_under, total, lo, hi).astype(np.float32)
        return ColumnScale(str(column.name), kind, codes, n_codes, table=table, total_leaves=total)
    return ColumnScale(str(column.name), kind, codes, n_codes, **scale)


def _dfs_order(padded: dict[str, tuple[str, ...]], depth: int) -> list[str]:
    """Leaves sorted so that every subtree is contiguous; siblings keep their first-appearance order."""
    first_seen: dict[tuple, int] = {}
    sort_keys = {}
    for i, (leaf, path) in enumerate(padded.items()):
        key = []
        for lvl in range(depth - 1, -1, -1):
            key.append(first_seen.setdefault(path[lvl:], len(first_seen)))
        sort_keys[leaf] = (*key, i)
    return sorted(padded, key=sort_keys.__getitem__)


def _lca_ncp(levels: np.ndarray, leaves_under: np.ndarray, total: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """NCP of the lowest common ancestor of codes ``lo`` and ``hi``: its leaves - 1 over all leaves - 1."""
    count = np.zeros(np.shape(lo), dtype=np.float64)
    open_ = np.ones(np.shape(lo), dtype=bool)
    for lvl in range(levels.shape[0]):
        meet = open_ & (levels[lvl][lo] == levels[lvl][hi])
        count[meet] = leaves_under[lvl][lo[meet]]
        open_ &= ~meet
    count[open_] = total
    return (count - 1) / (total - 1) if total > 1 else np.zeros_like(count)


# ------------------------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class GcpReport:
    """Information loss of a release. Shares are in [0, 1]; ``None`` where released values were not given."""

    gcp: float
    ncp_by_column: dict[str, float]
    classes: int
    average_class_size: float
    min_class_size: int
    rows: int
    rows_suppressed: int
    cells_changed_share: float | None = None
    rows_changed_share: float | None = None
    distortion_by_column: dict[str, float] | None = None

    def as_metadata(self) -> dict[str, object]:
        """Rounded plain values, e.g. for Dagster metadata."""
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, float):
                value = round(value, 6)
            elif isinstance(value, dict):
                value = {k: round(v, 6) for k, v in value.items()}
            out[key] = value
        return out


def gcp(
    original: pd.DataFrame,
    class_ids: Sequence[int] | np.ndarray | pd.Series,
    qis: Sequence[QIColumn | str],
    hierarchies: Mapping[str, object] | None = None,
    suppressed: Sequence[bool] | np.ndarray | pd.Series | None = None,
    released: pd.DataFrame | None = None,
    count_column: str | None = None,
) -> GcpReport:
    """GCP and friends of a release.

    ``original`` holds one row per record, or one per distinct piece with a weight in ``count_column``.
    ``class_ids[i]`` is the equivalence class of row ``i`` (ignored where ``suppressed``). ``qis`` are
    :class:`QIColumn` or names (kind then inferred from the dtype). ``released`` (optional, aligned with
    ``original``; columns ``<name>__released``, else named like the QIs, so the frame of
    :func:`microaggregate.released_pieces` can be passed as both) enables the changed-cell shares and the
    per-column distortion (mean absolute change for numbers and dates -- dates in days --, share changed for
    categories; suppressed rows count as changed and are left out of the mean absolute change).
    """
    columns = [_as_qi(original, q) for q in qis]
    hierarchies = dict(hierarchies or {})
    n = len(original)
    weights = _weights(original, count_column)
    rows = int(weights.sum())
    supp = np.zeros(n, dtype=bool) if suppressed is None else np.asarray(suppressed, dtype=bool)
    classes_raw = np.asarray(class_ids)
    if supp.shape != (n,) or classes_raw.shape != (n,):
        raise ValueError("class_ids and suppressed must have one entry per row of original")
    if rows == 0:
        empty = {q.name: 0.0 for q in columns}
        return GcpReport(0.0, empty, 0, 0.0, 0, 0, 0)

    kept = ~supp
    cls = np.zeros(n, dtype=np.int64)
    if kept.any():
        cls[kept] = pd.factorize(pd.Series(classes_raw[kept]), sort=True)[0]
    n_classes = int(cls[kept].max()) + 1 if kept.any() else 0
    sizes = np.bincount(cls[kept], weights=weights[kept], minlength=n_classes)
    rows_suppressed = int(weights[supp].sum())

    ncp_by_column: dict[str, float] = {}
    for q in columns:
        scale = column_scale(
            original[q.name], q.kind, hierarchies.get(q.name) if q.kind is QIKind.CATEGORICAL else None
        )
        lo, hi = class_extremes(scale.codes[kept], cls[kept], n_classes)
        loss = float((scale.ncp(lo, hi) * sizes).sum()) + rows_suppressed
        ncp_by_column[q.name] = loss / rows
    report = GcpReport(
        gcp=float(np.mean(list(ncp_by_column.values()))) if columns else 0.0,
        ncp_by_column=ncp_by_column,
        classes=n_classes,
        average_class_size=float(sizes.mean()) if n_classes else 0.0,
        min_class_size=int(sizes.min()) if n_classes else 0,
        rows=rows,
        rows_suppressed=rows_suppressed,
    )
    if released is None:
        return report
    return _with_changes(report, original, released, columns, weights, supp)


def class_extremes(codes: np.ndarray, cls: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest code per class (classes numbered 0..n_classes-1, all non-empty)."""
    lo = np.full(n_classes, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(n_classes, -1, dtype=np.int64)
    np.minimum.at(lo, cls, codes)
    np.maximum.at(hi, cls, codes)
    return lo, hi


def _as_qi(frame: pd.DataFrame, qi: QIColumn | str) -> QIColumn:
    """Names become QIColumns by dtype: numbers NUMERIC, datetimes DATE, the rest CATEGORICAL."""
    if isinstance(qi, QIColumn):
        return qi
    dtype = frame[qi].dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return QIColumn(qi, QIKind.DATE)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return QIColumn(qi, QIKind.NUMERIC)
    return QIColumn(qi, QIKind.CATEGORICAL)


def _weights(frame: pd.DataFrame, count_column: str | None) -> np.ndarray:
    if count_column is None:
        return np.ones(len(frame), dtype=np.int64)
    weights = pd.to_numeric(frame[count_column]).to_numpy().astype(np.int64)
    if (weights < 0).any():
        raise ValueError(f"column {count_column!r} must hold non-negative counts")
    return weights


def _with_changes(
    report: GcpReport,
    original: pd.DataFrame,
    released: pd.DataFrame,
    columns: list[QIColumn],
    weights: np.ndarray,
    supp: np.ndarray,
) -> GcpReport:
    """Add the shares of changed cells and rows, and the per-column distortion."""
    if len(released) != len(original):
        raise ValueError("released must have one row per row of original")
    any_changed = np.zeros(len(original), dtype=bool)
    cells = 0.0
    distortion: dict[str, float] = {}
    rows = weights.sum()
    for q in columns:
        name = f"{q.name}__released" if f"{q.name}__released" in released.columns else q.name
        before = original[q.name].reset_index(drop=True)
        after = released[name].reset_index(drop=True)
        changed = _changed(before, after) | supp
        any_changed |= changed
        cells += float(weights[changed].sum())
        if q.kind is QIKind.CATEGORICAL:
            distortion[q.name] = float(weights[changed].sum() / rows)
        else:
            distortion[q.name] = _mean_abs_change(before, after, weights, ~supp, q.kind)
    return GcpReport(
        **{
            **report.__dict__,
            "cells_changed_share": float(cells / (rows * len(columns))) if columns else 0.0,
            "rows_changed_share": float(weights[any_changed].sum() / rows),
            "distortion_by_column": distortion,
        }
    )


def _changed(before: pd.Series, after: pd.Series) -> np.ndarray:
    """Released value differs from the original; NULL equals NULL."""
    b_null, a_null = before.isna().to_numpy(), after.isna().to_numpy()
    equal = np.zeros(len(before), dtype=bool)
    both = ~b_null & ~a_null
    if both.any():
        equal[both] = (before[both].to_numpy() == after[both].to_numpy()).astype(bool)
    return ~(equal | (b_null & a_null))


def _mean_abs_change(before: pd.Series, after: pd.Series, weights: np.ndarray, kept: np.ndarray, kind: QIKind) -> float:
    """Weighted mean |released - original| over kept rows where both are non-NULL (dates in days)."""
    mask = kept & before.notna().to_numpy() & after.notna().to_numpy()
    if not mask.any():
        return 0.0
    if kind is QIKind.DATE or pd.api.types.is_datetime64_any_dtype(before.dtype):
        b = pd.to_datetime(before[mask]).to_numpy("datetime64[ns]").astype(np.int64) / 86_400e9
        a = pd.to_datetime(after[mask]).to_numpy("datetime64[ns]").astype(np.int64) / 86_400e9
    else:
        b = np.asarray([float(v) for v in before[mask]])
        a = np.asarray([float(v) for v in after[mask]])
    return float(np.average(np.abs(a - b), weights=weights[mask])) if weights[mask].sum() else 0.0
