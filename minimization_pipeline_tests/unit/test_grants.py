"""Grants as code: the SQL parses as Snowflake, and what it grants (read back from the text) is the article's,
plus the pipeline's own role (ANONYMIZER)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
import yaml
from sqlglot import exp

from minimization_pipeline.grants import (
    GrantsError,
    parse_sql,
    privilege_matrix,
    quote,
    render_grants,
    to_script,
    user_roles,
)
from minimization_pipeline.policy import (
    AnonymizerRole,
    Databases,
    DeveloperRole,
    Policy,
    PolicyError,
    RolesPolicy,
    load_policy,
)

DEMO_POLICY = Path(__file__).resolve().parents[2] / "minimization.yaml"


@pytest.fixture(scope="module")
def script() -> str:
    return to_script(render_grants(load_policy(DEMO_POLICY).roles))


def _read(database: str) -> set[tuple[str, str]]:
    """What a role that reads a whole database gets: the article's seven grants."""
    return {
        (f"DATABASE {database}", "USAGE"),
        (f"ALL SCHEMAS IN DATABASE {database}", "USAGE"),
        (f"FUTURE SCHEMAS IN DATABASE {database}", "USAGE"),
        (f"ALL TABLES IN DATABASE {database}", "SELECT"),
        (f"FUTURE TABLES IN DATABASE {database}", "SELECT"),
        (f"ALL VIEWS IN DATABASE {database}", "SELECT"),
        (f"FUTURE VIEWS IN DATABASE {database}", "SELECT"),
    }


#: The only privileges that do not write: anything else (OWNERSHIP, CREATE ...) is a write.
READ_ONLY = {"USAGE", "SELECT"}

