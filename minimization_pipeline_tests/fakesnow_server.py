"""A Snowflake wire-protocol server for the tests: fakesnow, with its known gaps bridged in test set-up.

fakesnow (DuckDB behind Snowflake's HTTP protocol) runs our product code unchanged, except for what it
does not implement. Each gap is bridged here, never in the product:

* ``ALTER SESSION SET QUERY_TAG``, ``CREATE ROLE``, ``GRANT``, ``REVOKE``, ``CREATE WAREHOUSE`` and ``USE
  WAREHOUSE`` are accepted as no-ops (fakesnow's ``nop_regexes``, sent at login);
* ``SET var = ?`` with a server-side bind stores the placeholder instead of the value; Snowflake binds it.
  A shim binds it (as a literal, inside the fake server only) before fakesnow parses the statement;
* ``CREATE OR REPLACE TABLE a CLONE b [COPY GRANTS]`` is not parsed; the shim drops and clones (not atomic
  there; fakesnow has no grants to copy);
* ``TO_NUMBER(x, 'XXXX')`` (hex digits) raises "not implemented"; the shim gives DuckDB's equivalent,
  ``CAST('0x' || x AS BIGINT)`` (HUGEINT past 15 digits).

The README lists these differences.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

NOP_REGEXES = [
    r"^\s*ALTER\s+SESSION\s+SET\s+QUERY_TAG\b.*",
    r"^\s*CREATE\s+(OR\s+REPLACE\s+)?ROLE\b.*",
    r"^\s*(GRANT|REVOKE)\b.*",
    r"^\s*CREATE\s+(OR\s+REPLACE\s+)?WAREHOUSE\b.*",
    r"^\s*USE\s+WAREHOUSE\b.*",
]
_SET_BIND = re.compile(r"^\s*SET\s+(\w+)\s*=\s*\?\s*$", re.IGNORECASE)
_REPLACE_CLONE = re.compile(
    r"^\s*CREATE\s+OR\s+REPLACE\s+TABLE\s+(\S+)\s+CLONE\s+(\S+)(\s+COPY\s+GRANTS)?\s*$", re.IGNORECASE
)

_patched = False
#: Every SQL text the fake server received, with whether it came with bound values (for the secret tests).
RECEIVED: list[tuple[str, bool]] = []


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _patch_fakesnow() -> None:
    """Bridge the gaps listed in the module docstring (once per process)."""
    global _patched
    if _patched:
        return
    from fakesnow.cursor import FakeSnowflakeCursor

    original = FakeSnowflakeCursor.execute

    def execute(self: Any, command: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        bound = kwargs.get("binding_params") or params
        if kwargs.get("server") and (not RECEIVED or RECEIVED[-1] != (command, bool(bound))):
            RECEIVED.append((command, bool(bound)))  # an executemany arrives once per row: kept once
        if (match := _SET_BIND.match(command)) and bound:
            kwargs.pop("binding_params", None)
            return original(self, f"SET {match.group(1)} = {_literal(next(iter(bound)))}", None, *args, **kwargs)
        if match := _REPLACE_CLONE.match(command):  # fakesnow clones only into a new name; no grants there
            original(self, f"DROP TABLE IF EXISTS {match.group(1)}", None)
            return original(self, f"CREATE TABLE {match.group(1)} CLONE {match.group(2)}", None)
        return original(self, command, params, *args, **kwargs)

    FakeSnowflakeCursor.execute = execute

    from fakesnow import transforms
    from sqlglot import exp

    to_decimal = transforms.to_decimal

    def hex_aware_to_decimal(expression: Any) -> Any:
        if isinstance(expression, exp.ToNumber):
            fmt = expression.args.get("format")
            if isinstance(fmt, exp.Literal) and fmt.is_string and set(fmt.name.upper()) == {"X"}:
                kind = "HUGEINT" if len(fmt.name) > 15 else "BIGINT"  # as our DuckDB side renders it
                # a hex number may be read from text that holds another (a Feistel round hashes the last
                # round's sum): the transform does not descend into what it replaced, so the inside goes first
                inside = expression.this.transform(hex_aware_to_decimal)
                return exp.cast(exp.DPipe(this=exp.Literal.string("0x"), expression=inside), kind)
        return to_decimal(expression)

    transforms.to_decimal = hex_aware_to_decimal
    _patched = True


@contextmanager
def fakesnow_server() -> Iterator[dict[str, Any]]:
    """Start the server (a thread of this process) and yield ``snowflake.connector.connect`` kwargs."""
    import fakesnow

    _patch_fakesnow()
    with fakesnow.server() as kwargs:
        session_parameters = {**kwargs.pop("session_parameters", {}), "nop_regexes": NOP_REGEXES}
        yield {**kwargs, "session_parameters": session_parameters, "network_timeout": 60}
