"""Step 2 at scale: coarse grouping keys for high-cardinality quasi-identifiers, chosen and applied in SQL.

Why. The search (:mod:`microaggregate`) costs time and memory in proportion to the distinct QI tuples it
is given. On a users table with a birth date, a 5-digit zip and a city nearly every row is its own tuple:
10M rows give ~9.4M tuples, minutes of search and ~10 GB of RAM, although at k=5 a class only needs a few
rows. So when the distinct tuples would exceed a budget (:data:`TUPLE_BUDGET`), the histogram groups by
*coarse keys* instead of values: dates truncated (day -> month -> quarter -> year -> 5/10/25 years), numbers
bucketed by width, text without a hierarchy by prefix (a 5-digit zip -> its first 4, 3, ... characters).

* **Adaptive, cheap, in SQL.** One probe query counts rows and (approximately, HyperLogLog) distinct QI
  tuples; only when that is over budget, one more query counts every candidate key of every QI on its own
  (exactly, over the column's distinct values), then a greedy loop (one query per step, one approximate
  count per QI) coarsens the QI whose next level buys the largest drop in tuples for the least estimated
  loss (a bucket's share of the column's values), until the estimate fits the budget. No row is ever
  fetched: only counts. HyperLogLog merges registers by max, so the counts -- and the choice -- do not
  depend on the scan order or the thread count: reruns choose the same keys. On the 10M-row demo this is
  ~1 s: 6 queries, from (day, zip) to (year, zip prefix 4).
* **Released values stay real values of the column type.** Per coarse tuple the histogram carries a
  representative *original* value per coarsened QI, computed by SQL aggregates: the (discrete) median for
  numbers and dates, the most common value for text. The search runs on the keys; a class releases, per QI,
  the representative of the tuple the search picks (weighted median / mode). A representative lies in its
  tuple's key bucket and buckets are disjoint, so different released keys give different released values:
  k-anonymity on the keys is k-anonymity on the released values (and the output is checked in SQL anyway).
* **Honest loss.** NCP/GCP of a coarse release cannot be read off the keys. Per coarse tuple the histogram
  also carries ``MIN``/``MAX`` of every coarsened QI (text as its rank among the column's distinct values),
  and :func:`coarse_gcp` takes a class's extremes over its tuples' extremes. That is an upper bound of the
  true NCP (a tuple split between classes is charged its whole range in each), reported as such.
* **Portable SQL.** Keys use ``DATE_TRUNC``, ``EXTRACT``, ``SUBSTR`` and ``FLOOR``, built once as sqlglot
  expressions and reused verbatim for the histogram and for the join of RAW rows back to it.

Columns with a generalization hierarchy (their order is the hierarchy's, not the text's) and booleans are
never coarsened.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp

from minimization_pipeline.anonymize.kanon import QIColumn, QIKind
from minimization_pipeline.anonymize.metrics import class_extremes, column_scale
from minimization_pipeline.anonymize.plan import ColumnPlan, TablePlan
from minimization_pipeline.anonymize.pseudonymize import base_type, is_text
from minimization_pipeline.warehouse.base import WarehouseSession
from minimization_pipeline.warehouse.functions import lower_median, ordered_mode

#: Most distinct QI tuples the search is given (a few seconds and a few hundred MB at this size).
TUPLE_BUDGET = 200_000
#: A coarsening step must cut the tuples by at least this share, else it only costs (a city prefix that
#: merges two cities when the zip already decides the city).
MIN_STEP_GAIN = 0.05
#: Bucket counts tried for numbers, finest first.
NUMBER_BUCKETS = (4096, 1024, 256, 64, 16, 4)
#: Prefix lengths tried for text, longest first (only those shorter than the longest value).
TEXT_PREFIXES = (16, 8, 5, 4, 3, 2, 1)
#: Truncation units tried for dates and timestamps after the value itself, finest first.
DATE_UNITS = ("DAY", "MONTH", "QUARTER", "YEAR")
TIMESTAMP_UNITS = ("MINUTE", "HOUR", "DAY", "MONTH", "QUARTER", "YEAR")
#: Then spans of years.
YEAR_SPANS = (5, 10, 25)

REP_SUFFIX = "__rep"
MIN_SUFFIX = "__min"
MAX_SUFFIX = "__max"
RANK_SUFFIX = "__rank"


def _template(sql: str, **values: exp.Expression) -> exp.Expression:
    return exp.replace_placeholders(sqlglot.parse_one(sql, read="duckdb"), **values)


def rep_column(name: str) -> str:
    return f"{name}{REP_SUFFIX}"


def min_column(name: str) -> str:
    return f"{name}{MIN_SUFFIX}"


def max_column(name: str) -> str:
    return f"{name}{MAX_SUFFIX}"


@dataclass(frozen=True)
class Level:
    """One candidate grouping key of a QI: ``label`` for reports, ``kind`` orders the key in the search."""

    label: str
    kind: QIKind
    build: Callable[[exp.Expression], exp.Expression] = field(compare=False, repr=False)

    @property
    def is_value(self) -> bool:
        return self.label == "value"

    def key(self, value: exp.Expression) -> exp.Expression:
        return self.build(value.copy())


def _value_level(kind: QIKind) -> Level:
    return Level("value", kind, lambda v: v)


def _trunc(unit: str) -> Callable[[exp.Expression], exp.Expression]:
    return lambda v: exp.TimestampTrunc(this=v, unit=exp.Var(this=unit))


def _years(span: int) -> Callable[[exp.Expression], exp.Expression]:
    return lambda v: _template(f"FLOOR(EXTRACT(YEAR FROM :v) / {span})", v=v)


def _prefix(length: int) -> Callable[[exp.Expression], exp.Expression]:
    return lambda v: exp.Substring(this=v, start=exp.Literal.number(1), length=exp.Literal.number(length))


def _bucket(origin: float, width: float) -> Callable[[exp.Expression], exp.Expression]:
    return lambda v: exp.Floor(
        this=exp.Div(
            this=exp.Paren(this=exp.Sub(this=v, expression=exp.Literal.number(repr(origin)))),
            expression=exp.Literal.number(repr(width)),
        )
    )


def coarsenable(plan: TablePlan, column: ColumnPlan) -> bool:
    """Dates, numbers and text without a hierarchy; never booleans or hierarchy-ordered categories."""
    if column.qi_kind is QIKind.CATEGORICAL:
        return is_text(column.data_type) and column.policy.hierarchy is None
    return True


def candidate_levels(column: ColumnPlan, stats: dict[str, object]) -> list[Level]:
    """The column's keys from the value itself to the coarsest, given its probed min/max/longest value."""
    kind = column.qi_kind
    levels = [_value_level(kind)]
    if kind is QIKind.DATE:
        units = DATE_UNITS[1:] if base_type(column.data_type) == "DATE" else TIMESTAMP_UNITS
        levels += [Level(unit.lower(), QIKind.DATE, _trunc(unit)) for unit in units]
        levels += [Level(f"{span} years", QIKind.NUMERIC, _years(span)) for span in YEAR_SPANS]
    elif kind is QIKind.NUMERIC:
        low, high = stats.get("min"), stats.get("max")
        if low is not None and high is not None and float(high) > float(low):
            for buckets in NUMBER_BUCKETS:
                width = (float(high) - float(low)) / buckets
                levels.append(Level(f"{buckets} buckets", QIKind.NUMERIC, _bucket(float(low), width)))
    else:
        longest = int(stats.get("max_length") or 0)
        levels += [Level(f"prefix {n}", QIKind.CATEGORICAL, _prefix(n)) for n in TEXT_PREFIXES if n < longest]
    return levels


