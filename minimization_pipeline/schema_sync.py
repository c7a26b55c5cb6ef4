"""Is RAW_SAFE in step with RAW? Which tables must be re-published, which are new or gone.

Pure logic on two catalogs (no warehouse, no Dagster): the sensor and the blocking parity check both
ask it. RAW_SAFE is schema-preserving, so the answer is a comparison of columns, names, order and types,
between the live RAW table and its published copy. Comparing the two catalogs (instead of diffing RAW
against its previous state) makes it self-healing: a copy that missed a change for any reason -- a failed
run, a sensor that was off -- is found on the next tick, and nothing depends on a remembered history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from minimization_pipeline.catalog import Catalog, Table

TableKey = tuple[str, str]


@dataclass(frozen=True)
class TableDrift:
    """How one published copy differs from its RAW table (empty lists: in parity)."""

    schema: str
    name: str
    missing_copy: bool = False
    added: tuple[str, ...] = ()  # columns in RAW, not in RAW_SAFE
    dropped: tuple[str, ...] = ()  # columns in RAW_SAFE, gone from RAW
    retyped: tuple[str, ...] = ()  # "column: OLD -> NEW"
    reordered: bool = False

    @property
    def key(self) -> TableKey:
        return (self.schema, self.name)

    @property
    def in_parity(self) -> bool:
        return not (self.missing_copy or self.added or self.dropped or self.retyped or self.reordered)

    def describe(self) -> str:
        """One line for a sensor's reason or a check's description."""
        if self.missing_copy:
            return f"{self.schema}.{self.name}: no RAW_SAFE copy yet"
        parts = []
        if self.added:
            parts.append("new columns " + ", ".join(self.added))
        if self.dropped:
            parts.append("dropped columns " + ", ".join(self.dropped))
        if self.retyped:
            parts.append("type changes " + ", ".join(self.retyped))
        if self.reordered:
            parts.append("columns reordered")
        return f"{self.schema}.{self.name}: " + ("; ".join(parts) if parts else "in parity")


def table_drift(raw: Table, copy: Table | None) -> TableDrift:
    """Compare one RAW table with its RAW_SAFE copy (``None`` when there is none)."""
    if copy is None:
        return TableDrift(raw.schema, raw.name, missing_copy=True)
    raw_types = {c.name: c.data_type for c in raw.columns}
    copy_types = {c.name: c.data_type for c in copy.columns}
    added = tuple(name for name in raw_types if name not in copy_types)
    dropped = tuple(name for name in copy_types if name not in raw_types)
    retyped = tuple(
        f"{name}: {copy_types[name]} -> {raw_types[name]}"
        for name in raw_types
        if name in copy_types and copy_types[name] != raw_types[name]
    )
    shared_raw = [name for name in raw_types if name in copy_types]
    shared_copy = [name for name in copy_types if name in raw_types]
    return TableDrift(raw.schema, raw.name, False, added, dropped, retyped, shared_raw != shared_copy)


@dataclass(frozen=True)
class SchemaSync:
    """Everything a sensor tick needs to bring RAW_SAFE back into parity with RAW."""

    raw: Catalog
    raw_safe: Catalog
    #: RAW tables the loaded definitions do not know: the code location must reload to show them.
    new_tables: tuple[TableKey, ...] = ()
    #: tables the definitions know as present in RAW that RAW has lost (their RAW_SAFE copy is kept).
    dropped_tables: tuple[TableKey, ...] = ()
    #: tables the policy keeps out of RAW_SAFE (new ones still change the asset graph: RAW specs)
    excluded: tuple[TableKey, ...] = ()
    #: RAW tables whose published copy is missing or differs (to re-publish), in (schema, name) order.
    drifted: tuple[TableDrift, ...] = field(default_factory=tuple)

    @property
    def raw_fingerprint(self) -> str:
        return self.raw.fingerprint()

    @property
    def needs_reload(self) -> bool:
        return bool(self.new_tables or self.dropped_tables)

    @property
    def new_to_replicate(self) -> tuple[TableKey, ...]:
        """New RAW tables that get a RAW_SAFE copy (not the ones the policy excludes)."""
        return tuple(table for table in self.new_tables if table not in self.excluded)

    @property
    def to_publish(self) -> tuple[TableKey, ...]:
        return tuple(drift.key for drift in self.drifted)

    def describe(self) -> str:
        lines = [drift.describe() for drift in self.drifted]
        lines += [f"{s}.{t}: new in RAW" for s, t in self.new_tables]
        lines += [f"{s}.{t}: dropped from RAW (its RAW_SAFE copy is kept)" for s, t in self.dropped_tables]
        return "; ".join(lines) if lines else "RAW_SAFE is in parity with RAW"


def compare(
    raw: Catalog,
    raw_safe: Catalog,
    known_present: Iterable[TableKey],
    excluded: Iterable[TableKey] = (),
) -> SchemaSync:
    """What differs between RAW, RAW_SAFE and the tables the running definitions were built from.

    ``known_present``: the RAW tables the definitions were built from (those that existed then).
    ``excluded``: tables the policy keeps out of RAW_SAFE entirely (never published, never drifted).
    """
    known = set(known_present)
    skip = set(excluded)
    live = {(t.schema, t.name) for t in raw.tables}
    drifted = []
    for table in sorted(raw.tables, key=lambda t: (t.schema, t.name)):
        if (table.schema, table.name) in skip:
            continue
        drift = table_drift(table, raw_safe.get(table.schema, table.name))
        if not drift.in_parity:
            drifted.append(drift)
    return SchemaSync(
        raw,
        raw_safe,
        new_tables=tuple(sorted(live - known)),
        dropped_tables=tuple(sorted(known - live)),
        excluded=tuple(sorted(skip)),
        drifted=tuple(drifted),
    )
