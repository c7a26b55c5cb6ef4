"""Hash, mask, fake and null expressions, evaluated by a real DuckDB with the secret in a session variable.

Expectations are computed (from the inputs, from a second evaluation, from another secret), never
hard-coded pseudonyms, so the tests survive a change of digest layout that keeps the guarantees.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

import duckdb
import pytest
from sqlglot import exp

from minimization_pipeline.anonymize import pseudonymize
from minimization_pipeline.anonymize.verify import PATTERNS
from minimization_pipeline.policy import FAKE_PATTERNS, FakeKind, MaskStyle
from minimization_pipeline.warehouse.duckdb import SECRET_VARIABLE, DuckDBSession

SECRET = "unit-test-secret-Zq81xv"
OTHER_SECRET = "another-secret-Pw02rk"

Build = Callable[[exp.Expression], exp.Expression]


@pytest.fixture(scope="module")
def session() -> Iterator[DuckDBSession]:
    connection = duckdb.connect(":memory:")
    session = DuckDBSession(connection)
    session.set_secret(SECRET)
    yield session
    connection.close()


@pytest.fixture(scope="module")
def other_session() -> Iterator[DuckDBSession]:
    connection = duckdb.connect(":memory:")
    session = DuckDBSession(connection)
    session.set_secret(OTHER_SECRET)
    yield session
    connection.close()


def load(session: DuckDBSession, values: Sequence[object], data_type: str, table: str = "t", column: str = "v") -> None:
    """`table(i, column)`: the values in order, cast to `data_type`."""
    session.execute(
        f'CREATE OR REPLACE TABLE "{table}" AS '
        f'SELECT i, CAST(v AS {data_type}) AS "{column}" '
        "FROM (SELECT UNNEST(range(len(?))) AS i, UNNEST(?) AS v)",
        [list(values), list(values)],
    )


def evaluate(
    session: DuckDBSession, build: Build, values: Sequence[object], data_type: str, table: str = "t", column: str = "v"
) -> list[object]:
    """build(column) over the values, one result per value, in order."""
    load(session, values, data_type, table, column)
    select = exp.select(build(exp.column(column, quoted=True))).from_(exp.to_table(table, quoted=True)).order_by("i")
    return [row[0] for row in session.fetch_all(select)]


def type_of(session: DuckDBSession, build: Build, value: object, data_type: str) -> str:
    load(session, [value], data_type)
    select = exp.select(exp.Anonymous(this="typeof", expressions=[build(exp.column("v"))])).from_("t")
    return session.fetch_all(select)[0][0]


def hasher(session: DuckDBSession, data_type: str) -> Build:
    return lambda column: pseudonymize.hash_value(column, data_type, session.secret_expression())


def faker(session: DuckDBSession, kind: FakeKind) -> Build:
    return lambda column: pseudonymize.fake_value(column, kind, session.secret_expression())


def masker(style: MaskStyle) -> Build:
    return lambda column: pseudonymize.mask_value(column, style)


def matches(session: DuckDBSession, values: Sequence[str], regex: str) -> list[bool]:
    """DuckDB's regexp_matches, the function the pattern scan uses, over each value."""
    rows = session.fetch_all(
        "SELECT list_transform(?::VARCHAR[], lambda value: regexp_matches(value, ?))", [values, regex]
    )
    return rows[0][0]


EMAILS = ["alice@example.com", "bob.smith+news@mail.example.org", "carol@gmail.com", "Dave@Example.COM"]
INTEGER_LIMITS = {"SMALLINT": 2**15 - 1, "INTEGER": 2**31 - 1, "BIGINT": 2**63 - 1}


# ------------------------------------------------------------------------------------------ hash


def test_hash_is_deterministic(session: DuckDBSession) -> None:
    first = evaluate(session, hasher(session, "VARCHAR"), EMAILS, "VARCHAR")
    again = evaluate(session, hasher(session, "VARCHAR"), EMAILS, "VARCHAR")
    assert first == again
    assert len(set(first)) == len(EMAILS)


