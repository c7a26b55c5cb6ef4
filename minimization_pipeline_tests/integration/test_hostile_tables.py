"""Tables written by someone else, shaped to break us (issue 15's reproductions): no leak, no row lost."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pycanon.anonymity
import pytest

from minimization_pipeline.definitions import build_definitions
from minimization_pipeline.defs.raw_safe import raw_safe_key
from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.policy import Role
from minimization_pipeline.settings import PROJECT_ROOT
from minimization_pipeline_tests.conftest import make_settings
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


def _values(data: Path, sql: str) -> set[object]:
    with open_warehouse(data, "raw", "raw_safe") as connection:
        return {row[0] for row in connection.execute(sql).fetchall()}


def test_columns_are_never_kept_on_their_name_alone(pipeline: Pipeline, fresh_data: Path) -> None:
    """Key-, code- and date-like names over phone numbers, SSNs and birth dates: kept at 85-95 % once."""
    _raw(
        fresh_data,
        "CREATE SCHEMA f1",
        """CREATE TABLE f1.members AS SELECT
             (14155550000 + i * 7919)::BIGINT AS customer_id,
             (123450000 + i * 37)::INTEGER AS member_id,
             DATE '1950-01-01' + (i * 17 % 18000)::INTEGER AS date,
             ['gold', 'silver', 'bronze'][1 + i % 3] AS tier
           FROM range(900) t(i)""",
    )
    result = pipeline.publish_raw_safe("f1", "members")
    assert result.published, [check.summary for check in result.failed_checks]
    reasons = {column.name: column.reason for column in result.plan.columns}
    roles = {column.name: column.role for column in result.plan.columns}
    evidence = {"customer_id": "phone numbers", "member_id": "US SSNs", "date": "fewer than 5 rows"}
    for name, why in evidence.items():  # the values say what they are, or the whole table refuses the name
        assert roles[name] is Role.DIRECT and why in reasons[name], reasons[name]
        kept = _values(
            fresh_data,
            f"SELECT s.{name} FROM raw_safe.f1.members s JOIN raw.f1.members r ON s.{name} = r.{name} "
            f"WHERE s.{name} IS NOT NULL",
        )
        assert not kept, f"{name}: {len(kept)} RAW values published"
    assert "every value is held by >= 5 rows" in reasons["tier"], reasons["tier"]
    assert _values(fresh_data, "SELECT tier FROM raw_safe.f1.members") == {"gold", "silver", "bronze"}


def test_rare_rows_no_sample_sees_are_not_published(pipeline: Pipeline, fresh_data: Path) -> None:
    """A `stage` that is open/closed/pending in 19,990 of 20,000 rows and a name, an SSN and an address in 10."""
    _raw(
        fresh_data,
        "CREATE SCHEMA f1",
        """CREATE TABLE f1.tickets AS SELECT i::BIGINT AS ticket_no,
             CASE WHEN i % 2000 = 7 THEN ['Grace Okafor', '078-05-1120', '742 Evergreen Terrace, Springfield']
                                         [1 + (i // 2000) % 3] || ' #' || i
                  ELSE ['open', 'closed', 'pending'][1 + i % 3] END AS stage
           FROM range(20000) t(i)""",
    )
    result = pipeline.publish_raw_safe("f1", "tickets")
    assert result.published, [check.summary for check in result.failed_checks]
    rare = _values(fresh_data, "SELECT stage FROM raw.f1.tickets WHERE stage NOT IN ('open', 'closed', 'pending')")
    assert len(rare) == 10
    published = _values(fresh_data, "SELECT stage FROM raw_safe.f1.tickets")
    assert not rare & published
    assert not {"open", "closed", "pending"} & published, "the column is pseudonymized as a whole"


def test_no_class_releases_a_members_own_rare_value(pipeline: Pipeline, fresh_data: Path) -> None:
    """Exact coordinates and birthdays: once 80 of 500 rows published their own value inside a class of 5."""
    _raw(
        fresh_data,
        "CREATE SCHEMA f2",
        """CREATE TABLE f2.homes AS SELECT i::BIGINT AS home_no,
             round(40.0 + (i * 7919 % 10007) / 10007.0, 6)::DOUBLE AS lat,
             round(-74.0 + (i * 104729 % 10009) / 10009.0, 6)::DOUBLE AS lon,
             DATE '1940-01-01' + (i * 7877 % 25000)::INTEGER AS dob,
             TIMESTAMPTZ '1940-01-01 00:00:00+00' + to_seconds((i * 6151 % 25000) * 86400 + i * 37) AS born_at
           FROM range(500) t(i)""",
    )
    plan = pipeline.plan_raw_safe("f2", "homes")
    quasi = [column.name for column in plan.quasi]
    assert set(quasi) >= {"lat", "lon", "dob", "born_at"}, [(c.name, c.reason) for c in plan.columns]
    result = pipeline.publish_raw_safe("f2", "homes")
    assert result.published, [check.summary for check in result.failed_checks]
    check = next(check for check in result.checks if check.name == "no_own_rare_value")
    assert check.passed and check.metadata["rows_with_rare_values"] == {}
    with open_warehouse(fresh_data, "raw", "raw_safe") as connection:
        for name in quasi:
            own = connection.execute(
                f"SELECT count(*) FROM raw_safe.f2.homes s WHERE s.{name} IN "
                f"(SELECT {name} FROM raw.f2.homes GROUP BY {name} HAVING count(*) < 5)"
            ).fetchone()[0]
            assert own == 0, f"{name}: {own} rows carry a rare RAW value"
        types = connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = 'raw_safe' AND table_name = 'homes' ORDER BY ordinal_position"
        ).fetchall()
        frame = connection.execute("SELECT lat, lon, dob, born_at FROM raw_safe.f2.homes").df()
    assert dict(types)["born_at"] == "TIMESTAMP WITH TIME ZONE" and dict(types)["dob"] == "DATE"
    assert pycanon.anonymity.k_anonymity(frame, ["lat", "lon", "dob", "born_at"]) >= 5


def test_enum_small_integers_and_non_finite_numbers_are_taken(pipeline: Pipeline, fresh_data: Path) -> None:
    """An ENUM quasi-identifier once refused its whole table; SMALLINT pseudonyms landed on RAW values and
    failed every run; NaN and ±inf collapsed a table into one class."""
    _raw(
        fresh_data,
        "CREATE SCHEMA f5",
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
        """CREATE TABLE f5.types AS SELECT i::BIGINT AS id, (['sad', 'ok', 'happy'][1 + i % 3])::mood AS gender,
             (i * 37 % 30000)::SMALLINT AS small_ref, (i % 120)::TINYINT AS tiny_code,
             CASE WHEN i % 50 = 0 THEN 'NaN'::DOUBLE WHEN i % 77 = 0 THEN 'inf'::DOUBLE
                  WHEN i % 91 = 0 THEN '-inf'::DOUBLE ELSE (i * 7 % 60)::DOUBLE + 20 END AS age
           FROM range(600) t(i)""",
    )
    result = pipeline.publish_raw_safe("f5", "types")
    assert result.published, [check.summary for check in result.failed_checks]
    by_name = {column.name: column for column in result.plan.columns}
    assert by_name["gender"].role.value == "quasi"
    assert by_name["small_ref"].method.value == "null", by_name["small_ref"].reason
    gcp = result.metrics["gcp_gcp"]
    assert isinstance(gcp, float) and 0 <= gcp < 0.5, gcp
    with open_warehouse(fresh_data, "raw_safe") as connection:
        nan, inf, small, kinds = connection.execute(
            "SELECT count(*) FILTER (WHERE isnan(age)), count(*) FILTER (WHERE isinf(age)), "
            "count(small_ref), count(DISTINCT gender) FROM raw_safe.f5.types"
        ).fetchone()
        frame = connection.execute("SELECT gender::VARCHAR AS gender, age FROM raw_safe.f5.types").df()
    assert (nan, inf, small, kinds) == (0, 0, 0, 3)
    assert pycanon.anonymity.k_anonymity(frame.fillna(-1), ["gender", "age"]) >= 5


def test_hash_on_a_small_integer_is_refused_with_what_to_write(fresh_data: Path, tmp_path: Path) -> None:
    _raw(
        fresh_data,
        "CREATE SCHEMA f5",
        "CREATE TABLE f5.codes AS SELECT (i % 300)::SMALLINT AS code FROM range(900) t(i)",
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text("k: 5\nsources:\n  f5:\n    tables:\n      codes:\n        columns: {code: hash}\n")
    with pytest.raises(Exception, match=r"f5\.codes\.code: method 'hash' cannot keep type SMALLINT.*Write `null`"):
        Pipeline(fresh_data, policy).plan_raw_safe("f5", "codes")


HOSTILE_NAMES = [
    ("rt hostile", "my table"),
    ("app2", "tåble"),
    ("app2", "a-b"),
    ("app2", "a_b"),
    ("x.y", "t"),
    ("x", "y__t"),
    ("app", "users__staging"),
]


def test_any_raw_name_loads_runs_and_keeps_its_own_copy(pipeline: Pipeline, fresh_data: Path) -> None:
    """A space, a quote-worthy or non-ASCII name once kept the code location from loading; `a-b` beside `a_b`
    and `x.y`/`t` beside `x`/`y__t` collided; `users__staging` was skipped without a word."""
    statements = [f'CREATE SCHEMA IF NOT EXISTS "{schema}"' for schema in sorted({s for s, _ in HOSTILE_NAMES})]
    for number, (schema, table) in enumerate(HOSTILE_NAMES):
        statements.append(
            f'CREATE TABLE "{schema}"."{table}" AS SELECT i::BIGINT AS n{number}, '
            f"['x', 'y'][1 + i % 2] AS kind FROM range({100 + number}) t(i)"
        )
    _raw(fresh_data, *statements)
    defs = build_definitions(make_settings(fresh_data))
    keys = {raw_safe_key(schema, table) for schema, table in HOSTILE_NAMES}
    assert len(keys) == len(HOSTILE_NAMES), "no two names share a key"
    graph = defs.resolve_asset_graph()
    assert keys <= set(graph.get_all_asset_keys())
    for schema, table in HOSTILE_NAMES:
        node = graph.get(raw_safe_key(schema, table))
        assert node.metadata["minimization/table"] == f"raw_safe.{schema}.{table}"
    assert raw_safe_key("app", "users") == dg.AssetKey(["raw_safe", "app", "users"]), "plain names read as before"

    job = defs.resolve_implicit_global_asset_job_def()
    selection = [*sorted(keys, key=str), raw_safe_key("app", "users")]
    result = job.execute_in_process(asset_selection=selection, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    with open_warehouse(fresh_data, "raw_safe") as connection:
        for number, (schema, table) in enumerate(HOSTILE_NAMES):
            rows = connection.execute(f'SELECT count(*) FROM raw_safe."{schema}"."{table}"').fetchone()[0]
            assert rows == 100 + number, (schema, table)
        assert connection.execute("SELECT count(*) FROM raw_safe.app.users").fetchone()[0] > 0
    copies = {(t.schema, t.name) for t in pipeline.raw_safe_catalog(raw=pipeline.raw_catalog()).tables}
    assert ("app", "users__staging") in copies, "a RAW table called like a staging table is an ordinary copy"


def test_an_unnamed_integer_key_of_a_big_table_is_pseudonymized_and_published(
    pipeline: Pipeline, fresh_data: Path
) -> None:
    """200,000 dense INTEGER ids hashed into an INTEGER's range meet ~19 RAW ids by chance: that is no leak
    (no row keeps its own id), and it once failed `no_raw_identifiers` on every run."""
    _raw(
        fresh_data,
        "CREATE SCHEMA f6",
        "CREATE TABLE f6.big AS SELECT (i + 1)::INTEGER AS account_id, ['a', 'b'][1 + i % 2] AS kind "
        "FROM range(200000) t(i)",
    )
    result = pipeline.publish_raw_safe("f6", "big")
    assert result.published, [check.summary for check in result.failed_checks]
    with open_warehouse(fresh_data, "raw_safe") as connection:
        distinct, raw_ids = connection.execute(
            "SELECT count(DISTINCT account_id), count(*) FILTER (WHERE account_id BETWEEN 1 AND 200000) "
            "FROM raw_safe.f6.big"
        ).fetchone()
    assert distinct > 199_000, "31-bit pseudonyms collide a little (about 9 pairs here), no more"
    assert raw_ids < 100, "a pseudonym equal to some RAW id happens by chance only"
