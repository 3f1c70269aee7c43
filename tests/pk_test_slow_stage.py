"""Test plug-in: slows registered stages, cancellably (fault injection through the registry).

Loaded through ``$PIPELINE_KIT_PLUGINS`` in a child process; ``$PK_TEST_SLOW_STAGE``
says which stages wait and how long (``"chunking=120"``, comma-separated). Use
:func:`slow_stage_env` to build that environment.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pipeline_kit.pipeline._registry import REGISTRY, StageCall

SPEC_ENV = "PK_TEST_SLOW_STAGE"


def slow_stage_env(spec: str) -> dict[str, str]:
    """Environment for a child process whose stages in ``spec`` wait before running."""
    here = str(Path(__file__).resolve().parent)
    path = os.pathsep.join(filter(None, (here, os.environ.get("PYTHONPATH"))))
    return {**os.environ, "PIPELINE_KIT_PLUGINS": "pk_test_slow_stage", SPEC_ENV: spec,
            "PYTHONPATH": path}


def _slowed(run: Any, seconds: float) -> Any:
    def slow(call: StageCall) -> Any:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            call.progress.check_cancelled()
            time.sleep(0.05)
        return run(call)

    return slow


for item in filter(None, os.environ.get(SPEC_ENV, "").split(",")):
    name, _, secs = item.partition("=")
    stage = REGISTRY.get(name.strip())
    REGISTRY.override(stage.name, run=_slowed(stage.run, float(secs)))
