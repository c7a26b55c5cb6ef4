"""Column classifier: guess a column's role and treatment from its name, its type and a small sample.

Why: today a column the policy does not name is hashed (fail-closed). That is safe but blind: a new
`created_at` loses its analytic value and a new `contact` full of emails is treated like any other
string. The classifier proposes a policy entry with a confidence and the evidence behind it, so a
person (or the pipeline, later) can accept it. It stays fail-closed: whatever it cannot explain is
`direct` + `hash` with low confidence and the evidence "unclassified".

Pure Python, no Dagster and no warehouse access: callers pass a bounded sample (e.g. 200 rows from
`USING SAMPLE`), never a whole table. Detectors come from maintained libraries where one exists:
`phonenumbers` (libphonenumber) for phone numbers, `python-stdnum` for Luhn, IBAN and national id
checksums, Faker's locale vocabularies for person names and street suffixes, the standard
`ipaddress` module for IPs; the verifier's own `PATTERNS` (what the output scan looks for) find
emails and candidates inside free text, so the classifier flags what the verifier would later reject.
"""

from __future__ import annotations

import datetime as dt
import importlib
import ipaddress
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import phonenumbers
from stdnum import iban as std_iban
from stdnum import luhn as std_luhn
from stdnum.br import cpf as std_cpf
from stdnum.es import dni as std_dni
from stdnum.es import nie as std_nie
from stdnum.fr import nir as std_nir
from stdnum.it import codicefiscale as std_codicefiscale
from stdnum.us import ssn as std_ssn

from minimization_pipeline.anonymize.plan import NUMERIC_TYPES
from minimization_pipeline.anonymize.pseudonymize import base_type, hashable, is_text
from minimization_pipeline.anonymize.verify import PATTERNS
from minimization_pipeline.policy import ColumnPolicy, FakeKind, MaskStyle, Method, Pattern, Role

#: Longest prefix of one value that detectors look at: bounds the work on hostile (huge) values.
MAX_VALUE_CHARS = 4096
#: Most values one column's sample is read from, whatever the caller passes.
MAX_SAMPLE = 1000
#: Share of non-null sampled values a whole-value detector needs to name the column's kind.
WHOLE_SHARE = 0.5
#: Expensive validations (libphonenumber) per column; the share is extrapolated from these.
MAX_PHONE_CHECKS = 40

# --------------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Classification:
    """What the classifier proposes for one column, and why.

    `kind` is the detected semantic type (email, phone, key, ...); `evidence` lists short
    human-readable reasons (the name rule or value detector and the share of the sample it matched).
    """

    role: Role
    method: Method | None
    confidence: float
    evidence: tuple[str, ...]
    kind: str
    fake: FakeKind | None = None
    mask: MaskStyle | None = None

    def to_policy(self) -> ColumnPolicy:
        """The proposal as a policy entry, ready to merge into `minimization.yaml`'s model."""
        data: dict[str, object] = {"role": self.role}
        if self.method is not None:
            data["method"] = self.method
        if self.fake is not None:
            data["fake"] = self.fake
        if self.mask is not None:
            data["mask"] = self.mask
        return ColumnPolicy.model_validate(data)


@dataclass(frozen=True)
class _Treatment:
    role: Role
    method: Method | None = None
    fake: FakeKind | None = None
    mask: MaskStyle | None = None


_HASH = _Treatment(Role.DIRECT, Method.HASH)

#: Semantic kind → treatment. Hash where joins need a stable pseudonym (emails, names, ips, ids),
#: mask where a harmless part helps support staff (phone, card), fake where the shape matters.
TREATMENTS: dict[str, _Treatment] = {
    "email": _HASH,
    "phone": _Treatment(Role.DIRECT, Method.MASK, mask=MaskStyle.LAST2),
    "card": _Treatment(Role.DIRECT, Method.MASK, mask=MaskStyle.LAST4),
    "card_last4": _Treatment(Role.DIRECT, Method.MASK, mask=MaskStyle.LAST2),
    "iban": _Treatment(Role.DIRECT, Method.MASK, mask=MaskStyle.LAST4),
    "bank_account": _HASH,
    "national_id": _HASH,
    "ip": _HASH,
    "device_id": _HASH,
    "handle": _HASH,
    "first_name": _HASH,
    "last_name": _HASH,
    "full_name": _HASH,
    "street_address": _Treatment(Role.DIRECT, Method.FAKE, fake=FakeKind.STREET_ADDRESS),
    "free_text": _HASH,
    "free_text_pii": _HASH,
    "unclassified": _HASH,
    "birth_date": _Treatment(Role.QUASI),
    "age": _Treatment(Role.QUASI),
    "postal_code": _Treatment(Role.QUASI),
    "gender": _Treatment(Role.QUASI),
    "geo": _Treatment(Role.QUASI),
    "city": _Treatment(Role.QUASI),
    "region": _Treatment(Role.QUASI),
    "user_agent": _Treatment(Role.QUASI),
    "key": _Treatment(Role.KEEP),
    "timestamp": _Treatment(Role.KEEP),
    "code": _Treatment(Role.KEEP),
    "boolean": _Treatment(Role.KEEP),
    "amount": _Treatment(Role.SENSITIVE),
    "measure": _Treatment(Role.SENSITIVE),
}

# --------------------------------------------------------------------------------------------------
# Name rules
# --------------------------------------------------------------------------------------------------


def _words(*alternatives: str) -> str:
    return "|".join(alternatives)


