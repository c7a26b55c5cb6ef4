"""The hourly job (RAW_SAFE → dbt → PUBLIC, ordered by the asset graph), its schedule, and the job the
schema sensor uses to bring RAW_SAFE tables back into parity."""

from __future__ import annotations

import dagster as dg

HOURLY_JOB = "hourly_minimization_job"
SYNC_JOB = "raw_safe_sync_job"

#: RAW_SAFE copies of tables RAW has (not of dropped tables, nor of tables the policy names before they exist).
LIVE_RAW_SAFE = (
    dg.AssetSelection.groups("raw_safe")
    - dg.AssetSelection.tag("minimization/raw", "dropped")
    - dg.AssetSelection.tag("minimization/raw", "absent")
)

hourly_minimization_job = dg.define_asset_job(
    HOURLY_JOB,
    # RAW_SAFE copies of dropped (or not yet created) RAW tables are kept but not refreshed.
    selection=LIVE_RAW_SAFE | dg.AssetSelection.groups("public", "dbt_staging", "dbt_marts", "dbt"),
    description="Anonymize RAW into RAW_SAFE, build the dbt project, publish PUBLIC.",
)

raw_safe_sync_job = dg.define_asset_job(
    SYNC_JOB,
    selection=LIVE_RAW_SAFE,
    description="Re-publish the RAW_SAFE tables raw_schema_sensor found out of step with RAW.",
)

hourly_minimization_schedule = dg.ScheduleDefinition(
    name="hourly_minimization_schedule",
    job=hourly_minimization_job,
    cron_schedule="0 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
