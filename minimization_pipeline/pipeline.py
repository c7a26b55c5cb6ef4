"""The pipeline's operations, free of Dagster: publish one RAW_SAFE or PUBLIC table.

Each call reads the policy and the live catalog, refuses a policy that does not match the warehouse
before writing anything, plans the table and hands it to the engine. Dagster assets only call these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from minimization_pipeline.anonymize.engine import TableResult, commit_held, discard_held, publish
from minimization_pipeline.anonymize.evidence import RareValues, rare_values
from minimization_pipeline.anonymize.joins import JOIN_LINKAGE, JoinSide, check_join_path
from minimization_pipeline.anonymize.plan import TablePlan, fail_closed, plan_public, plan_table
from minimization_pipeline.anonymize.verify import CheckOutcome
from minimization_pipeline.catalog import Catalog, Table
from minimization_pipeline.policy import (
    JoinPath,
    Policy,
    PolicyError,
    Role,
    Treatment,
    load_policy,
    validate_against_catalog,
)
from minimization_pipeline.retention import RetentionReport, apply_retention
from minimization_pipeline.schema_sync import SchemaSync, TableDrift, TableKey, compare, table_drift
from minimization_pipeline.settings import resolve_secret
from minimization_pipeline.warehouse.base import (
    STAGING_NAME,
    TableRef,
    Warehouse,
    WarehouseLockedError,
    WarehouseSession,
)
from minimization_pipeline.warehouse.duckdb import DuckDBWarehouse
from minimization_pipeline.warehouse.snowflake import SnowflakeWarehouse

if TYPE_CHECKING:  # the classifier's vocabularies load on first use, not when definitions load
    from minimization_pipeline.classify import Classification

RAW = "raw"
RAW_SAFE = "raw_safe"
PUBLIC = "public"
#: where dbt's prod target writes (and reads the history views of retained tables)
ANALYTICS = "analytics"
CATALOG_SNAPSHOT = "catalog/raw.json"
RAW_SAFE_SNAPSHOT = "catalog/raw_safe.json"
#: Seconds a sensor tick or a definitions load waits for a DuckDB lock before giving up (runs wait longer).
QUICK_LOCK_TIMEOUT_S = 2.0
#: Rows sampled to classify columns the policy does not name (a bounded sample, never the table).
SAMPLE_ROWS = 200
#: Confidence a classifier proposal needs to replace the fail-closed hash. A direct-identifier treatment
#: (hash, mask, fake, null) releases no RAW value, so a fair guess is enough; a quasi-identifier releases
#: values shared by k rows; keep and sensitive release RAW values as they are, so they must be near certain.
ACCEPT = {Role.DIRECT: 0.5, Role.QUASI: 0.6, Role.SENSITIVE: 0.8, Role.KEEP: 0.8}
#: Roles that release a column's RAW values unchanged: from a proposal, only with whole-table evidence.
RELEASED_AS_IS = (Role.KEEP, Role.SENSITIVE)


@dataclass(frozen=True)
class TableReview:
    """One RAW table as `plan` shows it: its plan (None if excluded or refused) and the classifier's view."""

    table: Table
    in_policy: bool
    plan: TablePlan | None
    proposals: dict[str, Classification]
    problem: str | None
    #: whole-table evidence for each proposal to release a column as it is (see `anonymize.evidence`)
    evidence: dict[str, RareValues] = field(default_factory=dict)


@dataclass(frozen=True)
class PublicRelease:
    """PUBLIC tables published together: each table's result and the join paths' linkage checks (each
    path's outcome is reported on both of its tables). All are published, or none."""

    results: dict[str, TableResult]
    linkage: dict[str, list[CheckOutcome]]

    @property
    def published(self) -> bool:
        return all(result.published for result in self.results.values())


