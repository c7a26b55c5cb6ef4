"""A RAW table the policy does not name: classified from a bounded sample, treated, never leaked."""

from __future__ import annotations

from pathlib import Path

import duckdb

from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.policy import Method, Role
from minimization_pipeline.settings import PROJECT_ROOT
from minimization_pipeline_tests.integration.helpers import open_warehouse


def test_an_unknown_crm_table_is_classified_and_nothing_identifying_leaks(fresh_data: Path) -> None:
    with duckdb.connect(str(fresh_data / "raw.duckdb")) as connection:
        connection.execute("CREATE SCHEMA crm")
        connection.execute(
            """
            CREATE TABLE crm.contacts AS
            SELECT u.id AS contact_id, u.first_name || ' ' || u.last_name AS full_name, u.email AS contact,
                   u.phone AS phone, u.birth_date AS dob, u.zip AS postal_code,
                   'Called ' || u.phone || ', follow up by mail to ' || u.email AS notes,
                   ['lead', 'customer', 'churned'][1 + u.id % 3] AS status
            FROM app.users u
            """
        )
    pipeline = Pipeline(fresh_data, PROJECT_ROOT / "minimization.yaml")
    plan = pipeline.plan_raw_safe("crm", "contacts")
    by_name = {column.name: column for column in plan.columns}
    # A key-like name is no evidence: every contact_id is held by one row, so it is pseudonymized, not kept.
    assert by_name["contact_id"].method is Method.HASH, by_name["contact_id"].reason
    assert "fewer than 5 rows (whole table, SQL)" in by_name["contact_id"].reason
    assert by_name["status"].role is Role.KEEP, "a code every value of which 500 rows hold is kept"
    for name in ("full_name", "contact", "phone", "notes"):
        assert by_name[name].role is Role.DIRECT, (name, by_name[name].reason)
    assert by_name["contact"].method is Method.HASH
    assert by_name["dob"].role is Role.QUASI and by_name["postal_code"].role is Role.QUASI
    assert all("classified" in column.reason or "fail-closed" in column.reason for column in plan.columns)
    # The evidence shown in the UI names rules and shares, never a sampled value.
    with open_warehouse(fresh_data, "raw") as connection:
        samples = {
            v
            for (v,) in connection.execute(
                "SELECT email FROM raw.app.users UNION SELECT phone FROM raw.app.users"
            ).fetchall()
        }
    assert not [c.reason for c in plan.columns if any(value in c.reason for value in samples)]

    result = pipeline.publish_raw_safe("crm", "contacts")

    assert result.published, [check.summary for check in result.failed_checks]
    with open_warehouse(fresh_data, "raw", "raw_safe") as connection:
        leaked = connection.execute(
            """
            SELECT count(*) FROM raw_safe.crm.contacts s, raw.app.users u
            WHERE s.contact = u.email OR s.phone = u.phone OR s.notes LIKE '%' || u.email || '%'
               OR s.full_name = u.first_name || ' ' || u.last_name
            """
        ).fetchone()[0]
        joined, distinct = connection.execute(
            "SELECT count(u.id), count(DISTINCT s.contact_id) FROM raw_safe.crm.contacts s "
            "LEFT JOIN raw.app.users u ON s.contact_id = u.id"
        ).fetchone()
    assert leaked == 0
    assert joined == 0, "no RAW key is published"
    assert distinct == 1_500, "the pseudonymized key is still unique"