#: Ordered: the first rule whose pattern matches the snake_case name wins. Specific before generic
#: (`ip_address` before `address`, `card_last4` before `card`, `birth_date` before `*_date`, device
#: ids before `*_id`). Patterns match whole underscore-separated tokens.
NAME_RULES: tuple[tuple[str, str], ...] = (
    ("card_last4", _words(r"last_?4", r"last_?four", r"pan_last_?4")),
    ("email", _words(r"e_?mail", r"e_?mail_address", r"mail", r"email_?addr")),
    (
        "device_id",
        _words(
            r"device_?id",
            r"device_uuid",
            r"idfa",
            r"idfv",
            r"gaid",
            r"adid",
            r"advertising_id",
            r"android_id",
            r"imei",
            r"meid",
            r"mac",
            r"mac_addr(ess)?",
            r"hardware_id",
            r"hwid",
            r"fingerprint",
            r"device_token",
            r"push_token",
            r"cookie_id",
            r"anonymous_id",
            r"visitor_id",
        ),
    ),
    (
        "ip",
        _words(r"ip", r"ipv[46]", r"ip_?addr(ess)?", r"(client|remote|source|src|origin|user|last)_ip", r"remote_addr"),
    ),
    (
        "phone",
        _words(r"phone(_?number|_?no)?", r"mobile(_?number)?", r"cell(_?phone)?", r"tel(ephone)?", r"fax", r"msisdn"),
    ),
    ("card", _words(r"card_?(number|num|no)", r"cc_?(number|num|no)?", r"ccn", r"credit_?card(_?number)?", r"pan")),
    ("iban", r"iban"),
    (
        "bank_account",
        _words(
            r"(bank_)?account_?(number|num|no)",
            r"acct_?(number|num|no)",
            r"bank_account",
            r"routing_?number",
            r"sort_code",
        ),
    ),
    (
        "national_id",
        _words(
            r"ssn",
            r"social_security(_number)?",
            r"sin",
            r"nino?",
            r"national_(id|insurance)(_number)?",
            r"passport(_number|_no)?",
            r"tax_?id",
            r"tin",
            r"driver_?s?_licen[cs]e(_number|_no)?",
            r"licen[cs]e_(number|no)",
            r"nhs(_number)?",
            r"personnummer",
            r"aadhaar",
            r"cpf",
            r"dni",
            r"nie",
            r"nif",
            r"codice_fiscale",
            r"id_(number|card)",
            r"identity_(number|card)",
        ),
    ),
    ("user_agent", _words(r"ua", r"user_?agent", r"http_user_agent", r"browser_agent")),
    (
        "handle",
        _words(
            r"handle",
            r"user_?name",
            r"login",
            r"screen_name",
            r"nick(name)?",
            r"twitter",
            r"instagram",
            r"github",
            r"social_handle",
        ),
    ),
    ("birth_date", _words(r"dob", r"birth_?(date|day)?", r"date_of_birth", r"born(_on|_at)?", r"birth_year")),
    ("age", _words(r"age", r"age_(years|group|band|bucket)", r"years_old")),
    ("postal_code", _words(r"zip(_?code)?", r"zip[35]", r"postal(_?code)?", r"post_?code", r"plz")),
    ("gender", _words(r"gender", r"sex")),
    (
        "geo",
        _words(
            r"lat(itude)?",
            r"lng",
            r"lon(gitude)?",
            r"geo(_?location|hash)?",
            r"coord(inate)?s?",
            r"lat_?lng",
            r"lat_?lon",
            r"location",
        ),
    ),
    ("city", _words(r"city", r"town", r"locality", r"municipality")),
    ("region", _words(r"country(_code)?", r"state", r"province", r"region", r"county", r"nationality")),
    (
        "street_address",
        _words(
            r"(street_|billing_|shipping_|home_|postal_|mailing_)?address(_?line)?_?[12]?",
            r"street(_address|_name)?",
            r"addr(ess)?[12]?",
            r"line_?[12]",
            r"house_number",
        ),
    ),
    ("first_name", _words(r"first_?name", r"given_?name", r"f_?name", r"fore_?name", r"middle_?name")),
    ("last_name", _words(r"last_?name", r"sur_?name", r"family_?name", r"l_?name", r"maiden_?name")),
    (
        "full_name",
        _words(
            r"name",
            r"full_?name",
            r"display_?name",
            r"(customer|contact|person|patient|employee|user|member|client|"
            r"account_holder|card_?holder|holder|recipient|sender|owner|billing|shipping|guest|driver|parent|"
            r"emergency_contact|buyer|seller|applicant|beneficiary|signer)_name",
            r"card_?holder",
            r"recipient",
        ),
    ),
    (
        "free_text",
        _words(
            r"notes?",
            r"comments?",
            r"description",
            r"message",
            r"body",
            r"text",
            r"remarks?",
            r"feedback",
            r"review",
            r"content",
            r"memo",
            r"details",
            r"bio",
            r"about",
            r"summary",
            r"subject",
            r"reason",
            r"instructions",
            r"transcript",
            r"chat",
        ),
    ),
    ("key", _words(r"id", r"uuid", r"guid", r"pk", r"fk", r"key", r"sku", r"ref", r"reference")),
    (
        "timestamp",
        _words(
            r"\w*_at",
            r"\w*_on",
            r"\w*_ts",
            r"\w*_time",
            r"\w*_date",
            r"created",
            r"updated",
            r"modified",
            r"deleted",
            r"timestamp",
            r"date",
            r"time",
            r"ts",
            r"datetime",
            r"day",
            r"month",
            r"year",
            r"week",
        ),
    ),
    (
        "amount",
        _words(
            r"amount",
            r"price",
            r"total",
            r"revenue",
            r"cost",
            r"fee",
            r"salary",
            r"income",
            r"balance",
            r"subtotal",
            r"tax",
            r"discount",
            r"spend",
            r"wage",
            r"gmv",
            r"mrr",
            r"arr",
            r"ltv",
            r"lifetime_value",
            r"\w*_cents",
            r"\w*_usd",
            r"\w*_eur",
            r"refund",
            r"payout",
            r"value",
        ),
    ),
    (
        "measure",
        _words(
            r"qty",
            r"quantity",
            r"count",
            r"\w*_count",
            r"n_\w+",
            r"num_\w+",
            r"duration\w*",
            r"rating",
            r"score",
            r"weight",
            r"height",
            r"units",
            r"clicks",
            r"views",
            r"sessions",
            r"pct",
            r"percent",
            r"ratio",
            r"rate",
        ),
    ),
    (
        "code",
        _words(
            r"status",
            r"type",
            r"kind",
            r"category",
            r"plan",
            r"tier",
            r"level",
            r"currency",
            r"brand",
            r"channel",
            r"source",
            r"medium",
            r"campaign",
            r"locale",
            r"lang(uage)?",
            r"method",
            r"mode",
            r"version",
            r"platform",
            r"os",
            r"browser",
            r"(is|has|was|can)_\w+",
            r"enabled",
            r"active",
            r"flag",
            r"stage",
            r"priority",
            r"segment",
            r"sku_type",
            r"unit",
            r"color",
            r"colour",
            r"size",
        ),
    ),
)


def _compile_rule(alternatives: str) -> re.Pattern[str]:
    """A rule matches when one of its alternatives is a run of whole tokens of the name."""
    return re.compile(rf"(?:^|_)(?:{alternatives})(?:_|$)")


_COMPILED_RULES = tuple((kind, _compile_rule(pattern)) for kind, pattern in NAME_RULES)
#: Rules that name the column by its last token only (`*_id` is a key, `customer_email` an email).
_SUFFIX_KINDS = {"key", "timestamp", "measure", "code"}
#: `product_name`, `plan_name`: a `*_name` that is not a person; the values then decide.
_THING_PREFIXES = {
    "product", "plan", "company", "event", "file", "table", "column", "brand", "item", "category", "campaign",
    "app", "host", "domain", "device", "browser", "os", "country", "city", "street", "state", "region", "store",
    "shop", "merchant", "team", "org", "organization", "project", "feature", "page", "screen", "job", "task",
    "bucket", "queue", "service", "model", "metric", "tag", "group", "role", "list", "schema",
}  # fmt: skip

_KEY_TOKENS = {"id", "key", "uuid", "guid", "pk", "fk"}
#: Kinds a trailing `_id` turns into a key (`city_id`, `status_id`); ids of people's documents stay direct.
_KEY_OVERRIDABLE = {
    "geo", "city", "region", "postal_code", "gender", "full_name", "first_name", "last_name", "street_address",
    "user_agent", "code", "age", "birth_date", "free_text", "handle", "timestamp", "amount", "measure",
}  # fmt: skip


def _snake(name: str) -> str:
    """`customerEmail`, `Customer-Email` → `customer_email`: rules are written for snake_case."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def name_kind(name: str) -> tuple[str, str] | None:
    """The kind a column name suggests and the rule text that matched, or None."""
    snake = _snake(name)
    if not snake:
        return None
    tokens = snake.split("_")
    for kind, pattern in _COMPILED_RULES:
        if kind in _SUFFIX_KINDS:
            # keys, timestamps, amounts, codes: judged by the last token(s) (`user_id`, `ordered_at`)
            if not any(pattern.fullmatch("_".join(tokens[i:])) for i in range(len(tokens))):
                continue
        elif not pattern.search(snake):
            continue
        if (
            kind == "full_name"
            and len(tokens) >= 2
            and tokens[-1] == "name"
            and "_".join(tokens[:-1]) in (_THING_PREFIXES)
        ):
            continue
        if tokens[-1] in _KEY_TOKENS and kind in _KEY_OVERRIDABLE:
            return "key", f"name '{name}' ends in '{tokens[-1]}': a key"
        return kind, f"name '{name}' matches rule {kind}"
    return None


# --------------------------------------------------------------------------------------------------
# Vocabularies (Faker's locale data)
# --------------------------------------------------------------------------------------------------

#: Person-name vocabularies come from every Faker locale (86 here: Latin, Cyrillic, Greek, Arabic, Hebrew,
#: Devanagari, CJK, Hangul, ...), so a name in another script is recognized as a name, not a code.
_NAME_LOCALES_PACKAGE = "faker.providers.person"
#: First or last names that are also ordinary words of status/colour/plan columns: never sufficient alone.
_AMBIGUOUS_WORDS = {
    "active", "new", "free", "pro", "gold", "silver", "brown", "green", "white", "black", "gray", "grey", "young",
    "king", "rose", "may", "june", "april", "august", "will", "page", "grant", "mark", "bill", "chase", "hope",
    "joy", "faith", "summer", "autumn", "winter", "ruby", "amber", "jade", "pearl", "crystal", "sky", "storm",
    "price", "long", "short", "little", "small", "rich", "love", "star", "case", "lane", "hill", "wood", "stone",
}  # fmt: skip


def _words(values: object) -> list[str]:
    """A Faker word list as strings: a tuple, or a weighted mapping (its keys); nothing for anything else."""
    if isinstance(values, dict):
        values = values.keys()
    try:
        return [str(value) for value in values]  # type: ignore[union-attr]
    except TypeError:
        return []


@cache
def _vocabularies() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Casefolded first names and last names of every Faker locale, and street suffixes (loaded once)."""
    import pkgutil

    package = importlib.import_module(_NAME_LOCALES_PACKAGE)
    first: set[str] = set()
    last: set[str] = set()
    for module in pkgutil.iter_modules(package.__path__):
        provider = importlib.import_module(f"{_NAME_LOCALES_PACKAGE}.{module.name}").Provider
        for attribute in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary"):
            first.update(value.casefold() for value in _words(getattr(provider, attribute, ()) or ()))
        last.update(value.casefold() for value in _words(getattr(provider, "last_names", ()) or ()))
    suffixes: set[str] = set()
    for locale in ("en_US", "en_GB"):
        provider = importlib.import_module(f"faker.providers.address.{locale}").Provider
        suffixes.update(str(value).casefold() for value in getattr(provider, "street_suffixes", ()) or ())
    suffixes.update({"st", "ave", "rd", "blvd", "ln", "dr", "ct", "pl", "sq", "hwy", "pkwy", "ter", "cir", "way"})
    first -= _AMBIGUOUS_WORDS
    last -= _AMBIGUOUS_WORDS
    return frozenset(first), frozenset(last), frozenset(suffixes)


