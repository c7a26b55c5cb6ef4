"""One scorer for every method of the benchmark: GCP of a partition, and k verified by pyCANON.

Why a single scorer: the peers report their own utility figures with different definitions (some none
at all), so comparing their numbers would compare definitions. Here every output is reduced to the same
thing -- a partition of the original rows into equivalence classes plus the suppressed rows -- and that
partition is scored against the *original* values by the code below.

GCP (Global Certainty Penalty, Ghinita et al. 2007) = mean over rows x QIs of the cell's NCP:

* numeric QI: (class max - class min) / (domain max - domain min), the domain being the original column;
* categorical QI: (leaves under the lowest common ancestor of the class's values in the ARX hierarchy - 1)
  / (total leaves - 1), which is 0 for a class with a single value;
* a suppressed row counts 1 for every QI.

``minimization_pipeline.anonymize.metrics.gcp`` (written by another engineer) is used when it can be
imported and answers; this module's own implementation is the fallback and the reference the smoke test
compares it with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from minimization_pipeline.anonymize.kanon import QIColumn, QIKind

HIERARCHY_FILE = "adult_hierarchy_{column}.csv"


@dataclass(frozen=True)
class GCPReport:
    """GCP as a fraction (0..1) plus its parts, so a surprising total can be explained per column."""

    gcp: float
    per_qi: dict[str, float]
    rows: int
    suppressed_rows: int
    classes: int
    scorer: str = "benchmarks.scoring"
    notes: list[str] = field(default_factory=list)


def load_hierarchies(directory: Path, columns: Sequence[str]) -> dict[str, pd.DataFrame]:
    """ARX hierarchy tables by column: one row per leaf, column 0 the leaf, each next column coarser.

    Kept as plain string DataFrames (the ARX file as is) because that is the most neutral form to hand to
    the project's engines and to ``metrics.gcp``; a column without a file is simply absent.
    """
    hierarchies: dict[str, pd.DataFrame] = {}
    for column in columns:
        path = directory / HIERARCHY_FILE.format(column=column)
        if path.exists():
            frame = pd.read_csv(path, sep=";", header=None, dtype=str, keep_default_na=False)
            frame.columns = list(range(frame.shape[1]))
            hierarchies[column] = frame
    return hierarchies


def _leaf_codes(values: pd.Series, hierarchy: pd.DataFrame, column: str) -> np.ndarray:
    """Index of each value's leaf row in the hierarchy; a value without a leaf is an error (not NCP 0)."""
    leaves = hierarchy[0].astype(str)
    index = pd.Index(leaves)
    if not index.is_unique:
        raise ValueError(f"hierarchy of {column!r} lists a leaf twice")
    codes = index.get_indexer(values.astype(str))
    if (codes < 0).any():
        missing = sorted(set(values.astype(str)[codes < 0]))[:5]
        raise ValueError(f"values of {column!r} missing from its hierarchy: {missing}")
    return codes


def _node_levels(hierarchy: pd.DataFrame) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per level: the node id of every leaf and the number of leaves under each node.

    A node is identified by its whole path to the root (labels of this level and all coarser ones), so a
    label reused under two different parents is still two nodes.
    """
    labels = hierarchy.astype(str).to_numpy()
    node_of_leaf: list[np.ndarray] = []
    leaves_under: list[np.ndarray] = []
    for level in range(labels.shape[1]):
        paths = pd.Series(["\x1f".join(row) for row in labels[:, level:]])
        codes, uniques = pd.factorize(paths)
        node_of_leaf.append(codes.astype(np.int64))
        leaves_under.append(np.bincount(codes, minlength=len(uniques)).astype(np.int64))
    return node_of_leaf, leaves_under


def _class_runs(class_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order of rows by class, the start of each class's run in that order, and the class sizes."""
    order = np.argsort(class_ids, kind="stable")
    sorted_ids = class_ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]]) if sorted_ids.size else np.zeros(0, int)
    sizes = np.diff(np.r_[starts, sorted_ids.size])
    return order, starts, sizes


def _numeric_ncp_sum(
    values: np.ndarray, domain: float, order: np.ndarray, starts: np.ndarray, sizes: np.ndarray
) -> float:
    """Sum over rows of the numeric NCP (every row of a class carries the class's range)."""
    if starts.size == 0 or domain <= 0:
        return 0.0
    ordered = values[order]
    spans = np.maximum.reduceat(ordered, starts) - np.minimum.reduceat(ordered, starts)
    return float((spans / domain * sizes).sum())


def _categorical_ncp_sum(
    leaf: np.ndarray, hierarchy: pd.DataFrame, order: np.ndarray, starts: np.ndarray, sizes: np.ndarray
) -> float:
    """Sum over rows of the hierarchy NCP: leaves under the class's lowest common ancestor."""
    if starts.size == 0:
        return 0.0
    total_leaves = len(hierarchy)
    if total_leaves <= 1:
        return 0.0
    node_of_leaf, leaves_under = _node_levels(hierarchy)
    ordered_leaf = leaf[order]
    under = np.full(starts.size, -1, dtype=np.int64)
    for nodes, counts in zip(node_of_leaf, leaves_under, strict=True):
        node = nodes[ordered_leaf]
        low, high = np.minimum.reduceat(node, starts), np.maximum.reduceat(node, starts)
        settle = (under < 0) & (low == high)
        under[settle] = counts[low[settle]]
    # A hierarchy whose last column is not a single root: classes spanning several roots get the maximum.
    under[under < 0] = total_leaves
    return float(((under - 1) / (total_leaves - 1) * sizes).sum())


