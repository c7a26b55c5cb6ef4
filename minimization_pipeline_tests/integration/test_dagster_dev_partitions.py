"""`dagster dev` for real, on the repository's partitioned policy: a week's backfill and the hourly schedule.

Two acceptance points of the partitioning feature, proved against the real command the way the UI drives it
(over GraphQL): a backfill of 168 hourly partitions of ``raw_safe/app/events`` launched from the asset's
"Materialize" dialog completes as ONE run (the asset's ``BackfillPolicy.single_run()``) and leaves the 168
partitions materialized; and the hourly schedule's "Test schedule" (a dry run for a tick at 2026-10-08 00:00
UTC) requests exactly the newest complete hour, 2026-10-07-23:00, whose run, launched as the dialog launches
it, succeeds.

The session's shared environment names a policy without partitions (``conftest.WHOLE_TABLES_POLICY``); this
module's `dagster dev` gets the repository's own ``minimization.yaml``. The demo data is thin (1,500 users):
most hours of the week have fewer than k events and are held back by design, which the backfill reports in
its materialization metadata instead of failing.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.policy import Treatment
from minimization_pipeline.settings import PROJECT_ROOT
from minimization_pipeline_tests.integration.helpers import open_warehouse
from minimization_pipeline_tests.integration.test_dagster_dev import (
    DagsterDev,
    path_of,
    running_dagster_dev,
    wait_for_run,
)

pytestmark = pytest.mark.slow

POLICY = PROJECT_ROOT / "minimization.yaml"
EVENTS = ["raw_safe", "app", "events"]
HOURLY_JOB = "hourly_minimization_job"
SCHEDULE = "hourly_minimization_schedule"
SENSOR = "raw_schema_sensor"
KEY_FORMAT = "%Y-%m-%d-%H:%M"
K = 5

WEEK_START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
WEEK_HOURS = 168
WEEK_KEYS = [(WEEK_START + dt.timedelta(hours=n)).strftime(KEY_FORMAT) for n in range(WEEK_HOURS)]
TICK = dt.datetime(2026, 10, 8, 0, 0, tzinfo=dt.UTC)
NEWEST_COMPLETE_HOUR = "2026-10-07-23:00"

BACKFILL_TIMEOUT = 240.0  # backfill daemon iteration + queue + a run worker loading the code location: ~60-90 s
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS"}
BACKFILL_BAD = {"FAILED", "COMPLETED_FAILED", "CANCELED", "CANCELING", "FAILING"}
BACKFILL_TAG = "dagster/backfill"
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

REPOSITORY_QUERY = """
query Repository($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode { repository { name location { name } } }
  }
}
"""

# What the asset's "Materialize" → partitions dialog sends for one asset (ui-core LaunchAssetChoosePartitionsDialog).
LAUNCH_BACKFILL_MUTATION = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PartitionKeysNotFoundError { message partitionKeys }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message stack }
  }
}
"""