#: The whole privilege matrix of the demo policy, written out. Beyond the article's excerpt: usage on
#: each role's warehouse, DEVELOPER's usage on DEV (a role cannot use a database it has no usage on),
#: and ANONYMIZER, the role the pipeline runs as, which the article does not have.
EXPECTED_MATRIX = {
    "LOADER": {
        ("WAREHOUSE LOADING", "USAGE"),
        ("DATABASE RAW", "USAGE"),
        ("DATABASE RAW", "CREATE SCHEMA"),
    },
    "DEVELOPER": {
        ("WAREHOUSE DEVELOPING", "USAGE"),
        ("DATABASE RAW", "USAGE"),
        ("ALL SCHEMAS IN DATABASE RAW", "USAGE"),
        ("DATABASE RAW_SAFE", "USAGE"),
        ("ALL SCHEMAS IN DATABASE RAW_SAFE", "USAGE"),
        ("FUTURE SCHEMAS IN DATABASE RAW_SAFE", "USAGE"),
        ("ALL TABLES IN DATABASE RAW_SAFE", "SELECT"),
        ("FUTURE TABLES IN DATABASE RAW_SAFE", "SELECT"),
        ("ALL VIEWS IN DATABASE RAW_SAFE", "SELECT"),
        ("FUTURE VIEWS IN DATABASE RAW_SAFE", "SELECT"),
        ("DATABASE DEV", "USAGE"),
        ("DATABASE DEV", "CREATE SCHEMA"),
    },
    "TRANSFORMER": {
        ("WAREHOUSE TRANSFORMING", "USAGE"),
        ("DATABASE RAW", "USAGE"),
        ("ALL SCHEMAS IN DATABASE RAW", "USAGE"),
        ("FUTURE SCHEMAS IN DATABASE RAW", "USAGE"),
        ("ALL TABLES IN DATABASE RAW", "SELECT"),
        ("FUTURE TABLES IN DATABASE RAW", "SELECT"),
        ("ALL VIEWS IN DATABASE RAW", "SELECT"),
        ("FUTURE VIEWS IN DATABASE RAW", "SELECT"),
        ("DATABASE ANALYTICS", "OWNERSHIP"),
    },
    "REPORTER": {
        ("WAREHOUSE REPORTING", "USAGE"),
        ("DATABASE PUBLIC", "USAGE"),
        ("ALL SCHEMAS IN DATABASE PUBLIC", "USAGE"),
        ("FUTURE SCHEMAS IN DATABASE PUBLIC", "USAGE"),
        ("ALL TABLES IN DATABASE PUBLIC", "SELECT"),
        ("FUTURE TABLES IN DATABASE PUBLIC", "SELECT"),
        ("ALL VIEWS IN DATABASE PUBLIC", "SELECT"),
        ("FUTURE VIEWS IN DATABASE PUBLIC", "SELECT"),
    },
    "ANONYMIZER": {
        ("WAREHOUSE ANONYMIZING", "USAGE"),
        # reads (and samples) RAW, never writes it
        ("DATABASE RAW", "USAGE"),
        ("ALL SCHEMAS IN DATABASE RAW", "USAGE"),
        ("FUTURE SCHEMAS IN DATABASE RAW", "USAGE"),
        ("ALL TABLES IN DATABASE RAW", "SELECT"),
        ("FUTURE TABLES IN DATABASE RAW", "SELECT"),
        ("ALL VIEWS IN DATABASE RAW", "SELECT"),
        ("FUTURE VIEWS IN DATABASE RAW", "SELECT"),
        # builds RAW_SAFE; its sessions' temporary tables go to RAW_SAFE.PUBLIC, a schema it does not own
        ("DATABASE RAW_SAFE", "OWNERSHIP"),
        ("SCHEMA RAW_SAFE.PUBLIC", "USAGE"),
        ("SCHEMA RAW_SAFE.PUBLIC", "CREATE TABLE"),
        # reads the dbt models PUBLIC publishes, from DEV (dev target) or ANALYTICS (prod), never writes them
        ("DATABASE DEV", "USAGE"),
        ("ALL SCHEMAS IN DATABASE DEV", "USAGE"),
        ("FUTURE SCHEMAS IN DATABASE DEV", "USAGE"),
        ("ALL TABLES IN DATABASE DEV", "SELECT"),
        ("FUTURE TABLES IN DATABASE DEV", "SELECT"),
        ("ALL VIEWS IN DATABASE DEV", "SELECT"),
        ("FUTURE VIEWS IN DATABASE DEV", "SELECT"),
        ("DATABASE ANALYTICS", "USAGE"),
        ("ALL SCHEMAS IN DATABASE ANALYTICS", "USAGE"),
        ("FUTURE SCHEMAS IN DATABASE ANALYTICS", "USAGE"),
        ("ALL TABLES IN DATABASE ANALYTICS", "SELECT"),
        ("FUTURE TABLES IN DATABASE ANALYTICS", "SELECT"),
        ("ALL VIEWS IN DATABASE ANALYTICS", "SELECT"),
        ("FUTURE VIEWS IN DATABASE ANALYTICS", "SELECT"),
        # publishes PUBLIC
        ("DATABASE PUBLIC", "OWNERSHIP"),
        # builds and checks every table in its private staging database first
        ("DATABASE MINIMIZATION_STAGING", "OWNERSHIP"),
    },
}

#: The article's grants, its three blocks verbatim (its `create` and `create_schema` are Snowflake's
#: CREATE SCHEMA).
ARTICLE_SQL = """
create role loader;
grant usage on database RAW to loader;
grant create on database RAW to loader;
create role developer;
grant usage on database RAW to developer;

create role developer;
-- need usage on RAW to use views in RAW_SAFE that select from RAW
grant usage on database RAW to developer;
grant usage on all schemas in database RAW to developer;
grant usage on database RAW_SAFE to developer;
grant usage on all schemas in database RAW_SAFE to developer;
grant usage on future schemas in database RAW_SAFE to developer;
grant select on all tables in database RAW_SAFE to developer;
grant select on future tables in database RAW_SAFE to developer;
grant select on all views in database RAW_SAFE to developer;
grant select on future views in database RAW_SAFE to developer;
grant create_schema on database dev to developer;

create role transformer;
grant usage on database RAW to transformer;
grant usage on all schemas in database RAW to transformer;
grant usage on future schemas in database RAW to transformer;
grant select on all tables in database RAW to transformer;
grant select on future tables in database RAW to transformer;
grant select on all views in database RAW to transformer;
grant select on future views in database RAW to transformer;
grant ownership on database analytics to transformer;
"""


