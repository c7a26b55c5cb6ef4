"""RAW_SAFE: one asset per RAW table, treated or passed through, verified before it is swapped in.

A table dropped from RAW keeps its asset and its last anonymized copy (anonymize, don't delete): the asset
is tagged ``minimization/raw: dropped``, says so in its description, is left out of the hourly job, and
refuses to run. A table the policy names but RAW does not have yet is tagged ``absent``.
"""

from __future__ import annotations

import warnings

import dagster as dg

from minimization_pipeline.asset_names import key_part
from minimization_pipeline.defs.partitions import PARTITION_TAG, grain_of, partitions_definitions, window_of
from minimization_pipeline.defs.raw import raw_key
from minimization_pipeline.defs.resources import MinimizationResource
from minimization_pipeline.defs.results import check_specs, events
from minimization_pipeline.policy import Policy, Treatment


def raw_safe_key(schema: str, table: str) -> dg.AssetKey:
    """``raw_safe/<schema>/<table>``, each part valid for Dagster whatever RAW calls it (see `asset_names`)."""
    return dg.AssetKey(["raw_safe", key_part(schema), key_part(table)])


RAW_STATUS_TAG = "minimization/raw"
PRESENT, DROPPED, ABSENT = "present", "dropped", "absent"
STATUS_NOTES = {
    PRESENT: "",
    DROPPED: "DROPPED FROM RAW: this is the last anonymized copy, kept on purpose; it is no longer refreshed. ",
    ABSENT: "Not in RAW yet: named by the policy, published once a loader creates it. ",
}


def raw_safe_asset(
    schema: str,
    table: str,
    treatment: Treatment,
    l_diversity: bool = False,
    raw_status: str = PRESENT,
    partitions_def: dg.TimeWindowPartitionsDefinition | None = None,
) -> dg.AssetsDefinition:
    key = raw_safe_key(schema, table)
    partitioned = partitions_def is not None

    @dg.asset(
        key=key,
        deps=[raw_key(schema, table)],
        group_name="raw_safe",
        kinds={"duckdb"},
        check_specs=check_specs(key, l_diversity),
        tags={
            "minimization/treatment": treatment.value,
            RAW_STATUS_TAG: raw_status,
            PARTITION_TAG: grain_of(partitions_def),
        },
        partitions_def=partitions_def,
        metadata={"minimization/table": f"raw_safe.{schema}.{table}"},
        # a backfill is one run over its whole range: one histogram, one CTAS, one swap for all partitions
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
        description=(
            STATUS_NOTES[raw_status]
            + f"raw_safe.{schema}.{table}: schema-preserving copy of raw.{schema}.{table}, "
            + (
                "passed through as a view."
                if treatment is Treatment.PASS_THROUGH
                else "direct identifiers pseudonymized, quasi-identifiers k-anonymized"
                + (" in every time partition on its own." if partitioned else ".")
            )
        ),
    )
    def _raw_safe(context, minimization: MinimizationResource):  # context unannotated: see defs/dbt.py
        if raw_status == DROPPED:
            raise dg.Failure(
                description=f"raw.{schema}.{table} was dropped from RAW; raw_safe.{schema}.{table} keeps its last "
                "anonymized copy and cannot be refreshed. Remove the copy by hand if it is no longer wanted."
            )
        window = window_of(context) if partitioned else None
        pipeline = minimization.pipeline()
        result = pipeline.publish_raw_safe(schema, table, window)
        yield from events(key, result, plots_dir=pipeline.reports_dir() / "plots")

    return _raw_safe


def raw_safe_assets(statuses: dict[tuple[str, str], str], policy: Policy) -> list[dg.AssetsDefinition]:
    """One asset per table, with its RAW status (present, dropped or absent) and its partitions."""
    partitioned = partitions_definitions(policy)
    assets = []
    warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)
    for (schema, table), status in sorted(statuses.items()):
        table_policy = policy.table(schema, table)
        treatment = table_policy.treatment if table_policy else Treatment.TREAT
        l_diversity = bool(table_policy and table_policy.l_diversity)
        partitions_def = partitioned.get((schema, table))
        assets.append(raw_safe_asset(schema, table, treatment, l_diversity, status, partitions_def))
    return assets


def matches_raw_schema_check(schema: str, table: str) -> dg.AssetChecksDefinition:
    """Blocking: the published copy has RAW's columns, order and types right now, so dbt (downstream in the
    same run) never builds on a copy that a RAW schema change has left behind."""

    @dg.asset_check(
        asset=raw_safe_key(schema, table),
        name="matches_raw_schema",
        blocking=True,
        description="The published copy has exactly RAW's columns, order and types (checked against live RAW).",
    )
    def _matches_raw_schema(minimization: MinimizationResource) -> dg.AssetCheckResult:
        drift = minimization.pipeline().raw_safe_drift(schema, table)
        return dg.AssetCheckResult(
            passed=drift.in_parity,
            severity=dg.AssetCheckSeverity.ERROR,
            description=drift.describe(),
            metadata={"added": list(drift.added), "dropped": list(drift.dropped), "retyped": list(drift.retyped)},
        )

    return _matches_raw_schema
