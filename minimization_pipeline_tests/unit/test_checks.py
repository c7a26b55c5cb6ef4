"""The verification checks on small real DuckDB tables: each passes on a good table and fails on a bad one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from minimization_pipeline.anonymize import pseudonymize, verify
from minimization_pipeline.anonymize.plan import TablePlan, plan_table
from minimization_pipeline.policy import FakeKind, TablePolicy
from minimization_pipeline.warehouse.base import TableRef
from minimization_pipeline.warehouse.duckdb import DuckDBSession, DuckDBWarehouse
from minimization_pipeline_tests.unit.safe_tables import write_pseudonymized

SECRET = "checks-test-secret-Hy55"
RAW_USERS = TableRef("raw", "app", "users")
SAFE_USERS = TableRef("raw_safe", "app", "users")
USERS_POLICY: dict[str, Any] = {
    "id": "keep",
    "email": "hash",
    "first_name": "fake:first_name",
    "phone": {"role": "direct", "method": "mask", "mask": "last2"},
    "ssn": "null",
    "note": "keep",
    "zip": "quasi",
    "gender": "quasi",
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
                   'user' || i || '@example.com' AS email,
                   ['Maria', 'James', 'Linda', 'Robert'][1 + i % 4] AS first_name,
                   '+1 212-555-' || lpad((100 + i)::VARCHAR, 4, '0') AS phone,
                   '123-45-' || lpad(i::VARCHAR, 4, '0') AS ssn,
                   'note ' || i AS note,
                   ['02139', '10001'][1 + i % 2] AS zip,
                   ['f', 'm'][1 + (i // 2) % 2] AS gender
            FROM range(20) AS r(i)
            """
        )
        yield session


def users_plan(session: DuckDBSession, columns: dict[str, Any] | None = None, k: int = 5) -> TablePlan:
    table = session.describe(RAW_USERS)
    assert table is not None
    return plan_table(table, TablePolicy.model_validate({"columns": columns or USERS_POLICY}), k, "raw", "raw_safe")


def write_safe(session: DuckDBSession, plan: TablePlan) -> None:
    """RAW_SAFE users with every direct identifier treated as planned (quasi-identifiers copied)."""
    write_pseudonymized(session, plan, RAW_USERS, SAFE_USERS)


@pytest.fixture
def good(session: DuckDBSession) -> TablePlan:
    plan = users_plan(session)
    write_safe(session, plan)
    return plan


# ------------------------------------------------------------------------------------------ pattern scan


def test_patterns_pass_on_a_treated_table(session: DuckDBSession, good: TablePlan) -> None:
    outcome = verify.check_patterns(session, SAFE_USERS, good)
    assert outcome.name == verify.PATTERN_SCAN
    assert outcome.passed, outcome.summary
    assert outcome.metadata["hits"] == {}


def test_patterns_fail_on_an_email_left_in_a_keep_column(session: DuckDBSession, good: TablePlan) -> None:
    session.execute("UPDATE raw_safe.app.users SET note = 'write to user3@example.com' WHERE id = 3")
    outcome = verify.check_patterns(session, SAFE_USERS, good)
    assert not outcome.passed
    assert outcome.metadata["hits"] == {"note:email": 1}
    assert "note:email" in outcome.summary


def test_patterns_fail_on_a_phone_left_unmasked(session: DuckDBSession, good: TablePlan) -> None:
    session.execute("UPDATE raw_safe.app.users AS s SET phone = r.phone FROM raw.app.users AS r WHERE s.id = r.id")
    outcome = verify.check_patterns(session, SAFE_USERS, good)
    assert not outcome.passed
    assert outcome.metadata["hits"] == {"phone:phone": 20}


def test_patterns_accept_what_the_policy_allows(session: DuckDBSession) -> None:
    columns = {**USERS_POLICY, "note": {"role": "keep", "allow_patterns": ["email"]}}
    plan = users_plan(session, columns)
    write_safe(session, plan)
    session.execute("UPDATE raw_safe.app.users SET note = 'support@example.com'")
    assert verify.check_patterns(session, SAFE_USERS, plan).passed


