"""Policy variants the tests and benchmarks share."""

from __future__ import annotations

from pathlib import Path

import yaml

from minimization_pipeline.settings import PROJECT_ROOT


def whole_tables_policy(target: Path) -> Path:
    """The repository's policy with its time partitions (and retention) taken out, written to ``target``.

    The end-to-end suite checks every privacy promise on whole tables, published by one unpartitioned run;
    partitioned publishing, backfills and retention have their own tests on the policy as it is
    (`test_partitions.py`); the partitions benchmark times a full rebuild with it.
    """
    policy = yaml.safe_load((PROJECT_ROOT / "minimization.yaml").read_text())
    for source in policy.get("sources", {}).values():
        for table in source.get("tables", {}).values():
            table.pop("partition", None)
            table.pop("keep_identifiable", None)
    target.write_text(yaml.safe_dump(policy, sort_keys=False))
    return target
