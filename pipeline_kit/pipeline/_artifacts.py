"""Content-addressed JSON artifacts of pipeline stages (never pickle).

An artifact lives at ``<home>/artifacts/<stage>/<key>.json``. The key is a sha256
of the stage name, the stage's code version (sha256 of the modules its registry
entry names as its sources), its
parameters and the keys of its inputs, so any change upstream changes every key
downstream. Files are written atomically (temp file + ``os.replace``): a killed
process leaves either the whole artifact or none.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from pipeline_kit.base._fs import atomic_write_text, sweep_temps

__all__ = ["ArtifactCache", "atomic_write_text", "code_version", "stage_key"]


@functools.cache
def code_version(sources: tuple[str, ...]) -> str:
    """sha256 of the source files of the modules ``sources`` (cached per process)."""
    from pipeline_kit.pipeline._registry import source_file

    h = hashlib.sha256()
    for module in sources:
        h.update(module.encode())
        h.update(source_file(module).read_bytes())
    return h.hexdigest()


def stage_key(stage: str, code: str, params: dict[str, Any], inputs: list[str]) -> str:
    """The cache key of one stage run: its name, code version, parameters and inputs."""
    doc = {"stage": stage, "code": code, "params": params, "inputs": inputs}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


class ArtifactCache:
    """JSON artifacts under ``<home>/artifacts``."""

    def __init__(self, home: str | os.PathLike[str]) -> None:
        self.root = Path(home) / "artifacts"

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / f"{key}.json"

    def load(self, stage: str, key: str) -> Any | None:
        """The stored artifact, or None when absent or unreadable (then it is recomputed)."""
        p = self.path(stage, key)
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None

    def save(self, stage: str, key: str, data: Any) -> Path:
        p = self.path(stage, key)
        atomic_write_text(p, json.dumps(data, ensure_ascii=False))
        return p

    def recover(self) -> list[Path]:
        """Remove temp files of writers killed mid-write (see ``_fs.sweep_temps``)."""
        removed: list[Path] = []
        if self.root.is_dir():
            for folder in self.root.iterdir():
                removed += sweep_temps(folder, legacy=lambda name: name.endswith(".tmp"))
        return removed
