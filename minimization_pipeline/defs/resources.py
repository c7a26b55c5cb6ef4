"""Resources, decided in one place from the settings."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from minimization_pipeline.pipeline import Pipeline


class MinimizationResource(dg.ConfigurableResource):
    """Where the warehouse files and the policy live; the pipeline is opened per run, never at import."""

    data_dir: str
    policy_path: str

    def pipeline(self) -> Pipeline:
        return Pipeline(Path(self.data_dir), Path(self.policy_path))
