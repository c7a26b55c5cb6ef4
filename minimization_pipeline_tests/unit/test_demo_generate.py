"""Tests for the demo RAW generator, on real DuckDB files in tmp_path.

The expected schema is written out here rather than imported from the generator, so a drift in the
generator's column names or types fails a test instead of silently changing the contract.
"""

from __future__ import annotations

import functools
import io
import pathlib
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pytest

from minimization_pipeline.demo.generate import generate_demo, main
from minimization_pipeline.progress import ENV, Progress

USERS = 2_000
SEED = 7

EXPECTED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "app.users": [
        ("id", "BIGINT"),
        ("email", "VARCHAR"),
        ("first_name", "VARCHAR"),
        ("last_name", "VARCHAR"),
        ("phone", "VARCHAR"),
        ("birth_date", "DATE"),
        ("gender", "VARCHAR"),
        ("zip", "VARCHAR"),
        ("city", "VARCHAR"),
        ("signup_at", "TIMESTAMP"),
        ("plan", "VARCHAR"),
    ],
    "app.orders": [
        ("id", "BIGINT"),
        ("user_id", "BIGINT"),
        ("ordered_at", "TIMESTAMP"),
        ("amount", "DECIMAL(10,2)"),
        ("status", "VARCHAR"),
        ("shipping_zip", "VARCHAR"),
    ],
    "app.events": [
        ("id", "BIGINT"),
        ("user_id", "BIGINT"),
        ("occurred_at", "TIMESTAMP"),
        ("ip_address", "VARCHAR"),
        ("user_agent", "VARCHAR"),
        ("event_type", "VARCHAR"),
    ],
    "app.plans": [
        ("plan", "VARCHAR"),
        ("monthly_price", "DECIMAL(10,2)"),
        ("description", "VARCHAR"),
    ],
    "stripe.customers": [
        ("id", "VARCHAR"),
        ("email", "VARCHAR"),
        ("name", "VARCHAR"),
        ("address_line", "VARCHAR"),
        ("country", "VARCHAR"),
    ],
    "stripe.charges": [
        ("id", "VARCHAR"),
        ("customer_id", "VARCHAR"),
        ("amount", "BIGINT"),
        ("currency", "VARCHAR"),
        ("created", "TIMESTAMP"),
        ("card_last4", "VARCHAR"),
        ("card_brand", "VARCHAR"),
    ],
}


@contextmanager
def attached(data_dir: pathlib.Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The warehouse convention: an in-memory connection with raw.duckdb attached as `raw`."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{data_dir / 'raw.duckdb'}' AS raw (READ_ONLY)")
        yield con
    finally:
        con.close()


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]


def fingerprints(data_dir: pathlib.Path) -> dict[str, str]:
    """md5 over every row of every table in stored order, so content and row order both count."""
    with attached(data_dir) as con:
        return {
            table: scalar(con, f"SELECT md5(string_agg(t::VARCHAR, '\n' ORDER BY rowid)) FROM raw.{table} AS t")
            for table in EXPECTED_COLUMNS
        }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, dict[str, int]]:
    data_dir = tmp_path_factory.mktemp("demo")
    return data_dir, generate_demo(data_dir, users=USERS, seed=SEED)


@pytest.fixture
def raw(demo: tuple[pathlib.Path, dict[str, int]]) -> Iterator[duckdb.DuckDBPyConnection]:
    with attached(demo[0]) as con:
        yield con


# ------------------------------------------------------------------------------------------ shape


def test_returns_row_counts_of_every_table(demo: tuple[pathlib.Path, dict[str, int]], raw) -> None:
    _, counts = demo
    assert set(counts) == set(EXPECTED_COLUMNS)
    for table, count in counts.items():
        assert scalar(raw, f"SELECT count(*) FROM raw.{table}") == count
    assert counts["app.users"] == USERS
    assert counts["app.plans"] == 4