def test_patterns_accept_fake_emails_implicitly(session: DuckDBSession) -> None:
    plan = users_plan(session, {**USERS_POLICY, "email": "fake:email"})
    write_safe(session, plan)
    emails = [row[0] for row in session.fetch_all("SELECT email FROM raw_safe.app.users")]
    assert all("@example." in email for email in emails)
    assert verify.check_patterns(session, SAFE_USERS, plan).passed


# ------------------------------------------------------------------------------------------ no raw identifiers


def test_no_raw_identifiers_passes_on_a_treated_table(session: DuckDBSession, good: TablePlan) -> None:
    outcome = verify.check_no_raw_identifiers(session, SAFE_USERS, good)
    assert outcome.name == verify.NO_RAW_IDENTIFIERS
    assert outcome.passed, outcome.summary
    assert outcome.metadata["checked"] == ["email", "first_name", "phone", "ssn"]


def test_no_raw_identifiers_fails_on_a_raw_email_in_a_hashed_column(session: DuckDBSession, good: TablePlan) -> None:
    session.execute("UPDATE raw_safe.app.users SET email = 'user7@example.com' WHERE id = 7")
    outcome = verify.check_no_raw_identifiers(session, SAFE_USERS, good)
    assert not outcome.passed
    assert outcome.metadata["leaking_values"] == {"email": 1}


def test_no_raw_identifiers_fails_on_another_rows_raw_value(session: DuckDBSession, good: TablePlan) -> None:
    """A hashed column must not contain any RAW value, not only its own row's."""
    session.execute("UPDATE raw_safe.app.users SET email = 'user12@example.com' WHERE id = 1")
    assert not verify.check_no_raw_identifiers(session, SAFE_USERS, good).passed


def test_no_raw_identifiers_fails_on_a_value_left_in_a_null_column(session: DuckDBSession, good: TablePlan) -> None:
    session.execute("UPDATE raw_safe.app.users SET ssn = 'anything' WHERE id = 2")
    outcome = verify.check_no_raw_identifiers(session, SAFE_USERS, good)
    assert not outcome.passed
    assert outcome.metadata["leaking_values"] == {"ssn": 1}


def test_no_raw_identifiers_allows_a_real_name_as_someone_elses_fake(session: DuckDBSession, good: TablePlan) -> None:
    """Fakes come from the same vocabulary as real values: only a row keeping its own value is a leak."""
    fake = pseudonymize.fake_value(exp.Literal.string("Maria"), FakeKind.FIRST_NAME, session.secret_expression())
    fake_of_maria = session.fetch_all(exp.select(fake))[0][0]
    session.execute(
        "UPDATE raw.app.users SET first_name = ? WHERE id = 1", [fake_of_maria]
    )  # someone is really called so
    write_safe(session, good)
    overlap = session.fetch_all(
        "SELECT count(*) FROM raw_safe.app.users WHERE first_name IN (SELECT first_name FROM raw.app.users)"
    )[0][0]
    assert overlap > 0, "the fixture must put a real name among the fakes"
    outcome = verify.check_no_raw_identifiers(session, SAFE_USERS, good)
    assert outcome.passed, outcome.summary


def test_no_raw_identifiers_fails_on_a_raw_value_in_a_masked_column(session: DuckDBSession, good: TablePlan) -> None:
    session.execute(
        "UPDATE raw_safe.app.users AS s SET phone = r.phone FROM raw.app.users AS r WHERE s.id = 5 AND r.id = 5"
    )
    outcome = verify.check_no_raw_identifiers(session, SAFE_USERS, good)
    assert not outcome.passed
    assert outcome.metadata["leaking_values"] == {"phone": 1}


def test_no_raw_identifiers_fails_on_raw_values_in_a_fake_column(session: DuckDBSession, good: TablePlan) -> None:
    session.execute(
        "UPDATE raw_safe.app.users AS s SET first_name = r.first_name FROM raw.app.users AS r WHERE s.id = r.id"
    )
    assert not verify.check_no_raw_identifiers(session, SAFE_USERS, good).passed


# ------------------------------------------------------------------------------------------ k-anonymity


def test_k_anonymity_passes_when_every_class_has_k_rows(session: DuckDBSession, good: TablePlan) -> None:
    outcome = verify.check_k_anonymity(session, SAFE_USERS, good)
    assert outcome.name == verify.K_ANONYMITY
    assert outcome.passed, outcome.summary
    assert outcome.metadata == {"k_required": 5, "k_achieved": 5, "classes": 4, "rows": 20}


