"""Step 1 of the anonymizer: policy + catalog → what happens to every column of one table.

Fail-closed: a column the policy does not name is treated as a direct identifier (hashed when its
type allows, NULL otherwise), never copied; a pass-through table publishes the columns it lists, and
an unlisted one only when the classifier is confident it is a harmless key or code (otherwise NULL).
A method that cannot keep the column's type is refused here, before anything is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from minimization_pipeline.anonymize.kanon import QIColumn, QIKind
from minimization_pipeline.anonymize.pseudonymize import base_type, hashable, is_integer, is_text
from minimization_pipeline.catalog import Table
from minimization_pipeline.policy import (
    Anonymization,
    ColumnPolicy,
    LDiversity,
    Method,
    Mode,
    Partitioning,
    PassThroughAs,
    PolicyError,
    PublicTablePolicy,
    Role,
    TablePolicy,
    Treatment,
)
from minimization_pipeline.warehouse.base import TableRef, TableSlice


def astuple_ref(ref: TableRef) -> tuple[str, str, str]:
    return ref.database, ref.schema, ref.name


NUMERIC_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
    "UHUGEINT", "DECIMAL", "NUMERIC", "NUMBER", "DOUBLE", "FLOAT", "REAL",
}  # fmt: skip
DATE_TYPES = {"DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NTZ", "TIMESTAMP_TZ", "DATETIME"}
CATEGORICAL_TYPES = {"VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR", "BOOLEAN", "ENUM"}


class PlanError(PolicyError):
    """The policy asks for something this column's type cannot take."""


@dataclass(frozen=True)
class ColumnPlan:
    name: str
    data_type: str
    role: Role
    method: Method | None
    policy: ColumnPolicy
    reason: str  # why: "policy", or how an unnamed column was treated

    @property
    def qi_kind(self) -> QIKind:
        kind = base_type(self.data_type)
        if kind in NUMERIC_TYPES:
            return QIKind.NUMERIC
        if kind in DATE_TYPES or kind.startswith("TIMESTAMP"):
            return QIKind.DATE
        return QIKind.CATEGORICAL


@dataclass(frozen=True)
class TablePlan:
    source: TableRef
    target: TableRef
    treatment: Treatment
    k: int
    columns: tuple[ColumnPlan, ...]
    mode: Mode = Mode.MICROAGGREGATE
    max_suppression: float = 0.01
    l_diversity: LDiversity | None = None
    pass_through_as: PassThroughAs = PassThroughAs.VIEW
    #: append-only, time-partitioned: published one slice of partitions at a time (see `engine.publish`)
    partition: Partitioning | None = None
    #: highest re-identification risk the release may carry (None: 1 / k)
    max_risk: float | None = None

    @property
    def risk_limit(self) -> float:
        return self.max_risk if self.max_risk is not None else 1.0 / self.k

    def sliced(self, start: dt.datetime, end: dt.datetime) -> TablePlan:
        """This plan restricted to the partitions in [start, end): RAW rows read, and RAW_SAFE rows replaced."""
        if self.partition is None:
            raise PolicyError(f"{self.source}: not partitioned; it is published whole")
        partition = self.partition
        column = next((c for c in self.columns if c.name == partition.column), None)
        if column is None:
            raise PolicyError(f"{self.source}: partition column {partition.column!r} not found")
        for moment in (start, end):
            if partition.grain.floor(moment) != moment:
                raise PolicyError(f"{self.source}: {moment} is not a partition boundary ({partition.grain.value})")
        slice_of = {"start": start, "end": end, "column": column.name, "grain": partition.grain.value.upper()}
        source = TableSlice(*astuple_ref(self.source), **slice_of, column_type=column.data_type)
        target = TableSlice(*astuple_ref(self.target), **slice_of, column_type=column.data_type)
        return dataclasses.replace(self, source=source, target=target)

    @property
    def slice(self) -> TableSlice | None:
        return self.target if isinstance(self.target, TableSlice) else None

    @property
    def quasi(self) -> tuple[ColumnPlan, ...]:
        return tuple(column for column in self.columns if column.role is Role.QUASI)

    @property
    def direct(self) -> tuple[ColumnPlan, ...]:
        return tuple(column for column in self.columns if column.role is Role.DIRECT)

    @property
    def qi_columns(self) -> list[QIColumn]:
        return [QIColumn(column.name, column.qi_kind) for column in self.quasi]

    def output_type(self, column: ColumnPlan) -> str:
        """The column's type in the output: the source type, except generalized labels, which are text."""
        if self.mode is Mode.GENERALIZE and column.role is Role.QUASI:
            return "VARCHAR"
        return column.data_type

    def describe(self) -> dict[str, str]:
        """Column → treatment, for the UI and the summary."""
        return {column.name: column.method.value if column.method else column.role.value for column in self.columns}


def fail_closed(data_type: str, why: str) -> tuple[ColumnPolicy, str]:
    """Fail-closed treatment of a column nobody classified: hash when the type allows, else NULL."""
    if hashable(data_type):
        return ColumnPolicy(role=Role.DIRECT, method=Method.HASH), f"{why}: hashed (fail-closed)"
    return ColumnPolicy(role=Role.DIRECT, method=Method.NULL), f"{why}: NULL (hash cannot keep {data_type})"


