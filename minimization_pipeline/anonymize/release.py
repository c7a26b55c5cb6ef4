"""The one rule for what a class releases: never a quasi-identifier value that fewer than k RAW rows hold.

The search gives each class a central value of its own members (the lower median of numbers and dates, the
most common category), so the released tuple is made of real values and keeps the column's type. When that
value is common (k or more RAW rows hold it), releasing it says nothing about anyone. When it is rare, the
member who holds it publishes their own exact value beside their kept keys: an exact home coordinate or a
birthday in a class of five identifies a household even though the class has five rows (membership
disclosure). So every path (the search, the single-class partitions) sends its pieces through
:func:`avoid_rare_releases`, which replaces a rare released value with one that keeps the type and format but
belongs to no one:

* numbers: the class's centroid, rounded to the column's precision (integers to a whole number, DECIMAL to
  its scale); dates: the centroid day; timestamps: the centroid rounded to the second. If that lands on a
  rare value too, the nearest step of that precision that does not;
* categories: the heaviest value of the class that k or more RAW rows hold; else, for text, the class's
  longest common prefix padded with ``*`` to the released value's length (``021**``); else NULL.

A released value shared by pieces of several classes gets one replacement for all of them, so classes can
only merge: k holds. The blocking ``no_own_rare_value`` check proves the result in SQL on every publish.
On a coarsened histogram (near-unique tables) the rows' values never reach Python: what a class can release
is a per-tuple representative computed in SQL, and how many RAW rows hold each candidate is counted in the
warehouse (:func:`count_holders`, one join per quasi-identifier and round). No Dagster here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sqlglot import exp

from minimization_pipeline.anonymize.kanon import QIKind, released_column
from minimization_pipeline.anonymize.plan import ColumnPlan
from minimization_pipeline.anonymize.pseudonymize import base_type, is_integer
from minimization_pipeline.warehouse.base import TableRef, WarehouseSession

CANDIDATES_TABLE = "__minimization_candidates"

#: How many steps of the column's precision are tried on each side of a centroid that is itself rare.
MAX_STEPS = 64
#: The character that pads a released text prefix to the length of the value it replaces.
PAD = "*"


def rare_in_histogram(
    histogram: pd.DataFrame, columns: Sequence[ColumnPlan], k: int, count: str
) -> dict[str, pd.Index]:
    """Per quasi-identifier, its non-NULL values held by fewer than k rows of ``histogram`` (RAW's tuples and
    their row counts, or a slice's: a value rare in the slice is treated as rare)."""
    rare = {}
    for column in columns:
        held = histogram.groupby(column.name, dropna=True, sort=False)[count].sum()
        rare[column.name] = held.index[held.to_numpy() < k]
    return rare


def count_holders(
    session: WarehouseSession, source: TableRef, column: ColumnPlan, values: pd.Series, output_type: str
) -> np.ndarray:
    """How many ``source`` rows hold each of ``values`` (aligned; NULL counts 0), in one join in the warehouse.

    The candidates go up as a typed temp table with their position, and only counts come back.
    """
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    frame = pd.DataFrame({"position": np.arange(len(values), dtype=np.int64), "value": values.to_numpy()})
    types = {"position": exp.DataType.build("BIGINT"), "value": exp.DataType.build(output_type, dialect="duckdb")}
    session.upload_temp(CANDIDATES_TABLE, frame, types)
    candidates = exp.Table(this=exp.to_identifier(CANDIDATES_TABLE, quoted=True)).as_("c", quoted=True)
    held = exp.Count(this=exp.column(column.name, table="r", quoted=True))
    query = (
        exp.select(exp.column("position", table="c", quoted=True), held)
        .from_(candidates)
        .join(
            source.expression("r"),
            on=exp.EQ(
                this=exp.column(column.name, table="r", quoted=True),
                expression=exp.column("value", table="c", quoted=True),
            ),
            join_type="left",
        )
        .group_by(exp.column("position", table="c", quoted=True))
    )
    counts = np.zeros(len(values), dtype=np.int64)
    for position, count in session.fetch_all(query):
        counts[int(position)] = int(count)
    return counts


def rare_in_warehouse(
    session: WarehouseSession, source: TableRef, columns: Sequence[ColumnPlan], values: pd.DataFrame, k: int
) -> dict[str, pd.Index]:
    """Per quasi-identifier, which of ``values[name]`` (candidates a class may release) 1 to k-1 source rows
    hold, counted in the warehouse."""
    rare = {}
    for column in columns:
        distinct = pd.Series(values[column.name].dropna().unique())
        counts = count_holders(session, source, column, distinct, column.data_type)
        rare[column.name] = pd.Index(distinct[(counts > 0) & (counts < k)])
    return rare


def avoid_rare_releases(
    pieces: pd.DataFrame, columns: Sequence[ColumnPlan], rare: Mapping[str, pd.Index], count: str
) -> pd.DataFrame:
    """``pieces`` (one row per piece: the original QI values, ``count`` rows, ``<qi>__released``) with every
    released value that is rare replaced as the module says; a copy, the input is not changed."""
    out = pieces.copy()
    for column in columns:
        rare_here = rare.get(column.name)
        target = released_column(column.name)
        if rare_here is None or not len(rare_here) or target not in out:
            continue
        released = out[target]
        hit = released.notna().to_numpy() & released.isin(rare_here).to_numpy()
        if not hit.any():
            continue
        members = pd.DataFrame(
            {
                "released": released[hit].to_numpy(),
                "value": out[column.name][hit].to_numpy(),
                "weight": out[count][hit].to_numpy(np.float64),
            }
        )
        if column.qi_kind is QIKind.CATEGORICAL:
            replacement = _categorical(members, rare_here)
        else:
            replacement = _central(members, column, rare_here)
        new = released[hit].map(replacement)
        values = released.astype(object).to_numpy(copy=True)
        values[hit] = new.to_numpy(dtype=object)
        out[target] = _like(values, released)
    return out


def _like(values: np.ndarray, template: pd.Series) -> pd.Series:
    """``values`` (objects, None for NULL) in ``template``'s dtype where it can hold them."""
    series = pd.Series(values, index=template.index)
    dtype = template.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return pd.to_datetime(series).astype(dtype)
    if pd.api.types.is_integer_dtype(dtype) and series.isna().any():
        return series.astype("Int64")
    try:
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series


# -------------------------------------------------------------------------------------- numbers and dates


def _scale(data_type: str) -> int | None:
    """Decimal places a DECIMAL(p, s) keeps; None for floats (no fixed precision)."""
    match = re.search(r"\(\s*\d+\s*,\s*(\d+)\s*\)", data_type)
    if match:
        return int(match.group(1))
    return 0 if base_type(data_type) in {"DECIMAL", "NUMERIC", "NUMBER"} else None


def _central(members: pd.DataFrame, column: ColumnPlan, rare: pd.Index) -> dict[object, object]:
    """Rare released value → the weighted centroid of the members it was released for, at the column's
    precision, stepped to the nearest value of that precision that no fewer than k rows hold."""
    members = members[members["value"].notna()]
    kind = base_type(column.data_type)
    if column.qi_kind is QIKind.DATE:
        stamps = pd.to_datetime(members["value"])
        tz = getattr(stamps.dt, "tz", None)
        naive = stamps.dt.tz_convert(None) if tz is not None else stamps
        unit = 86_400 * 10**9 if kind == "DATE" else 10**9  # a day, or a second, in nanoseconds
        numbers = naive.dt.as_unit("ns").astype("int64").to_numpy(np.float64)
        step, digits = float(unit), None
    else:
        numbers = pd.to_numeric(members["value"]).to_numpy(np.float64)
        scale = 0 if is_integer(column.data_type) else _scale(column.data_type)
        step, digits = (10.0**-scale, scale) if scale is not None else (None, None)
        tz = None
    weights = members["weight"].to_numpy()
    frame = pd.DataFrame(
        {"released": members["released"].to_numpy(), "wx": numbers * weights, "w": weights, "x": numbers}
    )
    grouped = frame.groupby("released", sort=False)
    sums = grouped[["wx", "w"]].sum()
    centroid = (sums["wx"] / sums["w"]).to_numpy()
    steps = np.full(centroid.shape, np.nan if step is None else step)
    if column.qi_kind is QIKind.DATE:
        centroid = np.round(centroid / step) * step
        rare_numbers = _date_numbers(rare, tz)
    else:
        if digits is not None:
            centroid = np.round(centroid, digits)
        else:  # a float has no precision of its own: release it no finer than the class's spread
            spread = (grouped["x"].max() - grouped["x"].min()).reindex(sums.index).to_numpy()
            centroid, steps = _round_to_spread(centroid, spread)
        rare_numbers = pd.to_numeric(pd.Series(rare)).to_numpy(np.float64)
    chosen = _step_away(centroid, np.unique(rare_numbers), steps)
    out: dict[object, object] = {}
    for value, number in zip(sums.index, chosen, strict=True):
        out[value] = _number_back(number, column, tz, digits)
    return out


def _date_numbers(rare: pd.Index, tz: object) -> np.ndarray:
    stamps = pd.to_datetime(pd.Series(rare))
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert(None)
    return stamps.dt.as_unit("ns").astype("int64").to_numpy(np.float64)


def _round_to_spread(centroid: np.ndarray, spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each centroid rounded to the power of ten of its class's spread (a class spanning 0.05 degrees is
    released as 40.29, not 40.29229542857143, which may lie a micro-degree from one member), and that power
    as its step; a class without spread keeps its centroid and no step."""
    steps = np.full(centroid.shape, np.nan)
    rounded = centroid.copy()
    positive = np.isfinite(spread) & (spread > 0)
    exponents = np.floor(np.log10(spread[positive])).astype(np.int64)
    steps[positive] = 10.0**exponents
    for exponent in np.unique(exponents):
        at = np.flatnonzero(positive)[exponents == exponent]
        rounded[at] = (
            np.round(centroid[at], int(-exponent))
            if exponent < 0
            else np.round(centroid[at] / 10.0**exponent) * 10.0**exponent
        )
    return rounded, steps


def _step_away(candidates: np.ndarray, rare_sorted: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Each candidate, or the nearest one of candidate ± i·step that is not rare (NaN if none within
    ``MAX_STEPS``); where the step is NaN (a float without one), the next representable numbers outward."""
    chosen = candidates.copy()
    bad = _is_in(chosen, rare_sorted)
    no_step = np.isnan(step)
    for i in range(1, MAX_STEPS + 1):
        if not bad.any():
            break
        for sign in (1, -1):
            trial = candidates + sign * i * np.where(no_step, 0.0, step)
            if no_step.any():
                nearby = candidates.copy()
                for _ in range(i):
                    nearby = np.nextafter(nearby, sign * np.inf)
                trial = np.where(no_step, nearby, trial)
            fixed = bad & ~_is_in(trial, rare_sorted)
            chosen[fixed] = trial[fixed]
            bad &= ~fixed
    chosen[bad] = np.nan
    return chosen


def _is_in(values: np.ndarray, rare_sorted: np.ndarray) -> np.ndarray:
    if not rare_sorted.size:
        return np.zeros(values.shape, dtype=bool)
    at = np.clip(np.searchsorted(rare_sorted, values), 0, rare_sorted.size - 1)
    return rare_sorted[at] == values


def _number_back(number: float, column: ColumnPlan, tz: object, digits: int | None) -> object:
    if number is None or (isinstance(number, float) and math.isnan(number)):
        return None
    if column.qi_kind is QIKind.DATE:
        stamp = pd.Timestamp(int(number), unit="ns")
        return stamp.tz_localize("UTC").tz_convert(tz) if tz is not None else stamp
    if is_integer(column.data_type) or digits == 0:
        return int(number)
    return round(float(number), digits) if digits is not None else float(number)


# ------------------------------------------------------------------------------------------- categories


def _categorical(members: pd.DataFrame, rare: pd.Index) -> dict[object, object]:
    """Rare released category → the heaviest member value k or more rows hold, else a masked common prefix
    (text), else NULL."""
    known = members[members["value"].notna()]
    common = known[~known["value"].isin(rare)]
    out: dict[object, object] = {}
    if len(common):
        heaviest = (
            common.groupby(["released", "value"], sort=True)["weight"]
            .sum()
            .reset_index()
            .sort_values(["released", "weight"], ascending=[True, False], kind="stable")
            .drop_duplicates("released")
        )
        out.update(zip(heaviest["released"], heaviest["value"], strict=True))
    rare_text = set(map(str, rare))
    for released, group in known.groupby("released", sort=False):
        if released in out:
            continue
        out[released] = _masked_prefix(released, group["value"], rare_text)
    for released in members["released"].unique():
        out.setdefault(released, None)
    return out


def _masked_prefix(released: object, values: pd.Series, rare_text: set[str]) -> str | None:
    """``021**`` for a class of 02139, 02141, ...: the longest common prefix, padded to the released value's
    length; None when the values share no prefix, are not text, or the result would be a rare value."""
    if not isinstance(released, str) or not all(isinstance(v, str) for v in values):
        return None
    prefix = _common_prefix([str(v) for v in values])
    if not prefix or len(prefix) >= len(released):
        return None
    masked = prefix + PAD * (len(released) - len(prefix))
    return None if masked in rare_text else masked


def _common_prefix(texts: list[str]) -> str:
    low, high = min(texts), max(texts)
    size = 0
    while size < min(len(low), len(high)) and low[size] == high[size]:
        size += 1
    return low[:size]
