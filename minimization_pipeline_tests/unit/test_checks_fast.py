"""The faster checks keep their guarantees: each shortcut is exact, and a leak through it is still caught."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

from minimization_pipeline.anonymize import engine, pseudonymize, verify
from minimization_pipeline.anonymize.plan import TablePlan, plan_table
from minimization_pipeline.policy import Method, TablePolicy
from minimization_pipeline.warehouse.base import TableRef
from minimization_pipeline.warehouse.duckdb import DuckDBSession, DuckDBWarehouse
from minimization_pipeline_tests.unit.safe_tables import write_pseudonymized

SECRET = "fast-checks-secret-0123456789"
RAW = TableRef("raw", "app", "users")
SAFE = TableRef("raw_safe", "app", "users")
POLICY = {
    "id": "keep",
    "email": "hash",
    "phone": {"role": "direct", "method": "mask", "mask": "last2"},
    "note": "keep",
    "zip": "quasi",
}


@pytest.fixture
def session(tmp_path: Path) -> Iterator[DuckDBSession]:
    with DuckDBWarehouse(tmp_path).session(write=["raw", "raw_safe"], secret=SECRET) as session:
        for database in ("raw", "raw_safe"):
            session.ensure_schema(database, "app")
        session.execute(
            """
            CREATE TABLE raw.app.users AS
            SELECT i::BIGINT AS id,
                   -- row 5 holds an email of exactly 32 characters, row 6 a "phone" that starts with stars
                   CASE WHEN i = 5 THEN 'abcdefghij.klmnopqrst@example.io' ELSE 'user' || i || '@example.com' END
                       AS email,
                   CASE WHEN i = 6 THEN '*****5550106' ELSE '+1 212-555-' || lpad((100 + i)::VARCHAR, 4, '0') END
                       AS phone,
                   'note ' || i AS note,
                   ['02139', '10001'][1 + i % 2] AS zip,
                   'x' || i AS unclassified
            FROM range(20) AS r(i)
            """
        )
        yield session


def make_plan(session: DuckDBSession) -> TablePlan:
    table = session.describe(RAW)
    assert table is not None
    return plan_table(table, TablePolicy.model_validate({"columns": POLICY}), 5, "raw", "raw_safe")


def write_safe(session: DuckDBSession, plan: TablePlan) -> None:
    """RAW_SAFE users with every direct identifier treated as planned (quasi-identifiers copied)."""
    write_pseudonymized(session, plan, RAW, SAFE)


@pytest.fixture
def plan(session: DuckDBSession) -> TablePlan:
    plan = make_plan(session)
    write_safe(session, plan)
    return plan


def test_a_treated_table_passes(session: DuckDBSession, plan: TablePlan) -> None:
    assert len("abcdefghij.klmnopqrst@example.io") == pseudonymize.STRING_HASH_HEX
    outcome = verify.check_patterns(session, SAFE, plan)
    assert outcome.passed, outcome.summary
    assert outcome.metadata["hashed_not_scanned"] == ["email"]
    assert verify.check_no_raw_identifiers(session, SAFE, plan).passed


def test_a_raw_email_of_hash_length_in_the_hashed_column_is_a_leak(session: DuckDBSession, plan: TablePlan) -> None:
    """The shortcut joins only RAW values of the hash's length: such a value must still be found."""
    session.execute("UPDATE raw.app.users SET email = 'abcdefghijklmnopqrstuvwxyz012345' WHERE id = 5")
    session.execute("UPDATE raw_safe.app.users SET email = 'abcdefghijklmnopqrstuvwxyz012345' WHERE id = 9")
    outcome = verify.check_no_raw_identifiers(session, SAFE, plan)
    assert not outcome.passed
    assert outcome.metadata["leaking_values"] == {"email": 1}


def test_an_unhashed_email_column_fails_both_checks(session: DuckDBSession, plan: TablePlan) -> None:
    session.execute("UPDATE raw_safe.app.users AS s SET email = r.email FROM raw.app.users AS r WHERE s.id = r.id")
    patterns = verify.check_patterns(session, SAFE, plan)
    assert not patterns.passed
    # the one RAW email that happens to have the hash's length passes the length check ...
    assert patterns.metadata["hits"] == {"email:not_a_hash": 19}
    leaks = verify.check_no_raw_identifiers(session, SAFE, plan)
    # ... and is caught, with all the others, by the leak check (the full comparison ran: shape was broken)
    assert leaks.metadata["leaking_values"] == {"email": 20}


def test_hashed_columns_are_written_by_hash_value(session: DuckDBSession, plan: TablePlan) -> None:
    """The construction the skipped scan relies on: the engine projects exactly `hash_value` for them."""
    select = engine.build_select(session, plan)
    projection = next(e for e in select.expressions if e.alias == "email")
    expected = pseudonymize.hash_value(exp.column("email", "n", quoted=True), "VARCHAR", session.secret_expression())
    assert projection.this.sql("duckdb") == expected.sql("duckdb")


def test_a_raw_value_shaped_like_a_mask_is_a_leak(session: DuckDBSession, plan: TablePlan) -> None:
    """A mask output starts with '*'; a RAW value that does too is compared, so it is caught."""
    session.execute("UPDATE raw_safe.app.users SET phone = '*****5550106' WHERE id = 3")
    outcome = verify.check_no_raw_identifiers(session, SAFE, plan)
    assert outcome.metadata["leaking_values"] == {"phone": 1}


def test_an_unmasked_phone_is_caught_by_the_leak_check_fallback(session: DuckDBSession, plan: TablePlan) -> None:
    session.execute("UPDATE raw_safe.app.users AS s SET phone = r.phone FROM raw.app.users AS r WHERE s.id = r.id")
    assert verify.check_no_raw_identifiers(session, SAFE, plan).metadata["leaking_values"] == {"phone": 20}
    assert verify.check_patterns(session, SAFE, plan).metadata["hits"] == {"phone:phone": 19}


def test_unclassified_text_is_hashed_but_still_scanned(session: DuckDBSession, plan: TablePlan) -> None:
    unclassified = next(c for c in plan.columns if c.name == "unclassified")
    assert unclassified.method is Method.HASH and unclassified.reason != "policy"
    session.execute("UPDATE raw_safe.app.users SET unclassified = 'call +1 212-555-0100 now' WHERE id = 2")
    outcome = verify.check_patterns(session, SAFE, plan)
    assert outcome.metadata["hits"] == {"unclassified:phone": 1}


def test_grouped_scan_counts_rows_not_values(session: DuckDBSession, plan: TablePlan) -> None:
    session.execute("UPDATE raw_safe.app.users SET note = 'mail me: a.b@example.org' WHERE id < 7")
    assert verify.check_patterns(session, SAFE, plan).metadata["hits"] == {"note:email": 7}


def test_no_pattern_can_match_a_hash_pseudonym() -> None:
    """Why hashed text needs no scan: 32 hex digits -- random, all digits, all letters -- match nothing."""
    samples = [hashlib.sha256(str(i).encode()).hexdigest()[: pseudonymize.STRING_HASH_HEX] for i in range(2000)]
    samples += ["0" * 32, "1234567890" * 3 + "12", "abcdef" * 5 + "ab", "4111111111111111" * 2, "19216801" * 4]
    connection = duckdb.connect()
    connection.execute("CREATE TABLE h AS SELECT unnest(?) AS v", [samples])
    for pattern, regex in verify.PATTERNS.items():
        hits = connection.execute("SELECT COUNT(*) FROM h WHERE regexp_matches(v, ?)", [regex]).fetchone()[0]
        assert hits == 0, pattern
