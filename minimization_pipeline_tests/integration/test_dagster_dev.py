"""`dagster dev` for real: the lineage the UI draws, and the UI's "Materialize" on one RAW_SAFE table.

The issue accepts the pipeline when, in `dagster dev`, the lineage shows raw → raw_safe → dbt models
→ public and materializing one RAW_SAFE table from the UI works. In-process tests cannot prove that:
the code location is loaded by a separate code server, the run is queued by the webserver, dequeued
by the daemon and executed by a run worker, each a process of its own with only the environment to
share. So this module starts the real command and talks to it as the UI does, over GraphQL.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from minimization_pipeline.anonymize.verify import CHECK_NAMES
from minimization_pipeline.demo.schema_change import apply_schema_change, ui_asset_keys, wait_for_raw_safe
from minimization_pipeline.settings import PROJECT_ROOT
from minimization_pipeline_tests.conftest import TEST_SECRET
from minimization_pipeline_tests.integration.browser import (
    UI_TIMEOUT_MS,
    artifacts_dir,
    chromium_page,
    screenshot_when_done,
)
from minimization_pipeline_tests.integration.helpers import open_warehouse, tables

pytestmark = pytest.mark.slow

STARTUP_TIMEOUT = 120.0  # code server, then webserver and daemon, each importing dagster: 27-55 s on 2 cores
RUN_TIMEOUT = 180.0  # daemon dequeue + a run worker that loads the code location again: 20-31 s
SHUTDOWN_TIMEOUT = 10.0
LOG_TAIL_CHARS = 6_000

SENSOR_INTERVAL = 10  # seconds; the default is 60
ALL_CHECKS = (*CHECK_NAMES, "matches_raw_schema", "column_schema_change")

TARGET = ["raw_safe", "app", "users"]
LINEAGE = ["raw/app/users", "raw_safe/app/users", "stg_app__users", "customers", "public/customers"]
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}

# The UI reads these fields to draw the graph and to build a "Materialize" launch.
ASSET_NODES_QUERY = """
query AssetGraph {
  assetNodes {
    assetKey { path }
    dependencyKeys { path }
    jobNames
    repository { name location { name } }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name jobNames blocking } }
    }
  }
}
"""

# What the UI's LaunchAssetExecutionButton sends (ui-core `executionParamsForAssetJob`).
LAUNCH_MUTATION = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message stack }
  }
}
"""

RUN_STATUS_QUERY = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status }
    ... on RunNotFoundError { message }
    ... on PythonError { message }
  }
}
"""

RUN_EVENTS_QUERY = """
query RunEvents($runId: ID!, $afterCursor: String) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      eventConnection(afterCursor: $afterCursor, limit: 500) {
        cursor
        hasMore
        events {
          __typename
          ... on MaterializationEvent { assetKey { path } }
          ... on AssetCheckEvaluationEvent { evaluation { checkName success assetKey { path } } }
          ... on ExecutionStepFailureEvent { stepKey error { message } }
        }
      }
    }
  }
}
"""

ASSET_MATERIALIZATIONS_QUERY = """
query AssetMaterializations($assetKey: AssetKeyInput!) {
  assetOrError(assetKey: $assetKey) {
    __typename
    ... on Asset { assetMaterializations(limit: 5) { runId } }
  }
}
"""


@dataclass
class DagsterDev:
    """A running `dagster dev`: where to reach it, where it logs, where its warehouse lives."""

    url: str
    log_path: Path
    data_dir: Path
    process: subprocess.Popen[bytes]

    def log_tail(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"\n--- tail of {self.log_path} ---\n{text[-LOG_TAIL_CHARS:]}"

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST one query; GraphQL errors fail the test with the server's log attached."""
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        assert response.status_code == 200, f"GraphQL HTTP {response.status_code}: {response.text}{self.log_tail()}"
        body = response.json()
        assert not body.get("errors"), f"GraphQL errors: {body['errors']}{self.log_tail()}"
        return body["data"]