BACKFILL_QUERY = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    __typename
    ... on PartitionBackfill {
      status
      numPartitions
      isAssetBackfill
      error { message stack }
      runs(limit: 1000) { runId status tags { key value } }
    }
    ... on BackfillNotFoundError { message }
    ... on PythonError { message stack }
  }
}
"""

RUNS_BY_TAG_QUERY = """
query RunsByTag($tags: [ExecutionTag!]) {
  runsOrError(filter: {tags: $tags}) {
    __typename
    ... on Runs { results { runId status } }
    ... on PythonError { message }
  }
}
"""

PARTITIONS_QUERY = """
query AssetPartitions($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode {
      partitionStats { numMaterialized numPartitions numFailed numMaterializing }
      assetPartitionStatuses {
        __typename
        ... on TimePartitionStatuses { ranges { startKey endKey status } }
      }
    }
  }
}
"""

RUN_QUERY = """
query Run($runId: ID!, $afterCursor: String) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      status
      jobName
      tags { key value }
      eventConnection(afterCursor: $afterCursor, limit: 1000) {
        cursor
        hasMore
        events {
          __typename
          ... on MaterializationEvent {
            assetKey { path }
            partition
            metadataEntries { label ... on IntMetadataEntry { intValue } }
          }
          ... on ExecutionStepFailureEvent { stepKey error { message } }
        }
      }
    }
  }
}
"""

SCHEDULE_QUERY = """
query Schedule($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename
    ... on Schedule { pipelineName scheduleState { id status } }
    ... on ScheduleNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

STOP_SCHEDULE_MUTATION = """
mutation StopSchedule($id: String!) {
  stopRunningSchedule(id: $id) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
  }
}
"""

# The "Test schedule" dialog (ui-core EvaluateScheduleDialog): evaluate the schedule for one tick, launch nothing.
SCHEDULE_DRY_RUN_MUTATION = """
mutation ScheduleDryRun($selectorData: ScheduleSelector!, $timestamp: Float) {
  scheduleDryRun(selectorData: $selectorData, timestamp: $timestamp) {
    __typename
    ... on DryRunInstigationTick {
      timestamp
      evaluationResult {
        runRequests {
          runKey
          jobName
          runConfigYaml
          tags { key value }
          assetSelection { path }
          assetChecks { assetKey { path } name }
        }
        skipReason
        error { message stack }
      }
    }
    ... on ScheduleNotFoundError { message }
    ... on PythonError { message stack }
  }
}
"""

# The dialog's "Launch all" (ui-core useLaunchMultipleRunsWithTelemetry).
LAUNCH_MULTIPLE_RUNS_MUTATION = """
mutation LaunchMultipleRuns($executionParamsList: [ExecutionParams!]!) {
  launchMultipleRuns(executionParamsList: $executionParamsList) {
    __typename
    ... on LaunchMultipleRunsResult {
      launchMultipleRunsResult {
        __typename
        ... on LaunchRunSuccess { run { runId } }
        ... on PipelineNotFoundError { message }
        ... on InvalidSubsetError { message }
        ... on RunConfigValidationInvalid { errors { message } }
        ... on PythonError { message stack }
      }
    }
    ... on PythonError { message stack }
  }
}
"""


@dataclass
class PartitionedDev:
    dev: DagsterDev
    location: str
    repository: str

    def schedule_selector(self) -> dict[str, str]:
        return {"repositoryLocationName": self.location, "repositoryName": self.repository, "scheduleName": SCHEDULE}


def publish_every_table(data_dir: Path) -> None:
    """RAW_SAFE as after a first deployment: every RAW table published, each partitioned one for an hour
    before its data starts (an empty slice, still the table with RAW's columns).

    `raw_schema_sensor`'s first tick republishes what RAW_SAFE lacks, partitioned tables over all of their
    ~26,000 hours in one run each: queued ahead of ours, those runs would take minutes and materialize the
    very partitions this module counts. With RAW_SAFE in parity the tick has nothing to do.
    """
    pipeline = Pipeline(data_dir, POLICY)
    policy = pipeline.policy()
    partitioned = policy.partitioned_tables()
    assert ("app", "events") in partitioned, f"{POLICY} no longer partitions app.events"
    present = [(table.schema, table.name) for table in pipeline.raw_catalog().tables]
    for key in present:
        table_policy = policy.table(*key)
        if table_policy is not None and table_policy.treatment is Treatment.EXCLUDE:
            continue
        start = partitioned[key].start if key in partitioned else None
        window = (start, start + dt.timedelta(hours=1)) if start is not None else None
        result = pipeline.publish_raw_safe(*key, window)
        assert result.published, f"{key}: {result.failed_checks}"
        if start is not None:
            assert result.rows == 0, f"{key}: the hour before the data starts published {result.rows} rows"
    sync = pipeline.schema_sync(present)
    assert not sync.drifted and not sync.new_to_replicate, sync.describe()


def raw_events(data_dir: Path, database: str, start: dt.datetime, end: dt.datetime) -> int:
    naive = [start.replace(tzinfo=None), end.replace(tzinfo=None)]
    with open_warehouse(data_dir, database) as connection:
        return connection.execute(
            f"SELECT count(*) FROM {database}.app.events WHERE occurred_at >= ? AND occurred_at < ?", naive
        ).fetchone()[0]


@pytest.fixture(scope="module")
def partitioned_dev(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> Iterator[PartitionedDev]:
    """`dagster dev` on the repository policy, a private copy of the demo RAW database and a private DAGSTER_HOME
    (one run at a time, as in `test_dagster_dev`: DuckDB has one writer per file)."""
    root = tmp_path_factory.mktemp("dagster_dev_partitions")
    data_dir = root / "data"
    data_dir.mkdir()
    shutil.copy(demo_data / "raw.duckdb", data_dir / "raw.duckdb")
    publish_every_table(data_dir)
    env = {
        "MINIMIZATION_POLICY": str(POLICY),  # not the session's WHOLE_TABLES_POLICY: partitions are the point
        "MINIMIZATION_SENSOR_INTERVAL": "3600",  # its first tick finds parity; no later tick within this module
    }
    with running_dagster_dev(root, data_dir, env) as dev:
        node = dev.graphql(REPOSITORY_QUERY, {"assetKey": {"path": EVENTS}})["assetNodeOrError"]
        assert node["__typename"] == "AssetNode", node
        loaded = PartitionedDev(dev, node["repository"]["location"]["name"], node["repository"]["name"])
        stop_the_real_schedule(loaded)
        yield loaded


def stop_the_real_schedule(loaded: PartitionedDev) -> None:
    """The schedule runs by default on the wall clock: a top of the hour during this module would queue a run of
    the current hour among ours. Switch it off as the UI's toggle does; its dry run works all the same."""
    schedule = loaded.dev.graphql(SCHEDULE_QUERY, {"selector": loaded.schedule_selector()})["scheduleOrError"]
    assert schedule["__typename"] == "Schedule", schedule
    assert schedule["pipelineName"] == HOURLY_JOB, schedule
    assert schedule["scheduleState"]["status"] == "RUNNING", schedule  # the default the code declares
    stopped = loaded.dev.graphql(STOP_SCHEDULE_MUTATION, {"id": schedule["scheduleState"]["id"]})
    result = stopped["stopRunningSchedule"]
    assert result["__typename"] == "ScheduleStateResult" and result["scheduleState"]["status"] == "STOPPED", result


def tags_of(entry: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in entry["tags"]}


def run_details(dev: DagsterDev, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run (status, job, tags) and all its events, page by page."""
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        run = dev.graphql(RUN_QUERY, {"runId": run_id, "afterCursor": cursor})["runOrError"]
        assert run["__typename"] == "Run", run
        connection = run["eventConnection"]
        events.extend(connection["events"])
        if not connection["hasMore"]:
            return run, events
        cursor = connection["cursor"]


def materializations(events: list[dict[str, Any]], key: list[str] | None) -> list[dict[str, Any]]:
    """The run's materializations of ``key`` (of any asset: None)."""
    return [
        event
        for event in events
        if event["__typename"] == "MaterializationEvent" and key in (None, event["assetKey"]["path"])
    ]


def int_metadata(event: dict[str, Any]) -> dict[str, int]:
    return {entry["label"]: entry["intValue"] for entry in event["metadataEntries"] if "intValue" in entry}


def wait_for_backfill(dev: DagsterDev, backfill_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + BACKFILL_TIMEOUT
    backfill: dict[str, Any] = {}
    while time.monotonic() < deadline:
        backfill = dev.graphql(BACKFILL_QUERY, {"backfillId": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        assert backfill["status"] not in BACKFILL_BAD, f"backfill {backfill_id}: {backfill}{dev.log_tail()}"
        if backfill["status"] in BACKFILL_DONE:
            return backfill
        assert dev.process.poll() is None, f"dagster dev exited with code {dev.process.returncode}{dev.log_tail()}"
        time.sleep(1.0)
    pytest.fail(f"backfill {backfill_id} still {backfill.get('status')} after {BACKFILL_TIMEOUT:.0f} s{dev.log_tail()}")


def test_a_week_backfill_launched_like_the_ui_is_one_run_and_materializes_its_168_hours(
    partitioned_dev: PartitionedDev,
) -> None:
    dev = partitioned_dev.dev
    started = time.monotonic()
    params = {
        "assetSelection": [{"path": EVENTS}],
        "partitionNames": WEEK_KEYS,
        "fromFailure": False,
        "tags": [],
    }
    launched = dev.graphql(LAUNCH_BACKFILL_MUTATION, {"backfillParams": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", f"{launched}{dev.log_tail()}"
    backfill_id = launched["backfillId"]

    backfill = wait_for_backfill(dev, backfill_id)
    print(f"\nbackfill of {WEEK_HOURS} hours {backfill['status']} after {time.monotonic() - started:.0f} s")
    assert backfill["isAssetBackfill"] and backfill["error"] is None, backfill
    assert backfill["numPartitions"] == WEEK_HOURS, backfill

    # BackfillPolicy.single_run(): one run over the whole range, not one per hour
    runs = backfill["runs"]
    assert len(runs) == 1, f"{len(runs)} runs for one backfill: {[run['runId'] for run in runs]}"
    run = runs[0]
    assert run["status"] == "SUCCESS", f"{run}{dev.log_tail()}"
    tags = tags_of(run)
    assert tags.get(BACKFILL_TAG) == backfill_id, tags
    assert (tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)) == (WEEK_KEYS[0], WEEK_KEYS[-1]), tags
    tagged = dev.graphql(RUNS_BY_TAG_QUERY, {"tags": [{"key": BACKFILL_TAG, "value": backfill_id}]})["runsOrError"]
    assert tagged["__typename"] == "Runs", tagged
    assert [r["runId"] for r in tagged["results"]] == [run["runId"]], tagged

    # the asset's partitions, as the UI's partition bar reads them: exactly the week, nothing failed
    node = dev.graphql(PARTITIONS_QUERY, {"assetKey": {"path": EVENTS}})["assetNodeOrError"]
    assert node["__typename"] == "AssetNode", node
    stats = node["partitionStats"]
    assert stats["numMaterialized"] == WEEK_HOURS, stats
    assert stats["numFailed"] == 0 and stats["numMaterializing"] == 0, stats
    assert stats["numPartitions"] > WEEK_HOURS, stats  # hourly since 2023-11-01: the week is a slice of it
    statuses = node["assetPartitionStatuses"]
    assert statuses["__typename"] == "TimePartitionStatuses", statuses
    assert statuses["ranges"] == [{"startKey": WEEK_KEYS[0], "endKey": WEEK_KEYS[-1], "status": "MATERIALIZED"}], (
        statuses
    )

    # one materialization per hour of the range, from that one run, reporting the thin hours held back
    run_info, events = run_details(dev, run["runId"])
    assert run_info["status"] == "SUCCESS", run_info["status"]
    published = materializations(events, EVENTS)
    assert sorted(event["partition"] for event in published) == WEEK_KEYS
    assert len(published) == len(materializations(events, None)), "the backfill materialized another asset"
    figures = int_metadata(published[0])
    week_end = WEEK_START + dt.timedelta(hours=WEEK_HOURS)
    in_raw = raw_events(dev.data_dir, "raw", WEEK_START, week_end)
    in_raw_safe = raw_events(dev.data_dir, "raw_safe", WEEK_START, week_end)
    print(f"week: {in_raw} events in RAW, {figures}")
    assert figures["rows_held_back"] > 0, figures  # 1,500 demo users: most hours have fewer than k events
    assert figures["partitions_held_back"] > 0, figures
    assert figures["slice_rows"] + figures["rows_held_back"] == in_raw, (figures, in_raw)
    assert in_raw_safe == figures["slice_rows"], (in_raw_safe, figures)
    with open_warehouse(dev.data_dir, "raw_safe") as connection:
        thinnest = connection.execute(
            "SELECT min(n) FROM (SELECT count(*) AS n FROM raw_safe.app.events WHERE occurred_at >= ? "
            "AND occurred_at < ? GROUP BY date_trunc('hour', occurred_at))",
            [WEEK_START.replace(tzinfo=None), week_end.replace(tzinfo=None)],
        ).fetchone()[0]
    assert thinnest is not None and thinnest >= K, f"an hour was published with {thinnest} < k={K} rows"


def test_the_hourly_schedule_tested_like_the_ui_runs_the_newest_complete_hour(partitioned_dev: PartitionedDev) -> None:
    dev = partitioned_dev.dev
    started = time.monotonic()
    selector = partitioned_dev.schedule_selector()
    variables = {"selectorData": selector, "timestamp": TICK.timestamp()}
    tick = dev.graphql(SCHEDULE_DRY_RUN_MUTATION, variables)["scheduleDryRun"]
    assert tick["__typename"] == "DryRunInstigationTick", tick
    evaluation = tick["evaluationResult"]
    assert evaluation["error"] is None and evaluation["skipReason"] is None, evaluation
    requests = evaluation["runRequests"]
    assert len(requests) == 1, requests
    request = requests[0]
    assert tags_of(request).get(PARTITION_TAG) == NEWEST_COMPLETE_HOUR, request
    assert request["jobName"] in (None, HOURLY_JOB), request

    # "Launch all", as the dialog builds it (dagster-webserver 1.13's bundle, buildExecutionParamsListSchedule)
    params = {
        "runConfigData": request["runConfigYaml"],
        "selector": {
            "jobName": request["jobName"] or HOURLY_JOB,
            "repositoryLocationName": selector["repositoryLocationName"],
            "repositoryName": selector["repositoryName"],
            "assetSelection": [{"path": key["path"]} for key in request["assetSelection"] or []],
            "assetCheckSelection": [
                {"assetKey": {"path": check["assetKey"]["path"]}, "name": check["name"]}
                for check in request["assetChecks"] or []
            ],
        },
        "mode": "default",
        "executionMetadata": {"tags": request["tags"]},
    }
    launched = dev.graphql(LAUNCH_MULTIPLE_RUNS_MUTATION, {"executionParamsList": [params]})["launchMultipleRuns"]
    assert launched["__typename"] == "LaunchMultipleRunsResult", f"{launched}{dev.log_tail()}"
    results = launched["launchMultipleRunsResult"]
    assert len(results) == 1 and results[0]["__typename"] == "LaunchRunSuccess", f"{results}{dev.log_tail()}"
    run_id = results[0]["run"]["runId"]

    status = wait_for_run(dev, run_id)
    run, events = run_details(dev, run_id)
    failures = [event for event in events if event["__typename"] == "ExecutionStepFailureEvent"]
    assert status == "SUCCESS", f"run {run_id} ended {status}: {failures}{dev.log_tail()}"
    print(f"\nschedule run for {NEWEST_COMPLETE_HOUR} {status} after {time.monotonic() - started:.0f} s")
    assert run["jobName"] == HOURLY_JOB, run["jobName"]
    assert tags_of(run).get(PARTITION_TAG) == NEWEST_COMPLETE_HOUR, tags_of(run)
    published = materializations(events, EVENTS)
    assert [event["partition"] for event in published] == [NEWEST_COMPLETE_HOUR], published
    # the whole hourly job ran (the run request selects no subset): every partitioned asset for that hour only
    by_partition = [(path_of(e["assetKey"]), e["partition"]) for e in materializations(events, None) if e["partition"]]
    assert {"raw_safe/app/events", "raw_safe/app/orders", "raw_safe/stripe/charges"} <= {k for k, _ in by_partition}
    assert {partition for _, partition in by_partition} == {NEWEST_COMPLETE_HOUR}, by_partition
    figures = int_metadata(published[0])
    in_raw = raw_events(dev.data_dir, "raw", TICK - dt.timedelta(hours=1), TICK)
    print(f"{NEWEST_COMPLETE_HOUR}: {in_raw} events in RAW, {figures}")
    assert in_raw > 0 and figures["slice_rows"] + figures["rows_held_back"] == in_raw, (figures, in_raw)