def test_row_counts_are_about_as_configured(demo: tuple[pathlib.Path, dict[str, int]]) -> None:
    _, counts = demo
    assert 2.5 <= counts["app.orders"] / USERS <= 3.5
    assert 8.5 <= counts["app.events"] / USERS <= 11.5
    assert 0.5 <= counts["stripe.customers"] / USERS <= 0.7
    assert 1.3 <= counts["stripe.charges"] / counts["stripe.customers"] <= 1.7


@pytest.mark.parametrize("table", sorted(EXPECTED_COLUMNS))
def test_columns_and_types(raw, table: str) -> None:
    schema, name = table.split(".")
    columns = raw.execute(
        """
        SELECT column_name, data_type FROM information_schema.columns
        WHERE table_catalog = 'raw' AND table_schema = ? AND table_name = ?
        ORDER BY ordinal_position
        """,
        [schema, name],
    ).fetchall()
    assert columns == EXPECTED_COLUMNS[table]


def test_only_the_expected_tables_exist(raw) -> None:
    tables = raw.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_catalog = 'raw'"
    ).fetchall()
    assert sorted(row[0] for row in tables) == sorted(EXPECTED_COLUMNS)


# ------------------------------------------------------------------------------------------ determinism


def test_same_seed_gives_identical_content(tmp_path: pathlib.Path) -> None:
    first = generate_demo(tmp_path / "a", users=USERS, seed=SEED)
    second = generate_demo(tmp_path / "b", users=USERS, seed=SEED)
    assert first == second
    assert fingerprints(tmp_path / "a") == fingerprints(tmp_path / "b")


def test_different_seed_gives_different_content(tmp_path: pathlib.Path, demo) -> None:
    generate_demo(tmp_path, users=USERS, seed=SEED + 1)
    ours, theirs = fingerprints(demo[0]), fingerprints(tmp_path)
    changed = {table for table in EXPECTED_COLUMNS if ours[table] != theirs[table]}
    assert changed == set(EXPECTED_COLUMNS) - {"app.plans"}  # plans are fixed reference data


def test_regenerating_replaces_the_file_and_leaves_no_scratch(tmp_path: pathlib.Path) -> None:
    generate_demo(tmp_path, users=300, seed=SEED)
    counts = generate_demo(tmp_path, users=200, seed=SEED)
    assert counts["app.users"] == 200
    with attached(tmp_path) as con:
        assert scalar(con, "SELECT count(*) FROM raw.app.users") == 200
    assert sorted(path.name for path in tmp_path.iterdir()) == ["raw.duckdb"]


def test_rejects_an_empty_demo(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="users"):
        generate_demo(tmp_path, users=0)
    assert not (tmp_path / "raw.duckdb").exists()


# ------------------------------------------------------------------------------------------ integrity


def test_orders_and_events_reference_users(raw) -> None:
    for table in ("app.orders", "app.events"):
        orphans = f"SELECT count(*) FROM raw.{table} AS c ANTI JOIN raw.app.users AS u ON u.id = c.user_id"
        assert scalar(raw, orphans) == 0


def test_charges_reference_customers(raw) -> None:
    orphans = """
        SELECT count(*) FROM raw.stripe.charges AS ch
        ANTI JOIN raw.stripe.customers AS cu ON cu.id = ch.customer_id
    """
    assert scalar(raw, orphans) == 0


def test_keys_are_unique_and_well_formed(raw) -> None:
    assert scalar(raw, "SELECT min(id) = 1 AND max(id) = count(*) FROM raw.app.users")
    for table in ("app.orders", "app.events"):
        assert scalar(raw, f"SELECT count(DISTINCT id) = count(*) AND min(id) = 1 FROM raw.{table}")
    assert scalar(
        raw,
        "SELECT count(DISTINCT id) = count(*) AND bool_and(regexp_full_match(id, 'cus_[A-Za-z0-9]{14}'))"
        " FROM raw.stripe.customers",
    )
    assert scalar(
        raw,
        "SELECT count(DISTINCT id) = count(*) AND bool_and(regexp_full_match(id, 'ch_[A-Za-z0-9]{24}'))"
        " FROM raw.stripe.charges",
    )


