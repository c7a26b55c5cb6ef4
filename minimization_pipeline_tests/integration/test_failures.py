"""Fail closed: a leaking or broken policy never replaces what was published, and says why."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from minimization_pipeline.anonymize.engine import publish
from minimization_pipeline.anonymize.kanon import KAnonymityError
from minimization_pipeline.definitions import build_definitions
from minimization_pipeline.defs.automation import HOURLY_JOB
from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.policy import PolicyError
from minimization_pipeline.warehouse.duckdb import DuckDBWarehouse
from minimization_pipeline_tests.conftest import (
    TEST_SECRET,
    WHOLE_TABLES_POLICY,
    PipelineRun,
    copy_run_data,
    make_settings,
)
from minimization_pipeline_tests.integration.helpers import open_warehouse, table_digest


def write_policy(tmp_path: Path, change: callable) -> Path:
    """The demo policy with one deliberate change."""
    policy = yaml.safe_load((WHOLE_TABLES_POLICY).read_text())
    change(policy)
    path = tmp_path / "minimization.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def users_columns(policy: dict) -> dict:
    return policy["sources"]["app"]["tables"]["users"]["columns"]


def test_leaking_policy_fails_its_check_and_downstream_keeps_reading_the_safe_table(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    data_dir = copy_run_data(pipeline_run, tmp_path / "data")
    before = table_digest(data_dir, "raw_safe", "app", "users")
    leaking = write_policy(tmp_path, lambda p: users_columns(p).update(email="keep"))

    defs = build_definitions(make_settings(data_dir, leaking))
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )

    assert not result.success
    failed = {
        (c.asset_key.to_user_string(), c.check_name) for c in result.get_asset_check_evaluations() if not c.passed
    }
    assert ("raw_safe/app/users", "pattern_scan") in failed
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "raw_safe/app/users" not in materialized
    assert "customers" not in materialized and "public/customers" not in materialized, "dbt must not run"
    assert table_digest(data_dir, "raw_safe", "app", "users") == before, "the published table must be unchanged"
    with open_warehouse(data_dir, "raw_safe", "dev") as connection:
        assert connection.execute("SELECT count(*) FROM raw_safe.app.users WHERE email LIKE '%@%'").fetchone()[0] == 0
        staging = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '%__staging'"
        ).fetchone()[0]
        assert staging == 0, "a rejected staging table must not stay behind"
        dev_emails = connection.execute("SELECT count(*) FROM dev.main.customers WHERE email LIKE '%@%'").fetchone()
        assert dev_emails[0] == 0


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda p: users_columns(p).update(email="hsah"), ["minimization.yaml", "app.users.email", "hsah"]),
        (lambda p: p.update(k=0), ["minimization.yaml", "k", "greater than or equal to 2"]),
        (lambda p: p["sources"]["app"]["tables"]["orders"].update(k=0), ["app.orders", "k"]),
        (lambda p: users_columns(p).update(email={"role": "direct", "method": "fake"}), ["app.users.email", "kind"]),
        (lambda p: p.update(sources={"app": {"tables": {"plans": {"treatment": "pass_through"}}}}), ["app.plans"]),
    ],
)
def test_broken_policy_is_refused_at_load_with_a_message_naming_it(
    tmp_path: Path, fresh_data: Path, change: callable, expected: list[str]
) -> None:
    broken = write_policy(tmp_path, change)
    with pytest.raises(PolicyError) as error:
        build_definitions(make_settings(fresh_data, broken))
    for fragment in expected:
        assert fragment in str(error.value)
    assert not (fresh_data / "raw_safe.duckdb").exists(), "nothing may be written"


def test_policy_naming_a_missing_column_fails_before_anything_is_written(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    data_dir = copy_run_data(pipeline_run, tmp_path / "data")
    broken = write_policy(tmp_path, lambda p: users_columns(p).update(emial="hash"))
    before = {path.name: path.read_bytes() for path in data_dir.glob("raw_safe.duckdb")}

    defs = build_definitions(make_settings(data_dir, broken))
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success
    assert not result.get_asset_materialization_events()
    messages = " ".join(
        event.step_failure_data.error.to_string() for event in result.all_events if event.is_step_failure
    )
    assert "app.users.emial" in messages and "column does not exist" in messages
    # Every RAW_SAFE step refuses the whole policy, so no table was rewritten.
    assert {path.name: path.read_bytes() for path in data_dir.glob("raw_safe.duckdb")} == before


def test_a_table_smaller_than_k_is_refused_not_published(fresh_data: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(fresh_data / "raw.duckdb")) as connection:
        connection.execute("CREATE TABLE app.vip (id BIGINT, age INTEGER)")
        connection.execute("INSERT INTO app.vip VALUES (1, 40), (2, 41), (3, 42)")
    policy = write_policy(
        tmp_path, lambda p: p["sources"]["app"]["tables"].update(vip={"columns": {"id": "keep", "age": "quasi"}})
    )
    pipeline = Pipeline(fresh_data, policy)
    with pytest.raises(KAnonymityError, match=r"raw\.app\.vip.*fewer rows than k"):
        pipeline.publish_raw_safe("app", "vip")
    with open_warehouse(fresh_data, "raw_safe") as connection:
        assert (
            connection.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'vip%'"
            ).fetchone()[0]
            == 0
        )


class RecordingWarehouse(DuckDBWarehouse):
    """The real DuckDB warehouse, keeping every SQL text its sessions sent."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.statements: list[str] = []

    def session(self, *args, **kwargs):
        parent = super().session(*args, **kwargs)
        recorder = self

        class _Recorded:
            def __enter__(self):
                self.session = parent.__enter__()
                return self.session

            def __exit__(self, *exc):
                recorder.statements.extend(self.session.statements)
                return parent.__exit__(*exc)

        return _Recorded()


