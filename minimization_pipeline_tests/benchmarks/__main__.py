"""``python -m minimization_pipeline_tests.benchmarks``: set up the peers, run both benchmarks, print both tables.

Options: ``--all-k`` (peers at every k, not only k=10), ``--skip-peers`` (ours only, no venvs needed),
``--scale-users 1000000,10000000`` (sizes of the scale benchmark; ``--scale-users 0`` skips it),
``--partitions-users 1000000`` (the partitions benchmark: backfill, hourly run, full rebuild; 0 skips it), and the
Adult options of :mod:`.adult` (``--ks``, ``--peers``, ``--sample``, ``--timeout``).

Progress goes to stderr as it runs: each step with the seconds since the start, a "still running" line every
10 s during long steps (a peer, a scale publish) and the generator's rows done while demo data is generated
(``MINIMIZATION_PROGRESS=0`` keeps only the step lines). The tables go to stdout.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence

from minimization_pipeline.progress import elapsed_log
from minimization_pipeline_tests.benchmarks import adult, partitions, scale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minimization_pipeline_tests.benchmarks", description=__doc__)
    adult.add_arguments(parser)
    parser.add_argument("--scale-users", default=",".join(map(str, scale.DEFAULT_USERS)), help="0 to skip")
    parser.add_argument(
        "--partitions-users", type=int, default=partitions.DEFAULT_USERS, help="demo size of benchmark 3; 0 to skip"
    )
    options = parser.parse_args(argv)
    log = elapsed_log()  # one clock for the whole run, so every step says how far in it is

    if not options.skip_peers:
        peers = [p for p in options.peers.split(",") if p]
        setup = adult.BENCH_DIR / "setup_peers.sh"
        log(f"peers: setting up {', '.join(peers)} ...")
        # Idempotent: a peer already installed at its pinned version is left alone; one that cannot be
        # installed is reported by the Adult table, so a failure here does not stop the benchmark.
        subprocess.run(["bash", str(setup), *peers], check=False, stdout=sys.stderr)

    adult.run_from_options(options, adult.RESULTS_DIR / "adult.md", log)  # prints its table
    sizes = [n for n in scale.parse_users(options.scale_users) if n > 0]
    if sizes:
        _, markdown = scale.run_scale_benchmark(sizes, log=log)
        print(markdown)
    if options.partitions_users > 0:
        markdown = partitions.render_markdown(partitions.measure(options.partitions_users, log=log))
        (adult.RESULTS_DIR / "partitions.md").write_text(markdown + "\n")
        print(markdown)
    log(f"done (written to {adult.RESULTS_DIR}/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
