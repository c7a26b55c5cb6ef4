"""The hostile corpus through the pipeline, twice: with descriptive names, then with every PII column renamed
to a harmless one. A scanner reads every value of RAW_SAFE and counts the RAW values it finds there."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from minimization_pipeline.anonymize.kanon import KAnonymityError
from minimization_pipeline.pipeline import Pipeline
from minimization_pipeline.policy import PolicyError, Role
from minimization_pipeline.settings import PROJECT_ROOT
from minimization_pipeline_tests import hostile_corpus as corpus
from minimization_pipeline_tests.integration.helpers import open_warehouse

K = 5  # the repository policy's RAW_SAFE k
TOKEN_SPLIT = r'[\s,;|"{}\[\]()<>:]+'


def load_corpus(data_dir: Path, renamed: bool, file: str = "raw.duckdb", timestamps_with_zone: bool = True) -> None:
    with duckdb.connect(str(data_dir / file)) as connection:
        for table in corpus.tables():
            names = ["row_no", *(name for name, _, _ in table.extra), *corpus.column_names(table, renamed)]
            types = ["BIGINT", *(t for _, t, _ in table.extra), *(c.sql_type for c in table.columns)]
            if not timestamps_with_zone:  # the loader sends literals, which fakesnow takes without an offset
                types = ["TIMESTAMP" if t == "TIMESTAMPTZ" else t for t in types]
            frame = pd.DataFrame(corpus.rows_of(table), columns=names)
            connection.register("corpus_rows", frame)
            select = ", ".join(f'CAST("{n}" AS {t}) AS "{n}"' for n, t in zip(names, types, strict=True))
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.schema}"')
            connection.execute(f'CREATE TABLE "{table.schema}"."{table.name}" AS SELECT {select} FROM corpus_rows')
            connection.unregister("corpus_rows")


def scan(data_dir: Path, table: corpus.CorpusTable, renamed: bool) -> dict[str, int]:
    """Per PII column, how many of its RAW values (direct: any; quasi: those fewer than k rows hold) appear in
    the published table: as a whole value of any column, as a token of one, or (six characters or more)
    inside one: a released 40.29229542857143 holds the RAW 40.292295 (a centroid a micro-degree from one
    member, which releases are now rounded to the class's spread to avoid)."""
    names = corpus.column_names(table, renamed)
    found = {}
    with open_warehouse(data_dir, "raw", "raw_safe") as connection:
        ref = f'"{table.schema}"."{table.name}"'
        columns = [row[0] for row in connection.execute(f"DESCRIBE raw_safe.{ref}").fetchall()]
        every = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in columns)
        connection.execute(
            f"CREATE TEMP TABLE out_values AS SELECT DISTINCT v FROM (SELECT unnest([{every}]) AS v "
            f"FROM raw_safe.{ref}) WHERE v IS NOT NULL"
        )
        connection.execute(
            f"CREATE TEMP TABLE tokens AS SELECT DISTINCT unnest(string_split_regex(v, '{TOKEN_SPLIT}')) AS v "
            "FROM out_values"
        )
        for column, name in zip(table.columns, names, strict=True):
            rare = "" if column.direct else f' GROUP BY "{name}" HAVING count(*) < {K}'
            raw_values = f'SELECT DISTINCT CAST("{name}" AS VARCHAR) AS rv FROM raw.{ref} WHERE "{name}" IS NOT NULL'
            if rare:
                raw_values = f'SELECT CAST("{name}" AS VARCHAR) AS rv FROM raw.{ref} WHERE "{name}" IS NOT NULL{rare}'
            found[name] = connection.execute(
                f"SELECT count(*) FROM ({raw_values}) r WHERE rv IN (SELECT v FROM out_values) "
                "OR rv IN (SELECT v FROM tokens) "
                "OR (length(rv) >= 6 AND EXISTS (SELECT 1 FROM out_values o WHERE contains(o.v, r.rv)))"
            ).fetchone()[0]
    return found


