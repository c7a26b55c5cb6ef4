"""Step 5: verify a staging table before it replaces anything, in SQL inside the warehouse.

Each check returns a `CheckOutcome`; the Dagster layer reports them as blocking asset checks, and
the engine swaps the staging table in only when all of them pass. Fail closed: a check that cannot
run counts as failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from minimization_pipeline.anonymize import pseudonymize
from minimization_pipeline.anonymize.evidence import held_by_fewer_than
from minimization_pipeline.anonymize.plan import ColumnPlan, TablePlan
from minimization_pipeline.anonymize.risk import LinkageAttack, RiskReport, measure_risk
from minimization_pipeline.catalog import Table
from minimization_pipeline.policy import Method, Pattern
from minimization_pipeline.warehouse.base import TableRef, WarehouseSession
from minimization_pipeline.warehouse.functions import for_dialect, regexp_contains

K_ANONYMITY = "k_anonymity"
NO_RAW_IDENTIFIERS = "no_raw_identifiers"
SCHEMA_PARITY = "schema_parity"
PATTERN_SCAN = "pattern_scan"
L_DIVERSITY = "l_diversity"
RE_IDENTIFICATION_RISK = "re_identification_risk"
ROWS_ACCOUNTED = "rows_accounted"
NO_OWN_RARE_VALUE = "no_own_rare_value"
CHECK_NAMES = (
    K_ANONYMITY,
    RE_IDENTIFICATION_RISK,
    NO_RAW_IDENTIFIERS,
    SCHEMA_PARITY,
    PATTERN_SCAN,
    ROWS_ACCOUNTED,
    NO_OWN_RARE_VALUE,
)
CHECK_DESCRIPTIONS = {
    K_ANONYMITY: "Every combination of quasi-identifier values is shared by at least k rows.",
    RE_IDENTIFICATION_RISK: "Highest prosecutor risk and a simulated linkage attack's success are at most the "
    "policy's max_risk (default 1/k).",
    NO_RAW_IDENTIFIERS: "No RAW value of a direct-identifier column appears in that column's output.",
    SCHEMA_PARITY: "Same columns, order and types as the source, so dbt models run unchanged.",
    L_DIVERSITY: "Every class holds at least l distinct values of the sensitive attribute.",
    PATTERN_SCAN: "No value looks like an email, phone, card number or IP address unless the policy allows it.",
    ROWS_ACCOUNTED: "Every RAW row is accounted for: RAW rows = published + suppressed (left out) + held back.",
    NO_OWN_RARE_VALUE: "No quasi-identifier value that fewer than k RAW rows hold is released, so no row carries its "
    "own rare value.",
}

#: RE2 patterns (DuckDB and Snowflake both speak RE2-like syntax). Boundaries exclude word
#: characters so that hex pseudonyms or version strings such as Chrome/120.0.0.0 or rv:1.9.5.20 do not match.
PATTERNS: dict[Pattern, str] = {
    Pattern.EMAIL: r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    Pattern.PHONE: r"(^|[^\w+])(\+?\d{1,3}[ .-]?)?(\(\d{3}\)|\d{3})[ .-]\d{3}[ .-]\d{4}($|[^\w])"
    r"|(^|[^\w])\+\d{10,15}($|[^\w])"
    r"|(^|[^\w])\+\d{1,3}( \d{1,4}){2,5}($|[^\w])",
    Pattern.CARD: r"(^|[^\w])(\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d{1,7}|3[47]\d{2}[ -]?\d{6}[ -]?\d{5})($|[^\w])",
    Pattern.IPV4: r"(^|[^\w./:])((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)($|[^\w./])",
    Pattern.IPV6: r"(^|[^\w:])(([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|([0-9A-Fa-f]{1,4}:){1,7}:"
    r"|([0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}|([0-9A-Fa-f]{1,4}:){1,5}(:[0-9A-Fa-f]{1,4}){1,2}"
    r"|([0-9A-Fa-f]{1,4}:){1,4}(:[0-9A-Fa-f]{1,4}){1,3}|([0-9A-Fa-f]{1,4}:){1,3}(:[0-9A-Fa-f]{1,4}){1,4}"
    r"|([0-9A-Fa-f]{1,4}:){1,2}(:[0-9A-Fa-f]{1,4}){1,5}|[0-9A-Fa-f]{1,4}:(:[0-9A-Fa-f]{1,4}){1,6}"
    r"|::([0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4})($|[^\w:])",
}


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    summary: str
    metadata: dict[str, object] = field(default_factory=dict)


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def class_keys(plan: TablePlan) -> list[exp.Expression]:
    """What a class is: the quasi-identifiers, and for a slice of a partitioned table its partition too
    (each partition must be k-anonymous on its own, so that replacing any one later cannot leave another's
    classes under k)."""
    keys: list[exp.Expression] = [_col(column.name) for column in plan.quasi]
    if plan.slice is not None:
        keys.insert(0, plan.slice.bucket())
    return keys


def measure_classes(session: WarehouseSession, table: TableRef, plan: TablePlan) -> RiskReport:
    """The output's classes, counted in the warehouse (their size histogram: a few rows)."""
    return measure_risk(session, table, class_keys(plan))


