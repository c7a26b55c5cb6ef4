"""RAW vs RAW_SAFE parity: what the sensor re-publishes, and when the code location must reload."""

from __future__ import annotations

from minimization_pipeline.catalog import Catalog, Column, Table
from minimization_pipeline.schema_sync import compare, table_drift

USERS = Table("app", "users", (Column("id", "BIGINT"), Column("email", "VARCHAR"), Column("zip", "VARCHAR")))
ORDERS = Table("app", "orders", (Column("id", "BIGINT"), Column("amount", "DECIMAL(10,2)")))


def with_columns(table: Table, *columns: Column) -> Table:
    return Table(table.schema, table.name, columns, table.kind)


def test_identical_catalogs_are_in_parity() -> None:
    sync = compare(
        Catalog("raw", (USERS, ORDERS)), Catalog("raw_safe", (USERS, ORDERS)), [("app", "users"), ("app", "orders")]
    )
    assert (sync.drifted, sync.new_tables, sync.dropped_tables, sync.needs_reload) == ((), (), (), False)
    assert sync.describe() == "RAW_SAFE is in parity with RAW"


def test_added_dropped_retyped_and_reordered_columns_are_each_reported() -> None:
    raw = with_columns(USERS, Column("zip", "VARCHAR"), Column("id", "BIGINT"), Column("personal_email", "VARCHAR"))
    copy = with_columns(USERS, Column("id", "INTEGER"), Column("email", "VARCHAR"), Column("zip", "VARCHAR"))
    drift = table_drift(raw, copy)
    assert drift.added == ("personal_email",)
    assert drift.dropped == ("email",)
    assert drift.retyped == ("id: INTEGER -> BIGINT",)
    assert drift.reordered
    assert not drift.in_parity
    text = drift.describe()
    for part in ("new columns personal_email", "dropped columns email", "id: INTEGER -> BIGINT", "reordered"):
        assert part in text


def test_a_missing_copy_is_drift_and_a_type_change_alone_is_too() -> None:
    assert table_drift(USERS, None).missing_copy
    retyped = with_columns(USERS, Column("id", "BIGINT"), Column("email", "VARCHAR"), Column("zip", "INTEGER"))
    assert table_drift(retyped, USERS).retyped == ("zip: VARCHAR -> INTEGER",)


def test_new_and_dropped_tables_need_a_reload_and_only_present_tables_drift() -> None:
    contacts = Table("crm", "contacts", (Column("email", "VARCHAR"),))
    raw = Catalog("raw", (USERS, contacts))  # orders dropped, contacts new
    raw_safe = Catalog("raw_safe", (USERS, ORDERS))
    sync = compare(raw, raw_safe, known_present=[("app", "users"), ("app", "orders")])
    assert sync.new_tables == (("crm", "contacts"),)
    assert sync.dropped_tables == (("app", "orders"),)
    assert sync.needs_reload
    assert sync.to_publish == (("crm", "contacts"),)  # the copy of a dropped table is not drift: it is kept
    assert "dropped from RAW (its RAW_SAFE copy is kept)" in sync.describe()


def test_excluded_tables_are_never_drift_nor_replicated() -> None:
    sync = compare(Catalog("raw", (USERS, ORDERS)), Catalog("raw_safe", (USERS,)), [], excluded=[("app", "orders")])
    assert sync.to_publish == ()
    assert sync.new_tables == (("app", "orders"), ("app", "users"))  # the graph still changes (RAW specs)
    assert sync.new_to_replicate == (("app", "users"),)


def test_the_fingerprint_follows_raw_only() -> None:
    one = compare(Catalog("raw", (USERS,)), Catalog("raw_safe", ()), [])
    two = compare(Catalog("raw", (USERS,)), Catalog("raw_safe", (USERS,)), [])
    changed = compare(
        Catalog("raw", (with_columns(USERS, *USERS.columns, Column("x", "DATE")),)), Catalog("raw_safe"), []
    )
    assert one.raw_fingerprint == two.raw_fingerprint != changed.raw_fingerprint
