"""ANJANA (greedy full-domain generalization over the ARX hierarchies, with suppression) on the input.

ANJANA generalizes the QI with the most distinct values one hierarchy level at a time and suppresses the
classes smaller than k when that fits the suppression budget (``supp_level``, in percent). Its output is
the released table itself: kept rows (with their original index in ``index`` after a suppression) whose
QIs hold hierarchy labels, so the release is read directly and the class is the released tuple.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
from _common import CLASS, SUPPRESSED, PeerOutput, run, timed


def anonymize(frame: pd.DataFrame, args: dict) -> PeerOutput:
    from anjana.anonymity import k_anonymity

    qis = args["qis"]
    data = frame[[*qis, args["sensitive"]]].astype(str)
    hierarchies = {}
    for column, path in args["hierarchies"].items():
        table = pd.read_csv(path, sep=";", header=None, dtype=str, keep_default_na=False)
        hierarchies[column] = {level: table[level].to_numpy() for level in table.columns}
    supp_percent = float(args["max_suppression"]) * 100

    def call() -> pd.DataFrame:
        with contextlib.redirect_stdout(io.StringIO()):
            return k_anonymity(data, [], qis, int(args["k"]), supp_percent, hierarchies)

    result, seconds = timed(call)
    notes = []
    released = pd.DataFrame(index=frame.index, columns=[*qis, CLASS, SUPPRESSED], dtype=object)
    released[SUPPRESSED] = 1
    if len(result) == 0:
        notes.append("anjana returned an empty table (k not reachable): everything counted as suppressed")
        released[qis] = "*"
        return PeerOutput(released, seconds, notes)
    kept = result["index"].to_numpy() if "index" in result.columns else result.index.to_numpy()
    released.loc[kept, qis] = result[qis].to_numpy()
    released.loc[kept, SUPPRESSED] = 0
    released.loc[released[SUPPRESSED] == 1, qis] = "*"
    keys = released.loc[kept, qis].astype(str).agg("\x1f".join, axis=1)
    released.loc[kept, CLASS] = pd.factorize(keys)[0]
    released[CLASS] = released[CLASS].fillna(-1)
    levels = {
        q: int(np.flatnonzero([set(result[q]) <= set(hierarchies[q][lv]) for lv in hierarchies[q]])[0]) for q in qis
    }
    notes.append("generalization levels " + ", ".join(f"{q}={lv}" for q, lv in levels.items()))
    return PeerOutput(released, seconds, notes)


if __name__ == "__main__":
    run(anonymize, "anjana")
