"""Everything assembled: RAW specs, RAW_SAFE assets, dbt, PUBLIC, the hourly job and its schedule.

The asset graph is built from the policy and the RAW catalog (live, or its last snapshot when the
warehouse is locked or not created yet), so a table the policy names is there before any data is.
"""

from __future__ import annotations

import os

import dagster as dg
from dagster_dbt import DbtCliResource

from minimization_pipeline.defs.automation import hourly_minimization_job, hourly_minimization_schedule
from minimization_pipeline.defs.raw import raw_specs
from minimization_pipeline.defs.raw_safe import raw_safe_assets
from minimization_pipeline.defs.resources import MinimizationResource
from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.policy import Treatment
from minimization_pipeline.settings import DBT_PROJECT_DIR, Settings, load_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    # dbt's profile finds the warehouse files through this variable; keep it equal to ours.
    os.environ["MINIMIZATION_DATA_DIR"] = str(settings.data_dir)
    from minimization_pipeline.defs.dbt import dbt_models
    from minimization_pipeline.defs.public import public_asset

    pipeline = Pipeline(settings.data_dir, settings.policy_path)
    policy = pipeline.policy()
    catalog = pipeline.raw_catalog_or_snapshot()
    named = set(policy.named_tables())
    tables = sorted(named | {(t.schema, t.name) for t in catalog.tables})
    excluded = {
        (schema, table)
        for schema, table in tables
        if (p := policy.table(schema, table)) is not None and p.treatment is Treatment.EXCLUDE
    }
    replicated = [table for table in tables if table not in excluded]
    return dg.Definitions(
        assets=[
            *raw_specs(tables, catalog),
            *raw_safe_assets(replicated, policy),
            dbt_models,
            *(
                public_asset(model, settings.dbt_models_database, bool(policy.public.tables[model].l_diversity))
                for model in sorted(policy.public.tables)
            ),
        ],
        jobs=[hourly_minimization_job],
        schedules=[hourly_minimization_schedule],
        resources={
            "minimization": MinimizationResource(
                data_dir=str(settings.data_dir), policy_path=str(settings.policy_path)
            ),
            "dbt": DbtCliResource(
                project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR), target=settings.dbt_target
            ),
        },
        # DuckDB allows one writer per file: steps of a run share one process, one at a time.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_settings())
