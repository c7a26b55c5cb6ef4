"""Time-partitioned RAW_SAFE tables, on the repository's own policy (events, orders, charges hourly).

RAW is the demo's, with `app.events` moved into three dense days (2026-10-01 .. 10-03, about 200 events
an hour) so that every hour has rows enough for k; one hour is left thin on purpose. Runs are real:
DuckDB files, the engine, and Dagster's own partitioned job for the backfill and the schedule.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from pycanon import anonymity

from minimization_pipeline.definitions import build_definitions
from minimization_pipeline.defs.automation import HOURLY_JOB
from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.policy import PolicyError
from minimization_pipeline.settings import PROJECT_ROOT
from minimization_pipeline.warehouse.base import SliceSchemaError
from minimization_pipeline_tests.conftest import make_settings
from minimization_pipeline_tests.integration.helpers import open_warehouse, table_digest

POLICY = PROJECT_ROOT / "minimization.yaml"
DAY0 = dt.datetime(2026, 10, 1)
HOURS = 72
#: the hour left with fewer than k rows
THIN_HOUR = DAY0 + dt.timedelta(hours=30)
K = 5
EVENTS_KEY = dg.AssetKey(["raw_safe", "app", "events"])


def hour(n: int) -> dt.datetime:
    return DAY0 + dt.timedelta(hours=n)


@pytest.fixture
def dense(tmp_path: Path, demo_data: Path) -> Path:
    """A copy of the demo RAW whose events lie in 72 dense hours, one of them with only 3 rows."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(demo_data / "raw.duckdb", data_dir / "raw.duckdb")
    import duckdb

    with duckdb.connect(str(data_dir / "raw.duckdb")) as connection:
        connection.execute(
            "UPDATE app.events SET occurred_at = TIMESTAMP '2026-10-01' "
            f"+ to_seconds((hash(id) % {HOURS * 3600})::BIGINT)"
        )
        thin = f"TIMESTAMP '{THIN_HOUR:%Y-%m-%d %H:%M}'"
        # the thin hour keeps 3 rows; the rest of its rows move an hour on
        connection.execute(
            f"UPDATE app.events SET occurred_at = occurred_at + INTERVAL 1 HOUR WHERE occurred_at >= {thin} "
            f"AND occurred_at < {thin} + INTERVAL 1 HOUR AND id NOT IN (SELECT id FROM app.events WHERE "
            f"occurred_at >= {thin} AND occurred_at < {thin} + INTERVAL 1 HOUR ORDER BY id LIMIT 3)"
        )
    return data_dir


def raw_rows(data_dir: Path, start: dt.datetime, end: dt.datetime, database: str = "raw") -> int:
    with open_warehouse(data_dir, database) as connection:
        return connection.execute(
            f"SELECT count(*) FROM {database}.app.events WHERE occurred_at >= ? AND occurred_at < ?", [start, end]
        ).fetchone()[0]


def smallest_class(data_dir: Path, per_hour: bool = False) -> int:
    hour_key = "date_trunc('hour', occurred_at), " if per_hour else ""
    with open_warehouse(data_dir, "raw_safe") as connection:
        return connection.execute(
            f"SELECT min(n) FROM (SELECT count(*) AS n FROM raw_safe.app.events GROUP BY {hour_key}user_agent)"
        ).fetchone()[0]


def test_the_repository_policy_partitions_the_append_only_tables() -> None:
    settings = make_settings(Path("unused"), POLICY)
    partitioned = Pipeline(settings.data_dir, POLICY).policy().partitioned_tables()
    assert sorted(partitioned) == [("app", "events"), ("app", "orders"), ("stripe", "charges")]
    assert {p.grain.value for p in partitioned.values()} == {"hour"}


