"""The policy file: the demo loads, shorthands expand, and every mistake names file, table and column."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from minimization_pipeline.catalog import Catalog, Column, Table
from minimization_pipeline.policy import (
    ColumnPolicy,
    FakeKind,
    MaskStyle,
    Method,
    Pattern,
    Policy,
    PolicyError,
    Role,
    Treatment,
    load_policy,
    parse_policy,
    validate_against_catalog,
)

DEMO_POLICY = Path(__file__).resolve().parents[2] / "minimization.yaml"


def write_policy(tmp_path: Path, document: dict[str, Any] | str, name: str = "my_policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def users_columns(columns: dict[str, Any], **table: Any) -> dict[str, Any]:
    """A policy document whose only table is app.users."""
    return {"sources": {"app": {"tables": {"users": {"columns": columns, **table}}}}}


def load_error(tmp_path: Path, document: dict[str, Any] | str) -> str:
    with pytest.raises(PolicyError) as raised:
        load_policy(write_policy(tmp_path, document))
    return str(raised.value)


# ------------------------------------------------------------------------------------------ the demo


def test_demo_policy_loads() -> None:
    policy = load_policy(DEMO_POLICY)
    assert isinstance(policy, Policy)
    assert policy.k == 5
    assert policy.public.k == 20
    assert ("app", "users") in policy.named_tables()
    assert ("stripe", "charges") in policy.named_tables()


def test_demo_policy_classifies_users() -> None:
    users = load_policy(DEMO_POLICY).table("app", "users")
    assert users is not None
    assert users.treatment is Treatment.TREAT
    assert users.columns["email"] == ColumnPolicy(role=Role.DIRECT, method=Method.HASH)
    assert users.columns["phone"].method is Method.MASK
    assert users.columns["phone"].mask is MaskStyle.LAST2
    assert users.columns["zip"].role is Role.QUASI
    assert users.columns["id"].role is Role.KEEP


def test_demo_policy_pass_through_and_fake() -> None:
    policy = load_policy(DEMO_POLICY)
    plans = policy.table("app", "plans")
    assert plans is not None and plans.treatment is Treatment.PASS_THROUGH
    customers = policy.table("stripe", "customers")
    assert customers is not None
    assert customers.columns["address_line"].fake is FakeKind.STREET_ADDRESS


def test_table_k_falls_back_to_policy_k() -> None:
    policy = Policy.model_validate(users_columns({"id": "keep"}, k=12))
    assert policy.k_for(policy.table("app", "users")) == 12
    assert policy.k_for(None) == policy.k
    assert policy.table("app", "nope") is None
    assert policy.table("nope", "users") is None


# ------------------------------------------------------------------------------------------ shorthands


@pytest.mark.parametrize("method", [Method.HASH, Method.MASK, Method.NULL])
def test_method_shorthand_is_a_direct_identifier(method: Method) -> None:
    column = ColumnPolicy.model_validate(method.value)
    assert column.role is Role.DIRECT
    assert column.method is method


def test_hash_shorthand() -> None:
    assert ColumnPolicy.model_validate("hash") == ColumnPolicy(role=Role.DIRECT, method=Method.HASH)


def test_fake_shorthand_takes_a_kind() -> None:
    column = ColumnPolicy.model_validate("fake:first_name")
    assert (column.role, column.method, column.fake) == (Role.DIRECT, Method.FAKE, FakeKind.FIRST_NAME)


@pytest.mark.parametrize("role", [Role.QUASI, Role.SENSITIVE, Role.KEEP])
def test_role_shorthand_has_no_method(role: Role) -> None:
    column = ColumnPolicy.model_validate(role.value)
    assert column.role is role
    assert column.method is None


def test_direct_defaults_to_hash() -> None:
    assert ColumnPolicy(role=Role.DIRECT).method is Method.HASH


def test_fake_email_implies_the_email_pattern() -> None:
    assert ColumnPolicy.model_validate("fake:email").allowed_patterns == {Pattern.EMAIL}
    assert ColumnPolicy.model_validate("fake:phone").allowed_patterns == {Pattern.PHONE}
    assert ColumnPolicy.model_validate("fake:city").allowed_patterns == frozenset()
    declared = ColumnPolicy(role=Role.KEEP, allow_patterns=(Pattern.IPV4,))
    assert declared.allowed_patterns == {Pattern.IPV4}


# ------------------------------------------------------------------------------------------ broken policies


def test_unknown_method_names_file_table_and_column(tmp_path: Path) -> None:
    message = load_error(tmp_path, users_columns({"emial": "hsah"}))
    assert "my_policy.yaml" in message
    assert "app.users.emial" in message
    assert "hsah" in message


def test_unknown_method_in_long_form(tmp_path: Path) -> None:
    message = load_error(tmp_path, users_columns({"email": {"role": "direct", "method": "hsah"}}))
    assert "my_policy.yaml: app.users.email" in message
    assert "hsah" in message


def test_k_zero_at_top_level(tmp_path: Path) -> None:
    message = load_error(tmp_path, {"k": 0})
    assert "my_policy.yaml: k:" in message
    assert "greater than or equal to 2" in message


def test_k_zero_on_a_table(tmp_path: Path) -> None:
    message = load_error(tmp_path, users_columns({"id": "keep"}, k=0))
    assert "my_policy.yaml: app.users (k)" in message
    assert "greater than or equal to 2" in message


def test_unknown_key_on_a_column(tmp_path: Path) -> None:
    message = load_error(tmp_path, users_columns({"email": {"role": "direct", "colour": "red"}}))
    assert "my_policy.yaml: app.users.email (colour): unknown key" in message


def test_unknown_key_on_a_table(tmp_path: Path) -> None:
    message = load_error(tmp_path, users_columns({"id": "keep"}, treatmnt="treat"))
    assert "my_policy.yaml: app.users (treatmnt): unknown key" in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    assert "my_policy.yaml: sorces: unknown key" in load_error(tmp_path, {"sorces": {}})


@pytest.mark.parametrize("column", ["fake", {"role": "direct", "method": "fake"}])
def test_fake_without_a_kind(tmp_path: Path, column: Any) -> None:
    message = load_error(tmp_path, users_columns({"first_name": column}))
    assert "my_policy.yaml: app.users.first_name" in message
    assert "needs a kind" in message


def test_fake_with_an_unknown_kind(tmp_path: Path) -> None:
    message = load_error(tmp_path, users_columns({"first_name": "fake:pet_name"}))
    assert "my_policy.yaml: app.users.first_name" in message
    assert "pet_name" in message


def test_argument_on_a_shorthand_other_than_fake(tmp_path: Path) -> None:
    message = load_error(tmp_path, users_columns({"email": "hash:sha1"}))
    assert "my_policy.yaml: app.users.email" in message
    assert "only 'fake' takes an argument" in message


@pytest.mark.parametrize("role", ["quasi", "sensitive", "keep"])
def test_method_on_a_non_direct_role(tmp_path: Path, role: str) -> None:
    message = load_error(tmp_path, users_columns({"zip": {"role": role, "method": "hash"}}))
    assert "my_policy.yaml: app.users.zip" in message
    assert f"role '{role}' takes no method" in message


def test_pass_through_without_columns(tmp_path: Path) -> None:
    document = {"sources": {"app": {"tables": {"plans": {"treatment": "pass_through"}}}}}
    message = load_error(tmp_path, document)
    assert "my_policy.yaml: app.plans" in message
    assert "must list the columns" in message


def test_pass_through_with_a_treated_column(tmp_path: Path) -> None:
    columns = {"plan": "keep", "description": "hash", "owner": "quasi"}
    document = {"sources": {"app": {"tables": {"plans": {"treatment": "pass_through", "columns": columns}}}}}
    message = load_error(tmp_path, document)
    assert "my_policy.yaml: app.plans" in message
    assert "'description'" in message and "'owner'" in message
    assert "'plan'" not in message


def test_public_table_errors_name_the_public_table(tmp_path: Path) -> None:
    message = load_error(tmp_path, {"public": {"tables": {"customers": {"columns": {"age": "qausi"}}}}})
    assert "my_policy.yaml: public.customers.age" in message


def test_every_problem_is_reported(tmp_path: Path) -> None:
    message = load_error(tmp_path, users_columns({"a": "hsah", "b": "fake"}, k=1))
    assert "app.users.a" in message
    assert "app.users.b" in message
    assert "app.users (k)" in message


def test_invalid_yaml(tmp_path: Path) -> None:
    message = load_error(tmp_path, "sources:\n  app: [unclosed\n")
    assert "my_policy.yaml" in message
    assert "not valid YAML" in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(PolicyError, match=r"absent\.yaml: policy file not found"):
        load_policy(path)


def test_empty_file_is_the_default_policy(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path, ""))
    assert policy.sources == {}
    assert policy.k == 5


# ------------------------------------------------------------------------------------------ vs. the catalog


def users_catalog() -> Catalog:
    columns = (Column("id", "BIGINT"), Column("email", "VARCHAR"), Column("zip", "VARCHAR"))
    return Catalog("raw", (Table("app", "users", columns),))


def test_validate_against_catalog_accepts_existing_columns() -> None:
    policy = Policy.model_validate(users_columns({"id": "keep", "email": "hash", "zip": "quasi"}))
    validate_against_catalog(policy, users_catalog())


def test_validate_against_catalog_names_a_missing_column() -> None:
    policy = Policy.model_validate(users_columns({"id": "keep", "emial": "hash"}))
    with pytest.raises(PolicyError) as raised:
        validate_against_catalog(policy, users_catalog(), origin="my_policy.yaml")
    message = str(raised.value)
    assert "my_policy.yaml: app.users.emial: column does not exist in raw.app.users" in message
    assert "(it has: email, id, zip)" in message


def test_validate_against_catalog_ignores_tables_not_loaded_yet() -> None:
    policy = Policy.model_validate({"sources": {"app": {"tables": {"orders": {"columns": {"nope": "keep"}}}}}})
    validate_against_catalog(policy, users_catalog())


# ------------------------------------------------------------------ anonymization settings (modes, hierarchies)


def _table(columns: dict, **settings: object) -> dict:
    return {"sources": {"app": {"tables": {"users": {"columns": columns, **settings}}}}}


def test_hierarchy_paths_resolve_against_the_policy_folder(tmp_path: Path) -> None:
    (tmp_path / "zip.csv").write_text("02139;021**;*\n")
    path = tmp_path / "minimization.yaml"
    path.write_text(yaml.safe_dump(_table({"zip": {"role": "quasi", "hierarchy": "zip.csv"}})))
    policy = load_policy(path)
    assert policy.table("app", "users").columns["zip"].hierarchy == (tmp_path / "zip.csv").resolve()


def test_a_missing_hierarchy_file_names_the_column(tmp_path: Path) -> None:
    path = tmp_path / "minimization.yaml"
    path.write_text(yaml.safe_dump(_table({"zip": {"role": "quasi", "hierarchy": "nope.csv"}})))
    with pytest.raises(PolicyError, match=r"app\.users\.zip.*hierarchy file not found"):
        load_policy(path)


def test_only_a_quasi_identifier_takes_a_hierarchy(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("a;*\n")
    with pytest.raises(PolicyError, match=r"app\.users\.email.*only a quasi-identifier takes a hierarchy"):
        parse_policy(_table({"email": {"role": "direct", "hierarchy": "h.csv"}}), base_dir=tmp_path)


def test_generalize_mode_needs_a_hierarchy_for_every_quasi_identifier() -> None:
    with pytest.raises(PolicyError, match=r"app\.users.*hierarchy for every quasi-identifier.*'zip'"):
        parse_policy(_table({"zip": "quasi"}, mode="generalize"))


def test_l_diversity_names_a_sensitive_column_of_the_table() -> None:
    policy = parse_policy(_table({"zip": "quasi", "plan": "sensitive"}, l_diversity={"column": "plan", "l": 2}))
    assert policy.table("app", "users").l_diversity.l == 2
    with pytest.raises(PolicyError, match=r"app\.users.*l_diversity\.column 'zip' must be .* sensitive"):
        parse_policy(_table({"zip": "quasi"}, l_diversity={"column": "zip", "l": 2}))
    with pytest.raises(PolicyError, match=r"app\.users.*l_diversity"):
        parse_policy(_table({"plan": "sensitive"}, l_diversity={"column": "plan", "l": 1}))


def test_suppression_cap_is_a_share() -> None:
    with pytest.raises(PolicyError, match=r"app\.users.*max_suppression"):
        parse_policy(_table({"zip": "quasi"}, max_suppression=5))


# ----------------------------------------------------------------------------------- roles (grants as code)


def test_roles_default_to_the_articles_setup() -> None:
    roles = Policy().roles
    assert {key: (role.name, role.warehouse) for key, role in roles.all_roles().items()} == {
        "loader": ("LOADER", "LOADING"),
        "developer": ("DEVELOPER", "DEVELOPING"),
        "transformer": ("TRANSFORMER", "TRANSFORMING"),
        "reader": ("REPORTER", "REPORTING"),
        "anonymizer": ("ANONYMIZER", "ANONYMIZING"),
    }
    assert roles.databases.model_dump() == {
        "raw": "RAW",
        "raw_safe": "RAW_SAFE",
        "dev": "DEV",
        "analytics": "ANALYTICS",
        "public": "PUBLIC",
        "staging": "MINIMIZATION_STAGING",
    }
    assert (roles.warehouse_size.value, roles.auto_suspend_seconds) == ("XSMALL", 60)
    assert load_policy(DEMO_POLICY).roles == roles  # the demo's commented section spells out the defaults


def test_role_names_are_upper_cased_and_partly_overridable() -> None:
    roles = parse_policy({"roles": {"developer": {"name": "analyst"}, "databases": {"dev": "sandbox"}}}).roles
    assert (roles.developer.name, roles.developer.warehouse) == ("ANALYST", "DEVELOPING")
    assert (roles.databases.dev, roles.databases.raw) == ("SANDBOX", "RAW")


def test_the_anonymizer_role_is_configurable_like_the_others() -> None:
    section = {"anonymizer": {"name": "minimizer", "grant_to_users": ["svc_pipeline"], "grant_to_roles": ["sysadmin"]}}
    anonymizer = parse_policy({"roles": section}).roles.anonymizer
    assert (anonymizer.name, anonymizer.warehouse) == ("MINIMIZER", "ANONYMIZING")
    assert (anonymizer.grant_to_users, anonymizer.grant_to_roles) == (("SVC_PIPELINE",), ("SYSADMIN",))


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ({"developer": {"name": 'x"; DROP ROLE y'}}, r"roles\.developer\.name: .*not a plain Snowflake name"),
        ({"reader": {"warehouse": "two words"}}, r"roles\.reader\.warehouse: .*not a plain Snowflake name"),
        ({"transformer": {"grant_to_users": ["ok", "a;b"]}}, r"roles\.transformer\.grant_to_users\.1: .*plain"),
        ({"databases": {"public": "-x"}}, r"roles\.databases\.public: .*not a plain Snowflake name"),
        ({"loader": {"nmae": "L"}}, r"roles\.loader\.nmae: unknown key"),
        ({"owner": {"name": "O"}}, r"roles\.owner: unknown key"),
        ({"warehouse_size": "HUGE"}, r"roles\.warehouse_size: .*XSMALL"),
        ({"auto_suspend_seconds": 0}, r"roles\.auto_suspend_seconds: "),
        ({"reader": {"name": "public"}}, r"roles\.reader\.name: PUBLIC is a Snowflake system role"),
        ({"loader": {"name": "SYSADMIN"}}, r"roles\.loader\.name: SYSADMIN is a Snowflake system role"),
        ({"developer": {"grant_to_roles": ["public"]}}, r"roles\.developer\.grant_to_roles: .*every user"),
        ({"reader": {"name": "developer"}}, r"roles: developer\.name and reader\.name are both DEVELOPER"),
        ({"developer": {"grant_to_roles": ["transformer"]}}, r"roles: developer\.grant_to_roles .*TRANSFORMER"),
        ({"databases": {"raw_safe": "raw"}}, r"roles\.databases: raw and raw_safe are both RAW"),
        ({"anonymizer": {"name": "x y"}}, r"roles\.anonymizer\.name: .*not a plain Snowflake name"),
        ({"anonymizer": {"name": "ACCOUNTADMIN"}}, r"roles\.anonymizer\.name: ACCOUNTADMIN is a Snowflake system role"),
        (
            {"anonymizer": {"name": "transformer"}},
            r"roles: transformer\.name and anonymizer\.name are both TRANSFORMER",
        ),
        ({"anonymizer": {"grant_to_roles": ["developer"]}}, r"roles: anonymizer\.grant_to_roles .*DEVELOPER"),
        ({"reader": {"grant_to_roles": ["anonymizer"]}}, r"roles: reader\.grant_to_roles .*ANONYMIZER"),
    ],
)
def test_a_broken_roles_section_names_file_and_field(tmp_path: Path, roles: dict[str, Any], expected: str) -> None:
    message = load_error(tmp_path, {"roles": roles})
    assert re.search(r"my_policy\.yaml: " + expected, message), message
