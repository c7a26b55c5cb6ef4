"""Resources, decided in one place from the settings: DuckDB files locally, Snowflake in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_snowflake import SnowflakeResource

from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.settings import Settings


class MinimizationResource(dg.ConfigurableResource):
    """Where the policy lives and which warehouse to use; the pipeline is opened per run, never at import.

    ``snowflake`` set: every session runs on Snowflake (``MINIMIZATION_ENV=prod``); unset: the DuckDB files
    under ``data_dir``. ``data_dir`` also holds the catalog snapshots either way.
    """

    data_dir: str
    policy_path: str
    snowflake: SnowflakeResource | None = None

    def pipeline(self) -> Pipeline:
        connect = self.snowflake.get_connection if self.snowflake is not None else None
        return Pipeline(Path(self.data_dir), Path(self.policy_path), snowflake=connect)


def snowflake_resource(settings: Settings) -> SnowflakeResource:
    """Credentials through `dg.EnvVar` (read when a run starts, never stored in the definitions): password
    or key pair, role and warehouse. Server-side binding (`qmark`) keeps the secret out of query text."""

    def optional(name: str) -> dg.EnvVar | None:
        import os

        return dg.EnvVar(name) if os.environ.get(name) else None

    return SnowflakeResource(
        account=dg.EnvVar("SNOWFLAKE_ACCOUNT"),
        user=dg.EnvVar("SNOWFLAKE_USER"),
        password=optional("SNOWFLAKE_PASSWORD"),
        private_key=optional("SNOWFLAKE_PRIVATE_KEY"),
        private_key_path=optional("SNOWFLAKE_PRIVATE_KEY_PATH"),
        private_key_password=optional("SNOWFLAKE_PRIVATE_KEY_PASSWORD"),
        role=optional("SNOWFLAKE_ROLE"),
        warehouse=optional("SNOWFLAKE_WAREHOUSE"),
        database="RAW_SAFE",  # session-scoped mapping tables are created here
        schema_="PUBLIC",
        paramstyle="qmark",
        additional_snowflake_connection_args=settings.snowflake_connection_args or None,
    )


@contextmanager
def load_time_pipeline(settings: Settings) -> Iterator[Pipeline]:
    """The pipeline for building definitions (catalogs), outside any run: Dagster resolves the `EnvVar`s
    of a resource only when it initializes it, which this does."""
    with minimization_resource(settings).process_config_and_initialize_cm() as resource:
        yield resource.pipeline()


def minimization_resource(settings: Settings) -> MinimizationResource:
    return MinimizationResource(
        data_dir=str(settings.data_dir),
        policy_path=str(settings.policy_path),
        snowflake=snowflake_resource(settings) if settings.warehouse == "snowflake" else None,
    )
