"""Benchmark 3: hourly partitions of ``app.events`` at 10M rows -- a 30-day backfill, one hourly run, and a
full rebuild of the table, measured in the same process.

* Data: the demo at 1M users (about 10M events over three years), generated once by the project's own
  generator and reused from the scale benchmark's scratch folder (see :mod:`.scale`).
* **Backfill**: Dagster's hourly job over the newest 30 × 24 hourly partitions that hold events, asset
  ``raw_safe/app/events`` only, as one run (``BackfillPolicy.single_run``) -- what the UI's backfill
  launches. Figures: rows published, partitions, seconds (Dagster's run, and the engine alone).
* **Hourly run**: the same job for the newest hour alone (what the schedule's tick launches), and the
  engine alone for that hour.
* **Full rebuild**: the whole table published unpartitioned (the policy without ``partition``), which is
  what every hourly run would cost without partitions. The ratio is full rebuild over hourly run.

Progress: a line per step, and a "still running" line every 10 s during the long ones from a watcher thread
that sleeps in between (its cost to the timed steps is a wake-up every 10 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from minimization_pipeline.progress import elapsed_log, heartbeat
from minimization_pipeline_tests.benchmarks import scale
from minimization_pipeline_tests.policies import whole_tables_policy

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY = REPO_ROOT / "minimization.yaml"
DEFAULT_USERS = 1_000_000
BACKFILL_DAYS = 30


@dataclass
class PartitionFigures:
    users: int
    events: int = 0
    backfill_partitions: int = 0
    backfill_rows: int = 0
    backfill_held_back: int = 0
    backfill_run_s: float = 0.0
    backfill_engine_s: float = 0.0
    hourly_rows: int = 0
    hourly_run_s: float = 0.0
    hourly_engine_s: float = 0.0
    full_rows: int = 0
    full_engine_s: float = 0.0
    status: str = "ok"


def measure(users: int = DEFAULT_USERS, log: Callable[[str], None] = print) -> PartitionFigures:
    import dagster as dg
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from minimization_pipeline.definitions import build_definitions
    from minimization_pipeline.defs.automation import HOURLY_JOB
    from minimization_pipeline.pipeline import Pipeline
    from minimization_pipeline.settings import Settings

    figures = PartitionFigures(users)
    source = scale.scratch_root() / f"users_{users}"
    scale.generate(users, source, log)
    work = Path(tempfile.mkdtemp(prefix="partitions_", dir=scale.scratch_root()))
    try:
        shutil.copy(source / "raw.duckdb", work / "raw.duckdb")
        os.environ["MINIMIZATION_SECRET"] = scale.BENCH_SECRET
        os.environ["MINIMIZATION_DATA_DIR"] = str(work)
        pipeline = Pipeline(work, POLICY)
        newest = pipeline.newest_rows()[("app", "events")]
        assert newest is not None
        end = newest.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        start = end - dt.timedelta(days=BACKFILL_DAYS)
        import duckdb

        with duckdb.connect(str(work / "raw.duckdb"), read_only=True) as connection:
            figures.events = connection.execute("SELECT count(*) FROM app.events").fetchone()[0]

        job = build_definitions(Settings("local", work, POLICY, "dev")).resolve_job_def(HOURLY_JOB)
        key = dg.AssetKey(["raw_safe", "app", "events"])
        fmt = "%Y-%m-%d-%H:%M"
        tags = {
            ASSET_PARTITION_RANGE_START_TAG: start.strftime(fmt),
            ASSET_PARTITION_RANGE_END_TAG: (end - dt.timedelta(hours=1)).strftime(fmt),
        }
        log(f"partitions: backfill of {BACKFILL_DAYS} days of hourly partitions ({figures.events:,} events) ...")
        with dg.DagsterInstance.ephemeral() as instance:
            with heartbeat("partitions: backfill run", write=log):
                started = time.perf_counter()
                result = job.execute_in_process(instance=instance, asset_selection=[key], tags=tags)
                figures.backfill_run_s = time.perf_counter() - started
            if not result.success:
                figures.status = "backfill run failed"
                return figures
            metadata = result.asset_materializations_for_node("raw_safe__app__events")[0].metadata
            figures.backfill_rows = int(metadata["slice_rows"].value)
            figures.backfill_partitions = len(result.asset_materializations_for_node("raw_safe__app__events"))
            figures.backfill_held_back = int(metadata["rows_held_back"].value)

            log("partitions: one hourly run ...")
            started = time.perf_counter()
            hourly = job.execute_in_process(
                instance=instance, asset_selection=[key], partition_key=(end - dt.timedelta(hours=1)).strftime(fmt)
            )
            figures.hourly_run_s = time.perf_counter() - started
            if not hourly.success:
                figures.status = "hourly run failed"
                return figures

        log("partitions: the same backfill and hourly slice, engine alone ...")
        with heartbeat("partitions: engine backfill", write=log):
            started = time.perf_counter()
            pipeline.publish_raw_safe("app", "events", (start, end))
            figures.backfill_engine_s = time.perf_counter() - started
        started = time.perf_counter()
        figures.hourly_rows = pipeline.publish_raw_safe("app", "events", (end - dt.timedelta(hours=1), end)).rows
        figures.hourly_engine_s = time.perf_counter() - started

        log(f"partitions: full rebuild of app.events ({figures.events:,} rows) ...")
        whole = Pipeline(work, whole_tables_policy(work / "whole.yaml"))
        whole_dir_safe = work / "raw_safe.duckdb"
        whole_dir_safe.unlink(missing_ok=True)
        with heartbeat("partitions: full rebuild", write=log):
            started = time.perf_counter()
            full = whole.publish_raw_safe("app", "events")
            figures.full_engine_s = time.perf_counter() - started
        figures.full_rows = full.rows
        if not full.published:
            figures.status = "full rebuild not published"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures


def render_markdown(f: PartitionFigures) -> str:
    ratio_engine = f.full_engine_s / f.hourly_engine_s if f.hourly_engine_s else float("nan")
    ratio_run = f.full_engine_s / f.hourly_run_s if f.hourly_run_s else float("nan")
    return "\n".join(
        [
            f"## Partitions: app.events at {f.events:,} rows ({f.users:,} demo users), hourly, k=5",
            "",
            "| what | rows | partitions | seconds (Dagster run) | seconds (engine alone) |",
            "|---|---:|---:|---:|---:|",
            f"| backfill, newest {BACKFILL_DAYS} days, one run | {f.backfill_rows:,} "
            f"(+{f.backfill_held_back:,} held back) | {f.backfill_partitions:,} | {f.backfill_run_s:.1f} | "
            f"{f.backfill_engine_s:.2f} |",
            f"| hourly run, newest hour | {f.hourly_rows:,} | 1 | {f.hourly_run_s:.2f} | {f.hourly_engine_s:.2f} |",
            f"| full rebuild, whole table unpartitioned | {f.full_rows:,} | - | - | {f.full_engine_s:.2f} |",
            "",
            f"Full rebuild over one hourly run: **{ratio_engine:.0f}×** (engine alone), **{ratio_run:.0f}×** "
            f"(against the hourly Dagster run). Status: {f.status}.",
            "",
            "Dagster run seconds include Dagster's own bookkeeping (a materialization and check results per "
            "partition in its event log); engine seconds are histogram + search + CTAS + checks + swap.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=DEFAULT_USERS)
    options = parser.parse_args(argv)
    figures = measure(options.users, log=elapsed_log())
    markdown = render_markdown(figures)
    out = REPO_ROOT / "bench_results" / "partitions.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(markdown + "\n")
    print(markdown)


if __name__ == "__main__":
    main()
