"""`python -m minimization_pipeline run | plan` (see :mod:`minimization_pipeline.cli`)."""

import sys

from minimization_pipeline.cli import main

sys.exit(main())
