"""Pseudonymized keys at scale: the keyed permutation against a 60-bit hash, on dense ids in DuckDB.

    python -m minimization_pipeline_tests.benchmarks.keys --rows 10000000

For INTEGER and BIGINT ids 1..N: rows, distinct pseudonyms (a permutation: N), pseudonyms equal to their own
id, and the seconds of a CTAS computing them, beside the same for the 60-bit hash that integers used before
(the UBIGINT path of `pseudonymize.hash_value`), measured in the same process.
"""

from __future__ import annotations

import argparse
import time

import duckdb
from sqlglot import exp

from minimization_pipeline.anonymize import pseudonymize
from minimization_pipeline.warehouse.functions import for_dialect


def measure(rows: int) -> list[tuple[str, str, int, int, int, float]]:
    connection = duckdb.connect()
    connection.execute("SET VARIABLE mp_bench_secret = 'benchmark-secret-0123456789'")
    secret = exp.Anonymous(this="getvariable", expressions=[exp.Literal.string("mp_bench_secret")])
    out = []
    for data_type in ("INTEGER", "BIGINT"):
        connection.execute(f"CREATE OR REPLACE TABLE ids AS SELECT (i + 1)::{data_type} AS id FROM range({rows}) r(i)")
        for label, as_type in (("keyed permutation", data_type), ("60-bit hash (before)", "UBIGINT")):
            expression = pseudonymize.hash_value(exp.column("id"), as_type, secret)
            sql = for_dialect(expression, "duckdb").sql("duckdb")
            started = time.perf_counter()
            connection.execute(f"CREATE OR REPLACE TABLE out AS SELECT id, {sql} AS pseudonym FROM ids")
            seconds = time.perf_counter() - started
            total, distinct, own = connection.execute(
                "SELECT count(*), count(DISTINCT pseudonym), count(*) FILTER (WHERE pseudonym = id) FROM out"
            ).fetchone()
            out.append((data_type, label, total, distinct, own, seconds))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    print("| ids | pseudonym | rows | distinct | equal to own id | seconds |")
    print("|---|---|---:|---:|---:|---:|")
    for data_type, label, total, distinct, own, seconds in measure(args.rows):
        print(f"| {data_type} | {label} | {total:,} | {distinct:,} | {own:,} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
