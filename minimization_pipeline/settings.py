"""The one place that decides the environment: where the data lives, which policy, which dbt target.

Everything else asks this module, so a laptop, the tests and (later) production differ only in
environment variables, never in code paths.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

#: Warehouse databases of the embedded default, one DuckDB file each, attached under this name.
DATABASES = ("raw", "raw_safe", "dev", "analytics", "public")

#: The dbt target decides which database dbt reads (sources) and writes (models).
DBT_TARGET_DATABASES = {"dev": ("raw_safe", "dev"), "prod": ("raw", "analytics")}

#: MINIMIZATION_ENV -> the warehouse behind it.
ENVIRONMENTS = {"local": "duckdb", "prod": "snowflake"}
SNOWFLAKE_REQUIRED = ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER")
SNOWFLAKE_AUTH = ("SNOWFLAKE_PASSWORD", "SNOWFLAKE_PRIVATE_KEY_PATH", "SNOWFLAKE_PRIVATE_KEY")
SNOWFLAKE_DBT_SCHEMA = "models"

SECRET_ENV = "MINIMIZATION_SECRET"
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"  # where `dagster dev` listens unless told otherwise
SECRET_FILE_NAME = ".minimization_secret"


class SettingsError(RuntimeError):
    """A setting is missing or contradictory; the message says which variable to fix."""


@dataclass(frozen=True)
class Settings:
    environment: str
    data_dir: Path
    policy_path: Path
    dbt_target: str
    #: How often `raw_schema_sensor` polls the RAW catalog (one information_schema query).
    sensor_interval_s: int = 60
    #: The Dagster webserver the sensor asks to reload the code location when RAW gains or loses a table.
    dagster_url: str = DEFAULT_DAGSTER_URL
    #: Extra `snowflake.connector.connect` arguments (prod), e.g. a host and port for a proxy.
    snowflake_connection_args: dict = field(default_factory=dict)

    @property
    def warehouse(self) -> str:
        return ENVIRONMENTS[self.environment]

    @property
    def dbt_profile(self) -> str:
        """The profile in dbt_project/profiles.yml: DuckDB files locally, Snowflake in production."""
        return "minimization" if self.environment == "local" else "minimization_snowflake"

    @property
    def dbt_schema(self) -> str:
        """The schema dbt writes models to (PUBLIC reads them from there)."""
        return "main" if self.environment == "local" else SNOWFLAKE_DBT_SCHEMA

    @property
    def dbt_models_database(self) -> str:
        """The database the configured dbt target writes its models to (PUBLIC reads from it)."""
        return DBT_TARGET_DATABASES[self.dbt_target][1]


def load_settings() -> Settings:
    """Read the environment once; every default suits a laptop checkout."""
    environment = os.environ.get("MINIMIZATION_ENV", "local")
    if environment not in ENVIRONMENTS:
        raise SettingsError(
            f"MINIMIZATION_ENV={environment!r}: expected 'local' (embedded DuckDB files) or 'prod' (Snowflake)"
        )
    connection_args: dict = {}
    if environment == "prod":
        missing = [name for name in SNOWFLAKE_REQUIRED if not os.environ.get(name)]
        if not any(os.environ.get(name) for name in SNOWFLAKE_AUTH):
            missing.append(" or ".join(SNOWFLAKE_AUTH))
        if not os.environ.get(SECRET_ENV):
            missing.append(f"{SECRET_ENV} (production never generates its own: every pseudonym depends on it)")
        if missing:
            raise SettingsError("MINIMIZATION_ENV=prod needs " + ", ".join(missing))
        extra = os.environ.get("SNOWFLAKE_CONNECTION_ARGS", "")
        try:
            connection_args = json.loads(extra) if extra else {}
        except json.JSONDecodeError as error:
            raise SettingsError(f"SNOWFLAKE_CONNECTION_ARGS is not valid JSON: {error}") from error
        if not isinstance(connection_args, dict):
            raise SettingsError("SNOWFLAKE_CONNECTION_ARGS must be a JSON object of connect() arguments")
    data_dir = Path(os.environ.get("MINIMIZATION_DATA_DIR", PROJECT_ROOT / "data")).resolve()
    policy_path = Path(os.environ.get("MINIMIZATION_POLICY", PROJECT_ROOT / "minimization.yaml")).resolve()
    # Locally dbt builds DEV from RAW_SAFE; in production the hourly job builds ANALYTICS from RAW.
    dbt_target = os.environ.get("MINIMIZATION_DBT_TARGET", "dev" if environment == "local" else "prod")
    if dbt_target not in DBT_TARGET_DATABASES:
        raise SettingsError(f"MINIMIZATION_DBT_TARGET={dbt_target!r}: expected one of {sorted(DBT_TARGET_DATABASES)}")
    interval = os.environ.get("MINIMIZATION_SENSOR_INTERVAL", "60")
    if not interval.isdigit() or int(interval) < 1:
        raise SettingsError(f"MINIMIZATION_SENSOR_INTERVAL={interval!r}: expected a whole number of seconds >= 1")
    dagster_url = os.environ.get("MINIMIZATION_DAGSTER_URL", DEFAULT_DAGSTER_URL).rstrip("/")
    return Settings(environment, data_dir, policy_path, dbt_target, int(interval), dagster_url, connection_args)


def datasets_dir() -> Path:
    """Benchmark data (UCI Adult and ARX's hierarchies): `$MINIMIZATION_DATASETS`, else `../shared/datasets`.

    Read from there, never copied into the repository.
    """
    return Path(os.environ.get("MINIMIZATION_DATASETS") or PROJECT_ROOT.parent / "shared" / "datasets").resolve()


def resolve_secret(data_dir: Path) -> str:
    """The key of the keyed hash: from MINIMIZATION_SECRET, or generated once per laptop data folder.

    A generated secret lives beside the data it protects (never in the repository) with owner-only
    permissions; losing it changes every pseudonym, which is why it is created once and reused.
    """
    from_env = os.environ.get(SECRET_ENV)
    if from_env:
        if len(from_env) < 16:
            raise SettingsError(f"{SECRET_ENV} must be at least 16 characters long")
        return from_env
    path = data_dir / SECRET_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret
