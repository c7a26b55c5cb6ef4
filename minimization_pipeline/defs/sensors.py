"""`raw_schema_sensor`: RAW changed, so bring RAW_SAFE back into parity, without anyone touching code.

Each tick reads the RAW and RAW_SAFE catalogs (one ``information_schema`` query each) and asks
:mod:`minimization_pipeline.schema_sync` what differs:

* a RAW table whose copy is missing or whose columns, order or types differ is re-published: one run for
  all of them, its run key derived from both catalogs' fingerprints and the tables, so a failing table is
  not retried every tick and any later change (in RAW or in RAW_SAFE) gets a run of its own;
* the new column schema is recorded as an observation on the RAW asset (``dagster/column_schema``);
* a table the running definitions do not know (new in RAW) is published on the same tick by
  `replicate_new_raw_tables` (same engine, plan and checks, no asset needed), and since new or dropped
  tables change the asset graph -- built from the catalog when the code location loads -- the sensor asks
  the Dagster webserver to reload the code location (the GraphQL mutation behind the UI's *Reload*
  button). Webserver and daemon pick up the new definitions: the table is then an asset of its own, with
  the replication in its history, and a dropped table's copy is marked. Nothing is restarted.

The cursor is the RAW catalog's fingerprint. A tick that meets a DuckDB lock (a loader or a run holds a
file) skips with that reason and tries again on the next tick.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from minimization_pipeline.catalog import Table
from minimization_pipeline.defs.automation import SYNC_JOB
from minimization_pipeline.defs.raw import raw_key
from minimization_pipeline.defs.raw_safe import raw_safe_key
from minimization_pipeline.defs.replicate import JOB_NAME as REPLICATE_JOB
from minimization_pipeline.defs.replicate import replicate_new_raw_tables
from minimization_pipeline.defs.replicate import run_config as replicate_config
from minimization_pipeline.defs.resources import MinimizationResource
from minimization_pipeline.schema_sync import SchemaSync, TableKey
from minimization_pipeline.warehouse.base import WarehouseLockedError

SENSOR_NAME = "raw_schema_sensor"
TRIGGER_TAG = "minimization/trigger"

logger = logging.getLogger(__name__)


def request_code_location_reload(dagster_url: str, location_name: str) -> None:
    """Ask the webserver at ``dagster_url`` to reload ``location_name``, in the background.

    In the background because the code server that evaluates this sensor is the one being reloaded: the
    tick returns first, and the reload replaces this process once the new definitions have loaded.
    """
    from dagster_graphql import DagsterGraphQLClient

    parts = urlsplit(dagster_url)

    def _reload() -> None:
        try:
            client = DagsterGraphQLClient(
                parts.hostname or "127.0.0.1",
                port_number=parts.port,
                use_https=parts.scheme == "https",
                path_prefix=parts.path.rstrip("/"),
                timeout=120,
            )
            info = client.reload_repository_location(location_name)
            logger.info("code location %s reload: %s", location_name, info.status)
        except Exception as error:  # the UI's Reload button still works; the skip reason says so
            logger.warning("could not reload code location %s via %s: %s", location_name, dagster_url, error)

    threading.Thread(target=_reload, name="minimization-code-location-reload", daemon=True).start()


def run_key(sync: SchemaSync, tables: list[TableKey], job: str) -> str:
    """Same RAW, same RAW_SAFE, same tables: same key, so Dagster launches one run per state, not one per
    tick. The tables are part of it: after a reload, a new table must not be deduplicated away by the run
    requested (and maybe still queued) for a changed one before the reload."""
    state = json.dumps([sync.raw_fingerprint, sync.raw_safe.fingerprint(), sorted(tables), job])
    return hashlib.sha256(state.encode()).hexdigest()[:16]


def _column_schema(table: Table) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(column.name, column.data_type) for column in table.columns])


def build_raw_schema_sensor(
    known_present: frozenset[TableKey],
    interval_s: int,
    dagster_url: str,
    jobs: Sequence[dg.UnresolvedAssetJobDefinition] = (),
    partitioned: Mapping[TableKey, tuple[str, dg.TimeWindowPartitionsDefinition]] | None = None,
) -> dg.SensorDefinition:
    """The sensor for definitions built from a catalog in which ``known_present`` were the RAW tables.

    ``jobs``: the sync job and the jobs of partitioned tables; ``partitioned``: per partitioned table, the job
    that runs it and its partitions -- a schema change there is a rebuild over every partition, in one run.
    """
    partitioned = dict(partitioned or {})

    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        jobs=[*jobs, replicate_new_raw_tables],
        description=(
            "Polls the RAW catalog; re-publishes RAW_SAFE tables whose RAW schema changed, and reloads the code "
            "location when RAW gains or loses a table, so new tables become assets and are anonymized."
        ),
    )
    def raw_schema_sensor(context: dg.SensorEvaluationContext, minimization: MinimizationResource):
        pipeline = minimization.pipeline()
        try:
            sync = pipeline.schema_sync(known_present)
        except WarehouseLockedError as error:
            return dg.SensorResult(
                skip_reason=f"skipped: a DuckDB file is locked by another process, trying next tick ({error})"
            )
        except FileNotFoundError:
            return dg.SensorResult(skip_reason="RAW does not exist yet: nothing to replicate")
        notes = []
        run_requests = []
        if new := list(sync.new_to_replicate):
            # published now, by the job that needs no asset; the reload below makes them assets of their own
            run_requests.append(
                dg.RunRequest(
                    run_key=run_key(sync, new, "replicate"),
                    job_name=REPLICATE_JOB,
                    run_config=replicate_config(new),
                    tags={TRIGGER_TAG: SENSOR_NAME},
                )
            )
            context.log.info("replicating new RAW tables: " + ", ".join(f"{s}.{t}" for s, t in new))
        if sync.needs_reload:
            changed = ", ".join(f"{s}.{t}" for s, t in (*sync.new_tables, *sync.dropped_tables))
            origin = context.code_location_origin
            if context.cursor != sync.raw_fingerprint and origin is not None:
                request_code_location_reload(dagster_url, origin.location_name)
                notes.append(
                    f"RAW tables added or dropped ({changed}): reload of code location {origin.location_name!r} "
                    f"requested from {dagster_url} so that they show as assets of their own"
                )
            else:
                notes.append(
                    f"RAW tables added or dropped ({changed}) show as assets after a code location reload "
                    "(Deployment → Reload in the UI)"
                )
        publishable = [drift for drift in sync.drifted if drift.key in known_present]
        observations = []
        for drift in publishable:
            table = sync.raw.get(*drift.key)
            if table is not None:
                observations.append(
                    dg.AssetObservation(
                        asset_key=raw_key(*drift.key),
                        metadata={
                            "dagster/column_schema": _column_schema(table),
                            "schema_change": drift.describe(),
                            "catalog_fingerprint": sync.raw_fingerprint,
                        },
                    )
                )
        whole = [drift for drift in publishable if drift.key not in partitioned]
        if whole:
            run_requests.append(
                dg.RunRequest(
                    run_key=run_key(sync, [drift.key for drift in whole], SYNC_JOB),
                    job_name=SYNC_JOB,
                    asset_selection=[raw_safe_key(*drift.key) for drift in whole],
                    tags={TRIGGER_TAG: SENSOR_NAME},
                )
            )
        for drift in publishable:
            if drift.key in partitioned and drift.missing_copy:
                # no copy yet: the hourly schedule and backfills fill it, hour by hour; a rebuild of every
                # partition since the policy's start is not the sensor's to launch
                notes.append(f"{drift.describe()}: partitioned, filled by the schedule and backfills")
            elif drift.key in partitioned:  # a new schema: every partition, in one run over the whole range
                job_name, partitions_def = partitioned[drift.key]
                keys = partitions_def.get_partition_keys(current_time=None)
                if not keys:
                    continue
                run_requests.append(
                    dg.RunRequest(
                        run_key=run_key(sync, [drift.key], job_name),
                        job_name=job_name,
                        asset_selection=[raw_safe_key(*drift.key)],
                        tags={
                            TRIGGER_TAG: SENSOR_NAME,
                            ASSET_PARTITION_RANGE_START_TAG: keys[0],
                            ASSET_PARTITION_RANGE_END_TAG: keys[-1],
                        },
                    )
                )
        republished = [d for d in publishable if not (d.key in partitioned and d.missing_copy)]
        if republished:
            context.log.info("re-publishing: " + "; ".join(drift.describe() for drift in republished))
        if not run_requests:
            reason = "; ".join(notes) or f"RAW_SAFE is in parity with RAW (catalog {sync.raw_fingerprint})"
            return dg.SensorResult(skip_reason=reason, cursor=sync.raw_fingerprint, asset_events=observations)
        for note in notes:
            context.log.info(note)
        return dg.SensorResult(run_requests=run_requests, cursor=sync.raw_fingerprint, asset_events=observations)

    return raw_schema_sensor
