"""`privacy_report`: the run's privacy report, gathered from what the RAW_SAFE and PUBLIC assets recorded.

It depends on every RAW_SAFE and PUBLIC table, so the hourly job builds it last, and reads each table's
latest materialization and check evaluations from the Dagster instance (nothing is recomputed in the
warehouse). The Markdown shows on the asset in the UI; the HTML (plots inlined) is written to
``<data>/reports/privacy_report.html``, with a dated copy beside it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from minimization_pipeline.anonymize.joins import JOIN_LINKAGE
from minimization_pipeline.anonymize.verify import CHECK_NAMES, L_DIVERSITY
from minimization_pipeline.defs.resources import MinimizationResource
from minimization_pipeline.privacy_report import CheckLine, TableEntry, render_html, render_markdown

REPORT_KEY = dg.AssetKey(["privacy_report"])
REPORT_GROUP = "report"
CHECKS = (*CHECK_NAMES, L_DIVERSITY, JOIN_LINKAGE, "matches_raw_schema")


def _plain(value: object) -> object:
    """A metadata value as the plain value it wraps (a number, a dict, a path string)."""
    return getattr(value, "value", value) if isinstance(value, dg.MetadataValue) else value


def table_entry(instance: dg.DagsterInstance, key: dg.AssetKey) -> TableEntry:
    event = instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event else None
    metadata = {name: _plain(value) for name, value in materialization.metadata.items()} if materialization else {}
    schema = metadata.get("dagster/column_schema")
    if isinstance(schema, dg.TableSchema):  # each column's description is its treatment (see results.py)
        metadata["treatments"] = [
            {"column": c.name, "type": c.type, "treatment": c.description or ""} for c in schema.columns
        ]
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(key, name) for name in CHECKS]
    )
    checks = []
    for check_key, record in sorted(records.items(), key=lambda item: CHECKS.index(item[0].name)):
        evaluation = record.event.asset_check_evaluation if record.event else None
        if evaluation is not None:
            checks.append(CheckLine(check_key.name, evaluation.passed, evaluation.description or ""))
    plots = {
        name.removeprefix("plot_"): Path(str(value))
        for name, value in metadata.items()
        if name.startswith("plot_") and isinstance(value, str)
    }
    return TableEntry(
        key=key.to_user_string(),
        layer="PUBLIC" if key.path[0] == "public" else "RAW_SAFE",
        metadata=metadata,
        checks=checks,
        materialized_at=dt.datetime.fromtimestamp(event.timestamp, dt.UTC) if event else None,
        plots=plots,
    )


def privacy_report_asset(tables: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    tables = sorted(tables, key=lambda key: (key.path[0] != "raw_safe", key.to_user_string()))

    @dg.asset(
        key=REPORT_KEY,
        deps=tables,
        group_name=REPORT_GROUP,
        kinds={"html"},
        description="Per table: treatment per column, k required and achieved, risk before and after (prosecutor, "
        "linkage attack), information loss, checks. Markdown here; HTML with plots in the data folder.",
    )
    def _privacy_report(context, minimization: MinimizationResource) -> dg.MaterializeResult:
        entries = [table_entry(context.instance, key) for key in tables]
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        folder = minimization.pipeline().reports_dir()
        folder.mkdir(parents=True, exist_ok=True)
        page = render_html(entries, now)
        latest = folder / "privacy_report.html"
        latest.write_text(page, encoding="utf-8")
        (folder / f"privacy_report_{now:%Y%m%dT%H%M%S}.html").write_text(page, encoding="utf-8")
        failed = [entry.key for entry in entries if entry.failed_checks]
        return dg.MaterializeResult(
            metadata={
                "report": dg.MetadataValue.md(render_markdown(entries, now, latest)),
                "html": dg.MetadataValue.path(str(latest)),
                "tables": len(entries),
                "tables_with_failed_checks": dg.MetadataValue.json(failed),
                "highest_risk_after": max(
                    (float(e.metadata.get("prosecutor_risk_highest_after") or 0.0) for e in entries), default=0.0
                ),
            }
        )

    return _privacy_report
