"""The whole engine (histogram in SQL → search → mapping → CTAS → checks) on UCI Adult in a RAW table.

Both modes run through `Pipeline.publish_raw_safe`, exactly as the RAW_SAFE assets do: microaggregation
must keep types and reach the GCP the issue asks for; generalization must find ARX's optimum.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from pycanon import anonymity

from minimization_pipeline.anonymize import verify
from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline_tests.benchmarks.adult import ARX_COLUMNS
from minimization_pipeline_tests.integration.helpers import open_warehouse

QIS = ["age", "workclass", "education", "marital-status", "occupation", "race", "sex", "native-country"]
ALL_COLUMNS = list(ARX_COLUMNS)


def load_adult(data_dir: Path, adult_dir: Path, age_type: str) -> None:
    """raw.census.adult with Adult's rows; age as INTEGER (microaggregate) or VARCHAR (generalize)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(data_dir / "raw.duckdb")) as connection:
        connection.execute("CREATE SCHEMA census")
        columns = ", ".join(f'CAST("{c}" AS {age_type if c == "age" else "VARCHAR"}) AS "{c}"' for c in ALL_COLUMNS)
        connection.execute(
            f"CREATE TABLE census.adult AS SELECT {columns} FROM read_csv(?, delim=';', header=true, all_varchar=true)",
            [str(adult_dir / "adult.csv")],
        )


def write_policy(path: Path, adult_dir: Path, **table: object) -> Path:
    columns = table.pop("columns")
    policy = {"k": 5, "sources": {"census": {"tables": {"adult": {"columns": columns, **table}}}}}
    path.write_text(yaml.safe_dump(policy))
    return path


def adult_k10(tmp_path: Path, adult_dir: Path) -> tuple[Path, Path]:
    """RAW Adult (age INTEGER) and a policy making its 8 QIs 10-anonymous by microaggregation, with ARX's
    hierarchies for the categories."""
    data_dir = tmp_path / "data"
    load_adult(data_dir, adult_dir, "INTEGER")
    columns: dict[str, object] = {"salary-class": "sensitive", "age": "quasi"}
    for name in QIS[1:]:
        columns[name] = {"role": "quasi", "hierarchy": str(adult_dir / f"adult_hierarchy_{name}.csv")}
    return data_dir, write_policy(tmp_path / "minimization.yaml", adult_dir, k=10, columns=columns)


def test_microaggregate_on_adult_keeps_types_and_reaches_the_target_gcp(tmp_path: Path, adult_dir: Path) -> None:
    data_dir, policy = adult_k10(tmp_path, adult_dir)

    result = Pipeline(data_dir, policy).publish_raw_safe("census", "adult")

    assert result.published, [c.summary for c in result.failed_checks]
    assert result.rows == 30_162
    assert result.k_achieved >= 10
    assert result.metrics["gcp_gcp"] <= 0.12, result.metrics  # Mondrian's published 12.19 % is the bar
    assert result.metrics["rows_suppressed"] <= 0.01 * 30_162
    print(f"\nAdult k=10 microaggregate: GCP {result.metrics['gcp_gcp']:.2%}, {result.seconds:.2f} s end to end")
    with open_warehouse(data_dir, "raw_safe") as connection:
        released = connection.execute("SELECT * FROM raw_safe.census.adult").df()
        age_type = connection.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'adult' AND column_name = 'age'"
        ).fetchone()[0]
    assert age_type == "INTEGER"
    kept = released.dropna(subset=QIS)
    assert anonymity.k_anonymity(kept, QIS) >= 10
    assert len(released) - len(kept) == result.metrics["rows_suppressed"]


@pytest.mark.parametrize(
    ("k", "suppression", "entropy"),
    [(5, 0.04, 255_559.85), (100, 0.04, 379_417.35), (5, 0.0, 407_289.54)],
)
def test_generalize_on_adult_finds_arx_optimum_end_to_end(
    tmp_path: Path, adult_dir: Path, k: int, suppression: float, entropy: float
) -> None:
    data_dir = tmp_path / "data"
    load_adult(data_dir, adult_dir, "VARCHAR")
    columns = {
        name: {"role": "quasi", "hierarchy": str(adult_dir / f"adult_hierarchy_{name}.csv")} for name in ALL_COLUMNS
    }
    policy = write_policy(
        tmp_path / "minimization.yaml", adult_dir, k=k, mode="generalize", max_suppression=suppression, columns=columns
    )

    result = Pipeline(data_dir, policy).publish_raw_safe("census", "adult")

    assert result.published, [c.summary for c in result.failed_checks]
    assert result.metrics["entropy_loss"] == pytest.approx(entropy, rel=1e-4)
    assert result.metrics["rows_suppressed"] <= suppression * 30_162
    assert result.rows == 30_162 - result.metrics["rows_suppressed"]
    with open_warehouse(data_dir, "raw_safe") as connection:
        released: pd.DataFrame = connection.execute("SELECT * FROM raw_safe.census.adult").df()
    assert anonymity.k_anonymity(released, ALL_COLUMNS) >= k


