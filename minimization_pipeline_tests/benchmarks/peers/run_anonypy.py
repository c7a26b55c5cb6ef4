"""anonypy (Mondrian, relaxed categorical splits) on the benchmark input.

Times ``Mondrian.partition`` plus the library's own ``anonymize`` step (what ``Preserver`` does), because
that is what a user of the library pays for a release. Its output is one row per (class, sensitive value)
with counts, so the per-row release is rebuilt from the partition with the same information.
"""

from __future__ import annotations

import pandas as pd
from _common import PeerOutput, release_by_partition, run, timed


def anonymize(frame: pd.DataFrame, args: dict) -> PeerOutput:
    from anonypy import anonypy, mondrian

    qis, numeric = args["qis"], args["numeric"]
    data = frame.copy()
    for column in qis:
        if column not in numeric:
            data[column] = data[column].astype("category")
    sensitive = args["sensitive"]
    data[sensitive] = data[sensitive].astype("category")

    def call() -> list:
        model = mondrian.Mondrian(data, qis, sensitive)
        partitions = model.partition(args["k"])
        anonypy.anonymize(data, partitions, qis, sensitive)
        return partitions

    partitions, seconds = timed(call)
    return PeerOutput(release_by_partition(data, partitions, qis, numeric), seconds)


if __name__ == "__main__":
    run(anonymize, "anonypy")
