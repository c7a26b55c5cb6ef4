"""The hourly job (RAW_SAFE → dbt → PUBLIC, ordered by the asset graph) and its schedule."""

from __future__ import annotations

import dagster as dg

HOURLY_JOB = "hourly_minimization_job"

hourly_minimization_job = dg.define_asset_job(
    HOURLY_JOB,
    # RAW_SAFE copies of dropped (or not yet created) RAW tables are kept but not refreshed.
    selection=(
        dg.AssetSelection.groups("raw_safe")
        - dg.AssetSelection.tag("minimization/raw", "dropped")
        - dg.AssetSelection.tag("minimization/raw", "absent")
    )
    | dg.AssetSelection.groups("public", "dbt_staging", "dbt_marts", "dbt"),
    description="Anonymize RAW into RAW_SAFE, build the dbt project, publish PUBLIC.",
)

hourly_minimization_schedule = dg.ScheduleDefinition(
    name="hourly_minimization_schedule",
    job=hourly_minimization_job,
    cron_schedule="0 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