def test_hash_depends_on_the_secret(session: DuckDBSession, other_session: DuckDBSession) -> None:
    ours = evaluate(session, hasher(session, "VARCHAR"), EMAILS, "VARCHAR")
    theirs = evaluate(other_session, hasher(other_session, "VARCHAR"), EMAILS, "VARCHAR")
    assert all(a != b for a, b in zip(ours, theirs, strict=True))


def test_hash_depends_on_the_secret_for_integers(session: DuckDBSession, other_session: DuckDBSession) -> None:
    values = list(range(1, 50))
    ours = evaluate(session, hasher(session, "BIGINT"), values, "BIGINT")
    theirs = evaluate(other_session, hasher(other_session, "BIGINT"), values, "BIGINT")
    assert ours != theirs


def test_hash_of_text_is_32_hex_characters(session: DuckDBSession) -> None:
    for pseudonym in evaluate(session, hasher(session, "VARCHAR"), EMAILS, "VARCHAR"):
        assert isinstance(pseudonym, str)
        assert re.fullmatch(r"[0-9a-f]{32}", pseudonym), pseudonym
    assert type_of(session, hasher(session, "VARCHAR"), "x", "VARCHAR") == "VARCHAR"


@pytest.mark.parametrize("data_type", ["BIGINT", "INTEGER", "SMALLINT"])
def test_hash_keeps_integer_types(session: DuckDBSession, data_type: str) -> None:
    assert type_of(session, hasher(session, data_type), 42, data_type) == data_type


@pytest.mark.parametrize("data_type", ["BIGINT", "INTEGER"])
def test_hash_of_a_key_is_a_keyed_permutation_of_its_type(session: DuckDBSession, data_type: str) -> None:
    """INTEGER and BIGINT keys stay keys: distinct inputs give distinct pseudonyms of the same type, sign kept,
    the extremes included, and none keeps its own value."""
    limit = INTEGER_LIMITS[data_type]
    values = [0, 1, -1, 7, limit, -limit - 1, *range(100, 2100), *range(-limit - 1, -limit + 500)]
    pseudonyms = evaluate(session, hasher(session, data_type), values, data_type)
    assert pseudonymize.INTEGER_MAX[data_type] == limit
    assert all(isinstance(p, int) and -limit - 1 <= p <= limit for p in pseudonyms)
    assert len(set(pseudonyms)) == len(set(values)), "a permutation: no two keys share a pseudonym"
    assert all((p < 0) == (v < 0) for p, v in zip(pseudonyms, values, strict=True))
    assert not [v for p, v in zip(pseudonyms, values, strict=True) if p == v]
    # The whole range is used, not only its low bits: some pseudonym lands in the upper half.
    assert max(pseudonyms) > limit // 2


def test_a_key_permutation_is_the_same_in_every_table_and_depends_on_the_secret(session: DuckDBSession) -> None:
    ids = list(range(1, 300))
    users = evaluate(session, hasher(session, "BIGINT"), ids, "BIGINT", table="users", column="id")
    orders = evaluate(session, hasher(session, "BIGINT"), ids, "BIGINT", table="orders", column="user_id")
    assert users == orders, "equal keys give equal pseudonyms: joins hold"
    other_secret = exp.Literal.string("another-secret-0123456789")
    others = [
        session.fetch_all(exp.select(pseudonymize.hash_value(exp.Literal.number(i), "BIGINT", other_secret)))[0][0]
        for i in ids[:50]
    ]
    assert sum(a != b for a, b in zip(others, users[:50], strict=True)) == 50


def test_hash_of_a_small_integer_stays_in_its_range(session: DuckDBSession) -> None:
    """SMALLINT is never planned for `hash` (it is set to NULL); the function itself stays in range."""
    limit = INTEGER_LIMITS["SMALLINT"]
    pseudonyms = evaluate(session, hasher(session, "SMALLINT"), [0, 1, -1, limit, -limit - 1], "SMALLINT")
    assert all(isinstance(p, int) and 0 <= p <= limit for p in pseudonyms)