# --------------------------------------------------------------------------------------------------
# Value detectors
# --------------------------------------------------------------------------------------------------

_EMAIL_FULL = re.compile(rf"(?:{PATTERNS[Pattern.EMAIL]})")
_EMAIL_IN = re.compile(PATTERNS[Pattern.EMAIL])
_PHONE_IN = re.compile(PATTERNS[Pattern.PHONE])
_CARD_IN = re.compile(PATTERNS[Pattern.CARD])
_IPV4_IN = re.compile(PATTERNS[Pattern.IPV4])
_IPV6_IN = re.compile(PATTERNS[Pattern.IPV6])
_PHONE_SHAPE = re.compile(r"(?:\+|00)?[\d\s().\-/]{7,24}(?:\s*(?:x|ext\.?|#)\s*\d{1,6})?", re.IGNORECASE)
_PHONE_SEPARATED = re.compile(r"^\+|[\s().\-/]")
_DIGITS = re.compile(r"\D")
_SSN_IN = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")
_IBAN_SHAPE = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")
_IBAN_IN = re.compile(r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Z0-9])")
_NINO = re.compile(r"(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]")
_MAC = re.compile(r"[0-9a-f]{2}(?:[:-][0-9a-f]{2}){5}", re.IGNORECASE)
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)
_UA = re.compile(
    r"^(?:Mozilla/\d|Opera/\d|Dalvik/|okhttp/|curl/|Wget/|python-requests/|PostmanRuntime/)|AppleWebKit/|Gecko/|"
    r"CFNetwork/|Darwin/\d"
)
_HANDLE = re.compile(r"@[A-Za-z0-9_.]{2,30}")
_STREET_NUMBER_FIRST = re.compile(r"\d{1,6}[A-Za-z]?(?:-\d+)?,?\s+(?:[A-Za-zÀ-ÿ'.\-]+\s+){0,5}([A-Za-zÀ-ÿ.]+)\.?")
_STREET_NUMBER_LAST = re.compile(
    r"(?:[A-Za-zÀ-ÿ'.\-]+[ -])*[A-Za-zÀ-ÿ'.\-]*(?:stra(?:ß|ss)e|str\.|weg|gasse|platz|allee|laan|straat|"
    r"rue|avenue|via|calle|avenida|rua)[A-Za-zÀ-ÿ'.\- ]*\s*\d{1,5}[A-Za-z]?(?:[/-]\d+)?",
    re.IGNORECASE,
)
_ROMANCE_STREET = re.compile(
    r"(?:\d{1,5},?\s+)?(?:rue|avenue|boulevard|via|viale|calle|avenida|rua|piazza|plaza)\s+\S+", re.IGNORECASE
)
_GEO_PAIR = re.compile(r"\(?\s*(-?\d{1,3}\.\d{3,})\s*[,; ]\s*(-?\d{1,3}\.\d{3,})\s*\)?")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
_US_ZIP = re.compile(r"\d{5}(?:-\d{4})?")
_UK_POSTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}", re.IGNORECASE)
_CA_POSTCODE = re.compile(r"[A-Z]\d[A-Z] ?\d[A-Z]\d", re.IGNORECASE)
_GENDERS = {
    "m", "f", "male", "female", "man", "woman", "men", "women", "nonbinary", "non-binary", "non_binary", "nb", "x",
    "other", "unknown", "u", "diverse", "d", "w", "prefer not to say", "undisclosed", "agender", "genderqueer",
}  # fmt: skip
_TITLES = {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "mx", "jr", "sr", "ii", "iii", "iv", "md", "phd"}


def _is_phone(text: str, separated_only: bool) -> bool:
    """A whole value that libphonenumber accepts as a possible number (US as the default region)."""
    if len(text) > 32 or not _PHONE_SHAPE.fullmatch(text):
        return False
    if separated_only and not _PHONE_SEPARATED.search(text):
        return False
    digits = len(_DIGITS.sub("", text))
    if not 7 <= digits <= 15:
        return False
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number)


def _is_e164_digits(digits: str) -> bool:
    """An integer's digits that libphonenumber accepts as a valid number once a + is put in front (E.164)."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse("+" + digits, None))
    except phonenumbers.NumberParseException:
        return False


def _is_card(text: str) -> bool:
    """13-19 digits (spaces or dashes allowed) with a valid Luhn check digit."""
    if len(text) > 23 or not re.fullmatch(r"[\d -]+", text):
        return False
    digits = _DIGITS.sub("", text)
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and std_luhn.is_valid(digits)


def _is_iban(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    return bool(_IBAN_SHAPE.fullmatch(compact)) and std_iban.is_valid(compact)


def _is_ip(text: str) -> bool:
    if len(text) > 45 or not (":" in text or "." in text):
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_ssn(text: str, strict: bool) -> bool:
    """US SSN by stdnum's rules; `strict` demands the dashed form (a bare 9-digit number is too common)."""
    if strict and not re.fullmatch(r"\d{3}-\d{2}-\d{4}", text):
        return False
    return len(text) <= 11 and std_ssn.is_valid(text)


def _is_national_id(text: str) -> bool:
    """National ids with a distinctive shape and check digit (stdnum), or the UK NINO's pattern."""
    if len(text) > 24:
        return False
    upper = text.upper()
    if _NINO.fullmatch(upper):
        return True
    compact = re.sub(r"[\s.\-/]", "", upper)
    if len(compact) == 16 and compact[:6].isalpha():
        return std_codicefiscale.is_valid(compact)
    if len(compact) in (13, 15) and compact.isdigit():
        return std_nir.is_valid(compact)
    if len(compact) == 9 and compact[:-1].isdigit() and compact[-1].isalpha():
        return std_dni.is_valid(compact)
    if len(compact) == 9 and compact[0] in "XYZ":
        return std_nie.is_valid(compact)
    if re.fullmatch(r"\d{3}\.\d{3}\.\d{3}-\d{2}", text):
        return std_cpf.is_valid(text)
    return False


