"""Everything assembled: RAW specs, RAW_SAFE assets, dbt, PUBLIC, the hourly job, its schedule, the sensor.

The asset graph is built from the policy and the catalogs (live, or their last snapshots when a file is
locked or not created yet): every table RAW has, every table the policy names (there before any data is),
and every RAW_SAFE copy whose RAW table was dropped (kept, marked, not refreshed). The catalog is this
code location's state: when RAW gains or loses a table, `raw_schema_sensor` has the location reloaded.
"""

from __future__ import annotations

import os
import warnings

import dagster as dg
from dagster_dbt import DbtCliResource

from minimization_pipeline.defs.automation import DAILY_JOB, HOURLY_JOB, SYNC_JOB, build_automation
from minimization_pipeline.defs.grants import warehouse_grants
from minimization_pipeline.defs.partitions import grain_of, grains, partitions_definitions
from minimization_pipeline.defs.raw import raw_specs
from minimization_pipeline.defs.raw_safe import ABSENT, DROPPED, PRESENT, matches_raw_schema_check, raw_safe_assets
from minimization_pipeline.defs.replicate import replicate_new_raw_tables
from minimization_pipeline.defs.report import privacy_report_asset
from minimization_pipeline.defs.resources import load_time_pipeline, minimization_resource
from minimization_pipeline.defs.retention import retention_asset
from minimization_pipeline.defs.sensors import build_raw_schema_sensor
from minimization_pipeline.policy import Treatment
from minimization_pipeline.settings import DBT_PROJECT_DIR, Settings, load_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    # dbt's profile finds the warehouse files through this variable; keep it equal to ours.
    os.environ["MINIMIZATION_DATA_DIR"] = str(settings.data_dir)
    from minimization_pipeline.defs.dbt import build_dbt_assets
    from minimization_pipeline.defs.public import linked_public_assets, public_asset

    with load_time_pipeline(settings) as pipeline:
        policy = pipeline.policy()
        catalog = pipeline.raw_catalog_or_snapshot()
        copies = {(t.schema, t.name) for t in pipeline.raw_safe_catalog_or_snapshot(catalog).tables}
    present = {(t.schema, t.name) for t in catalog.tables}
    statuses = {table: PRESENT for table in present}
    statuses |= {table: DROPPED for table in copies - present}
    statuses |= {table: ABSENT for table in set(policy.named_tables()) - present - copies}
    excluded = {
        table for table in statuses if (p := policy.table(*table)) is not None and p.treatment is Treatment.EXCLUDE
    }
    replicated = {table: status for table, status in statuses.items() if table not in excluded}
    safe_assets = raw_safe_assets(replicated, policy)
    retained = [
        key
        for key in policy.partitioned_tables()
        if key in replicated and (t := policy.table(*key)) is not None and t.keep_identifiable is not None
    ]
    partitioned = partitions_definitions(policy)
    automation = build_automation(grains(partitioned))
    job_of_grain = {"hour": HOURLY_JOB, "day": DAILY_JOB}
    rebuilds = {table: (job_of_grain[grain_of(d)], d) for table, d in partitioned.items() if table in replicated}
    public_assets = [
        public_asset(
            group[0],
            settings.dbt_models_database,
            bool(policy.public.tables[group[0]].l_diversity),
            settings.dbt_schema,
            settings.warehouse,
        )
        if len(group) == 1
        else linked_public_assets(
            group, policy.public, settings.dbt_models_database, settings.dbt_schema, settings.warehouse
        )
        for group in policy.public.linked_groups()
    ]
    reported = [a.key for a in safe_assets] + [key for a in public_assets for key in a.keys]
    return dg.Definitions(
        assets=[
            *raw_specs(statuses, catalog),
            *safe_assets,
            *([retention_asset(retained)] if retained else []),
            *build_dbt_assets(grains(partitioned).get("hour")),
            *public_assets,
            privacy_report_asset(reported),
        ],
        asset_checks=[
            *(matches_raw_schema_check(*table) for table, status in sorted(replicated.items()) if status == PRESENT),
            *_column_schema_change_checks([a.key for a in safe_assets]),
        ],
        jobs=[*automation.jobs, replicate_new_raw_tables, warehouse_grants],
        schedules=automation.schedules,
        sensors=[
            build_raw_schema_sensor(
                frozenset(present),
                settings.sensor_interval_s,
                settings.dagster_url,
                [job for job in automation.jobs if job.name in {SYNC_JOB, *(j for j, _ in rebuilds.values())}],
                rebuilds,
            )
        ],
        resources={
            "minimization": minimization_resource(settings),
            "dbt": DbtCliResource(
                project_dir=str(DBT_PROJECT_DIR),
                profiles_dir=str(DBT_PROJECT_DIR),
                profile=settings.dbt_profile,
                target=settings.dbt_target,
            ),
        },
        # DuckDB allows one writer per file: steps of a run share one process, one at a time.
        executor=dg.in_process_executor,
    )


def _column_schema_change_checks(keys: list[dg.AssetKey]) -> list[dg.AssetChecksDefinition]:
    """Dagster's own check (beta): warns when a copy's columns differ from its previous materialization."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return list(dg.build_column_schema_change_checks(assets=keys))


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_settings())
