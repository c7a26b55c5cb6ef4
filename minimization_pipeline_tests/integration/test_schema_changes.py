"""RAW changes under a running pipeline: the sensor brings RAW_SAFE back into parity, fail-closed.

The acceptance scenario through Dagster's APIs: a loader creates ``raw.crm.contacts`` and adds
``raw.app.users.personal_email``; sensor ticks (``build_sensor_context``) request the runs, the code
location "reload" is a fresh ``build_definitions`` (what the reload does in `dagster dev`, where
``test_dagster_dev`` proves the real thing), and the runs publish both, with no RAW PII in RAW_SAFE.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from minimization_pipeline.definitions import build_definitions
from minimization_pipeline.defs.automation import HOURLY_JOB, SYNC_JOB
from minimization_pipeline.defs.replicate import JOB_NAME as REPLICATE_JOB
from minimization_pipeline.defs.resources import MinimizationResource
from minimization_pipeline.defs.sensors import SENSOR_NAME
from minimization_pipeline.demo.schema_change import apply_schema_change, check_raw_safe
from minimization_pipeline.settings import Settings
from minimization_pipeline_tests.conftest import PipelineRun, copy_run_data, make_settings
from minimization_pipeline_tests.integration.helpers import open_warehouse

CONTACTS = dg.AssetKey(["raw_safe", "crm", "contacts"])
USERS = dg.AssetKey(["raw_safe", "app", "users"])


def tick(defs: dg.Definitions, settings: Settings, instance: dg.DagsterInstance, cursor: str | None):
    """One sensor evaluation, as the daemon does it."""
    resources = {
        "minimization": MinimizationResource(data_dir=str(settings.data_dir), policy_path=str(settings.policy_path))
    }
    # a context manager: the resource nests another (Snowflake's, unset here), which Dagster opens as one
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return defs.resolve_sensor_def(SENSOR_NAME)(context)


def run(defs: dg.Definitions, instance: dg.DagsterInstance, selection: list[dg.AssetKey]) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(asset_selection=selection, instance=instance, raise_on_error=False)


@pytest.fixture
def changed(pipeline_run: PipelineRun, tmp_path: Path):
    """A copy of a finished run's warehouse, the definitions loaded on it, and the sensor's baseline."""
    settings = make_settings(copy_run_data(pipeline_run, tmp_path / "data"))
    instance = dg.DagsterInstance.ephemeral()
    defs = build_definitions(settings)
    baseline = tick(defs, settings, instance, None)
    assert not baseline.run_requests and "in parity" in baseline.skip_reason.skip_message
    return settings, instance, defs, baseline.cursor


def execute(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """Run a sensor's request the way the daemon would: its job, its selection, its config."""
    job = defs.resolve_job_def(request.job_name)
    return job.execute_in_process(
        run_config=request.run_config,
        asset_selection=request.asset_selection,
        instance=instance,
        tags=request.tags,
        raise_on_error=False,
    )


def test_new_table_and_new_column_reach_raw_safe_treated_without_leaks(changed) -> None:
    settings, instance, defs, cursor = changed
    written = apply_schema_change(settings.data_dir)
    assert written == {"crm.contacts": 400, "app.users.personal_email": 1_500}

    # Tick 1, definitions loaded before the change: both are published now (the new table by the job
    # that needs no asset), and the code location is asked to reload.
    first = tick(defs, settings, instance, cursor)
    assert first.cursor != cursor
    requests = {request.job_name: request for request in first.run_requests}
    assert set(requests) == {SYNC_JOB, REPLICATE_JOB}
    assert requests[SYNC_JOB].asset_selection == [USERS]
    assert requests[REPLICATE_JOB].run_config["ops"]["publish_new_raw_tables"]["config"] == {"tables": ["crm.contacts"]}
    observed = {event.asset_key: event.metadata for event in first.asset_events}
    assert "personal_email" in {
        c.name for c in observed[dg.AssetKey(["raw", "app", "users"])]["dagster/column_schema"].schema.columns
    }
    assert not defs.resolve_asset_graph().has(CONTACTS)
    results = [execute(defs, instance, request) for request in first.run_requests]
    assert all(result.success for result in results)

    outcome = check_raw_safe(settings.data_dir)
    assert outcome.ready, outcome.detail
    assert outcome.leaks and not any(outcome.leaks.values()), outcome.leaks
    with open_warehouse(settings.data_dir, "raw", "raw_safe") as connection:
        columns = (
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = ? AND table_schema = 'crm' AND table_name = 'contacts' ORDER BY ordinal_position"
        )
        # schema-preserving: same columns, order and types
        assert connection.execute(columns, ["raw_safe"]).fetchall() == connection.execute(columns, ["raw"]).fetchall()
        kept = connection.execute(
            "SELECT count(*) FROM raw_safe.app.users s JOIN raw.app.users r ON s.id = r.id "
            "WHERE s.personal_email = r.personal_email"
        ).fetchone()[0]
        assert kept == 0
    replicated = instance.get_latest_materialization_event(CONTACTS)
    assert replicated is not None  # in the asset's history before the asset is even defined
    assert "classified" in replicated.asset_materialization.metadata["columns"].value  # why, per column

    # The reload: definitions built again from the catalog list the new table as assets of its own,
    # and the next tick finds everything in parity.
    reloaded = build_definitions(settings)
    graph = reloaded.resolve_asset_graph()
    assert graph.has(CONTACTS) and graph.has(dg.AssetKey(["raw", "crm", "contacts"]))
    second = tick(reloaded, settings, instance, first.cursor)
    assert not second.run_requests and "in parity" in second.skip_reason.skip_message