def _on_database(on: str) -> str:
    """`FUTURE TABLES IN DATABASE RAW` -> `RAW`; `DATABASE RAW` -> `RAW`; `SCHEMA RAW.APP` -> `RAW`;
    `WAREHOUSE X` -> ``."""
    if on.startswith("WAREHOUSE "):
        return ""
    if on.startswith("SCHEMA "):
        return on.removeprefix("SCHEMA ").split(".")[0]
    return on.rsplit(" ", 1)[-1]


def _statement_database(statement: str) -> str:
    """The database a rendered GRANT is on (``RAW_SAFE`` for `... ON SCHEMA "RAW_SAFE"."PUBLIC" ...`), or ``."""
    [grant] = parse_sql(statement).grants
    return _on_database(grant.on)


# --------------------------------------------------------------------------------- the SQL is Snowflake


def test_every_statement_parses_as_snowflake(script: str) -> None:
    lines = script.splitlines()
    assert len(lines) == 75
    for line in lines:
        assert line.endswith(";") and line.count(";") == 1, line
        parsed = sqlglot.parse(line, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)
        assert len([p for p in parsed if p is not None]) == 1, line
    assert len(sqlglot.parse(script, read="snowflake")) == len(lines)


def test_which_statements_sqlglot_structures_and_which_it_keeps_as_commands(script: str) -> None:
    """sqlglot 30.22 parses plain GRANTs and CREATE WAREHOUSE/DATABASE; `grants.py` reads the rest itself.

    If a sqlglot upgrade changes this, `parse_sql` must be checked for the new shapes (it refuses
    anything it does not know, so the matrix tests would fail rather than pass wrongly).
    """
    kinds: dict[str, set[str]] = {}
    for statement in sqlglot.parse(script, read="snowflake"):
        text = statement.sql(dialect="snowflake")
        head = " ".join(text.split()[:3])
        kinds.setdefault(type(statement).__name__, set()).add(
            "FUTURE/ALL" if " IN DATABASE " in text else "COPY CURRENT GRANTS" if "COPY" in text else head
        )
    assert kinds["Command"] == {"CREATE ROLE IF", "FUTURE/ALL", "COPY CURRENT GRANTS"}
    assert kinds["Create"] == {"CREATE WAREHOUSE IF", "CREATE DATABASE IF"}
    assert kinds["Grant"] == {"GRANT USAGE ON", "GRANT CREATE SCHEMA", "GRANT CREATE TABLE"}


def test_statement_order_is_roles_warehouses_databases_then_grants(script: str) -> None:
    heads = [" ".join(line.split()[:2]) for line in script.splitlines()]
    first_grant = heads.index("GRANT USAGE")
    assert heads[:5] == ["CREATE ROLE"] * 5
    assert heads[5:10] == ["CREATE WAREHOUSE"] * 5
    assert heads[10:16] == ["CREATE DATABASE"] * 6
    assert first_grant == 16 and all(head.startswith("GRANT") for head in heads[first_grant:])


def test_each_ownership_transfer_comes_before_every_other_grant_on_its_database(script: str) -> None:
    """A database changes owner before anything else is granted on it, and keeps its grants on a re-run
    (COPY CURRENT GRANTS): DEVELOPER's grants on RAW_SAFE and REPORTER's on PUBLIC are made after
    ANONYMIZER owns them, and survive the transfer when the script runs again."""
    lines = [line.removesuffix(";") for line in script.splitlines() if line.startswith("GRANT ")]
    transfers = {_statement_database(line): i for i, line in enumerate(lines) if line.startswith("GRANT OWNERSHIP")}
    assert set(transfers) == {"ANALYTICS", "RAW_SAFE", "PUBLIC", "MINIMIZATION_STAGING"}
    for i, line in enumerate(lines):
        database = _statement_database(line)
        if database in transfers and not line.startswith("GRANT OWNERSHIP"):
            assert transfers[database] < i, line
    assert all(line.endswith(" COPY CURRENT GRANTS") for line in lines if line.startswith("GRANT OWNERSHIP"))
    # the future grants that let DEVELOPER read what ANONYMIZER will create in RAW_SAFE are all there
    assert {
        ("FUTURE SCHEMAS IN DATABASE RAW_SAFE", "USAGE"),
        ("FUTURE TABLES IN DATABASE RAW_SAFE", "SELECT"),
        ("FUTURE VIEWS IN DATABASE RAW_SAFE", "SELECT"),
    } <= privilege_matrix(script)["DEVELOPER"]


