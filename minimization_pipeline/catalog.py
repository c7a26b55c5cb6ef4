"""What a warehouse database holds: schemas, tables, columns and their types.

Plain data, built from one `information_schema` query, so it can be cached (the asset graph is built
from it when the warehouse is locked) and compared (its fingerprint detects schema changes).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # as the warehouse spells it, e.g. BIGINT, VARCHAR, DECIMAL(10,2), DATE


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]
    kind: str = "table"  # table | view

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"

    def column(self, name: str) -> Column | None:
        return next((column for column in self.columns if column.name == name), None)


@dataclass(frozen=True)
class Catalog:
    database: str
    tables: tuple[Table, ...] = field(default_factory=tuple)

    def get(self, schema: str, name: str) -> Table | None:
        return next((t for t in self.tables if t.schema == schema and t.name == name), None)

    def fingerprint(self) -> str:
        """Changes exactly when a table, column or type changes: the sensor's cursor."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {
            "database": self.database,
            "tables": [
                {
                    "schema": t.schema,
                    "name": t.name,
                    "kind": t.kind,
                    "columns": [[c.name, c.data_type] for c in t.columns],
                }
                for t in sorted(self.tables, key=lambda t: (t.schema, t.name))
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Catalog:
        return cls(
            database=data["database"],
            tables=tuple(
                Table(
                    t["schema"],
                    t["name"],
                    tuple(Column(n, d) for n, d in t["columns"]),
                    t.get("kind", "table"),
                )
                for t in data["tables"]
            ),
        )

    @classmethod
    def from_rows(cls, database: str, rows: list[tuple[str, str, str, str, str]]) -> Catalog:
        """Rows of (schema, table, kind, column, type) in ordinal order, as information_schema gives."""
        grouped: dict[tuple[str, str], tuple[str, list[Column]]] = {}
        for schema, table, kind, column, data_type in rows:
            grouped.setdefault((schema, table), (kind, []))[1].append(Column(column, data_type))
        return cls(
            database,
            tuple(Table(s, t, tuple(cols), kind) for (s, t), (kind, cols) in sorted(grouped.items())),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Catalog | None:
        return cls.from_dict(json.loads(path.read_text())) if path.exists() else None
