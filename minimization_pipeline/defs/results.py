"""Turn an engine `TableResult` into Dagster events: blocking check results and a materialization."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from minimization_pipeline.anonymize import verify
from minimization_pipeline.anonymize.engine import TableResult
from minimization_pipeline.anonymize.plan import ColumnPlan, TablePlan
from minimization_pipeline.policy import Role


def check_specs(key: dg.AssetKey, l_diversity: bool = False) -> list[dg.AssetCheckSpec]:
    """The checks a RAW_SAFE or PUBLIC table must pass before it replaces anything (l-diversity if asked)."""
    names = [*verify.CHECK_NAMES, *([verify.L_DIVERSITY] if l_diversity else [])]
    return [
        dg.AssetCheckSpec(name, asset=key, blocking=True, description=verify.CHECK_DESCRIPTIONS[name]) for name in names
    ]


def column_schema(plan: TablePlan) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(column.name, column.data_type, description=_treatment(column)) for column in plan.columns
        ]
    )


def _treatment(column: ColumnPlan) -> str:
    """`direct → hash (policy)`, `quasi → k-anonymized (policy)`, `keep (policy)`."""
    if column.method is not None:
        what = f"{column.role.value} → {column.method.value}"
    elif column.role is Role.QUASI:
        what = "quasi → k-anonymized"
    else:
        what = column.role.value
    return f"{what} ({column.reason})"


def treatment_table(plan: TablePlan) -> str:
    """Markdown: what happened to each column, shown on the asset in the UI."""
    lines = ["| column | type | role | method | why |", "|---|---|---|---|---|"]
    for column in plan.columns:
        method = column.method.value if column.method else ""
        lines.append(f"| {column.name} | {column.data_type} | {column.role.value} | {method} | {column.reason} |")
    return "\n".join(lines)


def events(
    key: dg.AssetKey,
    result: TableResult,
    checks: bool = True,
    materialize: bool = True,
    plots_dir: Path | None = None,
) -> Iterator[dg.AssetCheckResult | dg.MaterializeResult]:
    """Check results first; a materialization only when the table was verified and swapped in (else a
    `dg.Failure`). ``checks``/``materialize``: only one part, for tables published together. ``plots_dir``:
    where the before/after plots of the quasi-identifiers are written (and attached)."""
    if checks:
        for check in result.checks:
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=check.name,
                passed=check.passed,
                severity=dg.AssetCheckSeverity.ERROR,
                description=check.summary,
                metadata={name: _metadata_value(value) for name, value in check.metadata.items()},
            )
    if not materialize:
        return
    if not result.published:
        raise not_published(result)
    metadata = materialization_metadata(result)
    if plots_dir is not None:
        metadata |= plot_metadata(result, plots_dir / Path(*key.path))
    yield dg.MaterializeResult(asset_key=key, metadata=metadata)


def plot_metadata(result: TableResult, folder: Path) -> dict[str, object]:
    """One PNG per quasi-identifier (RAW against released), written to ``folder`` and attached: each as a path,
    and all in one Markdown entry that shows them in the UI."""
    from minimization_pipeline.anonymize.kanon import QIKind
    from minimization_pipeline.plots import distribution_png

    if not result.distributions:
        return {"distributions": "not drawn: the histogram was coarsened"} if result.plan.quasi else {}
    folder.mkdir(parents=True, exist_ok=True)
    kinds = {column.name: column.qi_kind for column in result.plan.quasi}
    metadata: dict[str, object] = {}
    images = []
    for name, (before, after) in result.distributions.items():
        png = distribution_png(name, before, after, kinds[name] is QIKind.CATEGORICAL, min_count=result.plan.k)
        path = folder / f"{name}.png"
        path.write_bytes(png)
        metadata[f"plot_{name}"] = dg.MetadataValue.path(str(path))
        images.append(f"![{name}: RAW against released](data:image/png;base64,{base64.b64encode(png).decode()})")
    if result.plan.slice is None:
        metadata["distributions"] = dg.MetadataValue.md("\n\n".join(images))
    # a range of partitions records every materialization once per partition: paths only, not the images
    return metadata


def not_published(result: TableResult, description: str | None = None) -> dg.Failure:
    failed = ", ".join(f"{check.name}: {check.summary}" for check in result.failed_checks)
    return dg.Failure(
        description=description
        or f"{result.plan.target} was not replaced: checks failed on the staging table ({failed}). "
        "The previously published table is unchanged and downstream assets do not run.",
        metadata={"failed_checks": [check.name for check in result.failed_checks]},
    )


def materialization_metadata(result: TableResult) -> dict[str, object]:
    """What the UI shows on a published table: rows, schema with each column's treatment, k, metrics."""
    plan = result.plan
    window = plan.slice
    metadata: dict[str, object] = {
        # a run over partitions reports its slice (every partition of the range gets the same figures)
        "dagster/row_count" if window is None else "slice_rows": result.rows,
        "partitions": None if window is None else f"[{window.start:%Y-%m-%d %H:%M}, {window.end:%Y-%m-%d %H:%M})",
        "dagster/column_schema": column_schema(plan),
        "treatment": plan.treatment.value,
        "source": str(plan.source),
        "k_required": plan.k if plan.quasi else None,
        "k_achieved": result.k_achieved,
        "classes": result.classes,
        "seconds": round(result.seconds, 3),
        "columns": dg.MetadataValue.md(treatment_table(plan)),
        **{name: _metadata_value(value) for name, value in result.metrics.items()},
    }
    return {name: value for name, value in metadata.items() if value is not None}


def _metadata_value(value: object) -> object:
    if isinstance(value, dict | list | tuple):
        return dg.MetadataValue.json(value if not isinstance(value, tuple) else list(value))
    return value