def free_port() -> int:
    """A port nobody listens on now; `dagster dev` binds it a moment later (a tiny, accepted race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def default_sigint() -> None:
    """Runs in the child before exec: a SIGINT ignored by whoever started pytest (a background job
    of a non-interactive shell, say) would be inherited, and `dagster dev` would then sleep through
    the SIGINT that is its only clean way down."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGINT to the whole group (what Ctrl-C in a terminal does), then SIGKILL whatever is left.

    The group holds `dagster dev`, its code servers, the webserver, the daemon and any run worker;
    killing only the leader would orphan them, still holding the DuckDB files and the port.
    """
    pgid = process.pid  # start_new_session made the leader its own group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=SHUTDOWN_TIMEOUT)
    with contextlib.suppress(ProcessLookupError):  # stragglers, or everything if SIGINT was not enough
        os.killpg(pgid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:  # orphans are reaped by init; wait until the group is gone
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def wait_until_loaded(dev: DagsterDev) -> None:
    """The webserver answers before the code location is loaded: wait for our assets, bounded."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_problem = "not started"
    while time.monotonic() < deadline:
        if dev.process.poll() is not None:
            pytest.fail(f"dagster dev exited early with code {dev.process.returncode}{dev.log_tail()}")
        try:
            if requests.get(f"{dev.url}/server_info", timeout=5).status_code == 200:
                response = requests.post(f"{dev.url}/graphql", json={"query": ASSET_NODES_QUERY}, timeout=30)
                nodes = (response.json().get("data") or {}).get("assetNodes") or []
                if any(node["assetKey"]["path"] == TARGET for node in nodes):
                    return
                last_problem = f"{len(nodes)} asset nodes, none is {'/'.join(TARGET)}"
        except (requests.RequestException, ValueError) as error:
            last_problem = repr(error)
        time.sleep(0.5)
    pytest.fail(f"dagster dev not ready after {STARTUP_TIMEOUT:.0f} s ({last_problem}){dev.log_tail()}")


@pytest.fixture(scope="module")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> Iterator[DagsterDev]:
    """`dagster dev` on a private copy of the demo RAW database and a private, quiet DAGSTER_HOME."""
    root = tmp_path_factory.mktemp("dagster_dev")
    data_dir = root / "data"
    data_dir.mkdir()
    shutil.copy(demo_data / "raw.duckdb", data_dir / "raw.duckdb")
    with running_dagster_dev(root, data_dir, {"MINIMIZATION_SENSOR_INTERVAL": str(SENSOR_INTERVAL)}) as dev:
        yield dev


@contextlib.contextmanager
def running_dagster_dev(root: Path, data_dir: Path, env: dict[str, str]) -> Iterator[DagsterDev]:
    """A real `dagster dev` on a free port over ``data_dir``, with a private, quiet DAGSTER_HOME under ``root``
    (one run at a time: DuckDB has one writer per file), ``env`` on top; loaded when yielded, its whole process
    group stopped afterwards."""
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nnux:\n  enabled: false\nrun_queue:\n  max_concurrent_runs: 1\n"
    )
    bin_dir = Path(sys.executable).parent
    port = free_port()
    environment = {
        **os.environ,
        "MINIMIZATION_DATA_DIR": str(data_dir),
        "MINIMIZATION_SECRET": TEST_SECRET,
        "DAGSTER_HOME": str(home),
        "MINIMIZATION_DAGSTER_URL": f"http://127.0.0.1:{port}",  # where the sensor asks for a reload
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",  # dbt steps call this venv's `dbt`
        **env,
    }
    log_path = root / "dagster_dev.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(bin_dir / "dagster"), "dev", "-h", "127.0.0.1", "-p", str(port), "-w", "workspace.yaml"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: teardown signals every process it spawned, and only those
            preexec_fn=default_sigint,
        )
    dev = DagsterDev(f"http://127.0.0.1:{port}", log_path, data_dir, process)
    try:
        wait_until_loaded(dev)
        yield dev
    finally:
        stop_process_group(process)


def path_of(key: dict[str, Any]) -> str:
    return "/".join(key["path"])


def test_lineage_runs_raw_to_raw_safe_to_dbt_to_public(dagster_dev: DagsterDev) -> None:
    """The graph the UI draws, as the UI reads it: every stage present and chained for app.users."""
    nodes = dagster_dev.graphql(ASSET_NODES_QUERY)["assetNodes"]
    upstream = {path_of(node["assetKey"]): {path_of(key) for key in node["dependencyKeys"]} for node in nodes}
    for key in LINEAGE:
        assert key in upstream, f"{key} missing from the asset graph: {sorted(upstream)}"
    for parent, child in itertools.pairwise(LINEAGE):
        assert parent in upstream[child], f"no edge {parent} → {child}; upstream of {child}: {upstream[child]}"