def test_emails_are_unique(raw) -> None:
    assert scalar(raw, "SELECT count(DISTINCT email) = count(*) FROM raw.app.users")
    assert scalar(raw, "SELECT count(DISTINCT email) = count(*) FROM raw.stripe.customers")
    assert scalar(raw, "SELECT bool_and(email = lower(email) AND email LIKE '%_@_%._%') FROM raw.app.users")


def test_about_two_thirds_of_customers_are_app_users_with_the_same_name(raw) -> None:
    linked, total, same_name = raw.execute(
        """
        SELECT count(u.id), count(*), count(*) FILTER (WHERE c.name = u.first_name || ' ' || u.last_name)
        FROM raw.stripe.customers AS c LEFT JOIN raw.app.users AS u USING (email)
        """
    ).fetchone()
    assert 0.6 <= linked / total <= 0.73
    assert same_name == linked


def test_plans_are_the_reference_values(raw) -> None:
    plans = raw.execute("SELECT plan FROM raw.app.plans ORDER BY monthly_price").fetchall()
    assert [row[0] for row in plans] == ["free", "starter", "pro", "enterprise"]
    assert scalar(raw, "SELECT count(*) FROM raw.app.users WHERE plan NOT IN (SELECT plan FROM raw.app.plans)") == 0
    shares = dict(
        raw.execute("SELECT plan, count(*) / sum(count(*)) OVER () FROM raw.app.users GROUP BY plan").fetchall()
    )
    assert shares["free"] > 0.6  # skewed: most users are free


def test_plan_descriptions_hold_no_personal_data(raw) -> None:
    descriptions = [row[0] for row in raw.execute("SELECT description FROM raw.app.plans").fetchall()]
    assert all(text and "@" not in text and not any(ch.isdigit() for ch in text) for text in descriptions)


# ------------------------------------------------------------------------------------------ realism


def test_zip_is_five_digits_and_determines_city(raw) -> None:
    assert scalar(raw, "SELECT bool_and(regexp_full_match(zip, '[0-9]{5}')) FROM raw.app.users")
    assert scalar(raw, "SELECT bool_and(regexp_full_match(shipping_zip, '[0-9]{5}')) FROM raw.app.orders")
    ambiguous = "SELECT count(*) FROM (SELECT zip FROM raw.app.users GROUP BY zip HAVING count(DISTINCT city) > 1)"
    assert scalar(raw, ambiguous) == 0


