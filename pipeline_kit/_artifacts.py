"""Content-addressed JSON artifacts of pipeline stages (never pickle).

An artifact lives at ``<home>/artifacts/<stage>/<key>.json``. The key is a sha256
of the stage name, the stage's code version (sha256 of its module sources), its
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

from pipeline_kit._fs import atomic_write_text, sweep_temps

__all__ = ["STAGE_SOURCES", "ArtifactCache", "atomic_write_text", "code_version", "stage_key"]

_STAGES_DIR = Path(__file__).resolve().parent / "stages"

# Module files whose source defines each stage's behaviour.
STAGE_SOURCES: dict[str, tuple[str, ...]] = {
    "upload": ("_upload.py", "_audio.py"),
    "transcription": ("_transcription.py", "_audio.py", "_types.py"),
    "chunking": ("_chunking.py", "_embeddings.py", "_sentences.py", "_temporal.py", "_types.py"),
    "chapters": ("_chapters.py", "_segmentation.py", "_keyphrases.py", "_embeddings.py",
                 "_sentences.py", "_types.py"),
    "graph": ("_graph.py", "_graph_query.py", "_keyphrases.py", "_embeddings.py", "_types.py"),
    "questions": ("_questions.py", "_keyphrases.py", "_sentences.py", "_types.py"),
}


@functools.cache
def code_version(stage: str) -> str:
    """sha256 of the source files of ``stage`` (cached per process)."""
    h = hashlib.sha256()
    for name in STAGE_SOURCES[stage]:
        h.update(name.encode())
        h.update((_STAGES_DIR / name).read_bytes())
    return h.hexdigest()


def stage_key(stage: str, params: dict[str, Any], inputs: list[str]) -> str:
    """The cache key of one stage run."""
    doc = {"stage": stage, "code": code_version(stage), "params": params, "inputs": inputs}
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
