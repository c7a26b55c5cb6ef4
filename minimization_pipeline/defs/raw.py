"""RAW tables: external assets (loaders fill them), described by their catalog columns."""

from __future__ import annotations

import dagster as dg

from minimization_pipeline.asset_names import key_part
from minimization_pipeline.catalog import Catalog, Table


def raw_key(schema: str, table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", key_part(schema), key_part(table)])


def raw_spec(schema: str, table: str, raw_table: Table | None, status: str = "present") -> dg.AssetSpec:
    metadata: dict[str, object] = {"minimization/table": f"raw.{schema}.{table}"}
    if raw_table is not None:
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[dg.TableColumn(column.name, column.data_type) for column in raw_table.columns]
        )
    return dg.AssetSpec(
        key=raw_key(schema, table),
        group_name="raw",
        kinds={"duckdb"},
        description=f"raw.{schema}.{table}: identifiable source data, loaded by its source's loader."
        + {"dropped": " Dropped from RAW; its RAW_SAFE copy is kept.", "absent": " Not created yet."}.get(status, ""),
        metadata=metadata,
        tags={"minimization/raw": status},
    )


def raw_specs(statuses: dict[tuple[str, str], str], catalog: Catalog) -> list[dg.AssetSpec]:
    return [raw_spec(*table, catalog.get(*table), status) for table, status in sorted(statuses.items())]