def test_k_anonymity_fails_on_a_class_of_two(session: DuckDBSession, good: TablePlan) -> None:
    session.execute("UPDATE raw_safe.app.users SET zip = '99999', gender = 'f' WHERE id IN (0, 1)")
    outcome = verify.check_k_anonymity(session, SAFE_USERS, good)
    assert not outcome.passed
    assert outcome.metadata["k_achieved"] == 2
    assert outcome.metadata["classes"] == 5
    assert "smallest class 2 < k=5" in outcome.summary


def test_k_anonymity_fails_on_a_unique_row(session: DuckDBSession, good: TablePlan) -> None:
    session.execute("UPDATE raw_safe.app.users SET zip = '99999' WHERE id = 0")
    outcome = verify.check_k_anonymity(session, SAFE_USERS, good)
    assert not outcome.passed
    assert outcome.metadata["k_achieved"] == 1


def test_k_anonymity_passes_with_a_class_of_two_when_k_is_two(session: DuckDBSession) -> None:
    plan = users_plan(session, k=2)
    write_safe(session, plan)
    session.execute("UPDATE raw_safe.app.users SET zip = '99999', gender = 'f' WHERE id IN (0, 1)")
    assert verify.check_k_anonymity(session, SAFE_USERS, plan).passed


def test_k_anonymity_passes_on_an_empty_table(session: DuckDBSession, good: TablePlan) -> None:
    session.execute("DELETE FROM raw_safe.app.users")
    assert verify.check_k_anonymity(session, SAFE_USERS, good).passed


def test_k_anonymity_without_quasi_identifiers_passes(session: DuckDBSession) -> None:
    columns = {name: policy for name, policy in USERS_POLICY.items() if policy != "quasi"}
    columns |= {"zip": "keep", "gender": "keep"}
    plan = users_plan(session, columns)
    write_safe(session, plan)
    assert verify.check_k_anonymity(session, SAFE_USERS, plan).passed


# ------------------------------------------------------------------------------------------ schema parity


def test_schema_parity_passes_on_the_same_schema(session: DuckDBSession, good: TablePlan) -> None:
    outcome = verify.check_schema_parity(session.describe(RAW_USERS), session.describe(SAFE_USERS))
    assert outcome.name == verify.SCHEMA_PARITY
    assert outcome.passed, outcome.summary


def test_schema_parity_fails_on_a_missing_column(session: DuckDBSession, good: TablePlan) -> None:
    session.execute("ALTER TABLE raw_safe.app.users DROP COLUMN ssn")
    outcome = verify.check_schema_parity(session.describe(RAW_USERS), session.describe(SAFE_USERS))
    assert not outcome.passed
    assert "8 columns expected, 7 found" in outcome.summary


def test_schema_parity_fails_on_a_changed_type(session: DuckDBSession, good: TablePlan) -> None:
    session.execute("ALTER TABLE raw_safe.app.users ALTER COLUMN id TYPE VARCHAR")
    outcome = verify.check_schema_parity(session.describe(RAW_USERS), session.describe(SAFE_USERS))
    assert not outcome.passed
    assert outcome.metadata["differences"] == ["('id', 'BIGINT') != ('id', 'VARCHAR')"]


def test_schema_parity_fails_on_a_reordered_column(session: DuckDBSession, good: TablePlan) -> None:
    session.execute(
        "CREATE OR REPLACE TABLE raw_safe.app.users AS SELECT email, id, * EXCLUDE (email, id) FROM raw.app.users"
    )
    assert not verify.check_schema_parity(session.describe(RAW_USERS), session.describe(SAFE_USERS)).passed


def test_schema_parity_fails_without_an_output(session: DuckDBSession) -> None:
    outcome = verify.check_schema_parity(session.describe(RAW_USERS), session.describe(SAFE_USERS))
    assert not outcome.passed
    assert outcome.summary == "output table not found"


# ------------------------------------------------------------------------------------------ the secret