@dataclass(frozen=True)
class Coarsening:
    """The grouping key chosen for every QI (in plan order); all ``value`` means no coarsening."""

    columns: tuple[ColumnPlan, ...]
    levels: tuple[Level, ...]
    rows: int
    estimated_tuples: int
    budget: int
    probes: int = 0
    seconds: float = 0.0

    @property
    def coarsened(self) -> bool:
        return any(not level.is_value for level in self.levels)

    def coarse_columns(self) -> list[ColumnPlan]:
        return [c for c, level in zip(self.columns, self.levels, strict=True) if not level.is_value]

    def key(self, column: ColumnPlan, value: exp.Expression) -> exp.Expression:
        """The grouping key of ``value`` (a column of ``column``): the histogram's and the join's."""
        return self.levels[self.columns.index(column)].key(finite(column, value))

    def qi_columns(self) -> list[QIColumn]:
        """What the search sees: the keys, each with the kind of its key (a span of years is a number)."""
        return [QIColumn(c.name, level.kind) for c, level in zip(self.columns, self.levels, strict=True)]

    def describe(self) -> dict[str, str]:
        return {c.name: level.label for c, level in zip(self.columns, self.levels, strict=True)}


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


#: Floating-point types, whose values may be NaN or ±inf.
FLOAT_TYPES = {"DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8", "DOUBLE PRECISION"}