def check_k_anonymity(
    session: WarehouseSession, table: TableRef, plan: TablePlan, classes: RiskReport | None = None
) -> CheckOutcome:
    """min(class size) over the quasi-identifiers (per partition for a slice), counted on the output itself;
    ``classes``: that count when the caller already made it."""
    if not plan.quasi:
        return CheckOutcome(K_ANONYMITY, True, "no quasi-identifiers", {"k_required": plan.k})
    if classes is None:
        classes = measure_classes(session, table, plan)
    k_achieved = classes.smallest_class
    passed = classes.records == 0 or k_achieved >= plan.k
    return CheckOutcome(
        K_ANONYMITY,
        passed,
        f"smallest class {k_achieved} {'>=' if passed else '<'} k={plan.k} over {len(plan.quasi)} quasi-identifiers"
        + (" in every partition" if plan.slice is not None else ""),
        {"k_required": plan.k, "k_achieved": k_achieved, "classes": classes.classes, "rows": classes.records},
    )


def check_risk(plan: TablePlan, classes: RiskReport | None, linkage: LinkageAttack | None) -> CheckOutcome:
    """The auditor's bound: nobody's chance of being singled out exceeds ``plan.risk_limit``, neither by the
    prosecutor model (1 / their class's size) nor by the simulated linkage attack."""
    limit = plan.risk_limit
    if not plan.quasi or classes is None:
        return CheckOutcome(RE_IDENTIFICATION_RISK, True, "no quasi-identifiers", {"max_risk": limit})
    highest = classes.highest_prosecutor_risk
    metadata: dict[str, object] = {"max_risk": round(limit, 6), **classes.as_metadata("_after")}
    problems = []
    if classes.records and highest > limit + TOLERANCE:
        problems.append(f"highest prosecutor risk {highest:.4g} > {limit:.4g}")
    summary = f"highest prosecutor risk {highest:.4g}"
    if linkage is not None:
        metadata |= linkage.as_metadata("_after")
        summary += f", linkage attack {linkage.success:.4g} over {linkage.attempts:,} targets"
        if linkage.success > limit + TOLERANCE:
            problems.append(f"linkage attack success {linkage.success:.4g} > {limit:.4g}")
    else:  # no simulated attack (coarsened histogram): the strongest attacker's expected success
        metadata |= {
            "linkage_success_after": classes.average_prosecutor_risk,
            "linkage_unique_success_after": classes.unique_records_share,
        }
    passed = not problems
    return CheckOutcome(
        RE_IDENTIFICATION_RISK,
        passed,
        (summary + f" <= max_risk {limit:.4g}") if passed else "; ".join(problems),
        metadata,
    )


@dataclass(frozen=True)
class RowsExpected:
    """What the release says becomes of the source's rows: how many it maps to output rows, and how many it
    leaves out on purpose (suppressed rows a mode drops, partitions held back under k)."""

    mapped: int | None  # None: no mapping (every row is copied or pseudonymized in place)
    left_out_suppressed: int = 0
    held_back: int = 0