def test_output_is_deterministic() -> None:
    once = to_script(render_grants(load_policy(DEMO_POLICY).roles))
    assert once == to_script(render_grants(load_policy(DEMO_POLICY).roles))
    assert once == to_script(render_grants(Policy().roles))  # the demo section equals the defaults


def test_creates_the_roles_small_auto_suspending_warehouses_and_databases(script: str) -> None:
    parsed = parse_sql(script)
    assert parsed.created == (
        ("ROLE", "LOADER"),
        ("ROLE", "DEVELOPER"),
        ("ROLE", "TRANSFORMER"),
        ("ROLE", "REPORTER"),
        ("ROLE", "ANONYMIZER"),
        ("WAREHOUSE", "LOADING"),
        ("WAREHOUSE", "DEVELOPING"),
        ("WAREHOUSE", "TRANSFORMING"),
        ("WAREHOUSE", "REPORTING"),
        ("WAREHOUSE", "ANONYMIZING"),
        ("DATABASE", "RAW"),
        ("DATABASE", "RAW_SAFE"),
        ("DATABASE", "DEV"),
        ("DATABASE", "ANALYTICS"),
        ("DATABASE", "PUBLIC"),
        ("DATABASE", "MINIMIZATION_STAGING"),
    )
    for properties in parsed.warehouse_properties.values():
        assert properties == {
            "WAREHOUSE_SIZE": "XSMALL",
            "AUTO_SUSPEND": "60",
            "AUTO_RESUME": "TRUE",
            "INITIALLY_SUSPENDED": "TRUE",
        }
    creates = [s for s in sqlglot.parse(script, read="snowflake") if isinstance(s, exp.Create)]
    assert creates and all(s.args.get("exists") for s in creates)  # IF NOT EXISTS: safe to re-run


# --------------------------------------------------------------------------------- the privilege matrix


def test_privilege_matrix_is_the_articles_plus_the_anonymizer(script: str) -> None:
    assert privilege_matrix(script) == EXPECTED_MATRIX
    assert user_roles(script) == {}


def test_the_articles_own_grants_are_all_there(script: str) -> None:
    """Read the article's SQL with the same parser: each of its grants is in ours, and ours adds only
    the warehouses, DEVELOPER's usage on DEV, and two roles of its own (REPORTER and ANONYMIZER)."""
    article = privilege_matrix(ARTICLE_SQL)
    article["LOADER"] = {(on, "CREATE SCHEMA" if p == "CREATE" else p) for on, p in article["LOADER"]}
    ours = privilege_matrix(script)
    assert set(article) == {"LOADER", "DEVELOPER", "TRANSFORMER"}
    for role, grants in article.items():
        assert ours[role] - grants == {(f"WAREHOUSE {w}", "USAGE") for w in _warehouses(role)} | (
            {("DATABASE DEV", "USAGE")} if role == "DEVELOPER" else set()
        )
        assert grants <= ours[role]
    assert set(ours) - set(article) == {"REPORTER", "ANONYMIZER"}
    article_roles = {name for kind, name in parse_sql(ARTICLE_SQL).created if kind == "ROLE"}
    assert article_roles == {"LOADER", "DEVELOPER", "TRANSFORMER"}
    our_roles = {name for kind, name in parse_sql(script).created if kind == "ROLE"}
    assert our_roles - article_roles == {"REPORTER", "ANONYMIZER"}


def _warehouses(role: str) -> set[str]:
    return {"LOADER": {"LOADING"}, "DEVELOPER": {"DEVELOPING"}, "TRANSFORMER": {"TRANSFORMING"}}[role]


def test_developer_cannot_select_raw_tables(script: str) -> None:
    developer = privilege_matrix(script)["DEVELOPER"]
    on_raw = {(on, privilege) for on, privilege in developer if _on_database(on) == "RAW"}
    assert on_raw == {("DATABASE RAW", "USAGE"), ("ALL SCHEMAS IN DATABASE RAW", "USAGE")}
    assert not any(on.startswith("FUTURE") for on, _ in on_raw)
    assert not any(privilege == "SELECT" for _, privilege in on_raw)


