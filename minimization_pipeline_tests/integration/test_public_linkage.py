"""Cross-table linkage (issue 7, acceptance 2): PUBLIC tables joined by a path are published all or none.

Two person-level models, each 3-anonymous alone: `customers` (age, gender) and `plans` (plan). Joined on
the (hashed) user id, a class of (age, gender, plan) holds 2 people: the join singles them out more than
k=3 allows, so neither table is published and the report names the path and the columns. When the plan
follows the customers' classes, the join keeps k and both are published.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from minimization_pipeline.anonymize.joins import JOIN_LINKAGE
from minimization_pipeline.defs.public import linked_public_assets
from minimization_pipeline.defs.report import privacy_report_asset
from minimization_pipeline.defs.resources import MinimizationResource
from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.policy import load_policy
from minimization_pipeline_tests.integration.helpers import open_warehouse

pytestmark = pytest.mark.slow

K = 3
CUSTOMERS = [(1, 30, "F"), (2, 30, "F"), (3, 30, "F"), (4, 40, "M"), (5, 40, "M"), (6, 40, "M")]
#: each plan held by 3 people (3-anonymous alone), but user 3 is the only (30, F) on "free"
LEAKY_PLANS = [(1, "pro"), (2, "pro"), (3, "free"), (4, "pro"), (5, "free"), (6, "free")]
SAFE_PLANS = [(1, "pro"), (2, "pro"), (3, "pro"), (4, "free"), (5, "free"), (6, "free")]


def build_models(data_dir: Path, plans: list[tuple[int, str]]) -> Path:
    """The dbt models as the dev target leaves them (dev.main.*), and a policy that joins them."""
    data_dir.mkdir(exist_ok=True)
    with duckdb.connect(str(data_dir / "dev.duckdb")) as connection:
        connection.execute("USE dev")
        connection.execute("CREATE OR REPLACE TABLE dev.main.customers (user_id BIGINT, age INTEGER, gender VARCHAR)")
        connection.executemany("INSERT INTO dev.main.customers VALUES (?, ?, ?)", CUSTOMERS)
        connection.execute("CREATE OR REPLACE TABLE dev.main.plans (user_id BIGINT, plan VARCHAR)")
        connection.executemany("INSERT INTO dev.main.plans VALUES (?, ?)", plans)
    policy = {
        "public": {
            "k": K,
            "tables": {
                "customers": {"columns": {"user_id": "hash", "age": "quasi", "gender": "quasi"}},
                "plans": {"columns": {"user_id": "hash", "plan": "quasi"}},
            },
            "join_paths": [{"left": "customers", "right": "plans", "on": "user_id"}],
        }
    }
    path = data_dir / "minimization.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def publish(data_dir: Path, policy_path: Path, instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    public = load_policy(policy_path).public
    (group,) = public.linked_groups()
    asset = linked_public_assets(group, public, "dev")
    resource = MinimizationResource(data_dir=str(data_dir), policy_path=str(policy_path))
    return dg.materialize([asset], resources={"minimization": resource}, raise_on_error=False, instance=instance)


def public_tables(data_dir: Path) -> set[str]:
    with open_warehouse(data_dir, "public") as connection:
        rows = connection.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = 'public'").fetchall()
    return {name for (name,) in rows}


def linkage_checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        evaluation.asset_key.path[-1]: evaluation
        for evaluation in result.get_asset_check_evaluations()
        if evaluation.check_name == JOIN_LINKAGE
    }


def test_a_pair_k_anonymous_alone_but_not_joined_is_not_published(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    policy = build_models(data_dir, LEAKY_PLANS)
    # each table alone passes every check of its own
    for model in ("customers", "plans"):
        plan = Pipeline(data_dir, policy).plan_public(model, "dev")
        assert plan.k == K
    instance = dg.DagsterInstance.ephemeral()
    result = publish(data_dir, policy, instance)
    assert not result.success
    checks = linkage_checks(result)
    assert set(checks) == {"customers", "plans"}
    for evaluation in checks.values():
        assert not evaluation.passed
        description = evaluation.description or ""
        print(f"\n{evaluation.asset_key.to_user_string()}: {description}")
        assert "customers ⋈ plans on user_id" in description
        assert "customers.age" in description and "plans.plan" in description
        (path,) = evaluation.metadata["paths"].value
        assert path["k_achieved"] == 1 and path["k_required"] == K
        assert "plans.plan" in path["offending_columns"]
    # each table's own k check passed: it is the join that fails
    own = [e for e in result.get_asset_check_evaluations() if e.check_name == "k_anonymity"]
    assert len(own) == 2 and all(e.passed for e in own)
    # nothing of the pair is published, not even a staging table is left behind
    assert public_tables(data_dir) == set()
    assert not result.get_asset_materialization_events()

    # the privacy report (built after the failed run, from the same instance) names the path and columns
    keys = [dg.AssetKey(["public", "customers"]), dg.AssetKey(["public", "plans"])]
    resource = MinimizationResource(data_dir=str(data_dir), policy_path=str(policy))
    report = dg.materialize(
        [privacy_report_asset(keys)],
        resources={"minimization": resource},
        instance=instance,
        selection=["privacy_report"],
    )
    markdown = report.asset_materializations_for_node("privacy_report")[0].metadata["report"].value
    print(markdown)
    line = next(line for line in markdown.splitlines() if line.startswith("- ❌ **join_linkage**"))
    assert "customers ⋈ plans on user_id" in line and "plans.plan" in line and "customers.age" in line
    assert "Not published yet." in markdown


def test_a_pair_that_keeps_k_when_joined_is_published_together(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    policy = build_models(data_dir, SAFE_PLANS)
    result = publish(data_dir, policy)
    assert result.success
    assert all(evaluation.passed for evaluation in linkage_checks(result).values())
    assert public_tables(data_dir) == {"customers", "plans"}
    # the hashed key still joins, and every joined class holds k people
    with open_warehouse(data_dir, "public") as connection:
        smallest = connection.execute(
            "SELECT MIN(n) FROM (SELECT COUNT(DISTINCT c.user_id) AS n FROM public.main.customers c "
            "JOIN public.main.plans p USING (user_id) GROUP BY c.age, c.gender, p.plan)"
        ).fetchone()[0]
    assert smallest >= K


def test_a_leaky_pair_leaves_the_published_pair_untouched(tmp_path: Path) -> None:
    """Published once safely, then the models change so that the join leaks: the old pair stays."""
    data_dir = tmp_path / "data"
    policy = build_models(data_dir, SAFE_PLANS)
    assert publish(data_dir, policy).success
    with open_warehouse(data_dir, "public") as connection:
        before = connection.execute("SELECT * FROM public.main.plans ORDER BY ALL").fetchall()
    build_models(data_dir, LEAKY_PLANS)
    assert not publish(data_dir, policy).success
    with open_warehouse(data_dir, "public") as connection:
        assert connection.execute("SELECT * FROM public.main.plans ORDER BY ALL").fetchall() == before
    assert public_tables(data_dir) == {"customers", "plans"}


def test_a_join_path_must_name_listed_tables_and_joinable_keys(tmp_path: Path) -> None:
    from minimization_pipeline.policy import PolicyError

    path = tmp_path / "minimization.yaml"
    tables = {"customers": {"columns": {"user_id": "hash", "age": "quasi"}}, "plans": {"columns": {"plan": "quasi"}}}
    for join, message in [
        ({"left": "customers", "right": "orders", "on": "user_id"}, "orders is not listed"),
        ({"left": "customers", "right": "plans", "on": "user_id"}, "plans does not list the key column 'user_id'"),
        ({"left": "customers", "right": "plans", "left_on": "age", "right_on": "plan"}, "must be `keep` or `hash`"),
        ({"left": "customers", "right": "plans"}, "give the key"),
    ]:
        path.write_text(yaml.safe_dump({"public": {"tables": tables, "join_paths": [join]}}))
        with pytest.raises(PolicyError, match=message):
            load_policy(path)


def test_when_one_table_fails_its_own_check_neither_is_published(tmp_path: Path) -> None:
    """plans leaks an email (pattern_scan fails): customers passes every check, yet is not published either."""
    data_dir = tmp_path / "data"
    policy_path = build_models(data_dir, SAFE_PLANS)
    with duckdb.connect(str(data_dir / "dev.duckdb")) as connection:
        connection.execute("ALTER TABLE main.plans ADD COLUMN contact VARCHAR DEFAULT 'someone@example.com'")
    policy = yaml.safe_load(policy_path.read_text())
    policy["public"]["tables"]["plans"]["columns"]["contact"] = "keep"
    policy_path.write_text(yaml.safe_dump(policy))
    result = publish(data_dir, policy_path)
    assert not result.success
    failed = {(e.asset_key.path[-1], e.check_name) for e in result.get_asset_check_evaluations() if not e.passed}
    assert ("plans", "pattern_scan") in failed
    assert ("customers", "join_linkage") in failed and ("customers", "pattern_scan") not in failed
    assert "not run" in (linkage_checks(result)["customers"].description or "")
    assert public_tables(data_dir) == set()
