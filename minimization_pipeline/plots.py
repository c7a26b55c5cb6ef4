"""Before/after distribution plots of a quasi-identifier, as PNG bytes (matplotlib, headless).

What a reviewer wants to see next to "GCP 6.5 %": the shape of each quasi-identifier in RAW and in the
release, on the same axes. Drawn from marginal counts the engine already holds (value → rows), never rows.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

#: categories shown (the most common in RAW; the rest summed as "other")
TOP_CATEGORIES = 12
BINS = 30


def _numeric(values: pd.Index) -> tuple[np.ndarray, bool]:
    """Values as numbers to bin, and whether they were dates (then the axis shows dates)."""
    if pd.api.types.is_datetime64_any_dtype(values) or (len(values) and hasattr(values[0], "year")):
        stamps = pd.to_datetime(pd.Series(values), errors="coerce")
        return stamps.to_numpy("datetime64[ns]").astype(np.int64).astype(np.float64), True
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64), False


def category_bars(before: pd.Series, after: pd.Series, min_count: int = 1) -> tuple[list[str], list[int], list[int]]:
    """The bars of a categorical plot: the most common RAW values held at least ``min_count`` times, then
    "other" for everything else (rarer values, and released values not shown), with RAW and released rows."""
    b = before.groupby(before.index.astype(str)).sum()
    a = after.groupby(after.index.astype(str)).sum()
    top = b.sort_values(ascending=False, kind="stable")
    shown = list(top[top >= min_count].index[:TOP_CATEGORIES])
    labels = list(shown)
    if not (set(b.index) <= set(shown) and set(a.index) <= set(shown)):
        labels.append("other")
    values_before = [int(b.get(c, 0)) if c != "other" else int(b.drop(shown).sum()) for c in labels]
    values_after = [int(a.get(c, 0)) if c != "other" else int(a.drop(shown, errors="ignore").sum()) for c in labels]
    return labels, values_before, values_after


def distribution_png(name: str, before: pd.Series, after: pd.Series, categorical: bool, min_count: int = 1) -> bytes:
    """One PNG: ``before`` and ``after`` (value → rows, NULLs left out) on shared axes.

    ``min_count`` (the table's k): a category RAW holds fewer times is never named, only summed into
    "other" -- the plot shows RAW's distribution, and a rare value is exactly what would single someone out.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = before[before.index.notna()]
    after = after[after.index.notna()]
    figure, axes = plt.subplots(figsize=(5.2, 2.6), dpi=80)
    if categorical:
        labels, values_before, values_after = category_bars(before, after, min_count)
        x = np.arange(len(labels))
        axes.bar(x - 0.2, values_before, width=0.4, label="RAW", color="#9aa5b1")
        axes.bar(x + 0.2, values_after, width=0.4, label="released", color="#3b6fb6")
        axes.set_xticks(x, [str(label)[:12] for label in labels], rotation=45, ha="right", fontsize=7)
    else:
        xb, dates = _numeric(before.index)
        xa, _ = _numeric(after.index)
        finite = np.concatenate([xb[np.isfinite(xb)], xa[np.isfinite(xa)]])
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        edges = np.linspace(low, high if high > low else low + 1, BINS + 1)
        hb, _ = np.histogram(xb[np.isfinite(xb)], bins=edges, weights=before.to_numpy()[np.isfinite(xb)])
        ha, _ = np.histogram(xa[np.isfinite(xa)], bins=edges, weights=after.to_numpy()[np.isfinite(xa)])
        centers = (edges[:-1] + edges[1:]) / 2
        axes.bar(centers, hb, width=np.diff(edges), label="RAW", color="#9aa5b1", alpha=0.8)
        axes.step(centers, ha, where="mid", label="released", color="#3b6fb6", linewidth=1.6)
        if dates:
            ticks = np.linspace(low, high, 4)
            axes.set_xticks(ticks, [str(pd.Timestamp(int(t)).date()) for t in ticks], fontsize=7)
        else:
            axes.tick_params(axis="x", labelsize=7)
    axes.set_title(name, fontsize=9)
    axes.tick_params(axis="y", labelsize=7)
    axes.set_ylabel("rows", fontsize=7)
    axes.legend(fontsize=7, frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