@pytest.mark.parametrize("renamed", [False, True], ids=["descriptive-names", "harmless-names"])
def test_no_raw_value_of_the_hostile_corpus_reaches_raw_safe(demo_data: Path, tmp_path: Path, renamed: bool) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(demo_data, data_dir)
    load_corpus(data_dir, renamed)
    pipeline = Pipeline(data_dir, PROJECT_ROOT / "minimization.yaml")
    leaks: dict[str, int] = {}
    refused: dict[str, str] = {}
    recall: dict[str, list[bool]] = {"in-sample": [], "held-out": []}  # the pipeline treats it as direct
    proposed: dict[str, list[bool]] = {"in-sample": [], "held-out": []}  # the classifier itself said direct
    for table in corpus.tables():
        key = f"{table.schema}.{table.name}"
        try:
            result = pipeline.publish_raw_safe(table.schema, table.name)
        except (PolicyError, KAnonymityError) as error:
            refused[key] = str(error)
            assert key in str(error), f"a refusal names its table: {error}"
            continue
        assert result.published, (key, [check.summary for check in result.failed_checks])
        roles = {column.name: column.role for column in result.plan.columns}
        proposals = pipeline.review([(table.schema, table.name)])[0].proposals
        part = "held-out" if table.schema == corpus.HELD_OUT else "in-sample"
        for column, name in zip(table.columns, corpus.column_names(table, renamed), strict=True):
            if column.direct:
                recall[part].append(roles[name] is Role.DIRECT)
                proposed[part].append(proposals[name].role is Role.DIRECT)
        for name, count in scan(data_dir, table, renamed).items():
            if count:
                leaks[f"{key}.{name}"] = count
    for part, hits in recall.items():
        said = proposed[part]
        print(
            f"\n{'harmless' if renamed else 'descriptive'} names, {part}: direct identifiers treated as direct "
            f"{sum(hits)}/{len(hits)} = {sum(hits) / len(hits):.1%}; proposed direct by the classifier "
            f"{sum(said)}/{len(said)} = {sum(said) / len(said):.1%}"
        )
    assert not leaks, f"RAW values found in RAW_SAFE: {leaks}"
    assert len(refused) <= 2, refused


def scan_rows(raw: dict[str, list[str]], output: list[tuple[object, ...]]) -> dict[str, int]:
    """The same scan in Python, on rows fetched from any warehouse: per PII column, its RAW values found in
    the output as a whole value, a token, or (six characters or more) inside a value."""
    values = {str(value) for row in output for value in row if value is not None}
    tokens = {token for value in values for token in re.split(TOKEN_SPLIT, value)}
    found = {}
    for name, raw_values in raw.items():
        hits = 0
        for value in set(raw_values):
            inside = len(value) >= 6 and any(value in out for out in values)
            hits += value in values or value in tokens or inside
        found[name] = hits
    return found


@pytest.mark.slow
def test_no_raw_value_of_the_hostile_corpus_reaches_raw_safe_on_snowflake(snowflake_run, tmp_path: Path) -> None:
    """Both passes over the Snowflake wire protocol (fakesnow): loaded as a loader would (upper-case names,
    Snowflake types), published by the same pipeline, scanned on the rows read back."""
    from minimization_pipeline_tests.snowflake_loader import load_raw

    state = tmp_path / "state"
    shutil.copytree(snowflake_run.state, state)
    leaks: dict[str, int] = {}
    for renamed in (False, True):
        pass_dir = tmp_path / f"pass{int(renamed)}"
        pass_dir.mkdir()
        load_corpus(pass_dir, renamed, file="corpus.duckdb", timestamps_with_zone=False)
        with duckdb.connect(str(pass_dir / "corpus.duckdb")) as connection:
            for table in corpus.tables():
                suffix = "_h" if renamed else "_d"
                connection.execute(f'ALTER TABLE "{table.schema}"."{table.name}" RENAME TO "{table.name}{suffix}"')
        load_raw(pass_dir / "corpus.duckdb", snowflake_run.connect)
        pipeline = Pipeline(state, PROJECT_ROOT / "minimization.yaml", snowflake=snowflake_run.connect)
        for table in corpus.tables():
            name = table.name + ("_h" if renamed else "_d")
            result = pipeline.publish_raw_safe(table.schema, name)
            assert result.published, (name, [check.summary for check in result.failed_checks])
            columns = corpus.column_names(table, renamed)
            ref = f"{table.schema.upper()}.{name.upper()}"
            raw = {
                column: [str(row[0]) for row in snowflake_run.rows(f"SELECT DISTINCT {column} FROM RAW.{ref}")]
                for column, pii in zip(columns, table.columns, strict=True)
                if pii.direct
            }
            output = snowflake_run.rows(f"SELECT * FROM RAW_SAFE.{ref}")
            for column, count in scan_rows(raw, output).items():
                if count:
                    leaks[f"{table.schema}.{name}.{column}"] = count
    assert not leaks, f"RAW values found in RAW_SAFE on Snowflake: {leaks}"
