"""RAW tables: external assets (loaders fill them), described by their catalog columns."""

from __future__ import annotations

import dagster as dg

from minimization_pipeline.catalog import Catalog, Table


def raw_key(schema: str, table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", schema, table])


def raw_spec(schema: str, table: str, raw_table: Table | None) -> dg.AssetSpec:
    metadata = {}
    if raw_table is not None:
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[dg.TableColumn(column.name, column.data_type) for column in raw_table.columns]
        )
    return dg.AssetSpec(
        key=raw_key(schema, table),
        group_name="raw",
        kinds={"duckdb"},
        description=f"raw.{schema}.{table}: identifiable source data, loaded by its source's loader.",
        metadata=metadata,
    )


def raw_specs(tables: list[tuple[str, str]], catalog: Catalog) -> list[dg.AssetSpec]:
    return [raw_spec(schema, table, catalog.get(schema, table)) for schema, table in tables]