def own_gcp(
    original: pd.DataFrame,
    class_ids: np.ndarray,
    qis: Sequence[QIColumn],
    hierarchies: Mapping[str, pd.DataFrame],
    suppressed: np.ndarray,
) -> GCPReport:
    """GCP of the partition ``class_ids`` (one label per row of ``original``) with the definition above.

    ``class_ids`` of suppressed rows are ignored. Numeric QIs are scored by range, categorical ones by
    their hierarchy (a categorical QI without one counts as a flat hierarchy: all distinct values of the
    column are leaves under one root).
    """
    n = len(original)
    class_ids = np.asarray(class_ids)
    suppressed = np.asarray(suppressed, dtype=bool)
    if class_ids.shape != (n,) or suppressed.shape != (n,):
        raise ValueError(f"class_ids and suppressed need one entry per row ({n})")
    if n == 0 or not qis:
        return GCPReport(0.0, {q.name: 0.0 for q in qis}, n, int(suppressed.sum()), 0)
    kept = np.flatnonzero(~suppressed)
    ids = pd.factorize(pd.Series(class_ids[kept]))[0].astype(np.int64)
    order, starts, sizes = _class_runs(ids)
    n_suppressed = int(suppressed.sum())
    per_qi: dict[str, float] = {}
    for q in qis:
        column = original[q.name]
        if q.kind is QIKind.CATEGORICAL:
            hierarchy = hierarchies.get(q.name)
            if hierarchy is None:
                distinct = pd.Series(column.astype(str).unique())
                hierarchy = pd.DataFrame({0: distinct, 1: "*"})
            leaf = _leaf_codes(column, hierarchy, q.name)[kept]
            loss = _categorical_ncp_sum(leaf, hierarchy, order, starts, sizes)
        else:
            numeric = pd.to_numeric(column) if q.kind is QIKind.NUMERIC else pd.to_datetime(column).astype("int64")
            values = numeric.to_numpy(dtype=np.float64)
            domain = float(np.nanmax(values) - np.nanmin(values)) if n else 0.0
            loss = _numeric_ncp_sum(values[kept], domain, order, starts, sizes)
        per_qi[q.name] = (loss + n_suppressed) / n
    gcp = sum(per_qi.values()) / len(per_qi)
    return GCPReport(gcp, per_qi, n, n_suppressed, int(starts.size))


def project_gcp(
    original: pd.DataFrame,
    class_ids: np.ndarray,
    qis: Sequence[QIColumn],
    hierarchies: Mapping[str, pd.DataFrame],
    suppressed: np.ndarray,
) -> GCPReport | None:
    """GCP from ``minimization_pipeline.anonymize.metrics.gcp`` if that module exists and answers, else None.

    Its signature is only known roughly, so anything it raises means "not usable" (the caller falls back to
    :func:`own_gcp` and says so), never a wrong number silently taken.
    """
    try:
        from minimization_pipeline.anonymize import metrics  # type: ignore[attr-defined]
    except ImportError:
        return None
    function = getattr(metrics, "gcp", None)
    if function is None:
        return None
    try:
        report = function(original, class_ids, list(qis), dict(hierarchies), suppressed)
    except Exception:
        return None
    value = getattr(report, "gcp", report)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value):
        return None
    # Accept a percentage as well as a fraction (the other module's convention is not known yet).
    if value > 1.0 + 1e-9:
        value /= 100.0
    return GCPReport(
        value,
        dict(getattr(report, "ncp_by_column", None) or getattr(report, "per_qi", None) or {}),
        len(original),
        int(np.asarray(suppressed, dtype=bool).sum()),
        int(pd.Series(np.asarray(class_ids)[~np.asarray(suppressed, dtype=bool)]).nunique()),
        scorer="minimization_pipeline.anonymize.metrics.gcp",
    )


def gcp(
    original: pd.DataFrame,
    class_ids: np.ndarray,
    qis: Sequence[QIColumn],
    hierarchies: Mapping[str, pd.DataFrame],
    suppressed: np.ndarray,
) -> GCPReport:
    """The benchmark's scorer: the project's ``metrics.gcp`` when usable, else :func:`own_gcp`.

    Both are computed when the project's exists; a disagreement is recorded in the report's notes (the
    definitions are meant to be identical, so a difference points at a bug in one of them).
    """
    own = own_gcp(original, class_ids, qis, hierarchies, suppressed)
    theirs = project_gcp(original, class_ids, qis, hierarchies, suppressed)
    if theirs is None:
        return own
    if abs(theirs.gcp - own.gcp) > 1e-6:
        theirs.notes.append(f"metrics.gcp={theirs.gcp:.6f} differs from benchmarks.scoring={own.gcp:.6f}")
    return theirs


def classes_from_release(released: pd.DataFrame, columns: Sequence[str], suppressed: np.ndarray) -> np.ndarray:
    """Class label per row: rows whose released QI tuples are identical form one class (-1 if suppressed).

    This is what an attacker sees, so it is the partition scored for every method, whatever its own labels.
    """
    keep = ~np.asarray(suppressed, dtype=bool)
    labels = np.full(len(released), -1, dtype=np.int64)
    if keep.any():
        frame = released.loc[keep, list(columns)].astype(str)
        labels[keep] = frame.groupby(list(columns), sort=False, dropna=False).ngroup().to_numpy()
    return labels


def pycanon_k(released: pd.DataFrame, columns: Sequence[str], suppressed: np.ndarray) -> int | None:
    """k of the released QI columns of the non-suppressed rows, as computed by pyCANON (None if none left).

    Values are compared as strings so that every method's release (ranges, sets, labels) is treated alike.
    """
    from pycanon import anonymity

    keep = ~np.asarray(suppressed, dtype=bool)
    if not keep.any():
        return None
    frame = released.loc[keep, list(columns)].astype(str).reset_index(drop=True)
    return int(anonymity.k_anonymity(frame, list(columns)))
