"""`pass_through_as: clone`: a snapshot table instead of a view (zero-copy on Snowflake, a copy here)."""

from __future__ import annotations

from pathlib import Path

import yaml

from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.settings import PROJECT_ROOT
from minimization_pipeline_tests.integration.helpers import open_warehouse


def clone_policy(tmp_path: Path) -> Path:
    policy = yaml.safe_load((PROJECT_ROOT / "minimization.yaml").read_text())
    policy["sources"]["app"]["tables"]["plans"]["pass_through_as"] = "clone"
    path = tmp_path / "minimization.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def test_a_cloned_pass_through_table_is_a_table_equal_to_raw(fresh_data: Path, tmp_path: Path) -> None:
    pipeline = Pipeline(fresh_data, clone_policy(tmp_path))
    result = pipeline.publish_raw_safe("app", "plans")
    assert result.published and all(check.passed for check in result.checks)
    with open_warehouse(fresh_data, "raw", "raw_safe") as connection:
        kind = connection.execute(
            "SELECT table_type FROM information_schema.tables "
            "WHERE table_catalog = 'raw_safe' AND table_schema = 'app' AND table_name = 'plans'"
        ).fetchone()[0]
        assert kind == "BASE TABLE"
        assert (
            connection.execute("SELECT * FROM raw_safe.app.plans EXCEPT SELECT * FROM raw.app.plans").fetchall() == []
        )
        assert connection.execute("SELECT count(*) FROM raw_safe.app.plans").fetchone()[0] == 4
    # back to a view: the table is replaced by the view, nothing else changes
    view = Pipeline(fresh_data, PROJECT_ROOT / "minimization.yaml").publish_raw_safe("app", "plans")
    assert view.published
    with open_warehouse(fresh_data, "raw", "raw_safe") as connection:
        assert (
            connection.execute(
                "SELECT table_type FROM information_schema.tables "
                "WHERE table_catalog = 'raw_safe' AND table_schema = 'app' AND table_name = 'plans'"
            ).fetchone()[0]
            == "VIEW"
        )
