"""The engine's own column names never equal a RAW column's, whatever RAW calls its columns."""

from __future__ import annotations

import pytest

from minimization_pipeline.anonymize.engine import OwnNames, own_prefix

ENGINE_COLUMNS = ("count", "tuple_id", "partition", "row_from", "row_to", "row_number")


def _all(names: OwnNames) -> set[str]:
    return {getattr(names, column) for column in ENGINE_COLUMNS}


@pytest.mark.parametrize(
    "raw_columns",
    [
        ["id", "zip", "age"],
        ["__tuple_id", "__rn", "zip", "age"],
        ["__COUNT", "__Partition", "___row_from"],
        ["__", "___", "____x"],
        ["__row_to__released", "__minimization_histogram"],
    ],
)
def test_no_engine_name_equals_a_raw_column(raw_columns: list[str]) -> None:
    names = OwnNames(own_prefix(raw_columns))
    folded = {column.casefold() for column in raw_columns}
    assert not {name.casefold() for name in _all(names)} & folded
    assert len(_all(names)) == len(ENGINE_COLUMNS)


def test_ordinary_tables_keep_the_usual_names() -> None:
    assert OwnNames(own_prefix(["id", "email", "zip"])).tuple_id == "__tuple_id"
