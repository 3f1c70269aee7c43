"""Open a run again: the :class:`~pipeline_kit.pipeline._pipeline.PipelineResult` a run made,
from its output folder or from its run id in a pipeline home's store.

Stage results come from the artifact cache the run wrote (``<home>/artifacts``, by
the keys in the run record), else from the JSON exports in its output folder; a
stage that left neither is absent, as in a run that stopped early.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipeline_kit.pipeline._artifacts import ArtifactCache
from pipeline_kit.pipeline._pipeline import PipelineResult, read_target, store_exists
from pipeline_kit.pipeline._registry import REGISTRY
from pipeline_kit.pipeline._speaker_names import RECORD_KEY, presented
from pipeline_kit.tasks._store import open_store

RUN_FILE = "run.json"


class RunNotFoundError(LookupError):
    """No run matches what was asked for (or a short id matches several)."""


def load_run(source: str | os.PathLike[str], home: str | os.PathLike[str] | None = None
             ) -> PipelineResult:
    """The result of an earlier run, as :func:`~pipeline_kit.run_pipeline` returned it.

    ``source`` is a run's output folder (or its ``run.json``), or a run id — whole
    or a unique prefix — looked up in ``home``'s store (default: ``$PIPELINE_KIT_STORE``
    or the default home).
    """
    folder = _run_folder(source)
    if folder is not None:
        record = _read_record(folder / RUN_FILE)
    else:
        record = _find_record(str(source), home)
    return result_of_record(record, folder)


def result_of_record(record: dict[str, Any], folder: Path | None = None) -> PipelineResult:
    """The result of a run record already read (from a store or a ``run.json``)."""
    out_dir = folder or (Path(record["out_dir"]) if record.get("out_dir") else None)
    values = presented(_stage_values(record, out_dir), record.get(RECORD_KEY))
    return PipelineResult(record["run_id"], record, out_dir, values)


def _run_folder(source: str | os.PathLike[str]) -> Path | None:
    """The output folder ``source`` names, or None when it names no existing path."""
    path = Path(source)
    if path.is_file() and path.name == RUN_FILE:
        return path.parent
    if path.is_dir():
        if not (path / RUN_FILE).is_file():
            raise RunNotFoundError(f"{path} is not a run's output folder: it has no {RUN_FILE}")
        return path
    if os.sep in str(source) or path.suffix:
        raise RunNotFoundError(f"no run folder at {path}: it does not exist")
    return None


def _read_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunNotFoundError(f"{path} is not a readable run record: {e}") from e
    if not isinstance(record, dict) or "run_id" not in record:
        raise RunNotFoundError(f"{path} is not a run record (no run_id)")
    return record


def _find_record(run_id: str, home: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The record whose id is ``run_id`` or starts with it, from ``home``'s store."""
    target = read_target(home)
    if not store_exists(target):
        raise RunNotFoundError(f"no run store at {target}: no runs to load {run_id!r} from")
    store = open_store(target)
    try:
        records = store.list_documents("runs")
    finally:
        store.close()
    exact = [r for r in records if r.get("run_id") == run_id]
    matches = exact or [r for r in records if str(r.get("run_id", "")).startswith(run_id)]
    if not matches:
        raise RunNotFoundError(f"no run {run_id!r} in {target}")
    if len(matches) > 1:
        ids = ", ".join(sorted(str(r["run_id"]) for r in matches)[:5])
        raise RunNotFoundError(f"run id {run_id!r} is ambiguous in {target}: {ids}")
    return matches[0]


def _stage_values(record: dict[str, Any], out_dir: Path | None) -> dict[str, Any]:
    """Each recorded stage's result: from the artifact cache, else the folder's export."""
    cache = ArtifactCache(record["home"]) if record.get("home") else None
    keys = record.get("artifact_keys") or {}
    values: dict[str, Any] = {}
    for stage in record.get("stages", ()):
        if stage not in REGISTRY.names():
            continue  # a plug-in stage not loaded in this process
        spec = REGISTRY.get(stage)
        data = cache.load(stage, keys[stage]) if cache is not None and stage in keys else None
        if data is None and out_dir is not None and spec.export_json:
            data = _read_json(out_dir / f"{spec.result_attr}.json")
        if data is not None:
            values[stage] = spec.codec.decode(data)
    return values


def _read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