def test_hash_of_a_string_key_stays_text(session: DuckDBSession) -> None:
    """A string key such as Stripe's `cus_...` id stays a string."""
    pseudonyms = evaluate(session, hasher(session, "VARCHAR"), ["cus_001", "cus_002"], "VARCHAR")
    assert all(isinstance(p, str) for p in pseudonyms)


def test_same_value_in_two_tables_gets_the_same_pseudonym(session: DuckDBSession) -> None:
    users = evaluate(session, hasher(session, "VARCHAR"), EMAILS, "VARCHAR", table="users", column="email")
    customers = evaluate(session, hasher(session, "VARCHAR"), EMAILS, "VARCHAR", table="customers", column="contact")
    assert users == customers


def test_same_integer_in_two_tables_gets_the_same_pseudonym(session: DuckDBSession) -> None:
    ids = [3, 14, 15, 92]
    orders = evaluate(session, hasher(session, "BIGINT"), ids, "BIGINT", table="orders", column="user_id")
    events = evaluate(session, hasher(session, "BIGINT"), ids, "BIGINT", table="events", column="actor")
    assert orders == events


@pytest.mark.parametrize("data_type", ["VARCHAR", "BIGINT", "INTEGER", "SMALLINT"])
def test_hash_keeps_null(session: DuckDBSession, data_type: str) -> None:
    value = "x" if data_type == "VARCHAR" else 5
    pseudonyms = evaluate(session, hasher(session, data_type), [None, value, None], data_type)
    assert pseudonyms[0] is None and pseudonyms[2] is None
    assert pseudonyms[1] is not None


def test_hash_keeps_distinct_text_values_distinct(session: DuckDBSession) -> None:
    values = [f"user{i}@example.com" for i in range(5000)]
    pseudonyms = evaluate(session, hasher(session, "VARCHAR"), values, "VARCHAR")
    assert len(set(pseudonyms)) == len(values)


def test_hash_keeps_distinct_bigint_values_distinct(session: DuckDBSession) -> None:
    values = list(range(1, 5001))
    pseudonyms = evaluate(session, hasher(session, "BIGINT"), values, "BIGINT")
    assert len(set(pseudonyms)) == len(values)


def test_session_secret_matches_getvariable_set_by_a_bound_parameter() -> None:
    """The session's secret expression is `getvariable(...)` on a variable set by a bind parameter."""
    connection = duckdb.connect(":memory:")
    try:
        connection.execute(f"SET VARIABLE {SECRET_VARIABLE} = ?", [SECRET])
        secret = exp.Anonymous(this="getvariable", expressions=[exp.Literal.string(SECRET_VARIABLE)])
        raw = connection.execute(
            exp.select(pseudonymize.hash_value(exp.Literal.string("alice@example.com"), "VARCHAR", secret)).sql(
                dialect="duckdb"
            )
        ).fetchone()[0]
        session = DuckDBSession(connection)
        via_session = evaluate(session, hasher(session, "VARCHAR"), ["alice@example.com"], "VARCHAR")[0]
    finally:
        connection.close()
    assert raw == via_session


def test_rendered_sql_never_contains_the_secret(session: DuckDBSession) -> None:
    secret = session.secret_expression()
    expressions = [
        pseudonymize.hash_value(exp.column("v"), "VARCHAR", secret),
        pseudonymize.hash_value(exp.column("v"), "BIGINT", secret),
        *(pseudonymize.fake_value(exp.column("v"), kind, secret) for kind in FakeKind),
    ]
    for expression in expressions:
        assert SECRET not in expression.sql(dialect="duckdb")
    evaluate(session, hasher(session, "VARCHAR"), EMAILS, "VARCHAR")
    evaluate(session, faker(session, FakeKind.EMAIL), EMAILS, "VARCHAR")
    assert session.statements  # the SET VARIABLE and the queries were all recorded...
    assert not [statement for statement in session.statements if SECRET in statement]  # ...without the secret


