"""Re-identification risk of a table's quasi-identifiers, before (RAW) and after (the release).

The prosecutor model (ARX's, and the usual one an auditor asks for): an attacker who knows a person is in
the table and knows their quasi-identifiers finds the class of records sharing them; the chance of
picking the right record is 1 / class size. Reported: the highest and the average of that over records,
the share of records in classes smaller than a threshold, and the share of unique records.

Only the histogram of class sizes comes from the warehouse (one ``GROUP BY`` over the quasi-identifiers,
then one over the sizes): a few rows, whatever the table's size.

The simulated linkage attack (`simulate_linkage`) is the auditor's other question: an attacker holds the
quasi-identifiers of a random sample of people taken from RAW and looks for each in the release. It runs on
the aggregates the engine already holds (RAW's histogram of quasi-identifier tuples and the release's pieces),
never on rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlglot import exp

from minimization_pipeline.anonymize.kanon import QIKind
from minimization_pipeline.warehouse.base import TableRef, WarehouseSession

#: classes smaller than this are "at risk" (ARX's and the issue's default)
RISK_THRESHOLD = 5
#: people the simulated attacker knows (drawn from RAW with a fixed seed, so reruns give the same figure)
ATTACK_SAMPLE = 1_000
ATTACK_SEED = 0
#: most (target, released tuple, quasi-identifier) distances the attack computes; beyond it the sample
#: shrinks (the attempts are recorded). 50M is about 1 s on this project's machine: 125 targets against
#: 100,000 released tuples of 4 quasi-identifiers; Adult (2,276 tuples of 8 at k=10) keeps all 1,000.
ATTACK_BUDGET = 50_000_000
#: cells of one (targets × released tuples) block: bounds the attack's memory (a few arrays of 32 MB)
ATTACK_BLOCK = 4_000_000
#: distances this close to the nearest count as ties (floating-point noise, not a real difference)
TIE = 1e-9


@dataclass(frozen=True)
class RiskReport:
    records: int
    classes: int
    highest_prosecutor_risk: float  # 1 / smallest class size
    average_prosecutor_risk: float  # mean over records of 1 / class size = classes / records
    records_at_risk_share: float  # records in classes smaller than `threshold`
    unique_records_share: float
    threshold: int
    smallest_class: int = 0  # the k the table achieves

    def as_metadata(self, suffix: str = "") -> dict[str, float | int]:
        """Flat names the UI lists side by side: ``prosecutor_risk_highest_before``, ``..._after``."""
        return {
            f"prosecutor_risk_highest{suffix}": self.highest_prosecutor_risk,
            f"prosecutor_risk_average{suffix}": self.average_prosecutor_risk,
            f"records_at_risk{suffix}": self.records_at_risk_share,
            f"unique_records{suffix}": self.unique_records_share,
        }


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
        return RiskReport(0, 0, 0.0, 0.0, 0.0, 0.0, threshold, 0)
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
        smallest_class=int(sizes.min()),
    )


def class_size_histogram_sql(table: exp.Expression, quasi: Sequence[str | exp.Expression]) -> exp.Select:
    """``SELECT size, COUNT(*) FROM (SELECT COUNT(*) AS size FROM t GROUP BY qi...) GROUP BY size``: NULL is a
    value like any other (SQL groups NULLs together, as a released table shows them)."""
    columns = [exp.column(name, quoted=True) if isinstance(name, str) else name.copy() for name in quasi]
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
    session: WarehouseSession,
    table: TableRef,
    quasi: Sequence[str | exp.Expression],
    threshold: int = RISK_THRESHOLD,
) -> RiskReport:
    """Prosecutor risk of ``table`` over ``quasi`` (names, or expressions such as a partition's bucket),
    computed in the warehouse."""
    rows = session.fetch_all(class_size_histogram_sql(table.expression(), quasi))
    rows = [(int(size), int(count)) for size, count in rows if size]
    if not rows:
        return risk_from_class_sizes(np.zeros(0), np.zeros(0), threshold)
    sizes, counts = (np.array(values) for values in zip(*rows, strict=True))
    return risk_from_class_sizes(sizes, counts, threshold)


@dataclass(frozen=True)
class LinkageAttack:
    """A simulated record-linkage attack and how well it did.

    ``unique_success``: correct unique matches / attempts (the attacker's nearest record is one record, and
    it is the target's). ``success``: the attacker's expected hit rate when it picks one of its nearest
    records at random (a k-anonymous release bounds it by 1 / k). ``not_released``: targets whose record is
    not in the release at all (suppressed, or held back with its partition).
    """

    attempts: int
    unique_success: float
    success: float
    not_released: int
    sample: int
    seed: int

    def as_metadata(self, suffix: str = "") -> dict[str, float | int]:
        return {
            f"linkage_success{suffix}": self.success,
            f"linkage_unique_success{suffix}": self.unique_success,
            f"linkage_attempts{suffix}": self.attempts,
            f"linkage_seed{suffix}": self.seed,
        }


def _draw_targets(counts: np.ndarray, sample: int, seed: int) -> np.ndarray:
    """Positions (0-based, in tuple order) of ``sample`` distinct people, the same for the same seed."""
    total = int(counts.sum())
    rng = np.random.default_rng(seed)
    # in random order: when the release is too large for every target, the first ones are still a random sample
    return rng.choice(total, size=min(sample, total), replace=False) if total else np.zeros(0, np.int64)


def linkage_on_raw(counts: np.ndarray, sample: int = ATTACK_SAMPLE, seed: int = ATTACK_SEED) -> LinkageAttack:
    """The attack on RAW itself: the attacker finds exactly its target's tuple, shared by ``count`` people."""
    counts = np.asarray(counts, dtype=np.int64)
    targets = _draw_targets(counts, sample, seed)
    if not targets.size:
        return LinkageAttack(0, 0.0, 0.0, 0, sample, seed)
    tuple_of = np.searchsorted(np.cumsum(counts), targets, side="right")
    shared = counts[tuple_of]
    return LinkageAttack(
        attempts=int(targets.size),
        unique_success=round(float((shared == 1).mean()), 6),
        success=round(float((1.0 / shared).mean()), 6),
        not_released=0,
        sample=sample,
        seed=seed,
    )


def _distance_columns(
    original: pd.Series, released: pd.Series, kind: QIKind
) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """One quasi-identifier as numbers the attacker compares: (target values, released values, scale,
    categorical). NaN marks NULL. Numbers and dates are scaled by RAW's range; categories are codes."""
    if kind is QIKind.CATEGORICAL:
        codes, _ = pd.factorize(pd.concat([original, released], ignore_index=True).astype("string"), sort=False)
        codes = codes.astype(np.float64)
        codes[codes < 0] = np.nan
        return codes[: len(original)], codes[len(original) :], 1.0, True
    if kind is QIKind.DATE:
        as_number = [
            pd.to_datetime(values, errors="coerce").to_numpy("datetime64[ns]").astype(np.int64).astype(np.float64)
            for values in (original, released)
        ]
        for values, series in zip(as_number, (original, released), strict=True):
            values[pd.isna(series).to_numpy()] = np.nan
    else:
        as_number = [pd.to_numeric(values, errors="coerce").to_numpy(np.float64) for values in (original, released)]
    target, release = as_number
    spread = float(np.nanmax(target) - np.nanmin(target)) if np.isfinite(target).any() else 0.0
    return target, release, spread or 1.0, False


def simulate_linkage(
    histogram: pd.DataFrame,
    pieces: pd.DataFrame,
    kinds: Mapping[str, QIKind],
    count: str,
    released: Mapping[str, str],
    sample: int = ATTACK_SAMPLE,
    seed: int = ATTACK_SEED,
    exact: bool = False,
) -> LinkageAttack:
    """Distance-based record linkage of ``sample`` people from RAW against the release.

    ``histogram``: RAW's distinct quasi-identifier tuples (columns ``kinds``) with their ``count``, in tuple
    order. ``pieces``: the release, one row per piece of a tuple: ``tuple_index`` (position in ``histogram``),
    1-based ``row_from``..``row_to`` within the tuple, and each quasi-identifier's released value in column
    ``released[name]``. Each target's record is the one its row became.

    The attacker measures closeness per quasi-identifier (numbers and dates: distance over RAW's range;
    categories and NULLs: equal or not), takes the released records nearest to what it knows, and is right
    when its target's record is among them: by 1 / their number when it must guess. ``exact``: the release
    is labels of a published generalization, so the attacker generalizes what it knows the same way and
    matches equal labels (the strongest attacker: it finds exactly its target's class).
    """
    names = list(kinds)
    counts = histogram[count].to_numpy(np.int64)
    targets = _draw_targets(counts, sample, seed)
    if not len(pieces):  # nothing released: nobody can be found
        return LinkageAttack(int(targets.size), 0.0, 0.0, int(targets.size), sample, seed)
    starts = np.cumsum(counts) - counts  # position of each tuple's first row
    piece_start = starts[pieces["tuple_index"].to_numpy()] + pieces["row_from"].to_numpy(np.int64) - 1
    piece_end = starts[pieces["tuple_index"].to_numpy()] + pieces["row_to"].to_numpy(np.int64) - 1
    order = np.argsort(piece_start, kind="stable")
    piece_start, piece_end = piece_start[order], piece_end[order]
    released_values = pieces[[released[name] for name in names]].iloc[order].reset_index(drop=True)
    released_values.columns = names
    # the distinct released tuples and how many records each stands for
    group = released_values.groupby(names, dropna=False, sort=False).ngroup().to_numpy()
    sizes = np.bincount(group, weights=(piece_end - piece_start + 1)).astype(np.int64)
    distinct = released_values.groupby(group, sort=True).first().reset_index(drop=True)
    at = np.searchsorted(piece_start, targets, side="right") - 1
    in_release = (at >= 0) & (targets <= piece_end[np.maximum(at, 0)])
    own = np.where(in_release, group[np.maximum(at, 0)], -1)
    attempts = int(targets.size)
    if not attempts or not len(distinct):
        return LinkageAttack(attempts, 0.0, 0.0, int((~in_release).sum()), sample, seed)
    if exact:
        hit = np.where(own >= 0, 1.0 / sizes[np.maximum(own, 0)], 0.0)
        unique = (own >= 0) & (sizes[np.maximum(own, 0)] == 1)
        return LinkageAttack(
            attempts, round(float(unique.mean()), 6), round(float(hit.mean()), 6), int((~in_release).sum()),
            sample, seed,
        )  # fmt: skip
    tuple_of = np.searchsorted(np.cumsum(counts), targets, side="right")
    known = histogram[names].iloc[tuple_of].reset_index(drop=True)
    columns = [_distance_columns(known[name], distinct[name], kinds[name]) for name in names]
    # fewer targets when the release is large, so the attack stays a fraction of the run (recorded)
    keep = max(1, min(attempts, ATTACK_BUDGET // max(1, len(distinct) * len(names))))
    chunk = max(1, ATTACK_BLOCK // len(distinct))
    hits = np.zeros(keep)
    uniques = np.zeros(keep, dtype=bool)
    for begin in range(0, keep, chunk):
        end = min(keep, begin + chunk)
        distance = np.zeros((end - begin, len(distinct)))
        for target_values, release_values, scale, categorical in columns:
            x = target_values[begin:end, None]
            y = release_values[None, :]
            both_null = np.isnan(x) & np.isnan(y)
            one_null = np.isnan(x) ^ np.isnan(y)
            step = (x != y).astype(np.float64) if categorical else np.abs(x - y) / scale
            distance += np.where(both_null, 0.0, np.where(one_null, 1.0, step))
        nearest = distance <= distance.min(axis=1, keepdims=True) + TIE
        records = nearest @ sizes
        mine = own[begin:end]
        right = (mine >= 0) & nearest[np.arange(end - begin), np.maximum(mine, 0)]
        hits[begin:end] = np.where(right, 1.0 / records, 0.0)
        uniques[begin:end] = right & (records == 1)
    return LinkageAttack(
        keep, round(float(uniques.mean()), 6), round(float(hits.mean()), 6), int((~in_release[:keep]).sum()),
        sample, seed,
    )  # fmt: skip
