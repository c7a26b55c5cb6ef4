"""Test helper: a RAW_SAFE table with its direct identifiers treated exactly as the engine does."""

from __future__ import annotations

from sqlglot import exp

from minimization_pipeline.anonymize.engine import direct_expression
from minimization_pipeline.anonymize.plan import TablePlan
from minimization_pipeline.policy import Role
from minimization_pipeline.warehouse.base import TableRef, WarehouseSession


def write_pseudonymized(session: WarehouseSession, plan: TablePlan, source: TableRef, target: TableRef) -> None:
    """`target` = `source` with direct identifiers pseudonymized by the engine's own SQL, the rest copied."""
    secret = session.secret_expression()
    selects = []
    for column in plan.columns:
        value: exp.Expression = exp.column(column.name, quoted=True)
        if column.role is Role.DIRECT:
            value = direct_expression(column, value, secret)
        selects.append(value.as_(column.name, quoted=True))
    select = exp.select(*selects).from_(source.expression())
    session.execute(exp.Create(this=target.expression(), kind="TABLE", expression=select, replace=True))