def launch_like_the_ui(dev: DagsterDev) -> str:
    """Press "Materialize" on raw_safe/app/users: the implicit asset job, that asset and its checks."""
    nodes = dev.graphql(ASSET_NODES_QUERY)["assetNodes"]
    node = next(node for node in nodes if node["assetKey"]["path"] == TARGET)
    job = "__ASSET_JOB"
    assert job in node["jobNames"], node["jobNames"]
    checks = node["assetChecksOrError"]
    assert checks["__typename"] == "AssetChecks", checks
    check_names = sorted(check["name"] for check in checks["checks"] if job in check["jobNames"])
    assert check_names == sorted(ALL_CHECKS), check_names
    blocking = {check["name"] for check in checks["checks"] if check["blocking"]}
    assert blocking == set(ALL_CHECKS) - {"column_schema_change"}, checks  # Dagster's own check warns only
    params = {
        "mode": "default",
        "runConfigData": "{}",
        "executionMetadata": {"tags": []},
        "selector": {
            "repositoryLocationName": node["repository"]["location"]["name"],
            "repositoryName": node["repository"]["name"],
            "pipelineName": job,
            "assetSelection": [{"path": TARGET}],
            "assetCheckSelection": [{"assetKey": {"path": TARGET}, "name": name} for name in check_names],
        },
    }
    launched = dev.graphql(LAUNCH_MUTATION, {"executionParams": params})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", f"{launched}{dev.log_tail()}"
    return launched["run"]["runId"]


def wait_for_run(dev: DagsterDev, run_id: str) -> str:
    """Poll until the daemon has dequeued the run and its worker finished it, bounded."""
    deadline = time.monotonic() + RUN_TIMEOUT
    status = "unknown"
    while time.monotonic() < deadline:
        run = dev.graphql(RUN_STATUS_QUERY, {"runId": run_id})["runOrError"]
        assert run["__typename"] == "Run", run
        status = run["status"]
        if status in FINISHED:
            return status
        assert dev.process.poll() is None, f"dagster dev exited with code {dev.process.returncode}{dev.log_tail()}"
        time.sleep(0.5)
    pytest.fail(f"run {run_id} still {status} after {RUN_TIMEOUT:.0f} s{dev.log_tail()}")


def run_events(dev: DagsterDev, run_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        run = dev.graphql(RUN_EVENTS_QUERY, {"runId": run_id, "afterCursor": cursor})["runOrError"]
        connection = run["eventConnection"]
        events.extend(connection["events"])
        if not connection["hasMore"]:
            return events
        cursor = connection["cursor"]


def test_materialize_one_raw_safe_table_like_the_ui(dagster_dev: DagsterDev) -> None:
    """Launch as the UI does; the daemon dequeues it; the table and only it is published, checked."""
    run_id = launch_like_the_ui(dagster_dev)
    status = wait_for_run(dagster_dev, run_id)
    events = run_events(dagster_dev, run_id)
    failures = [event for event in events if event["__typename"] == "ExecutionStepFailureEvent"]
    assert status == "SUCCESS", f"run {run_id} ended {status}: {failures}{dagster_dev.log_tail()}"

    materialized = {path_of(event["assetKey"]) for event in events if event["__typename"] == "MaterializationEvent"}
    assert materialized == {"/".join(TARGET)}, materialized
    asset = dagster_dev.graphql(ASSET_MATERIALIZATIONS_QUERY, {"assetKey": {"path": TARGET}})["assetOrError"]
    assert asset["__typename"] == "Asset", asset
    assert run_id in {m["runId"] for m in asset["assetMaterializations"]}, asset

    evaluations = {
        event["evaluation"]["checkName"]: event["evaluation"]["success"]
        for event in events
        if event["__typename"] == "AssetCheckEvaluationEvent" and event["evaluation"]["assetKey"]["path"] == TARGET
    }
    assert evaluations == dict.fromkeys(ALL_CHECKS, True), evaluations

    with open_warehouse(dagster_dev.data_dir, "raw_safe") as connection:
        assert ("app", "users") in tables(connection, "raw_safe")


# What the browser must see. With several groups the global lineage collapses each into one box, laid out left
# to right along the dependencies, so the boxes' order is the lineage raw → raw_safe → dbt → public.
GROUPS = ["raw", "raw_safe", "dbt_staging", "dbt_marts", "public"]
GCP_KEY = "gcp_gcp"  # the GCP both engines report (the exact scorer's and the coarse histogram's upper bound)
TREATMENTS = {"email": "hash", "birth_date": "quasi"}  # column → a cell of its row in the `columns` table
RISK_KEYS = [
    f"{figure}_{when}"
    for figure in ("prosecutor_risk_highest", "unique_records", "linkage_success")
    for when in ("before", "after")
]
MATERIALIZED_IN_RUN = re.compile(r"^Materialized in run [0-9a-f]{8}$")  # the short run id links to the run
NUMBER = re.compile(r"^\s*-?\d+(\.\d+)?(e-?\d+)?\s*$")


def materialization_runs(dev: DagsterDev) -> list[str]:
    """The runs of raw_safe/app/users' latest materializations, newest first."""
    asset = dev.graphql(ASSET_MATERIALIZATIONS_QUERY, {"assetKey": {"path": TARGET}})["assetOrError"]
    return [m["runId"] for m in asset["assetMaterializations"]] if asset["__typename"] == "Asset" else []


def ensure_materialized(dev: DagsterDev) -> None:
    """The earlier test materialized raw_safe/app/users; when this test runs alone, materialize it the same way."""
    if materialization_runs(dev):
        return
    run_id = launch_like_the_ui(dev)
    status = wait_for_run(dev, run_id)
    assert status == "SUCCESS", f"run {run_id} ended {status}{dev.log_tail()}"


def metadata_value(page: Page, key: str) -> Locator:
    """The value cell of one entry of the metadata table (rows are key | value | actions). A Markdown value
    brings a table of its own, whose rows never have ``key`` as a cell, so only the entry's row matches."""
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=key, exact=True))
    return row.get_by_role("cell").nth(1)


def shown_number(cell: Locator, what: str) -> float:
    """The number a cell shows, once it shows one (the UI fills the table in as its queries answer)."""
    expect(cell, f"{what}: no number shown").to_have_text(NUMBER, timeout=UI_TIMEOUT_MS)
    return float(cell.inner_text())


