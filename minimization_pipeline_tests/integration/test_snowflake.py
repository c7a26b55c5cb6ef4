"""What only Snowflake has: the secret on the wire, the staging database, clones, tags, binding, dbt prod.

The end-to-end promises (every stage, schemas, no RAW identifier anywhere, joins, k, PUBLIC) run on both
warehouses in `test_end_to_end.py`; this module checks the Snowflake side's own mechanics against the
session's run (`snowflake_run.py`: a fakesnow server, the Python connector, Dagster with
`MINIMIZATION_ENV=prod`). Where fakesnow differs from Snowflake the bridge is in `fakesnow_server.py`,
never in the product.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from snowflake import connector as snowflake_connector

from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.settings import PROJECT_ROOT
from minimization_pipeline.warehouse.base import TableRef
from minimization_pipeline.warehouse.snowflake import SnowflakeSession, engine_type, fold_identifiers, to_engine_name
from minimization_pipeline_tests import fakesnow_server as fake
from minimization_pipeline_tests.conftest import TEST_SECRET, WHOLE_TABLES_POLICY
from minimization_pipeline_tests.snowflake_run import SnowflakeRun

pytestmark = pytest.mark.slow

PROD_PROFILE = ("--profile", "minimization_snowflake", "--target", "prod")
DBT_MODELS = [
    "stg_app__users",
    "stg_app__orders",
    "stg_app__events",
    "stg_app__plans",
    "stg_stripe__customers",
    "stg_stripe__charges",
    "customers",
    "daily_revenue_by_plan",
]
RAW_SAFE_TABLES = [
    ("app", "events"),
    ("app", "orders"),
    ("app", "plans"),
    ("app", "users"),
    ("stripe", "charges"),
    ("stripe", "customers"),
]


@pytest.fixture(scope="module")
def warehouse(snowflake_run: SnowflakeRun) -> dict[str, Any]:
    """The fake server the session's Snowflake run used (see `snowflake_run.py`)."""
    return {"connect": snowflake_run.connect, "kwargs": snowflake_run.kwargs, "state": snowflake_run.state}


@pytest.fixture(scope="module")
def published(snowflake_run: SnowflakeRun) -> dg.ExecuteInProcessResult:
    """The hourly job run by Dagster against Snowflake: RAW_SAFE, `dbt build` (dev, dbt-snowflake), PUBLIC."""
    assert snowflake_run.result.success
    return snowflake_run.result


def query(warehouse: dict[str, Any], sql: str, params: list[object] | None = None) -> list[tuple]:
    with warehouse["connect"]() as connection:
        return connection.cursor().execute(sql, params).fetchall()


