"""`warehouse_grants`: the article's roles and grants, rendered from the policy and (on Snowflake) applied.

A dry run (the default) only renders: the SQL goes to the run log and to the op's output metadata, for
a reviewer or an administrator to read or paste. Applying runs the statements one by one in a session
of the configured warehouse, and only on Snowflake: the embedded DuckDB has no roles, so the job fails
there with a message rather than pretending.
"""

# No `from __future__ import annotations`: Dagster reads the op's Config annotation at definition time.

import dagster as dg
from pydantic import Field

from minimization_pipeline.defs.resources import MinimizationResource
from minimization_pipeline.grants import GrantsError, apply_grants, render_grants, require_snowflake, to_script
from minimization_pipeline.policy import PolicyError

GRANTS_JOB = "warehouse_grants"


class WarehouseGrantsConfig(dg.Config):
    dry_run: bool = Field(
        default=True, description="only render and show the SQL; false runs it on the warehouse (Snowflake only)"
    )


@dg.op(description="Render the policy's roles as Snowflake grants; apply them unless dry_run.")
def apply_warehouse_grants(
    context: dg.OpExecutionContext, config: WarehouseGrantsConfig, minimization: MinimizationResource
) -> int:
    """Returns how many statements ran (0 on a dry run)."""
    pipeline = minimization.pipeline()
    try:
        policy = pipeline.policy()
        statements = render_grants(policy.roles, list(policy.retained_tables()))
    except (PolicyError, GrantsError) as error:
        raise dg.Failure(description=str(error)) from None
    script = to_script(statements)
    warehouse = None if config.dry_run else pipeline.warehouse()
    if warehouse is not None:
        try:
            require_snowflake(warehouse.dialect)  # refuse before logging "applying"
        except GrantsError as error:
            raise dg.Failure(description=str(error)) from None
    mode = "dry run, nothing applied" if warehouse is None else f"applying on {warehouse.dialect}"
    context.log.info(f"{GRANTS_JOB} ({mode}): {len(statements)} statements\n{script}")
    applied = 0 if warehouse is None else apply_grants(warehouse, statements)
    if warehouse is not None:
        context.log.info(f"{applied} statements applied")
    context.add_output_metadata(
        {
            "sql": dg.MetadataValue.md(f"```sql\n{script}\n```"),
            "statements": len(statements),
            "dry_run": config.dry_run,
            "applied": applied,
        }
    )
    return applied


@dg.job(
    name=GRANTS_JOB,
    description="Create the article's roles, warehouses and databases and grant them (dry run by default).",
)
def warehouse_grants() -> None:
    apply_warehouse_grants()
