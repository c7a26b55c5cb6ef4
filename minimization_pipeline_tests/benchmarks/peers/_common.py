"""What every peer adapter shares: the file protocol with the harness, timing and peak memory.

Why a file protocol: each peer runs in its own virtualenv (their pins clash with the project's and with
each other's), so the harness cannot import them. It writes the input CSV and a JSON of arguments, runs
``<venv>/bin/python peers/run_<peer>.py --input IN --args ARGS --output OUT --meta META`` and reads back:

* OUT: one row per input row (same order, ``__row`` = input row number) with ``__class`` (the peer's own
  partition label), ``__suppressed`` (0/1) and the released value of every quasi-identifier;
* META: JSON with ``seconds`` (the library call only, timed here), ``peak_rss_mb``, ``version``, ``notes``.

This file runs under the *peer's* interpreter: standard library and pandas only.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd

ROW, CLASS, SUPPRESSED = "__row", "__class", "__suppressed"


@dataclass
class PeerOutput:
    """What an adapter returns: the per-row release and the seconds its library call took."""

    released: pd.DataFrame  # columns: the QIs (released values) + CLASS + SUPPRESSED, index = input rows
    seconds: float
    notes: list[str] = field(default_factory=list)


Adapter = Callable[[pd.DataFrame, dict], PeerOutput]


def load_input(path: Path, args: dict) -> pd.DataFrame:
    """The input rows with numeric QIs as numbers and categorical ones as strings, index 0..n-1."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in args["numeric"]:
        frame[column] = pd.to_numeric(frame[column])
    return frame.reset_index(drop=True)


def sorted_set(values: pd.Series) -> str:
    """A generalized categorical value: the distinct values, sorted, comma-joined (one spelling per set)."""
    return ",".join(sorted({str(v) for v in values}))


def value_range(values: pd.Series) -> str:
    """A generalized numeric value: ``min-max`` (a single value when the class has one)."""
    low, high = values.min(), values.max()
    return str(low) if low == high else f"{low}-{high}"


def release_by_partition(
    frame: pd.DataFrame, partitions: Sequence, qis: Sequence[str], numeric: Sequence[str]
) -> pd.DataFrame:
    """Per-row release of a partition given as lists of row labels: ranges for numbers, sets otherwise.

    Used for libraries whose own output is aggregated (one row per class) and so cannot be mapped back to
    rows; it carries the same information as their output, spelt one way for all.
    """
    released = pd.DataFrame(index=frame.index, columns=[*qis, CLASS, SUPPRESSED], dtype=object)
    for label, rows in enumerate(partitions):
        rows = list(rows)
        if not rows:
            continue
        part = frame.loc[rows]
        for column in qis:
            released.loc[rows, column] = value_range(part[column]) if column in numeric else sorted_set(part[column])
        released.loc[rows, CLASS] = label
    if released[CLASS].isna().any():
        raise RuntimeError(f"{int(released[CLASS].isna().sum())} rows are in no partition")
    released[SUPPRESSED] = 0
    return released


def run(adapter: Adapter, package: str, argv: Sequence[str] | None = None) -> None:
    """Parse the protocol's arguments, run ``adapter`` and write OUT and META."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--args", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--meta", type=Path, required=True)
    options = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # the peers emit pandas FutureWarnings by the thousand
    args = json.loads(options.args.read_text())
    frame = load_input(options.input, args)
    result = adapter(frame, args)
    out = result.released.copy()
    out.insert(0, ROW, frame.index.to_numpy())
    out[SUPPRESSED] = out[SUPPRESSED].fillna(0).astype(int)
    out.to_csv(options.output, index=False)
    meta = {
        "seconds": result.seconds,
        "peak_rss_mb": peak_rss_mb(),
        "version": metadata.version(package),
        "python": sys.version.split()[0],
        "pandas": pd.__version__,
        "notes": result.notes,
        "calls": calls_made,
    }
    options.meta.write_text(json.dumps(meta, indent=2))


def peak_rss_mb() -> float:
    """This process's peak resident memory (MiB).

    ``VmHWM`` is per address space and starts afresh at ``exec``; ``ru_maxrss`` does not (Linux carries the
    forked parent's size over the exec), so it would report the harness's own size for a small peer.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: a call quicker than this is repeated (in the same process), and the median of the calls reported
REPEAT_UNDER_S = 5.0
#: most calls per measurement (ours is the median of 5 runs too), within REPEAT_BUDGET_S seconds in all
REPEATS = 5
REPEAT_BUDGET_S = 20.0
#: how many calls the last `timed` made (reported in META)
calls_made = 1


def timed(function: Callable[[], object], repeat: bool = True) -> tuple[object, float]:
    """Result of the first ``function()`` call and the median wall seconds of the calls made.

    One call of a peer that takes a second is as noisy as ours, and polarfrost's time varies 3x from call
    to call (it splits categories in Polars' unordered `unique()` order, so its output varies too). So a
    call quicker than REPEAT_UNDER_S is repeated, up to REPEATS calls within REPEAT_BUDGET_S, and the median
    reported, as for ours. The release scored is the first call's: repeats only time. ``repeat=False`` for
    a call that changes its object's state.
    """
    global calls_made
    started = time.perf_counter()
    value = function()
    seconds = [time.perf_counter() - started]
    while repeat and seconds[0] < REPEAT_UNDER_S and len(seconds) < REPEATS and sum(seconds) < REPEAT_BUDGET_S:
        started = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - started)
    calls_made = len(seconds)
    return value, statistics.median(seconds)
