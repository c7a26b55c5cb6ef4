"""One real run of the hourly job on Snowflake (a fakesnow server), shared by the test session.

The production environment (`MINIMIZATION_ENV=prod`, credentials, dbt's connection) is set only while
the definitions load and the job runs, so no other test sees it; the server stays up for the session
and the tests query it afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from snowflake import connector as snowflake_connector

from minimization_pipeline_tests import fakesnow_server as fake
from minimization_pipeline_tests.snowflake_loader import load_raw

DATABASES = ("RAW_SAFE", "DEV", "ANALYTICS", "PUBLIC", "MINIMIZATION_STAGING")


@dataclass
class SnowflakeRun:
    connect: Callable[[], AbstractContextManager[Any]]
    kwargs: dict[str, Any]
    state: Path  # catalog snapshots; no warehouse files
    env: dict[str, str]  # the production environment the run had
    result: dg.ExecuteInProcessResult
    received: list[tuple[str, bool]]  # every SQL text the server received during the run, and if it had binds

    def rows(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        with self.connect() as connection:
            return connection.cursor().execute(sql, params).fetchall()


def production_env(kwargs: dict[str, Any], state: Path, secret: str) -> dict[str, str]:
    connect_args = {key: kwargs[key] for key in ("host", "port", "protocol", "session_parameters", "network_timeout")}
    return {
        "MINIMIZATION_ENV": "prod",
        "SNOWFLAKE_ACCOUNT": kwargs["account"],
        "SNOWFLAKE_USER": kwargs["user"],
        "SNOWFLAKE_PASSWORD": kwargs["password"],
        "SNOWFLAKE_CONNECTION_ARGS": json.dumps(connect_args),
        "MINIMIZATION_SECRET": secret,
        "MINIMIZATION_DATA_DIR": str(state),
        "MINIMIZATION_DBT_TARGET": "dev",
        # dbt-snowflake reads its connection from profiles.yml's env_var()s; fakesnow has no query tags
        "SNOWFLAKE_HOST": kwargs["host"],
        "SNOWFLAKE_PORT": str(kwargs["port"]),
        "SNOWFLAKE_PROTOCOL": kwargs["protocol"],
        "DBT_QUERY_TAG": "",
        "DBT_PROD_USER": kwargs["user"],
    }


@contextmanager
def snowflake_run(raw_duckdb: Path, state: Path, secret: str) -> Iterator[SnowflakeRun]:
    """Start the server, load the demo RAW as a loader would, run the hourly job with `MINIMIZATION_ENV=prod`."""
    from minimization_pipeline.definitions import build_definitions
    from minimization_pipeline.defs.automation import HOURLY_JOB
    from minimization_pipeline.settings import load_settings

    with fake.fakesnow_server() as kwargs:

        @contextmanager
        def connect() -> Iterator[Any]:
            connection = snowflake_connector.connect(**kwargs, paramstyle="qmark")
            try:
                yield connection
            finally:
                connection.close()

        load_raw(raw_duckdb, connect)
        with connect() as connection:  # what the warehouse_grants job creates in production
            for database in DATABASES:
                connection.cursor().execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        env = production_env(kwargs, state, secret)
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            fake.RECEIVED.clear()
            defs = build_definitions(load_settings())
            result = defs.resolve_job_def(HOURLY_JOB).execute_in_process(
                instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
            )
            received = list(fake.RECEIVED)
        yield SnowflakeRun(connect, kwargs, state, env, result, received)