@dataclass(frozen=True)
class Pipeline:
    """A warehouse, a policy file and a secret: everything one run needs."""

    data_dir: Path
    policy_path: Path
    #: Snowflake connections (``SnowflakeResource.get_connection``); None: the embedded DuckDB files.
    snowflake: Callable[[], AbstractContextManager[Any]] | None = None

    def warehouse(self, lock_timeout_s: float = 120.0) -> Warehouse:
        if self.snowflake is not None:
            return SnowflakeWarehouse(self.snowflake, staging_database=self.policy().roles.databases.staging.lower())
        return DuckDBWarehouse(self.data_dir, lock_timeout_s=lock_timeout_s)

    def policy(self) -> Policy:
        return load_policy(self.policy_path)

    def reports_dir(self) -> Path:
        """Where the privacy report and the distribution plots are written (inside the data folder)."""
        return self.data_dir / "reports"

    def secret(self) -> str:
        return resolve_secret(self.data_dir)

    def raw_catalog(self, lock_timeout_s: float = 120.0) -> Catalog:
        """The live RAW catalog; also saved as the snapshot the asset graph is built from."""
        with self.warehouse(lock_timeout_s).session(read=[RAW], purpose="catalog:raw") as session:
            catalog = session.catalog(RAW)
        catalog.save(self.data_dir / CATALOG_SNAPSHOT)
        return catalog

    def raw_catalog_or_snapshot(self) -> Catalog:
        """For building definitions: the live catalog, else the last snapshot, else an empty one.

        Loading definitions must not fail (or hang) because a loader holds the RAW file or RAW is not
        there yet.
        """
        try:
            return self.raw_catalog(QUICK_LOCK_TIMEOUT_S)
        except (WarehouseLockedError, FileNotFoundError):
            return Catalog.load(self.data_dir / CATALOG_SNAPSHOT) or Catalog(RAW)
        except Exception:
            if self.snowflake is None:
                raise
            # Snowflake unreachable (network, credentials): the code location still loads from the snapshot
            return Catalog.load(self.data_dir / CATALOG_SNAPSHOT) or Catalog(RAW)

    def raw_safe_catalog(self, lock_timeout_s: float = 120.0, raw: Catalog | None = None) -> Catalog:
        """The published RAW_SAFE tables and views; empty before the first run.

        Staging tables are left out, except copies of RAW tables that happen to be called like one (``raw``:
        the RAW catalog; `x__staging` in RAW is an ordinary table, and its copy an ordinary copy).
        """
        if not self.warehouse().exists(RAW_SAFE):
            return Catalog(RAW_SAFE)
        with self.warehouse(lock_timeout_s).session(read=[RAW_SAFE], purpose="catalog:raw_safe") as session:
            catalog = session.catalog(RAW_SAFE)
        in_raw = {(t.schema, t.name) for t in raw.tables} if raw is not None else set()
        published = tuple(
            t for t in catalog.tables if not STAGING_NAME.fullmatch(t.name) or (t.schema, t.name) in in_raw
        )
        catalog = Catalog(RAW_SAFE, published)
        catalog.save(self.data_dir / RAW_SAFE_SNAPSHOT)
        return catalog

    def raw_safe_catalog_or_snapshot(self, raw: Catalog | None = None) -> Catalog:
        """For building definitions: which copies exist (a dropped RAW table keeps its asset)."""
        try:
            return self.raw_safe_catalog(QUICK_LOCK_TIMEOUT_S, raw)
        except WarehouseLockedError:
            return Catalog.load(self.data_dir / RAW_SAFE_SNAPSHOT) or Catalog(RAW_SAFE)
        except Exception:
            if self.snowflake is None:
                raise
            return Catalog.load(self.data_dir / RAW_SAFE_SNAPSHOT) or Catalog(RAW_SAFE)

    def schema_sync(
        self, known_present: Iterable[TableKey], lock_timeout_s: float = QUICK_LOCK_TIMEOUT_S
    ) -> SchemaSync:
        """RAW against RAW_SAFE and the tables the running definitions know (see :mod:`schema_sync`).

        Raises :class:`WarehouseLockedError` when either file is held longer than ``lock_timeout_s``.
        """
        raw = self.raw_catalog(lock_timeout_s)
        raw_safe = self.raw_safe_catalog(lock_timeout_s, raw)
        policy = self.policy()
        excluded = [
            (t.schema, t.name)
            for t in raw.tables
            if (p := policy.table(t.schema, t.name)) is not None and p.treatment is Treatment.EXCLUDE
        ]
        return compare(raw, raw_safe, known_present, excluded)

    def raw_safe_drift(self, schema: str, table: str) -> TableDrift:
        """How the published copy of one table differs from the live RAW table (for the parity check)."""
        with self.warehouse().session(read=[RAW, RAW_SAFE], purpose=f"parity:{schema}.{table}") as session:
            raw_table = session.describe(TableRef(RAW, schema, table))
            copy = session.describe(TableRef(RAW_SAFE, schema, table))
        if raw_table is None:
            raise PolicyError(f"{RAW}.{schema}.{table}: table not found in the warehouse")
        return table_drift(raw_table, copy)

    def plan_raw_safe(self, schema: str, table: str) -> TablePlan:
        """Validate the whole policy against RAW, then plan one table (nothing is written yet)."""
        policy = self.policy()
        catalog = self.raw_catalog()
        validate_against_catalog(policy, catalog, origin=self.policy_path.name)
        raw_table = catalog.get(schema, table)
        if raw_table is None:
            raise PolicyError(f"{RAW}.{schema}.{table}: table not found in the warehouse")
        table_policy = policy.table(schema, table)
        if table_policy and table_policy.treatment is Treatment.EXCLUDE:
            raise PolicyError(f"{schema}.{table} is excluded by the policy and has no RAW_SAFE copy")
        return self._plan(raw_table, policy)[0]

    def _plan(self, raw_table: Table, policy: Policy) -> tuple[TablePlan, dict[str, Classification]]:
        """The plan of one (not excluded) table, and the classifier's view of every column it judged."""
        plan, proposals, _ = self._plan_with_evidence(raw_table, policy)
        return plan, proposals

    def _plan_with_evidence(
        self, raw_table: Table, policy: Policy
    ) -> tuple[TablePlan, dict[str, Classification], dict[str, RareValues]]:
        """The plan, the classifier's view, and the whole-table evidence for every proposal to release a column
        as it is (keep or sensitive): followed only when no value is held by fewer than k rows."""
        table_policy = policy.table(raw_table.schema, raw_table.name)
        k = policy.k_for(table_policy)
        named = set(table_policy.columns) if table_policy else set()
        unnamed = [c.name for c in raw_table.columns if c.name not in named]
        proposals: dict[str, Classification] = {}
        evidence: dict[str, RareValues] = {}
        if unnamed:
            source = TableRef(RAW, raw_table.schema, raw_table.name)
            with self.warehouse().session(read=[RAW], purpose=f"classify:{source}") as session:
                proposals = self.classify_unnamed(raw_table, unnamed, session)
                as_is = [
                    name
                    for name, proposal in proposals.items()
                    if proposal.role in RELEASED_AS_IS and proposal.confidence >= ACCEPT[proposal.role]
                ]
                evidence = rare_values(session, source, as_is, k)
        accepted = {}
        for name, proposal in proposals.items():
            if proposal.confidence < ACCEPT[proposal.role]:
                continue
            why = "; ".join(proposal.evidence[:3])
            found = evidence.get(name)
            if found is not None and not found.harmless:
                data_type = raw_table.column(name).data_type  # type: ignore[union-attr]
                accepted[name] = fail_closed(data_type, f"{found.describe()}, so not kept as the classifier proposed")
            else:
                confirmed = f"; {found.describe()}" if found is not None else ""
                accepted[name] = (proposal.to_policy(), f"classified ({proposal.confidence:.0%}): {why}{confirmed}")
        plan = plan_table(raw_table, table_policy, k, RAW, RAW_SAFE, accepted)
        return plan, proposals, evidence

    def review(self, tables: Iterable[TableKey] | None = None) -> list[TableReview]:
        """What every RAW table (or the given ones) will get and why, for a reviewer: nothing is written.

        Reads the catalog once and a bounded sample per table with unnamed columns; a table whose plan is
        refused (a type the policy's method cannot keep, say) is reported with the reason, not raised.
        """
        policy = self.policy()
        catalog = self.raw_catalog()
        validate_against_catalog(policy, catalog, origin=self.policy_path.name)
        wanted = set(tables) if tables is not None else None
        reviews = []
        for raw_table in catalog.tables:
            key = (raw_table.schema, raw_table.name)
            if wanted is not None and key not in wanted:
                continue
            table_policy = policy.table(*key)
            if table_policy and table_policy.treatment is Treatment.EXCLUDE:
                reviews.append(TableReview(raw_table, table_policy is not None, None, {}, "excluded by the policy"))
                continue
            try:
                plan, proposals, evidence = self._plan_with_evidence(raw_table, policy)
            except PolicyError as error:
                reviews.append(TableReview(raw_table, table_policy is not None, None, {}, str(error)))
                continue
            reviews.append(TableReview(raw_table, table_policy is not None, plan, proposals, None, evidence))
        if wanted:
            missing = wanted - {(t.schema, t.name) for t in catalog.tables}
            if missing:
                raise PolicyError(f"not in RAW: {', '.join(f'{s}.{t}' for s, t in sorted(missing))}")
        return reviews

    def classify_unnamed(
        self, raw_table: Table, columns: list[str], session: WarehouseSession
    ) -> dict[str, Classification]:
        """The classifier's proposal for each column the policy does not name, from a bounded sample
        taken in the warehouse (a seeded 200-row reservoir: the same rows on every run).

        Whether a proposal is accepted is the caller's decision (see ``ACCEPT`` and ``RELEASED_AS_IS``): a
        proposal to keep a column as is needs the highest confidence and whole-table evidence, since it is the
        one that could leak.
        """
        from minimization_pipeline.classify import classify_table

        source = TableRef(RAW, raw_table.schema, raw_table.name)
        rows = session.sample_rows(source, columns, SAMPLE_ROWS, seed=42)  # native values: dates stay dates
        samples = {name: [row[i] for row in rows if row[i] is not None] for i, name in enumerate(columns)}
        types = [(c.name, c.data_type) for c in raw_table.columns if c.name in set(columns)]
        return classify_table(types, samples)

    def publish_raw_safe(
        self, schema: str, table: str, window: tuple[dt.datetime, dt.datetime] | None = None
    ) -> TableResult:
        """Publish one RAW_SAFE table; for a partitioned one, the partitions in ``window`` [start, end)
        (naive UTC), each anonymized on its own, replacing those partitions only."""
        plan = self.plan_raw_safe(schema, table)
        if window is not None:
            plan = plan.sliced(*window)
        elif plan.partition is not None:
            raise PolicyError(
                f"{RAW_SAFE}.{schema}.{table} is partitioned by {plan.partition.column}: publish a window of "
                "partitions (one partition, or a backfill range)"
            )
        return publish(self.warehouse(), plan, self.secret())

    def retained_tables(self) -> dict[tuple[str, str], dt.timedelta]:
        """Partitioned tables whose policy sets ``keep_identifiable``, with the window."""
        return self.policy().retained_tables()

    def apply_retention(
        self, schema: str, table: str, now: dt.datetime, history_database: str = ANALYTICS
    ) -> RetentionReport:
        """Delete RAW rows of ``schema.table`` older than its ``keep_identifiable`` whose anonymized partition
        is verified in RAW_SAFE, and refresh its history view (see :mod:`minimization_pipeline.retention`)."""
        keep = self.retained_tables().get((schema, table))
        if keep is None:
            raise PolicyError(f"{RAW}.{schema}.{table}: no keep_identifiable in the policy; nothing is deleted")
        plan = self.plan_raw_safe(schema, table)
        return apply_retention(self.warehouse(), plan, keep, now, history_database)

    def newest_rows(self) -> dict[tuple[str, str], dt.datetime | None]:
        """Per partitioned table RAW has, the time of its newest row (one MAX each), or None when empty."""
        policy = self.policy()
        newest: dict[tuple[str, str], dt.datetime | None] = {}
        with self.warehouse().session(read=[RAW], purpose="newest-rows") as session:
            for (schema, name), partitioning in sorted(policy.partitioned_tables().items()):
                ref = TableRef(RAW, schema, name)
                if session.describe(ref) is None:
                    continue
                column = exp.column(partitioning.column, quoted=True)
                value = session.fetch_all(exp.select(exp.Max(this=column)).from_(ref.expression()))[0][0]
                if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                    value = dt.datetime.combine(value, dt.time())
                newest[(schema, name)] = value.replace(tzinfo=None) if value is not None else None
        return newest

    def plan_public(self, model: str, models_database: str, models_schema: str = "main") -> TablePlan:
        policy = self.policy()
        table_policy = policy.public.tables.get(model)
        if table_policy is None:
            raise PolicyError(f"public.{model}: not listed under public.tables in {self.policy_path.name}")
        with self.warehouse().session(read=[models_database], purpose=f"catalog:{models_database}") as session:
            catalog = session.catalog(models_database)
        table = catalog.get(models_schema, model)
        if table is None:
            raise PolicyError(f"{models_database}.{models_schema}.{model}: dbt model not built yet")
        return plan_public(table, table_policy, table_policy.k or policy.public.k, models_database, PUBLIC)

    def publish_public(self, model: str, models_database: str, models_schema: str = "main") -> TableResult:
        plan = self.plan_public(model, models_database, models_schema)
        return publish(self.warehouse(), plan, self.secret())

    def publish_public_group(
        self, models: tuple[str, ...], models_database: str, models_schema: str = "main"
    ) -> PublicRelease:
        """Publish PUBLIC tables joined by paths all or none: each is built and verified in staging, then
        every path's k is counted over the staged tables' join, and only when every check of every table
        passes are they swapped in. Anything failing leaves what was published before untouched."""
        paths = self.policy().public.paths_within(models)
        warehouse = self.warehouse()
        results: dict[str, TableResult] = {}
        try:
            for model in models:
                plan = self.plan_public(model, models_database, models_schema)
                results[model] = publish(warehouse, plan, self.secret(), hold=True)
            linkage = check_paths(warehouse, paths, results)
            every_check = [c for r in results.values() for c in r.checks] + [c for o in linkage.values() for c in o]
            if all(check.passed for check in every_check):
                results = {model: commit_held(warehouse, result) for model, result in results.items()}
        finally:
            results = {model: discard_held(warehouse, result) for model, result in results.items()}
        return PublicRelease(results, linkage)


def check_paths(
    warehouse: Warehouse, paths: list[JoinPath], staged: dict[str, TableResult]
) -> dict[str, list[CheckOutcome]]:
    """Each path's `join_linkage` outcome, listed under both of its tables: k over the join of the staged
    tables, at the highest k of the group; not run (failed) when a table of the path was not staged."""
    linkage: dict[str, list[CheckOutcome]] = {name: [] for name in staged}
    held = {name: result.held for name, result in staged.items() if result.held is not None}
    k = max((result.plan.k for result in staged.values()), default=2)
    databases = sorted({ref.database for ref in held.values()})
    with warehouse.session(read=databases, purpose="linkage:public") as session:
        for path in paths:
            if path.left in held and path.right in held:
                sides = [
                    JoinSide(name, held[name], key, tuple(c.name for c in staged[name].plan.quasi))
                    for name, key in zip((path.left, path.right), path.keys, strict=True)
                ]
                outcome = check_join_path(session, path, sides[0], sides[1], k)
            else:
                reason = "not run: a table of the path failed its own checks"
                outcome = CheckOutcome(JOIN_LINKAGE, False, f"{path.describe()}: {reason}", {})
            linkage[path.left].append(outcome)
            linkage[path.right].append(outcome)
    return linkage
