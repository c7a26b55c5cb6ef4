"""PUBLIC: person-level dbt models anonymized again with the higher public k, for wide sharing."""

from __future__ import annotations

import dagster as dg

from minimization_pipeline.defs.resources import MinimizationResource
from minimization_pipeline.defs.results import check_specs, events


def public_asset(
    model: str, models_database: str, l_diversity: bool = False, models_schema: str = "main", kind: str = "duckdb"
) -> dg.AssetsDefinition:
    key = dg.AssetKey(["public", model])

    @dg.asset(
        key=key,
        deps=[dg.AssetKey([model])],
        group_name="public",
        kinds={kind},
        check_specs=check_specs(key, l_diversity),
        description=f"public.{models_schema}.{model}: the dbt model {model}, only the columns the policy lists, "
        "anonymized again with the public k.",
    )
    def _public(minimization: MinimizationResource):
        result = minimization.pipeline().publish_public(model, models_database, models_schema)
        yield from events(key, result)

    return _public
