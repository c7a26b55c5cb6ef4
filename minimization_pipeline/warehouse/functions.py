"""SQL functions the engine needs whose spelling (or meaning) differs between DuckDB and Snowflake.

The engine builds dialect-neutral sqlglot expressions holding placeholder calls (``MP_...``); a session
replaces them with its dialect's form just before rendering (:func:`for_dialect`), so no module of the
engine branches on the warehouse. Each exists because the obvious spelling is wrong somewhere:

* ``hex_to_int``: DuckDB reads ``'0x…'`` in a cast; Snowflake needs ``TO_NUMBER(x, 'XXXX')``.
* ``regexp_contains``: a match *anywhere* in the value. DuckDB's ``REGEXP_MATCHES`` does that;
  Snowflake's ``REGEXP_LIKE`` matches the whole value only, which would let ``"mail me at a@b.com"`` pass
  a pattern scan, so Snowflake gets ``REGEXP_INSTR(x, p) > 0``.
* ``ordered_mode``: the most common value, ties to the smallest, so reruns release the same value.
  DuckDB: ``MODE(x ORDER BY x)``. Snowflake's ``MODE`` takes no order: ties there go to any of the tied
  values (all real values of the class, so k-anonymity is unaffected; only reruns may differ).
* ``int_div``: exact integer division of a non-negative integer. DuckDB's ``//``; Snowflake has no such
  operator, and ``x / d`` is rounded to 6 decimals (``TRUNC`` of it can be one too high), so it divides
  ``x - MOD(x, d)``, which ``d`` divides exactly.
* ``lower_median``: the discrete (lower) median, a real value of the class: ``QUANTILE_DISC`` in DuckDB,
  ``PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY x)`` in Snowflake.

(sqlglot's expression classes are compiled, so custom node types cannot be declared; placeholders are
plain ``Anonymous`` calls with reserved names.)
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

HEX_TO_INT = "MP_HEX_TO_INT"
INT_DIV = "MP_INT_DIV"
REGEXP_CONTAINS = "MP_REGEXP_CONTAINS"
ORDERED_MODE = "MP_ORDERED_MODE"
LOWER_MEDIAN = "MP_LOWER_MEDIAN"
_NAMES = (HEX_TO_INT, REGEXP_CONTAINS, ORDERED_MODE, LOWER_MEDIAN, INT_DIV)


def hex_to_int(value: exp.Expression, digits: int) -> exp.Expression:
    """The integer a string of ``digits`` hex digits spells (at most 30: it must fit NUMBER(38)/HUGEINT)."""
    if not 1 <= digits <= 30:
        raise ValueError(f"hex_to_int reads 1 to 30 hex digits, not {digits}")
    return exp.Anonymous(this=HEX_TO_INT, expressions=[value, exp.Literal.number(digits)])


def int_div(value: exp.Expression, divisor: int) -> exp.Expression:
    """``value // divisor`` for a non-negative integer ``value``, exact in both warehouses."""
    return exp.Anonymous(this=INT_DIV, expressions=[value, exp.Literal.number(divisor)])


def regexp_contains(value: exp.Expression, pattern: str) -> exp.Expression:
    return exp.Anonymous(this=REGEXP_CONTAINS, expressions=[value, exp.Literal.string(pattern)])


def ordered_mode(value: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=ORDERED_MODE, expressions=[value])


def lower_median(value: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=LOWER_MEDIAN, expressions=[value])


def _duckdb(name: str, args: list[exp.Expression]) -> exp.Expression:
    if name == HEX_TO_INT:  # 15 hex digits (60 bits) fit a BIGINT, which every function takes
        wide = int(args[1].name) > 15
        return exp.cast(exp.DPipe(this=exp.Literal.string("0x"), expression=args[0]), "HUGEINT" if wide else "BIGINT")
    if name == INT_DIV:
        return exp.IntDiv(this=args[0], expression=args[1])
    if name == REGEXP_CONTAINS:
        return exp.RegexpLike(this=args[0], expression=args[1])  # DuckDB: REGEXP_MATCHES (anywhere)
    if name == ORDERED_MODE:
        value = args[0].sql("duckdb")
        return sqlglot.parse_one(f"MODE({value} ORDER BY {value})", read="duckdb")
    return exp.Anonymous(this="QUANTILE_DISC", expressions=[args[0], exp.Literal.number("0.5")])


def _snowflake(name: str, args: list[exp.Expression]) -> exp.Expression:
    if name == HEX_TO_INT:
        digits = int(args[1].name)
        return exp.Anonymous(this="TO_NUMBER", expressions=[args[0], exp.Literal.string("X" * digits)])
    if name == INT_DIV:
        value, divisor = args
        exact = exp.Sub(this=value, expression=exp.Anonymous(this="MOD", expressions=[value.copy(), divisor]))
        return exp.cast(exp.Div(this=exp.Paren(this=exact), expression=divisor.copy()), "NUMBER(38, 0)")
    if name == REGEXP_CONTAINS:
        return exp.Paren(
            this=exp.GT(this=exp.Anonymous(this="REGEXP_INSTR", expressions=args), expression=exp.Literal.number(0))
        )
    if name == ORDERED_MODE:
        return exp.Anonymous(this="MODE", expressions=[args[0]])
    return exp.WithinGroup(
        this=exp.Anonymous(this="PERCENTILE_DISC", expressions=[exp.Literal.number("0.5")]),
        expression=exp.Order(expressions=[exp.Ordered(this=args[0])]),
    )


def for_dialect(expression: exp.Expression, dialect: str) -> exp.Expression:
    """Replace the placeholder calls with ``dialect``'s spelling (a copy; the input is not changed)."""
    if not any(isinstance(node, exp.Anonymous) and node.name in _NAMES for node in expression.walk()):
        return expression
    build = _snowflake if dialect == "snowflake" else _duckdb

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous) and node.name in _NAMES:
            # a placeholder may hold others (a Feistel round hashes the previous round's sum): the transform
            # does not descend into what it replaced, so the arguments are rendered first
            return build(node.name, [for_dialect(argument, dialect) for argument in node.expressions])
        return node

    return expression.copy().transform(replace)
