"""anonypyx, MDAV-generic microaggregation, on the benchmark input.

MDAV-generic builds the full n x n distance matrix (scipy ``pdist`` + ``squareform``): ~7 GB for Adult
plus temporaries, which is why the harness runs it alone and checks free memory first. Times the whole
``Anonymiser.anonymise()`` (partition + the library's machine-readable generalisation); the clusters it
found are read back from the algorithm object to rebuild the per-row release.
"""

from __future__ import annotations

import pandas as pd
from _common import PeerOutput, release_by_partition, run, timed


def anonymize(frame: pd.DataFrame, args: dict) -> PeerOutput:
    import anonypyx

    qis, numeric = args["qis"], args["numeric"]
    data = frame[[*qis, args["sensitive"]]].copy()
    for column in qis:
        if column not in numeric:
            data[column] = data[column].astype("category")
    anonymiser = anonypyx.Anonymiser(data, k=int(args["k"]), algorithm="MDAV-generic", feature_columns=qis)
    _, seconds = timed(anonymiser.anonymise, repeat=False)  # it keeps its clusters on the object
    clusters = anonymiser.algorithm.clusters
    return PeerOutput(release_by_partition(data, clusters, qis, numeric), seconds)


if __name__ == "__main__":
    run(anonymize, "anonypyx")
