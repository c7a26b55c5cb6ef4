"""Policy + catalog table -> per-column plan: RAW order and types kept, unnamed columns fail closed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from minimization_pipeline.anonymize.plan import ColumnPlan, PlanError, TablePlan, plan_public, plan_table
from minimization_pipeline.catalog import Catalog, Column, Table
from minimization_pipeline.policy import (
    ColumnPolicy,
    MaskStyle,
    Method,
    PassThroughAs,
    Policy,
    PolicyError,
    Role,
    TablePolicy,
    Treatment,
    load_policy,
)
from minimization_pipeline.warehouse.base import TableRef

DEMO_POLICY = Path(__file__).resolve().parents[2] / "minimization.yaml"

#: app.users as the demo generator creates it, plus columns the demo policy does not name.
USERS = Table(
    "app",
    "users",
    (
        Column("id", "BIGINT"),
        Column("email", "VARCHAR"),
        Column("first_name", "VARCHAR"),
        Column("last_name", "VARCHAR"),
        Column("phone", "VARCHAR"),
        Column("birth_date", "DATE"),
        Column("gender", "VARCHAR"),
        Column("zip", "VARCHAR"),
        Column("city", "VARCHAR"),
        Column("signup_at", "TIMESTAMP"),
        Column("plan", "VARCHAR"),
        Column("ssn", "VARCHAR"),
        Column("loyalty_id", "INTEGER"),
        Column("last_login", "DATE"),
        Column("balance", "DECIMAL(10,2)"),
    ),
)
UNNAMED = ("ssn", "loyalty_id", "last_login", "balance")
PLANS = Table(
    "app",
    "plans",
    (Column("plan", "VARCHAR"), Column("monthly_price", "DECIMAL(10,2)"), Column("internal_note", "VARCHAR")),
)
CATALOG = Catalog("raw", (USERS, PLANS))


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEMO_POLICY)


def plan_of(table: Table, table_policy: TablePolicy | None, k: int = 5) -> TablePlan:
    return plan_table(table, table_policy, k, "raw", "raw_safe")


def by_name(plan: TablePlan) -> dict[str, ColumnPlan]:
    return {column.name: column for column in plan.columns}


def single(table: Table, columns: dict[str, Any]) -> TablePlan:
    return plan_of(table, TablePolicy.model_validate({"columns": columns}))


# ------------------------------------------------------------------------------------------ the demo table


def test_plan_keeps_raw_order_and_types(policy: Policy) -> None:
    plan = plan_of(CATALOG.get("app", "users"), policy.table("app", "users"))
    assert [(c.name, c.data_type) for c in plan.columns] == [(c.name, c.data_type) for c in USERS.columns]


def test_plan_targets_the_same_table_in_raw_safe(policy: Policy) -> None:
    plan = plan_of(USERS, policy.table("app", "users"), k=policy.k_for(policy.table("app", "users")))
    assert plan.source == TableRef("raw", "app", "users")
    assert plan.target == TableRef("raw_safe", "app", "users")
    assert plan.treatment is Treatment.TREAT
    assert plan.k == 5


def test_plan_follows_the_policy_for_named_columns(policy: Policy) -> None:
    columns = by_name(plan_of(USERS, policy.table("app", "users")))
    assert (columns["id"].role, columns["id"].method) == (Role.KEEP, None)
    assert (columns["email"].role, columns["email"].method) == (Role.DIRECT, Method.HASH)
    assert columns["phone"].method is Method.MASK
    assert columns["phone"].policy.mask is MaskStyle.LAST2
    assert all(columns[name].reason == "policy" for name in ("id", "email", "phone", "zip"))


def test_plan_lists_quasi_and_direct_columns(policy: Policy) -> None:
    plan = plan_of(USERS, policy.table("app", "users"))
    assert [c.name for c in plan.quasi] == ["birth_date", "gender", "zip", "city"]
    assert [c.name for c in plan.direct] == ["email", "first_name", "last_name", "phone", *UNNAMED]
    assert [(q.name, q.kind.value) for q in plan.qi_columns] == [
        ("birth_date", "date"),
        ("gender", "categorical"),
        ("zip", "categorical"),
        ("city", "categorical"),
    ]


@pytest.mark.parametrize("name", ["ssn", "loyalty_id"])
def test_unnamed_text_or_integer_column_is_hashed(policy: Policy, name: str) -> None:
    column = by_name(plan_of(USERS, policy.table("app", "users")))[name]
    assert (column.role, column.method) == (Role.DIRECT, Method.HASH)
    assert "column not in policy" in column.reason
    assert "fail-closed" in column.reason


@pytest.mark.parametrize("name", ["last_login", "balance"])
def test_unnamed_column_that_cannot_be_hashed_is_null(policy: Policy, name: str) -> None:
    column = by_name(plan_of(USERS, policy.table("app", "users")))[name]
    assert (column.role, column.method) == (Role.DIRECT, Method.NULL)
    assert "column not in policy" in column.reason
    assert "NULL" in column.reason


def test_table_not_in_policy_is_fully_fail_closed(policy: Policy) -> None:
    assert policy.table("app", "sessions") is None
    table = Table(
        "app",
        "sessions",
        (Column("token", "VARCHAR"), Column("user_id", "BIGINT"), Column("started", "TIMESTAMP")),
    )
    plan = plan_of(table, policy.table("app", "sessions"))
    assert plan.treatment is Treatment.TREAT
    assert [(c.name, c.role, c.method) for c in plan.columns] == [
        ("token", Role.DIRECT, Method.HASH),
        ("user_id", Role.DIRECT, Method.HASH),
        ("started", Role.DIRECT, Method.NULL),
    ]
    assert all(c.reason.startswith("table not in policy") for c in plan.columns)
    assert all("fail-closed" in c.reason for c in plan.columns if c.method is Method.HASH)
    assert plan.quasi == ()


def test_describe_names_every_column(policy: Policy) -> None:
    described = plan_of(USERS, policy.table("app", "users")).describe()
    assert list(described) == [c.name for c in USERS.columns]
    assert described["email"] == "hash"
    assert described["zip"] == "quasi"
    assert described["balance"] == "null"


# ------------------------------------------------------------------------------------------ pass_through


def test_pass_through_keeps_listed_columns_and_nulls_the_rest(policy: Policy) -> None:
    table_policy = TablePolicy.model_validate(
        {"treatment": "pass_through", "columns": {"plan": "keep", "monthly_price": "keep"}}
    )
    plan = plan_of(PLANS, table_policy)
    assert plan.treatment is Treatment.PASS_THROUGH
    columns = by_name(plan)
    assert columns["plan"].role is Role.KEEP
    assert columns["monthly_price"].role is Role.KEEP
    assert (columns["internal_note"].role, columns["internal_note"].method) == (Role.DIRECT, Method.NULL)
    assert "pass_through" in columns["internal_note"].reason


def test_pass_through_passes_an_unlisted_column_only_when_classified_keep() -> None:
    """A view cannot hash: a new column of a pass-through table is NULL unless the classifier says keep."""
    table = Table("app", "plans", (*PLANS.columns, Column("plan_id", "BIGINT"), Column("owner_email", "VARCHAR")))
    table_policy = TablePolicy.model_validate({"treatment": "pass_through", "columns": {"plan": "keep"}})
    proposals = {
        "plan_id": (ColumnPolicy(role=Role.KEEP), "classified (90%): key"),
        "owner_email": (ColumnPolicy(role=Role.DIRECT, method=Method.HASH), "classified (99%): email"),
    }
    columns = by_name(plan_table(table, table_policy, 5, "raw", "raw_safe", proposals))
    assert (columns["plan_id"].role, columns["plan_id"].reason) == (Role.KEEP, "classified (90%): key")
    assert (columns["owner_email"].role, columns["owner_email"].method) == (Role.DIRECT, Method.NULL)
    assert "direct per classifier" in columns["owner_email"].reason
    assert (columns["internal_note"].method, columns["internal_note"].reason.endswith("until classified")) == (
        Method.NULL,
        True,
    )


def test_a_pass_through_clone_needs_every_column_listed_keep() -> None:
    """A clone copies every column as it is; a view can leave unlisted ones NULL, a clone cannot."""
    partial = TablePolicy.model_validate(
        {"treatment": "pass_through", "pass_through_as": "clone", "columns": {"plan": "keep", "monthly_price": "keep"}}
    )
    with pytest.raises(
        PlanError, match=r"app\.plans: pass_through_as clone copies every column, but \['internal_note'\]"
    ):
        plan_of(PLANS, partial)
    full = TablePolicy.model_validate(
        {
            "treatment": "pass_through",
            "pass_through_as": "clone",
            "columns": {"plan": "keep", "monthly_price": "keep", "internal_note": "keep"},
        }
    )
    assert plan_of(PLANS, full).pass_through_as is PassThroughAs.CLONE


def test_pass_through_as_is_refused_on_a_treated_table() -> None:
    with pytest.raises(ValueError, match="pass_through_as applies to treatment pass_through only"):
        TablePolicy.model_validate({"pass_through_as": "clone", "columns": {"plan": "keep"}})


def test_demo_plans_table_missing_a_listed_column_is_refused(policy: Policy) -> None:
    """The demo lists `description`; a RAW plans table without it is a mistake, not a silent drop."""
    with pytest.raises(PlanError, match=r"app\.plans\.description"):
        plan_of(PLANS, policy.table("app", "plans"))


# ------------------------------------------------------------------------------------------ refusals


def test_hash_on_a_date_is_refused() -> None:
    with pytest.raises(PlanError, match=r"app\.users\.birth_date: method 'hash' cannot keep type DATE"):
        single(USERS, {"birth_date": "hash"})


def test_mask_on_an_integer_is_refused() -> None:
    with pytest.raises(PlanError, match=r"app\.users\.id: method 'mask' needs a text column, not BIGINT"):
        single(USERS, {"id": "mask"})


def test_fake_on_an_integer_is_refused() -> None:
    with pytest.raises(PlanError, match=r"app\.users\.loyalty_id: method 'fake'"):
        single(USERS, {"loyalty_id": "fake:name"})


def test_quasi_on_a_blob_is_refused() -> None:
    table = Table("app", "files", (Column("id", "BIGINT"), Column("payload", "BLOB")))
    with pytest.raises(PlanError, match=r"app\.files\.payload: a quasi-identifier must be .* not BLOB"):
        single(table, {"id": "keep", "payload": "quasi"})


def test_policy_column_missing_from_the_table_is_refused() -> None:
    with pytest.raises(PlanError, match=r"app\.users\.emial: column named in the policy does not exist"):
        single(USERS, {"emial": "hash"})


def test_plan_error_is_a_policy_error() -> None:
    assert issubclass(PlanError, PolicyError)


# ------------------------------------------------------------------------------------------ public


def test_public_plan_publishes_only_listed_columns(policy: Policy) -> None:
    mart = Table(
        "main",
        "customers",
        (
            Column("user_id", "BIGINT"),
            Column("email", "VARCHAR"),
            Column("age", "INTEGER"),
            Column("zip3", "VARCHAR"),
            Column("gender", "VARCHAR"),
            Column("lifetime_value", "DECIMAL(12,2)"),
            Column("order_count", "BIGINT"),
        ),
    )
    plan = plan_public(mart, policy.public.tables["customers"], policy.public.k, "analytics", "public")
    assert [c.name for c in plan.columns] == ["user_id", "age", "zip3", "gender", "lifetime_value", "order_count"]
    assert plan.target == TableRef("public", "main", "customers")
    assert plan.k == 20


# ------------------------------------------------------------------------------------ classifier proposals


def test_an_accepted_proposal_treats_an_unnamed_column(policy: Policy) -> None:
    proposals = {"loyalty_id": (ColumnPolicy(role=Role.KEEP), "classified (95%): key")}
    plan = plan_table(USERS, policy.table("app", "users"), 5, "raw", "raw_safe", proposals)
    column = by_name(plan)["loyalty_id"]
    assert column.role is Role.KEEP and column.reason.startswith("classified")
    assert by_name(plan)["ssn"].method is Method.HASH, "columns without a proposal stay fail-closed"


def test_the_policy_wins_over_a_proposal(policy: Policy) -> None:
    proposals = {"email": (ColumnPolicy(role=Role.KEEP), "classified (99%): wrong")}
    plan = plan_table(USERS, policy.table("app", "users"), 5, "raw", "raw_safe", proposals)
    assert by_name(plan)["email"].method is Method.HASH
    assert by_name(plan)["email"].reason == "policy"


def test_a_proposal_must_fit_the_type(policy: Policy) -> None:
    proposals = {"last_login": (ColumnPolicy(role=Role.DIRECT, method=Method.HASH), "classified (60%): ?")}
    with pytest.raises(PlanError, match=r"app\.users\.last_login"):
        plan_table(USERS, policy.table("app", "users"), 5, "raw", "raw_safe", proposals)
