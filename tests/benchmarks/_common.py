"""Set-up shared by the benchmark scripts of this folder: ``from _common import DATA, REPO``.

The scripts are run as ``python tests/benchmarks/bench_x.py`` (so this folder is first
on ``sys.path``) and all need the same preamble, kept here once so that it cannot drift
between them: Hugging Face offline unless the caller says otherwise, the repository root
and ``tests/`` importable (``pipeline_kit``, ``wavdata``, ``unevendocs`` ...) without
``PYTHONPATH=.``, and the shared development data folder ($PIPELINE_KIT_SHARED_DATA,
by default ``shared/data`` next to the repository, whatever the current directory).
Import it before anything that needs ``tests/`` on ``sys.path`` or reads HF_HUB_OFFLINE.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
BENCH = TESTS / "benchmarks"
for _path in (BENCH, TESTS, REPO):  # ends as REPO, TESTS, BENCH at the front
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
del _path

DATA = Path(os.environ.get("PIPELINE_KIT_SHARED_DATA", REPO.parent / "shared" / "data"))
CHOI = DATA / "textseg" / "choi_dev"
