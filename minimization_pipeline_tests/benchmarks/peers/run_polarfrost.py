"""polarfrost (Mondrian on Polars LazyFrames) on the benchmark input.

``mondrian_k_anonymity_polars`` returns one row per class (QIs generalized to ``min-max`` ranges and
sorted comma-joined sets, plus a count), not one row per input row. The splits it makes are disjoint
(numbers at ``<= median`` / ``> median``, categories by value sets), so every input row falls in exactly
one released box; rows are mapped back to their box after the timed call, and the box sizes are checked
against the library's own counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from _common import CLASS, SUPPRESSED, PeerOutput, run, sorted_set, timed, value_range


def anonymize(frame: pd.DataFrame, args: dict) -> PeerOutput:
    import polars as pl
    from polarfrost.mondrian import mondrian_k_anonymity_polars

    qis, numeric, sensitive = args["qis"], args["numeric"], args["sensitive"]
    categorical = [q for q in qis if q not in numeric]
    # Built from plain lists: pandas 3 strings are Arrow-backed and pl.from_pandas would need pyarrow.
    source = pl.DataFrame({column: frame[column].tolist() for column in [*qis, sensitive]})

    def call() -> pl.DataFrame:
        return mondrian_k_anonymity_polars(source, qis, sensitive, int(args["k"]), categorical=categorical)

    boxes, seconds = timed(call)
    box_of_row = np.full(len(frame), -1, dtype=np.int64)
    ages = {q: frame[q].to_numpy() for q in numeric}
    for label, fields in enumerate(boxes.to_dicts()):
        mask = np.ones(len(frame), dtype=bool)
        for q in numeric:
            low, high = (float(x) for x in str(fields[q]).split("-", 1))
            mask &= (ages[q] >= low) & (ages[q] <= high)
        for q in categorical:
            mask &= frame[q].isin(str(fields[q]).split(",")).to_numpy()
        if (box_of_row[mask] >= 0).any():
            raise RuntimeError("polarfrost boxes overlap: rows cannot be mapped back")
        if int(mask.sum()) != int(fields["count"]):
            raise RuntimeError(f"box {label}: {int(mask.sum())} rows match, polarfrost says {fields['count']}")
        box_of_row[mask] = label
    if (box_of_row < 0).any():
        raise RuntimeError(f"{int((box_of_row < 0).sum())} rows fall in no polarfrost box")
    released = pd.DataFrame(index=frame.index)
    groups = frame.groupby(box_of_row)
    for q in qis:
        spelling = value_range if q in numeric else sorted_set
        released[q] = groups[q].transform(spelling)
    released[CLASS] = box_of_row
    released[SUPPRESSED] = 0
    return PeerOutput(released, seconds, [f"{len(boxes)} boxes"])


if __name__ == "__main__":
    run(anonymize, "polarfrost")
