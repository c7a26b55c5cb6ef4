"""Tables written by someone else, shaped to break us (issue 15's reproductions): no leak, no row lost."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pycanon.anonymity
import pytest

from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.settings import PROJECT_ROOT
from minimization_pipeline_tests.integration.helpers import open_warehouse


def _raw(data: Path, *statements: str) -> None:
    with duckdb.connect(str(data / "raw.duckdb")) as connection:
        for statement in statements:
            connection.execute(statement)


@pytest.fixture
def pipeline(fresh_data: Path) -> Pipeline:
    return Pipeline(fresh_data, PROJECT_ROOT / "minimization.yaml")


def test_raw_columns_named_like_the_engines_own_lose_no_row(pipeline: Pipeline, fresh_data: Path) -> None:
    """RAW columns `__tuple_id` and `__rn` once shadowed the engine's: 0 of 600 rows published, all checks green."""
    _raw(
        fresh_data,
        "CREATE SCHEMA f3",
        """CREATE TABLE f3.clash AS SELECT (i+1)::INTEGER "__tuple_id", (600-i)::INTEGER "__rn",
           (10001+i%60)::VARCHAR zip, (20+(i*7)%50)::INTEGER age FROM range(600) t(i)""",
    )
    result = pipeline.publish_raw_safe("f3", "clash")
    assert result.published, [check.summary for check in result.failed_checks]
    accounted = next(check for check in result.checks if check.name == "rows_accounted")
    assert accounted.metadata["source_rows"] == accounted.metadata["published_rows"] == 600
    with open_warehouse(fresh_data, "raw_safe") as connection:
        frame = connection.execute("SELECT zip, age FROM raw_safe.f3.clash").df()
    assert len(frame) == 600
    assert pycanon.anonymity.k_anonymity(frame, ["zip", "age"]) >= 5