def assert_lineage_page(page: Page, url: str) -> None:
    """The sidebar's "Lineage" is `/asset-groups` ("Global asset lineage"). The sidebar lists the group names
    too, so they are looked for in the graph itself (its nodes are HTML inside SVG `foreignObject`s)."""
    page.goto(f"{url}/asset-groups")
    expect(page.get_by_text("Global asset lineage", exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    graph = page.locator("svg foreignObject")
    lefts: dict[str, float] = {}
    for group in GROUPS:
        node = graph.get_by_text(group, exact=True)
        expect(node, f"group {group} not drawn in the lineage graph").to_be_visible(timeout=UI_TIMEOUT_MS)
        box = node.bounding_box()
        assert box is not None, group
        lefts[group] = box["x"]
    assert all(lefts[a] < lefts[b] for a, b in itertools.pairwise(GROUPS)), f"not drawn in lineage order: {lefts}"


def assert_raw_safe_asset_page(page: Page, url: str) -> str:
    """The asset's page opens on "Overview", whose metadata table mixes the latest value of every key ever
    reported; the "Events" tab selects the latest materialization and shows exactly its metadata, so the test
    clicks it, then reads k, GCP, the treatments and the risk figures. Returns the (short) run id shown: the
    sensor may publish the table again meanwhile, so the caller checks it against the asset's history."""
    page.goto(f"{url}/assets/{'/'.join(TARGET)}")
    page.get_by_role("tab", name="Events").click()
    materialized = page.get_by_text(MATERIALIZED_IN_RUN)
    expect(materialized, "no materialization selected on the Events tab").to_be_visible(timeout=UI_TIMEOUT_MS)
    run_id = materialized.inner_text().split()[-1]

    k_required = shown_number(metadata_value(page, "k_required"), "k_required")
    k_achieved = shown_number(metadata_value(page, "k_achieved"), "k_achieved")
    assert 2 <= k_required <= k_achieved, (k_required, k_achieved)
    gcp = shown_number(metadata_value(page, GCP_KEY), GCP_KEY)
    assert 0.0 <= gcp <= 1.0, gcp

    treatments = metadata_value(page, "columns")
    for column, treatment in TREATMENTS.items():
        row = treatments.get_by_role("row").filter(has=page.get_by_role("cell", name=column, exact=True))
        shown = row.get_by_role("cell", name=treatment, exact=True)
        expect(shown, f"{column} not shown as {treatment}").to_be_visible(timeout=UI_TIMEOUT_MS)

    # Re-identification risk before and after, reported on every RAW_SAFE materialization: k-anonymity caps the
    # prosecutor risk at 1/k and leaves no record unique, and no figure may get worse.
    risk = {key: shown_number(metadata_value(page, key), key) for key in RISK_KEYS}
    assert risk["prosecutor_risk_highest_after"] <= 1.0 / k_required + 1e-6, risk
    assert risk["unique_records_after"] == 0.0, risk
    for figure in ("prosecutor_risk_highest", "unique_records", "linkage_success"):
        assert risk[f"{figure}_after"] <= risk[f"{figure}_before"], risk
    return run_id


def test_the_ui_in_a_browser_shows_the_lineage_and_the_raw_safe_metadata(dagster_dev: DagsterDev) -> None:
    """Issue acceptance as a person sees it: headless Chromium finds the four stages on the Lineage page, in
    order, and on raw_safe/app/users' page its latest materialization's k, GCP, risk and column treatments.
    The screenshots are kept under `test-artifacts/ui/`, passed or failed."""
    ensure_materialized(dagster_dev)
    folder = artifacts_dir()
    started = time.monotonic()
    with chromium_page() as page:
        with screenshot_when_done(page, folder / "lineage.png"):
            assert_lineage_page(page, dagster_dev.url)
        with screenshot_when_done(page, folder / "raw_safe_app_users.png"):
            shown_run = assert_raw_safe_asset_page(page, dagster_dev.url)
    runs = materialization_runs(dagster_dev)
    assert any(run.startswith(shown_run) for run in runs), f"run {shown_run} shown, materialized by {runs}"
    print(f"\nthe UI in Chromium: {time.monotonic() - started:.1f} s; screenshots in {folder}")


def test_a_new_table_and_column_reach_raw_safe_and_the_ui_with_nothing_restarted(dagster_dev: DagsterDev) -> None:
    """Issue 4's acceptance, for real: a loader adds raw.crm.contacts and users.personal_email while
    `dagster dev` runs; the daemon's sensor tick publishes both, has the code location reloaded so that the
    new table shows as assets of its own, nothing of RAW's PII reaches RAW_SAFE, and the UI lists the new assets."""
    started = time.monotonic()
    written = apply_schema_change(dagster_dev.data_dir)
    assert written["crm.contacts"] > 0 and written["app.users.personal_email"] > 0
    outcome, _ = wait_for_raw_safe(dagster_dev.data_dir, timeout_s=2 * SENSOR_INTERVAL + RUN_TIMEOUT)
    seconds = time.monotonic() - started
    assert outcome.ready, f"{outcome.detail} after {seconds:.0f} s{dagster_dev.log_tail()}"
    assert outcome.leaks and not any(outcome.leaks.values()), outcome.leaks
    print(f"\nschema change in RAW_SAFE after {seconds:.0f} s (sensor interval {SENSOR_INTERVAL} s)")
    wanted = {"raw/crm/contacts", "raw_safe/crm/contacts"}
    deadline = time.monotonic() + STARTUP_TIMEOUT  # the reload the sensor asked for loads the code again
    while not wanted <= (listed := ui_asset_keys(dagster_dev.url)) and time.monotonic() < deadline:
        time.sleep(1.0)
    assert wanted <= listed, f"the UI does not list {wanted - listed}{dagster_dev.log_tail()}"
    print(f"the UI lists the new assets after {time.monotonic() - started:.0f} s")
    assert dagster_dev.process.poll() is None  # nothing was restarted