def finite(column: ColumnPlan, value: exp.Expression) -> exp.Expression:
    """A quasi-identifier's value as the histogram groups it: NaN and ±inf of a float are NULL (no position on
    the column's scale; one infinite value would otherwise stretch it until every class looked alike).

    ``IN`` with the three literals works alike in DuckDB and Snowflake, where NaN equals NaN.
    """
    if base_type(column.data_type) not in FLOAT_TYPES:
        return value
    specials = [exp.cast(exp.Literal.string(text), "DOUBLE") for text in ("NaN", "inf", "-inf")]
    return exp.Case(ifs=[exp.If(this=exp.In(this=value.copy(), expressions=specials), true=exp.Null())], default=value)


def _approx_distinct(expressions: Sequence[exp.Expression]) -> exp.Expression:
    """HyperLogLog count of distinct (tuples of) values: order- and thread-independent, one pass.

    A tuple is counted through `HASH(a, b, ...)` (DuckDB and Snowflake both have it, variadic): a third
    cheaper than hashing a struct, and a rare hash collision only lowers an estimate.
    """
    items = [e.copy() for e in expressions]
    this = items[0] if len(items) == 1 else exp.func("HASH", *items)
    return exp.ApproxDistinct(this=this)


def _estimated_loss(distinct: list[int], level: int) -> float:
    """Expected NCP of one bucket at ``level``: the share of the column's values a bucket holds (0 for values)."""
    if level == 0 or distinct[0] <= 1:
        return 0.0
    return (distinct[0] / max(distinct[level], 1) - 1) / (distinct[0] - 1)


