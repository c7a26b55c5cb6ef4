"""The one release rule: no class releases a quasi-identifier value that fewer than k rows hold."""

from __future__ import annotations

import pandas as pd
import pytest

from minimization_pipeline.anonymize.kanon import released_column
from minimization_pipeline.anonymize.plan import ColumnPlan
from minimization_pipeline.anonymize.release import avoid_rare_releases, rare_in_histogram
from minimization_pipeline.policy import ColumnPolicy, Role

K = 3


def _column(name: str, data_type: str) -> ColumnPlan:
    return ColumnPlan(name, data_type, Role.QUASI, None, ColumnPolicy(role=Role.QUASI), "policy")


def _pieces(name: str, values: list[object], released: list[object], counts: list[int] | None = None) -> pd.DataFrame:
    return pd.DataFrame({name: values, "__count": counts or [1] * len(values), released_column(name): released})


def _apply(column: ColumnPlan, pieces: pd.DataFrame) -> pd.Series:
    rare = rare_in_histogram(pieces[[column.name, "__count"]], [column], K, "__count")
    return avoid_rare_releases(pieces, [column], rare, "__count")[released_column(column.name)]


def test_a_common_released_value_is_kept() -> None:
    column = _column("age", "INTEGER")
    pieces = _pieces("age", [30, 30, 30, 31], [30, 30, 30, 30])
    assert _apply(column, pieces).tolist() == [30, 30, 30, 30]


def test_a_rare_integer_becomes_the_rounded_centroid_stepped_off_rare_values() -> None:
    column = _column("income", "INTEGER")
    # one class of three, each income held once: the median 52 is someone's; the centroid 52.33 -> 52 too,
    # so the nearest integer no fewer-than-k rows hold is taken (53 is no one's)
    pieces = _pieces("income", [50, 52, 55], [52, 52, 52])
    out = _apply(column, pieces)
    assert out.nunique() == 1 and out.iloc[0] not in {50, 52, 55}
    assert abs(out.iloc[0] - 52.33) <= 2
    assert str(out.dtype) == "int64"


def test_decimals_round_to_the_columns_scale() -> None:
    column = _column("lat", "DECIMAL(9,3)")
    pieces = _pieces("lat", [40.101, 40.105, 40.112], [40.105] * 3)
    value = _apply(column, pieces).iloc[0]
    assert value == pytest.approx(40.106) and value not in {40.101, 40.105, 40.112}


def test_doubles_get_a_centroid_that_is_nobodys() -> None:
    column = _column("lon", "DOUBLE")
    pieces = _pieces("lon", [-74.000001, -74.000002, -74.000003], [-74.000002] * 3)
    value = _apply(column, pieces).iloc[0]
    assert value not in {-74.000001, -74.000002, -74.000003} and value == pytest.approx(-74.000002)


def test_dates_and_timestamps_keep_their_type_and_avoid_members() -> None:
    dates = _column("dob", "DATE")
    births = pd.to_datetime(["1980-01-01", "1980-01-02", "1980-01-09"])
    out = _apply(dates, _pieces("dob", list(births), [births[1]] * 3))
    assert pd.api.types.is_datetime64_any_dtype(out.dtype)
    assert out.iloc[0] not in set(births) and out.iloc[0] == pd.Timestamp("1980-01-04")
    stamps = _column("born_at", "TIMESTAMP WITH TIME ZONE")
    moments = pd.to_datetime(["1980-01-01 10:00:00", "1980-01-01 11:00:01", "1980-01-01 12:00:02"]).tz_localize("UTC")
    out = _apply(stamps, _pieces("born_at", list(moments), [moments[1]] * 3))
    assert out.dt.tz is not None and out.iloc[0] not in set(moments)
    assert out.iloc[0].microsecond == 0


def test_categories_take_the_heaviest_common_member_else_a_masked_prefix_else_null() -> None:
    zips = _column("zip", "VARCHAR")
    # class A: 02139 is common (3 rows) although the class released the rare 02140
    pieces = _pieces(
        "zip",
        ["02139", "02140", "02141", "10001", "10002", "10003", "90210", "33101", "60601"],
        ["02140", "02140", "02140", "10002", "10002", "10002", "90210", "90210", "90210"],
        [3, 1, 1, 1, 1, 1, 1, 1, 1],
    )
    out = _apply(zips, pieces).tolist()
    assert out[:3] == ["02139"] * 3
    assert out[3:6] == ["1000*"] * 3
    assert out[6:] == [None] * 3


def test_a_replacement_is_one_value_for_every_piece_that_released_it() -> None:
    """Pieces of several classes that released the same rare value get the same replacement: classes only
    merge, so k holds."""
    column = _column("age", "INTEGER")
    pieces = _pieces("age", [40, 41, 44, 40, 41, 44], [41] * 6)
    out = _apply(column, pieces)
    assert out.nunique() == 1


def test_nulls_are_left_alone() -> None:
    column = _column("dob", "DATE")
    pieces = _pieces("dob", [None, None, None], [None, None, None])
    assert _apply(column, pieces).isna().all()


def test_a_float_centroid_is_released_no_finer_than_its_class() -> None:
    """A centroid of 15 decimals can lie a micro-degree from one member: it is rounded to the class's spread."""
    column = _column("lat", "DOUBLE")
    members = [40.292295, 40.301234, 40.318765, 40.334567, 40.271111]
    value = _apply(column, _pieces("lat", members, [40.301234] * 5)).iloc[0]
    assert value == round(value, 2) and min(abs(value - m) for m in members) >= 0.001
