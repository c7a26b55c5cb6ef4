"""The `warehouse_grants` job and `python -m minimization_pipeline grants`: the dry run shows the SQL, and
applying refuses the embedded DuckDB (it has no roles) without touching anything."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
import sqlglot
import yaml

from minimization_pipeline.cli import main
from minimization_pipeline.defs.grants import GRANTS_JOB, warehouse_grants
from minimization_pipeline.defs.resources import MinimizationResource
from minimization_pipeline.grants import apply_grants, privilege_matrix, render_grants, to_script
from minimization_pipeline.policy import load_policy
from minimization_pipeline.settings import PROJECT_ROOT
from minimization_pipeline.warehouse.snowflake import SnowflakeWarehouse

DEMO_POLICY = PROJECT_ROOT / "minimization.yaml"
NEEDS_SNOWFLAKE = "grants are a Snowflake feature: the duckdb warehouse has no roles, so there is nothing to apply"
APPLY = {"ops": {"apply_warehouse_grants": {"config": {"dry_run": False}}}}


def demo_script() -> str:
    return to_script(render_grants(load_policy(DEMO_POLICY).roles))


def run_job(
    data_dir: Path,
    policy: Path = DEMO_POLICY,
    run_config: dict | None = None,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions(
        jobs=[warehouse_grants],
        resources={"minimization": MinimizationResource(data_dir=str(data_dir), policy_path=str(policy))},
    )
    job = defs.resolve_job_def(GRANTS_JOB)
    return job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    failures = [event for event in result.all_events if event.is_step_failure]
    assert len(failures) == 1
    return failures[0].step_failure_data.error.message


def test_the_dry_run_succeeds_and_its_metadata_holds_the_sql(tmp_path: Path) -> None:
    result = run_job(tmp_path)
    assert result.success
    [output] = [event for event in result.all_events if event.event_type_value == "STEP_OUTPUT"]
    metadata = {key: value.value for key, value in output.step_output_data.metadata.items()}
    script = demo_script()
    assert metadata["sql"] == f"```sql\n{script}\n```"
    assert (metadata["statements"], metadata["dry_run"], metadata["applied"]) == (75, True, 0)
    assert result.output_for_node("apply_warehouse_grants") == 0
    sql = metadata["sql"].removeprefix("```sql\n").removesuffix("\n```")
    assert privilege_matrix(sql)["TRANSFORMER"] >= {("DATABASE ANALYTICS", "OWNERSHIP")}
    assert privilege_matrix(sql)["ANONYMIZER"] >= {("DATABASE RAW_SAFE", "OWNERSHIP"), ("DATABASE PUBLIC", "OWNERSHIP")}
    assert list(tmp_path.iterdir()) == []  # a dry run opens no warehouse


def test_the_dry_run_logs_every_statement(tmp_path: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_job(tmp_path, instance=instance)
        logged = "\n".join(entry.user_message for entry in instance.all_logs(result.run_id))
    assert "warehouse_grants (dry run, nothing applied): 75 statements" in logged
    for line in demo_script().splitlines():
        assert line in logged


def test_applying_on_duckdb_fails_with_a_clear_message(tmp_path: Path) -> None:
    result = run_job(tmp_path, run_config=APPLY)
    assert not result.success
    assert NEEDS_SNOWFLAKE in failure_message(result)
    assert list(tmp_path.iterdir()) == []  # refused before any session was opened


def test_a_broken_roles_section_fails_the_job_naming_file_and_field(tmp_path: Path) -> None:
    policy = tmp_path / "broken.yaml"
    policy.write_text(yaml.safe_dump({"roles": {"reader": {"name": "r; DROP DATABASE RAW"}}}))
    result = run_job(tmp_path / "data", policy)
    assert not result.success
    assert "broken.yaml: roles.reader.name: " in failure_message(result)


# ------------------------------------------------------------------------------------------------ CLI


def grants_command(policy: Path, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINIMIZATION_POLICY": str(policy), "MINIMIZATION_DATA_DIR": str(data_dir)}
    env.pop("MINIMIZATION_ENV", None)
    return subprocess.run(
        [sys.executable, "-m", "minimization_pipeline", "grants", *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_dry_run_prints_the_sql_one_statement_per_line(tmp_path: Path) -> None:
    done = grants_command(DEMO_POLICY, tmp_path, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout == demo_script() + "\n"
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert all(line.endswith(";") for line in lines)
    assert len(sqlglot.parse(done.stdout, read="snowflake")) == len(lines) == 75
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("MINIMIZATION_ENV", raising=False)
    monkeypatch.setenv("MINIMIZATION_POLICY", str(DEMO_POLICY))
    monkeypatch.setenv("MINIMIZATION_DATA_DIR", str(tmp_path))
    return tmp_path


def test_cli_without_dry_run_refuses_duckdb(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grants"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("grants: " + NEEDS_SNOWFLAKE)
    assert list(cli_env.iterdir()) == []


def test_cli_names_a_broken_roles_section(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = cli_env / "broken.yaml"
    policy.write_text(yaml.safe_dump({"roles": {"databases": {"public": 'PUBLIC"; --'}}}))
    monkeypatch.setenv("MINIMIZATION_POLICY", str(policy))
    assert main(["grants", "--dry-run"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "broken.yaml: roles.databases.public: " in captured.err


# ------------------------------------------------------------------------------------------ on Snowflake


class _RecordingCursor:
    def __init__(self, executed: list[str]) -> None:
        self.executed = executed

    def execute(self, sql: str, params: object = None) -> _RecordingCursor:
        self.executed.append(sql)
        return self


class _RecordingConnection:
    """Stands in for a Snowflake connection: records each statement text it is sent."""

    _paramstyle = "qmark"  # what SnowflakeResource is configured with (server-side binding)

    def __init__(self) -> None:
        self.executed: list[str] = []

    def cursor(self) -> _RecordingCursor:
        return _RecordingCursor(self.executed)


def test_apply_sends_each_statement_as_is_through_a_snowflake_session() -> None:
    connection = _RecordingConnection()

    @contextmanager
    def connect() -> Iterator[_RecordingConnection]:  # the shape of SnowflakeResource.get_connection
        yield connection

    statements = render_grants(load_policy(DEMO_POLICY).roles)
    assert apply_grants(SnowflakeWarehouse(connect, purpose="grants"), statements) == 75
    sent = [sql for sql in connection.executed if not sql.startswith("ALTER SESSION SET QUERY_TAG")]
    assert sent == statements
