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


def distribution_png(name: str, before: pd.Series, after: pd.Series, categorical: bool) -> bytes:
    """One PNG: ``before`` and ``after`` (value → rows, NULLs left out) on shared axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = before[before.index.notna()]
    after = after[after.index.notna()]
    figure, axes = plt.subplots(figsize=(5.2, 2.6), dpi=80)
    if categorical:
        top = before.groupby(before.index.astype(str)).sum().sort_values(ascending=False)
        shown = list(top.index[:TOP_CATEGORIES])
        b = before.groupby(before.index.astype(str)).sum()
        a = after.groupby(after.index.astype(str)).sum()
        labels = [*shown, "other"] if len(top) > TOP_CATEGORIES or not set(a.index) <= set(shown) else shown
        values_before = [b.get(c, 0) if c != "other" else b.drop(shown, errors="ignore").sum() for c in labels]
        values_after = [a.get(c, 0) if c != "other" else a.drop(shown, errors="ignore").sum() for c in labels]
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