def test_a_partition_run_is_idempotent_and_replaces_only_its_hour(dense: Path) -> None:
    pipeline = Pipeline(dense, POLICY)
    first = pipeline.publish_raw_safe("app", "events", (hour(0), hour(2)))
    assert first.published and first.rows == raw_rows(dense, hour(0), hour(2)) > 2 * K
    pipeline.publish_raw_safe("app", "events", (hour(2), hour(3)))
    digest = table_digest(dense, "raw_safe", "app", "events")
    again = pipeline.publish_raw_safe("app", "events", (hour(2), hour(3)))
    assert again.published
    assert table_digest(dense, "raw_safe", "app", "events") == digest, "running a partition twice changed the table"
    assert raw_rows(dense, hour(0), hour(3), "raw_safe") == raw_rows(dense, hour(0), hour(3))
    assert raw_rows(dense, hour(3), hour(HOURS), "raw_safe") == 0, "a run wrote outside its partitions"


def test_a_late_row_appears_after_its_partition_is_rerun(dense: Path) -> None:
    import duckdb

    pipeline = Pipeline(dense, POLICY)
    pipeline.publish_raw_safe("app", "events", (hour(0), hour(4)))
    before = raw_rows(dense, hour(1), hour(2), "raw_safe")
    with duckdb.connect(str(dense / "raw.duckdb")) as connection:
        connection.execute(
            "INSERT INTO app.events SELECT 999999999, user_id, TIMESTAMP '2026-10-01 01:30:00', ip_address, "
            "user_agent, 'late_event' FROM app.events LIMIT 1"
        )
    pipeline.publish_raw_safe("app", "events", (hour(1), hour(2)))
    assert raw_rows(dense, hour(1), hour(2), "raw_safe") == before + 1
    with open_warehouse(dense, "raw_safe") as connection:
        late = connection.execute("SELECT count(*) FROM raw_safe.app.events WHERE event_type = 'late_event'")
        assert late.fetchone()[0] == 1
    assert raw_rows(dense, hour(0), hour(4), "raw_safe") == raw_rows(dense, hour(0), hour(4))


def test_a_partition_with_fewer_than_k_rows_is_held_back_never_published_under_k(dense: Path) -> None:
    pipeline = Pipeline(dense, POLICY)
    result = pipeline.publish_raw_safe("app", "events", (THIN_HOUR, THIN_HOUR + dt.timedelta(hours=1)))
    assert result.published
    assert result.rows == 0
    assert result.metrics["rows_held_back"] == 3 and result.metrics["partitions_held_back"] == 1
    assert raw_rows(dense, THIN_HOUR, THIN_HOUR + dt.timedelta(hours=1), "raw_safe") == 0


def test_a_backfill_of_72_hours_is_one_run_and_k_holds_on_the_whole_table(dense: Path, session_env: Path) -> None:
    defs = build_definitions(make_settings(dense, POLICY))
    job = defs.resolve_job_def(HOURLY_JOB)
    keys = job.partitions_def.get_partition_keys_in_range(
        dg.PartitionKeyRange(hour(0).strftime("%Y-%m-%d-%H:%M"), hour(HOURS - 1).strftime("%Y-%m-%d-%H:%M"))
    )
    assert len(keys) == HOURS
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(
        instance=instance,
        asset_selection=[EVENTS_KEY],
        tags={ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]},
    )
    assert result.success
    assert len(instance.get_runs()) == 1, "a backfill is one run, not one per hour"
    materialized = instance.get_materialized_partitions(EVENTS_KEY)
    assert materialized == set(keys)
    thin = raw_rows(dense, THIN_HOUR, THIN_HOUR + dt.timedelta(hours=1))
    assert thin == 3
    assert raw_rows(dense, hour(0), hour(HOURS), "raw_safe") == raw_rows(dense, hour(0), hour(HOURS)) - thin
    assert smallest_class(dense, per_hour=True) >= K
    assert smallest_class(dense) >= K
    with open_warehouse(dense, "raw_safe") as connection:
        released = connection.execute("SELECT user_agent FROM raw_safe.app.events").df()
    assert len(released) > HOURS * 100
    assert anonymity.k_anonymity(released.fillna("<null>"), ["user_agent"]) >= K


