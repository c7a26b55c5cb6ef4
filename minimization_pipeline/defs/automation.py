"""The hourly job (RAW_SAFE → dbt → PUBLIC, ordered by the asset graph), its schedule, a daily job for
day-partitioned tables, and the job the schema sensor uses to bring RAW_SAFE tables back into parity.

Partitioned tables: the hourly schedule runs the newest complete hour of every hour-partitioned table
with everything unpartitioned (Dagster runs one partitions definition per job, and unpartitioned assets
alongside it); day-partitioned tables have their own daily job and schedule.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from minimization_pipeline.defs.partitions import PARTITION_TAG, UNPARTITIONED
from minimization_pipeline.policy import Grain

HOURLY_JOB = "hourly_minimization_job"
DAILY_JOB = "daily_minimization_job"
SYNC_JOB = "raw_safe_sync_job"

#: RAW_SAFE copies of tables RAW has (not of dropped tables, nor of tables the policy names before they exist).
LIVE_RAW_SAFE = (
    dg.AssetSelection.groups("raw_safe")
    - dg.AssetSelection.tag("minimization/raw", "dropped")
    - dg.AssetSelection.tag("minimization/raw", "absent")
)
DOWNSTREAM = dg.AssetSelection.groups("public", "dbt_staging", "dbt_marts", "dbt", "report")


def _grain(grain: str) -> dg.AssetSelection:
    return dg.AssetSelection.tag(PARTITION_TAG, grain)


@dataclass(frozen=True)
class Automation:
    jobs: list[dg.UnresolvedAssetJobDefinition]
    schedules: list[dg.ScheduleDefinition | dg.UnresolvedPartitionedAssetScheduleDefinition]


def build_automation(partitions: dict[str, dg.PartitionsDefinition]) -> Automation:
    """Jobs and schedules for the grains in use (``partitions``: one definition per grain, see
    `partitions.grains`)."""
    hourly = partitions.get(Grain.HOUR.value)
    daily = partitions.get(Grain.DAY.value)
    hourly_job = dg.define_asset_job(
        HOURLY_JOB,
        # RAW_SAFE copies of dropped (or not yet created) RAW tables are kept but not refreshed.
        selection=(LIVE_RAW_SAFE - _grain(Grain.DAY.value)) | DOWNSTREAM,
        partitions_def=hourly,
        description="Anonymize RAW into RAW_SAFE (the newest hour of partitioned tables), build the dbt project, "
        "publish PUBLIC.",
    )
    sync_job = dg.define_asset_job(
        SYNC_JOB,
        selection=LIVE_RAW_SAFE & _grain(UNPARTITIONED),
        description="Re-publish the RAW_SAFE tables raw_schema_sensor found out of step with RAW.",
    )
    jobs = [hourly_job, sync_job]
    schedules: list = []
    if hourly is not None:
        # the newest complete hour, at minute 0 (a partitioned job's schedule runs its latest partition)
        schedules.append(
            dg.build_schedule_from_partitioned_job(
                hourly_job,
                name="hourly_minimization_schedule",
                minute_of_hour=0,
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        )
    else:
        schedules.append(
            dg.ScheduleDefinition(
                name="hourly_minimization_schedule",
                job=hourly_job,
                cron_schedule="0 * * * *",
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        )
    if daily is not None:
        daily_job = dg.define_asset_job(
            DAILY_JOB,
            selection=LIVE_RAW_SAFE & _grain(Grain.DAY.value),
            partitions_def=daily,
            description="Anonymize yesterday's partition of every day-partitioned RAW_SAFE table.",
        )
        jobs.append(daily_job)
        schedules.append(
            dg.build_schedule_from_partitioned_job(
                daily_job,
                name="daily_minimization_schedule",
                minute_of_hour=5,
                hour_of_day=0,
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        )
    return Automation(jobs, schedules)