def check_rows_accounted(
    session: WarehouseSession, output: TableRef, plan: TablePlan, expected: RowsExpected
) -> CheckOutcome:
    """RAW rows = published + suppressed (left out) + held back, and published = what the mapping maps.

    Counted in one statement on the source and the output. Why: a k check passes on an empty table, so
    without this a release that lost rows (a past bug did, when RAW columns shadowed the engine's) looked
    green.
    """
    count = exp.select("COUNT(*)")
    query = exp.select(
        count.copy().from_(plan.source.expression()).subquery(copy=False).as_("source_rows"),
        count.copy().from_(output.expression()).subquery(copy=False).as_("output_rows"),
    )
    source_rows, output_rows = (int(value) for value in session.fetch_all(query)[0])
    left_out = expected.left_out_suppressed + expected.held_back
    metadata: dict[str, object] = {
        "source_rows": source_rows,
        "published_rows": output_rows,
        "suppressed_rows_left_out": expected.left_out_suppressed,
        "held_back_rows": expected.held_back,
    }
    problems = []
    if source_rows != output_rows + left_out:
        problems.append(
            f"{source_rows:,} RAW rows != {output_rows:,} published + {expected.left_out_suppressed:,} suppressed "
            f"+ {expected.held_back:,} held back"
        )
    if expected.mapped is not None and expected.mapped != output_rows:
        problems.append(f"the release maps {expected.mapped:,} rows but {output_rows:,} were written")
    summary = "; ".join(problems) or (
        f"{source_rows:,} RAW rows = {output_rows:,} published + {expected.left_out_suppressed:,} suppressed + "
        f"{expected.held_back:,} held back"
    )
    return CheckOutcome(ROWS_ACCOUNTED, not problems, f"{plan.source}: {summary}" if problems else summary, metadata)


def rare_released_query(output: TableRef, plan: TablePlan) -> exp.Expression:
    """Per quasi-identifier (by position): output rows whose value is one that fewer than k source rows hold.

    Compared as text, so a generalized label (text) and its source column (a number) are compared alike.
    """
    text = exp.DataType.build("VARCHAR")
    parts = []
    for index, column in enumerate(plan.quasi):
        name = _col(column.name)
        rare = held_by_fewer_than(plan.source, column.name, plan.k, exp.cast(name.copy(), text))
        parts.append(
            exp.select(exp.Literal.number(index).as_("position", quoted=True), exp.Count(this=exp.Star()).as_("rows"))
            .from_(output.expression())
            .where(exp.In(this=exp.cast(name.copy(), text), query=rare.subquery(copy=False)))
        )
    query: exp.Expression = parts[0]
    for part in parts[1:]:
        query = exp.union(query, part, distinct=False)
    return query


def check_no_own_rare_value(session: WarehouseSession, output: TableRef, plan: TablePlan) -> CheckOutcome:
    """No output row holds, in a quasi-identifier, a value that fewer than k source rows hold.

    Stricter than "no row keeps its own rare value" (an output row cannot be matched to its source row), and
    it implies it. Why: a class that releases one member's exact coordinate or birthday publishes that member's
    own value beside their kept key, whatever the class's size. One statement for all quasi-identifiers.
    """
    if not plan.quasi:
        return CheckOutcome(NO_OWN_RARE_VALUE, True, "no quasi-identifiers")
    rows = session.fetch_all(rare_released_query(output, plan))
    found = {plan.quasi[int(position)].name: int(count) for position, count in rows if int(count)}
    if found:
        listed = ", ".join(f"{name} ({count:,} rows)" for name, count in found.items())
        return CheckOutcome(
            NO_OWN_RARE_VALUE,
            False,
            f"{plan.source}: released values that fewer than k={plan.k} RAW rows hold: {listed}",
            {"rows_with_rare_values": found},
        )
    return CheckOutcome(
        NO_OWN_RARE_VALUE,
        True,
        f"no released value of {len(plan.quasi)} quasi-identifiers is held by fewer than k={plan.k} RAW rows",
        {"rows_with_rare_values": {}},
    )


#: risks are rounded to 6 places; a 1/k risk must not fail its own 1/k limit by rounding
TOLERANCE = 1e-6