def test_a_dropped_table_keeps_its_copy_marked_and_out_of_the_hourly_job(changed) -> None:
    settings, instance, _defs, _cursor = changed
    with duckdb.connect(str(settings.data_dir / "raw.duckdb")) as connection:
        connection.execute("DROP TABLE stripe.charges")
    reloaded = build_definitions(settings)
    key = dg.AssetKey(["raw_safe", "stripe", "charges"])
    spec = next(s for s in reloaded.resolve_all_asset_specs() if s.key == key)
    assert spec.tags["minimization/raw"] == "dropped" and "DROPPED FROM RAW" in spec.description
    assert key not in reloaded.resolve_job_def(HOURLY_JOB).asset_layer.selected_asset_keys
    with open_warehouse(settings.data_dir, "raw_safe") as connection:
        assert connection.execute("SELECT count(*) FROM raw_safe.stripe.charges").fetchone()[0] > 0
    failed = run(reloaded, instance, [key])
    assert not failed.success
    assert "was dropped from RAW" in str(failed.failure_data_for_node("raw_safe__stripe__charges").error)
    with open_warehouse(settings.data_dir, "raw_safe") as connection:
        assert connection.execute("SELECT count(*) FROM raw_safe.stripe.charges").fetchone()[0] > 0


def test_a_sensor_built_before_a_drop_asks_for_a_reload(changed) -> None:
    settings, instance, defs, cursor = changed
    with duckdb.connect(str(settings.data_dir / "raw.duckdb")) as connection:
        connection.execute("DROP TABLE stripe.charges")
    result = tick(defs, settings, instance, cursor)
    assert not result.run_requests
    assert "stripe.charges" in result.skip_reason.skip_message
    assert "reload" in result.skip_reason.skip_message


def test_a_tick_that_meets_a_lock_skips_with_the_reason(changed) -> None:
    settings, instance, defs, cursor = changed
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"c = duckdb.connect({str(settings.data_dir / 'raw.duckdb')!r})\nprint('held', flush=True)\ntime.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = tick(defs, settings, instance, cursor)
    finally:
        holder.kill()
        holder.wait()
    assert not result.run_requests
    assert "locked by another process" in result.skip_reason.skip_message
    assert result.cursor is None  # the baseline stays: the next tick compares again


def test_a_broken_copy_is_found_without_any_raw_change(changed) -> None:
    """Parity is RAW against RAW_SAFE, not RAW against its past: a copy that lost a column is re-published."""
    settings, instance, defs, cursor = changed
    with duckdb.connect(str(settings.data_dir / "raw_safe.duckdb")) as connection:
        connection.execute("ALTER TABLE app.orders DROP COLUMN shipping_zip")
    result = tick(defs, settings, instance, cursor)
    (request,) = result.run_requests
    assert request.asset_selection == [dg.AssetKey(["raw_safe", "app", "orders"])]
    assert run(defs, instance, request.asset_selection).success
    assert not tick(defs, settings, instance, result.cursor).run_requests


def test_matches_raw_schema_fails_on_a_copy_raw_has_moved_away_from(changed) -> None:
    """The blocking parity check compares the published copy with live RAW and names what differs."""
    settings, instance, defs, _cursor = changed
    with duckdb.connect(str(settings.data_dir / "raw.duckdb")) as connection:
        connection.execute("ALTER TABLE app.plans ADD COLUMN promo_code VARCHAR")
    key = dg.AssetCheckKey(dg.AssetKey(["raw_safe", "app", "plans"]), "matches_raw_schema")
    only_the_check = dg.define_asset_job("parity_only", selection=dg.AssetSelection.checks(key))
    job = dg.Definitions.merge(defs, dg.Definitions(jobs=[only_the_check])).resolve_job_def("parity_only")
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    assert "new columns promo_code" in evaluation.description
