"""Time partitions of append-only RAW_SAFE tables, from the policy's ``partition`` sections.

Tables of one grain share one partitions definition, starting at the earliest ``start`` among them, so
that the hourly job can hold every hourly table (Dagster runs one partitions definition per job). A
table's partitions before its own start hold no rows: running them publishes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import dagster as dg

from minimization_pipeline.policy import Grain, Partitioning, Policy

PARTITION_TAG = "minimization/partitioned"
UNPARTITIONED = "no"
TableKey = tuple[str, str]


def partitions_definitions(policy: Policy) -> dict[TableKey, dg.TimeWindowPartitionsDefinition]:
    """The partitions definition of every partitioned table the policy declares."""
    declared = policy.partitioned_tables()
    by_grain: dict[Grain, dg.TimeWindowPartitionsDefinition] = {}
    for grain in {p.grain for p in declared.values()}:
        start = min(p.start for p in declared.values() if p.grain is grain)
        by_grain[grain] = _definition(grain, start)
    return {table: by_grain[partitioning.grain] for table, partitioning in declared.items()}


def _definition(grain: Grain, start: dt.datetime) -> dg.TimeWindowPartitionsDefinition:
    if grain is Grain.HOUR:
        return dg.HourlyPartitionsDefinition(start_date=start.strftime("%Y-%m-%d-%H:%M"), timezone="UTC")
    return dg.DailyPartitionsDefinition(start_date=start.strftime("%Y-%m-%d"), timezone="UTC")


def grain_of(partitions_def: dg.PartitionsDefinition | None) -> str:
    """``hour``, ``day`` or ``no``: the value of the asset tag jobs select on."""
    if partitions_def is None:
        return UNPARTITIONED
    return Grain.HOUR.value if isinstance(partitions_def, dg.HourlyPartitionsDefinition) else Grain.DAY.value


def window_of(context: dg.AssetExecutionContext) -> tuple[dt.datetime, dt.datetime]:
    """The run's partitions as naive UTC [start, end): one partition, or a backfill's whole range."""
    window = context.partition_time_window
    return _naive_utc(window.start), _naive_utc(window.end)


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def grains(definitions: Mapping[TableKey, dg.PartitionsDefinition]) -> dict[str, dg.PartitionsDefinition]:
    """One partitions definition per grain in use."""
    return {grain_of(d): d for d in definitions.values()}


__all__ = ["PARTITION_TAG", "Partitioning", "grain_of", "grains", "partitions_definitions", "window_of"]