def _recomputed_leaks(session: WarehouseSession, output: TableRef, plan: TablePlan, column: ColumnPlan) -> int:
    """Rows that keep their own value, plus values whose counts differ from what the pseudonym produces.

    Fake values come from the same vocabularies as real ones, so a real 'Maria' may rightly appear as
    someone else's fake, and an integer pseudonym lives in the same range as the integer keys (a million
    ids hashed into an INTEGER's 2^31 values meet about 470 RAW ids by chance): a set comparison would be
    meaningless. Instead: (1) the pseudonym, re-evaluated on RAW, never equals its input; (2) the output
    holds exactly the multiset pseudonym(RAW), so a column left with its RAW values is caught.
    """
    name = _col(column.name)
    if column.method is Method.FAKE:
        fake = pseudonymize.fake_value(name, column.policy.fake, session.secret_expression())
    else:
        fake = pseudonymize.hash_value(name, column.data_type, session.secret_expression())
    kept = exp.select("COUNT(*)").from_(plan.source.expression()).where(exp.EQ(this=fake, expression=name.copy()))
    produced = (
        exp.select(fake.copy().as_("v"), exp.Count(this=exp.Star()).as_("n"))
        .from_(plan.source.expression())
        .group_by(exp.column("v"))
    )
    published = (
        exp.select(name.copy().as_("v"), exp.Count(this=exp.Star()).as_("n"))
        .from_(output.expression())
        .group_by(exp.column("v"))
    )
    mismatched = (
        exp.select("COUNT(*)")
        .from_(produced.subquery("f"))
        .join(
            published.subquery("o"),
            on=exp.NullSafeEQ(this=exp.column("v", "f"), expression=exp.column("v", "o")),
            join_type="FULL",
        )
        .where(exp.NullSafeNEQ(this=exp.column("n", "f"), expression=exp.column("n", "o")))
    )
    return int(session.fetch_all(kept)[0][0]) + int(session.fetch_all(mismatched)[0][0])


def check_l_diversity(session: WarehouseSession, table: TableRef, plan: TablePlan) -> CheckOutcome:
    """min(distinct sensitive values) over the classes of the output (NULL counts as a value)."""
    assert plan.l_diversity is not None
    sensitive = _col(plan.l_diversity.column)
    # COUNT(DISTINCT) skips NULL: count it as one more value where present.
    distinct = exp.Add(
        this=exp.Count(this=exp.Distinct(expressions=[sensitive])),
        expression=exp.Max(
            this=exp.If(
                this=exp.Is(this=sensitive.copy(), expression=exp.Null()),
                true=exp.Literal.number(1),
                false=exp.Literal.number(0),
            )
        ),
    )
    classes = exp.select(distinct.as_("d")).from_(table.expression()).group_by(*[_col(c.name) for c in plan.quasi])
    l_achieved = session.fetch_all(exp.select("MIN(d)").from_(classes.subquery("c")))[0][0]
    l_achieved = int(l_achieved or 0)
    passed = l_achieved >= plan.l_diversity.l
    return CheckOutcome(
        L_DIVERSITY,
        passed,
        f"fewest distinct {plan.l_diversity.column} values in a class: {l_achieved} "
        f"{'>=' if passed else '<'} l={plan.l_diversity.l}",
        {"l_required": plan.l_diversity.l, "l_achieved": l_achieved},
    )


def _zero_if_null(value: exp.Expression) -> exp.Expression:
    return exp.func("COALESCE", value, exp.Literal.number(0))


def _count_if(condition: exp.Expression, weight: exp.Expression | None = None) -> exp.Expression:
    return _zero_if_null(
        exp.Sum(this=exp.If(this=condition, true=weight or exp.Literal.number(1), false=exp.Literal.number(0)))
    )


def _is_hashed_text(column: ColumnPlan) -> bool:
    return column.method is Method.HASH and pseudonymize.is_text(column.data_type)


def _output_shape(column: ColumnPlan, value: exp.Expression) -> exp.Expression | None:
    """A cheap predicate every non-NULL output value of a hash/mask column satisfies by construction.

    Hash: exactly `STRING_HASH_HEX` characters. Mask: starts with '*' (or is empty: a mask keeps the length
    and stars all but a few trailing characters, and the email-domain mask always starts with '***').
    """
    if _is_hashed_text(column):
        return exp.EQ(this=exp.Length(this=value), expression=exp.Literal.number(pseudonymize.STRING_HASH_HEX))
    if column.method is Method.MASK:
        return exp.or_(
            exp.Like(this=value, expression=exp.Literal.string("*%")),
            exp.EQ(this=value.copy(), expression=exp.Literal.string("")),
        )
    return None