# ------------------------------------------------------------------------------------------ mask


def test_mask_email_domain_keeps_only_the_domain(session: DuckDBSession) -> None:
    masked = evaluate(session, masker(MaskStyle.EMAIL_DOMAIN), EMAILS, "VARCHAR")
    assert masked == ["***@" + email.split("@", 1)[1] for email in EMAILS]


@pytest.mark.parametrize(("style", "keep"), [(MaskStyle.LAST2, 2), (MaskStyle.LAST4, 4)])
def test_mask_keeps_the_last_characters_and_the_length(session: DuckDBSession, style: MaskStyle, keep: int) -> None:
    values = ["4242424242424242", "+1 212-555-0147", "12345"]
    masked = evaluate(session, masker(style), values, "VARCHAR")
    assert masked == ["*" * (len(value) - keep) + value[-keep:] for value in values]


@pytest.mark.parametrize(("style", "keep"), [(MaskStyle.LAST2, 2), (MaskStyle.LAST4, 4)])
def test_mask_stars_short_values_entirely(session: DuckDBSession, style: MaskStyle, keep: int) -> None:
    values = ["x" * length for length in range(keep + 1)]
    masked = evaluate(session, masker(style), values, "VARCHAR")
    assert masked == ["*" * len(value) for value in values]


@pytest.mark.parametrize("style", list(MaskStyle))
def test_mask_keeps_null(session: DuckDBSession, style: MaskStyle) -> None:
    assert evaluate(session, masker(style), [None], "VARCHAR") == [None]


# ------------------------------------------------------------------------------------------ fake

FAKE_INPUTS = [f"seed value {i}" for i in range(1000)]


@pytest.fixture(scope="module")
def fakes(session: DuckDBSession) -> dict[FakeKind, list[str]]:
    """Every kind's fakes of FAKE_INPUTS, computed once: fake expressions are large to compile."""
    return {kind: evaluate(session, faker(session, kind), FAKE_INPUTS, "VARCHAR") for kind in FakeKind}


@pytest.mark.parametrize("kind", list(FakeKind))
def test_fake_is_a_non_empty_string(fakes: dict[FakeKind, list[str]], kind: FakeKind) -> None:
    assert all(isinstance(fake, str) and fake.strip() for fake in fakes[kind])
    assert len(set(fakes[kind])) > 1


@pytest.mark.parametrize("kind", list(FakeKind))
def test_fake_is_deterministic_and_keeps_null(
    session: DuckDBSession, fakes: dict[FakeKind, list[str]], kind: FakeKind
) -> None:
    again = evaluate(session, faker(session, kind), [None, *FAKE_INPUTS[:200]], "VARCHAR")
    assert again == [None, *fakes[kind][:200]]


@pytest.mark.parametrize("kind", list(FakeKind))
def test_fake_depends_on_the_secret(
    other_session: DuckDBSession, fakes: dict[FakeKind, list[str]], kind: FakeKind
) -> None:
    theirs = evaluate(other_session, faker(other_session, kind), FAKE_INPUTS[:50], "VARCHAR")
    assert theirs != fakes[kind][:50]


@pytest.mark.parametrize(("kind", "words"), [(FakeKind.FIRST_NAME, "first_name"), (FakeKind.LAST_NAME, "last_name")])
def test_fake_never_returns_its_input_over_the_whole_vocabulary(
    session: DuckDBSession, kind: FakeKind, words: str
) -> None:
    vocabulary = pseudonymize.vocabulary(words)
    fakes = evaluate(session, faker(session, kind), vocabulary, "VARCHAR")
    assert all(fake in vocabulary for fake in fakes)
    assert [word for word, fake in zip(vocabulary, fakes, strict=True) if word == fake] == []


@pytest.mark.parametrize("kind", list(FakeKind))
def test_fake_never_returns_its_input_when_inputs_are_fakes(
    session: DuckDBSession, fakes: dict[FakeKind, list[str]], kind: FakeKind
) -> None:
    """Inputs drawn from the fake's own output space: a real value can look exactly like a fake."""
    inputs = fakes[kind]
    refakes = evaluate(session, faker(session, kind), inputs, "VARCHAR")
    assert [value for value, fake in zip(inputs, refakes, strict=True) if value == fake] == []


