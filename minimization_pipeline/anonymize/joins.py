"""Cross-table linkage: k over a join path of PUBLIC tables.

The article's warning: "when tables are joined, it is possible for k-anonymized quasi-identifiers in
multiple tables to become unique". Each table can be k-anonymous alone while the join of the two, whose
rows carry both tables' quasi-identifiers, singles people out. So for every join path the policy declares,
k is counted again over the union of both sides' quasi-identifiers, on the joined rows, counting people
(distinct join keys), not rows: one person's twenty orders in a class are still one person.

Counted in SQL on the staged (verified, not yet published) tables; only class sizes come back.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from minimization_pipeline.anonymize.verify import CheckOutcome
from minimization_pipeline.policy import JoinPath
from minimization_pipeline.warehouse.base import TableRef, WarehouseSession

JOIN_LINKAGE = "join_linkage"
JOIN_LINKAGE_DESCRIPTION = (
    "Every join path the policy declares between PUBLIC tables keeps k: classes over both sides' "
    "quasi-identifiers, on the joined rows, hold at least k people."
)


@dataclass(frozen=True)
class JoinSide:
    """One table of a path: the staged table to read, its name in the policy, its key and quasi-identifiers."""

    name: str
    table: TableRef
    key: str
    quasi: tuple[str, ...]


@dataclass(frozen=True)
class JoinClasses:
    smallest: int  # people in the smallest class (0: the join is empty)
    classes: int
    people_under_k: int  # people in classes smaller than k (a person in several such classes counts in each)


def _col(name: str, table: str) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def count_join_classes(
    session: WarehouseSession,
    left: JoinSide,
    right: JoinSide,
    k: int,
    left_quasi: tuple[str, ...] | None = None,
    right_quasi: tuple[str, ...] | None = None,
) -> JoinClasses:
    """Classes of the join over the given quasi-identifiers (all of each side's by default)."""
    left_quasi = left.quasi if left_quasi is None else left_quasi
    right_quasi = right.quasi if right_quasi is None else right_quasi
    keys = [_col(name, "l") for name in left_quasi] + [_col(name, "r") for name in right_quasi]
    people = exp.Count(this=exp.Distinct(expressions=[_col(left.key, "l")])).as_("size", quoted=True)
    joined = (
        exp.select(people)
        .from_(left.table.expression("l"))
        .join(right.table.expression("r"), on=exp.EQ(this=_col(left.key, "l"), expression=_col(right.key, "r")))
    )
    if keys:
        joined = joined.group_by(*keys)
    size = exp.column("size", quoted=True)
    under = exp.If(this=exp.LT(this=size.copy(), expression=exp.Literal.number(k)), true=size.copy())
    query = exp.select(
        exp.Min(this=size.copy()),
        exp.Count(this=exp.Star()),
        exp.Coalesce(
            this=exp.Sum(this=exp.Case(ifs=[under], default=exp.Literal.number(0))), expressions=[exp.Literal.number(0)]
        ),
    ).from_(joined.subquery("c"))
    smallest, classes, people_under = session.fetch_all(query)[0]
    return JoinClasses(int(smallest or 0), int(classes or 0), int(people_under or 0))


def check_join_path(session: WarehouseSession, path: JoinPath, left: JoinSide, right: JoinSide, k: int) -> CheckOutcome:
    """k over the path; when it fails, which columns do it: each column of one side that, added to all of the
    other side's quasi-identifiers, already leaves a class under k."""
    classes = count_join_classes(session, left, right, k)
    columns = [f"{left.name}.{q}" for q in left.quasi] + [f"{right.name}.{q}" for q in right.quasi]
    metadata: dict[str, object] = {
        "path": path.describe(),
        "k_required": k,
        "k_achieved": classes.smallest,
        "classes": classes.classes,
        "columns": columns,
    }
    passed = classes.classes == 0 or classes.smallest >= k
    if passed:
        summary = f"{path.describe()}: smallest class {classes.smallest} >= k={k} over {', '.join(columns)}"
        return CheckOutcome(JOIN_LINKAGE, True, summary, metadata)
    offending = [
        f"{right.name}.{q}" for q in right.quasi if count_join_classes(session, left, right, k, None, (q,)).smallest < k
    ] + [f"{left.name}.{q}" for q in left.quasi if count_join_classes(session, left, right, k, (q,), None).smallest < k]
    metadata |= {"people_in_classes_under_k": classes.people_under_k, "offending_columns": offending or columns}
    summary = (
        f"{path.describe()}: joined, the smallest class holds {classes.smallest} "
        f"{'person' if classes.smallest == 1 else 'people'} < k={k} "
        f"({classes.people_under_k} people in classes under k) over {', '.join(columns)}; "
        + (
            f"each of {', '.join(offending)} breaks k with the other table's quasi-identifiers"
            if offending
            else "no single column breaks it alone: the combination does"
        )
    )
    return CheckOutcome(JOIN_LINKAGE, False, summary, metadata)
