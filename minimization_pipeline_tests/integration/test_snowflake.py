"""Production on Snowflake, over the real wire protocol: a fakesnow server, the Python connector, Dagster.

`MINIMIZATION_ENV=prod` with the connection pointed at the fake server: the same definitions, the same
RAW_SAFE assets and checks as on DuckDB, run by Dagster. The demo RAW is loaded the way a loader does it
(upper-case names, Snowflake types). Where fakesnow differs from Snowflake the bridge is in
`fakesnow_server.py`, never in the product.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from snowflake import connector as snowflake_connector

from minimization_pipeline.anonymize import verify
from minimization_pipeline.definitions import build_definitions
from minimization_pipeline.defs.automation import HOURLY_JOB
from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.settings import PROJECT_ROOT, load_settings
from minimization_pipeline.warehouse.base import TableRef
from minimization_pipeline.warehouse.snowflake import SnowflakeSession, engine_type, fold_identifiers, to_engine_name
from minimization_pipeline_tests import fakesnow_server as fake
from minimization_pipeline_tests.conftest import TEST_SECRET
from minimization_pipeline_tests.snowflake_loader import load_raw

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
def warehouse(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> Iterator[dict[str, Any]]:
    """The fake server with the demo RAW loaded, and the environment of a production deployment."""
    with fake.fakesnow_server() as kwargs, pytest.MonkeyPatch.context() as env:
        connect_args = {
            key: kwargs[key] for key in ("host", "port", "protocol", "session_parameters", "network_timeout")
        }
        env.setenv("MINIMIZATION_ENV", "prod")
        env.setenv("SNOWFLAKE_ACCOUNT", kwargs["account"])
        env.setenv("SNOWFLAKE_USER", kwargs["user"])
        env.setenv("SNOWFLAKE_PASSWORD", kwargs["password"])
        env.setenv("SNOWFLAKE_CONNECTION_ARGS", json.dumps(connect_args))
        env.setenv("MINIMIZATION_SECRET", TEST_SECRET)
        state = tmp_path_factory.mktemp("snowflake_state")  # catalog snapshots; no warehouse files here
        env.setenv("MINIMIZATION_DATA_DIR", str(state))
        env.setenv("MINIMIZATION_DBT_TARGET", "dev")
        # dbt-snowflake reads its connection from profiles.yml's env_var()s; fakesnow has no query tags
        env.setenv("SNOWFLAKE_HOST", kwargs["host"])
        env.setenv("SNOWFLAKE_PORT", str(kwargs["port"]))
        env.setenv("SNOWFLAKE_PROTOCOL", kwargs["protocol"])
        env.setenv("DBT_QUERY_TAG", "")
        env.setenv("DBT_PROD_USER", kwargs["user"])

        @contextmanager
        def connect() -> Iterator[Any]:
            connection = snowflake_connector.connect(**kwargs, paramstyle="qmark")
            try:
                yield connection
            finally:
                connection.close()

        load_raw(demo_data / "raw.duckdb", connect)
        with connect() as connection:  # what the warehouse_grants job creates in production
            for database in ("RAW_SAFE", "DEV", "ANALYTICS", "PUBLIC", "MINIMIZATION_STAGING"):
                connection.cursor().execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        yield {"connect": connect, "kwargs": kwargs, "state": state}


@pytest.fixture(scope="module")
def published(warehouse: dict[str, Any]) -> dg.ExecuteInProcessResult:
    """The hourly job run by Dagster against Snowflake: RAW_SAFE, `dbt build` (dev, dbt-snowflake), PUBLIC."""
    fake.RECEIVED.clear()
    defs = build_definitions(load_settings())
    job = defs.resolve_job_def(HOURLY_JOB)
    return job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def query(warehouse: dict[str, Any], sql: str, params: list[object] | None = None) -> list[tuple]:
    with warehouse["connect"]() as connection:
        return connection.cursor().execute(sql, params).fetchall()


def test_the_hourly_job_runs_end_to_end_on_snowflake(published: dg.ExecuteInProcessResult) -> None:
    assert published.success
    keys = {event.asset_key for event in published.get_asset_materialization_events()}
    assert {dg.AssetKey(["raw_safe", s, t]) for s, t in RAW_SAFE_TABLES} <= keys
    assert {dg.AssetKey([model]) for model in DBT_MODELS} <= keys
    assert dg.AssetKey(["public", "customers"]) in keys
    failed = [(e.asset_key, e.check_name) for e in published.get_asset_check_evaluations() if not e.passed]
    assert not failed
    names = {e.check_name for e in published.get_asset_check_evaluations()}
    assert set(verify.CHECK_NAMES) | {"matches_raw_schema"} <= names


def test_raw_safe_keeps_raw_schema_and_names_on_snowflake(warehouse: dict[str, Any], published) -> None:
    pipeline = Pipeline(warehouse["state"], PROJECT_ROOT / "minimization.yaml", snowflake=warehouse["connect"])
    with pipeline.warehouse().session() as session:
        raw, safe = session.catalog("raw"), session.catalog("raw_safe")
    assert sorted((t.schema, t.name) for t in safe.tables) == RAW_SAFE_TABLES  # lower-case keys, as DuckDB
    for table in raw.tables:
        assert safe.get(table.schema, table.name).columns == table.columns, table.key
    # Stored the Snowflake way: unquoted upper-case names a dbt source finds without quoting.
    assert query(warehouse, "SELECT COUNT(*) FROM RAW_SAFE.APP.USERS")[0][0] == 1_500


def test_pseudonyms_join_across_tables_exactly_as_raw_does(warehouse: dict[str, Any], published) -> None:
    raw_pairs = query(
        warehouse, "SELECT COUNT(*) FROM RAW.APP.USERS u JOIN RAW.STRIPE.CUSTOMERS c ON u.EMAIL = c.EMAIL"
    )[0][0]
    safe_pairs = query(
        warehouse,
        "SELECT COUNT(*) FROM RAW_SAFE.APP.USERS u JOIN RAW_SAFE.STRIPE.CUSTOMERS c ON u.EMAIL = c.EMAIL",
    )[0][0]
    assert raw_pairs > 100 and safe_pairs == raw_pairs
    leaked = query(
        warehouse,
        "SELECT COUNT(*) FROM RAW_SAFE.APP.USERS s JOIN RAW.APP.USERS r "
        "ON s.EMAIL = r.EMAIL OR s.FIRST_NAME = r.FIRST_NAME OR s.PHONE = r.PHONE",
    )[0][0]
    assert leaked == 0


def test_public_is_k_anonymous_at_the_public_k_on_snowflake(warehouse: dict[str, Any], published) -> None:
    rows = query(warehouse, "SELECT COUNT(*) FROM DEV.MODELS.CUSTOMERS")[0][0]
    assert rows == 1_500 and query(warehouse, "SELECT COUNT(*) FROM PUBLIC.MODELS.CUSTOMERS")[0][0] == rows
    smallest = query(
        warehouse, "SELECT MIN(n) FROM (SELECT COUNT(*) AS n FROM PUBLIC.MODELS.CUSTOMERS GROUP BY AGE, ZIP3, GENDER)"
    )[0][0]
    assert smallest >= 20


def test_dbt_prod_builds_the_same_models_from_raw_on_snowflake(warehouse: dict[str, Any], published) -> None:
    """The article's prod target (TRANSFORMER: RAW → ANALYTICS) builds what dev builds from RAW_SAFE."""
    import os
    import subprocess

    done = subprocess.run(
        [*("dbt", "build", "--project-dir", "dbt_project", "--profiles-dir", "dbt_project"), *PROD_PROFILE],
        cwd=PROJECT_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    tables = "SELECT TABLE_NAME FROM {}.INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'MODELS' ORDER BY 1"
    built = query(warehouse, tables.format("ANALYTICS"))
    assert built and built == query(warehouse, tables.format("DEV"))
    assert query(warehouse, "SELECT COUNT(*) FROM ANALYTICS.MODELS.CUSTOMERS")[0][0] == 1_500


def test_no_raw_identifier_in_any_text_column_of_raw_safe_or_public(warehouse: dict[str, Any], published) -> None:
    """The DuckDB suite's leak test, on Snowflake: every text column against every RAW identifier."""
    identifiers = """
        SELECT EMAIL AS V FROM RAW.APP.USERS UNION SELECT PHONE FROM RAW.APP.USERS
        UNION SELECT FIRST_NAME FROM RAW.APP.USERS UNION SELECT LAST_NAME FROM RAW.APP.USERS
        UNION SELECT FIRST_NAME || ' ' || LAST_NAME FROM RAW.APP.USERS
        UNION SELECT EMAIL FROM RAW.STRIPE.CUSTOMERS UNION SELECT NAME FROM RAW.STRIPE.CUSTOMERS
        UNION SELECT IP_ADDRESS FROM RAW.APP.EVENTS
    """
    assert query(warehouse, f"SELECT COUNT(*) FROM ({identifiers})")[0][0] > 3_000
    scanned = 0
    for database in ("RAW_SAFE", "PUBLIC"):
        columns = query(
            warehouse,
            f"SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM {database}.INFORMATION_SCHEMA.COLUMNS "
            "WHERE DATA_TYPE = 'TEXT' AND TABLE_SCHEMA <> 'INFORMATION_SCHEMA'",
        )
        for schema, table, column in columns:
            leaked = query(
                warehouse,
                f'SELECT COUNT(*) FROM {database}."{schema}"."{table}" t JOIN ({identifiers}) i ON t."{column}" = i.V',
            )[0][0]
            assert leaked == 0, f"{database}.{schema}.{table}.{column} holds {leaked} RAW identifiers"
            scanned += 1
    assert scanned >= 15


def test_k_holds_on_snowflake(warehouse: dict[str, Any], published) -> None:
    smallest = query(
        warehouse,
        "SELECT MIN(n) FROM (SELECT COUNT(*) AS n FROM RAW_SAFE.APP.USERS GROUP BY BIRTH_DATE, GENDER, ZIP, CITY)",
    )[0][0]
    assert smallest >= 5


def test_the_secret_is_in_no_sql_text_the_server_received(published) -> None:
    texts = [text for text, _ in fake.RECEIVED]
    assert len(texts) > 50
    assert not [text for text in texts if TEST_SECRET in text]
    # it did travel, as a bound value of the session variable the hashes read
    assert any(text.startswith("SET MINIMIZATION_SECRET") and bound for text, bound in fake.RECEIVED)
    assert any("$MINIMIZATION_SECRET" in text for text in texts)


def test_a_publish_killed_between_staging_and_swap_leaves_the_table_intact(
    warehouse: dict[str, Any], published, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = query(warehouse, "SELECT * FROM RAW_SAFE.APP.ORDERS ORDER BY ID")

    def killed(self: SnowflakeSession, staging: TableRef, target: TableRef) -> None:
        raise KeyboardInterrupt("killed between staging and swap")

    monkeypatch.setattr(SnowflakeSession, "swap_in", killed)
    pipeline = Pipeline(warehouse["state"], PROJECT_ROOT / "minimization.yaml", snowflake=warehouse["connect"])
    with pytest.raises(KeyboardInterrupt):
        pipeline.publish_raw_safe("app", "orders")
    assert query(warehouse, "SELECT * FROM RAW_SAFE.APP.ORDERS ORDER BY ID") == before
    staging = query(warehouse, "SELECT COUNT(*) FROM MINIMIZATION_STAGING.INFORMATION_SCHEMA.TABLES")[0][0]
    assert staging == 0
    monkeypatch.undo()
    assert pipeline.publish_raw_safe("app", "orders").published  # and the next run goes through
    assert query(warehouse, "SELECT * FROM RAW_SAFE.APP.ORDERS ORDER BY ID") == before  # deterministic output


def test_unchecked_tables_are_built_only_in_the_private_staging_database(published) -> None:
    """RAW_SAFE and PUBLIC carry future grants to their readers: nothing unchecked may be created there."""
    created = [text for text, _ in fake.RECEIVED if re.match(r"CREATE (OR REPLACE )?(TABLE|VIEW)", text)]
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


def test_every_publish_is_tagged_with_its_table(published) -> None:
    """Query tags attribute the warehouse's cost: one per published table (no-ops on fakesnow, but sent)."""
    tags = {text for text, _ in fake.RECEIVED if text.startswith("ALTER SESSION SET QUERY_TAG")}
    for schema, table in RAW_SAFE_TABLES:
        assert f"ALTER SESSION SET QUERY_TAG = 'minimization_pipeline:publish:raw_safe.{schema}.{table}'" in tags
    assert "ALTER SESSION SET QUERY_TAG = 'minimization_pipeline:publish:public.models.customers'" in tags


def test_a_pass_through_table_can_be_a_zero_copy_clone(warehouse: dict[str, Any], published, tmp_path: Path) -> None:
    import yaml

    policy = yaml.safe_load((PROJECT_ROOT / "minimization.yaml").read_text())
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

    policy = yaml.safe_load((PROJECT_ROOT / "minimization.yaml").read_text())
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

    pipeline = Pipeline(warehouse["state"], PROJECT_ROOT / "minimization.yaml", snowflake=client_side)
    with pytest.raises(ValueError, match="paramstyle='qmark'"), pipeline.warehouse().session(secret="x" * 20):
        pass


def test_identifier_folding_and_engine_types() -> None:
    expression = TableRef("raw_safe", "app", "users").expression()
    assert fold_identifiers(expression).sql("snowflake") == '"RAW_SAFE"."APP"."USERS"'
    assert to_engine_name("USERS") == "users" and to_engine_name("MixedCase") == "MixedCase"
    assert engine_type("NUMBER", 38, 0) == "BIGINT"
    assert engine_type("NUMBER", 10, 2) == "DECIMAL(10,2)"
    assert engine_type("TEXT") == "VARCHAR" and engine_type("TIMESTAMP_NTZ") == "TIMESTAMP"