def test_the_hourly_schedule_runs_the_newest_complete_hour(dense: Path, session_env: Path) -> None:
    defs = build_definitions(make_settings(dense, POLICY))
    schedule = defs.resolve_schedule_def("hourly_minimization_schedule")
    tick = dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.UTC)
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        requests = schedule.evaluate_tick(context).run_requests
    assert requests is not None and len(requests) == 1
    assert requests[0].partition_key == "2026-11-26-13:00"
    assert schedule.job_name == HOURLY_JOB


def test_a_new_raw_column_is_refused_by_a_one_hour_run_and_taken_by_a_full_rebuild(dense: Path) -> None:
    import duckdb

    pipeline = Pipeline(dense, POLICY)
    pipeline.publish_raw_safe("app", "events", (hour(0), hour(HOURS)))
    digest = table_digest(dense, "raw_safe", "app", "events")
    with duckdb.connect(str(dense / "raw.duckdb")) as connection:
        connection.execute("ALTER TABLE app.events ADD COLUMN referrer VARCHAR DEFAULT 'https://example.com'")
    with pytest.raises(SliceSchemaError, match=r"raw_safe\.app\.events.*referrer"):
        pipeline.publish_raw_safe("app", "events", (hour(5), hour(6)))
    assert table_digest(dense, "raw_safe", "app", "events") == digest, "a refused slice changed the table"
    rebuilt = pipeline.publish_raw_safe("app", "events", (dt.datetime(2023, 11, 1), hour(HOURS)))
    assert rebuilt.published
    with open_warehouse(dense, "raw_safe") as connection:
        columns = [row[0] for row in connection.execute("DESCRIBE raw_safe.app.events").fetchall()]
        leaked = connection.execute(
            "SELECT count(*) FROM raw_safe.app.events WHERE referrer = 'https://example.com'"
        ).fetchone()[0]
    assert columns[-1] == "referrer"
    assert leaked == 0, "an unclassified new column was copied as is"


def test_a_partitioned_table_is_not_published_whole_by_mistake(dense: Path) -> None:
    with pytest.raises(PolicyError, match="partitioned by occurred_at"):
        Pipeline(dense, POLICY).publish_raw_safe("app", "events")


def test_partition_bounds_must_fall_on_the_grain(dense: Path) -> None:
    with pytest.raises(PolicyError, match="not a partition boundary"):
        Pipeline(dense, POLICY).publish_raw_safe("app", "events", (hour(0) + dt.timedelta(minutes=30), hour(2)))


def test_every_partition_is_k_anonymous_on_its_own_so_replacing_one_keeps_k(dense: Path) -> None:
    """Replace one hour inside a published range with fewer rows: no other hour's classes shrink."""
    import duckdb

    pipeline = Pipeline(dense, POLICY)
    pipeline.publish_raw_safe("app", "events", (hour(0), hour(24)))
    with duckdb.connect(str(dense / "raw.duckdb")) as connection:  # hour 7 loses most of its rows in RAW
        connection.execute(
            "DELETE FROM app.events WHERE occurred_at >= ? AND occurred_at < ? AND id % 4 <> 0", [hour(7), hour(8)]
        )
    pipeline.publish_raw_safe("app", "events", (hour(7), hour(8)))
    assert smallest_class(dense, per_hour=True) >= K
    assert smallest_class(dense) >= K
    frame = pd.DataFrame({"n": [raw_rows(dense, hour(7), hour(8), "raw_safe")]})
    assert frame["n"][0] == raw_rows(dense, hour(7), hour(8))


