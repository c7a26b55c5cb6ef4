"""Generalization hierarchies in ARX's CSV format, for full-domain generalization (:mod:`.generalize`).

File format (as written by the ARX Data Anonymization Tool and shipped with its benchmark data sets):
``;``-separated, no header, one row per original value (a *leaf*); each following column is one level
coarser, and the last level is usually ``*`` (fully suppressed). Level 0 is the original value itself,
so a hierarchy of *height* ``h`` has levels ``0 .. h-1``::

    39;35-39;30-39;20-39;*
    Male;*

Values are matched **as strings**, the way ARX reads every column: the leaf ``"39"`` matches the integer
39, the float 39.0 and the string ``"39"``. A missing value (NULL/NaN) matches the leaf ``"NULL"`` (ARX's
spelling of a missing value), so a nullable column needs a ``NULL;...`` row.

The hierarchy must be a tree (a label at one level always has the same parent): full-domain
generalization relies on it, because then every class at a coarser level is a union of classes at the
finer one, which is what makes k-anonymity (with suppression) monotone over the lattice of level vectors.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

NULL_LEAF = "NULL"
_FILE_NAME = re.compile(r"^(?:.*_)?hierarchy_(?P<column>.+)\.csv$", re.IGNORECASE)


class HierarchyError(ValueError):
    """A hierarchy file is malformed, or the data holds a value the hierarchy does not know."""


@dataclass(frozen=True, eq=False)
class Hierarchy:
    """A validated generalization hierarchy of one column.

    ``rows`` holds one tuple per leaf: the leaf (level 0) followed by its label at every coarser level.
    ``source`` names where the rows came from (a file path) and ``lines`` their line numbers in it; both
    only serve error messages. Per level, labels are encoded once as integer codes (``codes(level)``
    gives the code of each leaf's label), so that callers can generalize whole columns with ``take``.
    """

    column: str
    rows: tuple[tuple[str, ...], ...]
    source: str = "<in-memory>"
    lines: tuple[int, ...] | None = field(default=None, repr=False)
    _leaf_index: dict[str, int] = field(init=False, repr=False)
    _labels: tuple[np.ndarray, ...] = field(init=False, repr=False)
    _codes: tuple[np.ndarray, ...] = field(init=False, repr=False)
    _leaves_under: tuple[np.ndarray, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rows = tuple(tuple(str(cell) for cell in row) for row in self.rows)
        object.__setattr__(self, "rows", rows)
        lines = tuple(self.lines) if self.lines is not None else tuple(range(1, len(rows) + 1))
        object.__setattr__(self, "lines", lines)
        where = _Where(self.source, lines)
        _check_shape(rows, where)
        object.__setattr__(self, "_leaf_index", _index_leaves(rows, where))
        _check_tree(rows, where)
        labels, codes = _encode_levels(rows)
        object.__setattr__(self, "_labels", labels)
        object.__setattr__(self, "_codes", codes)
        under = tuple(np.bincount(code, minlength=len(label)) for code, label in zip(codes, labels, strict=True))
        object.__setattr__(self, "_leaves_under", under)

    # ------------------------------------------------------------------------------------------ shape

    @property
    def height(self) -> int:
        """Number of levels, the original values (level 0) included; the top level is ``height - 1``."""
        return len(self.rows[0])

    @property
    def leaves(self) -> int:
        """Number of original values (rows of the file)."""
        return len(self.rows)

    def labels(self, level: int) -> np.ndarray:
        """The distinct labels of ``level`` (object array), indexed by the codes of :meth:`codes`."""
        return self._labels[self._check_level(level)]

    def codes(self, level: int) -> np.ndarray:
        """For each leaf (in file order), the integer code of its label at ``level``."""
        return self._codes[self._check_level(level)]

    # ------------------------------------------------------------------------------------------ lookups

    def leaf_index(self, values: pd.Series | np.ndarray | Sequence[object]) -> np.ndarray:
        """Position of each value among the leaves (vectorized: each distinct value is looked up once).

        Raises :class:`HierarchyError` naming the column, the value(s) and the file when the data holds
        a value the hierarchy lacks: generalizing it silently (e.g. to ``*``) would hide a data problem.
        """
        data = values if isinstance(values, pd.Series | np.ndarray) else np.asarray(list(values), dtype=object)
        codes, uniques = pd.factorize(data)
        keys = [_as_leaf(value) for value in uniques]
        found = np.array([self._leaf_index.get(key, -1) for key in keys], dtype=np.int64)
        missing = [key for key, position in zip(keys, found, strict=True) if position < 0]
        if (codes < 0).any():
            null_position = self._leaf_index.get(NULL_LEAF, -1)
            if null_position < 0:
                missing.insert(0, NULL_LEAF)
            found = np.append(found, null_position)  # code -1 picks the last element
        if missing:
            shown = ", ".join(repr(value) for value in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise HierarchyError(
                f"column {self.column!r}: value(s) {shown}{more} missing from the hierarchy {self.source}"
                + (f" (a NULL needs a {NULL_LEAF!r} leaf)" if NULL_LEAF in missing else "")
            )
        return found[codes]

    def level_of(self, values: pd.Series | np.ndarray | Sequence[object], level: int) -> np.ndarray:
        """The label of each value at ``level`` (object array of strings, same length as ``values``)."""
        return self.labels(level)[self.codes(level)[self.leaf_index(values)]]

    def leaves_under(self, label: str, level: int) -> int:
        """How many leaves generalize to ``label`` at ``level``.

        This is the numerator of the NCP (normalized certainty penalty) of a generalized cell:
        ``(leaves_under(label) - 1) / (leaves - 1)``.
        """
        matches = np.flatnonzero(self.labels(level) == label)
        if matches.size == 0:
            raise KeyError(f"column {self.column!r}: {label!r} is not a label of level {level} in {self.source}")
        return int(self._leaves_under[level][matches[0]])

    def leaves_under_codes(self, level: int) -> np.ndarray:
        """Leaves under each label of ``level``, indexed by label code (the vectorized :meth:`leaves_under`)."""
        return self._leaves_under[self._check_level(level)]

    def common_level(self, values: pd.Series | np.ndarray | Sequence[object]) -> int | None:
        """Lowest level at which all ``values`` share one label (their lowest common ancestor's level).

        ``None`` when they never do (a hierarchy whose top level has several labels).
        """
        leaves = np.unique(self.leaf_index(values))
        for level in range(self.height):
            if np.unique(self._codes[level][leaves]).size <= 1:
                return level
        return None

    # ------------------------------------------------------------------------------------------ helpers

    def _check_level(self, level: int) -> int:
        if not 0 <= level < self.height:
            raise IndexError(f"column {self.column!r}: level {level} out of range 0..{self.height - 1}")
        return level

    @classmethod
    def from_rows(cls, column: str, rows: Iterable[Sequence[object]], source: str = "<in-memory>") -> Hierarchy:
        """A hierarchy from rows held in memory (tests, hierarchies built in code)."""
        return cls(column, tuple(tuple(row) for row in rows), source)


# ---------------------------------------------------------------------------------------------- loading


def load_hierarchy(path: str | Path, column: str | None = None, sep: str = ";", encoding: str = "utf-8") -> Hierarchy:
    """Read one ARX hierarchy file; ``column`` defaults to the ``<name>`` of ``..._hierarchy_<name>.csv``.

    Blank lines are skipped (ARX's exports may end with one); quoted cells follow CSV rules.
    """
    path = Path(path)
    if column is None:
        match = _FILE_NAME.match(path.name)
        column = match.group("column") if match else path.stem
    rows: list[tuple[str, ...]] = []
    lines: list[int] = []
    with path.open(newline="", encoding=encoding) as handle:
        reader = csv.reader(handle, delimiter=sep)
        for row in reader:
            if not row or all(cell.strip() == "" for cell in row):
                continue
            rows.append(tuple(row))
            lines.append(reader.line_num)
    return Hierarchy(column, tuple(rows), str(path), tuple(lines))


def load_hierarchies(folder: str | Path, dataset: str, sep: str = ";") -> dict[str, Hierarchy]:
    """Every ``<dataset>_hierarchy_<column>.csv`` of ``folder``, keyed by column (sorted by column name)."""
    folder = Path(folder)
    prefix = f"{dataset}_hierarchy_"
    found = {
        path.name[len(prefix) : -len(".csv")]: path
        for path in folder.glob(f"{dataset}_hierarchy_*.csv")
        if path.name.startswith(prefix)
    }
    if not found:
        raise HierarchyError(f"no {prefix}<column>.csv files in {folder}")
    return {column: load_hierarchy(found[column], column, sep) for column in sorted(found)}


# ---------------------------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Where:
    """Where hierarchy rows came from, to name the file and line in errors."""

    source: str
    lines: tuple[int, ...]

    def at(self, position: int) -> str:
        return f"{self.source}, line {self.lines[position]}"


def _check_shape(rows: tuple[tuple[str, ...], ...], where: _Where) -> None:
    """Every row must have the same number of levels (ARX rejects ragged hierarchies too)."""
    if not rows:
        raise HierarchyError(f"{where.source}: the hierarchy is empty")
    height = len(rows[0])
    for position, row in enumerate(rows):
        if len(row) != height:
            raise HierarchyError(
                f"{where.at(position)}: {len(row)} levels where the first row has {height} ({';'.join(row)!r})"
            )


def _index_leaves(rows: tuple[tuple[str, ...], ...], where: _Where) -> dict[str, int]:
    """Leaf -> row position; a leaf listed twice is ambiguous (which of its generalizations applies?)."""
    index: dict[str, int] = {}
    for position, row in enumerate(rows):
        leaf = row[0]
        if leaf in index:
            first = where.lines[index[leaf]]
            raise HierarchyError(f"{where.at(position)}: duplicate leaf {leaf!r} (first at line {first})")
        index[leaf] = position
    return index


def _check_tree(rows: tuple[tuple[str, ...], ...], where: _Where) -> None:
    """Each label must have a single parent, else classes of a coarser level are not unions of finer ones."""
    for level in range(1, len(rows[0]) - 1):
        parent: dict[str, tuple[str, int]] = {}
        for position, row in enumerate(rows):
            label, up = row[level], row[level + 1]
            seen, first = parent.setdefault(label, (up, position))
            if seen != up:
                raise HierarchyError(
                    f"{where.at(position)}: label {label!r} of level {level} generalizes to {up!r}, but to "
                    f"{seen!r} at line {where.lines[first]} (a hierarchy must be a tree)"
                )


def _encode_levels(rows: tuple[tuple[str, ...], ...]) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """Per level: the distinct labels (in order of first appearance) and each leaf's label code."""
    table = np.array(rows, dtype=object).reshape(len(rows), -1)
    labels: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for level in range(table.shape[1]):
        level_codes, level_labels = pd.factorize(table[:, level])
        labels.append(np.asarray(level_labels, dtype=object))
        codes.append(level_codes.astype(np.int64))
    return tuple(labels), tuple(codes)


def _as_leaf(value: object) -> str:
    """The string a data value is matched under, as ARX sees the cell of a CSV file.

    Integral floats print without ``.0`` (a nullable integer column often arrives as float64), dates as
    ISO dates; anything else by ``str``.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return NULL_LEAF
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return NULL_LEAF
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()
    return str(value)