def _value_leaks(
    session: WarehouseSession,
    output: TableRef,
    plan: TablePlan,
    column: ColumnPlan,
    shape_violations: int | None,
) -> int:
    """Distinct output values of the column that are also RAW values of it.

    When every output value has the column's shape (`_output_shape`, counted beforehand), an equal RAW
    value must have it too, so only RAW values of that shape -- usually none for a mask, a few for a hash --
    are joined to the output instead of DISTINCT-ing both sides: the same count, without hashing two
    columns of N distinct strings. Otherwise the full comparison runs.
    """
    name = _col(column.name)
    shape = _output_shape(column, _col(column.name))
    if shape is not None and shape_violations == 0:
        raw = exp.select(name.as_("v", quoted=True)).distinct().from_(plan.source.expression()).where(shape)
        query = (
            exp.select(exp.Count(this=exp.Distinct(expressions=[_col("v", "r")])))
            .from_(raw.subquery("r"))
            .join(output.expression("o"), on=exp.EQ(this=_col(column.name, "o"), expression=_col("v", "r")))
        )
        return int(session.fetch_all(query)[0][0])
    out = exp.select(name.copy()).distinct().from_(output.expression())
    raw_all = exp.select(name.copy()).distinct().from_(plan.source.expression())
    query = (
        exp.select("COUNT(*)")
        .from_(out.subquery("o"))
        .join(raw_all.subquery("r"), on=exp.EQ(this=_col(column.name, "o"), expression=_col(column.name, "r")))
    )
    return int(session.fetch_all(query)[0][0])


def _shape_violations(session: WarehouseSession, output: TableRef, columns: list[ColumnPlan]) -> dict[str, int]:
    """Per hash/mask column, the non-NULL output values without the column's shape (one scan for all)."""
    probes = {}
    for column in columns:
        shape = _output_shape(column, _col(column.name))
        if shape is not None:
            not_null = exp.Not(this=exp.Is(this=_col(column.name), expression=exp.Null()))
            probes[column.name] = _count_if(exp.and_(not_null, exp.Not(this=exp.Paren(this=shape))))
    if not probes:
        return {}
    query = exp.select(*(probe.as_(f"s{index}") for index, probe in enumerate(probes.values()))).from_(
        output.expression()
    )
    return dict(zip(probes, (int(v) for v in session.fetch_all(query)[0]), strict=True))


def check_no_raw_identifiers(session: WarehouseSession, output: TableRef, plan: TablePlan) -> CheckOutcome:
    """Hash (text), mask: no output value equals any RAW value of the column. Null: only NULLs. Fake and integer
    hash: see `_recomputed_leaks`."""
    leaks: dict[str, int] = {}
    shapes = _shape_violations(session, output, list(plan.direct))
    for column in plan.direct:
        if column.method is Method.FAKE or (column.method is Method.HASH and pseudonymize.is_integer(column.data_type)):
            count = _recomputed_leaks(session, output, plan, column)
        elif column.method is Method.NULL:
            not_null = exp.Not(this=exp.Is(this=_col(column.name), expression=exp.Null()))
            count = int(session.fetch_all(exp.select("COUNT(*)").from_(output.expression()).where(not_null))[0][0])
        else:
            count = _value_leaks(session, output, plan, column, shapes.get(column.name))
        if count:
            leaks[column.name] = count
    checked = [column.name for column in plan.direct]
    summary = f"leaks in {sorted(leaks)}" if leaks else f"{len(checked)} direct-identifier columns clean"
    return CheckOutcome(NO_RAW_IDENTIFIERS, not leaks, summary, {"checked": checked, "leaking_values": leaks})


def check_schema_parity(expected: Table, actual: Table | None) -> CheckOutcome:
    """Same column names, order and types: a dbt model written against RAW runs on RAW_SAFE."""
    if actual is None:
        return CheckOutcome(SCHEMA_PARITY, False, "output table not found")
    want = [(c.name, c.data_type) for c in expected.columns]
    got = [(c.name, c.data_type) for c in actual.columns]
    differences = [f"{w} != {g}" for w, g in zip(want, got, strict=False) if w != g]
    if len(want) != len(got):
        differences.append(f"{len(want)} columns expected, {len(got)} found")
    return CheckOutcome(
        SCHEMA_PARITY,
        not differences,
        "; ".join(differences) if differences else f"{len(want)} columns match",
        {"columns": len(got), "differences": differences},
    )