def test_the_dbt_model_over_events_is_incremental_over_the_run_window(dense: Path, session_env: Path) -> None:
    """`hourly_events` reads and replaces only its run's hours: a count planted in another hour survives a
    one-hour run, while the hour run gets its late row."""
    import duckdb

    defs = build_definitions(make_settings(dense, POLICY))
    job = defs.resolve_job_def(HOURLY_JOB)
    models = [dg.AssetKey(["stg_app__events"]), dg.AssetKey(["hourly_events"])]
    instance = dg.DagsterInstance.ephemeral()
    backfill = job.execute_in_process(
        instance=instance,
        asset_selection=[EVENTS_KEY, *models],
        tags={
            ASSET_PARTITION_RANGE_START_TAG: f"{hour(0):%Y-%m-%d-%H:%M}",
            ASSET_PARTITION_RANGE_END_TAG: f"{hour(23):%Y-%m-%d-%H:%M}",
        },
    )
    assert backfill.success

    def per_hour() -> dict[dt.datetime, int]:
        with open_warehouse(dense, "dev") as connection:
            rows = connection.execute("SELECT event_hour, sum(events) FROM dev.main.hourly_events GROUP BY 1")
            return {row[0]: int(row[1]) for row in rows.fetchall()}

    built = per_hour()
    assert len(built) == 24 and sum(built.values()) == raw_rows(dense, hour(0), hour(24), "raw_safe")
    with duckdb.connect(str(dense / "dev.duckdb")) as connection:  # a planted figure in hour 7
        connection.execute(
            "UPDATE main.hourly_events SET events = events + 1000 WHERE event_hour = ? AND event_type = "
            "(SELECT min(event_type) FROM main.hourly_events WHERE event_hour = ?)",
            [hour(7), hour(7)],
        )
    with duckdb.connect(str(dense / "raw.duckdb")) as connection:  # a late row in hour 5
        connection.execute(
            "INSERT INTO app.events SELECT 777777777, user_id, TIMESTAMP '2026-10-01 05:59:00', ip_address, "
            "user_agent, event_type FROM app.events LIMIT 1"
        )
    one_hour = job.execute_in_process(
        instance=instance, asset_selection=[EVENTS_KEY, *models], partition_key=f"{hour(5):%Y-%m-%d-%H:%M}"
    )
    assert one_hour.success
    after = per_hour()
    assert after[hour(5)] == built[hour(5)] + 1, "the run's hour did not get its late row"
    assert after[hour(7)] == built[hour(7)] + 1000, "a one-hour run rebuilt another hour"
    assert {h: n for h, n in after.items() if h not in (hour(5), hour(7))} == {
        h: n for h, n in built.items() if h not in (hour(5), hour(7))
    }


def test_a_table_built_whole_is_not_replaced_one_hour_at_a_time(dense: Path) -> None:
    """Classes of a table built whole may span hours: replacing one hour could leave the others under k. A
    slice is refused until one run over every partition has rebuilt the table partition by partition."""
    from minimization_pipeline_tests.conftest import WHOLE_TABLES_POLICY

    assert Pipeline(dense, WHOLE_TABLES_POLICY).publish_raw_safe("app", "events").published
    digest = table_digest(dense, "raw_safe", "app", "events")
    pipeline = Pipeline(dense, POLICY)
    with pytest.raises(SliceSchemaError, match="not built partition by partition"):
        pipeline.publish_raw_safe("app", "events", (hour(5), hour(6)))
    assert table_digest(dense, "raw_safe", "app", "events") == digest
    assert pipeline.publish_raw_safe("app", "events", (dt.datetime(2023, 11, 1), hour(HOURS))).published
    assert pipeline.publish_raw_safe("app", "events", (hour(5), hour(6))).published
    assert smallest_class(dense, per_hour=True) >= K


def test_the_sensor_rebuilds_a_partitioned_table_over_every_partition_when_raw_changes(
    dense: Path, session_env: Path
) -> None:
    """A new RAW column on a partitioned table: the sensor asks for one run of the hourly job over the whole
    partition range for that asset (a one-hour run would refuse the new schema)."""
    import duckdb

    from minimization_pipeline_tests.integration.test_schema_changes import tick

    settings = make_settings(dense, POLICY)
    Pipeline(dense, POLICY).publish_raw_safe("app", "events", (hour(0), hour(HOURS)))
    defs = build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    with duckdb.connect(str(dense / "raw.duckdb")) as connection:
        connection.execute("ALTER TABLE app.events ADD COLUMN referrer VARCHAR")
    requests = [r for r in tick(defs, settings, instance, None).run_requests if EVENTS_KEY in (r.asset_selection or [])]
    assert len(requests) == 1
    request = requests[0]
    assert request.job_name == HOURLY_JOB and request.asset_selection == [EVENTS_KEY]
    assert request.tags[ASSET_PARTITION_RANGE_START_TAG] == "2023-11-01-00:00"
    newest = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    assert request.tags[ASSET_PARTITION_RANGE_END_TAG] >= f"{newest - dt.timedelta(hours=1):%Y-%m-%d-%H:%M}"


