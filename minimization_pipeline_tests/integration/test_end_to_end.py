"""The whole hourly job with a real `dbt build`, on both warehouses: what the issues promise.

Parametrized over the embedded DuckDB and Snowflake (a fakesnow server over the wire protocol, dbt-snowflake):
every stage materialized with its checks; RAW_SAFE keeps RAW's schema; no RAW email, phone or name
anywhere in RAW_SAFE or PUBLIC; joins on pseudonymized emails match exactly the RAW pairs; k holds on
every treated table (and pycanon agrees); PUBLIC releases only its listed columns. The tests after them
look at DuckDB's files, artifacts and graph.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from pycanon import anonymity

from minimization_pipeline.anonymize import verify
from minimization_pipeline.catalog import Catalog
from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.policy import Role, Treatment, load_policy
from minimization_pipeline.settings import DBT_PROJECT_DIR, PROJECT_ROOT
from minimization_pipeline_tests.conftest import TEST_SECRET, PipelineRun
from minimization_pipeline_tests.integration.helpers import open_warehouse, tables
from minimization_pipeline_tests.snowflake_run import SnowflakeRun

RAW_SAFE_TABLES = [
    ("app", "users"), ("app", "orders"), ("app", "events"), ("app", "plans"),
    ("stripe", "customers"), ("stripe", "charges"),
]  # fmt: skip
DBT_MODELS = [
    "hourly_events",
    "stg_app__users", "stg_app__orders", "stg_app__events", "stg_app__plans",
    "stg_stripe__customers", "stg_stripe__charges", "customers", "daily_revenue_by_plan",
]  # fmt: skip


@dataclass
class Released:
    """One hourly run on one warehouse, and how to look at what it released (neutral SQL only)."""

    warehouse: str
    result: dg.ExecuteInProcessResult
    rows: Callable[[str], list[tuple]]
    frame: Callable[[str], pd.DataFrame]
    catalog: Callable[[str], Catalog]
    models_schema: str  # where dbt wrote its models, and PUBLIC mirrors them


@pytest.fixture(params=["duckdb", "snowflake"])
def released(request: pytest.FixtureRequest) -> Released:
    """The same promises on the embedded DuckDB and on Snowflake (a fakesnow server over the wire)."""
    if request.param == "duckdb":
        run: PipelineRun = request.getfixturevalue("pipeline_run")
        data_dir, policy = run.settings.data_dir, run.settings.policy_path

        def rows(sql: str) -> list[tuple]:
            with open_warehouse(data_dir, "raw", "raw_safe", "public", "dev") as connection:
                return connection.execute(sql).fetchall()

        def frame(sql: str) -> pd.DataFrame:
            with open_warehouse(data_dir, "raw", "raw_safe", "public", "dev") as connection:
                return connection.execute(sql).df()

        def catalog(database: str) -> Catalog:
            with Pipeline(data_dir, policy).warehouse().session(read=[database]) as session:
                return session.catalog(database)

        return Released("duckdb", run.result, rows, frame, catalog, "main")

    snowflake: SnowflakeRun = request.getfixturevalue("snowflake_run")

    def snowflake_frame(sql: str) -> pd.DataFrame:
        with snowflake.connect() as connection:
            cursor = connection.cursor().execute(sql)
            names = [column[0].lower() for column in cursor.description]
            return pd.DataFrame.from_records(cursor.fetchall(), columns=names)

    def snowflake_catalog(database: str) -> Catalog:
        pipeline = Pipeline(snowflake.state, PROJECT_ROOT / "minimization.yaml", snowflake=snowflake.connect)
        with pipeline.warehouse().session() as session:
            return session.catalog(database)

    return Released("snowflake", snowflake.result, snowflake.rows, snowflake_frame, snowflake_catalog, "models")


def test_hourly_job_materializes_every_stage(released: Released) -> None:
    assert released.result.success
    materialized = {event.asset_key.to_user_string() for event in released.result.get_asset_materialization_events()}
    expected = {f"raw_safe/{s}/{t}" for s, t in RAW_SAFE_TABLES} | set(DBT_MODELS) | {"public/customers"}
    assert expected <= materialized
    checks = released.result.get_asset_check_evaluations()
    assert checks, "blocking checks must be reported"
    assert all(check.passed for check in checks), [c.check_name for c in checks if not c.passed]


def test_raw_safe_keeps_every_schema(released: Released) -> None:
    raw, safe = released.catalog("raw"), released.catalog("raw_safe")
    assert [(t.schema, t.name, t.columns) for t in safe.tables] == [(t.schema, t.name, t.columns) for t in raw.tables]
    assert safe.get("app", "plans").kind == "view", "pass-through tables are views, not copies"
    assert safe.get("app", "users").kind == "table"


IDENTIFIERS = """
    SELECT email AS v FROM raw.app.users UNION SELECT phone FROM raw.app.users
    UNION SELECT first_name FROM raw.app.users UNION SELECT last_name FROM raw.app.users
    UNION SELECT first_name || ' ' || last_name FROM raw.app.users
    UNION SELECT email FROM raw.stripe.customers UNION SELECT name FROM raw.stripe.customers
    UNION SELECT ip_address FROM raw.app.events
"""


def test_no_raw_email_phone_or_name_anywhere_in_raw_safe_or_public(released: Released) -> None:
    assert released.rows(f"SELECT count(*) FROM ({IDENTIFIERS}) i")[0][0] > 3 * 1_000
    scanned = 0
    for database in ("raw_safe", "public"):
        for table in released.catalog(database).tables:
            for column in (c.name for c in table.columns if c.data_type == "VARCHAR"):
                leaked = released.rows(
                    f"SELECT count(*) FROM {database}.{table.schema}.{table.name} t "
                    f"JOIN ({IDENTIFIERS}) i ON t.{column} = i.v"
                )[0][0]
                assert leaked == 0, f"{database}.{table.key}.{column} holds {leaked} RAW identifiers"
                scanned += 1
    assert scanned >= 15


def test_pseudonymized_emails_join_exactly_like_raw(released: Released) -> None:
    query = "SELECT u.id, c.id FROM {db}.app.users u JOIN {db}.stripe.customers c ON u.email = c.email ORDER BY 1, 2"
    raw_pairs = released.rows(query.format(db="raw"))
    safe_pairs = released.rows(query.format(db="raw_safe"))
    differ = released.rows(
        "SELECT count(*) FROM raw.app.users r JOIN raw_safe.app.users s ON r.id = s.id WHERE r.email = s.email"
    )[0][0]
    assert len(raw_pairs) > 100
    assert safe_pairs == raw_pairs
    assert differ == 0


def test_k_holds_on_every_treated_table(released: Released) -> None:
    policy = load_policy(PROJECT_ROOT / "minimization.yaml")
    checked = 0
    for schema, table in RAW_SAFE_TABLES:
        table_policy = policy.table(schema, table)
        if table_policy.treatment is not Treatment.TREAT:
            continue
        quasi = [name for name, column in table_policy.columns.items() if column.role is Role.QUASI]
        if not quasi:
            continue
        smallest = released.rows(
            f"SELECT min(n) FROM (SELECT count(*) AS n FROM raw_safe.{schema}.{table} GROUP BY {', '.join(quasi)})"
        )[0][0]
        assert smallest >= policy.k_for(table_policy), f"{schema}.{table}: class of {smallest}"
        checked += 1
    smallest_public = released.rows(
        f"SELECT min(n) FROM (SELECT count(*) AS n FROM public.{released.models_schema}.customers "
        "GROUP BY age, zip3, gender)"
    )[0][0]
    assert checked == 4
    assert smallest_public >= policy.public.k


def test_pycanon_confirms_k_on_users_and_public(released: Released) -> None:
    """An independent implementation of k-anonymity, on the released rows of small tables."""
    users = released.frame(
        "SELECT CAST(birth_date AS VARCHAR) AS birth_date, gender, zip, city FROM raw_safe.app.users"
    )
    public = released.frame(f"SELECT age, zip3, gender FROM public.{released.models_schema}.customers")
    assert len(users) == released.rows("SELECT count(*) FROM raw.app.users")[0][0]
    # pycanon groups with pandas, which drops NULL keys: give NULL a value of its own.
    assert anonymity.k_anonymity(users.fillna("<null>"), ["birth_date", "gender", "zip", "city"]) >= 5
    public = public.astype("object").where(pd.notna(public), "<null>")
    assert anonymity.k_anonymity(public, ["age", "zip3", "gender"]) >= 20


def test_public_publishes_only_the_listed_columns(released: Released) -> None:
    customers = released.catalog("public").get(released.models_schema, "customers")
    joined = released.rows(
        f"SELECT count(*) FROM public.{released.models_schema}.customers p JOIN raw.app.users u ON p.user_id = u.id"
    )[0][0]
    assert [c.name for c in customers.columns] == ["user_id", "age", "zip3", "gender", "lifetime_value", "order_count"]
    assert joined == 0, "public user ids must be pseudonyms, not RAW ids"


def test_secret_never_reaches_data_logs_or_dbt_artifacts(pipeline_run: PipelineRun) -> None:
    secret = TEST_SECRET.encode()
    for path in pipeline_run.settings.data_dir.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), f"secret found in {path}"
    for path in (DBT_PROJECT_DIR / "target").rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert secret not in path.read_bytes(), f"secret found in {path}"
    logs = pipeline_run.instance.all_logs(pipeline_run.result.run_id)
    assert logs
    for record in logs:
        assert TEST_SECRET not in repr(record)


def test_dev_target_builds_every_model_prod_builds(pipeline_run: PipelineRun, tmp_path: Path) -> None:
    """`dbt build --target prod` reads RAW and writes ANALYTICS; dev already built on RAW_SAFE."""
    data_dir = pipeline_run.settings.data_dir
    completed = subprocess.run(
        ["dbt", "build", "--target", "prod", "--profiles-dir", str(DBT_PROJECT_DIR),
         "--project-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target")],
        capture_output=True, text=True, env={**__import__("os").environ, "MINIMIZATION_DATA_DIR": str(data_dir)},
        check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:]
    with open_warehouse(data_dir, "dev", "analytics") as connection:
        dev = tables(connection, "dev")
        prod = tables(connection, "analytics")
        dev_customers = connection.execute("SELECT count(*) FROM dev.main.customers").fetchone()[0]
        prod_customers = connection.execute("SELECT count(*) FROM analytics.main.customers").fetchone()[0]
    assert sorted(name for _, name in prod) == sorted(DBT_MODELS)
    assert dev == prod
    assert dev_customers == prod_customers > 0


def test_lineage_runs_from_raw_to_public(pipeline_run: PipelineRun) -> None:
    from minimization_pipeline.definitions import build_definitions

    defs = build_definitions(pipeline_run.settings)
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()

    def parents(key: str) -> set[str]:
        return {parent.to_user_string() for parent in graph.get(dg.AssetKey.from_user_string(key)).parent_keys}

    assert "raw/app/users" in parents("raw_safe/app/users")
    assert "raw_safe/app/users" in parents("stg_app__users")
    assert "stg_app__users" in parents("customers")
    assert "customers" in parents("public/customers")


@pytest.mark.parametrize("schema, table", [("app", "users"), ("app", "plans")])
def test_one_raw_safe_table_materializes_on_its_own(
    pipeline_run: PipelineRun, schema: str, table: str, tmp_path: Path
) -> None:
    """What 'Materialize' on one asset in the UI does: a run of just that asset and its checks."""
    from minimization_pipeline.definitions import build_definitions
    from minimization_pipeline_tests.conftest import copy_run_data, make_settings

    settings = make_settings(copy_run_data(pipeline_run, tmp_path / "data"))
    defs = build_definitions(settings)
    key = dg.AssetKey(["raw_safe", schema, table])
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(asset_selection=[key], instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert [event.asset_key for event in result.get_asset_materialization_events()] == [key]
    checks = {evaluation.check_name for evaluation in result.get_asset_check_evaluations()}
    assert checks == {*verify.CHECK_NAMES, "matches_raw_schema", "column_schema_change"}


def test_summary_lists_every_table_with_its_k(pipeline_run: PipelineRun) -> None:
    """What `make run` prints, from the run's own events."""
    from minimization_pipeline.summary import format_summary, summarize

    rows = summarize(pipeline_run.result, pipeline_run.settings)
    by_table = {row.table: row for row in rows}
    assert {f"raw_safe/{s}/{t}" for s, t in RAW_SAFE_TABLES} | set(DBT_MODELS) | {"public/customers"} <= set(by_table)
    users = by_table["raw_safe/app/users"]
    assert users.rows == 1_500 and users.k_required == 5 and users.k_achieved >= 5 and 0 < users.gcp < 1
    assert by_table["public/customers"].k_required == 20
    assert by_table["customers"].rows == 1_500, "dbt models are counted too"
    text = format_summary(rows)
    assert text.splitlines()[0].split() == [
        "table",
        "rows",
        "treatment",
        "k",
        "req",
        "k",
        "got",
        "GCP",
        "risk",
        "before→after",
        "seconds",
        "status",
    ]
    assert all(row.status == "ok" for row in rows)
    # 1,500 demo users over 4 quasi-identifiers: someone is unique in RAW; nobody above 1/k once published
    assert users.risk_before == 1.0 and users.risk_after is not None and users.risk_after <= 1 / 5
    assert "privacy_report" in by_table


