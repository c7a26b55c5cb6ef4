"""Optimal full-domain generalization of a weighted quasi-identifier histogram, compatible with ARX.

Like :mod:`.kanon`, this works on the warehouse's histogram (distinct QI tuples + row counts) and returns
a small mapping (original tuple -> released tuple) that goes back to SQL. Unlike Mondrian, it releases
*labels of a user-given hierarchy* (:mod:`.hierarchy`): every value of a column is generalized to the same
level ("full-domain"), so ``39`` becomes ``30-39`` in every row, and records that still sit in classes
smaller than ``k`` are suppressed, up to a share of the rows.

What is matched from ARX (the ARX Data Anonymization Tool, read in its sources, not copied):

* **Search space.** One level per QI; the lattice of level vectors, ordered component-wise. Because the
  hierarchies are trees, a class at a coarser node is a union of classes at a finer one, so a record that
  is an outlier (class < k) at the coarser node is one at the finer node too: "k-anonymous with at most
  ``floor(max_suppression * rows)`` suppressed records" is monotone, and we prune whole down-sets
  (non-anonymous) and up-sets (anonymous) of the lattice with one slice assignment each.
* **Suppression limit.** ARX turns the relative limit into ``floor(limit * rows)`` records and accepts a
  node when its outliers are at most that many.
* **Metric** ``Metric.createPrecomputedEntropyMetric(threshold, monotonic=True)``: the *monotonic*
  non-uniform entropy. Its ``threshold`` (0.1 in ARX's tests) only decides whether ARX precomputes the
  per-level tables -- both paths give the same number -- and its generalization/suppression factor
  defaults to 0.5, which weights generalization by 1. Per column, the loss of generalizing to level ``l``
  is ``-sum_v a_v * log2(a_v / b_l(v))`` over the original values ``v`` of the *input*, with ``a_v`` the
  rows holding ``v`` and ``b_l(v)`` the rows whose value shares ``v``'s label at level ``l``; ARX floors
  each column's value to 10 decimals and sums the columns (all attribute weights equal). The monotonic
  variant ignores suppression entirely (suppressed records are still counted under their generalized
  labels), which is why the optimum is simply the anonymous node of least generalization entropy.
* ``Metric.ENTROPY_NM`` is ARX's non-monotonic variant (``createPrecomputedEntropyMetric(threshold,
  false)``): it adds, per column, the entropy of the suppressed records' generalized values, so the
  exact loss needs the node's classes and the generalization-only part is just a lower bound.
  ``Metric.GCP`` (not an ARX test case) is the global certainty penalty: the mean NCP of all released
  cells, ``(leaves under the label - 1) / (leaves - 1)``, a suppressed cell costing 1.

Both entropy variants reproduce ARX's test suite on Adult to the last printed digit (the level vectors
too): see ``minimization_pipeline_tests/unit/test_generalize.py``.

Search: every node's *lower bound* (the generalization-only loss; for the monotonic entropy, the exact
loss) is computed for the whole lattice at once by broadcasting per-column tables. Nodes are visited in
increasing bound until the bound reaches the best loss found, so for the monotonic entropy the first
anonymous node visited is the optimum. A non-anonymous node is first climbed to a maximal non-anonymous
generalization so that one slice marks a large down-set. Anonymity is checked by grouping int64 keys
(a mixed radix over per-level label codes); a node's classes are rolled up from the cached classes of a
finer node, and with a node-independent radix only the QIs whose level changed touch the keys. Ties
(equal loss) go to the node with the fewest generalization steps, then to the smallest level vector.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from minimization_pipeline.anonymize.hierarchy import NULL_LEAF, Hierarchy
from minimization_pipeline.anonymize.kanon import KAnonymityError, released_column

SUPPRESSED_COLUMN = "suppressed"
CLASS_ID_COLUMN = "class_id"
#: What a suppressed record releases in every QI (ARX prints ``*`` for suppressed cells too).
SUPPRESSED_LABEL = "*"
#: Refuse lattices beyond this many nodes (the bound table alone would take too much memory).
MAX_LATTICE_NODES = 5_000_000
_KEY_LIMIT = 1 << 62
_UNKNOWN, _ANONYMOUS, _NOT_ANONYMOUS = 0, 1, -1


class Metric(StrEnum):
    """Information loss to minimize (see the module docstring)."""

    ENTROPY = "entropy"
    ENTROPY_NM = "entropy_nm"
    GCP = "gcp"


class GeneralizeError(KAnonymityError):
    """No node of the lattice is k-anonymous within the suppression limit (nothing may be published)."""


# eq=False: the generated __eq__/__hash__ would compare/hash the DataFrame, which raises.
@dataclass(frozen=True, eq=False)
class GeneralizeResult:
    """Outcome of :func:`generalize`.

    ``levels`` maps each QI (in the order of the ``hierarchies`` argument) to its generalization level.
    ``mapping`` has one row per histogram row, in histogram order: the original QI columns (unchanged),
    the released labels in ``<name>__released`` (strings; ``*`` for suppressed rows; a ``NULL`` label is
    released as a real NULL), ``suppressed``
    (bool) and ``class_id`` (int, one id per released class, -1 for suppressed rows). ``loss`` is the
    value of ``metric`` at the optimum; ``gcp`` is the global certainty penalty of the same release
    (always reported, whatever the metric, as a comparable utility figure).
    """

    levels: dict[str, int]
    mapping: pd.DataFrame
    metric: Metric
    loss: float
    gcp: float
    k: int
    k_achieved: int
    classes: int
    rows: int
    rows_suppressed: int
    max_suppression: float
    lattice_size: int
    nodes_checked: int

    @property
    def level_vector(self) -> tuple[int, ...]:
        """The optimal levels as a tuple, in QI order (what ARX calls the transformation)."""
        return tuple(self.levels.values())

    @property
    def suppressed_share(self) -> float:
        """Share of rows suppressed."""
        return self.rows_suppressed / self.rows if self.rows else 0.0


def generalize(
    histogram: pd.DataFrame,
    hierarchies: Mapping[str, Hierarchy],
    k: int,
    max_suppression: float,
    count_column: str = "__count",
    metric: Metric | str = Metric.ENTROPY,
) -> GeneralizeResult:
    """Optimal full-domain generalization with record suppression, as ARX computes it.

    ``hierarchies`` maps each QI column of ``histogram`` to its hierarchy; its order is the order of the
    level vector. ``max_suppression`` is the share of *rows* (not histogram rows) that may be suppressed.
    Raises :class:`GeneralizeError` when even the most general node is not k-anonymous within the limit.
    """
    k = _check_k(k)
    max_suppression = _check_share(max_suppression)
    metric = Metric(metric)
    names = list(hierarchies)
    counts = _validated_counts(histogram, names, count_column)
    encoded = _encode(histogram, hierarchies, counts)
    limit = math.floor(max_suppression * encoded.total)
    lattice = _Lattice(encoded, k, limit)
    if not lattice.is_anonymous(lattice.top):
        raise GeneralizeError(_infeasible(encoded.total, k, max_suppression, limit))
    node, loss = _search(lattice, _Scorer(encoded, metric, k))
    return _result(histogram, encoded, lattice, node, loss, metric, max_suppression)


# ---------------------------------------------------------------------------------------------- validation


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return int(k)


def _check_share(share: float) -> float:
    value = float(share)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"max_suppression must be a share in [0, 1], got {share!r}")
    return value


def _validated_counts(histogram: pd.DataFrame, names: list[str], count_column: str) -> np.ndarray:
    """Row counts as int64, after checking that the QI and count columns exist and counts are positive."""
    if not names:
        raise ValueError("at least one quasi-identifier (hierarchy) is required")
    outputs = {released_column(name) for name in names} | {SUPPRESSED_COLUMN, CLASS_ID_COLUMN, count_column}
    clashes = sorted(outputs & set(names))
    if clashes:
        raise ValueError(f"quasi-identifier names clash with output column names: {clashes}")
    missing = [name for name in [*names, count_column] if name not in histogram.columns]
    if missing:
        raise ValueError(f"histogram is missing columns: {missing}")
    values = histogram[count_column]
    if values.isna().any():
        raise ValueError(f"histogram column {count_column!r} has NULL counts")
    if not pd.api.types.is_integer_dtype(values.dtype):
        raise ValueError(f"histogram column {count_column!r} must hold integer counts, got {values.dtype}")
    counts = values.to_numpy(dtype=np.int64)
    if (counts <= 0).any():
        raise ValueError(f"histogram column {count_column!r} must hold positive counts")
    return counts


def _infeasible(rows: int, k: int, max_suppression: float, limit: int) -> str:
    if rows < k:
        return f"cannot make {rows} rows {k}-anonymous: fewer rows than k (allow 100 % suppression to suppress all)"
    return (
        f"no generalization is {k}-anonymous with at most {max_suppression:.2%} suppression ({limit} of {rows} "
        "rows), not even the most general one"
    )


# ---------------------------------------------------------------------------------------------- encoding


@dataclass(frozen=True, eq=False)
class _Encoded:
    """The histogram as integer codes, per QI and level.

    ``codes[j][l]`` is the hierarchy's code of each histogram row's label (to print labels and look up
    NCPs); ``dense[j][l]`` renumbers the labels present in the data ``0..cards[j][l]-1`` (to build
    grouping keys). When the product of the level-0 cardinalities fits in int64, ``multipliers`` is a
    fixed mixed radix under which a row's key at any node is ``sum_j dense[j][l_j] * multipliers[j]``
    (labels of coarser levels are never more than the leaves), and ``base_keys`` is that key at the
    bottom node; otherwise both are ``None`` and keys are built node by node.
    """

    names: tuple[str, ...]
    hierarchies: tuple[Hierarchy, ...]
    leaves: tuple[np.ndarray, ...]
    codes: tuple[tuple[np.ndarray, ...], ...]
    dense: tuple[tuple[np.ndarray, ...], ...]
    cards: tuple[tuple[int, ...], ...]
    counts: np.ndarray
    total: int
    multipliers: tuple[int, ...] | None
    base_keys: np.ndarray | None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(hierarchy.height for hierarchy in self.hierarchies)


def _encode(histogram: pd.DataFrame, hierarchies: Mapping[str, Hierarchy], counts: np.ndarray) -> _Encoded:
    """Look every value up once in its hierarchy (errors name the column and value) and encode each level."""
    names = tuple(hierarchies)
    ordered = tuple(hierarchies[name] for name in names)
    leaves = tuple(h.leaf_index(histogram[name]) for name, h in zip(names, ordered, strict=True))
    codes = tuple(
        tuple(h.codes(level)[leaf] for level in range(h.height)) for h, leaf in zip(ordered, leaves, strict=True)
    )
    dense = tuple(tuple(pd.factorize(level_codes)[0].astype(np.int64) for level_codes in column) for column in codes)
    cards = tuple(tuple(int(level.max()) + 1 if level.size else 1 for level in column) for column in dense)
    multipliers, base_keys = _fixed_radix(dense, cards)
    return _Encoded(names, ordered, leaves, codes, dense, cards, counts, int(counts.sum()), multipliers, base_keys)


def _fixed_radix(
    dense: tuple[tuple[np.ndarray, ...], ...], cards: tuple[tuple[int, ...], ...]
) -> tuple[tuple[int, ...] | None, np.ndarray | None]:
    """Multipliers of a node-independent mixed radix over the level-0 cardinalities, if it fits in int64."""
    multipliers = []
    radix = 1
    for column_cards in cards:
        multipliers.append(radix)
        radix *= column_cards[0]
    if radix >= _KEY_LIMIT:
        return None, None
    keys = np.zeros(len(dense[0][0]), dtype=np.int64)
    for column, multiplier in enumerate(multipliers):
        keys += dense[column][0] * multiplier
    return tuple(multipliers), keys


def _node_keys(encoded: _Encoded, node: tuple[int, ...], rows: np.ndarray | None) -> np.ndarray:
    """One int64 per input row identifying its class at ``node``, built from scratch.

    A mixed-radix number over the node's label cardinalities; when it would overflow int64 it is first
    compacted to dense codes, so any number of QIs works. ``rows`` selects histogram rows (the
    representatives of a finer node's classes), ``None`` means all of them.
    """
    key = np.zeros(len(encoded.counts) if rows is None else len(rows), dtype=np.int64)
    radix = 1
    for column, level in enumerate(node):
        card = encoded.cards[column][level]
        if card == 1:
            continue
        if radix * card >= _KEY_LIMIT:
            key, uniques = pd.factorize(key)
            key, radix = key.astype(np.int64), len(uniques)
        codes = encoded.dense[column][level]
        key = key * card + (codes if rows is None else codes[rows])
        radix *= card
    return key


def _group(encoded: _Encoded, node: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Equivalence classes of a node: class index of each histogram row and class sizes (in records)."""
    inverse, uniques = pd.factorize(_node_keys(encoded, node, None))
    return inverse, np.bincount(inverse, weights=encoded.counts, minlength=len(uniques)).astype(np.int64)


@dataclass(frozen=True, eq=False)
class _Classes:
    """The classes of one node: a representative histogram row and the size of each (and its key)."""

    node: tuple[int, ...]
    rows: np.ndarray
    sizes: np.ndarray
    keys: np.ndarray | None


def _roll_up(encoded: _Encoded, source: _Classes, node: tuple[int, ...]) -> _Classes:
    """The classes of ``node`` from those of a finer ``source`` node (enough because hierarchies are trees).

    With a fixed radix only the QIs whose level changes touch the keys (usually one or two), so a check
    costs a couple of gathers and one hash-factorize over the source's classes.
    """
    if encoded.multipliers is not None and source.keys is not None:
        key = source.keys
        for column, (level, before) in enumerate(zip(node, source.node, strict=True)):
            if level != before:
                dense = encoded.dense[column]
                key = key + (dense[level][source.rows] - dense[before][source.rows]) * encoded.multipliers[column]
        inverse, uniques = pd.factorize(key)
        keys: np.ndarray | None = np.asarray(uniques, dtype=np.int64)
    else:
        inverse, uniques = pd.factorize(_node_keys(encoded, node, source.rows))
        keys = None
    rows = np.empty(len(uniques), dtype=source.rows.dtype)
    rows[inverse] = source.rows
    sizes = np.bincount(inverse, weights=source.sizes, minlength=len(uniques)).astype(np.int64)
    return _Classes(node, rows, sizes, keys)


class _ClassCache:
    """Classes of nodes grouped so far, to roll coarser nodes up from (ARX likewise reuses snapshots).

    A node's classes are computed from the cached finer node (component-wise <=) with the fewest
    classes; near the top of the lattice that is a few hundred classes instead of every histogram row.
    At most ``budget`` classes are kept (20 bytes each; by default 2 million -- 40 MB, on Adult as fast as
    caching everything -- or 4 per histogram row if more); when full, the entries with the most classes,
    the worst sources, make room for smaller ones.
    """

    def __init__(self, encoded: _Encoded, budget: int | None = None) -> None:
        self.encoded = encoded
        self.budget = budget if budget is not None else max(2_000_000, 4 * len(encoded.counts))
        bottom = tuple(0 for _ in encoded.names)
        row_type = np.int32 if len(encoded.counts) < 2**31 else np.int64
        self.root = _Classes(bottom, np.arange(len(encoded.counts), dtype=row_type), encoded.counts, encoded.base_keys)
        self.entries: list[_Classes] = []
        self.nodes = np.empty((64, len(encoded.names)), dtype=np.int16)
        self.class_counts = np.empty(64, dtype=np.int64)
        self.stored = 0

    def sizes(self, node: tuple[int, ...]) -> np.ndarray:
        """Class sizes of ``node`` (and remember its classes, within the budget)."""
        classes = _roll_up(self.encoded, self._source(node), node)
        self._store(classes)
        return classes.sizes

    def _source(self, node: tuple[int, ...]) -> _Classes:
        """The cached finer node with the fewest classes, else the histogram itself."""
        count = len(self.entries)
        if count:
            finer = np.flatnonzero((self.nodes[:count] <= np.asarray(node)).all(axis=1))
            if finer.size:
                return self.entries[finer[np.argmin(self.class_counts[finer])]]
        return self.root

    def _store(self, classes: _Classes) -> None:
        size = len(classes.sizes)
        while self.entries and self.stored + size > self.budget:
            largest = int(np.argmax(self.class_counts[: len(self.entries)]))
            if self.class_counts[largest] <= size:
                return  # everything cached is a better source than this node
            self._evict(largest)
        if self.stored + size > self.budget:
            return
        count = len(self.entries)
        if count == len(self.nodes):
            self.nodes = np.concatenate([self.nodes, np.empty_like(self.nodes)])
            self.class_counts = np.concatenate([self.class_counts, np.empty_like(self.class_counts)])
        self.nodes[count] = classes.node
        self.class_counts[count] = size
        self.entries.append(classes)
        self.stored += size

    def _evict(self, index: int) -> None:
        """Drop entry ``index`` by moving the last entry into its place."""
        last = len(self.entries) - 1
        self.stored -= int(self.class_counts[index])
        self.entries[index] = self.entries[last]
        self.nodes[index] = self.nodes[last]
        self.class_counts[index] = self.class_counts[last]
        self.entries.pop()


# ---------------------------------------------------------------------------------------------- lattice


class _Lattice:
    """Anonymity of lattice nodes, with monotonicity pruning (status: unknown / anonymous / not)."""

    def __init__(self, encoded: _Encoded, k: int, limit: int) -> None:
        self.encoded = encoded
        self.k = k
        self.limit = limit
        self.shape = encoded.shape
        self.size = math.prod(self.shape)
        if self.size > MAX_LATTICE_NODES:
            raise GeneralizeError(
                f"the lattice has {self.size:,} nodes (more than {MAX_LATTICE_NODES:,}); "
                "use fewer quasi-identifiers or shallower hierarchies"
            )
        self.status = np.zeros(self.shape, dtype=np.int8)
        self.checked = 0
        self.cache = _ClassCache(encoded)

    @property
    def top(self) -> tuple[int, ...]:
        return tuple(height - 1 for height in self.shape)

    def is_anonymous(self, node: tuple[int, ...]) -> bool:
        """Anonymity of ``node``; a fresh non-anonymous node is climbed to prune a large down-set."""
        known = self.status[node]
        if known != _UNKNOWN:
            return bool(known == _ANONYMOUS)
        if self._check(node):
            return True
        self._mark_not_anonymous(self._climb(node))
        return False

    def _check(self, node: tuple[int, ...]) -> bool:
        """Group the histogram at ``node``, count outliers, and record the answer for its up/down-set."""
        known = self.status[node]
        if known != _UNKNOWN:
            return bool(known == _ANONYMOUS)
        self.checked += 1
        sizes = self.cache.sizes(node)
        anonymous = int(sizes[sizes < self.k].sum()) <= self.limit
        if anonymous:
            self.status[tuple(slice(level, None) for level in node)] = _ANONYMOUS
        else:
            self._mark_not_anonymous(node)
        return anonymous

    def _mark_not_anonymous(self, node: tuple[int, ...]) -> None:
        self.status[tuple(slice(0, level + 1) for level in node)] = _NOT_ANONYMOUS

    def _climb(self, node: tuple[int, ...]) -> tuple[int, ...]:
        """A maximal non-anonymous generalization of the non-anonymous ``node``, to prune its down-set.

        One pass over the QIs, shortest hierarchies first: raise each as far as the node stays
        non-anonymous, trying the highest level first. Raising a later QI only merges classes, so an
        earlier QI can never be raised afterwards: one pass reaches a maximal node. (Measured on Adult,
        this order needs about a third fewer checks than raising one step at a time.)
        """
        current = list(node)
        for column in sorted(range(len(current)), key=lambda column: (self.shape[column], column)):
            for level in range(self.shape[column] - 1, current[column], -1):
                candidate = (*current[:column], level, *current[column + 1 :])
                if not self._check(candidate):
                    current[column] = level
                    break
        return tuple(current)


# ---------------------------------------------------------------------------------------------- metrics


def _arx_round(value: float) -> float:
    """ARX floors each column's information loss to 10 decimals before aggregating."""
    return math.floor(value * 1e10) / 1e10


def _log2(values: np.ndarray) -> np.ndarray:
    return np.log(values) / math.log(2.0)


class _Scorer:
    """Lower bounds over the whole lattice and exact losses of single nodes, for one metric."""

    def __init__(self, encoded: _Encoded, metric: Metric, k: int) -> None:
        self.encoded = encoded
        self.metric = metric
        self.k = k
        self.entropy_raw = [_generalization_entropy(encoded, column) for column in range(len(encoded.names))]
        self.ncp = [_ncp_tables(encoded.hierarchies[column]) for column in range(len(encoded.names))]

    def column_bounds(self) -> list[np.ndarray]:
        """Per column and level: the loss from generalization alone, a lower bound for every metric."""
        if self.metric is Metric.GCP:
            scale = max(self.encoded.total, 1) * len(self.encoded.names)
            return [
                np.array([_weighted(self.encoded, column, level, table) / scale for level, table in enumerate(tables)])
                for column, tables in enumerate(self.ncp)
            ]
        return [np.array([_arx_round(-raw) for raw in column]) for column in self.entropy_raw]

    def exact(self, node: tuple[int, ...], bound: float) -> float:
        """The loss of ``node``; equal to its bound for the monotonic entropy (suppression is free there)."""
        if self.metric is Metric.ENTROPY:
            return bound
        inverse, sizes = _group(self.encoded, node)
        suppressed = sizes[inverse] < self.k
        if self.metric is Metric.ENTROPY_NM:
            return _entropy_nm(self.encoded, self.entropy_raw, node, suppressed)
        return _gcp(self.encoded, self.ncp, node, suppressed)


def _generalization_entropy(encoded: _Encoded, column: int) -> list[float]:
    """Per level, ``sum_v a_v * log2(a_v / b_l(v))`` over the input's original values (ARX's raw value, <= 0)."""
    hierarchy = encoded.hierarchies[column]
    leaf_rows = np.bincount(encoded.leaves[column], weights=encoded.counts, minlength=hierarchy.leaves)
    present = leaf_rows > 0
    values = []
    for level in range(hierarchy.height):
        codes = hierarchy.codes(level)
        label_rows = np.bincount(codes, weights=leaf_rows, minlength=len(hierarchy.labels(level)))
        a, b = leaf_rows[present], label_rows[codes][present]
        values.append(float(np.sum(a * _log2(a / b))))
    return values


def _ncp_tables(hierarchy: Hierarchy) -> list[np.ndarray]:
    """Per level, the NCP of each label: (leaves under it - 1) / (leaves - 1); 0 for a one-leaf hierarchy."""
    denominator = max(hierarchy.leaves - 1, 1)
    return [(hierarchy.leaves_under_codes(level) - 1) / denominator for level in range(hierarchy.height)]


def _weighted(encoded: _Encoded, column: int, level: int, table: np.ndarray, rows: np.ndarray | None = None) -> float:
    """Sum over (selected) histogram rows of ``count * table[label code]``."""
    codes, counts = encoded.codes[column][level], encoded.counts
    if rows is not None:
        codes, counts = codes[rows], counts[rows]
    return float((counts * table[codes]).sum())


def _entropy_nm(encoded: _Encoded, raw: list[list[float]], node: tuple[int, ...], suppressed: np.ndarray) -> float:
    """ARX's non-monotonic variant: generalization entropy plus the entropy of the suppressed records."""
    weights = encoded.counts[suppressed]
    total = float(weights.sum())
    loss = 0.0
    for column, level in enumerate(node):
        value = raw[column][level]
        if total > 0:
            spread = np.bincount(encoded.codes[column][level][suppressed], weights=weights)
            spread = spread[spread > 0]
            value += float(np.sum(spread * _log2(spread / total)))
        loss += _arx_round(-value)
    return loss


def _gcp(encoded: _Encoded, ncp: list[list[np.ndarray]], node: tuple[int, ...], suppressed: np.ndarray) -> float:
    """Mean NCP over all released cells; every cell of a suppressed record costs 1."""
    if encoded.total == 0:
        return 0.0
    kept = ~suppressed
    cells = sum(_weighted(encoded, column, level, ncp[column][level], kept) for column, level in enumerate(node))
    cells += float(encoded.counts[suppressed].sum()) * len(node)
    return cells / (encoded.total * len(node))


# ---------------------------------------------------------------------------------------------- search


def _lattice_bounds(shape: tuple[int, ...], columns: list[np.ndarray]) -> np.ndarray:
    """Bound of every node: per-column tables broadcast and summed in column order (as ARX sums)."""
    bounds = np.zeros(shape, dtype=np.float64)
    for axis, table in enumerate(columns):
        view = [1] * len(shape)
        view[axis] = shape[axis]
        bounds = bounds + table.reshape(view)
    return bounds


def _visit_order(bounds: np.ndarray) -> np.ndarray:
    """Flat node indices by bound, then number of generalization steps, then level vector."""
    steps = np.indices(bounds.shape).sum(axis=0).ravel()
    return np.lexsort((np.arange(bounds.size), steps, bounds.ravel()))


def _search(lattice: _Lattice, scorer: _Scorer) -> tuple[tuple[int, ...], float]:
    """Best anonymous node: visit in increasing lower bound until the bound reaches the best loss."""
    bounds = _lattice_bounds(lattice.shape, scorer.column_bounds())
    order = _visit_order(bounds)
    # Plain lists and a flat view of the status: the loop runs once per node, so scalar access matters.
    nodes = np.stack(np.unravel_index(order, lattice.shape), axis=1).tolist()
    status = lattice.status.reshape(-1)
    best: tuple[int, ...] | None = None
    best_loss = math.inf
    for flat, bound, levels in zip(order.tolist(), bounds.ravel()[order].tolist(), nodes, strict=True):
        if bound >= best_loss:
            break
        if status[flat] == _NOT_ANONYMOUS:
            continue
        node = tuple(levels)
        if not lattice.is_anonymous(node):
            continue
        loss = scorer.exact(node, bound)
        if loss < best_loss:
            best, best_loss = node, loss
    if best is None:  # cannot happen: the top node was checked to be anonymous
        raise GeneralizeError("internal error: no anonymous node found")
    return best, best_loss


# ---------------------------------------------------------------------------------------------- result


def _result(
    histogram: pd.DataFrame,
    encoded: _Encoded,
    lattice: _Lattice,
    node: tuple[int, ...],
    loss: float,
    metric: Metric,
    max_suppression: float,
) -> GeneralizeResult:
    inverse, sizes = _group(encoded, node)
    kept_class = sizes >= lattice.k
    suppressed = ~kept_class[inverse]
    mapping = histogram[list(encoded.names)].reset_index(drop=True)
    for column, (name, level) in enumerate(zip(encoded.names, node, strict=True)):
        labels = encoded.hierarchies[column].labels(level)[encoded.codes[column][level]]
        values = np.where(suppressed, SUPPRESSED_LABEL, labels).astype(object)
        values[(labels == NULL_LEAF) & ~suppressed] = None  # a NULL kept as such is released as NULL
        mapping[released_column(name)] = values
    class_ids = np.full(len(sizes), -1, dtype=np.int64)
    class_ids[kept_class] = np.arange(int(kept_class.sum()))
    mapping[SUPPRESSED_COLUMN] = suppressed
    mapping[CLASS_ID_COLUMN] = class_ids[inverse]
    rows_suppressed = int(encoded.counts[suppressed].sum())
    ncp = [_ncp_tables(hierarchy) for hierarchy in encoded.hierarchies]
    return GeneralizeResult(
        levels=dict(zip(encoded.names, node, strict=True)),
        mapping=mapping,
        metric=metric,
        loss=loss,
        gcp=_gcp(encoded, ncp, node, suppressed),
        k=lattice.k,
        k_achieved=int(sizes[kept_class].min()) if kept_class.any() else 0,
        classes=int(kept_class.sum()),
        rows=encoded.total,
        rows_suppressed=rows_suppressed,
        max_suppression=max_suppression,
        lattice_size=lattice.size,
        nodes_checked=lattice.checked,
    )