def choose(session: WarehouseSession, plan: TablePlan, budget: int | None = None) -> Coarsening:
    """Pick the coarse keys for ``plan``'s QIs with a few counting queries (see the module docstring)."""
    started = time.perf_counter()
    budget = TUPLE_BUDGET if budget is None else budget
    columns = plan.quasi
    source = plan.source.expression()
    values = [_col(c.name) for c in columns]
    probe: list[exp.Expression] = [exp.Count(this=exp.Star()).as_("rows_"), _approx_distinct(values).as_("tuples")]
    for index, column in enumerate(columns):
        value = _col(column.name)
        if column.qi_kind is QIKind.NUMERIC:
            probe += [exp.Min(this=value).as_(f"lo{index}"), exp.Max(this=value.copy()).as_(f"hi{index}")]
        elif column.qi_kind is QIKind.CATEGORICAL and coarsenable(plan, column):
            probe.append(exp.Max(this=exp.Length(this=value)).as_(f"len{index}"))
    row = session.fetch_df(exp.select(*probe).from_(source)).iloc[0]
    rows, tuples = int(row["rows_"]), int(row["tuples"] or 0)
    probes = 1
    levels = [[_value_level(c.qi_kind)] for c in columns]
    if tuples > budget and columns:
        for index, column in enumerate(columns):
            if coarsenable(plan, column):
                stats = {
                    "min": row.get(f"lo{index}"),
                    "max": row.get(f"hi{index}"),
                    "max_length": row.get(f"len{index}"),
                }
                stats = {key: (None if value is None or pd.isna(value) else value) for key, value in stats.items()}
                levels[index] = candidate_levels(column, stats)
    chosen = [0] * len(columns)
    if tuples <= budget or all(len(options) == 1 for options in levels):
        seconds = round(time.perf_counter() - started, 3)
        return Coarsening(columns, tuple(options[0] for options in levels), rows, tuples, budget, probes, seconds)

    # every candidate key of every QI on its own, counted exactly over the column's distinct values (few:
    # dates, zips, cities) rather than over the rows: prices the levels and drops those that merge nothing
    distinct: list[list[int]] = [[1] for _ in columns]
    counted = [i for i, options in enumerate(levels) if len(options) > 1]
    selects = []
    for i in counted:
        values = (
            exp.select(_col(columns[i].name).as_("v", quoted=True))
            .distinct()
            .from_(source.copy())
            .subquery(f"d{i}", copy=False)
        )
        counts = [
            exp.Count(this=exp.Distinct(expressions=[level.key(_col("v", f"d{i}"))])).as_(f"c{i}_{j}")
            for j, level in enumerate(levels[i])
        ]
        selects.append(exp.select(*counts).from_(values).subquery(f"q{i}", copy=False))
    query = exp.select("*").from_(selects[0])
    for select in selects[1:]:
        query = query.join(select, join_type="CROSS")
    row_counts = session.fetch_all(query)[0]
    probes += 1
    position = 0
    for i in counted:
        distinct[i] = [int(v or 0) for v in row_counts[position : position + len(levels[i])]]
        position += len(levels[i])
    for i in range(len(columns)):  # keep only levels that really merge values, in order
        keep = [0]
        for j in range(1, len(levels[i])):
            if distinct[i][j] < distinct[i][keep[-1]]:
                keep.append(j)
        levels[i] = [levels[i][j] for j in keep]
        distinct[i] = [distinct[i][j] for j in keep]

    while tuples > budget:
        movable = [i for i in range(len(columns)) if chosen[i] + 1 < len(levels[i])]
        if not movable:
            break
        combos = []
        for i in movable:
            trial = list(chosen)
            trial[i] += 1
            combos.append(trial)
        keys = [
            _approx_distinct([levels[c][trial[c]].key(_col(columns[c].name)) for c in range(len(columns))]).as_(f"t{n}")
            for n, trial in enumerate(combos)
        ]
        estimates = [int(v or 0) for v in session.fetch_all(exp.select(*keys).from_(source))[0]]
        probes += 1
        best: tuple[tuple[float, ...], int] | None = None
        for i, estimate in zip(movable, estimates, strict=True):
            loss = _estimated_loss(distinct[i], chosen[i] + 1) - _estimated_loss(distinct[i], chosen[i])
            gain = math.log(max(tuples, 1)) - math.log(max(estimate, 1))
            if estimate <= budget:
                score = (0.0, loss)  # a step that reaches the budget: the cheapest such step wins
            elif gain >= -math.log1p(-MIN_STEP_GAIN):
                score = (1.0, loss / gain)  # else the largest drop in tuples per unit of loss
            else:
                # merges (almost) nothing yet, e.g. a zip prefix while the date is still unique, or a city
                # prefix once the zip decides the city: only when no step does, the largest drop goes
                score = (2.0, -gain, loss)
            if best is None or score < best[0]:
                best = (score, i)
        if best is None:
            break
        i = best[1]
        chosen[i] += 1
        tuples = estimates[movable.index(i)]
    return Coarsening(
        columns,
        tuple(levels[i][chosen[i]] for i in range(len(columns))),
        rows,
        tuples,
        budget,
        probes,
        round(time.perf_counter() - started, 3),
    )


# ------------------------------------------------------------------------------------------------ histogram