def test_the_cli_backfills_a_range_in_one_run(dense: Path, session_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from minimization_pipeline import cli

    monkeypatch.setenv("MINIMIZATION_DATA_DIR", str(dense))
    monkeypatch.setenv("MINIMIZATION_POLICY", str(POLICY))
    monkeypatch.setenv("DAGSTER_HOME", str(dense / "dagster_home"))
    command = ["backfill", f"{hour(0):%Y-%m-%dT%H:%M}", f"{hour(48):%Y-%m-%dT%H:%M}", "--tables", "app.events"]
    assert cli.main(command) == 0
    assert raw_rows(dense, hour(0), hour(48), "raw_safe") == raw_rows(dense, hour(0), hour(48)) - 3  # the thin hour
    assert raw_rows(dense, hour(48), hour(HOURS), "raw_safe") == 0
    with dg.DagsterInstance.get() as instance:
        assert len(instance.get_runs()) == 1
        assert len(instance.get_materialized_partitions(EVENTS_KEY)) == 48


def test_a_day_partitioned_table_has_its_own_daily_job_and_schedule(
    dense: Path, session_env: Path, tmp_path: Path
) -> None:
    import yaml

    from minimization_pipeline.defs.automation import DAILY_JOB

    policy = yaml.safe_load(POLICY.read_text())
    policy["sources"]["app"]["tables"]["orders"]["partition"] = {
        "column": "ordered_at",
        "grain": "day",
        "start": "2023-11-01",
    }
    path = tmp_path / "minimization.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    defs = build_definitions(make_settings(dense, path))
    daily = defs.resolve_job_def(DAILY_JOB)
    assert isinstance(daily.partitions_def, dg.DailyPartitionsDefinition)
    orders = dg.AssetKey(["raw_safe", "app", "orders"])
    assert orders in daily.asset_layer.executable_asset_keys
    assert orders not in defs.resolve_job_def(HOURLY_JOB).asset_layer.executable_asset_keys
    schedule = defs.resolve_schedule_def("daily_minimization_schedule")
    with dg.DagsterInstance.ephemeral() as instance:
        when = dt.datetime(2026, 10, 2, 0, 5, tzinfo=dt.UTC)
        tick = dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
        requests = schedule.evaluate_tick(tick).run_requests
        assert [r.partition_key for r in requests] == ["2026-10-01"]
        result = daily.execute_in_process(instance=instance, partition_key="2026-10-01")
    assert result.success
    metadata = result.asset_materializations_for_node("raw_safe__app__orders")[0].metadata
    with open_warehouse(dense, "raw", "raw_safe") as connection:
        raw = connection.execute(
            "SELECT count(*) FROM raw.app.orders WHERE ordered_at >= '2026-10-01' AND ordered_at < '2026-10-02'"
        ).fetchone()[0]
        published = connection.execute("SELECT count(*) FROM raw_safe.app.orders").fetchone()[0]
    assert published == metadata["slice_rows"].value == raw - metadata["rows_held_back"].value
    assert raw > 0


def test_the_sensor_leaves_a_partitioned_table_without_a_copy_to_the_schedule(dense: Path, session_env: Path) -> None:
    """No copy yet is not a schema change: rebuilding every hour since the policy's start is not the sensor's
    call (on the demo that is 26,900 partitions); the schedule and backfills fill the table."""
    from minimization_pipeline_tests.integration.test_schema_changes import tick

    settings = make_settings(dense, POLICY)
    result = tick(build_definitions(settings), settings, dg.DagsterInstance.ephemeral(), None)
    requested = {key for request in result.run_requests for key in (request.asset_selection or [])}
    assert EVENTS_KEY not in requested
    assert dg.AssetKey(["raw_safe", "app", "users"]) in requested  # unpartitioned copies are still made
