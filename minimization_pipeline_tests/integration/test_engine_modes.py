"""The engine on awkward data, through real DuckDB: types kept, NULLs, ties, one-valued columns, reruns."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml
from pycanon import anonymity

from minimization_pipeline.anonymize.kanon import KAnonymityError
from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline_tests.integration.helpers import open_warehouse, table_digest

QIS = ["age", "born", "seen_at", "price", "zip", "country"]


@pytest.fixture
def awkward(tmp_path: Path) -> Path:
    """600 rows: integer, date, timestamp and decimal QIs with NULLs and ties, and a one-valued column."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with duckdb.connect(str(data_dir / "raw.duckdb")) as connection:
        connection.execute("CREATE SCHEMA shop")
        connection.execute(
            """
            CREATE TABLE shop.people AS
            SELECT i::BIGINT AS id,
                   CASE WHEN i % 37 = 0 THEN NULL ELSE (18 + (i * 7919) % 60)::INTEGER END AS age,
                   CASE WHEN i % 41 = 0 THEN NULL ELSE DATE '1950-01-01' + ((i * 104729) % 20000)::INTEGER END AS born,
                   TIMESTAMP '2026-01-01' + INTERVAL (i % 50) HOUR AS seen_at,
                   ((i * 31) % 997 / 10.0)::DECIMAL(8, 2) AS price,
                   lpad(((i * 13) % 90)::VARCHAR, 5, '0') AS zip,
                   'US' AS country,
                   'note ' || i AS note
            FROM range(600) t(i)
            """
        )
        connection.execute("INSERT INTO shop.people SELECT * FROM shop.people WHERE id < 40")  # exact ties
    return data_dir


def policy(tmp_path: Path, k: int = 5) -> Path:
    columns = {"id": "keep", "note": "keep", **dict.fromkeys(QIS, "quasi")}
    path = tmp_path / "minimization.yaml"
    path.write_text(yaml.safe_dump({"k": k, "sources": {"shop": {"tables": {"people": {"columns": columns}}}}}))
    return path


def test_types_nulls_ties_and_a_one_valued_column(awkward: Path, tmp_path: Path) -> None:
    result = Pipeline(awkward, policy(tmp_path)).publish_raw_safe("shop", "people")
    assert result.published, [c.summary for c in result.failed_checks]
    assert result.rows == 640
    with open_warehouse(awkward, "raw", "raw_safe") as connection:

        def types(database: str) -> list[tuple]:
            return connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_catalog = ? ORDER BY ordinal_position",
                [database],
            ).fetchall()

        assert types("raw_safe") == types("raw")
        released = connection.execute("SELECT * FROM raw_safe.shop.people").df()
        ids = connection.execute(
            "SELECT count(*) FROM raw.shop.people r JOIN raw_safe.shop.people s USING (id, note)"
        ).fetchone()[0]
    assert ids >= 640, "every row is released once, with its keys"
    assert set(released["country"]) == {"US"}
    # pycanon groups with pandas, which drops NULL keys: give NULL a value of its own
    as_text = released[QIS].astype("string").fillna("<null>")
    assert anonymity.k_anonymity(as_text, QIS) >= 5


def test_a_rerun_on_the_same_data_releases_the_same_table(awkward: Path, tmp_path: Path) -> None:
    pipeline = Pipeline(awkward, policy(tmp_path))
    pipeline.publish_raw_safe("shop", "people")
    first = table_digest(awkward, "raw_safe", "shop", "people")
    pipeline.publish_raw_safe("shop", "people")
    assert table_digest(awkward, "raw_safe", "shop", "people") == first


def test_a_table_smaller_than_k_is_refused(awkward: Path, tmp_path: Path) -> None:
    with pytest.raises(KAnonymityError, match="fewer rows than k"):
        Pipeline(awkward, policy(tmp_path, k=1_000)).publish_raw_safe("shop", "people")