def representative(column: ColumnPlan, value: exp.Expression) -> exp.Expression:
    """A real value of the group, type kept: discrete median for numbers and dates, most common for text.

    Both should be deterministic, so that reruns release the same values: the lower median is; a plain
    `MODE` breaks ties by whichever thread saw a value first (it differs between runs on DuckDB), so the
    values are fed in order and a tie goes to the smallest (see :mod:`warehouse.functions` for Snowflake).
    """
    if column.qi_kind is QIKind.CATEGORICAL:
        return ordered_mode(value)
    return lower_median(value)


def histogram_select(plan: TablePlan, coarsening: Coarsening, count: str, tuple_id: str) -> exp.Select:
    """GROUP BY the keys: key per QI (named like the QI), rows, tuple id, and per coarsened QI its
    representative, smallest and largest original value."""
    keys = [coarsening.key(c, _col(c.name)) for c in plan.quasi]
    order = [exp.Ordered(this=key.copy(), nulls_first=True) for key in keys]
    numbered = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=order))
    projections: list[exp.Expression] = [key.as_(c.name, quoted=True) for key, c in zip(keys, plan.quasi, strict=True)]
    projections += [exp.Count(this=exp.Star()).as_(count, quoted=True), numbered.as_(tuple_id, quoted=True)]
    for column in coarsening.coarse_columns():
        value = _col(column.name)
        projections += [
            representative(column, value).as_(rep_column(column.name), quoted=True),
            exp.Min(this=value.copy()).as_(min_column(column.name), quoted=True),
            exp.Max(this=value.copy()).as_(max_column(column.name), quoted=True),
        ]
    return exp.select(*projections).from_(plan.source.expression()).group_by(*[key.copy() for key in keys])


def histogram_fetch(plan: TablePlan, coarsening: Coarsening, histogram: exp.Expression, tuple_id: str) -> exp.Select:
    """The histogram as fetched: text extremes replaced by their ranks among the column's distinct values
    (what NCP of unordered text needs), so no text extreme leaves the warehouse."""
    columns: list[exp.Expression] = []
    select = exp.select().from_(histogram.copy().as_("h", quoted=True))
    for index, column in enumerate(coarsening.coarse_columns()):
        if column.qi_kind is not QIKind.CATEGORICAL:
            continue
        distinct = (
            exp.select(_col(column.name))
            .distinct()
            .from_(plan.source.expression())
            .where(exp.Not(this=exp.Is(this=_col(column.name), expression=exp.Null())))
            .subquery("d", copy=False)
        )
        rank = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=[exp.Ordered(this=_col(column.name))]))
        ranks = exp.select(
            _col(column.name).as_("v", quoted=True),
            exp.Sub(this=rank, expression=exp.Literal.number(1)).as_("r", quoted=True),
        ).from_(distinct)
        select = select.with_(f"ranks{index}", as_=ranks)
        for suffix in (MIN_SUFFIX, MAX_SUFFIX):
            alias = f"r{index}{suffix}"
            select = select.join(
                exp.table_(f"ranks{index}").as_(alias, quoted=True),
                on=exp.EQ(this=_col(f"{column.name}{suffix}", "h"), expression=_col("v", alias)),
                join_type="LEFT",
            )
            columns.append(_col("r", alias).as_(f"{column.name}{suffix}{RANK_SUFFIX}", quoted=True))
    return select.select(exp.Column(this=exp.Star(), table=exp.to_identifier("h", quoted=True)), *columns).order_by(
        _col(tuple_id, "h")
    )


def released_values(plan: TablePlan, coarsening: Coarsening, histogram: pd.DataFrame) -> pd.DataFrame:
    """Per histogram row, the value each QI releases: its representative where coarsened, else the value."""
    coarse = {c.name for c in coarsening.coarse_columns()}
    return pd.DataFrame(
        {c.name: histogram[rep_column(c.name) if c.name in coarse else c.name].to_numpy() for c in plan.quasi}
    )


# ------------------------------------------------------------------------------------------------- metrics


