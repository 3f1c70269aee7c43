"""Find an audio item's stage results: the artifacts of its newest run that has them.

Runs come from the store's run records (finished runs, any process) and from this
server's running PIPELINE tasks (their metadata holds the artifact keys), so a
transcript is served as soon as its stage is done, before the whole run ends.
"""

from __future__ import annotations

from typing import Any

from pipeline_kit.faces.api._deps import AppState
from pipeline_kit.ingest._upload import AudioRecord
from pipeline_kit.pipeline._artifacts import ArtifactCache
from pipeline_kit.tasks import TaskType


def _candidates(app: AppState, record: AudioRecord) -> list[tuple[str, str, dict[str, str]]]:
    """(started, run_id, artifact keys) of every run on this audio, newest first."""
    found: dict[str, tuple[str, str, dict[str, str]]] = {}
    path = None
    if record.audio_file:  # uploads are not hashed unless verified: match the file too
        path = str((app.library.audio_dir(record.audio_id) / record.audio_file).resolve())
    for doc in app.manager.list_documents("runs"):
        first = (doc.get("inputs") or [{}])[0]
        same = ((record.sha256 and first.get("sha256") == record.sha256)
                or (path is not None and first.get("path") == path))
        if same and doc.get("run_id"):
            found[doc["run_id"]] = (str(doc.get("started_at") or ""), doc["run_id"],
                                    doc.get("artifact_keys") or {})
    for info in app.manager.snapshots():
        meta = info.metadata
        if (info.task_type == TaskType.PIPELINE and meta.get("audio_id") == record.audio_id
                and meta.get("run_id") and meta["run_id"] not in found):
            found[meta["run_id"]] = (info.created_at.isoformat(), meta["run_id"],
                                     meta.get("artifact_keys") or {})
    return sorted(found.values(), reverse=True)


def find_result(app: AppState, record: AudioRecord, stage: str, run_id: str | None = None
                ) -> tuple[str, Any] | None:
    """``(run_id, artifact data)`` of ``stage`` for this audio, or None when none exists."""
    cache = ArtifactCache(app.settings.home)
    for _, rid, keys in _candidates(app, record):
        if run_id is not None and rid != run_id:
            continue
        key = keys.get(stage)
        if key:
            data = cache.load(stage, key)
            if data is not None:
                return rid, data
    return None
