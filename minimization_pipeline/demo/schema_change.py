"""A loader changes RAW while the pipeline runs: watch RAW_SAFE follow by itself, with nothing leaked.

``python -m minimization_pipeline.demo.schema_change`` (with ``make ui`` running) does what a new source
and a schema migration do in real life:

1. creates ``raw.crm.contacts`` (name, email, phone, dob, postal code, notes with emails and phones inside)
   -- a table no policy names;
2. adds a column ``personal_email`` to ``raw.app.users`` and fills it;
3. waits until RAW_SAFE has both, treated (``raw_schema_sensor`` re-publishes the changed table and has
   the code location reloaded for the new one), then proves that no RAW value of those PII columns is in
   any RAW_SAFE column and, when the webserver is given, that the UI lists the new assets.

The integration tests run the same steps (through Dagster's APIs, and against a real ``dagster dev``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
from faker import Faker

CONTACTS = ("crm", "contacts")
NEW_COLUMN = ("app", "users", "personal_email")
#: The RAW columns whose values must never reach RAW_SAFE.
PII_COLUMNS = {
    CONTACTS: ("full_name", "email", "phone", "notes"),
    ("app", "users"): ("personal_email",),
}


def _connect(data_dir: Path, timeout_s: float = 120.0) -> duckdb.DuckDBPyConnection:
    """Open RAW for writing like a loader does: wait while the pipeline holds the file."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return duckdb.connect(str(data_dir / "raw.duckdb"))
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def contacts_frame(rows: int = 400, seed: int = 11) -> pd.DataFrame:
    """Fake CRM contacts; the notes carry an email or a phone number inside free text."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    records = []
    for i in range(rows):
        email = fake.unique.email()
        phone = fake.numerify("(###) ###-####").replace("(0", "(2").replace("(1", "(3")
        notes = [
            f"Called back, prefers {email} over the phone.",
            f"Reach on mobile {phone} after 5pm.",
            "Asked for the annual plan brochure.",
        ][i % 3]
        records.append(
            {
                "id": i + 1,
                "full_name": fake.name(),
                "email": email,
                "phone": phone,
                "dob": fake.date_of_birth(minimum_age=18, maximum_age=85),
                "postal_code": fake.zipcode(),
                "notes": notes,
                "created_at": dt.datetime(2026, 10, 1) + dt.timedelta(minutes=37 * i),
            }
        )
    return pd.DataFrame.from_records(records)


def apply_schema_change(data_dir: Path) -> dict[str, int]:
    """Create raw.crm.contacts and add raw.app.users.personal_email; returns rows written per change."""
    contacts = contacts_frame()
    con = _connect(data_dir)
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS crm")
        con.register("contacts_frame", contacts)
        con.execute("CREATE OR REPLACE TABLE crm.contacts AS SELECT * FROM contacts_frame")
        con.unregister("contacts_frame")
        con.execute("ALTER TABLE app.users ADD COLUMN IF NOT EXISTS personal_email VARCHAR")
        con.execute(
            "UPDATE app.users SET personal_email = lower(first_name) || '_' || id || '@personal.example.org' "
            "WHERE first_name IS NOT NULL"
        )
        filled = con.execute("SELECT count(personal_email) FROM app.users").fetchone()[0]
    finally:
        con.close()
    return {"crm.contacts": len(contacts), "app.users.personal_email": int(filled)}


@dataclass(frozen=True)
class Outcome:
    ready: bool
    leaks: dict[str, int]  # "schema.table.column" -> RAW values of it found in RAW_SAFE
    detail: str


def check_raw_safe(data_dir: Path) -> Outcome:
    """Is the change in RAW_SAFE yet, and is any RAW value of the PII columns there? (read-only, quick)"""
    try:
        con = duckdb.connect(":memory:")
        con.execute(f"ATTACH '{data_dir / 'raw.duckdb'}' AS raw (READ_ONLY)")
        con.execute(f"ATTACH '{data_dir / 'raw_safe.duckdb'}' AS raw_safe (READ_ONLY)")
    except duckdb.Error as error:  # a run holds the file: not ready yet
        return Outcome(False, {}, f"warehouse busy: {error}")
    try:
        columns = {
            (schema, table): [
                name
                for (name,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'raw_safe' "
                    "AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                    [schema, table],
                ).fetchall()
            ]
            for schema, table in PII_COLUMNS
        }
        missing = [
            f"{schema}.{table}.{column}"
            for (schema, table), pii in PII_COLUMNS.items()
            for column in pii
            if column not in columns[(schema, table)]
        ]
        if missing:
            return Outcome(False, {}, "not in RAW_SAFE yet: " + ", ".join(missing))
        leaks = {}
        for (schema, table), pii in PII_COLUMNS.items():
            for column in pii:
                # any RAW_SAFE column of the table holding any RAW value of this PII column is a leak
                probes = " UNION ALL ".join(
                    f'SELECT CAST("{safe}" AS VARCHAR) AS v FROM raw_safe."{schema}"."{table}"'
                    for safe in columns[(schema, table)]
                )
                found = con.execute(
                    f'SELECT count(*) FROM (SELECT DISTINCT CAST("{column}" AS VARCHAR) AS v '
                    f'FROM raw."{schema}"."{table}" WHERE "{column}" IS NOT NULL) r '
                    f"WHERE r.v IN (SELECT v FROM ({probes}) WHERE v IS NOT NULL)"
                ).fetchone()[0]
                leaks[f"{schema}.{table}.{column}"] = int(found)
        return Outcome(True, leaks, "RAW_SAFE has the new table and column")
    finally:
        con.close()


def ui_asset_keys(dagster_url: str) -> set[str]:
    """Asset keys the webserver lists (what the UI shows), as "a/b/c" strings."""
    query = json.dumps({"query": "{ assetNodes { assetKey { path } } }"}).encode()
    request = urllib.request.Request(
        dagster_url.rstrip("/") + "/graphql", data=query, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        nodes = json.load(response)["data"]["assetNodes"]
    return {"/".join(node["assetKey"]["path"]) for node in nodes}


def wait_for_raw_safe(data_dir: Path, timeout_s: float, poll_s: float = 2.0) -> tuple[Outcome, float]:
    started = time.monotonic()
    while True:
        outcome = check_raw_safe(data_dir)
        if outcome.ready or time.monotonic() - started > timeout_s:
            return outcome, time.monotonic() - started
        time.sleep(poll_s)


def main(argv: list[str] | None = None) -> int:
    from minimization_pipeline.settings import load_settings

    settings = load_settings()
    parser = argparse.ArgumentParser(prog="python -m minimization_pipeline.demo.schema_change")
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    parser.add_argument("--dagster-url", default=settings.dagster_url, help="webserver to ask for the asset list")
    parser.add_argument(
        "--timeout", type=float, default=2 * settings.sensor_interval_s + 60, help="seconds to wait for RAW_SAFE"
    )
    args = parser.parse_args(argv)
    written = apply_schema_change(args.data_dir)
    print(f"RAW changed: {written}")
    outcome, seconds = wait_for_raw_safe(args.data_dir, args.timeout)
    print(f"after {seconds:.0f} s: {outcome.detail}")
    ok = outcome.ready and not any(outcome.leaks.values())
    for column, found in outcome.leaks.items():
        print(f"  RAW values of {column} found in RAW_SAFE: {found}")
    try:
        keys = ui_asset_keys(args.dagster_url)
        wanted = {"raw/crm/contacts", "raw_safe/crm/contacts"}
        print(f"UI lists {sorted(wanted & keys)} (of {len(keys)} assets)")
        ok = ok and wanted <= keys
    except OSError as error:
        print(f"webserver at {args.dagster_url} not reachable ({error}); UI not checked")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