def test_the_privacy_report_covers_every_table_with_risk_and_plots(pipeline_run: PipelineRun) -> None:
    """The report asset's Markdown (the UI) and HTML (the data folder), and the PNGs on the materializations."""
    report = next(
        event.step_materialization_data.materialization
        for event in pipeline_run.result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey("privacy_report")
    )
    markdown = report.metadata["report"].value
    page = Path(report.metadata["html"].value)
    assert page.is_file() and page.parent == pipeline_run.settings.data_dir / "reports"
    html = page.read_text()
    for key in [f"raw_safe/{s}/{t}" for s, t in RAW_SAFE_TABLES] + ["public/customers"]:
        assert key in markdown and key in html, key
    for label in ("highest prosecutor risk", "linkage attack success", "re_identification_risk", "k_anonymity"):
        assert label in markdown and label in html, label
    assert "FAILED" not in html and "❌" not in markdown
    assert html.count("data:image/png;base64,") >= 4, "one plot per quasi-identifier of app.users at least"
    users = next(
        event.step_materialization_data.materialization
        for event in pipeline_run.result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey(["raw_safe", "app", "users"])
    )
    plots = {name: entry.value for name, entry in users.metadata.items() if name.startswith("plot_")}
    assert set(plots) == {"plot_birth_date", "plot_gender", "plot_zip", "plot_city"}
    for path in plots.values():
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert users.metadata["unique_records_after"].value == 0.0
    assert users.metadata["linkage_success_after"].value <= 1 / 5
