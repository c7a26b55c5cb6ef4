"""The command line: `python -m minimization_pipeline run | backfill | plan | grants`.

`run` generates the demo RAW data when there is none, runs `hourly_minimization_job` in Dagster (with a
persistent instance, so the run shows up in `make ui` afterwards) and prints what each table became. The
partitioned tables get the last `--days` of partitions that hold data, in the same single run.
`backfill START END` runs the partitioned tables (and the dbt models partitioned with them) over a range of
partitions in one run, as the UI's backfill does.
`plan` prints, for the live RAW catalog, what every table and column will get and why; `--write` adds the
plan of the columns the policy does not name to the policy file, for a human to edit.
`grants --dry-run` prints the Snowflake roles and grants the policy's `roles:` section asks for; without
`--dry-run` it applies them, which only a Snowflake warehouse can take.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minimization_pipeline.pipeline import Pipeline

DEFAULT_DEMO_USERS = 20_000


def _ensure_dagster_home(data_dir: Path) -> None:
    """Keep run history beside the data, without telemetry or the first-visit modal."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(data_dir / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(
            "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"
            "run_queue:\n  max_concurrent_runs: 1  # DuckDB: one writer per file\n"
        )


def recent_partitions(partitions_def: object, pipeline: Pipeline, days: int) -> tuple[dict[str, str], str]:
    """Run tags for the last ``days`` of partitions that hold data (one run over the range), and a note.

    The demo's data ends on a fixed day, so "the newest hour" may hold nothing: the range ends at the newest
    complete partition with a row in any partitioned table."""
    import dagster as dg
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return {}, ""
    newest = [moment for moment in pipeline.newest_rows().values() if moment is not None]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    hourly = isinstance(partitions_def, dg.HourlyPartitionsDefinition)
    after_newest = max(newest) + (dt.timedelta(hours=1) if hourly else dt.timedelta(days=1)) if newest else now
    end = min(after_newest, now)
    keys = partitions_def.get_partition_keys(current_time=end.replace(tzinfo=dt.UTC))
    if not keys:
        return {}, ""
    first = max(0, len(keys) - days * (24 if hourly else 1))
    tags = {ASSET_PARTITION_RANGE_START_TAG: keys[first], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}
    return tags, f" over partitions {keys[first]} .. {keys[-1]} ({len(keys) - first}, one run)"


def run(users: int, days: int = 7) -> int:
    from minimization_pipeline.settings import load_settings

    settings = load_settings()
    os.environ["MINIMIZATION_DATA_DIR"] = str(settings.data_dir)
    if not (settings.data_dir / "raw.duckdb").exists():
        from minimization_pipeline.demo.generate import generate_demo

        started = time.perf_counter()
        counts = generate_demo(settings.data_dir, users=users)
        print(f"demo RAW data generated: {sum(counts.values()):,} rows in {time.perf_counter() - started:.1f} s")
    _ensure_dagster_home(settings.data_dir)

    import dagster as dg

    from minimization_pipeline.definitions import build_definitions
    from minimization_pipeline.defs.automation import HOURLY_JOB
    from minimization_pipeline.summary import format_summary, summarize

    defs = build_definitions(settings)
    job = defs.resolve_job_def(HOURLY_JOB)
    from minimization_pipeline.pipeline import Pipeline

    tags, window = recent_partitions(job.partitions_def, Pipeline(settings.data_dir, settings.policy_path), days)
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags)
        if not result.success:
            # a blocking check stops the job before its report: build it anyway, it shows what failed
            from minimization_pipeline.defs.report import REPORT_KEY

            defs.resolve_implicit_global_asset_job_def().execute_in_process(
                instance=instance, asset_selection=[REPORT_KEY], raise_on_error=False
            )
    seconds = time.perf_counter() - started
    print(format_summary(summarize(result, settings)))
    status = "succeeded" if result.success else "FAILED"
    print(f"\n{HOURLY_JOB} {status} in {seconds:.1f} s{window} (run {result.run_id}; see it with `make ui`)")
    report = settings.data_dir / "reports" / "privacy_report.html"
    if report.is_file():
        print(f"privacy report (risk before/after, checks, plots): {report}")
    return 0 if result.success else 1