def _is_street_address(text: str) -> bool:
    """`123 Main Street`, `Hauptstraße 5`, `45, rue de Samson`: a number next to a street-type word."""
    if len(text) > 120:
        return False
    match = _STREET_NUMBER_FIRST.match(text)
    if match:
        *_, suffixes = _vocabularies()
        words = re.findall(r"[A-Za-zÀ-ÿ]+", text[match.start() :])
        if any(word.casefold() in suffixes for word in words[1:] or words):
            return True
    return bool(_STREET_NUMBER_LAST.fullmatch(text) or _ROMANCE_STREET.match(text))


def _name_shape(text: str) -> str | None:
    """'first', 'last' or 'full' when the value reads as a person's name in Faker's vocabularies."""
    if len(text) > 60 or any(ch.isdigit() for ch in text) or "@" in text:
        return None
    first, last, _ = _vocabularies()
    words = [w for w in re.split(r"[\s,·・]+", text.strip()) if w and w.casefold().strip(".") not in _TITLES]
    if not words or not all(_is_name_word(w) for w in words):
        return None
    folded = [w.casefold().strip(".") for w in words]
    if len(folded) == 1:
        if folded[0] in first:
            return "first"
        if folded[0] in last or any(part in last for part in folded[0].split("-")):
            return "last"
        if _surname_first(folded[0], first, last):
            return "full"  # 王伟, 山田太郎, 김민수: written without a space, family name first
        return None
    if len(folded) <= 5:
        if "," in text:  # "Smith, John"
            folded = folded[1:] + folded[:1]
        if folded[0] in first and (folded[-1] in last or any(p in last for p in folded[-1].split("-"))):
            return "full"
        if folded[0] in first and folded[-1] in first:
            return "full"
        if folded[0] in last and folded[-1] in first:  # family name first: Nguyễn Văn An, Kovács Anna
            return "full"
    return None


def _is_name_word(word: str) -> bool:
    """Letters (and their combining marks: Devanagari, Arabic, ...) of any script, with ' . - inside."""
    return any(unicodedata.category(ch).startswith("L") for ch in word) and all(
        unicodedata.category(ch)[0] in "LM" or ch in "'’.-" for ch in word
    )


#: Scripts whose names are written family name first and without a space.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")


def _surname_first(word: str, first: frozenset[str], last: frozenset[str]) -> bool:
    """A CJK or Hangul word of 2-5 characters that splits into a known family name and a known given name."""
    if not 2 <= len(word) <= 5 or not _UNSPACED.fullmatch(word):
        return False
    return any(word[:cut] in last and word[cut:] in first for cut in range(1, len(word)))


def _as_date(value: object, text: str) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return None  # a point in time, not a calendar date
    if isinstance(value, dt.date):
        return value
    match = _DATE.fullmatch(text)
    if match:
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
    return None


@dataclass
class _Profile:
    """What one pass over the sample found; counts are over non-null values."""

    total: int = 0
    non_null: int = 0
    distinct: int = 0
    avg_length: float = 0.0
    with_spaces: int = 0
    counts: dict[str, int] | None = None
    contained: dict[str, int] | None = None

    def share(self, kind: str) -> float:
        return (self.counts or {}).get(kind, 0) / self.non_null if self.non_null else 0.0


def _to_text(value: object) -> str | None:
    """A sampled value as a bounded string; None for NULL/NaN. Bytes and odd objects never raise."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value[: MAX_VALUE_CHARS * 4]).decode("utf-8", "replace")
    else:
        try:
            text = value if isinstance(value, str) else str(value)
        except Exception:  # a hostile __str__ must not stop the classification
            return None
    return text[:MAX_VALUE_CHARS].strip()


def _scan_contained(text: str, found: dict[str, int], budget: list[int]) -> None:
    """Identifiers inside free text: candidates by the verifier's patterns, confirmed by the libraries."""
    if "@" in text and _EMAIL_IN.search(text):
        found["email"] = found.get("email", 0) + 1
    if sum(ch.isdigit() for ch in text) < 7:
        return
    for match in _SSN_IN.finditer(text):
        if std_ssn.is_valid(match.group(0)):
            found["ssn"] = found.get("ssn", 0) + 1
            break
    for match in _CARD_IN.finditer(text):
        if std_luhn.is_valid(_DIGITS.sub("", match.group(2))):
            found["card"] = found.get("card", 0) + 1
            break
    for match in _IBAN_IN.finditer(text):
        if std_iban.is_valid(match.group(0).replace(" ", "")):
            found["iban"] = found.get("iban", 0) + 1
            break
    if _IPV4_IN.search(text) or (":" in text and _IPV6_IN.search(text)):
        found["ip"] = found.get("ip", 0) + 1
    for match in _PHONE_IN.finditer(text):
        if budget[0] <= 0:
            break
        budget[0] -= 1
        candidate = match.group(0).strip(" \t\n\r,;:()[]")
        try:
            number = phonenumbers.parse(candidate, "US")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            found["phone"] = found.get("phone", 0) + 1
            break


