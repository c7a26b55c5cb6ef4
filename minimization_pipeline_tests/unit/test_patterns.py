"""The PATTERNS regexes of the pattern scan, evaluated by DuckDB's `regexp_matches` as `verify` does.

Python's `re` is not used on purpose: the scan runs in the warehouse (RE2), and the two engines differ.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from minimization_pipeline.anonymize.verify import PATTERNS
from minimization_pipeline.policy import Pattern


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


def matching(con: duckdb.DuckDBPyConnection, value: str) -> set[Pattern]:
    """The patterns whose regex DuckDB finds in `value`."""
    return {
        pattern
        for pattern, regex in PATTERNS.items()
        if con.execute("SELECT regexp_matches(?, ?)", [value, regex]).fetchone()[0]
    }


POSITIVES: list[tuple[str, Pattern]] = [
    # emails
    ("alice@example.com", Pattern.EMAIL),
    ("Alice.Smith@Example.COM", Pattern.EMAIL),
    ("alice+newsletter@gmail.com", Pattern.EMAIL),
    ("j.doe@mail.eng.example.co.uk", Pattern.EMAIL),
    ("contact me at bob_99@corp-mail.io today", Pattern.EMAIL),
    # US phones
    ("+1 212-555-0147", Pattern.PHONE),
    ("(212) 555-0147", Pattern.PHONE),
    ("212.555.0147", Pattern.PHONE),
    ("212-555-0147", Pattern.PHONE),
    ("+1 212 555 0147", Pattern.PHONE),
    ("1-800-555-0199", Pattern.PHONE),
    ("call +1 (212) 555-0147 now", Pattern.PHONE),
    # E.164
    ("+442071838750", Pattern.PHONE),
    ("+12125550147", Pattern.PHONE),
    ("+44 20 7183 8750", Pattern.PHONE),  # international, grouped with spaces
    ("+33 1 42 68 53 00", Pattern.PHONE),
    # card numbers
    ("4242 4242 4242 4242", Pattern.CARD),
    ("4242424242424242", Pattern.CARD),
    ("4242-4242-4242-4242", Pattern.CARD),
    ("3782 822463 10005", Pattern.CARD),  # Amex groups 4-6-5
    ("paid with 5555 5555 5555 4444.", Pattern.CARD),
    # IPv4
    ("192.168.1.20", Pattern.IPV4),
    ("request from 192.168.1.20 at noon", Pattern.IPV4),
    ("ip=10.0.0.1", Pattern.IPV4),
    ("255.255.255.255", Pattern.IPV4),
    # IPv6, full and compressed
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", Pattern.IPV6),
    ("2001:db8:0:0:1:0:0:1", Pattern.IPV6),
    ("2001:db8::1", Pattern.IPV6),
    ("::1", Pattern.IPV6),
    ("fe80::1", Pattern.IPV6),
    ("2001:db8::8a2e:370:7334", Pattern.IPV6),
    ("fe80::1ff:fe23:4567:890a", Pattern.IPV6),  # link-local: 1 group, '::', 4 groups
    ("2001:db8::85a3:0:8a2e:370:7334", Pattern.IPV6),  # 2 groups, '::', 5 groups
    ("2001::1:2:3:4:5:6", Pattern.IPV6),  # 1 group, '::', 6 groups
    ("::2:3:4:5:6:7:8", Pattern.IPV6),  # '::', 7 groups
    ("client 2001:db8::1 connected", Pattern.IPV6),
]

NEGATIVES: list[str] = [
    # pseudonyms the hash produces
    "c64487c2037a61302a7ef4243b3f827a",
    "deadbeef",
    # browser user agents carry dotted version numbers
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.9.5.20) Gecko/20100101 Firefox/3.6",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Version/17.1 Mobile/15E148 Safari/604.1",
    "Chrome/120.0.6099.109",
    # dates, times, timestamps
    "2026-11-01",
    "2026-11-01 12:34:56",
    "2026-11-01T12:34:56.123456+00:00",
    "12:34:56",
    # numbers
    "1234.56",
    "-98765.4321",
    "02139",
    "1.2.3.4.5",
    "10.0.0.256",
    # masked values
    "***@gmail.com",
    "**********42",
    "************4242",
    # plain words
    "hello world",
    "Maria",
    "premium",
]


@pytest.mark.parametrize(("value", "pattern"), POSITIVES, ids=[value for value, _ in POSITIVES])
def test_identifier_is_found(con: duckdb.DuckDBPyConnection, value: str, pattern: Pattern) -> None:
    assert pattern in matching(con, value)


@pytest.mark.parametrize("value", NEGATIVES)
def test_harmless_value_matches_no_pattern(con: duckdb.DuckDBPyConnection, value: str) -> None:
    assert matching(con, value) == set()


def test_every_pattern_has_a_regex() -> None:
    assert set(PATTERNS) == set(Pattern)