def test_fake_can_draw_every_word(session: DuckDBSession) -> None:
    """Indexes cover the whole vocabulary: the first and last words are reachable, nothing past the end."""
    vocabulary = pseudonymize.vocabulary("company_suffix")
    values = [f"company {i}" for i in range(300)]
    companies = evaluate(session, faker(session, FakeKind.COMPANY), values, "VARCHAR")
    assert all(company is not None for company in companies)
    drawn = {suffix for suffix in vocabulary if any(company.endswith(f" {suffix}") for company in companies)}
    assert drawn == set(vocabulary)


def test_fake_moves_a_name_that_would_be_drawn_unchanged() -> None:
    """Exercise the guard: find inputs whose first draw is the input itself, and check they still change."""
    vocabulary = pseudonymize.vocabulary("first_name")
    column = exp.column("v", quoted=True)
    connection = duckdb.connect(":memory:")
    try:
        session = DuckDBSession(connection)
        load(session, vocabulary, "VARCHAR")
        fixed_points: list[tuple[str, str]] = []
        for attempt in range(20):
            session.set_secret(f"{SECRET}-{attempt}")
            secret = session.secret_expression()
            slices = [pseudonymize._digest_slice(pseudonymize.keyed_digest(column, secret), i) for i in range(4)]
            first_draw = pseudonymize._fake_parts(FakeKind.FIRST_NAME, slices, shift=0)
            fake = pseudonymize.fake_value(column, FakeKind.FIRST_NAME, secret)
            select = exp.select(column, fake).from_("t").where(exp.EQ(this=first_draw, expression=column.copy()))
            fixed_points = session.fetch_all(select)
            if fixed_points:
                break
    finally:
        connection.close()
    assert fixed_points, "no secret produced a fixed point; the guard was not exercised"
    assert all(fake != word and fake in vocabulary for word, fake in fixed_points)


@pytest.mark.parametrize("kind", list(FAKE_PATTERNS))
def test_fake_email_and_phone_look_like_what_they_fake(
    session: DuckDBSession, fakes: dict[FakeKind, list[str]], kind: FakeKind
) -> None:
    assert all(matches(session, fakes[kind], PATTERNS[FAKE_PATTERNS[kind]]))


def test_fake_emails_use_reserved_domains(fakes: dict[FakeKind, list[str]]) -> None:
    assert {fake.rsplit("@", 1)[1] for fake in fakes[FakeKind.EMAIL]} == {"example.com", "example.net", "example.org"}


def test_fake_phones_use_the_fictional_range(fakes: dict[FakeKind, list[str]]) -> None:
    assert all(re.fullmatch(r"\+1 [2-9]\d\d-555-01\d\d", fake) for fake in fakes[FakeKind.PHONE])


@pytest.mark.parametrize("kind", [kind for kind in FakeKind if kind not in FAKE_PATTERNS])
def test_other_fakes_match_no_pattern(session: DuckDBSession, fakes: dict[FakeKind, list[str]], kind: FakeKind) -> None:
    for pattern, regex in PATTERNS.items():
        hits = [fake for fake, hit in zip(fakes[kind], matches(session, fakes[kind], regex), strict=True) if hit]
        assert hits == [], f"{kind.value} fakes look like {pattern.value}"


# ------------------------------------------------------------------------------------------ null


@pytest.mark.parametrize("data_type", ["VARCHAR", "BIGINT", "DATE", "DECIMAL(10,2)", "TIMESTAMP"])
def test_null_keeps_the_type(session: DuckDBSession, data_type: str) -> None:
    assert evaluate(session, lambda _: pseudonymize.null_value(data_type), [1], "VARCHAR") == [None]
    assert type_of(session, lambda _: pseudonymize.null_value(data_type), 1, "VARCHAR") == data_type