def test_bigger_places_hold_more_users(raw) -> None:
    sizes = [
        row[0] for row in raw.execute("SELECT count(*) FROM raw.app.users GROUP BY city ORDER BY 1 DESC").fetchall()
    ]
    assert sizes[0] >= 20 * sizes[len(sizes) // 2]


def test_people_fields_look_real(raw) -> None:
    assert scalar(raw, r"SELECT bool_and(regexp_full_match(phone, '\+1 \d{3}-\d{3}-\d{4}')) FROM raw.app.users")
    ages = "date_diff('year', birth_date, DATE '2026-11-01')"
    assert scalar(raw, f"SELECT min({ages}) >= 18 AND max({ages}) <= 90 FROM raw.app.users")
    null_birth, null_gender = raw.execute(
        "SELECT avg((birth_date IS NULL)::INT), avg((gender IS NULL)::INT) FROM raw.app.users"
    ).fetchone()
    assert 0 < null_birth < 0.02
    assert 0 < null_gender < 0.03
    genders = {row[0] for row in raw.execute("SELECT DISTINCT gender FROM raw.app.users").fetchall()}
    assert genders == {"female", "male", "nonbinary", None}


def test_timestamps_follow_signup_and_precede_the_anchor(raw) -> None:
    assert scalar(
        raw,
        "SELECT min(signup_at) >= TIMESTAMP '2023-11-01' AND max(signup_at) < TIMESTAMP '2026-11-01'"
        " FROM raw.app.users",
    )
    for table, column in (("app.orders", "ordered_at"), ("app.events", "occurred_at")):
        assert scalar(
            raw,
            f"SELECT bool_and(c.{column} > u.signup_at AND c.{column} < TIMESTAMP '2026-11-01')"
            f" FROM raw.{table} AS c JOIN raw.app.users AS u ON u.id = c.user_id",
        )
    assert scalar(raw, "SELECT max(created) < TIMESTAMP '2026-11-01' FROM raw.stripe.charges")


def test_events_are_append_only_in_time(raw) -> None:
    out_of_order = """
        SELECT count(*) FROM (SELECT occurred_at, lag(occurred_at) OVER (ORDER BY id) AS previous
                              FROM raw.app.events)
        WHERE occurred_at < previous
    """
    assert scalar(raw, out_of_order) == 0


def test_users_mostly_keep_one_ip_and_browser(raw) -> None:
    home_share, ua_share = raw.execute(
        """
        WITH per_user AS (
            SELECT user_id, count(*) AS n, max(ip_n) AS top_ip, max(ua_n) AS top_ua
            FROM (
                SELECT user_id,
                       count(*) OVER (PARTITION BY user_id, ip_address) AS ip_n,
                       count(*) OVER (PARTITION BY user_id, user_agent) AS ua_n
                FROM raw.app.events
            )
            GROUP BY user_id
        )
        SELECT sum(top_ip) / sum(n), sum(top_ua) / sum(n) FROM per_user
        """
    ).fetchone()
    assert home_share > 0.7
    assert ua_share > 0.8
    assert scalar(raw, "SELECT count(DISTINCT user_agent) FROM raw.app.events") >= 30


def test_amounts_are_positive(raw) -> None:
    assert scalar(raw, "SELECT min(amount) > 0 FROM raw.app.orders")
    assert scalar(raw, "SELECT min(amount) > 0 FROM raw.stripe.charges")


# ------------------------------------------------------------------------------------------ CLI


def test_cli_prints_counts_and_seconds(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--data-dir", str(tmp_path), "--users", "150", "--seed", "3"])
    output = capsys.readouterr().out
    assert "app.users" in output and "150" in output
    assert "stripe.charges" in output
    assert output.rstrip().endswith(" s")


def test_cli_quiet_prints_no_progress(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    main(["--data-dir", str(tmp_path / "shown"), "--users", "150"])
    assert "app.users: 150 rows in " in capsys.readouterr().err
    main(["--data-dir", str(tmp_path / "quiet"), "--users", "150", "--quiet"])
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------------------------------ progress


def test_progress_reports_every_table_and_changes_nothing(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One final line per table with its real count; the data are the same with progress on or off."""
    monkeypatch.delenv(ENV, raising=False)
    stream = io.StringIO()
    shown = generate_demo(
        tmp_path / "shown", users=USERS, seed=SEED, progress=functools.partial(Progress, stream=stream)
    )
    quiet = generate_demo(tmp_path / "quiet", users=USERS, seed=SEED, progress=None)
    assert shown == quiet
    assert fingerprints(tmp_path / "shown") == fingerprints(tmp_path / "quiet")
    finals = [line for line in stream.getvalue().splitlines() if " rows in " in line]
    assert [line.split(":")[0] for line in finals] == ["app.plans", *[t for t in EXPECTED_COLUMNS if t != "app.plans"]]
    for line in finals:
        table = line.split(":")[0]
        assert line.startswith(f"{table}: {shown[table]:,} rows in ") and line.endswith(" rows/s)")
    assert capsys.readouterr().err == ""  # progress=None and a given stream leave stderr alone


def test_progress_is_off_when_the_environment_says_so(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "0")
    stream = io.StringIO()
    generate_demo(tmp_path, users=100, seed=SEED, progress=functools.partial(Progress, stream=stream))
    assert stream.getvalue() == ""
