"""The minimization policy (`minimization.yaml`): what each RAW table and column becomes in RAW_SAFE.

Validated by pydantic so that a broken policy fails before anything is written, with a message that
names the file, the table and the column. Checks that need the warehouse (does the column exist?)
live in `validate_against_catalog`, run before every write.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from minimization_pipeline.catalog import Catalog


class PolicyError(ValueError):
    """The policy is invalid; the message names the file, table and column at fault."""


class Role(StrEnum):
    DIRECT = "direct"  # identifies a person on its own: pseudonymized
    QUASI = "quasi"  # identifies in combination: k-anonymized
    SENSITIVE = "sensitive"  # the attribute analyses are about: kept
    KEEP = "keep"  # keys and timestamps analyses need: copied as is


class Method(StrEnum):
    HASH = "hash"
    MASK = "mask"
    FAKE = "fake"
    NULL = "null"


class Treatment(StrEnum):
    TREAT = "treat"
    PASS_THROUGH = "pass_through"
    EXCLUDE = "exclude"


class FakeKind(StrEnum):
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    NAME = "name"
    EMAIL = "email"
    PHONE = "phone"
    STREET_ADDRESS = "street_address"
    CITY = "city"
    COMPANY = "company"


class MaskStyle(StrEnum):
    EMAIL_DOMAIN = "email_domain"  # ***@example.com
    LAST2 = "last2"  # ********42
    LAST4 = "last4"  # ************4242


class Pattern(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    IPV4 = "ipv4"
    IPV6 = "ipv6"


#: Fake kinds that produce values of a pattern the scan looks for; choosing them allows that pattern.
FAKE_PATTERNS = {FakeKind.EMAIL: Pattern.EMAIL, FakeKind.PHONE: Pattern.PHONE}

_SHORTHANDS: dict[str, dict[str, Any]] = {
    **{role.value: {"role": role.value} for role in (Role.QUASI, Role.SENSITIVE, Role.KEEP)},
    **{method.value: {"role": Role.DIRECT.value, "method": method.value} for method in Method},
}


class ColumnPolicy(BaseModel):
    """How one column is treated. A bare string is a shorthand: `keep`, `quasi`, `hash`, `fake:name`..."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    method: Method | None = None
    fake: FakeKind | None = None
    mask: MaskStyle = MaskStyle.LAST2
    allow_patterns: tuple[Pattern, ...] = ()
    hierarchy: Path | None = None  # ARX-format CSV for a quasi-identifier, relative to the policy file

    @model_validator(mode="before")
    @classmethod
    def _expand_shorthand(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        name, _, argument = value.partition(":")
        if name not in _SHORTHANDS:
            raise ValueError(
                f"unknown column treatment {value!r}; expected one of {sorted(_SHORTHANDS)} "
                "(fake takes a kind, e.g. 'fake:first_name')"
            )
        expanded = dict(_SHORTHANDS[name])
        if argument:
            if name != Method.FAKE:
                raise ValueError(f"{value!r}: only 'fake' takes an argument (e.g. 'fake:first_name')")
            expanded["fake"] = argument
        return expanded

    @field_validator("hierarchy")
    @classmethod
    def _hierarchy_exists(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """Resolve against the policy file's folder, and fail now if the file is not there."""
        if value is None:
            return None
        base = (info.context or {}).get("base_dir")
        path = value if value.is_absolute() or base is None else Path(base) / value
        if not path.is_file():
            raise ValueError(f"hierarchy file not found: {path}")
        return path.resolve()

    @model_validator(mode="after")
    def _method_matches_role(self) -> ColumnPolicy:
        if self.role is Role.DIRECT:
            if self.method is None:
                object.__setattr__(self, "method", Method.HASH)
            if self.method is Method.FAKE and self.fake is None:
                raise ValueError("method 'fake' needs a kind, e.g. fake: first_name")
        elif self.method is not None:
            raise ValueError(f"role {self.role.value!r} takes no method (only 'direct' identifiers do)")
        if self.hierarchy is not None and self.role is not Role.QUASI:
            raise ValueError("only a quasi-identifier takes a hierarchy")
        return self

    @property
    def allowed_patterns(self) -> frozenset[Pattern]:
        """Patterns this column may show: declared ones plus those its own fake kind produces."""
        implied = {FAKE_PATTERNS[self.fake]} if self.method is Method.FAKE and self.fake in FAKE_PATTERNS else set()
        return frozenset(self.allow_patterns) | implied


class Mode(StrEnum):
    MICROAGGREGATE = "microaggregate"  # type-preserving local recoding: each class → one central value
    GENERALIZE = "generalize"  # ARX-compatible full-domain generalization: hierarchy labels (text)


class LDiversity(BaseModel):
    """Classes with fewer than `l` distinct values of the sensitive `column` are merged or suppressed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    l: int = Field(ge=2)  # noqa: E741 - the letter of the definition


class Anonymization(BaseModel):
    """Settings of the quasi-identifier treatment shared by RAW_SAFE and PUBLIC tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int | None = Field(default=None, ge=2)
    mode: Mode = Mode.MICROAGGREGATE
    max_suppression: float = Field(default=0.01, ge=0.0, le=1.0, description="share of rows that may be suppressed")
    l_diversity: LDiversity | None = None
    max_risk: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="highest re-identification risk allowed after treatment (prosecutor and linkage); default 1/k",
    )

    def _check_anonymization(self, columns: dict[str, ColumnPolicy]) -> None:
        if self.l_diversity is not None:
            target = columns.get(self.l_diversity.column)
            if target is None or target.role is not Role.SENSITIVE:
                raise ValueError(
                    f"l_diversity.column {self.l_diversity.column!r} must be a column of this table with role sensitive"
                )
        if self.mode is Mode.GENERALIZE:
            missing = sorted(n for n, c in columns.items() if c.role is Role.QUASI and c.hierarchy is None)
            if missing:
                raise ValueError(f"mode generalize needs a hierarchy for every quasi-identifier; missing: {missing}")


class PassThroughAs(StrEnum):
    VIEW = "view"  # always current, no storage; the reader needs usage on RAW to resolve it
    CLONE = "clone"  # a snapshot per run: zero-copy on Snowflake, a copy on DuckDB; needs no RAW access


class Grain(StrEnum):
    HOUR = "hour"
    DAY = "day"

    @property
    def delta(self) -> dt.timedelta:
        return dt.timedelta(hours=1) if self is Grain.HOUR else dt.timedelta(days=1)

    def floor(self, moment: dt.datetime) -> dt.datetime:
        """The start of the partition holding ``moment``."""
        moment = moment.replace(minute=0, second=0, microsecond=0)
        return moment if self is Grain.HOUR else moment.replace(hour=0)


_DURATION = re.compile(r"\s*(\d+)\s*([hdw])\s*")
_DURATION_UNITS = {"h": dt.timedelta(hours=1), "d": dt.timedelta(days=1), "w": dt.timedelta(weeks=1)}


def parse_duration(value: Any) -> dt.timedelta:
    """`90d`, `36h`, `2w` (or a timedelta) -> timedelta; anything else is refused with the accepted forms."""
    if isinstance(value, dt.timedelta):
        return value
    match = _DURATION.fullmatch(str(value)) if isinstance(value, str | int) else None
    if match is None:
        raise ValueError(f"{value!r} is not a duration: write a whole number of hours, days or weeks (36h, 90d, 2w)")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


class Partitioning(BaseModel):
    """An append-only table split by time: each partition's rows are anonymized (and replaced) on their own.

    ``column``: the event time (a TIMESTAMP or DATE column the table lists as ``keep``: partitions are
    found, and replaced, by its value in RAW_SAFE too). ``grain``: hour or day. ``start``: the first
    partition (naive UTC, like the column); rows before it, or with no time, are in no partition.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    grain: Grain = Grain.HOUR
    start: dt.datetime

    @field_validator("start", mode="before")
    @classmethod
    def _date_is_midnight(cls, value: Any) -> Any:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return dt.datetime.combine(value, dt.time())
        return value

    @field_validator("start")
    @classmethod
    def _naive_utc(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    @model_validator(mode="after")
    def _start_on_the_grain(self) -> Partitioning:
        if self.grain.floor(self.start) != self.start:
            unit = "an hour" if self.grain is Grain.HOUR else "a day"
            raise ValueError(f"start {self.start.isoformat()} is not the start of {unit}")
        return self


class TablePolicy(Anonymization):
    treatment: Treatment = Treatment.TREAT
    columns: dict[str, ColumnPolicy] = Field(default_factory=dict)
    #: how a pass_through table is published (a clone copies every column: all must be listed keep)
    pass_through_as: PassThroughAs = PassThroughAs.VIEW
    #: append-only tables: anonymize and replace one time slice at a time (see `Partitioning`)
    partition: Partitioning | None = None
    #: retention: RAW rows older than this are deleted once their anonymized partition is verified
    keep_identifiable: Annotated[dt.timedelta, BeforeValidator(parse_duration)] | None = None

    @model_validator(mode="after")
    def _pass_through_keeps_everything_it_names(self) -> TablePolicy:
        self._check_anonymization(self.columns)
        self._check_partitioning()
        if self.treatment is Treatment.PASS_THROUGH:
            if not self.columns:
                raise ValueError(
                    "a pass_through table must list the columns it passes (role keep); "
                    "unlisted columns are published as NULL so that a new RAW column never leaks"
                )
            treated = sorted(name for name, column in self.columns.items() if column.role is not Role.KEEP)
            if treated:
                raise ValueError(f"pass_through copies columns as is, but {treated} are not 'keep'")
        elif self.pass_through_as is not PassThroughAs.VIEW:
            raise ValueError("pass_through_as applies to treatment pass_through only")
        return self

    def _check_partitioning(self) -> None:
        if self.keep_identifiable is not None:
            if self.partition is None:
                raise ValueError("keep_identifiable needs a partition: RAW rows are deleted partition by partition")
            if self.keep_identifiable < self.partition.grain.delta:
                raise ValueError(f"keep_identifiable must be at least one {self.partition.grain.value}")
        if self.partition is None:
            return
        if self.treatment is not Treatment.TREAT:
            raise ValueError(f"partition applies to treated tables only (this one is {self.treatment.value})")
        if self.mode is not Mode.MICROAGGREGATE or self.l_diversity is not None:
            raise ValueError("a partitioned table is anonymized with mode microaggregate and no l_diversity (for now)")
        column = self.columns.get(self.partition.column)
        if column is None or column.role is not Role.KEEP:
            raise ValueError(
                f"partition.column {self.partition.column!r} must be listed with role keep: partitions are "
                "replaced by its value in RAW_SAFE, so it must be copied as is"
            )


class SourcePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tables: dict[str, TablePolicy] = Field(default_factory=dict)


class PublicTablePolicy(Anonymization):
    """A dbt model published to PUBLIC: only the listed columns leave, anonymized again."""

    columns: dict[str, ColumnPolicy] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> PublicTablePolicy:
        self._check_anonymization(self.columns)
        return self


class JoinPath(BaseModel):
    """Two PUBLIC tables a reader can join (``customers ⋈ orders on user_id``): k must hold over both sides'
    quasi-identifiers together, on the joined rows, or neither table is published."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    left: str
    right: str
    on: str | None = Field(default=None, description="the key column, when both tables name it the same")
    left_on: str | None = None
    right_on: str | None = None

    @model_validator(mode="after")
    def _one_key(self) -> JoinPath:
        if self.left == self.right:
            raise ValueError(f"a join path joins two tables, not {self.left} with itself")
        if (self.on is None) == (self.left_on is None and self.right_on is None):
            raise ValueError("give the key as `on` (same name on both sides) or as `left_on` and `right_on`")
        if self.on is None and (self.left_on is None or self.right_on is None):
            raise ValueError("`left_on` and `right_on` go together")
        return self

    @property
    def keys(self) -> tuple[str, str]:
        if self.on is not None:
            return self.on, self.on
        assert self.left_on is not None and self.right_on is not None
        return self.left_on, self.right_on

    def describe(self) -> str:
        left_key, right_key = self.keys
        on = left_key if left_key == right_key else f"{self.left}.{left_key} = {self.right}.{right_key}"
        return f"{self.left} ⋈ {self.right} on {on}"


class PublicPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(default=20, ge=2)
    tables: dict[str, PublicTablePolicy] = Field(default_factory=dict)
    join_paths: tuple[JoinPath, ...] = ()

    @model_validator(mode="after")
    def _paths_join_listed_keys(self) -> PublicPolicy:
        """A path names two PUBLIC tables and a key each lists as `keep` or `hash` (a keyed hash is the same
        in both tables, so the join works; any other treatment would break it or release it)."""
        for index, path in enumerate(self.join_paths):
            for table, key in zip((path.left, path.right), path.keys, strict=True):
                where = f"join_paths[{index}] ({path.describe()})"
                if table not in self.tables:
                    raise ValueError(f"{where}: {table} is not listed under public.tables")
                column = self.tables[table].columns.get(key)
                if column is None:
                    raise ValueError(f"{where}: {table} does not list the key column {key!r}")
                if not (column.role is Role.KEEP or column.method is Method.HASH):
                    raise ValueError(
                        f"{where}: {table}.{key} must be `keep` or `hash` to join, not "
                        f"{column.method.value if column.method else column.role.value}"
                    )
        return self

    def linked_groups(self) -> list[tuple[str, ...]]:
        """The PUBLIC tables in groups that must be published together: tables joined by a path, directly
        or through others, are one group; every other table is a group of its own."""
        group_of = {name: {name} for name in self.tables}
        for path in self.join_paths:
            merged = group_of[path.left] | group_of[path.right]
            for name in merged:
                group_of[name] = merged
        return sorted({tuple(sorted(group)) for group in group_of.values()})

    def paths_within(self, group: tuple[str, ...]) -> list[JoinPath]:
        return [path for path in self.join_paths if path.left in group and path.right in group]


# ------------------------------------------------------------------------------------------- roles
# The warehouse roles of the article (LOADER, DEVELOPER, TRANSFORMER), a reader of PUBLIC, and the role the
# pipeline itself runs as (ANONYMIZER). `grants.py` turns this section into Snowflake SQL; the defaults are
# the article's setup, so a policy without a `roles:` section gets exactly that.

#: A Snowflake unquoted identifier: letter or underscore, then letters, digits, `_` or `$` (255 at most).
#: Anything else (quotes, spaces, semicolons) is refused rather than escaped, so no name can carry SQL.
SNOWFLAKE_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}")

