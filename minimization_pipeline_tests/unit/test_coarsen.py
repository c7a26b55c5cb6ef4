"""Coarse keys before the histogram: chosen only over budget, real released values, deterministic, honest GCP."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from minimization_pipeline.anonymize import coarsen
from minimization_pipeline.anonymize.engine import publish
from minimization_pipeline.anonymize.plan import TablePlan
from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.warehouse.duckdb import DuckDBWarehouse
from minimization_pipeline_tests.integration.helpers import open_warehouse

SECRET = "coarsen-test-secret-0123456789"
ROWS = 3_000


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """3,000 people: a near-unique birth date over 60 years, a 5-digit zip of ~300 values, a gender with NULLs."""
    directory = tmp_path / "data"
    directory.mkdir()
    with duckdb.connect(str(directory / "raw.duckdb")) as connection:
        connection.execute("CREATE SCHEMA app")
        connection.execute(
            f"""
            CREATE TABLE app.people AS
            SELECT i::BIGINT AS id,
                   'person' || i || '@example.com' AS email,
                   DATE '1950-01-01' + ((i * 104729) % 21900)::INTEGER AS birth_date,
                   lpad((10000 + (i * 7919) % 300 * 17)::VARCHAR, 5, '0') AS zip,
                   CASE WHEN i % 97 = 0 THEN NULL WHEN i % 2 = 0 THEN 'female' ELSE 'male' END AS gender,
                   (i % 7)::INTEGER AS visits
            FROM range({ROWS}) t(i)
            """
        )
    return directory


def policy(tmp_path: Path, k: int = 5) -> Path:
    columns = {
        "id": "keep",
        "email": "hash",
        "birth_date": "quasi",
        "zip": "quasi",
        "gender": "quasi",
        "visits": "keep",
    }
    path = tmp_path / "minimization.yaml"
    path.write_text(yaml.safe_dump({"k": k, "sources": {"app": {"tables": {"people": {"columns": columns}}}}}))
    return path


def plan_of(data_dir: Path, tmp_path: Path) -> TablePlan:
    return Pipeline(data_dir, policy(tmp_path)).plan_raw_safe("app", "people")


def choose(data_dir: Path, plan: TablePlan, budget: int) -> coarsen.Coarsening:
    with DuckDBWarehouse(data_dir).session(read=["raw"]) as session:
        return coarsen.choose(session, plan, budget)


def output_rows(data_dir: Path) -> list[tuple]:
    with open_warehouse(data_dir, "raw_safe") as connection:
        return connection.execute("SELECT * FROM raw_safe.app.people ORDER BY ALL").fetchall()


def test_under_budget_nothing_is_coarsened(data_dir: Path, tmp_path: Path) -> None:
    plan = plan_of(data_dir, tmp_path)
    chosen = choose(data_dir, plan, budget=10 * ROWS)
    assert not chosen.coarsened
    assert set(chosen.describe().values()) == {"value"}
    assert chosen.probes == 1  # one counting query, nothing else
    result = publish(DuckDBWarehouse(data_dir), plan, SECRET, tuple_budget=10 * ROWS)
    assert result.published
    assert result.metrics["coarsened"] == {}
    assert "gcp_basis" not in result.metrics  # exact GCP on values, as before


def test_over_budget_the_near_unique_date_is_coarsened(data_dir: Path, tmp_path: Path) -> None:
    plan = plan_of(data_dir, tmp_path)
    chosen = choose(data_dir, plan, budget=300)
    assert chosen.coarsened
    assert chosen.describe()["birth_date"] != "value"
    assert chosen.describe()["gender"] == "value"  # nothing to gain: three values
    assert chosen.estimated_tuples <= 300


def test_coarse_release_is_k_anonymous_with_no_rare_value_and_the_right_types(data_dir: Path, tmp_path: Path) -> None:
    plan = plan_of(data_dir, tmp_path)
    result = publish(DuckDBWarehouse(data_dir), plan, SECRET, tuple_budget=300)
    assert result.published, [c.summary for c in result.failed_checks]
    assert result.metrics["coarsened"]["birth_date"] != "value"
    assert result.metrics["distinct_tuples"] <= 400  # HyperLogLog estimates are within a few percent
    assert result.k_achieved is not None and result.k_achieved >= 5
    with open_warehouse(data_dir, "raw", "raw_safe") as connection:
        smallest = connection.execute(
            "SELECT MIN(n), SUM(n) FROM (SELECT COUNT(*) AS n FROM raw_safe.app.people "
            "GROUP BY birth_date, zip, gender)"
        ).fetchone()
        assert smallest == (result.k_achieved, ROWS) and smallest[0] >= 5
        types = connection.execute(
            "SELECT table_catalog, column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'people' ORDER BY table_catalog, ordinal_position"
        ).fetchall()
        raw_types = [(c, t) for db, c, t in types if db == "raw"]
        assert raw_types == [(c, t) for db, c, t in types if db == "raw_safe"]
        assert dict(raw_types)["birth_date"] == "DATE"
        # every released date and zip is held by k or more RAW rows, or by none (a centroid, a masked prefix):
        # never one member's rare value
        for column in ("birth_date", "zip"):
            rare = connection.execute(
                f"SELECT COUNT(*) FROM raw_safe.app.people WHERE {column} IN "
                f"(SELECT {column} FROM raw.app.people GROUP BY {column} HAVING COUNT(*) < 5)"
            ).fetchone()[0]
            assert rare == 0, column
        # no raw email survived
        assert connection.execute(
            "SELECT COUNT(*) FROM raw_safe.app.people s JOIN raw.app.people r ON s.email = r.email"
        ).fetchone() == (0,)
        # the reported NCP is an upper bound of the true one, computed here on the original values
        span = connection.execute("SELECT MAX(birth_date) - MIN(birth_date) FROM raw.app.people").fetchone()[0]
        true_ncp = connection.execute(
            f"""
            SELECT SUM(n * (hi - lo)) / {span} / SUM(n) FROM (
                SELECT COUNT(*) AS n, MAX(r.birth_date) - MIN(r.birth_date) AS hi, 0 AS lo
                FROM raw_safe.app.people s JOIN raw.app.people r ON s.id = r.id
                GROUP BY s.birth_date, s.zip, s.gender
                HAVING COUNT(r.birth_date) = COUNT(*)
            )
            """
        ).fetchone()[0]
    assert result.metrics["gcp_basis"].startswith("upper bound")
    assert result.metrics["ncp_by_column"]["birth_date"] >= float(true_ncp) - 1e-9


def test_coarsening_and_release_are_deterministic(data_dir: Path, tmp_path: Path) -> None:
    plan = plan_of(data_dir, tmp_path)
    first_choice = choose(data_dir, plan, budget=300)
    assert choose(data_dir, plan, budget=300).describe() == first_choice.describe()
    publish(DuckDBWarehouse(data_dir), plan, SECRET, tuple_budget=300)
    first = output_rows(data_dir)
    publish(DuckDBWarehouse(data_dir), plan, SECRET, tuple_budget=300)
    assert output_rows(data_dir) == first


def test_keys_are_portable_sql(data_dir: Path, tmp_path: Path) -> None:
    """The key expressions use functions both DuckDB and Snowflake know."""
    plan = plan_of(data_dir, tmp_path)
    chosen = choose(data_dir, plan, budget=50)
    select = coarsen.histogram_select(plan, chosen, "__count", "__tuple_id")
    for dialect in ("duckdb", "snowflake"):
        sql = select.sql(dialect=dialect).upper()
        assert "GROUP BY" in sql
        assert "DATE_TRUNC" in sql or "EXTRACT" in sql or "DATE_PART" in sql


def test_l_diversity_on_a_coarse_histogram(data_dir: Path, tmp_path: Path) -> None:
    """The sensitive histogram joins RAW to the coarse tuples on the same keys as the output does."""
    columns = {
        "id": "keep",
        "email": "hash",
        "birth_date": "quasi",
        "zip": "quasi",
        "gender": "quasi",
        "visits": "sensitive",
    }
    path = tmp_path / "l.yaml"
    table = {"columns": columns, "l_diversity": {"column": "visits", "l": 3}}
    path.write_text(yaml.safe_dump({"k": 5, "sources": {"app": {"tables": {"people": table}}}}))
    plan = Pipeline(data_dir, path).plan_raw_safe("app", "people")
    result = publish(DuckDBWarehouse(data_dir), plan, SECRET, tuple_budget=300)
    assert result.published, [c.summary for c in result.failed_checks]
    assert result.metrics["coarsened"]["birth_date"] != "value"
    with open_warehouse(data_dir, "raw_safe") as connection:
        fewest = connection.execute(
            "SELECT MIN(d) FROM (SELECT COUNT(DISTINCT visits) AS d FROM raw_safe.app.people "
            "GROUP BY birth_date, zip, gender)"
        ).fetchone()[0]
    assert fewest >= 3
