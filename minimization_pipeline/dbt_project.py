"""The dbt project, in its own module so `dagster-dbt project prepare-and-package` can build the
manifest before the definitions import it (the manifest is prepared by the build, not at import)."""

from __future__ import annotations

import os

from dagster_dbt import DbtProject

from minimization_pipeline.settings import DBT_PROJECT_DIR, load_settings

# dbt's profile reads the data folder from the environment; parsing needs it too.
os.environ.setdefault("MINIMIZATION_DATA_DIR", str(load_settings().data_dir))

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target="dev")
dbt_project.prepare_if_dev()
