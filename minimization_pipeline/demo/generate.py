"""Generate the demo RAW warehouse: an app database and a Stripe export full of (fake) personal data.

Why it is built this way:

* Everything is generated inside DuckDB by set-based SQL over `range(n)`; Python only prepares a few
  small vocabularies (names, places, user agents) from Faker's provider data. A million users take
  seconds instead of the minutes a per-row Python loop would.
* The output is a pure function of `(users, seed)`. Pseudo-random numbers come from hashing a row key
  with a salt, never from `random()`, so two runs give identical table contents and tests are stable.
  DuckDB's variadic `hash(a, b)` is just `hash(a) XOR hash(b)`, so values drawn with different salts
  would be correlated bit for bit; `_bits` therefore re-hashes after mixing in the salt.
* The data are deliberately realistic and correlated, because the pipeline's job (pseudonymization,
  k-anonymity) only shows on data with real structure: zip and city agree, big places hold more users,
  most users are on the free plan, orders and events fall between signup and the anchor date, and about
  two thirds of the Stripe customers are app users under the same email and name.
* The file is written under a temporary name and renamed over `raw.duckdb` at the end, so a failed
  or interrupted run never leaves a half-written demo in place of a good one.
* Progress (stderr, one line per table plus one every ~2 s, see `minimization_pipeline.progress`): a table is
  one or a few long set-based statements, not chunks, so the builders return their SQL and `_build_table`
  runs it while a watcher turns DuckDB's estimate of the running statement's progress into rows done. The
  SQL itself is untouched by this, so the output does not depend on whether progress is shown.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import os
import pathlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence

import duckdb
import pandas as pd
from faker import Faker
from faker.providers.address.en_US import Provider as AddressProvider
from faker.providers.person.en_US import Provider as PersonProvider

from minimization_pipeline.progress import Progress, progress_enabled

RAW_FILE = "raw.duckdb"
RAW_ALIAS = "raw"

#: All timestamps lie before this instant (UTC, stored as naive TIMESTAMP like most app databases).
ANCHOR = dt.datetime(2026, 11, 1)
ANCHOR_S = calendar.timegm(ANCHOR.timetuple())
#: Users signed up within the three years before the anchor.
SIGNUP_SPAN_S = 3 * 365 * 86_400
START_S = ANCHOR_S - SIGNUP_SPAN_S
DAY_S = 86_400

#: Expected rows per user / per customer ("about", the exact counts follow from the seed).
EVENTS_PER_USER = 10.0
ORDERS_PER_USER = 3.0
CHARGES_PER_CUSTOMER = 1.5
#: Stripe customers who are not app users, per user; with ~40 % of users linked this makes ~0.6
#: customers per user of whom about two thirds are app users.
OTHER_CUSTOMERS_PER_USER = 0.2
#: Per-key cap on expanded rows; row keys are `parent * KEY_STRIDE + seq`, so seq must stay below it.
MAX_CHILDREN = 1_000
KEY_STRIDE = 1_024

#: (plan, monthly price, description, share of users, chance that such a user is a Stripe customer).
PLANS: tuple[tuple[str, str, str, float, float], ...] = (
    ("free", "0.00", "Dashboards and reports for individuals exploring their own data.", 0.70, 0.164),
    ("starter", "19.00", "Shared workspaces and scheduled reports for small teams.", 0.18, 0.95),
    ("pro", "79.00", "Advanced analytics, alerts and priority support for growing teams.", 0.09, 0.95),
    ("enterprise", "399.00", "Single sign-on, audit logs and a dedicated success manager.", 0.03, 0.95),
)
#: Expected Stripe customers per user: the Stripe-only people plus each plan's share times its customer chance.
CUSTOMERS_PER_USER = OTHER_CUSTOMERS_PER_USER + sum(share * chance for *_, share, chance in PLANS)

#: Email domains weighted by rough US popularity: Faker's en_US `free_email_domains` (gmail, yahoo,
#: hotmail) plus the other big providers, so domains are not a near-unique quasi-identifier.
EMAIL_DOMAINS: dict[str, float] = {
    "gmail.com": 45.0,
    "yahoo.com": 13.0,
    "hotmail.com": 8.0,
    "outlook.com": 9.0,
    "icloud.com": 10.0,
    "aol.com": 4.0,
    "comcast.net": 3.0,
    "msn.com": 2.0,
    "live.com": 2.0,
    "att.net": 2.0,
    "protonmail.com": 2.0,
}

#: Countries of Stripe customers outside the US (ISO-2, from Faker's `alpha_2_country_codes`).
FOREIGN_COUNTRIES: dict[str, float] = {
    "CA": 30.0,
    "GB": 25.0,
    "DE": 12.0,
    "FR": 9.0,
    "AU": 8.0,
    "NL": 5.0,
    "IE": 4.0,
    "ES": 4.0,
    "IT": 3.0,
}
EURO_COUNTRIES = ("DE", "FR", "NL", "IE", "ES", "IT")
US_SHARE_LINKED = 0.97
US_SHARE_OTHERS = 0.75

CARD_BRANDS: dict[str, float] = {"visa": 52.0, "mastercard": 28.0, "amex": 12.0, "discover": 8.0}

#: Current user agent shapes with their rough traffic share; {chrome} etc. are filled per vocabulary entry.
USER_AGENT_TEMPLATES: dict[str, float] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{chrome}.0.0.0 Safari/537.36": 26.0,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{chrome}.0.0.0 Safari/537.36": 10.0,
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36": 3.0,
    "Mozilla/5.0 (Linux; Android {android}; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{chrome}.0.0.0 Mobile Safari/537.36": 17.0,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{chrome}.0.0.0 Safari/537.36 Edg/{chrome}.0.0.0": 7.0,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{firefox}.0) Gecko/20100101 Firefox/{firefox}.0": 4.0,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{firefox}.0) Gecko/20100101 Firefox/{firefox}.0": 2.0,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{safari} Safari/605.1.15": 8.0,
    "Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{safari} Mobile/15E148 Safari/604.1": 20.0,
    "Mozilla/5.0 (iPad; CPU OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{safari} Mobile/15E148 Safari/604.1": 3.0,
}

PLACE_COUNT = 300
STREET_COUNT = 500
USER_AGENT_COUNT = 40

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

#: Final tables: exact column names and DuckDB types, in order.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "app.users": (
        ("id", "BIGINT"),
        ("email", "VARCHAR"),
        ("first_name", "VARCHAR"),
        ("last_name", "VARCHAR"),
        ("phone", "VARCHAR"),
        ("birth_date", "DATE"),
        ("gender", "VARCHAR"),
        ("zip", "VARCHAR"),
        ("city", "VARCHAR"),
        ("signup_at", "TIMESTAMP"),
        ("plan", "VARCHAR"),
    ),
    "app.orders": (
        ("id", "BIGINT"),
        ("user_id", "BIGINT"),
        ("ordered_at", "TIMESTAMP"),
        ("amount", "DECIMAL(10,2)"),
        ("status", "VARCHAR"),
        ("shipping_zip", "VARCHAR"),
    ),
    "app.events": (
        ("id", "BIGINT"),
        ("user_id", "BIGINT"),
        ("occurred_at", "TIMESTAMP"),
        ("ip_address", "VARCHAR"),
        ("user_agent", "VARCHAR"),
        ("event_type", "VARCHAR"),
    ),
    "app.plans": (
        ("plan", "VARCHAR"),
        ("monthly_price", "DECIMAL(10,2)"),
        ("description", "VARCHAR"),
    ),
    "stripe.customers": (
        ("id", "VARCHAR"),
        ("email", "VARCHAR"),
        ("name", "VARCHAR"),
        ("address_line", "VARCHAR"),
        ("country", "VARCHAR"),
    ),
    "stripe.charges": (
        ("id", "VARCHAR"),
        ("customer_id", "VARCHAR"),
        ("amount", "BIGINT"),
        ("currency", "VARCHAR"),
        ("created", "TIMESTAMP"),
        ("card_last4", "VARCHAR"),
        ("card_brand", "VARCHAR"),
    ),
}


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


#: Makes one progress reporter per table: ``progress(label, total, approximate=...)``.
ProgressFactory = Callable[..., Progress]


def generate_demo(
    data_dir: pathlib.Path, users: int = 5_000, seed: int = 7, progress: ProgressFactory | None = Progress
) -> dict[str, int]:
    """(Re)create <data_dir>/raw.duckdb with the demo sources; returns {"app.users": n, ...} row counts.

    Progress lines go to stderr by default (``MINIMIZATION_PROGRESS=0`` silences them); ``progress=None``
    generates silently, a ``functools.partial(Progress, stream=...)`` sends them elsewhere.
    """
    users, seed = int(users), int(seed)
    if users < 1:
        raise ValueError("users must be at least 1")
    data_dir = pathlib.Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / RAW_FILE
    scratch = data_dir / f".{RAW_FILE}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    _remove_database_files(scratch)
    try:
        counts = _generate_into(scratch, users, seed, progress)
        _remove_database_files(target, keep_main=True)  # a stale WAL must never replay onto the new file
        os.replace(scratch, target)
    finally:
        _remove_database_files(scratch)
    return counts


# --------------------------------------------------------------------------------------------------
# Orchestration
# --------------------------------------------------------------------------------------------------


def _generate_into(path: pathlib.Path, users: int, seed: int, progress: ProgressFactory | None) -> dict[str, int]:
    """Build all tables in `path`; the connection is closed before returning so the file can move."""
    if not progress_enabled():
        progress = None
    con = duckdb.connect(":memory:")
    try:
        # DuckDB only tracks a statement's progress with its bar on; the bar itself is never drawn
        con.execute(f"SET enable_progress_bar = {'true' if progress else 'false'}")
        con.execute("SET enable_progress_bar_print = false")
        con.execute(f"ATTACH '{_sql_literal(str(path))}' AS {RAW_ALIAS}")
        _create_macros(con, seed)
        _load_vocabularies(con, seed)
        _create_tables(con)
        counts: dict[str, int] = {}

        def build(table: str, expected: float, statements: Sequence[str], approximate: bool = True) -> None:
            counts[table] = _build_table(con, progress, table, round(expected), statements, approximate)

        build("app.plans", len(PLANS), [_insert_plans_sql()], approximate=False)
        build(
            "app.users", users, [*_people_sql(con, users), *_stage_users_sql(con, users), *_insert_users_sql()], False
        )
        intensity = _intensity(con, users)
        build("app.orders", users * ORDERS_PER_USER, _orders_sql(con, intensity))
        build("app.events", users * EVENTS_PER_USER, _events_sql(con, intensity))
        build(
            "stripe.customers",
            users * CUSTOMERS_PER_USER,
            [*_stage_customers_sql(con, users, seed), *_insert_customers_sql()],
        )
        build("stripe.charges", counts["stripe.customers"] * CHARGES_PER_CUSTOMER, _charges_sql(con, seed))
        con.execute(f"CHECKPOINT {RAW_ALIAS}")  # the file is complete without its WAL
        con.execute(f"DETACH {RAW_ALIAS}")
        return {table: counts[table] for table in TABLES}
    finally:
        con.close()


def _build_table(
    con: duckdb.DuckDBPyConnection,
    progress: ProgressFactory | None,
    table: str,
    expected: int,
    statements: Sequence[str],
    approximate: bool,
) -> int:
    """Run a table's statements (its staging included) and return its row count, reporting as it goes.

    Rows done while a statement runs are estimated from DuckDB's own progress of that statement:
    (statements finished + fraction of the running one) / statements x expected rows. Between statements
    `query_progress()` is -1, so the estimate never counts a finished statement twice. The final line
    reports the real count.
    """
    if progress is None:
        for sql in statements:
            con.execute(sql)
        return con.execute(f"SELECT count(*) FROM {RAW_ALIAS}.{table}").fetchone()[0]
    finished = 0

    def poll() -> float | None:
        percent = con.query_progress()
        return None if percent < 0 else expected * (finished + min(percent, 100.0) / 100) / len(statements)

    meter = progress(table, expected, approximate=approximate)
    with meter.watch(poll):
        for sql in statements:
            con.execute(sql)
            finished += 1
    rows = con.execute(f"SELECT count(*) FROM {RAW_ALIAS}.{table}").fetchone()[0]
    meter.finish(rows)
    return rows


def _remove_database_files(path: pathlib.Path, keep_main: bool = False) -> None:
    """Delete a database file and its write-ahead log (or only the log), if present."""
    if not keep_main:
        path.unlink(missing_ok=True)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)


def _sql_literal(text: str) -> str:
    return text.replace("'", "''")


# --------------------------------------------------------------------------------------------------
# Pseudo-randomness
# --------------------------------------------------------------------------------------------------


def _create_macros(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    """Deterministic draws keyed by (row key, salt, seed).

    `_bits` hashes the key, mixes in hash(salt, seed) and hashes again, so draws with different salts
    are independent (a plain `hash(key, seed, salt)` differs between salts only by a constant XOR).
    """
    con.execute(f"""
        CREATE MACRO _bits(k, salt) AS hash(xor(hash(k), hash(salt, {int(seed)})));
        -- uniform in the open interval (0, 1): 53 random bits plus one half
        CREATE MACRO _rnd(k, salt) AS ((_bits(k, salt) >> 11)::DOUBLE + 0.5) / 9007199254740992.0;
        CREATE MACRO _pick(k, salt, m) AS (_bits(k, salt) % m)::BIGINT;
        -- standard normal by Box-Muller, for log-normal money amounts
        CREATE MACRO _normal(k, salt) AS
            sqrt(-2 * ln(_rnd(k, salt || ':u'))) * cos(2 * pi() * _rnd(k, salt || ':v'));
        -- exponential with mean 1, for heavy-ish tailed counts per user
        CREATE MACRO _exp1(k, salt) AS -ln(_rnd(k, salt));
        -- floor(x + U) has expectation x exactly, so expected row counts are as configured
        CREATE MACRO _stoch_round(x, k, salt) AS floor(x + _rnd(k, salt))::BIGINT;
        CREATE MACRO _ts(s) AS make_timestamp((s)::BIGINT * 1000000);
        -- public-looking IPv4 from 64 random bits (first octet 1..223 without 10 and 127)
        CREATE MACRO _ipv4(h) AS
            (CASE WHEN h % 223 + 1 IN (10, 127) THEN h % 223 + 2 ELSE h % 223 + 1 END)::VARCHAR
            || '.' || ((h >> 8) % 256)::VARCHAR
            || '.' || ((h >> 16) % 256)::VARCHAR
            || '.' || ((h >> 24) % 254 + 1)::VARCHAR;
        -- residential IPv6 under prefixes of large US carriers
        CREATE MACRO _ipv6(h) AS
            ['2600', '2601', '2603', '2607'][(h % 4 + 1)::INTEGER]
            || printf(':%x:%x:%x::%x', (h >> 2) % 65536, (h >> 18) % 65536, (h >> 34) % 65536,
                      (h >> 50) % 16384 + 1);
    """)


def _base62(column: str, width: int) -> str:
    """SQL for the `width` low base-62 digits of a non-negative integer column (Stripe-like ids)."""
    digits = [f"substr('{BASE62}', 1 + ({column} // {62**i} % 62)::INTEGER, 1)" for i in reversed(range(width))]
    return " || ".join(digits)


def _scramble(column: str, width: int, seed: int, salt: int) -> str:
    """SQL for a bijection of [0, 62**width): distinct sequence numbers give distinct, random-looking ids.

    The multiplier (about the golden ratio times the modulus, so that consecutive numbers land far
    apart) is made odd and not a multiple of 31, hence coprime with 62**width. HUGEINT avoids overflow.
    """
    modulus = 62**width
    multiplier = int(modulus * 0.6180339887) | 1
    while multiplier % 31 == 0:
        multiplier += 2
    offset = (seed * 0x9E3779B97F4A7C15 + salt * 0xBF58476D1CE4E5B9) % modulus
    return f"((({column})::HUGEINT * {multiplier} + {offset}) % {modulus})"


# --------------------------------------------------------------------------------------------------
# Vocabularies (small, built in Python from Faker's provider data)
# --------------------------------------------------------------------------------------------------


def _weighted_slots(weights: Mapping[str, float], slots: int) -> list[str]:
    """Repeat each value in proportion to its weight, so a uniform slot pick follows the weights."""
    total = sum(weights.values())
    return [value for value, weight in weights.items() for _ in range(max(1, round(weight / total * slots)))]


def _register(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    con.register("_frame", frame)
    try:
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _frame")
    finally:
        con.unregister("_frame")


def _slot_frame(values: Sequence[str], column: str) -> pd.DataFrame:
    return pd.DataFrame({"slot": range(len(values)), column: list(values)})


def _load_vocabularies(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    first = pd.concat(
        [
            _slot_frame(_weighted_slots(PersonProvider.first_names_female, 5_000), "name").assign(key="female"),
            _slot_frame(_weighted_slots(PersonProvider.first_names_male, 5_000), "name").assign(key="male"),
            _slot_frame(_weighted_slots(PersonProvider.first_names_nonbinary, 5_000), "name").assign(key="any"),
        ],
        ignore_index=True,
    )
    _register(con, "v_first", first)
    _register(con, "v_last", _slot_frame(_weighted_slots(PersonProvider.last_names, 10_000), "name"))
    _register(con, "v_domain", _slot_frame(_weighted_slots(EMAIL_DOMAINS, 1_000), "domain"))
    _register(con, "v_country", _slot_frame(_weighted_slots(FOREIGN_COUNTRIES, 1_000), "country"))
    _register(con, "v_brand", _slot_frame(_weighted_slots(CARD_BRANDS, 100), "brand"))
    _register(con, "v_place", _places_frame(fake))
    _register(con, "v_street", _slot_frame(_unique(fake.street_name, STREET_COUNT), "street"))
    _register(con, "v_ua", _slot_frame(_unique(lambda: _user_agent(fake), USER_AGENT_COUNT), "user_agent"))


def _unique(make: Callable[[], str], count: int) -> list[str]:
    """`count` distinct values from a seeded Faker method, in generation order (deterministic)."""
    values: dict[str, None] = {}
    while len(values) < count:
        values[make()] = None
    return list(values)


def _user_agent(fake: Faker) -> str:
    """A current browser UA string; Faker's own user agents are mostly decades-old browsers."""
    template = fake.random.choices(list(USER_AGENT_TEMPLATES), weights=list(USER_AGENT_TEMPLATES.values()))[0]
    ios_major, ios_minor = fake.random.randint(16, 18), fake.random.randint(0, 6)
    return template.format(
        chrome=fake.random.randint(118, 131),
        firefox=fake.random.randint(115, 133),
        android=fake.random.randint(10, 14),
        ios=f"{ios_major}_{ios_minor}",
        safari=f"{ios_major}.{ios_minor}",
    )