#: Snowflake's own roles: never created or re-granted by the policy. PUBLIC is every user of the account.
SYSTEM_ROLES = frozenset({"ACCOUNTADMIN", "ORGADMIN", "SECURITYADMIN", "SYSADMIN", "USERADMIN", "PUBLIC"})


def snowflake_name(value: str) -> str:
    """Validate a role, warehouse, database or user name and return it upper-cased.

    Snowflake folds unquoted names to upper case, so `loader` and `LOADER` are the same role; storing the
    folded form lets the SQL quote every name without changing which object it means.
    """
    if not isinstance(value, str) or not SNOWFLAKE_IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a plain Snowflake name: use letters, digits, '_' or '$', starting with a "
            "letter or '_' (at most 255 characters)"
        )
    return value.upper()


SnowflakeName = Annotated[str, AfterValidator(snowflake_name)]


class WarehouseSize(StrEnum):
    XSMALL = "XSMALL"
    SMALL = "SMALL"
    MEDIUM = "MEDIUM"
    LARGE = "LARGE"
    XLARGE = "XLARGE"


class RoleSpec(BaseModel):
    """One warehouse role: its name, the warehouse it computes on, and who is given the role."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: SnowflakeName
    warehouse: SnowflakeName
    #: Users given the role (`GRANT ROLE ... TO USER`), e.g. the article's `DBT_PROD` for TRANSFORMER.
    grant_to_users: tuple[SnowflakeName, ...] = ()
    #: Roles given the role (`GRANT ROLE ... TO ROLE`), e.g. SYSADMIN so administrators keep access.
    grant_to_roles: tuple[SnowflakeName, ...] = ()

    @field_validator("name")
    @classmethod
    def _not_a_system_role(cls, value: str) -> str:
        if value in SYSTEM_ROLES:
            raise ValueError(f"{value} is a Snowflake system role; name a role of your own")
        return value

    @field_validator("grant_to_roles")
    @classmethod
    def _not_to_everyone(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "PUBLIC" in value:
            raise ValueError("granting a role to PUBLIC gives it to every user of the account")
        return value


class LoaderRole(RoleSpec):
    """Loads sources into RAW (the article's `loader`)."""

    name: SnowflakeName = "LOADER"
    warehouse: SnowflakeName = "LOADING"


class DeveloperRole(RoleSpec):
    """Builds dbt's dev target: reads RAW_SAFE, writes DEV, never selects from RAW."""

    name: SnowflakeName = "DEVELOPER"
    warehouse: SnowflakeName = "DEVELOPING"


class TransformerRole(RoleSpec):
    """Builds dbt's prod target: reads RAW, owns ANALYTICS, has nothing on RAW_SAFE."""

    name: SnowflakeName = "TRANSFORMER"
    warehouse: SnowflakeName = "TRANSFORMING"


class ReaderRole(RoleSpec):
    """Reads PUBLIC, the anonymized-again marts, and nothing else."""

    name: SnowflakeName = "REPORTER"
    warehouse: SnowflakeName = "REPORTING"


class AnonymizerRole(RoleSpec):
    """The pipeline's own service role: reads RAW, DEV and ANALYTICS; owns RAW_SAFE and PUBLIC."""

    name: SnowflakeName = "ANONYMIZER"
    warehouse: SnowflakeName = "ANONYMIZING"


class Databases(BaseModel):
    """The five warehouse databases of the article, by their Snowflake names, and the pipeline's private
    staging database (tables wait there while their checks run, out of every reader's grants)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    raw: SnowflakeName = "RAW"
    raw_safe: SnowflakeName = "RAW_SAFE"
    dev: SnowflakeName = "DEV"
    analytics: SnowflakeName = "ANALYTICS"
    public: SnowflakeName = "PUBLIC"
    staging: SnowflakeName = "MINIMIZATION_STAGING"

    @model_validator(mode="after")
    def _distinct(self) -> Databases:
        names = self.model_dump()
        seen: dict[str, str] = {}
        for field, name in names.items():
            if name in seen:
                raise ValueError(f"{seen[name]} and {field} are both {name}: each database needs its own name")
            seen[name] = field
        return self


class RolesPolicy(BaseModel):
    """The `roles:` section: who may read and write which database (see `grants.py`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    warehouse_size: WarehouseSize = WarehouseSize.XSMALL
    auto_suspend_seconds: int = Field(default=60, ge=60, le=86_400, description="idle seconds before suspending")
    databases: Databases = Field(default_factory=Databases)
    loader: LoaderRole = Field(default_factory=LoaderRole)
    developer: DeveloperRole = Field(default_factory=DeveloperRole)
    transformer: TransformerRole = Field(default_factory=TransformerRole)
    reader: ReaderRole = Field(default_factory=ReaderRole)
    anonymizer: AnonymizerRole = Field(default_factory=AnonymizerRole)

    def all_roles(self) -> dict[str, RoleSpec]:
        """The five roles by their key in the policy, in the order the SQL creates them."""
        return {
            "loader": self.loader,
            "developer": self.developer,
            "transformer": self.transformer,
            "reader": self.reader,
            "anonymizer": self.anonymizer,
        }

    @model_validator(mode="after")
    def _separate_roles(self) -> RolesPolicy:
        """Distinct names, and no managed role granted to another: that would merge their privileges."""
        seen: dict[str, str] = {}
        for key, role in self.all_roles().items():
            if role.name in seen:
                raise ValueError(f"{seen[role.name]}.name and {key}.name are both {role.name}: roles must differ")
            seen[role.name] = key
        for key, role in self.all_roles().items():
            inside = sorted(set(role.grant_to_roles) & set(seen))
            if inside:
                raise ValueError(
                    f"{key}.grant_to_roles names {inside}: granting one of these roles to another gives it the "
                    "other's privileges, which the separation of roles forbids"
                )
        return self


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(default=1, ge=1, le=1)
    k: int = Field(default=5, ge=2, description="k for RAW_SAFE tables without their own k")
    public: PublicPolicy = Field(default_factory=PublicPolicy)
    sources: dict[str, SourcePolicy] = Field(default_factory=dict)
    roles: RolesPolicy = Field(default_factory=RolesPolicy)

    def table(self, schema: str, name: str) -> TablePolicy | None:
        """The policy of `schema.name`, or None when the policy does not name it (then: default plan)."""
        source = self.sources.get(schema)
        return source.tables.get(name) if source else None

    def named_tables(self) -> list[tuple[str, str]]:
        return sorted((schema, table) for schema, source in self.sources.items() for table in source.tables)

    def partitioned_tables(self) -> dict[tuple[str, str], Partitioning]:
        """Tables declared append-only and time-partitioned, with their partitioning."""
        return {
            (schema, name): table.partition
            for schema, source in self.sources.items()
            for name, table in source.tables.items()
            if table.partition is not None and table.treatment is Treatment.TREAT
        }

    def retained_tables(self) -> dict[tuple[str, str], dt.timedelta]:
        """Partitioned tables whose RAW rows are deleted after ``keep_identifiable``, with that window."""
        return {
            key: table.keep_identifiable
            for key in self.partitioned_tables()
            if (table := self.table(*key)) is not None and table.keep_identifiable is not None
        }

    def k_for(self, table: TablePolicy | None) -> int:
        return table.k if table and table.k else self.k


def _location(loc: tuple[Any, ...]) -> str:
    """`('sources', 'app', 'tables', 'users', 'columns', 'email', 'role')` -> `app.users.email (role)`."""
    parts = [str(part) for part in loc]
    if parts[:1] == ["sources"] and len(parts) >= 4 and parts[2] == "tables":
        where = f"{parts[1]}.{parts[3]}"
        rest = parts[4:]
        if rest[:1] == ["columns"] and len(rest) >= 2:
            where += f".{rest[1]}"
            rest = rest[2:]
        return where + (f" ({'.'.join(rest)})" if rest else "")
    if parts[:2] == ["public", "tables"] and len(parts) >= 3:
        where = f"public.{parts[2]}"
        rest = parts[3:]
        if rest[:1] == ["columns"] and len(rest) >= 2:
            where += f".{rest[1]}"
            rest = rest[2:]
        return where + (f" ({'.'.join(rest)})" if rest else "")
    return ".".join(parts) or "(top level)"


def parse_policy(data: Any, origin: str = "minimization.yaml", base_dir: Path | None = None) -> Policy:
    """Validate an already-loaded document; errors are rewritten to name table and column.

    `base_dir` is where relative paths (hierarchy files) are resolved: the policy file's folder.
    """
    try:
        return Policy.model_validate(data if data is not None else {}, context={"base_dir": base_dir})
    except ValidationError as error:
        problems = []
        for item in error.errors():
            # Drop pydantic's union/validator noise from the location: keep what a user wrote.
            loc = tuple(part for part in item["loc"] if not str(part).startswith("function-"))
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = "unknown key"
            if item["type"] == "enum":
                message = f"{message} (got {item.get('input')!r})"
            problems.append(f"{origin}: {_location(loc)}: {message}")
        raise PolicyError("invalid policy:\n  " + "\n  ".join(problems)) from None


def load_policy(path: Path) -> Policy:
    """Read and validate `minimization.yaml`."""
    if not path.exists():
        raise PolicyError(f"{path}: policy file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise PolicyError(f"{path.name}: not valid YAML: {error}") from None
    return parse_policy(data, origin=path.name, base_dir=path.parent)


def validate_against_catalog(policy: Policy, catalog: Catalog, origin: str = "minimization.yaml") -> None:
    """Fail before any write when the policy names a column that RAW does not have.

    A table the policy names but RAW lacks is not an error here (a source may not have loaded yet);
    the asset for it fails with its own message when run.
    """
    problems = []
    for schema, name in policy.named_tables():
        table_policy = policy.table(schema, name)
        table = catalog.get(schema, name)
        if table is None or table_policy is None:
            continue
        existing = {column.name for column in table.columns}
        for column in table_policy.columns:
            if column not in existing:
                problems.append(
                    f"{origin}: {schema}.{name}.{column}: column does not exist in "
                    f"{catalog.database}.{schema}.{name} (it has: {', '.join(sorted(existing))})"
                )
        partition = table_policy.partition
        if partition is not None and partition.column in existing:
            data_type = next(c.data_type for c in table.columns if c.name == partition.column).upper()
            if not (data_type.startswith("TIMESTAMP") or data_type in ("DATE", "DATETIME")):
                problems.append(
                    f"{origin}: {schema}.{name}.{partition.column}: a partition column must be a TIMESTAMP or "
                    f"DATE, not {data_type}"
                )
            elif data_type == "DATE" and partition.grain is not Grain.DAY:
                problems.append(f"{origin}: {schema}.{name}.{partition.column}: a DATE column takes grain day")
    if problems:
        raise PolicyError("policy does not match the warehouse:\n  " + "\n  ".join(problems))