def test_transformer_gets_nothing_on_raw_safe(script: str) -> None:
    """Still true now that ANONYMIZER owns RAW_SAFE: nothing on it, and not the ANONYMIZER role either."""
    matrix = privilege_matrix(script)
    transformer = matrix["TRANSFORMER"]
    assert not [grant for grant in transformer if _on_database(grant[0]) == "RAW_SAFE"]
    assert not [on for on, _ in transformer if on.startswith("ROLE ")]
    assert _read("RAW") <= transformer
    assert ("DATABASE ANALYTICS", "OWNERSHIP") in transformer
    raw_safe_roles = {role for role, grants in matrix.items() for on, _ in grants if _on_database(on) == "RAW_SAFE"}
    assert raw_safe_roles == {"DEVELOPER", "ANONYMIZER"}


def test_owners_are_the_transformer_and_the_anonymizer(script: str) -> None:
    owned = {on: role for role, grants in privilege_matrix(script).items() for on, p in grants if p == "OWNERSHIP"}
    assert owned == {
        "DATABASE ANALYTICS": "TRANSFORMER",
        "DATABASE RAW_SAFE": "ANONYMIZER",
        "DATABASE PUBLIC": "ANONYMIZER",
        "DATABASE MINIMIZATION_STAGING": "ANONYMIZER",
    }


def test_anonymizer_reads_raw_and_never_writes_it(script: str) -> None:
    anonymizer = privilege_matrix(script)["ANONYMIZER"]
    on_raw = {(on, privilege) for on, privilege in anonymizer if _on_database(on) == "RAW"}
    assert on_raw == _read("RAW")
    assert {privilege for _, privilege in on_raw} <= READ_ONLY


def test_anonymizer_reads_dev_and_analytics_and_never_writes_them(script: str) -> None:
    anonymizer = privilege_matrix(script)["ANONYMIZER"]
    for database in ("DEV", "ANALYTICS"):
        on_database = {(on, privilege) for on, privilege in anonymizer if _on_database(on) == database}
        assert on_database == _read(database), database
        assert {privilege for _, privilege in on_database} <= READ_ONLY


def test_anonymizer_writes_only_raw_safe_and_public(script: str) -> None:
    anonymizer = privilege_matrix(script)["ANONYMIZER"]
    writes = {(on, privilege) for on, privilege in anonymizer if privilege not in READ_ONLY}
    assert writes == {
        ("DATABASE RAW_SAFE", "OWNERSHIP"),
        ("SCHEMA RAW_SAFE.PUBLIC", "CREATE TABLE"),
        ("DATABASE PUBLIC", "OWNERSHIP"),
        ("DATABASE MINIMIZATION_STAGING", "OWNERSHIP"),
    }
    assert {_on_database(on) for on, _ in anonymizer} == {
        "",
        "RAW",
        "RAW_SAFE",
        "DEV",
        "ANALYTICS",
        "PUBLIC",
        "MINIMIZATION_STAGING",
    }
    assert not [on for on, _ in anonymizer if on.startswith("ROLE ")]  # no other role's privileges either


def test_nobody_but_the_anonymizer_touches_the_staging_database(script: str) -> None:
    """Tables wait there while their checks run: no reader's grant, present or future, may reach it."""
    matrix = privilege_matrix(script)
    touching = {
        role for role, grants in matrix.items() for on, _ in grants if _on_database(on) == "MINIMIZATION_STAGING"
    }
    assert touching == {"ANONYMIZER"}


def test_reader_reads_public_and_nothing_else(script: str) -> None:
    reader = privilege_matrix(script)["REPORTER"]
    assert reader == _read("PUBLIC") | {("WAREHOUSE REPORTING", "USAGE")}
    assert {_on_database(on) for on, _ in reader} == {"PUBLIC", ""}


def test_only_the_loader_writes_raw_and_only_transformer_and_anonymizer_select_it(script: str) -> None:
    matrix = privilege_matrix(script)
    assert ("DATABASE RAW", "CREATE SCHEMA") in matrix["LOADER"]
    raw_writers = {
        r for r, grants in matrix.items() for on, p in grants if p not in READ_ONLY and _on_database(on) == "RAW"
    }
    raw_readers = {r for r, grants in matrix.items() for on, p in grants if p == "SELECT" and _on_database(on) == "RAW"}
    assert raw_writers == {"LOADER"}
    assert raw_readers == {"TRANSFORMER", "ANONYMIZER"}