def _places_frame(fake: Faker) -> pd.DataFrame:
    """Slots of ~300 places: distinct 3-digit zip prefixes, a city each, Zipf-like populations.

    Every place owns its prefix, so a 5-digit zip always maps to one city. Big places get more slots
    (users) and more distinct zips; zips stay inside the state's range from Faker's `states_postcode`.
    """
    ranges = {
        state: bounds
        for state, bounds in AddressProvider.states_postcode.items()
        if state in AddressProvider.states_abbr or state == "DC"
    }
    spans: dict[int, tuple[int, int]] = {}  # prefix -> (first zip, last zip) inside one state's range
    for lo, hi in sorted(ranges.values()):
        for prefix in range(lo // 100, hi // 100 + 1):
            first_zip, last_zip = max(prefix * 100 + 1, lo), min(prefix * 100 + 99, hi)
            if first_zip <= last_zip:
                spans.setdefault(prefix, (first_zip, last_zip))
    chosen = fake.random.sample(sorted(spans), PLACE_COUNT)
    rows = []
    for rank, prefix in enumerate(chosen, start=1):
        first_zip, last_zip = spans[prefix]
        available = last_zip - first_zip + 1
        population = 1.0 / rank**0.9
        rows.append(
            {
                "city": fake.unique.city(),
                "zip_base": first_zip,
                "zip_count": max(1, min(available, round(100 * population**0.6))),
                "area_code": _area_code(fake),
                "population": population,
            }
        )
    places = pd.DataFrame(rows)
    slots = (places["population"] / places["population"].sum() * 20_000).round().clip(lower=1).astype(int)
    frame = places.loc[places.index.repeat(slots)].drop(columns="population").reset_index(drop=True)
    frame.insert(0, "slot", range(len(frame)))
    return frame


def _area_code(fake: Faker) -> str:
    """A NANP-shaped area code: first digit 2-9, second not 9, not an N11 service code."""
    while True:
        code = f"{fake.random.randint(2, 9)}{fake.random.randint(0, 8)}{fake.random.randint(0, 9)}"
        if code[1:] != "11":
            return code


def _slot_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# --------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------


def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
    for schema in sorted({table.split(".")[0] for table in TABLES}):
        con.execute(f"CREATE SCHEMA {RAW_ALIAS}.{schema}")
    for table, columns in TABLES.items():
        column_sql = ", ".join(f"{name} {sql_type}" for name, sql_type in columns)
        con.execute(f"CREATE TABLE {RAW_ALIAS}.{table} ({column_sql})")


def _insert_plans_sql() -> str:
    values = ", ".join(
        f"('{_sql_literal(plan)}', {price}::DECIMAL(10,2), '{_sql_literal(description)}')"
        for plan, price, description, _, _ in PLANS
    )
    return f"INSERT INTO {RAW_ALIAS}.app.plans VALUES {values}"


def _people_sql(con: duckdb.DuckDBPyConnection, users: int) -> list[str]:
    """Everyone with a name and an email: ids 1..users are app users, the rest Stripe-only customers.

    The email ends in the person's id right before the '@' and the local part before it ends in a
    letter, so emails are unique by construction, across app users and Stripe-only people alike.
    """
    people = users + round(users * OTHER_CUSTOMERS_PER_USER)
    first_slots = dict(con.execute("SELECT key, count(*) FROM v_first GROUP BY key").fetchall())
    create = f"""
        CREATE TABLE people AS
        WITH drawn AS (
            SELECT
                range + 1 AS id,
                _rnd(id, 'gender') AS r_gender,
                CASE
                    WHEN r_gender < 0.010 THEN NULL
                    WHEN r_gender < 0.025 THEN 'nonbinary'
                    WHEN r_gender < 0.515 THEN 'female'
                    ELSE 'male'
                END AS gender,
                CASE gender WHEN 'female' THEN 'female' WHEN 'male' THEN 'male' ELSE 'any' END AS name_key,
                _pick(id, 'first_name', CASE name_key
                    WHEN 'female' THEN {first_slots["female"]}
                    WHEN 'male' THEN {first_slots["male"]}
                    ELSE {first_slots["any"]} END) AS first_slot,
                _pick(id, 'last_name', {_slot_count(con, "v_last")}) AS last_slot,
                _pick(id, 'email_domain', {_slot_count(con, "v_domain")}) AS domain_slot,
                _rnd(id, 'email_format') AS r_format
            FROM range({people})
        ),
        named AS (
            SELECT d.id, d.gender, f.name AS first_name, l.name AS last_name, dom.domain, d.r_format
            FROM drawn AS d
            JOIN v_first AS f ON f.key = d.name_key AND f.slot = d.first_slot
            JOIN v_last AS l ON l.slot = d.last_slot
            JOIN v_domain AS dom ON dom.slot = d.domain_slot
        )
        SELECT
            id,
            gender,
            first_name,
            last_name,
            lower(CASE
                WHEN r_format < 0.45 THEN first_name || '.' || last_name
                WHEN r_format < 0.65 THEN first_name || last_name
                WHEN r_format < 0.75 THEN first_name || '_' || last_name
                WHEN r_format < 0.90 THEN left(first_name, 1) || last_name
                ELSE last_name || '.' || first_name
            END) || id::VARCHAR || '@' || domain AS email
        FROM named
    """
    return [create]


def _plan_case(column: str, index: int) -> str:
    """SQL CASE mapping a plan name to a per-plan constant from PLANS (fixed values, no input)."""
    whens = " ".join(f"WHEN '{row[0]}' THEN {row[index]}" for row in PLANS)
    return f"CASE {column} {whens} END"


def _plan_draw(column: str) -> str:
    """SQL CASE turning a uniform draw into a plan with the configured shares (most users free)."""
    whens, cumulative = [], 0.0
    for plan, *_, share, _ in PLANS[:-1]:
        cumulative += share
        whens.append(f"WHEN {column} < {cumulative:.6f} THEN '{plan}'")
    return f"CASE {' '.join(whens)} ELSE '{PLANS[-1][0]}' END"


def _stage_users_sql(con: duckdb.DuckDBPyConnection, users: int) -> list[str]:
    """App users plus the hidden per-user traits (tenure, activity, customer flag) other tables use.

    Signups grow over time and ids follow signup order like an auto-increment key.
    """
    place_slots = _slot_count(con, "v_place")
    stage = f"""
        CREATE TABLE stage_users AS
        WITH drawn AS (
            SELECT
                p.*,
                least({ANCHOR_S - 3_600}, greatest({START_S},
                    {START_S} + floor(pow((p.id - 0.5) / {users}, 1 / 1.4) * {SIGNUP_SPAN_S})::BIGINT
                    + floor((_rnd(p.id, 'signup_jitter') - 0.5) * 7200)::BIGINT)) AS signup_s,
                {ANCHOR_S} - signup_s AS tenure_s,
                _pick(p.id, 'place', {place_slots}) AS place_slot,
                _rnd(p.id, 'birth_missing') < 0.005 AS birth_missing,
                floor((18 + 68 * pow(_rnd(p.id, 'age'), 1.35)) * 365.25)::INTEGER AS age_days,
                200 + _pick(p.id, 'exchange', 800) AS exchange_raw,
                {_plan_draw("_rnd(p.id, 'plan')")} AS plan
            FROM people AS p
            WHERE p.id <= {users}
        )
        SELECT
            d.id,
            d.email,
            d.first_name,
            d.last_name,
            '+1 ' || pl.area_code || '-'
                || (CASE WHEN d.exchange_raw % 100 = 11 THEN d.exchange_raw + 1 ELSE d.exchange_raw END)::VARCHAR
                || '-' || lpad(_pick(d.id, 'line', 10000)::VARCHAR, 4, '0') AS phone,
            CASE WHEN NOT d.birth_missing THEN _ts(d.signup_s)::DATE - d.age_days END AS birth_date,
            d.gender,
            lpad((pl.zip_base + _pick(d.id, 'zip', pl.zip_count))::VARCHAR, 5, '0') AS zip,
            pl.city,
            d.signup_s,
            d.tenure_s,
            d.plan,
            0.3 + 1.4 * _rnd(d.id, 'activity') AS activity,
            _rnd(d.id, 'stripe') < {_plan_case("d.plan", 4)} AS is_customer
        FROM drawn AS d
        JOIN v_place AS pl ON pl.slot = d.place_slot
    """
    return [stage]


def _insert_users_sql() -> list[str]:
    insert = f"""
        INSERT INTO {RAW_ALIAS}.app.users BY NAME
        SELECT id, email, first_name, last_name, phone, birth_date, gender, zip, city,
               _ts(signup_s) AS signup_at, plan
        FROM stage_users
        ORDER BY id
    """
    return [insert]


def _intensity(con: duckdb.DuckDBPyConnection, users: int) -> str:
    """SQL for a user's expected share of activity: tenure (normalized to mean 1) times activity.

    The normalizer comes from an exact integer sum, so it does not depend on parallel float addition.
    """
    total_tenure = con.execute("SELECT sum(tenure_s) FROM stage_users").fetchone()[0]
    return f"(tenure_s * {users / int(total_tenure)!r} * activity)"


def _children(parent_key: str, per_parent: str, salt: str) -> str:
    """SQL for the number of child rows of a parent: exponential around `per_parent`, capped."""
    return (
        f"least({MAX_CHILDREN}, _stoch_round(({per_parent}) * _exp1({parent_key}, '{salt}'), "
        f"{parent_key}, '{salt}:round'))"
    )


def _sql_list(values: Sequence[str]) -> str:
    """A DuckDB list literal of fixed vocabulary strings (indexing it keeps row order, unlike a join)."""
    return "[" + ", ".join(f"'{_sql_literal(value)}'" for value in values) + "]"


def _orders_sql(con: duckdb.DuckDBPyConnection, intensity: str) -> list[str]:
    """~3 orders per user between signup and the anchor; ids follow order time like a real sequence.

    Rows are drawn and sorted by time into a narrow staging table; its rowid then is the order id, so
    no window function has to number millions of rows.
    """
    place_slots = _slot_count(con, "v_place")
    stage = f"""
        CREATE TABLE stage_orders AS
        WITH expanded AS (
            SELECT id AS user_id, zip, signup_s, tenure_s,
                   unnest(range({_children("id", f"{ORDERS_PER_USER} * {intensity}", "n_orders")})) AS seq
            FROM stage_users
        ),
        drawn AS (
            SELECT
                e.*,
                e.user_id * {KEY_STRIDE} + e.seq AS k,
                e.signup_s + 1 + floor(_rnd(k, 'ordered_at') * (e.tenure_s - 2))::BIGINT AS ordered_s
            FROM expanded AS e
        )
        SELECT
            d.user_id,
            d.seq,
            d.k,
            d.ordered_s,
            CASE WHEN _rnd(d.k, 'ship_elsewhere') < 0.08
                 THEN lpad((pl.zip_base + _pick(d.k, 'ship_zip', pl.zip_count))::VARCHAR, 5, '0')
                 ELSE d.zip END AS shipping_zip
        FROM drawn AS d
        JOIN v_place AS pl ON pl.slot = _pick(d.k, 'ship_place', {place_slots})
        ORDER BY d.ordered_s, d.user_id, d.seq
    """
    insert = f"""
        INSERT INTO {RAW_ALIAS}.app.orders BY NAME
        SELECT
            rowid + 1 AS id,
            user_id,
            _ts(ordered_s) AS ordered_at,
            least(9999.99, greatest(1.00, round(exp(3.6 + 0.75 * _normal(k, 'amount')), 2)))::DECIMAL(10,2)
                AS amount,
            CASE
                WHEN {ANCHOR_S} - ordered_s < 2 * {DAY_S}
                    THEN CASE WHEN _rnd(k, 'status') < 0.92 THEN 'placed' ELSE 'cancelled' END
                WHEN {ANCHOR_S} - ordered_s < 7 * {DAY_S}
                    THEN CASE WHEN _rnd(k, 'status') < 0.80 THEN 'shipped'
                              WHEN _rnd(k, 'status') < 0.95 THEN 'delivered' ELSE 'cancelled' END
                WHEN _rnd(k, 'status') < 0.87 THEN 'delivered'
                WHEN _rnd(k, 'status') < 0.93 THEN 'returned'
                ELSE 'cancelled'
            END AS status,
            shipping_zip
        FROM stage_orders
    """
    return [stage, insert]


def _events_sql(con: duckdb.DuckDBPyConnection, intensity: str) -> list[str]:
    """~10 events per user; a user keeps a home IP and one browser, with some mobile and roaming use.

    Like orders, events are sorted by time in a narrow table whose rowid becomes the id. The wide
    strings (IPs, user agents) are computed only in the final, order-preserving pass; IPs are pure
    functions of the user (home, mobile) or the event (roaming), so no join is needed.
    """
    user_agents = con.execute("SELECT list(user_agent ORDER BY slot) FROM v_ua").fetchone()[0]
    stage = f"""
        CREATE TABLE stage_events AS
        WITH expanded AS (
            SELECT id AS user_id, signup_s, tenure_s,
                   unnest(range({_children("id", f"{EVENTS_PER_USER} * {intensity}", "n_events")})) AS seq
            FROM stage_users
        )
        SELECT
            user_id,
            seq,
            user_id * {KEY_STRIDE} + seq AS k,
            signup_s + 1 + floor(_rnd(k, 'occurred_at') * (tenure_s - 2))::BIGINT AS occurred_s
        FROM expanded
        ORDER BY occurred_s, user_id, seq
    """
    insert = f"""
        INSERT INTO {RAW_ALIAS}.app.events BY NAME
        SELECT
            rowid + 1 AS id,
            user_id,
            _ts(occurred_s) AS occurred_at,
            CASE
                WHEN _rnd(k, 'ip_source') < 0.80 THEN
                    CASE WHEN _rnd(user_id, 'ipv6') < 0.03 THEN _ipv6(_bits(user_id, 'home_ip'))
                         ELSE _ipv4(_bits(user_id, 'home_ip')) END
                WHEN _rnd(k, 'ip_source') < 0.95 THEN _ipv4(_bits(user_id, 'mobile_ip'))
                ELSE _ipv4(_bits(k, 'roaming_ip'))
            END AS ip_address,
            {_sql_list(user_agents)}[1 + CASE WHEN _rnd(k, 'other_device') < 0.10
                                              THEN _pick(k, 'user_agent', {len(user_agents)})
                                              ELSE _pick(user_id, 'user_agent', {len(user_agents)}) END]
                AS user_agent,
            CASE
                WHEN _rnd(k, 'event_type') < 0.55 THEN 'page_view'
                WHEN _rnd(k, 'event_type') < 0.80 THEN 'click'
                WHEN _rnd(k, 'event_type') < 0.88 THEN 'add_to_cart'
                WHEN _rnd(k, 'event_type') < 0.91 THEN 'purchase'
                WHEN _rnd(k, 'event_type') < 0.97 THEN 'login'
                ELSE 'logout'
            END AS event_type
        FROM stage_events
    """
    return [stage, insert]


def _stage_customers_sql(con: duckdb.DuckDBPyConnection, users: int, seed: int) -> list[str]:
    """Stripe customers: linked app users (same email and name) and Stripe-only people.

    A linked customer is created within 90 days of signup; paying plans are almost always linked.
    Customers are numbered by creation (`seq`), which feeds a bijection, so Stripe ids are unique by
    construction.
    """
    sort = f"""
        CREATE TABLE sorted_customers AS
        WITH persons AS (
            SELECT id AS person_id, email, first_name || ' ' || last_name AS name, plan, TRUE AS linked,
                   signup_s + _pick(id, 'customer_delay', least(tenure_s, 90 * {DAY_S})) AS created_s
            FROM stage_users
            WHERE is_customer
            UNION ALL
            SELECT id, email, first_name || ' ' || last_name, NULL, FALSE,
                   {START_S} + _pick(id, 'customer_created', {SIGNUP_SPAN_S})
            FROM people
            WHERE id > {users}
        )
        SELECT
            p.*,
            -- house numbers 10..19952, log-uniform: shorter numbers are the more common ones
            floor(pow(10, 1 + 3.3 * _rnd(p.person_id, 'house_number')))::BIGINT::VARCHAR || ' ' || st.street
                AS address_line,
            CASE WHEN _rnd(p.person_id, 'abroad') < CASE WHEN p.linked THEN {US_SHARE_LINKED}
                                                           ELSE {US_SHARE_OTHERS} END
                 THEN 'US' ELSE c.country END AS country,
            b.brand AS card_brand,
            lpad(_pick(p.person_id, 'card_last4', 10000)::VARCHAR, 4, '0') AS card_last4
        FROM persons AS p
        JOIN v_street AS st ON st.slot = _pick(p.person_id, 'street', {STREET_COUNT})
        JOIN v_country AS c ON c.slot = _pick(p.person_id, 'country', {_slot_count(con, "v_country")})
        JOIN v_brand AS b ON b.slot = _pick(p.person_id, 'card_brand', {_slot_count(con, "v_brand")})
        ORDER BY p.created_s, p.person_id
    """
    stage = f"""
        CREATE TABLE stage_customers AS
        WITH numbered AS (
            SELECT rowid AS seq, _bits(person_id, 'customer_id') AS id_bits, * FROM sorted_customers
        )
        SELECT
            'cus_' || {_base62("id_bits", 7)} || {_base62(_scramble("seq", 7, seed, 1), 7)} AS id,
            * EXCLUDE (id_bits)
        FROM numbered
    """
    return [sort, stage]


def _insert_customers_sql() -> list[str]:
    insert = f"""
        INSERT INTO {RAW_ALIAS}.stripe.customers BY NAME
        SELECT id, email, name, address_line, country FROM stage_customers ORDER BY seq
    """
    return [insert]


def _charges_sql(con: duckdb.DuckDBPyConnection, seed: int) -> list[str]:
    """~1.5 charges per customer after the customer's creation; subscriptions charge the plan price.

    Currency follows the customer's country; a customer mostly pays with one card.
    """
    euro = ", ".join(f"'{code}'" for code in EURO_COUNTRIES)
    stage = f"""
        CREATE TABLE stage_charges AS
        WITH expanded AS (
            SELECT id AS customer_id, seq AS customer_seq, plan, country, created_s, card_brand, card_last4,
                   unnest(range({_children("person_id", str(CHARGES_PER_CUSTOMER), "n_charges")})) AS n
            FROM stage_customers
        ),
        drawn AS (
            SELECT
                e.* EXCLUDE (created_s),
                e.customer_seq * {KEY_STRIDE} + e.n AS k,
                e.created_s + floor(_rnd(k, 'charged_at') * ({ANCHOR_S} - e.created_s - 1))::BIGINT
                    AS charged_s,
                _rnd(k, 'other_card') < 0.15 AS other_card
            FROM expanded AS e
        )
        SELECT
            d.* EXCLUDE (card_brand, card_last4, other_card),
            CASE WHEN d.other_card THEN lpad(_pick(d.k, 'card_last4', 10000)::VARCHAR, 4, '0')
                 ELSE d.card_last4 END AS card_last4,
            CASE WHEN d.other_card THEN b.brand ELSE d.card_brand END AS card_brand
        FROM drawn AS d
        JOIN v_brand AS b ON b.slot = _pick(d.k, 'card_brand', {_slot_count(con, "v_brand")})
        ORDER BY d.charged_s, d.customer_seq, d.n
    """
    insert = f"""
        INSERT INTO {RAW_ALIAS}.stripe.charges BY NAME
        WITH numbered AS (
            SELECT rowid AS charge_seq, _bits(k, 'charge_id_a') AS id_a, _bits(k, 'charge_id_b') AS id_b, *
            FROM stage_charges
        )
        SELECT
            'ch_' || {_base62("id_a", 8)} || {_base62("id_b", 8)}
                || {_base62(_scramble("charge_seq", 8, seed, 2), 8)} AS id,
            customer_id,
            CASE WHEN coalesce(plan, 'free') <> 'free' AND _rnd(k, 'subscription') < 0.6
                 THEN ({_plan_case("plan", 1)} * 100)::BIGINT
                 ELSE greatest(50, round(exp(8.0 + 0.9 * _normal(k, 'charge_amount'))))::BIGINT
            END AS amount,
            CASE WHEN country = 'GB' THEN 'gbp' WHEN country IN ({euro}) THEN 'eur' ELSE 'usd' END AS currency,
            _ts(charged_s) AS created,
            card_last4,
            card_brand
        FROM numbered
    """
    return [stage, insert]


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="(Re)create <data-dir>/raw.duckdb with the demo sources.")
    parser.add_argument("--data-dir", type=pathlib.Path, required=True)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--quiet", action="store_true", help="no progress lines on stderr (also MINIMIZATION_PROGRESS=0)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = generate_demo(args.data_dir, users=args.users, seed=args.seed, progress=None if args.quiet else Progress)
    elapsed = time.perf_counter() - started
    for table, count in counts.items():
        print(f"{table:<18} {count:>12,}")
    print(f"generated {args.data_dir / RAW_FILE} in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
