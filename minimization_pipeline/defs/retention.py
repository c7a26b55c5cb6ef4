"""`retention`: RAW rows older than a table's ``keep_identifiable`` are deleted once verified in RAW_SAFE.

Only defined when the policy asks for retention on some table. It runs in the hourly job after the RAW_SAFE
tables it depends on, so the hour just published is verified before anything older goes (see
:mod:`minimization_pipeline.retention` for what "verified" means and for the history view).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import dagster as dg

from minimization_pipeline.defs.raw_safe import raw_safe_key
from minimization_pipeline.defs.resources import MinimizationResource

RETENTION_KEY = dg.AssetKey(["retention"])


def retention_asset(tables: Iterable[tuple[str, str]]) -> dg.AssetsDefinition:
    tables = sorted(tables)

    @dg.asset(
        key=RETENTION_KEY,
        deps=[raw_safe_key(*table) for table in tables],
        group_name="raw_safe",
        kinds={"duckdb"},
        tags={"minimization/retention": "yes"},
        description="Deletes RAW rows older than keep_identifiable where their RAW_SAFE partition is verified "
        "(same row count, every class >= k), and refreshes analytics.retained.<schema>__<table>, the view "
        "production models read for the full history. Tables: " + ", ".join(f"{s}.{t}" for s, t in tables),
    )
    def _retention(minimization: MinimizationResource) -> dg.MaterializeResult:
        pipeline = minimization.pipeline()
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        reports = {f"{s}.{t}": pipeline.apply_retention(s, t, now) for s, t in tables}
        return dg.MaterializeResult(
            metadata={
                "rows_deleted": sum(r.rows_deleted for r in reports.values()),
                "partitions_deleted": sum(r.partitions_deleted for r in reports.values()),
                "partitions_kept": sum(len(r.blocked) for r in reports.values()),
                "tables": dg.MetadataValue.json({name: r.as_metadata() for name, r in reports.items()}),
            }
        )

    return _retention