def test_custom_names_flow_into_the_sql() -> None:
    roles = RolesPolicy(
        databases=Databases(raw="LANDING", raw_safe="LANDING_SAFE"),
        developer=DeveloperRole(name="analyst", warehouse="dev_wh"),
        anonymizer=AnonymizerRole(name="minimizer", warehouse="min_wh"),
        warehouse_size="SMALL",
        auto_suspend_seconds=120,
    )
    sql = to_script(render_grants(roles))
    matrix = privilege_matrix(sql)
    assert "DEVELOPER" not in matrix
    assert ("FUTURE TABLES IN DATABASE LANDING_SAFE", "SELECT") in matrix["ANALYST"]
    assert ("WAREHOUSE DEV_WH", "USAGE") in matrix["ANALYST"]
    assert not [g for g in matrix["TRANSFORMER"] if _on_database(g[0]) == "LANDING_SAFE"]
    assert "ANONYMIZER" not in matrix
    assert {
        ("DATABASE LANDING_SAFE", "OWNERSHIP"),
        ("SCHEMA LANDING_SAFE.PUBLIC", "CREATE TABLE"),
        ("FUTURE TABLES IN DATABASE LANDING", "SELECT"),
        ("WAREHOUSE MIN_WH", "USAGE"),
    } <= matrix["MINIMIZER"]
    assert parse_sql(sql).warehouse_properties["DEV_WH"]["WAREHOUSE_SIZE"] == "SMALL"
    assert parse_sql(sql).warehouse_properties["DEV_WH"]["AUTO_SUSPEND"] == "120"


def test_a_shared_warehouse_is_created_once() -> None:
    policy = Policy.model_validate({"roles": {"loader": {"warehouse": "shared"}, "reader": {"warehouse": "SHARED"}}})
    created = parse_sql(to_script(render_grants(policy.roles))).created
    assert [name for kind, name in created if kind == "WAREHOUSE"] == [
        "SHARED",
        "DEVELOPING",
        "TRANSFORMING",
        "ANONYMIZING",
    ]


def test_roles_granted_to_users_and_roles() -> None:
    policy = Policy.model_validate(
        {"roles": {"transformer": {"grant_to_users": ["dbt_prod"], "grant_to_roles": ["SYSADMIN"]}}}
    )
    statements = render_grants(policy.roles)
    assert statements[-2:] == [
        'GRANT ROLE "TRANSFORMER" TO ROLE "SYSADMIN"',
        'GRANT ROLE "TRANSFORMER" TO USER "DBT_PROD"',
    ]
    sql = to_script(statements)
    assert user_roles(sql) == {"DBT_PROD": {"TRANSFORMER"}}
    assert privilege_matrix(sql)["SYSADMIN"] == {("ROLE TRANSFORMER", "USAGE")}


def test_the_anonymizer_is_granted_to_the_pipelines_user() -> None:
    policy = Policy.model_validate({"roles": {"anonymizer": {"grant_to_users": ["minimization_pipeline"]}}})
    statements = render_grants(policy.roles)
    assert statements[-1] == 'GRANT ROLE "ANONYMIZER" TO USER "MINIMIZATION_PIPELINE"'
    assert user_roles(to_script(statements)) == {"MINIMIZATION_PIPELINE": {"ANONYMIZER"}}


# ------------------------------------------------------------------------------------------ hostile names

