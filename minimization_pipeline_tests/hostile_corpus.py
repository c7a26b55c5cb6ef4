"""A hostile corpus: RAW tables somebody else wrote, full of personal data in every type, script and shape.

Each table holds people that recur (every person's rows share their identifiers, so a value is held by 4 to 8
rows and the rare-value rule alone does not protect it) or unique rows, and a few harmless columns beside.
Every PII column is labelled with what it holds and whether it is a direct identifier (no RAW value may be
published) or a quasi-identifier (no value fewer than k RAW rows hold may be published). ``renamed()`` gives
the same tables with every PII column under a harmless-sounding name (``status``, ``code``, ``ref``, ``*_id``,
``date``, ``notes``, ``value``), the second pass of the scan.

``HELD_OUT`` tables were written after the classifier's rules and never used to tune them: recall on direct
identifiers is reported on them separately (``test_hostile_corpus.py`` prints it).

Values are deterministic: seeded Faker locales for most, hand-written lists (names in scripts Faker's lists
may not hold, addresses, formats) for the rest.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from faker import Faker

ROWS = 240
PEOPLE = 40  # each person recurs in ROWS / PEOPLE = 6 rows


@dataclass(frozen=True)
class PiiColumn:
    name: str  # the descriptive name of pass one
    harmless: str  # the name of pass two
    sql_type: str
    kind: str  # what it holds: email, phone, name, ...
    direct: bool  # direct identifier (no RAW value may appear) or quasi (no rare RAW value may appear)
    values: Callable[[random.Random, int], object]  # person index -> value


@dataclass(frozen=True)
class CorpusTable:
    schema: str
    name: str
    columns: tuple[PiiColumn, ...]
    recurring: bool = True  # people recur in several rows; else every row is its own person
    extra: tuple[tuple[str, str, Callable[[int], object]], ...] = field(default_factory=tuple)  # harmless


def _faker(locale: str, seed: int) -> Faker:
    fake = Faker(locale)
    fake.seed_instance(seed)
    return fake


def _people(locale: str, seed: int, make: Callable[[Faker], object]) -> Callable[[random.Random, int], object]:
    fake = _faker(locale, seed)
    cache = [make(fake) for _ in range(ROWS)]
    return lambda _rng, person: cache[person]


def _luhn(prefix: str, length: int, person: int) -> str:
    body = (prefix + f"{person * 7919 + 12345:0{length}d}")[: length - 1]
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return body + str((10 - total % 10) % 10)


def _ssn(person: int) -> str:
    return f"{132 + person * 7 % 500:03d}-{10 + person % 89:02d}-{1000 + person * 37 % 8999:04d}"


def _birth(person: int) -> dt.date:
    return dt.date(1940, 1, 1) + dt.timedelta(days=(person * 7877) % 24000)


#: Names written by hand (not taken from Faker's lists), in several scripts: only the held-out tables use them.
HAND_NAMES = [
    "Ngozi Okonkwo-Adebayo", "Siosaia Taufa", "Aigerim Nurlanovna", "Bolat Serikbayev", "Thandiwe Mthembu",
    "Oyelaran Adewale", "Kaveh Rostami", "Anahit Sargsyan", "Tamar Kiknadze", "Zarina Rakhimova",
    "Sipho Dlamini", "Fatoumata Diallo", "Mbali Khumalo", "Tenzin Dorje", "Pema Yangchen",
    "Амирхан Жумабеков", "Олесь Гончаренко", "Ђорђе Петровић", "Σταύρος Καραγιάννης", "Αικατερίνη Λαμπράκη",
    "سارا رضایی", "يوسف الحربي", "نور الهدى بن علي", "אביגיל רוזנברג", "נתנאל אלמוג",
    "प्रियंका देशमुख", "अनिरुद्ध कुलकर्णी", "সুমাইয়া রহমান", "தமிழ்செல்வன் முருகன்", "สมชาย ใจดี",
    "ณัฐพล ศรีสุข", "ဇော်ဝင်းထွန်း", "Phạm Thị Hồng Nhung", "Trần Quốc Bảo", "佐々木陽菜",
    "高橋健太", "欧阳娜娜", "诸葛明轩", "박서준", "최지우",
]  # fmt: skip
HAND_ADDRESSES = [
    "Ul. Marszałkowska 84/92, 00-514 Warszawa", "Calle de Alcalá 48, 28014 Madrid", "Rua Augusta 1520, São Paulo",
    "221B Baker Street, London NW1 6XE", "Vesterbrogade 31, 1620 København V", "Nevsky Prospekt 28, St Petersburg",
    "Bahnhofstrasse 12, 8001 Zürich", "Via del Corso 117, 00186 Roma", "Kärntner Straße 5, 1010 Wien",
    "1600 Pennsylvania Ave NW, Washington, DC 20500",
]  # fmt: skip


def _hand(values: list[str]) -> Callable[[random.Random, int], object]:
    return lambda _rng, person: values[person % len(values)]


def _tables() -> list[CorpusTable]:
    return [
        CorpusTable("crm", "contacts", (
            PiiColumn("email", "status", "VARCHAR", "email", True, _people("en_US", 1, lambda f: f.email())),
            PiiColumn("phone", "code", "VARCHAR", "phone", True, _people("en_US", 2, lambda f: f.phone_number())),
            PiiColumn("full_name", "ref", "VARCHAR", "name", True, _people("en_US", 3, lambda f: f.name())),
            PiiColumn("street", "notes", "VARCHAR", "address", True, _people("en_US", 4, lambda f: f.street_address())),
        ), extra=(("segment", "VARCHAR", lambda i: ["a", "b", "c"][i % 3]),)),
        CorpusTable("crm", "kunden", (
            PiiColumn("vorname", "status", "VARCHAR", "name", True, _people("de_DE", 5, lambda f: f.first_name())),
            PiiColumn("nachname", "code", "VARCHAR", "name", True, _people("de_DE", 6, lambda f: f.last_name())),
            PiiColumn("iban", "ref", "VARCHAR", "iban", True, _people("de_DE", 7, lambda f: f.iban())),
            PiiColumn("adresse", "value", "VARCHAR", "address", True,
                      _people("de_DE", 8, lambda f: f.street_address())),
        )),
        CorpusTable("crm", "clients", (
            PiiColumn("courriel", "status", "VARCHAR", "email", True, _people("fr_FR", 9, lambda f: f.free_email())),
            PiiColumn("nir", "code", "VARCHAR", "national_id", True, _people("fr_FR", 10, lambda f: f.ssn())),
            PiiColumn("nom_complet", "ref", "VARCHAR", "name", True, _people("fr_FR", 11, lambda f: f.name())),
            PiiColumn("telephone", "notes", "VARCHAR", "phone", True, _people("fr_FR", 12, lambda f: f.phone_number())),
        )),
        CorpusTable("intl", "ru_users", (
            PiiColumn("fio", "status", "VARCHAR", "name", True, _people("ru_RU", 13, lambda f: f.name())),
            PiiColumn("imya", "code", "VARCHAR", "name", True, _people("ru_RU", 14, lambda f: f.first_name())),
            PiiColumn("pochta", "ref", "VARCHAR", "email", True, _people("ru_RU", 15, lambda f: f.email())),
            PiiColumn("tel", "value", "VARCHAR", "phone", True, _people("ru_RU", 16, lambda f: f.phone_number())),
        )),
        CorpusTable("intl", "cjk_members", (
            PiiColumn("xingming", "status", "VARCHAR", "name", True, _people("zh_CN", 17, lambda f: f.name())),
            PiiColumn("shimei", "code", "VARCHAR", "name", True, _people("ja_JP", 18, lambda f: f.name())),
            PiiColumn("ireum", "ref", "VARCHAR", "name", True, _people("ko_KR", 19, lambda f: f.name())),
            PiiColumn("shouji", "value", "VARCHAR", "phone", True, _people("zh_CN", 20, lambda f: f.phone_number())),
        )),
        CorpusTable("pay", "cards", (
            PiiColumn("card_number", "status", "VARCHAR", "card", True, lambda _r, p: _luhn("4", 16, p)),
            PiiColumn("pan", "customer_id", "BIGINT", "card", True, lambda _r, p: int(_luhn("5", 16, p))),
            PiiColumn("holder", "code", "VARCHAR", "name", True, _people("en_GB", 21, lambda f: f.name())),
            PiiColumn("billing_email", "ref", "VARCHAR", "email", True, _people("en_GB", 22, lambda f: f.email())),
        ), extra=(("amount_cents", "BIGINT", lambda i: 100 + i * 37 % 9000),)),
        CorpusTable("pay", "ids_as_numbers", (
            PiiColumn("msisdn", "customer_id", "BIGINT", "phone", True, lambda _r, p: 14155550100 + p * 7919),
            PiiColumn("ssn_digits", "member_id", "INTEGER", "national_id", True,
                      lambda _r, p: int(_ssn(p).replace("-", ""))),
            PiiColumn("ssn", "code", "VARCHAR", "national_id", True, lambda _r, p: _ssn(p)),
            PiiColumn("cpf", "ref", "VARCHAR", "national_id", True, _people("pt_BR", 23, lambda f: f.cpf())),
        )),
        CorpusTable("web", "sessions", (
            PiiColumn("ip", "status", "VARCHAR", "ip", True, _people("en_US", 24, lambda f: f.ipv4_public())),
            PiiColumn("ipv6", "code", "VARCHAR", "ip", True, _people("en_US", 25, lambda f: f.ipv6())),
            PiiColumn("username", "ref", "VARCHAR", "handle", True,
                      _people("en_US", 26, lambda f: "@" + f.user_name())),
            PiiColumn("mac", "device", "VARCHAR", "mac", True, _people("en_US", 27, lambda f: f.mac_address())),
        ), extra=(("page", "VARCHAR", lambda i: ["/", "/pricing", "/docs"][i % 3]),)),
        CorpusTable("support", "tickets", (
            PiiColumn("body", "status", "VARCHAR", "free_text", True, _people(
                "en_US", 28, lambda f: f"Please call me at {f.phone_number()} or write to {f.email()}")),
            PiiColumn("payload", "value", "VARCHAR", "json", True, _people("en_US", 29, lambda f: json.dumps(
                {"customer": {"name": f.name(), "email": f.email()}, "priority": "high"}))),
            PiiColumn("signature", "code", "VARCHAR", "name", True, _people("es_ES", 30, lambda f: f.name())),
            PiiColumn("reply_to", "ref", "VARCHAR", "email", True, _people("es_ES", 31, lambda f: f.email())),
        )),
        CorpusTable("health", "patients", (
            PiiColumn("dob", "date", "DATE", "birth_date", False, lambda _r, p: _birth(p)),
            PiiColumn("born_at", "created_at", "TIMESTAMPTZ", "birth_date", False,
                      lambda _r, p: dt.datetime.combine(_birth(p), dt.time(3, p % 60), tzinfo=dt.UTC)),
            PiiColumn("lat", "value", "DOUBLE", "geo", False, lambda _r, p: round(40 + (p * 7919 % 10007) / 10007, 6)),
            PiiColumn("lon", "score", "DOUBLE", "geo", False,
                      lambda _r, p: round(-74 + (p * 104729 % 10009) / 10009, 6)),
            PiiColumn("patient_name", "ref", "VARCHAR", "name", True, _people("it_IT", 32, lambda f: f.name())),
        ), recurring=False),
        CorpusTable("health", "visits", (
            PiiColumn("codice_fiscale", "code", "VARCHAR", "national_id", True,
                      _people("it_IT", 33, lambda f: f.ssn())),
            PiiColumn("dni", "status", "VARCHAR", "national_id", True, _people("es_ES", 34, lambda f: f.nif())),
            PiiColumn("doctor_notes", "notes", "VARCHAR", "free_text", True, _people(
                "en_US", 35, lambda f: f"Patient {f.name()} (SSN {f.ssn()}) reports pain")),
            PiiColumn("email_address", "ref", "VARCHAR", "email", True, _people("it_IT", 36, lambda f: f.email())),
        )),
        # ---------------------------------------------------------------- held out: never used to tune a rule
        CorpusTable("heldout", "world_names", (
            PiiColumn("display_name", "status", "VARCHAR", "name", True, _hand(HAND_NAMES)),
            PiiColumn("contact_email", "code", "VARCHAR", "email", True,
                      lambda _r, p: f"user{p * 37}.x@mail{p % 7}.org"),
            PiiColumn("mobile", "ref", "VARCHAR", "phone", True, lambda _r, p: f"+44 7700 9{p * 7919 % 100000:05d}"),
            PiiColumn("home", "value", "VARCHAR", "address", True, _hand(HAND_ADDRESSES)),
        )),
        CorpusTable("heldout", "greek_arabic", (
            PiiColumn("onoma", "status", "VARCHAR", "name", True, _people("el_GR", 40, lambda f: f.name())),
            PiiColumn("ism", "code", "VARCHAR", "name", True, _people("ar_AA", 41, lambda f: f.name())),
            PiiColumn("naam", "ref", "VARCHAR", "name", True, _people("hi_IN", 42, lambda f: f.name())),
            PiiColumn("shem", "value", "VARCHAR", "name", True, _people("he_IL", 43, lambda f: f.name())),
        )),
        CorpusTable("heldout", "formats", (
            PiiColumn("birthday_text", "date", "VARCHAR", "birth_date", False,
                      lambda _r, p: _birth(p).strftime("%d/%m/%Y")),
            PiiColumn("latlon", "location_code", "VARCHAR", "geo", False,
                      lambda _r, p: f"{40 + (p * 7919 % 10007) / 10007:.6f},{-74 + (p * 104729 % 10009) / 10009:.6f}"),
            PiiColumn("tax_number", "member_id", "VARCHAR", "national_id", True,
                      _people("pl_PL", 44, lambda f: f.pesel())),
            PiiColumn("phone_number", "ref", "VARCHAR", "phone", True,
                      _people("pt_BR", 45, lambda f: f.phone_number())),
        ), recurring=False),
        CorpusTable("heldout", "mixed", (
            PiiColumn("card_last4_and_name", "notes", "VARCHAR", "free_text", True, _people(
                "en_US", 46, lambda f: f"{f.name()} paid with card ending {f.credit_card_number()[-4:]}")),
            PiiColumn("contact", "status", "VARCHAR", "email", True, _people("tr_TR", 47, lambda f: f.email())),
            PiiColumn("owner", "code", "VARCHAR", "name", True, _people("tr_TR", 48, lambda f: f.name())),
            PiiColumn("vietnamese_name", "ref", "VARCHAR", "name", True, _people("vi_VN", 49, lambda f: f.name())),
        )),
    ]  # fmt: skip


HELD_OUT = "heldout"


def tables() -> list[CorpusTable]:
    return _tables()


def rows_of(table: CorpusTable, rng_seed: int = 0) -> list[tuple[object, ...]]:
    """The table's rows: a row number, each harmless column, then each PII column of the row's person."""
    rng = random.Random(rng_seed)
    out = []
    for i in range(ROWS):
        person = (i % PEOPLE) if table.recurring else i
        extra = [make(i) for _, _, make in table.extra]
        out.append((i, *extra, *(column.values(rng, person) for column in table.columns)))
    return out


def column_names(table: CorpusTable, renamed: bool) -> list[str]:
    names = [column.harmless if renamed else column.name for column in table.columns]
    assert len(set(names)) == len(names), f"{table.name}: duplicate names"
    return names