def _profile(sample: Sequence[object], allow_bare_phone: bool) -> _Profile:
    """One pass of all value detectors over the (bounded) sample."""
    values = list(sample[:MAX_SAMPLE]) if isinstance(sample, list | tuple) else list(sample)[:MAX_SAMPLE]
    profile = _Profile(total=len(values), counts={}, contained={})
    assert profile.counts is not None and profile.contained is not None
    counts, contained = profile.counts, profile.contained
    distinct: set[str] = set()
    lengths = 0
    phone_budget = [MAX_PHONE_CHECKS]
    phone_checked = phone_ok = 0
    phone_shaped = 0
    int_phone_checked = int_phone_ok = int_phone_shaped = 0
    dates: list[dt.date] = []
    contained_budget = [MAX_PHONE_CHECKS]

    def hit(kind: str) -> None:
        counts[kind] = counts.get(kind, 0) + 1

    for value in values:
        text = _to_text(value)
        if text is None or text == "":
            continue
        profile.non_null += 1
        distinct.add(text)
        lengths += len(text)
        if isinstance(value, bool):
            hit("boolean")
            continue
        if isinstance(value, dt.datetime | dt.time):
            hit("timestamp")
            continue
        date = _as_date(value, text)
        if date is not None:
            hit("date")
            dates.append(date)
            continue
        if _DATE_TIME.match(text):
            hit("timestamp")
            continue
        if isinstance(value, int | float | Decimal):
            hit("number")
            if isinstance(value, float | Decimal) and _is_coordinate(value):
                hit("coordinate")
            if isinstance(value, int) and not isinstance(value, bool):
                # identifiers stored as numbers: a card, a US SSN's nine digits, an E.164 phone without its +
                if _is_card(text):
                    hit("card")
                elif len(text) == 9 and _is_ssn(text, strict=False):
                    hit("ssn")
                elif 10 <= len(text) <= 15:
                    int_phone_shaped += 1
                    if int_phone_checked < MAX_PHONE_CHECKS:
                        int_phone_checked += 1
                        int_phone_ok += _is_e164_digits(text)
            continue
        spaced = " " in text
        profile.with_spaces += spaced
        if "@" in text:
            if _EMAIL_FULL.fullmatch(text):
                hit("email")
                continue
            if _HANDLE.fullmatch(text):
                hit("handle")
                continue
        if _UA.search(text):
            hit("user_agent")
            continue
        if _is_ip(text):
            hit("ip")
            continue
        if _MAC.fullmatch(text):
            hit("mac")
            continue
        if _UUID.fullmatch(text):
            hit("uuid")
            continue
        if _is_card(text):
            hit("card")
            continue
        if _is_ssn(text, strict=not allow_bare_phone):
            hit("ssn")
            continue
        if _is_iban(text):
            hit("iban")
            continue
        if _is_national_id(text):
            hit("national_id")
            continue
        if _GEO_PAIR.fullmatch(text):
            hit("geo")
            continue
        if _US_ZIP.fullmatch(text) or _UK_POSTCODE.fullmatch(text) or _CA_POSTCODE.fullmatch(text):
            hit("postal_code")
            continue
        if _PHONE_SHAPE.fullmatch(text) and (allow_bare_phone or _PHONE_SEPARATED.search(text)):
            phone_shaped += 1
            if phone_budget[0] > 0:
                phone_budget[0] -= 1
                phone_checked += 1
                phone_ok += _is_phone(text, separated_only=not allow_bare_phone)
            continue
        if text.casefold() in _GENDERS:
            hit("gender")
            continue
        shape = _name_shape(text)
        if shape is not None:
            hit(f"{shape}_name")
            continue
        if any(ch.isdigit() for ch in text) and _is_street_address(text):
            hit("street_address")
            continue
        if spaced or len(text) > 40:
            _scan_contained(text, contained, contained_budget)
    if phone_checked:
        counts["phone"] = round(phone_shaped * phone_ok / phone_checked)
    if int_phone_checked:
        counts["phone"] = counts.get("phone", 0) + round(int_phone_shaped * int_phone_ok / int_phone_checked)
    if dates:
        counts["birth_date"] = len(dates) if _looks_like_birth_dates(dates) else 0
    profile.distinct = len(distinct)
    profile.avg_length = lengths / profile.non_null if profile.non_null else 0.0
    return profile


