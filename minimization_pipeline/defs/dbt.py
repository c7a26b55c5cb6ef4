"""dbt models as assets; sources map to the RAW_SAFE asset keys in every target.

Models tagged ``partitioned`` (incremental over the hourly partitions of append-only tables) are assets
partitioned like those tables when the policy declares hourly partitions: a run passes its window as the
vars ``min_ts`` / ``max_ts``, so the model reads and replaces only those hours, and a backfill is one
``dbt build`` over its whole range. Every other model is one unpartitioned asset set, rebuilt each run.

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from minimization_pipeline.dbt_project import dbt_project
from minimization_pipeline.defs.partitions import window_of
from minimization_pipeline.defs.raw_safe import raw_safe_key

PARTITIONED_TAG = "partitioned"


class MinimizationDbtTranslator(DagsterDbtTranslator):
    """Sources are RAW_SAFE tables; models keep their own name, the same key in dev and prod."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return raw_safe_key(dbt_resource_props["source_name"], dbt_resource_props["name"])
        return dg.AssetKey([dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return f"dbt_{fqn[1]}" if len(fqn) > 2 else "dbt"


@dbt_assets(manifest=dbt_project.manifest_path, dagster_dbt_translator=MinimizationDbtTranslator(), name="dbt_models")
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream()


@cache
def build_dbt_assets(hourly: dg.TimeWindowPartitionsDefinition | None) -> list[dg.AssetsDefinition]:
    """All models as one unpartitioned set, or (with ``hourly``) the incremental ones partitioned apart."""
    if hourly is None:
        return [dbt_models]

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        dagster_dbt_translator=MinimizationDbtTranslator(),
        name="dbt_models",
        exclude=f"tag:{PARTITIONED_TAG}",
    )
    def dbt_whole_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        yield from dbt.cli(["build"], context=context).stream()

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        dagster_dbt_translator=MinimizationDbtTranslator(),
        name="dbt_partitioned_models",
        select=f"tag:{PARTITIONED_TAG}",
        partitions_def=hourly,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def dbt_partitioned_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        start, end = window_of(context)
        window = {"min_ts": f"{start:%Y-%m-%d %H:%M:%S}", "max_ts": f"{end:%Y-%m-%d %H:%M:%S}"}
        yield from dbt.cli(["build", "--vars", json.dumps(window)], context=context).stream()

    return [dbt_whole_models, dbt_partitioned_models]
