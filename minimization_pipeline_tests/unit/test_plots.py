"""The before/after plots: a rare RAW value is never named, every row is counted, a real PNG comes out."""

from __future__ import annotations

import pandas as pd

from minimization_pipeline.plots import category_bars, distribution_png

PNG = b"\x89PNG\r\n\x1a\n"


def test_a_category_rarer_than_k_is_only_counted_in_other() -> None:
    before = pd.Series([40, 30, 2, 1], index=["Boston", "Denver", "Smallville", "Nowhere"])
    after = pd.Series([42, 31], index=["Boston", "Denver"])
    labels, raw, released = category_bars(before, after, min_count=5)
    assert labels == ["Boston", "Denver", "other"]
    assert raw == [40, 30, 3] and released == [42, 31, 0]
    assert sum(raw) == int(before.sum()) and sum(released) == int(after.sum())


def test_no_other_bar_when_every_value_is_shown() -> None:
    labels, raw, released = category_bars(pd.Series([9, 7], index=["F", "M"]), pd.Series([16], index=["F"]), 5)
    assert labels == ["F", "M"] and raw == [9, 7] and released == [16, 0]


def test_numbers_dates_and_categories_draw_pngs() -> None:
    numbers = distribution_png("age", pd.Series([3, 5], index=[20, 40]), pd.Series([8], index=[30]), False)
    dates = pd.to_datetime(["2000-01-01", "2001-06-01"])
    days = distribution_png("born", pd.Series([3, 5], index=dates), pd.Series([8], index=dates[:1]), False)
    kinds = distribution_png("sex", pd.Series([3, 5], index=["F", "M"]), pd.Series([8], index=["F"]), True, 2)
    assert all(png.startswith(PNG) and len(png) > 1_000 for png in (numbers, days, kinds))
