"""`replicate_new_raw_tables`: publish RAW tables the loaded definitions do not know yet.

The asset graph is built from the catalog when the code location loads, so a table created in RAW
afterwards has no asset until the location reloads. The article's promise -- a new RAW table is
replicated into RAW_SAFE with the default anonymization -- must not wait for that reload (nor depend
on the sensor reaching the webserver to ask for it). `raw_schema_sensor` therefore launches this job
for new tables on the tick that sees them: the same engine, plan, checks and staging swap as the
assets, reported as materializations of ``raw_safe/<schema>/<table>``. After the reload the table is an
asset of its own, with this run in its history, and the sensor finds it already in parity.
"""

# No `from __future__ import annotations`: Dagster reads the op's Config annotation at definition time.
import dagster as dg

from minimization_pipeline.defs.raw_safe import raw_safe_key
from minimization_pipeline.defs.resources import MinimizationResource
from minimization_pipeline.defs.results import materialization_metadata, not_published

JOB_NAME = "replicate_new_raw_tables"
OP_NAME = "publish_new_raw_tables"


class NewTables(dg.Config):
    tables: list[str]  # "schema.table"


@dg.op(name=OP_NAME, out={}, description="Anonymize new RAW tables into RAW_SAFE (the default plan, checks, swap).")
def publish_new_raw_tables(context: dg.OpExecutionContext, config: NewTables, minimization: MinimizationResource):
    pipeline = minimization.pipeline()
    failures = []
    for name in config.tables:
        schema, _, table = name.partition(".")
        result = pipeline.publish_raw_safe(schema, table)
        if not result.published:
            failures.append(not_published(result).description)
            continue
        context.log.info(f"raw_safe.{name}: published ({result.rows:,} rows, {len(result.checks)} checks passed)")
        yield dg.AssetMaterialization(
            asset_key=raw_safe_key(schema, table),
            description="Replicated by raw_schema_sensor on the tick that found the new RAW table.",
            metadata=materialization_metadata(result),
        )
    if failures:
        raise dg.Failure(description="; ".join(failures))


@dg.job(name=JOB_NAME, executor_def=dg.in_process_executor, description=__doc__.split("\n\n")[0])
def replicate_new_raw_tables() -> None:
    publish_new_raw_tables()


def run_config(tables: list[tuple[str, str]]) -> dict:
    return {"ops": {OP_NAME: {"config": {"tables": [f"{schema}.{table}" for schema, table in tables]}}}}