HOSTILE = [
    'RAW"; DROP DATABASE RAW; --',
    "RAW; DROP DATABASE RAW",
    "raw safe",
    'x"y',
    "1RAW",
    "",
    "RAW\n",
    "a" * 256,
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused_by_the_policy(tmp_path: Path, name: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump({"roles": {"developer": {"name": name}, "databases": {"raw_safe": name}}}))
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    message = str(raised.value)
    assert "hostile.yaml: roles.developer.name: " in message
    assert "hostile.yaml: roles.databases.raw_safe: " in message
    assert "not a plain Snowflake name" in message


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused_when_rendering_even_without_validation(name: str) -> None:
    """A policy built without pydantic's validation still cannot put SQL into the script."""
    roles = RolesPolicy.model_construct(
        **{**dict(RolesPolicy()), "databases": Databases.model_construct(**{**dict(Databases()), "raw": name})}
    )
    with pytest.raises(GrantsError, match="not a plain Snowflake name"):
        render_grants(roles)
    with pytest.raises(GrantsError):
        quote(name)


def test_names_are_quoted_so_keywords_stay_names() -> None:
    """Every name is double-quoted: a role called SELECT or a database called TABLE is still a name."""
    roles = RolesPolicy(databases=Databases(public="TABLE"), reader={"name": "select", "warehouse": "grant"})
    sql = to_script(render_grants(roles))
    assert 'GRANT SELECT ON FUTURE TABLES IN DATABASE "TABLE" TO ROLE "SELECT"' in sql
    assert privilege_matrix(sql)["SELECT"] == _read("TABLE") | {("WAREHOUSE GRANT", "USAGE")}
    assert quote("raw") == '"RAW"'


# ------------------------------------------------------------------------------------ the strict reader


@pytest.mark.parametrize(
    "sql",
    [
        "DROP DATABASE RAW",
        "GRANT USAGE ON DATABASE RAW TO SHARE s",
        "GRANT SELECT ON FUTURE SCHEMAS IN DATABASE RAW TO ROLE r",  # SELECT does not apply to schemas
        "GRANT SELECT ON FUTURE TABLES IN SCHEMA RAW.APP TO ROLE r",
        "GRANT ROLE r TO SHARE s",
        "GRANT OWNERSHIP ON DATABASE RAW TO ROLE r COPY CURRENT GRANTS EXTRA",
        "CREATE ROLE IF NOT EXISTS r COMMENT = 'x'",
        "CREATE TABLE t (a INT)",
        "GRANT USAGE ON FUTURE SCHEMAS IN DATABASE RAW TO ROLE r; SELECT 1",
        'GRANT USAGE ON DATABASE "RAW TO ROLE r',  # unterminated quote
    ],
)
def test_the_reader_refuses_sql_it_does_not_write(sql: str) -> None:
    with pytest.raises(GrantsError):
        parse_sql(sql)


def test_the_reader_follows_snowflake_case_rules() -> None:
    matrix = privilege_matrix(
        'GRANT SELECT ON FUTURE VIEWS IN DATABASE raw TO ROLE "Mixed"; GRANT USAGE ON DATABASE "raw" TO r'
    )
    assert matrix == {"Mixed": {("FUTURE VIEWS IN DATABASE RAW", "SELECT")}, "R": {("DATABASE raw", "USAGE")}}


# ---------------------------------------------------------------------------------------------- apply


def test_retention_adds_only_what_it_needs() -> None:
    """With keep_identifiable on app.events: ANONYMIZER may delete that RAW table's rows and owns the history
    views' schema; TRANSFORMER reads those views (owner's rights: still nothing on RAW_SAFE); no one else
    gains anything, and without retention the grants are unchanged."""
    roles = load_policy(DEMO_POLICY).roles
    plain = privilege_matrix(to_script(render_grants(roles)))
    retained = privilege_matrix(to_script(render_grants(roles, [("app", "events")])))
    gained = {role: retained[role] - plain.get(role, set()) for role in retained}
    assert gained["ANONYMIZER"] == {("TABLE RAW.APP.EVENTS", "DELETE"), ("SCHEMA ANALYTICS.RETAINED", "OWNERSHIP")}
    assert gained["TRANSFORMER"] == {
        ("SCHEMA ANALYTICS.RETAINED", "USAGE"),
        ("ALL VIEWS IN SCHEMA ANALYTICS.RETAINED", "SELECT"),
        ("FUTURE VIEWS IN SCHEMA ANALYTICS.RETAINED", "SELECT"),
    }
    assert all(not extra for role, extra in gained.items() if role not in ("ANONYMIZER", "TRANSFORMER"))
    assert not any("RAW_SAFE" in on for on, _ in retained["TRANSFORMER"])
    assert render_grants(roles, []) == render_grants(roles)
