"""`python -m minimization_pipeline plan`: the reviewer's view of what the next run does, and `--write`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minimization_pipeline.demo.schema_change import apply_schema_change
from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.plan_review import write_suggestions
from minimization_pipeline.policy import load_policy
from minimization_pipeline.settings import PROJECT_ROOT
from minimization_pipeline_tests.conftest import TEST_SECRET


def plan_command(data_dir: Path, policy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MINIMIZATION_DATA_DIR": str(data_dir),
        "MINIMIZATION_POLICY": str(policy),
        "MINIMIZATION_SECRET": TEST_SECRET,
    }
    return subprocess.run(
        [sys.executable, "-m", "minimization_pipeline", "plan", *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def changed_raw(fresh_data: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The demo RAW with a new CRM table and a new users column, and a private copy of the demo policy."""
    apply_schema_change(fresh_data)
    policy = tmp_path / "minimization.yaml"
    shutil.copy(PROJECT_ROOT / "minimization.yaml", policy)
    return fresh_data, policy


def effective(data_dir: Path, policy: Path) -> dict[str, tuple[str, str | None]]:
    """schema.table.column -> (role, method) the next run applies."""
    reviews = Pipeline(data_dir, policy).review()
    return {
        f"{r.table.schema}.{r.table.name}.{c.name}": (c.role.value, c.method.value if c.method else None)
        for r in reviews
        if r.plan
        for c in r.plan.columns
    }


def test_plan_shows_every_column_its_treatment_and_why(changed_raw: tuple[Path, Path]) -> None:
    data_dir, policy = changed_raw
    done = plan_command(data_dir, policy)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    print(out)
    assert "raw.crm.contacts  (NOT IN POLICY" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and line.split()}
    assert lines["personal_email"].split()[2:5] == ["direct", "hash", "classifier"]
    assert "emails" in lines["personal_email"]  # the evidence, not a value
    assert lines["notes"].split()[2:5] == ["direct", "hash", "classifier"]
    assert "7 tables planned" in out and "nothing written" in out
    # the evidence never shows a sampled value
    assert "@" not in out


def test_plan_of_one_table_and_a_bad_name(changed_raw: tuple[Path, Path]) -> None:
    data_dir, policy = changed_raw
    one = plan_command(data_dir, policy, "crm.contacts")
    assert one.returncode == 0 and "1 tables planned" in one.stdout and "raw.app.users" not in one.stdout
    bad = plan_command(data_dir, policy, "crm.nope")
    assert bad.returncode == 1 and "not in RAW: crm.nope" in bad.stderr


def test_write_adds_the_current_plan_keeps_comments_and_changes_no_output(changed_raw: tuple[Path, Path]) -> None:
    data_dir, policy = changed_raw
    before_text = policy.read_text()
    before = effective(data_dir, policy)

    added = write_suggestions(policy, Pipeline(data_dir, policy).review())

    assert "crm.contacts.email" in added and "app.users.personal_email" in added
    assert not [name for name in added if name.startswith("app.plans.")]  # nothing new to pass through
    text = policy.read_text()
    assert text.startswith(before_text.splitlines()[0])  # the hand-written header comment is kept
    assert "# fail-closed" in text or "# classifier" in text
    loaded = load_policy(policy)
    assert loaded.table("crm", "contacts") is not None
    assert effective(data_dir, policy) == before  # explicit now, identical in effect
    again = Pipeline(data_dir, policy).review()
    assert all(c.reason == "policy" for r in again if r.plan and r.table.name == "contacts" for c in r.plan.columns)
    assert write_suggestions(policy, again) == []  # nothing left to suggest
