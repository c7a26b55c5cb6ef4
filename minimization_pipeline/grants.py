"""Grants as code: the article's Snowflake roles and the pipeline's own, rendered from the policy's `roles:` section.

Five roles keep personal data where it belongs:

- LOADER loads sources: usage and `CREATE SCHEMA` on RAW (it then owns the schemas it creates).
- DEVELOPER builds dbt's dev target on anonymized data: usage on RAW and its schemas (as the article
  grants, so RAW_SAFE views over RAW resolve), but no `SELECT` on anything in RAW; usage and `SELECT` on
  everything in RAW_SAFE, present and future; `CREATE SCHEMA` on DEV.
- TRANSFORMER builds dbt's prod target: usage and `SELECT` on everything in RAW, present and future;
  ownership of ANALYTICS; nothing at all on RAW_SAFE, so a dbt config mistake cannot mix the two.
- The reader (REPORTER by default) reads PUBLIC, the anonymized-again marts, and nothing else.
- ANONYMIZER, the role the pipeline itself runs as (not in the article): usage and `SELECT` on everything
  in RAW, DEV and ANALYTICS, present and future, and no write there; ownership of RAW_SAFE and PUBLIC,
  which it builds; usage and `CREATE TABLE` on RAW_SAFE's PUBLIC schema, where its sessions keep their
  temporary tables.

Each role also gets usage on its own warehouse, and DEVELOPER usage on DEV, which the article's
excerpt leaves out but a role needs to use what it creates there. The article's `create` and
`create_schema` privileges are spelled `CREATE SCHEMA`, as Snowflake names that privilege.

Every name is validated as a plain Snowflake identifier and upper-cased by the policy, checked again
here, and written double-quoted by sqlglot: `"RAW"` is the same database as the article's unquoted
`RAW`, and no name can end a statement or start another. The script must run as a role that may create
roles, warehouses and databases and manage grants (ACCOUNTADMIN, or SYSADMIN with SECURITYADMIN). Every
statement is idempotent (`IF NOT EXISTS`, grants that already exist are no-ops), so it is safe to re-run.

:func:`privilege_matrix` reads the rendered SQL back with sqlglot's Snowflake parser, so tests check what
the SQL text grants, not what the code meant to write. This module imports no Dagster.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp
from sqlglot.dialects.snowflake import Snowflake
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

from minimization_pipeline.policy import SNOWFLAKE_IDENTIFIER, RolesPolicy
from minimization_pipeline.retention import RETAINED_SCHEMA

if TYPE_CHECKING:
    from minimization_pipeline.warehouse.base import Warehouse

DIALECT = "snowflake"

#: The schema the pipeline's Snowflake sessions start in (`database="RAW_SAFE", schema_="PUBLIC"` in
#: `defs/resources.py`): the session-scoped temporary tables (mapping, histogram) are created there.
SESSION_SCHEMA = "PUBLIC"

#: Why the apply path refuses anything but Snowflake; the job and the CLI show the same words.
NEEDS_SNOWFLAKE = (
    "grants are a Snowflake feature: the {dialect} warehouse has no roles, so there is nothing to apply. "
    "Print the SQL instead (`python -m minimization_pipeline grants --dry-run`, or the warehouse_grants "
    "job with dry_run: true) and run it on Snowflake."
)


class GrantsError(ValueError):
    """A name is unsafe, the warehouse cannot take grants, or SQL is not one of the grants we write."""


# ------------------------------------------------------------------------------------------ rendering


def quote(name: str) -> str:
    """A validated name, double-quoted by sqlglot; anything but a plain identifier is refused.

    The policy has already validated and upper-cased the name; checking again here means a policy built
    without validation (`model_construct`) cannot smuggle SQL in either.
    """
    if not isinstance(name, str) or not SNOWFLAKE_IDENTIFIER.fullmatch(name):
        raise GrantsError(f"{name!r} is not a plain Snowflake name; refusing to put it in SQL")
    return exp.to_identifier(name.upper(), quoted=True).sql(dialect=DIALECT)


def _grant(privilege: str, on: str, role: str) -> str:
    return f"GRANT {privilege} ON {on} TO ROLE {quote(role)}"


def _read_everything(database: str, role: str) -> list[str]:
    """Usage on the database and its schemas, select on its tables and views: now and in the future."""
    db = quote(database)
    return [
        _grant("USAGE", f"DATABASE {db}", role),
        _grant("USAGE", f"ALL SCHEMAS IN DATABASE {db}", role),
        _grant("USAGE", f"FUTURE SCHEMAS IN DATABASE {db}", role),
        _grant("SELECT", f"ALL TABLES IN DATABASE {db}", role),
        _grant("SELECT", f"FUTURE TABLES IN DATABASE {db}", role),
        _grant("SELECT", f"ALL VIEWS IN DATABASE {db}", role),
        _grant("SELECT", f"FUTURE VIEWS IN DATABASE {db}", role),
    ]


def render_grants(roles: RolesPolicy, retained: Sequence[tuple[str, str]] = ()) -> list[str]:
    """The statements, without `;`, in a fixed order: roles, warehouses, databases, warehouse usage,
    ownership of databases, the other grants, memberships.

    ``retained``: the (schema, table) pairs with ``keep_identifiable``. Retention needs ANONYMIZER to delete
    their old RAW rows and to own the schema of the history views in ANALYTICS, which TRANSFORMER (dbt's
    prod target) reads; the views run with their owner's rights, so TRANSFORMER still gets nothing on
    RAW_SAFE."""
    db = roles.databases
    loader, developer, transformer, reader = roles.loader, roles.developer, roles.transformer, roles.reader
    anonymizer = roles.anonymizer
    managed = list(roles.all_roles().values())
    statements = [f"CREATE ROLE IF NOT EXISTS {quote(role.name)}" for role in managed]
    for warehouse in dict.fromkeys(role.warehouse for role in managed):  # a shared warehouse is created once
        statements.append(
            f"CREATE WAREHOUSE IF NOT EXISTS {quote(warehouse)} WAREHOUSE_SIZE = '{roles.warehouse_size.value}' "
            f"AUTO_SUSPEND = {int(roles.auto_suspend_seconds)} AUTO_RESUME = TRUE INITIALLY_SUSPENDED = TRUE"
        )
    for database in (db.raw, db.raw_safe, db.dev, db.analytics, db.public, db.staging):
        statements.append(f"CREATE DATABASE IF NOT EXISTS {quote(database)}")
    for role in managed:
        statements.append(_grant("USAGE", f"WAREHOUSE {quote(role.warehouse)}", role.name))

    # Ownership first, before any other grant on these databases. COPY CURRENT GRANTS keeps the grants a
    # database already has (a re-run, or REPORTER's usage on PUBLIC) with it, and keeps a re-run from
    # failing (Snowflake refuses the transfer of an object that has grants otherwise). The grants that
    # follow are made by the administrator's MANAGE GRANTS, not by the owner, so they work after the
    # transfer. Future grants (`... ON FUTURE TABLES IN DATABASE`) belong to the database, not to its
    # owner: whichever role later creates a schema, table or view in it, the grant applies to the new
    # object, so DEVELOPER reads every table and view ANONYMIZER creates in RAW_SAFE, and REPORTER every
    # one it publishes in PUBLIC. (A schema-level future grant would take precedence; none is made.)
    statements += [
        # TRANSFORMER: dbt's prod target builds ANALYTICS.
        _grant("OWNERSHIP", f"DATABASE {quote(db.analytics)}", transformer.name) + " COPY CURRENT GRANTS",
        # ANONYMIZER: the pipeline builds RAW_SAFE and publishes PUBLIC. The owner of a database holds every
        # privilege on it, CREATE SCHEMA included, so it creates its schemas, and owns them and the staging
        # tables, views and swaps it makes in them. Ownership of the database does not reach the schemas
        # other roles own, though: the PUBLIC schema CREATE DATABASE made stays the administrator's, so
        # the session schema gets its own grants below.
        _grant("OWNERSHIP", f"DATABASE {quote(db.raw_safe)}", anonymizer.name) + " COPY CURRENT GRANTS",
        _grant("OWNERSHIP", f"DATABASE {quote(db.public)}", anonymizer.name) + " COPY CURRENT GRANTS",
        # Staging: a table waits here while its checks run. No other role gets anything on this database,
        # so the future grants on RAW_SAFE and PUBLIC cannot expose a table that may still fail them.
        _grant("OWNERSHIP", f"DATABASE {quote(db.staging)}", anonymizer.name) + " COPY CURRENT GRANTS",
    ]

    # LOADER: writes RAW (the article's `create` on RAW is Snowflake's CREATE SCHEMA).
    statements += [
        _grant("USAGE", f"DATABASE {quote(db.raw)}", loader.name),
        _grant("CREATE SCHEMA", f"DATABASE {quote(db.raw)}", loader.name),
    ]
    # DEVELOPER: usage only on RAW, everything in RAW_SAFE, its own schemas in DEV.
    statements += [
        _grant("USAGE", f"DATABASE {quote(db.raw)}", developer.name),
        _grant("USAGE", f"ALL SCHEMAS IN DATABASE {quote(db.raw)}", developer.name),
        *_read_everything(db.raw_safe, developer.name),
        _grant("USAGE", f"DATABASE {quote(db.dev)}", developer.name),
        _grant("CREATE SCHEMA", f"DATABASE {quote(db.dev)}", developer.name),
    ]
    # TRANSFORMER: everything in RAW, owns ANALYTICS (above); nothing on RAW_SAFE.
    statements += _read_everything(db.raw, transformer.name)
    # The reader: PUBLIC and nothing else.
    statements += _read_everything(db.public, reader.name)
    # ANONYMIZER: reads RAW (and samples it to classify columns) and the dbt models in DEV or ANALYTICS
    # that PUBLIC publishes, and writes none of them. Its sessions create TEMPORARY tables in RAW_SAFE's
    # PUBLIC schema, which needs usage and CREATE TABLE on that schema: see the ownership note above.
    session_schema = f"SCHEMA {quote(db.raw_safe)}.{quote(SESSION_SCHEMA)}"
    statements += [
        *_read_everything(db.raw, anonymizer.name),
        *_read_everything(db.dev, anonymizer.name),
        *_read_everything(db.analytics, anonymizer.name),
        _grant("USAGE", session_schema, anonymizer.name),
        _grant("CREATE TABLE", session_schema, anonymizer.name),
    ]

    if retained:
        history = f"{quote(db.analytics)}.{quote(RETAINED_SCHEMA.upper())}"
        statements += [
            f"CREATE SCHEMA IF NOT EXISTS {history}",
            _grant("OWNERSHIP", f"SCHEMA {history}", anonymizer.name) + " COPY CURRENT GRANTS",
            _grant("USAGE", f"SCHEMA {history}", transformer.name),
            _grant("SELECT", f"ALL VIEWS IN SCHEMA {history}", transformer.name),
            _grant("SELECT", f"FUTURE VIEWS IN SCHEMA {history}", transformer.name),
            *(
                _grant(
                    "DELETE", f"TABLE {quote(db.raw)}.{quote(schema.upper())}.{quote(table.upper())}", anonymizer.name
                )
                for schema, table in sorted(retained)
            ),
        ]

    for role in managed:
        statements += [f"GRANT ROLE {quote(role.name)} TO ROLE {quote(grantee)}" for grantee in role.grant_to_roles]
        statements += [f"GRANT ROLE {quote(role.name)} TO USER {quote(user)}" for user in role.grant_to_users]
    return statements


def to_script(statements: Sequence[str]) -> str:
    """One statement per line, each ending with `;`: what `grants --dry-run` prints."""
    return "\n".join(f"{statement};" for statement in statements)


def require_snowflake(dialect: str) -> None:
    """Refuse to apply grants to a warehouse without roles (the embedded DuckDB)."""
    if dialect != DIALECT:
        raise GrantsError(NEEDS_SNOWFLAKE.format(dialect=dialect))


def apply_grants(warehouse: Warehouse, statements: Sequence[str]) -> int:
    """Run the statements one by one on Snowflake; returns how many ran. Refuses any other warehouse."""
    require_snowflake(warehouse.dialect)
    with warehouse.session(purpose="grants") as session:
        for statement in statements:
            session.execute(statement)
    return len(statements)


# ------------------------------------------------------------------------------------- reading SQL back


@dataclass(frozen=True)
class ParsedGrant:
    """One privilege as the SQL states it: `privilege` on `on` (e.g. `FUTURE TABLES IN DATABASE RAW`)."""

    privilege: str
    on: str
    grantee_kind: str  # ROLE or USER
    grantee: str


@dataclass(frozen=True)
class ParsedSql:
    created: tuple[tuple[str, str], ...]  # (ROLE | WAREHOUSE | DATABASE, name), in order
    grants: tuple[ParsedGrant, ...]
    warehouse_properties: dict[str, dict[str, str]]  # warehouse -> property -> value, from CREATE WAREHOUSE


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning for each statement it keeps as a Command; here that is expected and handled."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _name(node: exp.Expression) -> str:
    """An identifier or a dotted table name as Snowflake resolves it: unquoted parts fold to upper case."""
    parts = node.parts if isinstance(node, exp.Table) else [node]
    if not parts or not all(isinstance(part, exp.Identifier) for part in parts):
        raise GrantsError(f"expected a name, got {node.sql(dialect=DIALECT)!r}")
    return ".".join(part.this if part.quoted else part.this.upper() for part in parts)


def _privilege(text: str) -> str:
    """`create_schema` (the article's spelling) and `CREATE SCHEMA` are the same privilege."""
    return " ".join(text.replace("_", " ").upper().split())


def _from_create(node: exp.Create) -> tuple[str, str, dict[str, str]]:
    kind = str(node.args.get("kind") or "").upper()
    if kind not in {"WAREHOUSE", "DATABASE", "SCHEMA"}:
        raise GrantsError(f"unexpected CREATE {kind}: {node.sql(dialect=DIALECT)}")
    properties = {
        prop.name.upper(): _value(prop.args.get("value"))
        for prop in (node.args.get("properties") or exp.Properties(expressions=[])).expressions
    }
    return kind, _name(node.this), properties


def _value(node: exp.Expression | None) -> str:
    """A property value as text: `'XSMALL'` -> `XSMALL`, `60` -> `60`, `TRUE` -> `TRUE`."""
    if isinstance(node, exp.Literal):
        return str(node.this).upper()
    return node.sql(dialect=DIALECT).upper() if node is not None else ""


def _from_grant(node: exp.Grant) -> list[ParsedGrant]:
    kind = str(node.args.get("kind") or "").upper()
    securable = node.args.get("securable")
    if kind not in {"DATABASE", "SCHEMA", "WAREHOUSE", "TABLE"} or not isinstance(securable, exp.Table):
        raise GrantsError(f"unexpected GRANT on {kind or '?'}: {node.sql(dialect=DIALECT)}")
    on = f"{kind} {_name(securable)}"
    option = " WITH GRANT OPTION" if node.args.get("grant_option") else ""
    grants = []
    for principal in node.args["principals"]:
        principal_kind = str(principal.args.get("kind") or "ROLE").upper()  # `TO x` means `TO ROLE x`
        if principal_kind != "ROLE":
            raise GrantsError(f"unexpected grantee kind {principal_kind}: {node.sql(dialect=DIALECT)}")
        for privilege in node.args["privileges"]:
            grants.append(ParsedGrant(_privilege(privilege.this.name) + option, on, "ROLE", _name(principal.this)))
    return grants


class _Tokens:
    """A strict cursor over one statement's Snowflake tokens: each step must match or the parse fails.

    sqlglot 30.22 keeps these Snowflake statements as an unparsed `exp.Command` (checked by the tests):
    `CREATE ROLE`, `GRANT ... ON ALL|FUTURE ... IN DATABASE`, `GRANT OWNERSHIP ... COPY CURRENT GRANTS`
    and `GRANT ROLE ... TO`. This reads exactly those forms from sqlglot's own tokens, and nothing else.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[Token] = [t for t in Snowflake().tokenize(text) if t.token_type is not TokenType.SEMICOLON]
        self.at = 0

    def _fail(self, wanted: str) -> GrantsError:
        got = self.tokens[self.at].text if self.at < len(self.tokens) else "the end"
        return GrantsError(f"not a grant this project writes: expected {wanted}, got {got!r} in {self.text!r}")

    def peek(self, *words: str) -> bool:
        return self.at < len(self.tokens) and self.tokens[self.at].text.upper() in words and not self._quoted()

    def _quoted(self) -> bool:
        return self.tokens[self.at].token_type is TokenType.IDENTIFIER

    def word(self, *words: str) -> str:
        if not self.peek(*words):
            raise self._fail(" or ".join(words))
        self.at += 1
        return self.tokens[self.at - 1].text.upper()

    def name(self) -> str:
        if self.at >= len(self.tokens):
            raise self._fail("a name")
        token = self.tokens[self.at]
        if token.token_type is TokenType.IDENTIFIER:  # quoted: case kept
            value = token.text
        elif token.token_type is TokenType.VAR and SNOWFLAKE_IDENTIFIER.fullmatch(token.text):
            value = token.text.upper()
        else:
            raise self._fail("a name")
        self.at += 1
        return value

    def dotted(self) -> str:
        """`db` or `db.schema`: names joined by dots."""
        value = self.name()
        while self.at < len(self.tokens) and self.tokens[self.at].token_type is TokenType.DOT:
            self.at += 1
            value += "." + self.name()
        return value

    def end(self) -> None:
        if self.at != len(self.tokens):
            raise self._fail("the end of the statement")


def _from_command(text: str) -> tuple[tuple[str, str] | None, list[ParsedGrant]]:
    tokens = _Tokens(text)
    if tokens.peek("CREATE"):
        tokens.word("CREATE")
        tokens.word("ROLE")
        if tokens.peek("IF"):
            for word in ("IF", "NOT", "EXISTS"):
                tokens.word(word)
        created = ("ROLE", tokens.name())
        tokens.end()
        return created, []
    tokens.word("GRANT")
    if tokens.peek("ROLE"):  # GRANT ROLE r TO ROLE|USER g
        tokens.word("ROLE")
        role = tokens.name()
        tokens.word("TO")
        kind = tokens.word("ROLE", "USER")
        grantee = tokens.name()
        tokens.end()
        return None, [ParsedGrant("USAGE", f"ROLE {role}", kind, grantee)]
    if tokens.peek("OWNERSHIP"):  # GRANT OWNERSHIP ON DATABASE d|SCHEMA d.s TO ROLE r COPY|REVOKE CURRENT GRANTS
        tokens.word("OWNERSHIP")
        tokens.word("ON")
        on = f"{tokens.word('DATABASE', 'SCHEMA')} {tokens.dotted()}"
        tokens.word("TO")
        if tokens.peek("ROLE"):
            tokens.word("ROLE")
        role = tokens.name()
        tokens.word("COPY", "REVOKE")
        tokens.word("CURRENT")
        tokens.word("GRANTS")
        tokens.end()
        return None, [ParsedGrant("OWNERSHIP", on, "ROLE", role)]
    # GRANT USAGE|SELECT ON ALL|FUTURE SCHEMAS|TABLES|VIEWS IN DATABASE d|SCHEMA d.s TO [ROLE] r
    privilege = tokens.word("USAGE", "SELECT")
    tokens.word("ON")
    scope = tokens.word("ALL", "FUTURE")
    objects = tokens.word("SCHEMAS", "TABLES", "VIEWS")
    tokens.word("IN")
    container = tokens.word("DATABASE", "SCHEMA")
    database = tokens.dotted()
    tokens.word("TO")
    if tokens.peek("ROLE"):
        tokens.word("ROLE")
    role = tokens.name()
    tokens.end()
    if (privilege == "USAGE") != (objects == "SCHEMAS"):
        raise GrantsError(f"{privilege} does not apply to {objects}: {text!r}")
    if container == "SCHEMA" and objects != "VIEWS":  # the only schema-level ones written: retention's views
        raise GrantsError(f"not a grant this project writes: {text!r}")
    return None, [ParsedGrant(privilege, f"{scope} {objects} IN {container} {database}", "ROLE", role)]


def parse_sql(sql: str) -> ParsedSql:
    """Read grant SQL back with `sqlglot.parse(..., read="snowflake")`; anything unexpected is an error."""
    try:
        with _quiet_sqlglot():
            statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except SqlglotError as error:  # ParseError, or TokenError for an unterminated quote
        raise GrantsError(f"not valid Snowflake SQL: {error}") from error
    created: list[tuple[str, str]] = []
    grants: list[ParsedGrant] = []
    warehouses: dict[str, dict[str, str]] = {}
    for statement in statements:
        if isinstance(statement, exp.Create):
            kind, name, properties = _from_create(statement)
            created.append((kind, name))
            if kind == "WAREHOUSE":
                warehouses[name] = properties
        elif isinstance(statement, exp.Grant):
            grants += _from_grant(statement)
        elif isinstance(statement, exp.Command):
            made, found = _from_command(statement.sql(dialect=DIALECT))
            created += [made] if made else []
            grants += found
        else:
            raise GrantsError(f"not a grant this project writes: {statement.sql(dialect=DIALECT)!r}")
    return ParsedSql(tuple(created), tuple(grants), warehouses)


def privilege_matrix(sql: str) -> dict[str, set[tuple[str, str]]]:
    """{role: {(object, privilege)}} as the SQL text grants it to roles, e.g. `("DATABASE RAW", "USAGE")`.

    A role granted to another role shows as `("ROLE <name>", "USAGE")` of the receiving role; grants of
    roles to users are in :func:`user_roles`.
    """
    matrix: dict[str, set[tuple[str, str]]] = {}
    for grant in parse_sql(sql).grants:
        if grant.grantee_kind == "ROLE":
            matrix.setdefault(grant.grantee, set()).add((grant.on, grant.privilege))
    return matrix


def user_roles(sql: str) -> dict[str, set[str]]:
    """{user: {role}} as the SQL text grants roles to users."""
    users: dict[str, set[str]] = {}
    for grant in parse_sql(sql).grants:
        if grant.grantee_kind == "USER":
            users.setdefault(grant.grantee, set()).add(grant.on.removeprefix("ROLE "))
    return users