def test_checks_never_send_the_secret(session: DuckDBSession, good: TablePlan) -> None:
    verify.check_no_raw_identifiers(session, SAFE_USERS, good)
    verify.check_patterns(session, SAFE_USERS, good)
    assert session.statements
    assert not [statement for statement in session.statements if SECRET in statement]


def test_rows_accounted_passes_when_every_raw_row_is_published(session: DuckDBSession) -> None:
    plan = users_plan(session)
    write_pseudonymized(session, plan, RAW_USERS, SAFE_USERS)
    outcome = verify.check_rows_accounted(session, SAFE_USERS, plan, verify.RowsExpected(mapped=20))
    assert outcome.passed, outcome.summary
    assert outcome.metadata["source_rows"] == outcome.metadata["published_rows"] == 20


def test_rows_accounted_fails_on_lost_rows_even_when_k_passes(session: DuckDBSession) -> None:
    """An empty output passes the k check (no class is under k); the row count is what catches it."""
    plan = users_plan(session)
    write_pseudonymized(session, plan, RAW_USERS, SAFE_USERS)
    session.execute("DELETE FROM raw_safe.app.users")
    assert verify.check_k_anonymity(session, SAFE_USERS, plan).passed
    outcome = verify.check_rows_accounted(session, SAFE_USERS, plan, verify.RowsExpected(mapped=20))
    assert not outcome.passed
    assert "raw.app.users" in outcome.summary and "20 RAW rows != 0 published" in outcome.summary


def test_rows_accounted_counts_held_back_and_dropped_rows(session: DuckDBSession) -> None:
    plan = users_plan(session)
    write_pseudonymized(session, plan, RAW_USERS, SAFE_USERS)
    session.execute("DELETE FROM raw_safe.app.users WHERE id < 5")
    expected = verify.RowsExpected(mapped=15, left_out_suppressed=2, held_back=3)
    assert verify.check_rows_accounted(session, SAFE_USERS, plan, expected).passed
    wrong = verify.RowsExpected(mapped=15, left_out_suppressed=2, held_back=2)
    assert not verify.check_rows_accounted(session, SAFE_USERS, plan, wrong).passed
    too_many = verify.RowsExpected(mapped=16, held_back=5)
    assert not verify.check_rows_accounted(session, SAFE_USERS, plan, too_many).passed


def test_an_integer_hash_is_checked_row_by_row_not_against_every_raw_value(session: DuckDBSession) -> None:
    """Integer pseudonyms share the keys' range, so one may equal another row's RAW id by chance; what must
    never happen is an id left as it was."""
    plan = users_plan(session, {**USERS_POLICY, "id": "hash"})
    write_pseudonymized(session, plan, RAW_USERS, SAFE_USERS)
    assert verify.check_no_raw_identifiers(session, SAFE_USERS, plan).passed
    session.execute("UPDATE raw_safe.app.users SET id = (SELECT min(id) FROM raw.app.users) WHERE rowid = 0")
    assert not verify.check_no_raw_identifiers(session, SAFE_USERS, plan).passed, "a changed multiset is caught"
    session.execute("CREATE OR REPLACE TABLE raw_safe.app.users AS SELECT * FROM raw.app.users")
    outcome = verify.check_no_raw_identifiers(session, SAFE_USERS, plan)
    assert not outcome.passed and "id" in outcome.metadata["leaking_values"]


def test_no_own_rare_value_fails_on_a_release_that_keeps_a_rare_value(session: DuckDBSession) -> None:
    """zip 02139 and 10001 are each held by 10 of the 20 RAW rows; a release showing a zip only 1 row holds
    is caught, and so is one that copies a rare RAW value from another row."""
    plan = users_plan(session)
    write_pseudonymized(session, plan, RAW_USERS, SAFE_USERS)
    assert verify.check_no_own_rare_value(session, SAFE_USERS, plan).passed
    session.execute("UPDATE raw.app.users SET zip = '90210' WHERE id = 3")
    session.execute("UPDATE raw_safe.app.users SET zip = '90210' WHERE id = 5")
    outcome = verify.check_no_own_rare_value(session, SAFE_USERS, plan)
    assert not outcome.passed
    assert outcome.metadata["rows_with_rare_values"] == {"zip": 1}
    assert "raw.app.users" in outcome.summary and "zip" in outcome.summary
