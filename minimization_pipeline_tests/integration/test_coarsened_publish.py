"""RAW_SAFE app.users of a 50k-user demo through `Pipeline.publish_raw_safe`, with a tuple budget small enough
that the quasi-identifiers are coarsened in SQL before the histogram (as 10M rows are with the default)."""

from __future__ import annotations

from pathlib import Path

import pytest

from minimization_pipeline.anonymize import coarsen
from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.settings import PROJECT_ROOT
from minimization_pipeline_tests.integration.helpers import open_warehouse

USERS = 50_000
BUDGET = 4_000
QIS = ("birth_date", "gender", "zip", "city")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    from minimization_pipeline.demo.generate import generate_demo

    data_dir = tmp_path_factory.mktemp("coarse_demo")
    generate_demo(data_dir, users=USERS, seed=7)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIMIZATION_SECRET", "coarse-integration-secret-0123456789")
        patch.setattr(coarsen, "TUPLE_BUDGET", BUDGET)
        result = Pipeline(data_dir, PROJECT_ROOT / "minimization.yaml").publish_raw_safe("app", "users")
    return data_dir, result


def test_coarsened_and_published(published: tuple[Path, object]) -> None:
    _, result = published
    assert result.published, [c.summary for c in result.failed_checks]  # type: ignore[attr-defined]
    metrics = result.metrics  # type: ignore[attr-defined]
    assert metrics["tuple_budget"] == BUDGET
    assert metrics["coarsened"]["birth_date"] != "value"
    assert metrics["distinct_tuples"] <= BUDGET * 1.1  # HyperLogLog estimates are within a few percent
    assert metrics["gcp_basis"].startswith("upper bound")
    assert 0 < metrics["gcp_gcp"] < 1
    # risk: RAW's class sizes counted in SQL (no RAW tuples here); the attack is the strongest attacker's
    # expectation (average prosecutor risk), before and after
    assert metrics["prosecutor_risk_highest_before"] == 1.0 and metrics["unique_records_before"] > 0.5
    assert metrics["linkage_success_before"] == metrics["prosecutor_risk_average_before"]
    assert metrics["prosecutor_risk_highest_after"] <= 0.2 and metrics["unique_records_after"] == 0.0
    assert 0 < metrics["linkage_success_after"] == metrics["prosecutor_risk_average_after"] <= 0.2
    assert "coarsened" in metrics["linkage_attack"]


def test_k_types_and_no_raw_identifiers_in_sql(published: tuple[Path, object]) -> None:
    data_dir, _ = published
    group = ", ".join(QIS)
    with open_warehouse(data_dir, "raw", "raw_safe") as connection:
        smallest, rows = connection.execute(
            f"SELECT MIN(n), SUM(n) FROM (SELECT COUNT(*) AS n FROM raw_safe.app.users GROUP BY {group})"
        ).fetchone()
        assert smallest >= 5 and rows == USERS

        def types(database: str) -> list[tuple]:
            return connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_catalog = ? AND table_schema = 'app' AND table_name = 'users' ORDER BY ordinal_position",
                [database],
            ).fetchall()

        assert types("raw_safe") == types("raw")
        for column in ("email", "phone", "first_name", "last_name"):
            leaked = connection.execute(
                f"SELECT COUNT(*) FROM raw_safe.app.users s WHERE s.{column} IN (SELECT {column} FROM raw.app.users)"
            ).fetchone()[0]
            assert leaked == 0, column
        # a released QI value is one that k or more RAW rows hold, or one that no RAW row holds: never a rare
        # value of one member (a centroid date, a masked zip prefix belong to no one)
        for column in QIS:
            rare = connection.execute(
                f"SELECT COUNT(*) FROM raw_safe.app.users s WHERE s.{column} IN "
                f"(SELECT {column} FROM raw.app.users GROUP BY {column} HAVING COUNT(*) < 5)"
            ).fetchone()[0]
            assert rare == 0, column
        # rows keep their own non-QI values: ids and plans are those of RAW, row for row
        assert connection.execute(
            "SELECT COUNT(*) FROM raw_safe.app.users s JOIN raw.app.users r ON s.id = r.id "
            "WHERE s.plan IS NOT DISTINCT FROM r.plan AND s.signup_at IS NOT DISTINCT FROM r.signup_at"
        ).fetchone() == (USERS,)
