"""Retention on real DuckDB files: RAW rows older than `keep_identifiable` go only where RAW_SAFE holds
their partition verified, and the history view still returns every row once (anonymized before the window).

RAW is the demo's with `app.events` in 72 dense hours (see `test_partitions.dense`); the policy is the
repository's with `keep_identifiable: 24h` on events, and "now" is fixed at the end of those hours, so the
first 48 hours are out of the window.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import yaml

from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.policy import PolicyError
from minimization_pipeline.settings import PROJECT_ROOT
from minimization_pipeline_tests.integration.helpers import open_warehouse
from minimization_pipeline_tests.integration.test_partitions import HOURS, THIN_HOUR, dense, hour, raw_rows

__all__ = ["dense"]  # the fixture, imported for pytest

NOW = hour(HOURS)
CUTOFF = NOW - dt.timedelta(hours=24)


@pytest.fixture
def retained_policy(tmp_path: Path) -> Path:
    policy = yaml.safe_load((PROJECT_ROOT / "minimization.yaml").read_text())
    policy["sources"]["app"]["tables"]["events"]["keep_identifiable"] = "24h"
    path = tmp_path / "minimization.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


def raw_ids(data_dir: Path, database: str, where: str = "TRUE") -> set[int]:
    with open_warehouse(data_dir, database) as connection:
        rows = connection.execute(f"SELECT id FROM {database}.app.events WHERE {where}").fetchall()
    return {row[0] for row in rows}


def history(data_dir: Path) -> list[tuple]:
    with open_warehouse(data_dir, "raw", "raw_safe", "analytics") as connection:
        return connection.execute("SELECT id, occurred_at FROM analytics.retained.app__events ORDER BY id").fetchall()


def test_retention_deletes_nothing_where_a_partition_is_not_verified(dense: Path, retained_policy: Path) -> None:
    """Nothing published yet: every old partition fails its comparison, RAW keeps every row."""
    pipeline = Pipeline(dense, retained_policy)
    before = raw_rows(dense, hour(0), NOW)
    report = pipeline.apply_retention("app", "events", NOW)
    assert report.rows_deleted == 0 and report.partitions_deleted == 0
    assert raw_rows(dense, hour(0), NOW) == before
    assert len(report.blocked) == 48
    assert all("RAW_SAFE 0" in reason for reason in report.blocked.values())


def test_retention_deletes_exactly_the_verified_out_of_window_rows(dense: Path, retained_policy: Path) -> None:
    pipeline = Pipeline(dense, retained_policy)
    pipeline.publish_raw_safe("app", "events", (hour(0), NOW))
    # hour 10 gets a late row after publishing: RAW and RAW_SAFE now differ there, so it must stay
    with duckdb.connect(str(dense / "raw.duckdb")) as connection:
        connection.execute(
            "INSERT INTO app.events SELECT 888888888, user_id, TIMESTAMP '2026-10-01 10:20:00', ip_address, "
            "user_agent, 'late' FROM app.events LIMIT 1"
        )
    all_ids = raw_ids(dense, "raw")
    kept_hours = {hour(10), THIN_HOUR}  # unverified: a late row; held back (3 rows < k)
    expected_deleted = {
        i
        for h in range(48)
        if hour(h) not in kept_hours
        for i in raw_ids(dense, "raw", f"occurred_at >= '{hour(h)}' AND occurred_at < '{hour(h + 1)}'")
    }
    report = pipeline.apply_retention("app", "events", NOW)
    remaining = raw_ids(dense, "raw")
    assert all_ids - remaining == expected_deleted, "deleted rows other than the verified out-of-window ones"
    assert report.rows_deleted == len(expected_deleted) and report.partitions_deleted == 46
    assert set(report.blocked) == {f"{h:%Y-%m-%d %H:%M:%S}" for h in kept_hours}
    assert raw_rows(dense, CUTOFF, NOW) == raw_rows(dense, CUTOFF, NOW, "raw_safe"), "rows inside the window went"

    # the history view: every row exactly once -- RAW where RAW has the partition, RAW_SAFE where it does not
    rows = history(dense)
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids)) == len(all_ids)
    assert set(ids) == all_ids
    with open_warehouse(dense, "raw", "raw_safe", "analytics") as connection:
        anonymized = connection.execute(
            "SELECT count(*) FROM analytics.retained.app__events h JOIN raw_safe.app.events s USING (id) "
            "WHERE h.ip_address = s.ip_address AND h.occurred_at < ?",
            [CUTOFF],
        ).fetchone()[0]
    assert anonymized == len(expected_deleted), "history before the window must come from RAW_SAFE"

    # a second pass finds nothing new to delete and keeps the view whole
    again = pipeline.apply_retention("app", "events", NOW)
    assert again.rows_deleted == 0
    assert len(history(dense)) == len(all_ids)


def test_retention_is_off_unless_the_policy_asks(dense: Path) -> None:
    with pytest.raises(PolicyError, match="no keep_identifiable"):
        Pipeline(dense, PROJECT_ROOT / "minimization.yaml").apply_retention("app", "events", NOW)


def test_the_retention_asset_runs_after_the_backfill_in_the_same_run(
    dense: Path, retained_policy: Path, session_env: Path
) -> None:
    """Through Dagster: a backfill of the 72 hours and `retention` in one run of the hourly job. "Now" is the
    real clock, weeks after these hours, so every published hour is out of the 24-hour window."""
    import dagster as dg
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from minimization_pipeline.definitions import build_definitions
    from minimization_pipeline.defs.automation import HOURLY_JOB
    from minimization_pipeline.defs.retention import RETENTION_KEY
    from minimization_pipeline_tests.conftest import make_settings
    from minimization_pipeline_tests.integration.test_partitions import EVENTS_KEY

    job = build_definitions(make_settings(dense, retained_policy)).resolve_job_def(HOURLY_JOB)
    assert RETENTION_KEY in job.asset_layer.executable_asset_keys
    before = raw_rows(dense, hour(0), NOW)
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        asset_selection=[EVENTS_KEY, RETENTION_KEY],
        tags={
            ASSET_PARTITION_RANGE_START_TAG: f"{hour(0):%Y-%m-%d-%H:%M}",
            ASSET_PARTITION_RANGE_END_TAG: f"{hour(HOURS - 1):%Y-%m-%d-%H:%M}",
        },
    )
    assert result.success
    metadata = result.asset_materializations_for_node("retention")[0].metadata
    deleted = metadata["rows_deleted"].value
    assert deleted == before - 3, "every verified row goes; the thin hour's 3 held-back rows stay"
    assert raw_rows(dense, hour(0), NOW) == 3
    assert len(history(dense)) == before


def test_prod_models_keep_the_full_history_after_retention(
    dense: Path, retained_policy: Path, session_env: Path, tmp_path: Path
) -> None:
    """`dbt build --target prod` reads the history view where it exists: every event is still counted."""
    import os
    import subprocess

    from minimization_pipeline.settings import DBT_PROJECT_DIR

    pipeline = Pipeline(dense, retained_policy)
    pipeline.publish_raw_safe("app", "events", (hour(0), NOW))
    everything = len(raw_ids(dense, "raw"))
    assert pipeline.apply_retention("app", "events", NOW).rows_deleted > 0
    assert len(raw_ids(dense, "raw")) < everything
    completed = subprocess.run(
        ["dbt", "build", "--target", "prod", "--select", "stg_app__events", "hourly_events",
         "--profiles-dir", str(DBT_PROJECT_DIR), "--project-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(tmp_path / "target")],
        capture_output=True, text=True, env={**os.environ, "MINIMIZATION_DATA_DIR": str(dense)}, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:]
    with open_warehouse(dense, "raw", "raw_safe", "analytics") as connection:
        staged = connection.execute("SELECT count(*) FROM analytics.main.stg_app__events").fetchone()[0]
        hourly = connection.execute("SELECT sum(events) FROM analytics.main.hourly_events").fetchone()[0]
    assert staged == hourly == everything
