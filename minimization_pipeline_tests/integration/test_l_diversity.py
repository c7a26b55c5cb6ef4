"""l-diversity through the whole engine: Adult with salary-class as the sensitive attribute."""

from __future__ import annotations

from pathlib import Path

from pycanon import anonymity

from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline_tests.integration.helpers import open_warehouse
from minimization_pipeline_tests.integration.test_adult_engine import QIS, load_adult, write_policy


def test_every_class_holds_two_salary_classes(tmp_path: Path, adult_dir: Path) -> None:
    data_dir = tmp_path / "data"
    load_adult(data_dir, adult_dir, "INTEGER")
    columns: dict[str, object] = {"salary-class": "sensitive", "age": "quasi"}
    for name in QIS[1:]:
        columns[name] = {"role": "quasi", "hierarchy": str(adult_dir / f"adult_hierarchy_{name}.csv")}
    policy = write_policy(
        tmp_path / "minimization.yaml", adult_dir, k=10, l_diversity={"column": "salary-class", "l": 2}, columns=columns
    )

    result = Pipeline(data_dir, policy).publish_raw_safe("census", "adult")

    assert result.published, [c.summary for c in result.failed_checks]
    names = {check.name for check in result.checks}
    assert "l_diversity" in names
    assert result.metrics["l_achieved"] >= 2
    assert result.metrics["rows_suppressed"] == 0
    with open_warehouse(data_dir, "raw_safe") as connection:
        released = connection.execute("SELECT * FROM raw_safe.census.adult").df()
    assert len(released) == 30_162
    assert anonymity.k_anonymity(released, QIS) >= 10
    assert anonymity.l_diversity(released, QIS, ["salary-class"]) >= 2
    # Without it, some classes hold a single salary class (the check would have something to catch).
    plain = write_policy(tmp_path / "plain.yaml", adult_dir, k=10, columns=columns)
    Pipeline(data_dir, plain).publish_raw_safe("census", "adult")
    with open_warehouse(data_dir, "raw_safe") as connection:
        released = connection.execute("SELECT * FROM raw_safe.census.adult").df()
    assert anonymity.l_diversity(released.dropna(subset=QIS).reset_index(drop=True), QIS, ["salary-class"]) == 1
