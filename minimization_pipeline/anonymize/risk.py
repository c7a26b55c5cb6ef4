"""Re-identification risk of a table's quasi-identifiers, before (RAW) and after (the release).

The prosecutor model (ARX's, and the usual one an auditor asks for): an attacker who knows a person is in
the table and knows their quasi-identifiers finds the class of records sharing them; the chance of
picking the right record is 1 / class size. Reported: the highest and the average of that over records,
the share of records in classes smaller than a threshold, and the share of unique records.

Only the histogram of class sizes comes from the warehouse (one ``GROUP BY`` over the quasi-identifiers,
then one over the sizes): a few rows, whatever the table's size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sqlglot import exp

from minimization_pipeline.warehouse.base import TableRef, WarehouseSession

#: classes smaller than this are "at risk" (ARX's and the issue's default)
RISK_THRESHOLD = 5


@dataclass(frozen=True)
class RiskReport:
    records: int
    classes: int
    highest_prosecutor_risk: float  # 1 / smallest class size
    average_prosecutor_risk: float  # mean over records of 1 / class size = classes / records
    records_at_risk_share: float  # records in classes smaller than `threshold`
    unique_records_share: float
    threshold: int

    def as_metadata(self, prefix: str = "") -> dict[str, float | int]:
        return {f"{prefix}{name}": value for name, value in asdict(self).items()}


def risk_from_class_sizes(
    sizes: np.ndarray, classes_of_size: np.ndarray | None = None, threshold: int = RISK_THRESHOLD
) -> RiskReport:
    """The report from class sizes: ``sizes[i]`` with ``classes_of_size[i]`` classes of that size (one each
    by default). An empty table has no risk."""
    sizes = np.asarray(sizes, dtype=np.int64)
    counts = np.ones_like(sizes) if classes_of_size is None else np.asarray(classes_of_size, dtype=np.int64)
    if sizes.size != counts.size or (sizes.size and (sizes.min() < 1 or counts.min() < 1)):
        raise ValueError("class sizes and their counts must be positive and of the same length")
    records = int((sizes * counts).sum())
    classes = int(counts.sum())
    if records == 0:
        return RiskReport(0, 0, 0.0, 0.0, 0.0, 0.0, threshold)
    at_risk = int((sizes * counts)[sizes < threshold].sum())
    unique = int(counts[sizes == 1].sum())
    return RiskReport(
        records=records,
        classes=classes,
        highest_prosecutor_risk=round(1.0 / int(sizes.min()), 6),
        average_prosecutor_risk=round(classes / records, 6),
        records_at_risk_share=round(at_risk / records, 6),
        unique_records_share=round(unique / records, 6),
        threshold=threshold,
    )


def class_size_histogram_sql(table: exp.Expression, quasi: Sequence[str]) -> exp.Select:
    """``SELECT size, COUNT(*) FROM (SELECT COUNT(*) AS size FROM t GROUP BY qi...) GROUP BY size``: NULL is a
    value like any other (SQL groups NULLs together, as a released table shows them)."""
    columns = [exp.column(name, quoted=True) for name in quasi]
    size = exp.column("size", quoted=True)
    classes = exp.select(exp.Count(this=exp.Star()).as_("size", quoted=True)).from_(table)
    if columns:
        classes = classes.group_by(*columns)
    return (
        exp.select(size, exp.Count(this=exp.Star()).as_("classes", quoted=True))
        .from_(classes.subquery("c"))
        .group_by(size.copy())
        .order_by(size.copy())
    )


def measure_risk(
    session: WarehouseSession, table: TableRef, quasi: Sequence[str], threshold: int = RISK_THRESHOLD
) -> RiskReport:
    """Prosecutor risk of ``table`` over ``quasi``, computed in the warehouse."""
    rows = session.fetch_all(class_size_histogram_sql(table.expression(), quasi))
    rows = [(int(size), int(count)) for size, count in rows if size]
    if not rows:
        return risk_from_class_sizes(np.zeros(0), np.zeros(0), threshold)
    sizes, counts = (np.array(values) for values in zip(*rows, strict=True))
    return risk_from_class_sizes(sizes, counts, threshold)
