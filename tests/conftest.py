"""Shared fixtures: offline model hubs, the bundled sample and the shared data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never touch the network: a model that is not bundled must fail at once.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("PIPELINE_KIT_PROGRESS", "text")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample"
SHARED_DATA = Path(os.environ.get("PIPELINE_KIT_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_path(relative: str) -> Path:
    """Path to a file under ../shared/data, or skip the test (with the reason) when absent."""
    p = SHARED_DATA / relative
    if not p.exists():
        pytest.skip(f"shared development data not available: {p} (see data/PROVENANCE.md)")
    return p


@pytest.fixture
def shared_data() -> Path:
    """The ../shared/data folder; skips when it is absent (e.g. on a user's machine)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared development data not available at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled sample (always present in the repository)."""
    assert SAMPLE_DIR.is_dir(), f"bundled sample missing: {SAMPLE_DIR}"
    return SAMPLE_DIR
