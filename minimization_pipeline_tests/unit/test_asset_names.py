"""Asset key parts: any name works, no two names share a key, and plain names read as themselves."""

from __future__ import annotations

import re

import dagster as dg
import pytest

from minimization_pipeline.asset_names import key_part

HOSTILE = [
    "my table", 'qu"ote', "tåble", "Ταβλε", "表", "a-b", "a_b", "x.y", "x__y", "x_y", "_lead", "trail_",
    "users__staging", "a_h0123abcd", "", " ", "a" * 300, "DROP TABLE x;--", "naïve", "naive",
]  # fmt: skip


def test_plain_names_are_their_own_key() -> None:
    for name in ("users", "app", "charges_2024", "Users", "x_y"):
        assert key_part(name) == name


@pytest.mark.parametrize("name", HOSTILE)
def test_every_name_gives_a_valid_stable_key(name: str) -> None:
    part = key_part(name)
    assert re.fullmatch(r"[A-Za-z0-9]+(_[A-Za-z0-9]+)*", part), part
    assert key_part(name) == part
    key = dg.AssetKey(["raw_safe", part, part])
    assert re.fullmatch(r"[A-Za-z0-9_]+", key.to_python_identifier())


def test_no_two_names_collide_even_when_joined() -> None:
    parts = {name: key_part(name) for name in HOSTILE}
    assert len(set(parts.values())) == len(HOSTILE)
    joined = {"__".join((key_part(a), key_part(b))) for a in HOSTILE for b in HOSTILE}
    assert len(joined) == len(HOSTILE) ** 2