def _looks_like_birth_dates(dates: list[dt.date]) -> bool:
    """Calendar dates that read as births: most 15-100 years ago, spread over 15+ years."""
    today = dt.date.today()
    ages = sorted((today - d).days / 365.25 for d in dates)
    plausible = sum(0 <= a <= 110 for a in ages) / len(ages)
    return plausible >= 0.9 and (ages[-1] - ages[0]) >= 15 and ages[len(ages) // 2] >= 10 and len(dates) >= 5


# --------------------------------------------------------------------------------------------------
# Decision
# --------------------------------------------------------------------------------------------------

#: Whole-value kinds that identify a person on their own: they win over any name rule except a
#: more specific one of the same family (values prove the content; a name only suggests it).
_DIRECT_VALUE_KINDS = (
    "email", "card", "iban", "ssn", "national_id", "ip", "mac", "phone", "street_address", "full_name", "handle",
)  # fmt: skip
_VALUE_TO_KIND = {"ssn": "national_id", "mac": "device_id"}
#: A value kind that agrees with a name kind (raises confidence instead of overriding).
_COMPATIBLE = {
    ("card", "card_last4"), ("national_id", "bank_account"), ("phone", "national_id"), ("card", "device_id"),
    ("national_id", "device_id"), ("phone", "bank_account"), ("card", "bank_account"),
    ("first_name", "full_name"), ("last_name", "full_name"), ("full_name", "first_name"), ("full_name", "last_name"),
    ("handle", "full_name"),
}  # fmt: skip
_VALUE_LABELS = {
    "email": "emails", "card": "card numbers (Luhn)", "iban": "IBANs (checksum)", "ssn": "US SSNs",
    "national_id": "national ids (checksum/pattern)", "ip": "IP addresses", "mac": "MAC addresses",
    "phone": "phone numbers (libphonenumber)", "street_address": "street addresses", "full_name": "full names",
    "handle": "@handles",
}  # fmt: skip
_CONTAINED_LABELS = {"email": "email", "phone": "phone number", "card": "card number", "ssn": "US SSN",
                     "iban": "IBAN", "ip": "IP address"}  # fmt: skip


def _pct(share: float) -> str:
    return f"{share:.0%}"


def _numeric_type(data_type: str) -> bool:
    return base_type(data_type) in NUMERIC_TYPES


def _temporal_type(data_type: str) -> bool:
    kind = base_type(data_type)
    return kind in {"DATE", "DATETIME", "TIME"} or kind.startswith("TIMESTAMP")


def _fit_to_type(treatment: _Treatment, data_type: str, evidence: list[str]) -> _Treatment:
    """Mask and fake need text, hash needs text or integer (see plan._check_type): pick what the type takes."""
    if treatment.role is not Role.DIRECT or not data_type:
        return treatment
    if treatment.method in (Method.MASK, Method.FAKE) and not is_text(data_type):
        treatment = _HASH
        evidence.append(f"{data_type} cannot be masked/faked: hash instead")
    if treatment.method is Method.HASH and not hashable(data_type):
        evidence.append(f"{data_type} cannot be hashed: null instead")
        return _Treatment(Role.DIRECT, Method.NULL)
    return treatment


def _result(kind: str, confidence: float, evidence: list[str], data_type: str) -> Classification:
    treatment = _fit_to_type(TREATMENTS[kind], data_type, evidence)
    return Classification(
        role=treatment.role,
        method=treatment.method,
        confidence=round(max(0.0, min(1.0, confidence)), 2),
        evidence=tuple(evidence),
        kind=kind,
        fake=treatment.fake,
        mask=treatment.mask,
    )


def classify_column(name: str, data_type: str, sample: Sequence[object]) -> Classification:
    """Role, method and confidence for one column, from its name, type and a bounded sample of values.

    Order of precedence: (1) values that are identifiers on their own (emails, cards, ...) — they
    beat any name, because a column called `contact` or `user_id` full of emails is a direct
    identifier; (2) identifiers inside free text; (3) the name rules; (4) weaker value signals
    (user agents, birth-like dates, gender codes, person names, low cardinality); (5) the type;
    (6) otherwise unclassified: `direct` + `hash`, fail-closed.
    """
    named = name_kind(name)
    nkind = named[0] if named else None
    phone_like_name = nkind in {"phone", "national_id", "bank_account"}
    profile = _profile(sample, allow_bare_phone=phone_like_name)
    n = profile.non_null
    evidence: list[str] = []
    if named:
        evidence.append(named[1])
    if n == 0:
        evidence.append("no sample values (empty or all NULL): name and type only")
        return _decide_without_values(nkind, data_type, evidence)

    # (1) whole values that identify on their own
    best: tuple[float, str] | None = None
    for vkind in _DIRECT_VALUE_KINDS:
        share = profile.share(vkind)
        if share >= WHOLE_SHARE and (best is None or share > best[0]):
            best = (share, vkind)
    if best is not None:
        share, vkind = best
        kind = _VALUE_TO_KIND.get(vkind, vkind)
        if (
            vkind in ("full_name", "handle")
            and nkind is not None
            and nkind not in _DIRECT_NAME_KINDS
            and (share < 0.8 or _low_cardinality(profile))
            and profile.distinct < 5  # five different people's names are names, whatever the column is called
        ):
            best = None  # a few "Grace Hill"-like category values: too weak to override a clear name
        else:
            evidence.append(f"{_pct(share)} of {n} sampled values are {_VALUE_LABELS[vkind]}")
            if nkind == kind or (kind, nkind) in _COMPATIBLE:
                # values confirm the name; the name is the more specific of the two (imei vs card)
                return _result(nkind or kind, 0.9 + 0.09 * share, evidence, data_type)
            if nkind in _DIRECT_NAME_KINDS:
                # both say direct; the values say which kind
                return _result(kind, 0.8 + 0.1 * share, evidence, data_type)
            return _result(kind, 0.6 + 0.35 * share, evidence, data_type)

    # (2) identifiers inside free text: one hit is enough (fail-closed), except in user agents
    contained = profile.contained or {}
    if contained and nkind != "user_agent" and profile.share("user_agent") < WHOLE_SHARE:
        rows = max(contained.values())
        parts = ", ".join(f"{_CONTAINED_LABELS[k]} in {c}/{n}" for k, c in sorted(contained.items()))
        evidence.append(f"free text holding identifiers: {parts}")
        return _result("free_text_pii", min(0.99, 0.85 + 0.14 * rows / n), evidence, data_type)

    # (3) the name
    if nkind is not None:
        return _decide_by_name(nkind, data_type, profile, evidence)

    # (4) weaker value signals
    weak = _decide_by_weak_values(profile, data_type, evidence)
    if weak is not None:
        return weak

    # (5) the type
    typed = _decide_by_type(data_type, profile, evidence)
    if typed is not None:
        return typed
    evidence.append("unclassified: no name rule or value detector matched (fail-closed)")
    return _result("unclassified", 0.2, evidence, data_type)


_DIRECT_NAME_KINDS = {k for k, t in TREATMENTS.items() if t.role is Role.DIRECT} - {"unclassified"}


def _low_cardinality(profile: _Profile) -> bool:
    """Few distinct short values that repeat: a status or category code, not a person's attribute."""
    n = profile.non_null
    if n < 6 or profile.avg_length > 40 or profile.distinct > 30:
        return False  # a handful of values proves nothing about cardinality
    if n >= 20:
        return profile.distinct <= max(2, 0.25 * n)
    return profile.distinct <= max(1, n // 3)


def _decide_by_name(nkind: str, data_type: str, profile: _Profile, evidence: list[str]) -> Classification:
    n = profile.non_null
    agree = {
        "user_agent": "user_agent", "postal_code": "postal_code", "gender": "gender", "birth_date": "birth_date",
        "geo": "geo", "first_name": "first_name", "last_name": "last_name", "full_name": "full_name",
        "timestamp": "timestamp", "key": "uuid", "device_id": "uuid",
    }  # fmt: skip
    vkind = agree.get(nkind)
    share = profile.share(vkind) if vkind else 0.0
    if nkind == "first_name":
        share = max(share, profile.share("full_name"))
    if nkind == "last_name":
        share = max(share, profile.share("first_name"))  # many surnames are also first names
    if nkind == "timestamp":
        share = max(share, profile.share("date"))
    if nkind == "geo":
        share = max(share, _coordinate_share(profile))
    if share >= WHOLE_SHARE:
        evidence.append(f"{_pct(share)} of {n} sampled values agree ({vkind})")
        return _result(nkind, 0.85 + 0.1 * share, evidence, data_type)
    if nkind == "code" and not _low_cardinality(profile) and profile.avg_length > 40 and profile.with_spaces:
        evidence.append("but values are long free text: fail-closed")
        return _result("free_text", 0.5, evidence, data_type)
    if nkind == "code" and _low_cardinality(profile):
        evidence.append(f"low cardinality: {profile.distinct} distinct of {n}")
        return _result(nkind, 0.9, evidence, data_type)
    if nkind == "free_text":
        evidence.append(f"free text ({profile.with_spaces}/{n} values with spaces), no identifier found: fail-closed")
        return _result(nkind, 0.6, evidence, data_type)
    if nkind in ("timestamp", "key", "amount", "measure") and (
        _numeric_type(data_type) or _temporal_type(data_type) or profile.share("number") >= WHOLE_SHARE
    ):
        evidence.append(f"type {data_type} fits")
        return _result(nkind, 0.85, evidence, data_type)
    return _result(nkind, 0.7, evidence, data_type)


def _is_coordinate(value: float | Decimal) -> bool:
    """A finite number with a fractional part inside [-180, 180] (NaN/inf and Decimal NaN never raise)."""
    if not math.isfinite(value):
        return False
    return -180 <= value <= 180 and value != int(value)


def _coordinate_share(profile: _Profile) -> float:
    """Share of numbers with a fractional part inside [-180, 180]: latitudes and longitudes."""
    coordinates = (profile.counts or {}).get("coordinate", 0)
    return coordinates / profile.non_null if profile.non_null else 0.0


def _decide_by_weak_values(profile: _Profile, data_type: str, evidence: list[str]) -> Classification | None:
    n = profile.non_null
    checks: list[tuple[str, str, float, Callable[[], bool]]] = [
        ("user_agent", "user agents", 0.85, lambda: True),
        ("birth_date", "calendar dates spread like births", 0.6, lambda: True),
        ("gender", "gender codes", 0.7, lambda: profile.distinct <= 8 and profile.share("gender") >= 0.9),
        ("geo", "lat/lon pairs", 0.8, lambda: True),
        ("postal_code", "postal codes", 0.55, lambda: profile.distinct >= min(10, n // 2)),
        ("uuid", "UUIDs (a key)", 0.6, lambda: profile.distinct >= 0.9 * n),
    ]
    for vkind, label, confidence, extra in checks:
        share = profile.share(vkind)
        if share >= WHOLE_SHARE and extra():
            evidence.append(f"{_pct(share)} of {n} sampled values are {label}")
            return _result("key" if vkind == "uuid" else vkind, confidence, evidence, data_type)
    person = profile.share("first_name") + profile.share("last_name") + profile.share("full_name")
    if person >= 0.6 and (profile.distinct >= 0.3 * n or profile.distinct >= 20):
        share = max(profile.share("first_name"), profile.share("last_name"), profile.share("full_name"))
        kind = (
            "full_name"
            if share == profile.share("full_name")
            else ("first_name" if share == profile.share("first_name") else "last_name")
        )
        evidence.append(f"{_pct(person)} of {n} sampled values are person names (Faker vocabularies)")
        return _result(kind, 0.5 + 0.4 * person, evidence, data_type)
    if profile.share("timestamp") + profile.share("date") >= WHOLE_SHARE:
        evidence.append(f"{_pct(profile.share('timestamp') + profile.share('date'))} of {n} values are timestamps")
        return _result("timestamp", 0.7, evidence, data_type)
    if profile.share("boolean") >= WHOLE_SHARE:
        evidence.append("boolean values")
        return _result("boolean", 0.9, evidence, data_type)
    if _low_cardinality(profile) and not profile.share("number") >= WHOLE_SHARE:
        evidence.append(f"low cardinality: {profile.distinct} distinct of {n} sampled values (a code)")
        return _result("code", 0.6, evidence, data_type)
    return None


def _decide_by_type(data_type: str, profile: _Profile | None, evidence: list[str]) -> Classification | None:
    kind = base_type(data_type)
    if kind == "BOOLEAN":
        evidence.append("type BOOLEAN")
        return _result("boolean", 0.8, evidence, data_type)
    if _temporal_type(data_type):
        evidence.append(f"type {data_type}: an event time")
        return _result("timestamp", 0.6, evidence, data_type)
    if _numeric_type(data_type) and profile is not None and profile.non_null:
        if _low_cardinality(profile):
            evidence.append(f"numeric with low cardinality: {profile.distinct} distinct of {profile.non_null}")
            return _result("code", 0.5, evidence, data_type)
        if kind in {"DECIMAL", "NUMERIC", "NUMBER", "DOUBLE", "FLOAT", "REAL"}:
            evidence.append(f"type {data_type}: a measure")
            return _result("measure", 0.45, evidence, data_type)
    return None


def _decide_without_values(nkind: str | None, data_type: str, evidence: list[str]) -> Classification:
    """Empty or all-NULL sample: the name alone, with less confidence than when values agree."""
    if nkind is not None:
        return _result(nkind, 0.55, evidence, data_type)
    typed = _decide_by_type(data_type, None, evidence)
    if typed is not None:
        return _result(typed.kind, 0.4, list(typed.evidence), data_type)
    evidence.append("unclassified (fail-closed)")
    return _result("unclassified", 0.1, evidence, data_type)


def classify_table(columns: list[tuple[str, str]], samples: dict[str, list[object]]) -> dict[str, Classification]:
    """Classify every column of one table; a column missing from `samples` is judged by name and type."""
    return {name: classify_column(name, data_type, samples.get(name, [])) for name, data_type in columns}