def _positions(histogram: pd.DataFrame, column: ColumnPlan, suffix: str) -> np.ndarray:
    """Numeric positions of a coarsened QI's per-tuple extremes (NaN for a NULL tuple)."""
    if column.qi_kind is QIKind.CATEGORICAL:
        return pd.to_numeric(histogram[f"{column.name}{suffix}{RANK_SUFFIX}"]).to_numpy(dtype=np.float64)
    values = histogram[f"{column.name}{suffix}"]
    if column.qi_kind is QIKind.DATE:
        stamps = pd.to_datetime(values)
        out = stamps.to_numpy("datetime64[ns]").astype(np.int64).astype(np.float64)
        out[stamps.isna().to_numpy()] = np.nan
        return out
    return pd.to_numeric(values).to_numpy(dtype=np.float64)


def coarse_gcp(
    plan: TablePlan,
    coarsening: Coarsening,
    histogram: pd.DataFrame,
    assignments: pd.DataFrame,
    hierarchies: dict[str, object],
    count: str,
) -> dict[str, object]:
    """GCP on the original values, from per-tuple extremes: an upper bound (see the module docstring).

    ``assignments`` are the search's pieces (``tuple_index``, ``row_from``, ``row_to``, ``class_id``,
    ``suppressed``). Uncoarsened QIs are scored exactly as :func:`metrics.gcp` does (their key is the value).
    """
    tup = assignments["tuple_index"].to_numpy()
    size = (assignments["row_to"] - assignments["row_from"] + 1).to_numpy().astype(np.int64)
    supp = assignments["suppressed"].to_numpy().astype(bool)
    kept = ~supp
    cls = np.zeros(tup.size, dtype=np.int64)
    if kept.any():
        cls[kept] = pd.factorize(pd.Series(assignments["class_id"].to_numpy()[kept]), sort=True)[0]
    n_classes = int(cls[kept].max()) + 1 if kept.any() else 0
    sizes = np.bincount(cls[kept], weights=size[kept], minlength=n_classes)
    rows = int(size.sum())
    rows_suppressed = int(size[supp].sum())
    coarse = {c.name for c in coarsening.coarse_columns()}
    ncp: dict[str, float] = {}
    for column in plan.quasi:
        if column.name in coarse:
            lo_t, hi_t = _positions(histogram, column, MIN_SUFFIX), _positions(histogram, column, MAX_SUFFIX)
            lo, hi = lo_t[tup[kept]], hi_t[tup[kept]]
            null = np.isnan(lo)
            span = float(np.nanmax(hi_t) - np.nanmin(lo_t)) if (~np.isnan(lo_t)).any() else 0.0
            c = cls[kept]
            c_lo = np.full(n_classes, np.inf)
            c_hi = np.full(n_classes, -np.inf)
            np.minimum.at(c_lo, c[~null], lo[~null])
            np.maximum.at(c_hi, c[~null], hi[~null])
            has_null = np.bincount(c[null], minlength=n_classes) > 0
            has_value = np.isfinite(c_lo)
            width = np.where(has_value, (c_hi - np.where(has_value, c_lo, 0)) / span if span > 0 else 0.0, 0.0)
            class_ncp = np.where(has_null & has_value, 1.0, width)
        else:
            kind = column.qi_kind
            scale = column_scale(
                histogram[column.name], kind, hierarchies.get(column.name) if kind is QIKind.CATEGORICAL else None
            )
            lo_c, hi_c = class_extremes(scale.codes[tup[kept]], cls[kept], n_classes)
            class_ncp = scale.ncp(lo_c, hi_c)
        loss = float((class_ncp * sizes).sum()) + rows_suppressed
        ncp[column.name] = round(loss / rows, 6) if rows else 0.0
    return {
        "gcp_gcp": round(float(np.mean(list(ncp.values()))), 6) if ncp else 0.0,
        "gcp_basis": "upper bound: class extremes from per-tuple MIN/MAX of the coarse histogram",
        "ncp_by_column": ncp,
        "classes": n_classes,
        "average_class_size": round(float(sizes.mean()), 6) if n_classes else 0.0,
        "min_class_size": int(sizes.min()) if n_classes else 0,
        "rows": rows,
        "rows_suppressed": rows_suppressed,
    }
