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
from minimization_pipeline.defs.automation import HOURLY_JOB
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
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
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


def test_new_table_and_new_column_reach_raw_safe_treated_without_leaks(changed) -> None:
    settings, instance, defs, cursor = changed
    written = apply_schema_change(settings.data_dir)
    assert written == {"crm.contacts": 400, "app.users.personal_email": 1_500}

    # Tick 1, old definitions: the changed table is re-published now; the new one needs the reload.
    first = tick(defs, settings, instance, cursor)
    assert first.cursor != cursor
    assert [request.asset_selection for request in first.run_requests] == [[USERS]]
    observed = {event.asset_key: event.metadata for event in first.asset_events}
    assert "personal_email" in {
        c.name for c in observed[dg.AssetKey(["raw", "app", "users"])]["dagster/column_schema"].schema.columns
    }
    assert not defs.resolve_asset_graph().has(CONTACTS)

    # The reload: definitions built again from the catalog now list the new table as its own assets.
    reloaded = build_definitions(settings)
    graph = reloaded.resolve_asset_graph()
    assert graph.has(CONTACTS) and graph.has(dg.AssetKey(["raw", "crm", "contacts"]))
    second = tick(reloaded, settings, instance, first.cursor)
    (request,) = second.run_requests
    assert sorted(request.asset_selection) == sorted([USERS, CONTACTS])
    assert request.run_key != first.run_requests[0].run_key  # not deduplicated away by tick 1's request

    result = run(reloaded, instance, request.asset_selection)
    assert result.success
    outcome = check_raw_safe(settings.data_dir)
    assert outcome.ready, outcome.detail
    assert outcome.leaks and not any(outcome.leaks.values()), outcome.leaks
    with open_warehouse(settings.data_dir, "raw", "raw_safe") as connection:
        described = dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_catalog = 'raw_safe' AND table_schema = 'crm' AND table_name = 'contacts'"
            ).fetchall()
        )
        raw_described = dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_catalog = 'raw' AND table_schema = 'crm' AND table_name = 'contacts'"
            ).fetchall()
        )
        assert described == raw_described  # schema-preserving: same columns and types
        hashed = connection.execute(
            "SELECT count(*) FROM raw_safe.app.users s JOIN raw.app.users r ON s.id = r.id "
            "WHERE s.personal_email = r.personal_email"
        ).fetchone()[0]
        assert hashed == 0
    columns_md = result.asset_materializations_for_node("raw_safe__crm__contacts")[0].metadata["columns"].value
    assert "classified" in columns_md  # the UI says why each column got its treatment

    # Back in parity: the next tick requests nothing.
    third = tick(reloaded, settings, instance, second.cursor)
    assert not third.run_requests and "in parity" in third.skip_reason.skip_message


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