def _skips_pattern_scan(column: ColumnPlan) -> bool:
    """Text the policy names for `hash`: `hash_value` writes 32 hex digits, which no pattern can match.

    Its values are unique, so scanning them is the costliest part of the check (seconds at 10M rows) for
    nothing. Instead: the output's values must all have the hash's length (checked here, one cheap scan;
    a column left unhashed or copied from elsewhere fails it), and no RAW value may appear in it
    (`check_no_raw_identifiers`). Columns hashed only because nobody classified them are still scanned.
    """
    return _is_hashed_text(column) and column.reason == "policy"


def _combined(patterns: list[Pattern]) -> str:
    return "|".join(f"({PATTERNS[pattern]})" for pattern in patterns)


def _grouped_hits(output: TableRef, column: str, regex: str, tag: str) -> exp.Select:
    """Rows whose value matches `regex`, counted over the column's distinct values: a released QI, a plan or
    a country has few, so the regexes run a few thousand times instead of once per row."""
    values = (
        exp.select(_col(column).as_("v", quoted=True), exp.Count(this=exp.Star()).as_("n", quoted=True))
        .from_(output.expression())
        .group_by(_col(column))
    )
    matches = regexp_contains(_col("v"), regex)  # anywhere in the value, on every warehouse
    return exp.select(exp.Literal.string(tag).as_("tag"), _count_if(matches, _col("n")).as_("hits")).from_(
        values.subquery("g")
    )


def _union(selects: list[exp.Select]) -> exp.Expression:
    query: exp.Expression = selects[0]
    for select in selects[1:]:
        query = exp.union(query, select, distinct=False)
    return query


def check_patterns(session: WarehouseSession, output: TableRef, plan: TablePlan) -> CheckOutcome:
    """Every scanned text column for values that look like contact or payment data.

    One pass per column with all patterns the column does not allow combined into one regex, over the
    column's distinct values weighted by their rows; only a column with hits is rescanned per pattern, to
    say which. Text hashed by the policy is length-checked instead (see `_skips_pattern_scan`).
    """
    scanned: dict[str, list[Pattern]] = {}
    hashed: list[str] = []
    for column in plan.columns:
        if not pseudonymize.is_text(column.data_type):
            continue
        if _skips_pattern_scan(column):
            hashed.append(column.name)
            continue
        patterns = [pattern for pattern in PATTERNS if pattern not in column.policy.allowed_patterns]
        if patterns:
            scanned[column.name] = patterns
    if not scanned and not hashed:
        return CheckOutcome(PATTERN_SCAN, True, "no text columns to scan")
    hits: dict[str, int] = {}
    if scanned:
        selects = [_grouped_hits(output, name, _combined(patterns), name) for name, patterns in scanned.items()]
        flagged = [str(tag) for tag, count in session.fetch_all(_union(selects)) if count]
        if flagged:
            selects = [
                _grouped_hits(output, name, PATTERNS[pattern], f"{name}:{pattern.value}")
                for name in flagged
                for pattern in scanned[name]
            ]
            hits = {str(tag): int(count) for tag, count in session.fetch_all(_union(selects)) if count}
    malformed: dict[str, int] = {}
    if hashed:
        length = exp.Literal.number(pseudonymize.STRING_HASH_HEX)
        probes = [
            _count_if(
                exp.and_(
                    exp.Not(this=exp.Is(this=_col(name), expression=exp.Null())),
                    exp.NEQ(this=exp.Length(this=_col(name)), expression=length.copy()),
                )
            ).as_(f"h{index}")
            for index, name in enumerate(hashed)
        ]
        counts = session.fetch_all(exp.select(*probes).from_(output.expression()))[0]
        malformed = {f"{name}:not_a_hash": int(count) for name, count in zip(hashed, counts, strict=True) if count}
    hits.update(malformed)
    columns = len(scanned) + len(hashed)
    summary = (
        f"identifier-like values found: {hits}"
        if hits
        else f"{columns} text columns clean ({len(hashed)} hashed: length-checked, hex by construction)"
    )
    return CheckOutcome(PATTERN_SCAN, not hits, summary, {"hits": hits, "hashed_not_scanned": hashed})


def sql_of(expression: exp.Expression, dialect: str) -> str:
    """Rendered SQL for metadata and debugging."""
    return sqlglot.transpile(for_dialect(expression, dialect).sql(dialect=dialect), read=dialect, write=dialect)[0]
