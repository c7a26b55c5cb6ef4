"""The summary `make run` prints: each table, rows, treatment, k required and achieved, seconds."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
from sqlglot import exp

from minimization_pipeline.settings import DBT_TARGET_DATABASES, Settings
from minimization_pipeline.warehouse.base import TableRef


@dataclass(frozen=True)
class SummaryRow:
    table: str
    rows: int | None
    treatment: str
    k_required: int | None
    k_achieved: int | None
    seconds: float | None
    status: str
    gcp: float | None = None  # information loss of the quasi-identifiers, 0 = unchanged
    risk_before: float | None = None  # highest prosecutor risk on RAW (1 / smallest class)
    risk_after: float | None = None  # the same on the published table


def _value(metadata: dict, name: str) -> object:
    entry = metadata.get(name)
    return getattr(entry, "value", entry)


def summarize(result: dg.ExecuteInProcessResult, settings: Settings) -> list[SummaryRow]:
    """Rows from the run's own events: materializations, their metadata, and failed steps."""
    rows: list[SummaryRow] = []
    seen: set[str] = set()
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        key = materialization.asset_key.to_user_string()
        metadata = dict(materialization.metadata)
        if key in seen:  # a run over a range of partitions materializes each one with the same figures
            continue
        seen.add(key)
        if key.startswith(("raw_safe/", "public/")):
            rows.append(
                SummaryRow(
                    table=key + (f" ({_value(metadata, 'partitions')})" if _value(metadata, "partitions") else ""),
                    rows=_value(metadata, "dagster/row_count") or _value(metadata, "slice_rows"),
                    treatment=str(_value(metadata, "treatment")),
                    k_required=_value(metadata, "k_required"),
                    k_achieved=_value(metadata, "k_achieved"),
                    seconds=_value(metadata, "seconds"),
                    status="ok",
                    gcp=_value(metadata, "gcp_gcp"),
                    risk_before=_value(metadata, "prosecutor_risk_highest_before"),
                    risk_after=_value(metadata, "prosecutor_risk_highest_after"),
                )
            )
        elif key == "privacy_report":
            rows.append(SummaryRow(key, None, "report", None, None, None, "ok"))
        else:
            rows.append(
                SummaryRow(
                    key, None, f"dbt ({settings.dbt_target})", None, None, _value(metadata, "Execution Duration"), "ok"
                )
            )
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            rows.append(SummaryRow(event.step_key or "?", None, "", None, None, None, "FAILED"))
    rows = _with_model_row_counts(rows, settings)
    order = {"raw_safe": 0, "public": 2, "privacy_report": 3}
    return sorted(rows, key=lambda row: (order.get(row.table.split("/")[0], 1), row.table))


def _with_model_row_counts(rows: list[SummaryRow], settings: Settings) -> list[SummaryRow]:
    """dbt reports no row counts: count the built models (one small query each, read-only)."""
    from dataclasses import replace

    from minimization_pipeline.warehouse.duckdb import DuckDBWarehouse

    source, models = DBT_TARGET_DATABASES[settings.dbt_target]
    warehouse = DuckDBWarehouse(settings.data_dir, lock_timeout_s=5)
    counted = []
    try:
        with warehouse.session(read=[models, source, "raw"]) as session:
            for row in rows:
                if row.rows is None and row.status == "ok" and row.treatment.startswith("dbt"):
                    table = TableRef(models, "main", row.table)
                    row = replace(
                        row, rows=int(session.fetch_all(exp.select("COUNT(*)").from_(table.expression()))[0][0])
                    )
                counted.append(row)
    except Exception:  # the summary must never hide the run's own result
        return rows
    return counted


def format_summary(rows: list[SummaryRow]) -> str:
    header = ("table", "rows", "treatment", "k req", "k got", "GCP", "risk before→after", "seconds", "status")
    cells = [
        (
            row.table,
            f"{row.rows:,}" if isinstance(row.rows, int) else "",
            row.treatment,
            str(row.k_required or ""),
            str(row.k_achieved or ""),
            f"{row.gcp:.2%}" if isinstance(row.gcp, int | float) else "",
            f"{row.risk_before:.3g} → {row.risk_after:.3g}"
            if isinstance(row.risk_before, int | float) and isinstance(row.risk_after, int | float)
            else "",
            f"{row.seconds:.2f}" if isinstance(row.seconds, int | float) else "",
            row.status,
        )
        for row in rows
    ]
    widths = [
        max(len(header[i]), *(len(cell[i]) for cell in cells)) if cells else len(header[i]) for i in range(len(header))
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for cell in cells:
        out.append(
            "  ".join(
                c.rjust(w) if i in (1, 3, 4, 5, 6, 7) else c.ljust(w)
                for i, (c, w) in enumerate(zip(cell, widths, strict=True))
            )
        )
    return "\n".join(out)