def test_dbt_prod_builds_the_same_models_from_raw_on_snowflake(
    warehouse: dict[str, Any], snowflake_run: SnowflakeRun
) -> None:
    """The article's prod target (TRANSFORMER: RAW → ANALYTICS) builds what dev builds from RAW_SAFE."""
    import os
    import subprocess

    done = subprocess.run(
        [*("dbt", "build", "--project-dir", "dbt_project", "--profiles-dir", "dbt_project"), *PROD_PROFILE],
        cwd=PROJECT_ROOT,
        env={**os.environ, **snowflake_run.env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    tables = "SELECT TABLE_NAME FROM {}.INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'MODELS' ORDER BY 1"
    built = query(warehouse, tables.format("ANALYTICS"))
    assert built and built == query(warehouse, tables.format("DEV"))
    assert query(warehouse, "SELECT COUNT(*) FROM ANALYTICS.MODELS.CUSTOMERS")[0][0] == 1_500


def test_the_secret_is_in_no_sql_text_the_server_received(snowflake_run: SnowflakeRun) -> None:
    texts = [text for text, _ in snowflake_run.received]
    assert len(texts) > 50
    assert not [text for text in texts if TEST_SECRET in text]
    # it did travel, as a bound value of the session variable the hashes read
    assert any(text.startswith("SET MINIMIZATION_SECRET") and bound for text, bound in snowflake_run.received)
    assert any("$MINIMIZATION_SECRET" in text for text in texts)


def test_a_publish_killed_between_staging_and_swap_leaves_the_table_intact(
    warehouse: dict[str, Any], published, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = query(warehouse, "SELECT * FROM RAW_SAFE.APP.ORDERS ORDER BY ID")

    def killed(self: SnowflakeSession, staging: TableRef, target: TableRef) -> None:
        raise KeyboardInterrupt("killed between staging and swap")

    monkeypatch.setattr(SnowflakeSession, "swap_in", killed)
    pipeline = Pipeline(warehouse["state"], WHOLE_TABLES_POLICY, snowflake=warehouse["connect"])
    with pytest.raises(KeyboardInterrupt):
        pipeline.publish_raw_safe("app", "orders")
    assert query(warehouse, "SELECT * FROM RAW_SAFE.APP.ORDERS ORDER BY ID") == before
    staging = query(warehouse, "SELECT COUNT(*) FROM MINIMIZATION_STAGING.INFORMATION_SCHEMA.TABLES")[0][0]
    assert staging == 0
    monkeypatch.undo()
    assert pipeline.publish_raw_safe("app", "orders").published  # and the next run goes through
    assert query(warehouse, "SELECT * FROM RAW_SAFE.APP.ORDERS ORDER BY ID") == before  # deterministic output


def test_unchecked_tables_are_built_only_in_the_private_staging_database(snowflake_run: SnowflakeRun) -> None:
    """RAW_SAFE and PUBLIC carry future grants to their readers: nothing unchecked may be created there."""
    created = [text for text, _ in snowflake_run.received if re.match(r"CREATE (OR REPLACE )?(TABLE|VIEW)", text)]
    built = [text for text in created if text.startswith("CREATE TABLE") and " AS SELECT" in text]
    assert built and all('"MINIMIZATION_STAGING".' in text.split(" AS ")[0] for text in built), built[:3]
    # a pass-through view is checked in staging too, and only then created where readers see it
    views = [text.split(" AS ")[0] for text in created if text.startswith("CREATE OR REPLACE VIEW")]
    assert views == [
        'CREATE OR REPLACE VIEW "MINIMIZATION_STAGING"."RAW_SAFE__APP"."PLANS"',
        'CREATE OR REPLACE VIEW "RAW_SAFE"."APP"."PLANS"',
    ]
    clones = [text for text in created if " CLONE " in text]
    assert {text.split(" CLONE ")[0].split()[-1].split(".")[0] for text in clones} == {'"RAW_SAFE"', '"PUBLIC"'}


def test_every_publish_is_tagged_with_its_table(snowflake_run: SnowflakeRun) -> None:
    """Query tags attribute the warehouse's cost: one per published table (no-ops on fakesnow, but sent)."""
    tags = {text for text, _ in snowflake_run.received if text.startswith("ALTER SESSION SET QUERY_TAG")}
    for schema, table in RAW_SAFE_TABLES:
        assert f"ALTER SESSION SET QUERY_TAG = 'minimization_pipeline:publish:raw_safe.{schema}.{table}'" in tags
    assert "ALTER SESSION SET QUERY_TAG = 'minimization_pipeline:publish:public.models.customers'" in tags


def test_a_pass_through_table_can_be_a_zero_copy_clone(warehouse: dict[str, Any], published, tmp_path: Path) -> None:
    import yaml

    policy = yaml.safe_load((WHOLE_TABLES_POLICY).read_text())
    policy["sources"]["app"]["tables"]["plans"]["pass_through_as"] = "clone"
    path = tmp_path / "minimization.yaml"
    path.write_text(yaml.safe_dump(policy))
    start = len(fake.RECEIVED)
    result = Pipeline(warehouse["state"], path, snowflake=warehouse["connect"]).publish_raw_safe("app", "plans")
    assert result.published
    sent = [text for text, _ in fake.RECEIVED[start:]]
    assert 'CREATE TABLE "MINIMIZATION_STAGING"."RAW_SAFE__APP"."PLANS" CLONE "RAW"."APP"."PLANS"' in sent
    assert query(warehouse, "SELECT COUNT(*) FROM RAW_SAFE.APP.PLANS")[0][0] == 4
    views = query(warehouse, "SELECT COUNT(*) FROM RAW_SAFE.INFORMATION_SCHEMA.VIEWS WHERE TABLE_NAME = 'PLANS'")
    assert views[0][0] == 0  # a table now, not a view


def test_a_leaking_policy_fails_its_pattern_scan_on_snowflake(
    warehouse: dict[str, Any], published, tmp_path: Path
) -> None:
    """`email: keep` must be caught by the scan (REGEXP_INSTR, since Snowflake's REGEXP_LIKE is anchored),
    and nothing replaced. Notes holding an email inside text are caught too (matching anywhere)."""
    import yaml

    policy = yaml.safe_load((WHOLE_TABLES_POLICY).read_text())
    policy["sources"]["app"]["tables"]["users"]["columns"]["email"] = "keep"
    path = tmp_path / "minimization.yaml"
    path.write_text(yaml.safe_dump(policy))
    before = query(warehouse, "SELECT EMAIL FROM RAW_SAFE.APP.USERS ORDER BY ID")
    result = Pipeline(warehouse["state"], path, snowflake=warehouse["connect"]).publish_raw_safe("app", "users")
    assert not result.published
    assert [check.name for check in result.failed_checks] == ["pattern_scan"]
    assert query(warehouse, "SELECT EMAIL FROM RAW_SAFE.APP.USERS ORDER BY ID") == before
    assert query(warehouse, "SELECT COUNT(*) FROM MINIMIZATION_STAGING.INFORMATION_SCHEMA.TABLES")[0][0] == 0
    inside = query(warehouse, "SELECT REGEXP_INSTR('mail me at a@b.com today', '[a-z]+@[a-z]+[.]com') > 0")
    assert inside == [(True,)]


def test_a_connection_that_binds_on_the_client_is_refused(warehouse: dict[str, Any]) -> None:
    """With pyformat binding the connector would write the secret into the query text: fail closed."""

    @contextmanager
    def client_side() -> Iterator[Any]:
        connection = snowflake_connector.connect(**warehouse["kwargs"], paramstyle="pyformat")
        try:
            yield connection
        finally:
            connection.close()

    pipeline = Pipeline(warehouse["state"], WHOLE_TABLES_POLICY, snowflake=client_side)
    with pytest.raises(ValueError, match="paramstyle='qmark'"), pipeline.warehouse().session(secret="x" * 20):
        pass


def test_identifier_folding_and_engine_types() -> None:
    expression = TableRef("raw_safe", "app", "users").expression()
    assert fold_identifiers(expression).sql("snowflake") == '"RAW_SAFE"."APP"."USERS"'
    assert to_engine_name("USERS") == "users" and to_engine_name("MixedCase") == "MixedCase"
    assert engine_type("NUMBER", 38, 0) == "BIGINT"
    assert engine_type("NUMBER", 10, 2) == "DECIMAL(10,2)"
    assert engine_type("TEXT") == "VARCHAR" and engine_type("TIMESTAMP_NTZ") == "TIMESTAMP"


def test_a_partition_slice_replaces_only_its_hours_on_snowflake(warehouse: dict[str, Any], published) -> None:
    """The repository's policy (events hourly) on a table the session built whole: a slice is refused (its
    classes may span hours), a run over every partition rebuilds it, then a week replaces only its hours in
    one transaction (DELETE + INSERT over the wire) and a second run changes nothing."""
    import datetime as dt

    from minimization_pipeline.warehouse.base import SliceSchemaError

    start, end = dt.datetime(2026, 10, 1), dt.datetime(2026, 10, 8)
    pipeline = Pipeline(warehouse["state"], PROJECT_ROOT / "minimization.yaml", snowflake=warehouse["connect"])
    whole = query(warehouse, "SELECT * FROM RAW_SAFE.APP.EVENTS ORDER BY ID")
    with pytest.raises(SliceSchemaError, match="not built partition by partition"):
        pipeline.publish_raw_safe("app", "events", (start, end))
    assert query(warehouse, "SELECT * FROM RAW_SAFE.APP.EVENTS ORDER BY ID") == whole
    rebuilt = pipeline.publish_raw_safe("app", "events", (dt.datetime(2023, 11, 1), dt.datetime(2026, 11, 2)))
    assert rebuilt.published and rebuilt.rows + rebuilt.metrics["rows_held_back"] == len(whole)

    window = "OCCURRED_AT >= '2026-10-01' AND OCCURRED_AT < '2026-10-08'"
    outside = f"SELECT * FROM RAW_SAFE.APP.EVENTS WHERE NOT ({window}) ORDER BY ID"
    before_outside = query(warehouse, outside)
    before_inside = query(warehouse, f"SELECT COUNT(*) FROM RAW_SAFE.APP.EVENTS WHERE {window}")[0][0]
    result = pipeline.publish_raw_safe("app", "events", (start, end))
    assert result.published and result.metrics["partitions_published"] > 0
    in_window = query(warehouse, f"SELECT COUNT(*) FROM RAW_SAFE.APP.EVENTS WHERE {window}")[0][0]
    assert in_window == result.rows == before_inside
    assert query(warehouse, outside) == before_outside
    snapshot = query(warehouse, "SELECT * FROM RAW_SAFE.APP.EVENTS ORDER BY ID")
    assert pipeline.publish_raw_safe("app", "events", (start, end)).published
    assert query(warehouse, "SELECT * FROM RAW_SAFE.APP.EVENTS ORDER BY ID") == snapshot
    smallest = query(
        warehouse,
        "SELECT MIN(n) FROM (SELECT COUNT(*) AS n FROM RAW_SAFE.APP.EVENTS "
        "GROUP BY DATE_TRUNC('HOUR', OCCURRED_AT), USER_AGENT)",
    )[0][0]
    assert smallest >= 5