def test_secret_is_never_in_any_sql_text(fresh_data: Path) -> None:
    pipeline = Pipeline(fresh_data, WHOLE_TABLES_POLICY)
    warehouse = RecordingWarehouse(fresh_data)
    for schema, table in [("app", "users"), ("stripe", "customers"), ("app", "plans")]:
        result = publish(warehouse, pipeline.plan_raw_safe(schema, table), TEST_SECRET)
        assert result.published
    assert len(warehouse.statements) > 20
    assert any("getvariable" in statement.lower() for statement in warehouse.statements)
    assert not [statement for statement in warehouse.statements if TEST_SECRET in statement]


def test_a_publish_killed_between_staging_and_swap_leaves_the_table_intact(
    pipeline_run: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DuckDB side of the staging/swap promise (the Snowflake side is in test_snowflake.py)."""
    from minimization_pipeline.warehouse.duckdb import DuckDBSession

    data_dir = copy_run_data(pipeline_run, tmp_path / "data")
    before = table_digest(data_dir, "raw_safe", "app", "orders")

    def killed(self: DuckDBSession, staging: object, target: object) -> None:
        raise KeyboardInterrupt("killed between staging and swap")

    monkeypatch.setattr(DuckDBSession, "swap_in", killed)
    pipeline = Pipeline(data_dir, WHOLE_TABLES_POLICY)
    with pytest.raises(KeyboardInterrupt):
        pipeline.publish_raw_safe("app", "orders")
    assert table_digest(data_dir, "raw_safe", "app", "orders") == before
    with open_warehouse(data_dir, "raw_safe") as connection:
        staging = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '%__staging'"
        ).fetchone()[0]
    assert staging == 0


def test_a_risk_above_the_policy_max_risk_blocks_the_table(pipeline_run: PipelineRun, tmp_path: Path) -> None:
    """k=5 alone allows a risk of 1/5; a table whose policy asks max_risk 0.05 is not published at k=5."""
    data_dir = copy_run_data(pipeline_run, tmp_path / "data")
    before = table_digest(data_dir, "raw_safe", "app", "users")
    strict = write_policy(tmp_path, lambda p: p["sources"]["app"]["tables"]["users"].update(max_risk=0.05))
    result = Pipeline(data_dir, strict).publish_raw_safe("app", "users")
    assert not result.published
    (failed,) = result.failed_checks
    assert failed.name == "re_identification_risk"
    assert "highest prosecutor risk 0.2 > 0.05" in failed.summary
    assert table_digest(data_dir, "raw_safe", "app", "users") == before


def test_a_failed_make_run_still_writes_the_privacy_report_showing_the_failure(
    pipeline_run: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m minimization_pipeline run` with a leaking policy: exit 1, and the report says which check."""
    from minimization_pipeline import cli

    data_dir = copy_run_data(pipeline_run, tmp_path / "data")
    leaking = write_policy(tmp_path, lambda p: users_columns(p).update(email="keep"))
    monkeypatch.setenv("MINIMIZATION_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MINIMIZATION_POLICY", str(leaking))
    monkeypatch.setenv("DAGSTER_HOME", str(data_dir / "dagster_home"))
    assert cli.main(["run", "--days", "1"]) == 1
    report = data_dir / "reports" / "privacy_report.html"
    assert str(report) in capsys.readouterr().out
    html = report.read_text()
    assert "FAILED <b>pattern_scan</b>" in html
    assert "raw_safe/app/users" in html
