"""Shared fixtures: a real demo warehouse in a temp folder and one real run of the hourly job.

The end-to-end run is session-scoped (it builds RAW_SAFE, runs `dbt build` and PUBLIC once, about
15 s); tests that change data work on a copy of its folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from minimization_pipeline.settings import Settings
from minimization_pipeline_tests.policies import whole_tables_policy

TEST_SECRET = "test-secret-0123456789abcdef-never-in-sql"
DEMO_USERS = 1_500


@dataclass
class PipelineRun:
    settings: Settings
    result: dg.ExecuteInProcessResult
    instance: dg.DagsterInstance


@pytest.fixture(scope="session")
def session_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Environment every test shares: a fixed secret and a Dagster home of its own."""
    home = tmp_path_factory.mktemp("dagster_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIMIZATION_SECRET", TEST_SECRET)
        patch.setenv("MINIMIZATION_POLICY", str(WHOLE_TABLES_POLICY))
        patch.setenv("DAGSTER_HOME", str(home))
        patch.setenv("PATH", f"{Path(os.sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        yield home


WHOLE_TABLES_POLICY = whole_tables_policy(Path(tempfile.mkdtemp(prefix="minimization-policy-")) / "minimization.yaml")


def make_settings(data_dir: Path, policy_path: Path | None = None, dbt_target: str = "dev") -> Settings:
    return Settings("local", data_dir, policy_path or WHOLE_TABLES_POLICY, dbt_target)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory, session_env: Path) -> Path:
    """A small, deterministic demo RAW database, generated once for the whole session."""
    from minimization_pipeline.demo.generate import generate_demo

    data_dir = tmp_path_factory.mktemp("demo_raw")
    generate_demo(data_dir, users=DEMO_USERS, seed=7)
    return data_dir


@pytest.fixture
def fresh_data(tmp_path: Path, demo_data: Path) -> Path:
    """A private copy of the demo RAW database (no RAW_SAFE yet) for tests that write."""
    target = tmp_path / "data"
    target.mkdir()
    shutil.copy(demo_data / "raw.duckdb", target / "raw.duckdb")
    return target


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory, demo_data: Path, session_env: Path) -> PipelineRun:
    """The hourly job, run once for real: RAW_SAFE → dbt build (dev) → PUBLIC."""
    from minimization_pipeline.definitions import build_definitions
    from minimization_pipeline.defs.automation import HOURLY_JOB

    data_dir = tmp_path_factory.mktemp("e2e") / "data"
    data_dir.mkdir()
    shutil.copy(demo_data / "raw.duckdb", data_dir / "raw.duckdb")
    settings = make_settings(data_dir)
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(instance=instance, raise_on_error=False)
    return PipelineRun(settings, result, instance)


@pytest.fixture(scope="session")
def snowflake_run(tmp_path_factory: pytest.TempPathFactory, demo_data: Path, session_env: Path):
    """The hourly job run once on Snowflake (a fakesnow server), for the session (see `snowflake_run.py`)."""
    from minimization_pipeline_tests.snowflake_run import snowflake_run as run

    with run(demo_data / "raw.duckdb", tmp_path_factory.mktemp("snowflake_state"), TEST_SECRET) as result:
        yield result


def copy_run_data(run: PipelineRun, target: Path) -> Path:
    """A private copy of a finished run's warehouse files, to change without disturbing others."""
    target.mkdir(parents=True, exist_ok=True)
    for path in run.settings.data_dir.glob("*.duckdb"):
        shutil.copy(path, target / path.name)
    return target


@pytest.fixture(scope="session")
def adult_dir() -> Path:
    """UCI Adult with ARX's hierarchies, read in place (`../shared/datasets/adult`)."""
    from minimization_pipeline.settings import datasets_dir

    folder = datasets_dir() / "adult"
    if not (folder / "adult.csv").exists():
        pytest.skip(f"UCI Adult not found at {folder} (set MINIMIZATION_DATASETS to the folder holding adult/)")
    return folder