def test_risk_on_adult_before_and_after_k10(tmp_path: Path, adult_dir: Path) -> None:
    """Issue 7's acceptance figures: RAW Adult over the 8 QIs has prosecutor risk 1 and about half its records
    unique; after k=10, none unique, the highest risk at most 1/10 and the linkage attack's success at most
    10 %. The engine's figures (from its histogram and release) agree with SQL counts on both tables."""
    from minimization_pipeline.anonymize.risk import measure_risk
    from minimization_pipeline.anonymize.verify import RE_IDENTIFICATION_RISK
    from minimization_pipeline.warehouse.base import TableRef
    from minimization_pipeline.warehouse.duckdb import DuckDBWarehouse

    data_dir, policy = adult_k10(tmp_path, adult_dir)
    result = Pipeline(data_dir, policy).publish_raw_safe("census", "adult")
    assert result.published
    with DuckDBWarehouse(data_dir).session(read=["raw", "raw_safe"]) as session:
        before = measure_risk(session, TableRef("raw", "census", "adult"), QIS)
        after = measure_risk(session, TableRef("raw_safe", "census", "adult"), QIS)
    m = result.metrics
    print(
        f"\nAdult, 8 QIs, {before.records:,} records: before {before}\nafter k=10: {after}\n"
        f"linkage attack ({m['linkage_attempts_after']} targets, seed {m['linkage_seed_after']}): "
        f"before {m['linkage_success_before']:.4f} (unique {m['linkage_unique_success_before']:.4f}), "
        f"after {m['linkage_success_after']:.4f} (unique {m['linkage_unique_success_after']:.4f})"
    )
    assert before.records == after.records == 30_162
    assert before.highest_prosecutor_risk == 1.0
    assert 0.45 <= before.unique_records_share <= 0.55
    assert after.unique_records_share == 0.0
    assert after.highest_prosecutor_risk <= 0.1
    # the engine's own figures are the SQL's
    assert m["prosecutor_risk_highest_before"] == before.highest_prosecutor_risk
    assert m["unique_records_before"] == before.unique_records_share
    risk_check = next(check for check in result.checks if check.name == RE_IDENTIFICATION_RISK)
    assert risk_check.passed, risk_check.summary
    assert risk_check.metadata["prosecutor_risk_highest_after"] == after.highest_prosecutor_risk
    assert risk_check.metadata["unique_records_after"] == 0.0
    # the attack: on RAW about as often right as records are unique; on the release at most 1 in 10
    assert m["linkage_attempts_after"] == 1_000
    assert 0.40 <= m["linkage_unique_success_before"] <= 0.55
    assert m["linkage_unique_success_after"] == 0.0
    assert 0.0 < m["linkage_success_after"] <= 0.1


def test_adult_risk_figures_are_in_the_privacy_report(tmp_path: Path, adult_dir: Path) -> None:
    """The same figures, through Dagster: the RAW_SAFE asset, then the privacy_report asset, which shows
    them before → after in its Markdown and its HTML, with one plot per quasi-identifier."""
    import dagster as dg

    from minimization_pipeline.defs.raw_safe import raw_safe_asset
    from minimization_pipeline.defs.report import privacy_report_asset
    from minimization_pipeline.defs.resources import MinimizationResource
    from minimization_pipeline.policy import Treatment

    data_dir, policy = adult_k10(tmp_path, adult_dir)
    adult = raw_safe_asset("census", "adult", Treatment.TREAT)
    report = privacy_report_asset([adult.key])
    resource = MinimizationResource(data_dir=str(data_dir), policy_path=str(policy))
    result = dg.materialize([adult, report], resources={"minimization": resource})
    assert result.success
    metadata = result.asset_materializations_for_node("privacy_report")[0].metadata
    markdown = metadata["report"].value
    html = Path(metadata["html"].value).read_text()
    row = next(line for line in markdown.splitlines() if line.startswith("| raw_safe/census/adult"))
    print(f"\n{row}")
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    # table, layer, treatment, rows, k, highest risk, unique records, linkage attack, GCP, checks
    assert cells[3] == "30,162" and cells[4] == "10 / 10"
    assert cells[5] == "1 → 0.1"
    assert cells[6].startswith("46.49% → 0.00%")
    blocking = len(verify.CHECK_NAMES)  # the blocking checks of the asset itself
    assert cells[9] == f"{blocking}/{blocking} passed"
    assert "linkage attack, unique matches | 45.00% → 0.00%" in markdown
    # each column's treatment, with the information lost on it
    age = next(line for line in markdown.splitlines() if line.startswith("| age |"))
    assert "| INTEGER | quasi → k-anonymized (policy) |" in age and "%" in age
    assert "| salary-class | VARCHAR | sensitive (policy) |" in markdown
    assert "46.49% → 0.00%" in html and html.count("data:image/png;base64,") == len(QIS)
