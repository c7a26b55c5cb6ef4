"""RAW_SAFE: one asset per RAW table, treated or passed through, verified before it is swapped in."""

from __future__ import annotations

import dagster as dg

from minimization_pipeline.defs.raw import raw_key
from minimization_pipeline.defs.resources import MinimizationResource
from minimization_pipeline.defs.results import check_specs, events
from minimization_pipeline.policy import Policy, Treatment


def raw_safe_key(schema: str, table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw_safe", schema, table])


def raw_safe_asset(schema: str, table: str, treatment: Treatment, l_diversity: bool = False) -> dg.AssetsDefinition:
    key = raw_safe_key(schema, table)

    @dg.asset(
        key=key,
        deps=[raw_key(schema, table)],
        group_name="raw_safe",
        kinds={"duckdb"},
        check_specs=check_specs(key, l_diversity),
        tags={"minimization/treatment": treatment.value},
        description=(
            f"raw_safe.{schema}.{table}: schema-preserving copy of raw.{schema}.{table}, "
            + (
                "passed through as a view."
                if treatment is Treatment.PASS_THROUGH
                else "direct identifiers pseudonymized, quasi-identifiers k-anonymized."
            )
        ),
    )
    def _raw_safe(minimization: MinimizationResource):
        result = minimization.pipeline().publish_raw_safe(schema, table)
        yield from events(key, result)

    return _raw_safe


def raw_safe_assets(tables: list[tuple[str, str]], policy: Policy) -> list[dg.AssetsDefinition]:
    assets = []
    for schema, table in tables:
        table_policy = policy.table(schema, table)
        treatment = table_policy.treatment if table_policy else Treatment.TREAT
        l_diversity = bool(table_policy and table_policy.l_diversity)
        assets.append(raw_safe_asset(schema, table, treatment, l_diversity))
    return assets