def backfill(start: str, end: str, tables: list[str], job_name: str = "") -> int:
    """One run of the hourly (or daily) job over the partitions in [start, end) of the partitioned RAW_SAFE
    tables (all, or ``tables``) and the dbt models partitioned with them: what the UI's backfill launches."""
    import datetime as dt

    import dagster as dg
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    from minimization_pipeline.definitions import build_definitions
    from minimization_pipeline.defs.automation import DAILY_JOB, HOURLY_JOB
    from minimization_pipeline.defs.raw_safe import raw_safe_key
    from minimization_pipeline.settings import load_settings

    settings = load_settings()
    os.environ["MINIMIZATION_DATA_DIR"] = str(settings.data_dir)
    _ensure_dagster_home(settings.data_dir)
    defs = build_definitions(settings)
    job = defs.resolve_job_def(job_name or HOURLY_JOB)
    partitions_def = job.partitions_def
    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        print(f"{job.name} has no time partitions: the policy declares no such partitioned table", file=sys.stderr)
        return 2
    first, last = dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(end)
    step = dt.timedelta(hours=1) if job.name != DAILY_JOB else dt.timedelta(days=1)
    keys = partitions_def.get_partition_keys_in_range(
        dg.PartitionKeyRange(first.strftime(partitions_def.fmt), (last - step).strftime(partitions_def.fmt))
    )
    wanted = {raw_safe_key(*name.removeprefix("raw.").split(".", 1)) for name in tables}
    selection = [
        key
        for key in job.asset_layer.executable_asset_keys
        if job.asset_layer.get(key).partitions_def is not None
        and (not wanted or key.path[0] != "raw_safe" or key in wanted)
    ]
    # the partitioned dbt models' own unpartitioned dbt parents (staging views) come along, cheap to rebuild
    graph = defs.resolve_asset_graph()
    parents = {
        parent
        for key in selection
        if key.path[0] != "raw_safe"
        for parent in graph.get(key).parent_keys
        if parent.path[0] not in ("raw", "raw_safe") and parent in job.asset_layer.executable_asset_keys
    }
    selection = sorted({*selection, *parents}, key=lambda key: key.to_user_string())
    tags = {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags, asset_selection=selection)
    status = "succeeded" if result.success else "FAILED"
    names = ", ".join(sorted(key.to_user_string() for key in selection))
    print(
        f"backfill of {len(keys)} partitions ({keys[0]} .. {keys[-1]}) of {names}: one run, {status} in "
        f"{time.perf_counter() - started:.1f} s (run {result.run_id})"
    )
    return 0 if result.success else 1


def plan(tables: list[str], write: bool) -> int:
    from minimization_pipeline.pipeline import Pipeline
    from minimization_pipeline.plan_review import format_review, write_suggestions
    from minimization_pipeline.policy import PolicyError
    from minimization_pipeline.settings import load_settings

    settings = load_settings()
    started = time.perf_counter()
    wanted = None
    try:
        if tables:
            wanted = []
            for name in tables:
                schema, _, table = name.removeprefix("raw.").partition(".")
                if not table:
                    raise PolicyError(f"{name!r}: expected schema.table, e.g. app.users")
                wanted.append((schema, table))
        pipeline = Pipeline(settings.data_dir, settings.policy_path)
        reviews = pipeline.review(wanted)
    except (PolicyError, FileNotFoundError) as error:
        print(f"plan: {error}", file=sys.stderr)
        return 1
    print(format_review(reviews))
    print(f"\n{len(reviews)} tables planned in {time.perf_counter() - started:.2f} s (nothing written)")
    if write:
        added = write_suggestions(settings.policy_path, reviews)
        print(f"{settings.policy_path}: {len(added)} columns added" + (": " + ", ".join(added) if added else ""))
    return 0


def grants(dry_run: bool) -> int:
    from minimization_pipeline.grants import GrantsError, apply_grants, render_grants, to_script
    from minimization_pipeline.pipeline import Pipeline
    from minimization_pipeline.policy import PolicyError
    from minimization_pipeline.settings import load_settings

    settings = load_settings()
    pipeline = Pipeline(settings.data_dir, settings.policy_path)
    try:
        policy = pipeline.policy()
        statements = render_grants(policy.roles, list(policy.retained_tables()))
        if dry_run:
            print(to_script(statements))
            return 0
        applied = apply_grants(pipeline.warehouse(), statements)
    except (PolicyError, GrantsError) as error:
        print(f"grants: {error}", file=sys.stderr)
        return 1
    print(f"{applied} statements applied")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minimization_pipeline")
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run the hourly job once on the embedded warehouse")
    run_parser.add_argument("--users", type=int, default=DEFAULT_DEMO_USERS, help="demo size if RAW is absent")
    run_parser.add_argument(
        "--days", type=int, default=7, help="days of partitions of partitioned tables to run (newest with data)"
    )
    backfill_parser = commands.add_parser(
        "backfill", help="one run over a range of partitions of the partitioned tables (UTC, end exclusive)"
    )
    backfill_parser.add_argument("start", help="first partition's start, e.g. 2026-10-01 or 2026-10-01T05:00")
    backfill_parser.add_argument("end", help="end of the range (exclusive), e.g. 2026-10-08")
    backfill_parser.add_argument("--tables", nargs="*", default=[], help="schema.table (default: every one)")
    backfill_parser.add_argument("--job", default="", help="daily_minimization_job for day-partitioned tables")
    plan_parser = commands.add_parser("plan", help="show what every RAW table and column will get, and why")
    plan_parser.add_argument("tables", nargs="*", help="schema.table to show (default: every RAW table)")
    plan_parser.add_argument(
        "--write", action="store_true", help="add the plan of columns the policy does not name to the policy file"
    )
    grants_parser = commands.add_parser("grants", help="the Snowflake roles and grants of the policy's roles section")
    grants_parser.add_argument("--dry-run", action="store_true", help="print the SQL, one statement per line")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.users, args.days)
    if args.command == "backfill":
        return backfill(args.start, args.end, args.tables, args.job)
    if args.command == "plan":
        return plan(args.tables, args.write)
    if args.command == "grants":
        return grants(args.dry_run)
    return 2


if __name__ == "__main__":
    sys.exit(main())