def _check_type(where: str, column: ColumnPolicy, data_type: str) -> None:
    kind = base_type(data_type)
    if column.role is Role.QUASI and not (
        kind in NUMERIC_TYPES or kind in DATE_TYPES or kind.startswith("TIMESTAMP") or kind in CATEGORICAL_TYPES
    ):
        raise PlanError(f"{where}: a quasi-identifier must be a number, date or category, not {data_type}")
    if column.method is Method.HASH and not hashable(data_type):
        narrow = " (too few values: its pseudonyms would land on RAW values)" if is_integer(data_type) else ""
        raise PlanError(
            f"{where}: method 'hash' cannot keep type {data_type}{narrow}; hash takes text or an integer of 32 "
            "bits or more. Write `null` for this column, or `quasi` for dates, amounts and codes"
        )
    if column.method in (Method.MASK, Method.FAKE) and not is_text(data_type):
        raise PlanError(f"{where}: method {column.method.value!r} needs a text column, not {data_type}")


def plan_table(
    table: Table,
    table_policy: TablePolicy | None,
    k: int,
    source_database: str,
    target_database: str,
    proposals: Mapping[str, tuple[ColumnPolicy, str]] | None = None,
) -> TablePlan:
    """The plan for one RAW table, RAW_SAFE keeping its schema exactly.

    `proposals` are the classifier's accepted treatments (policy, why) for columns the policy does not
    name; a column without one is treated fail-closed. The policy always wins over a proposal.
    """
    proposals = proposals or {}
    source = TableRef(source_database, table.schema, table.name)
    target = TableRef(target_database, table.schema, table.name)
    treatment = table_policy.treatment if table_policy else Treatment.TREAT
    named = table_policy.columns if table_policy else {}
    for name in named:
        if table.column(name) is None:
            raise PlanError(f"{table.key}.{name}: column named in the policy does not exist in {source}")
    columns = []
    for column in table.columns:
        where = f"{table.key}.{column.name}"
        if column.name in named:
            policy, reason = named[column.name], "policy"
        elif treatment is Treatment.PASS_THROUGH:
            # A view cannot pseudonymize (that needs the secret), so an unlisted column passes only when
            # the classifier is sure it is harmless (a key, a status); anything else is NULL.
            proposal = proposals.get(column.name)
            if proposal is not None and proposal[0].role is Role.KEEP:
                policy, reason = proposal
            else:
                policy = ColumnPolicy(role=Role.DIRECT, method=Method.NULL)
                reason = "not listed for pass_through: NULL" + (
                    f" ({proposal[0].role.value} per classifier; list it or treat the table)"
                    if proposal
                    else " until classified"
                )
        elif column.name in proposals:
            policy, reason = proposals[column.name]
        else:
            why = "table not in policy" if table_policy is None else "column not in policy"
            policy, reason = fail_closed(column.data_type, why)
        _check_type(where, policy, column.data_type)
        columns.append(ColumnPlan(column.name, column.data_type, policy.role, policy.method, policy, reason))
    pass_through_as = table_policy.pass_through_as if table_policy else PassThroughAs.VIEW
    if pass_through_as is PassThroughAs.CLONE:
        # a clone copies every column as it is: only a table whose every column is listed keep may be one
        unlisted = [c.name for c in columns if c.reason != "policy" or c.role is not Role.KEEP]
        if unlisted:
            raise PlanError(
                f"{table.key}: pass_through_as clone copies every column, but {unlisted} are not listed as keep "
                "(list them, or publish as a view, which leaves unlisted columns NULL)"
            )
    settings = table_policy or Anonymization()
    if settings.mode is Mode.GENERALIZE:
        not_text = [c.name for c in columns if c.role is Role.QUASI and not is_text(c.data_type)]
        if not_text:
            raise PlanError(
                f"{table.key}: mode generalize releases hierarchy labels (text), which would change the type of "
                f"{not_text} and break RAW_SAFE's schema; use it for PUBLIC tables or text columns, or use "
                "mode microaggregate"
            )
    return TablePlan(
        source,
        target,
        treatment,
        k,
        tuple(columns),
        settings.mode,
        settings.max_suppression,
        settings.l_diversity,
        pass_through_as,
        table_policy.partition if table_policy is not None and treatment is Treatment.TREAT else None,
        settings.max_risk,
    )


def plan_public(
    table: Table, table_policy: PublicTablePolicy, k: int, source_database: str, target_database: str
) -> TablePlan:
    """The plan for a PUBLIC table: only the columns the policy lists leave the warehouse."""
    source = TableRef(source_database, table.schema, table.name)
    target = TableRef(target_database, table.schema, table.name)  # PUBLIC mirrors the models schema
    columns = []
    for name, policy in table_policy.columns.items():
        column = table.column(name)
        if column is None:
            raise PlanError(f"public.{table.name}.{name}: column does not exist in {source}")
        _check_type(f"public.{table.name}.{name}", policy, column.data_type)
        columns.append(ColumnPlan(name, column.data_type, policy.role, policy.method, policy, "policy"))
    return TablePlan(
        source,
        target,
        Treatment.TREAT,
        k,
        tuple(columns),
        table_policy.mode,
        table_policy.max_suppression,
        table_policy.l_diversity,
        max_risk=table_policy.max_risk,
    )
