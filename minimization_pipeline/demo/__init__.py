"""Demo data: a realistic, deterministic RAW warehouse to run the pipeline against.

`generate_demo` is re-exported lazily so that `python -m minimization_pipeline.demo.generate` does not
import the module twice (runpy warns when the package already imported it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["generate_demo"]


def __getattr__(name: str) -> Any:
    if name == "generate_demo":
        from minimization_pipeline.demo.generate import generate_demo

        return generate_demo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
