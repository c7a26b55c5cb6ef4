"""The Dagster wiring: the schedule, and asset keys that do not depend on the dbt target."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import dagster as dg
from dagster_dbt import dbt_assets

from minimization_pipeline.definitions import build_definitions
from minimization_pipeline.defs.automation import HOURLY_JOB
from minimization_pipeline.defs.dbt import MinimizationDbtTranslator
from minimization_pipeline.settings import DBT_PROJECT_DIR
from minimization_pipeline_tests.conftest import make_settings


def test_hourly_schedule_requests_the_whole_job(fresh_data: Path) -> None:
    defs = build_definitions(make_settings(fresh_data))
    schedule = defs.resolve_schedule_def("hourly_minimization_schedule")
    assert schedule.cron_schedule == "0 * * * *"
    assert schedule.job_name == HOURLY_JOB
    assert schedule.default_status is dg.DefaultScheduleStatus.RUNNING
    with dg.build_schedule_context(scheduled_execution_time=None) as context:
        requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert len(requests) == 1
    job = defs.resolve_job_def(HOURLY_JOB)
    selected = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert {"raw_safe/app/users", "customers", "public/customers"} <= selected
    assert not any(key.startswith("raw/") for key in selected), "RAW is external: never materialized by us"


def test_definitions_load_without_any_warehouse(tmp_path: Path) -> None:
    """A fresh clone has no data yet: the asset graph still comes from the policy."""
    defs = build_definitions(make_settings(tmp_path / "empty"))
    dg.Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/app/users", "raw_safe/stripe/charges", "public/customers"} <= keys


def _keys_for_target(target: str, target_path: Path, data_dir: Path) -> set[str]:
    subprocess.run(
        ["dbt", "parse", "--quiet", "--target", target, "--profiles-dir", str(DBT_PROJECT_DIR),
         "--project-dir", str(DBT_PROJECT_DIR), "--target-path", str(target_path)],
        check=True, env={**os.environ, "MINIMIZATION_DATA_DIR": str(data_dir)},
    )  # fmt: skip
    manifest = json.loads((target_path / "manifest.json").read_text())

    @dbt_assets(manifest=manifest, dagster_dbt_translator=MinimizationDbtTranslator(), name=f"dbt_{target}")
    def _models(context):
        yield from ()

    sources = {source["database"] for source in manifest["sources"].values()}
    keys = {key.to_user_string() for key in _models.keys} | {
        dep.to_user_string() for deps in _models.asset_deps.values() for dep in deps
    }
    return keys | {f"database:{database}" for database in sources}


def test_asset_keys_are_the_same_in_dev_and_prod(tmp_path: Path) -> None:
    dev = _keys_for_target("dev", tmp_path / "dev", tmp_path)
    prod = _keys_for_target("prod", tmp_path / "prod", tmp_path)
    assert "database:raw_safe" in dev and "database:raw" in prod, "the article's jinja switches the source database"
    assert {k for k in dev if not k.startswith("database:")} == {k for k in prod if not k.startswith("database:")}
    assert "raw_safe/app/users" in dev
