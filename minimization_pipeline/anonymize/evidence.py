"""Value evidence over the whole table: may a column the policy does not name be released as it is?

A classifier judges a column from its name and a 200-row sample. That is enough to choose a treatment that
releases nothing (hash, mask, null) but never enough to release values unchanged: a `stage` column can be
`open`/`closed` in 19,990 rows and hold a name, an SSN and an address in the 10 rows no sample saw, and a
`customer_id` can hold phone numbers. So a proposal to keep a column (or pass it as a sensitive attribute)
is followed only when no value of it, over the whole table, is held by fewer than k rows: counted in SQL,
one statement for all such columns of a table, and only counts come back.

Pure SQL building plus one fetch; no Dagster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp

from minimization_pipeline.warehouse.base import TableRef, WarehouseSession


@dataclass(frozen=True)
class RareValues:
    """How much of one column a release as-is would expose: values held by fewer than k rows."""

    column: str
    k: int
    rare_values: int
    rare_rows: int

    @property
    def harmless(self) -> bool:
        return self.rare_rows == 0

    def describe(self) -> str:
        if self.harmless:
            return f"every value is held by >= {self.k} rows (whole table, SQL)"
        return (
            f"{self.rare_rows:,} rows hold one of {self.rare_values:,} values held by fewer than {self.k} rows "
            "(whole table, SQL)"
        )


def held_by_fewer_than(source: TableRef, name: str, k: int, *projections: exp.Expression) -> exp.Select:
    """``SELECT projections FROM source WHERE name IS NOT NULL GROUP BY name HAVING COUNT(*) < k``: the values of
    one column that fewer than k rows hold (the one definition of a rare value, here and in the checks)."""
    column = exp.column(name, quoted=True)
    return (
        exp.select(*projections)
        .from_(source.expression())
        .where(exp.Not(this=exp.Is(this=column.copy(), expression=exp.Null())))
        .group_by(column.copy())
        .having(exp.LT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(k)))
    )


def rare_values_query(source: TableRef, columns: Sequence[str], k: int) -> exp.Expression:
    """Per column (by position, so no name is ever a literal): values held by fewer than k rows, and their rows.

    ``SELECT i, COUNT(*), SUM(n) FROM (SELECT col, COUNT(*) n FROM t WHERE col IS NOT NULL GROUP BY col
    HAVING COUNT(*) < k)`` for each column, joined by UNION ALL. NULL is no value: it releases nothing.
    """
    parts: list[exp.Select] = []
    for index, name in enumerate(columns):
        groups = held_by_fewer_than(source, name, k, exp.Count(this=exp.Star()).as_("n", quoted=True))
        n = exp.column("n", quoted=True)
        parts.append(
            exp.select(
                exp.Literal.number(index).as_("position", quoted=True),
                exp.Count(this=exp.Star()).as_("rare_values", quoted=True),
                exp.Coalesce(this=exp.Sum(this=n), expressions=[exp.Literal.number(0)]).as_("rare_rows", quoted=True),
            ).from_(groups.subquery("g", copy=False))
        )
    query: exp.Expression = parts[0]
    for part in parts[1:]:
        query = exp.union(query, part, distinct=False)
    return query


def rare_values(session: WarehouseSession, source: TableRef, columns: Sequence[str], k: int) -> dict[str, RareValues]:
    """The evidence for each column, in one statement (nothing when there are no columns)."""
    if not columns:
        return {}
    rows = session.fetch_all(rare_values_query(source, columns, k))
    found = {int(position): (int(values), int(rare)) for position, values, rare in rows}
    return {name: RareValues(name, k, *found.get(index, (0, 0))) for index, name in enumerate(columns)}
