"""The pipeline: the stage registry, the built-in stages' declarations, parameters of a
run, the content-addressed artifact cache, run records, ``load_run`` and batches.

The registry learns the built-in stages here, in an explicit load step run on its
first read, so the registry module never imports the declarations that import it.
"""

from __future__ import annotations

from pipeline_kit.pipeline._registry import REGISTRY


def _load_builtin_stages() -> None:
    from pipeline_kit.pipeline import _builtin_stages  # noqa: F401 - declaring registers them


REGISTRY.add_loader(_load_builtin_stages)
