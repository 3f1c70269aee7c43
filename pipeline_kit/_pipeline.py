"""Run the whole pipeline: upload → transcription → chunking → {graph, chapters} → questions.

Every stage is one task of its :class:`~pipeline_kit.tasks.TaskType` under a parent
``PIPELINE`` task; every stage result is a JSON artifact under ``<home>/artifacts``
(see :mod:`pipeline_kit._artifacts`), so a re-run reuses what is unchanged and a run
that failed or was killed continues from the first stage without an artifact.
Every run leaves a run record (``run.json`` and the store's ``runs`` collection).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from pipeline_kit._artifacts import ArtifactCache, atomic_write_text, code_version, stage_key
from pipeline_kit._progress import Progress
from pipeline_kit.stages._types import Chapter, Chunk, Question, Transcript, dump_records
from pipeline_kit.stages._upload import file_sha256
from pipeline_kit.tasks import TaskHandle, TaskManager, TaskType, current_manager
from pipeline_kit.tasks._store import (
    STORE_ENV,
    STORE_FILENAME,
    default_store_path,
    open_store,
    pipeline_home,
)

STAGES: tuple[str, ...] = ("upload", "transcription", "chunking", "graph", "chapters", "questions")
ALIASES: dict[str, str] = {
    "upload_processing": "upload",
    "audio_upload_processing": "upload",
    "semantic_chunking": "chunking",
    "graph_generation": "graph",
    "chapter_analysis": "chapters",
    "question_generation": "questions",
}
DEPENDS: dict[str, tuple[str, ...]] = {
    "upload": (),
    "transcription": ("upload",),
    "chunking": ("transcription",),
    "graph": ("chunking",),
    "chapters": ("chunking",),
    "questions": ("chunking", "chapters", "graph"),
}
TASK_TYPES: dict[str, TaskType] = {
    "upload": TaskType.AUDIO_UPLOAD_PROCESSING,
    "transcription": TaskType.TRANSCRIPTION,
    "chunking": TaskType.SEMANTIC_CHUNKING,
    "graph": TaskType.GRAPH_GENERATION,
    "chapters": TaskType.CHAPTER_ANALYSIS,
    "questions": TaskType.QUESTION_GENERATION,
}
WEIGHTS: dict[str, float] = {
    "upload": 2, "transcription": 70, "chunking": 10, "graph": 6, "chapters": 6, "questions": 6,
}
CHUNKING_METHODS = ("embedding", "tfidf", "fixed")
# Where stage tasks run: manager threads, or Dask workers sharing the pipeline home.
EXECUTORS = ("thread", "dask")
# Extra keyword parameters: name -> (stage it belongs to, default).
EXTRA_PARAMS: dict[str, tuple[str, Any]] = {
    "batch_size": ("transcription", 8),
    "language": ("transcription", None),
    "min_sentences": ("chapters", 4),
    "top_concepts": ("graph", 40),
    "max_questions": ("questions", None),
}
VERSIONED_PACKAGES = (
    "pipeline_kit", "whisperx", "faster-whisper", "sentence-transformers", "scikit-learn",
    "networkx", "torch",
)
# Test hook: "chunking=30" sleeps 30 s (cancellable) before computing that stage.
_DELAY_ENV = "PIPELINE_KIT_TEST_STAGE_DELAY"


# ----------------------------------------------------------------------------- validation

def resolve_stages(stages: str | Iterable[str] | None) -> list[str]:
    """Canonical stage names in run order, with every stage a chosen one needs."""
    if stages is None:
        return list(STAGES)
    names = stages.split(",") if isinstance(stages, str) else list(stages)
    chosen: set[str] = set()
    bad = []
    for raw in names:
        name = str(raw).strip().lower()
        if not name:
            continue
        canon = ALIASES.get(name, name)
        if canon not in STAGES:
            bad.append(str(raw))
        else:
            chosen.add(canon)
    if bad or not chosen:
        allowed = ", ".join([*STAGES, *ALIASES])
        what = f"unknown stage name(s): {', '.join(map(repr, bad))}" if bad else "no stages given"
        raise ValueError(f"{what}; allowed: {allowed}")
    todo = list(chosen)
    while todo:
        for dep in DEPENDS[todo.pop()]:
            if dep not in chosen:
                chosen.add(dep)
                todo.append(dep)
    return [s for s in STAGES if s in chosen]


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def validate_params(
    audio: str | os.PathLike[str], chunk_size: Any, overlap: Any, chunking_method: Any,
    params: dict[str, Any],
) -> dict[str, Any]:
    """All parameters of a run, checked; ValueError naming the allowed values otherwise."""
    path = Path(audio)
    if not path.is_file():
        raise ValueError(f"audio file not found: {path}")
    _check_int("chunk_size", chunk_size, 1)
    _check_int("overlap", overlap, 0)
    if overlap >= chunk_size:
        raise ValueError(f"overlap must be >= 0 and < chunk_size ({chunk_size}), got {overlap}")
    if chunking_method not in CHUNKING_METHODS:
        raise ValueError(f"unknown chunking_method {chunking_method!r}; allowed: "
                         f"{', '.join(CHUNKING_METHODS)}")
    unknown = sorted(set(params) - set(EXTRA_PARAMS))
    if unknown:
        raise ValueError(f"unknown parameter(s): {', '.join(unknown)}; allowed: chunk_size, "
                         f"overlap, chunking_method, model, {', '.join(EXTRA_PARAMS)}")
    out = {k: params.get(k, default) for k, (_, default) in EXTRA_PARAMS.items()}
    _check_int("batch_size", out["batch_size"], 1)
    _check_int("min_sentences", out["min_sentences"], 1)
    _check_int("top_concepts", out["top_concepts"], 1)
    if out["max_questions"] is not None:
        _check_int("max_questions", out["max_questions"], 1)
    out.update(chunk_size=chunk_size, overlap=overlap, chunking_method=chunking_method)
    return out


@cache
def model_identity(model: str | None) -> dict[str, Any]:
    """Name and weights hash of the Whisper model ``model`` resolves to (no loading)."""
    from pipeline_kit._models import resolve_whisper_model

    resolved = resolve_whisper_model(model)
    return {"name": resolved.name, "weights_sha256": resolved.weights_sha256}


@cache
def embedder_identity() -> dict[str, Any] | None:
    """Name and weights hash of the default sentence embedder (None when not installed)."""
    from pipeline_kit._models import ModelNotAvailableError, resolve_embedding_model

    try:
        resolved = resolve_embedding_model(None)
        return {"name": resolved.name, "weights_sha256": resolved.weights_sha256}
    except ModelNotAvailableError:
        return None


def stage_params(stage: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters that change ``stage``'s result (part of its cache key)."""
    out = _stage_params(stage, params)
    # Chunking ("embedding" method), chapters and graph may use the default embedder.
    if (stage == "chunking" and params["chunking_method"] == "embedding") or stage in (
            "chapters", "graph"):
        out["embedder"] = embedder_identity()
    return out


def _stage_params(stage: str, params: dict[str, Any]) -> dict[str, Any]:
    if stage == "transcription":
        return {"model": params["model_identity"], "batch_size": params["batch_size"],
                "language": params["language"]}
    if stage == "chunking":
        return {k: params[k] for k in ("chunk_size", "overlap", "chunking_method")}
    if stage == "chapters":
        return {"min_sentences": params["min_sentences"]}
    if stage == "graph":
        return {"top_concepts": params["top_concepts"]}
    if stage == "questions":
        return {"max_questions": params["max_questions"]}
    return {}


def stage_keys(stages: list[str], audio_sha256: str, params: dict[str, Any]) -> dict[str, str]:
    """Cache key of every stage (each includes the keys of its inputs)."""
    keys: dict[str, str] = {}
    for stage in STAGES:
        inputs = [keys[d] for d in DEPENDS[stage] if d in keys]
        if stage in ("upload", "transcription"):
            inputs.append(audio_sha256)
        if stage in stages:
            keys[stage] = stage_key(stage, stage_params(stage, params), inputs)
    return {s: keys[s] for s in stages}


# ----------------------------------------------------------------------------- progress

class _Aggregator:
    """Parent progress = weighted sum of its stages' progress."""

    def __init__(self, parent: Progress | None, stages: list[str]) -> None:
        self.parent = parent
        self.weights = {s: WEIGHTS[s] for s in stages}
        self.done = dict.fromkeys(stages, 0.0)
        self.lock = threading.Lock()

    def set(self, stage: str, percent: float | None, step: str | None) -> None:
        with self.lock:
            if percent is not None:
                self.done[stage] = percent
            total = sum(self.weights[s] * self.done[s] for s in self.done)
            pct = total / sum(self.weights.values())
        if self.parent is not None:
            self.parent.update(pct, step=f"{stage}: {step}" if step else stage)


class _Forward:
    """A stage's progress: to its own task and to the parent's aggregator."""

    def __init__(self, own: Progress | None, agg: _Aggregator, stage: str) -> None:
        self.own, self.agg, self.stage = own, agg, stage

    def update(self, value: float | None = None, total: float | None = None, *,
               step: str | None = None) -> None:
        from pipeline_kit._progress import to_percent

        pct = to_percent(value, total)
        if self.own is not None:
            self.own.update(pct, step=step)
        self.agg.set(self.stage, pct, step)

    def check_cancelled(self) -> None:
        if self.own is not None:
            self.own.check_cancelled()


# ----------------------------------------------------------------------------- stages

@dataclass
class StageOutput:
    """What a stage task returns: the result object and how it was obtained."""

    stage: str
    key: str
    value: Any
    cache_hit: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:  # the task's stored result: a summary
        return {"stage": self.stage, "key": self.key, "cache_hit": self.cache_hit,
                "seconds": self.seconds}


def _encode(stage: str, value: Any) -> Any:
    if stage == "graph":
        from pipeline_kit.stages._graph_query import to_node_link_json

        return json.loads(to_node_link_json(value))
    if stage in ("upload", "transcription"):
        return value.to_dict()
    return [r.to_dict() for r in value]


def _decode(stage: str, data: Any) -> Any:
    if stage == "upload":
        from pipeline_kit.stages._upload import AudioRecord

        return AudioRecord.from_dict(data)
    if stage == "transcription":
        return Transcript.from_dict(data)
    if stage == "graph":
        from pipeline_kit.stages._graph_query import from_node_link_json

        return from_node_link_json(json.dumps(data))
    cls = {"chunking": Chunk, "chapters": Chapter, "questions": Question}[stage]
    return [cls.from_dict(d) for d in data]


def _test_delay(stage: str, progress: Progress) -> None:
    spec = os.environ.get(_DELAY_ENV, "")
    for item in filter(None, spec.split(",")):
        name, _, seconds = item.partition("=")
        if name.strip() == stage:
            end = time.monotonic() + float(seconds)
            while time.monotonic() < end:
                progress.check_cancelled()
                time.sleep(0.05)


def _compute(stage: str, inputs: dict[str, Any], params: dict[str, Any], home: str,
             progress: Progress) -> Any:
    if stage == "upload":
        from pipeline_kit.stages._upload import AudioLibrary

        library = AudioLibrary(Path(home) / "audio")
        stored = _library_record(library, inputs["audio"])
        return stored or library.import_audio(inputs["audio"], progress=progress)
    if stage == "transcription":
        from pipeline_kit.stages._transcription import transcribe

        return transcribe(inputs["audio"], params["model"], batch_size=params["batch_size"],
                          language=params["language"], progress=progress)
    if stage == "chunking":
        from pipeline_kit.stages._chunking import create_semantic_chunks

        return create_semantic_chunks(inputs["transcription"], params["chunk_size"],
                                      params["overlap"], method=params["chunking_method"],
                                      progress=progress)
    if stage == "chapters":
        from pipeline_kit.stages._chapters import analyze_chapters

        return analyze_chapters(inputs["chunking"], min_sentences=params["min_sentences"],
                                progress=progress)
    if stage == "graph":
        from pipeline_kit.stages._graph import build_graph

        return build_graph(inputs["chunking"], top_concepts=params["top_concepts"],
                           progress=progress)
    from pipeline_kit.stages._questions import generate_questions

    return generate_questions(inputs["chunking"], inputs["chapters"], inputs["graph"],
                              max_questions=params["max_questions"], progress=progress)


def _library_record(library: Any, audio: str) -> Any:
    """The record of ``audio`` when it already is a completed file of ``library`` (no copy).

    Audio uploaded through the HTTP API lives in the library already; importing it
    again would store a second copy under another id.
    """
    from pipeline_kit.stages._upload import UploadError

    path = Path(audio).resolve()
    if path.parent.parent != library.root.resolve():
        return None
    try:
        record = library.get(path.parent.name)
    except UploadError:
        return None
    ok = record.upload_status == "completed" and record.audio_file == path.name
    return record if ok else None


def run_stage(stage: str, key: str, home: str, inputs: dict[str, Any], params: dict[str, Any],
              aggregator: _Aggregator, progress: Progress | None = None) -> StageOutput:
    """One stage as a task: load its artifact, or compute and store it."""
    fwd = _Forward(progress, aggregator, stage)
    cache_ = ArtifactCache(home)
    t0 = time.perf_counter()
    data = cache_.load(stage, key)
    if data is not None:
        value = _decode(stage, data)
        fwd.update(100, step="cached")
        return StageOutput(stage, key, value, True, time.perf_counter() - t0)
    fwd.update(0, step="running")
    _test_delay(stage, fwd)
    value = _compute(stage, inputs, params, home, fwd)
    cache_.save(stage, key, _encode(stage, value))
    fwd.update(100, step="done")
    return StageOutput(stage, key, value, False, time.perf_counter() - t0)


def run_stage_remote(stage: str, key: str, home: str, audio: str, input_keys: dict[str, str],
                     params: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
    """:func:`run_stage` for another process or machine (``executor="dask"``).

    Arguments and result are JSON: inputs are read from, and the result written to,
    the artifact cache under ``home``, which workers must share with the caller.
    """
    cache_ = ArtifactCache(home)
    inputs: dict[str, Any] = {"audio": audio}
    for dep, dep_key in input_keys.items():
        data = cache_.load(dep, dep_key)
        if data is None:
            raise FileNotFoundError(f"{stage}: no {dep} artifact {dep_key} under {home} "
                                    "(do the workers share the pipeline home?)")
        inputs[dep] = _decode(dep, data)
    return run_stage(stage, key, home, inputs, params, _Aggregator(None, [stage]),
                     progress).to_dict()


# ----------------------------------------------------------------------------- results

def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


@dataclass
class PipelineResult:
    """Results of one run; stages that did not run are None."""

    run_id: str
    run_record: dict[str, Any]
    out_dir: Path | None = None
    transcript: Transcript | None = None
    chunks: list[Chunk] | None = None
    graph: Any = None
    chapters: list[Chapter] | None = None
    questions: list[Question] | None = None
    audio: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return self.run_record

    def save(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write run.json and every result that exists into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "run.json", json.dumps(self.run_record, indent=1, default=str))
        if self.transcript is not None:
            atomic_write_text(out / "transcript.json", self.transcript.to_json())
            atomic_write_text(out / "transcript.srt", self.transcript.to_srt())
            atomic_write_text(out / "transcript.vtt", self.transcript.to_vtt())
            atomic_write_text(out / "transcript.txt", self.transcript.to_txt())
        if self.chunks is not None:
            atomic_write_text(out / "chunks.json", dump_records(self.chunks))
        if self.graph is not None:
            from pipeline_kit.stages._graph_query import to_graphml

            to_graphml(self.graph, out / "graph.graphml")
        if self.chapters is not None:
            atomic_write_text(out / "chapters.json", dump_records(self.chapters))
        if self.questions is not None:
            atomic_write_text(out / "questions.json", dump_records(self.questions))
        return out


_RESULT_ATTR = {"upload": "audio", "transcription": "transcript", "chunking": "chunks",
                "graph": "graph", "chapters": "chapters", "questions": "questions"}


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def pipeline_task(audio: str, stages: list[str], home: str, params: dict[str, Any],
                        run_id: str, out_dir: str, audio_sha256: str,
                        progress: Progress | None = None) -> PipelineResult:
    """The parent PIPELINE task: submits and awaits one task per stage.

    Its arguments are JSON, so ``TaskManager.retry`` can run it again (it then
    continues from the first stage without an artifact).
    """
    manager = current_manager()
    if manager is None:
        raise RuntimeError("pipeline_task must run as a task of a TaskManager")
    keys = stage_keys(stages, audio_sha256, params)
    agg = _Aggregator(progress, stages)
    record: dict[str, Any] = {
        "run_id": run_id,
        "started_at": _now(),
        "inputs": [{"path": str(Path(audio).resolve()), "sha256": audio_sha256}],
        "stages": stages,
        "parameters": {k: v for k, v in params.items() if k != "model_identity"},
        "model": params["model_identity"],
        "versions": package_versions(),
        "code_versions": {s: code_version(s) for s in stages},
        "artifact_keys": keys,
        "stage_seconds": {},
        "stage_tasks": {},
        "cache_hits": [],
        "outcome": "running",
        "home": home,
        "out_dir": out_dir,
    }
    values: dict[str, Any] = {"audio": audio}

    async def run(stage: str) -> None:
        meta = {"run_id": run_id, "stage": stage, "key": keys[stage]}
        if params.get("executor") == "dask":
            out = await _run_stage_dask(manager, stage, keys, home,
                                        values.get("audio_path", audio), params, agg, meta,
                                        record)
        else:
            inputs = {"audio": values.get("audio_path", audio),
                      **{d: values[d] for d in DEPENDS[stage]}}
            handle = manager.submit(run_stage, stage, keys[stage], home, inputs, params, agg,
                                    task_type=TASK_TYPES[stage], metadata=meta)
            record["stage_tasks"][stage] = handle.task_id
            out = await handle
        values[stage] = out.value
        record["stage_seconds"][stage] = round(out.seconds, 4)
        if out.cache_hit:
            hits = {*record["cache_hits"], stage}
            record["cache_hits"] = [s for s in stages if s in hits]  # run order
        if stage == "upload":
            from pipeline_kit.stages._upload import AudioLibrary

            p = AudioLibrary(Path(home) / "audio").audio_path(out.value.audio_id)
            if p.is_file():
                values["audio_path"] = str(p)

    result = PipelineResult(run_id=run_id, run_record=record, out_dir=Path(out_dir))
    try:
        for stage in ("upload", "transcription", "chunking"):
            if stage in stages:
                await run(stage)
        await asyncio.gather(*(run(s) for s in ("graph", "chapters") if s in stages))
        if "questions" in stages:
            await run("questions")
    except BaseException as e:
        record.update(outcome="cancelled" if isinstance(e, asyncio.CancelledError) else "failed",
                      error=f"{type(e).__name__}: {e}", finished_at=_now())
        await asyncio.to_thread(_save_record, manager, result)
        raise
    for stage in stages:
        setattr(result, _RESULT_ATTR[stage], values[stage])
    record.update(outcome="completed", finished_at=_now())
    await asyncio.to_thread(_save_record, manager, result, True)
    if progress is not None:
        progress.update(100, step="done")
    return result


async def _run_stage_dask(manager: TaskManager, stage: str, keys: dict[str, str], home: str,
                          audio: str, params: dict[str, Any], agg: _Aggregator,
                          meta: dict[str, Any], record: dict[str, Any]) -> StageOutput:
    """One stage on a Dask worker; its progress feeds the parent through the manager."""
    input_keys = {d: keys[d] for d in DEPENDS[stage]}
    handle = manager.submit(run_stage_remote, stage, keys[stage], home, audio, input_keys,
                            params, task_type=TASK_TYPES[stage], metadata=meta,
                            executor="dask")
    record["stage_tasks"][stage] = handle.task_id

    def forward(info: Any) -> None:
        if info.task_id == handle.task_id and info.progress_percentage is not None:
            agg.set(stage, info.progress_percentage, info.current_step)

    unsubscribe = manager.subscribe(forward)
    try:
        summary = await handle
    finally:
        unsubscribe()
    data = await asyncio.to_thread(ArtifactCache(home).load, stage, keys[stage])
    value = await asyncio.to_thread(_decode, stage, data)
    return StageOutput(stage, keys[stage], value, summary["cache_hit"], summary["seconds"])


def _save_record(manager: TaskManager, result: PipelineResult, full: bool = False) -> None:
    manager.put_document("runs", result.run_id, result.run_record)
    if full:
        result.save(result.out_dir)
    else:
        Path(result.out_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(result.out_dir) / "run.json",
                          json.dumps(result.run_record, indent=1, default=str))


# ----------------------------------------------------------------------------- entry points

def _prepare(audio: Any, stages: Any, out_dir: Any, home: Any, chunk_size: Any, overlap: Any,
             chunking_method: Any, model: Any, params: dict[str, Any], executor: Any = "thread",
             manager: TaskManager | None = None) -> tuple:
    names = resolve_stages(stages)
    checked = validate_params(audio, chunk_size, overlap, chunking_method, params)
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; allowed: {', '.join(EXECUTORS)}")
    if executor == "dask" and (manager is None or not manager.has_dask):
        raise ValueError("executor='dask' needs manager=TaskManager(dask_client=...)")
    checked["executor"] = executor
    home_path = Path(home) if home is not None else pipeline_home()
    checked["model"] = None if model is None else str(model)
    checked["model_identity"] = (model_identity(checked["model"]) if "transcription" in names
                                 else None)
    run_id = uuid.uuid4().hex[:16]
    out = Path(out_dir) if out_dir is not None else home_path / "runs" / run_id
    audio_path = str(Path(audio).resolve())
    return (audio_path, names, str(home_path.resolve()), checked, run_id,
            str(out.resolve()), file_sha256(audio_path))


def _submit(manager: TaskManager, args: tuple, metadata: dict[str, Any] | None = None):
    """Submit the PIPELINE task for ``_prepare``'s ``args``; its metadata names the run."""
    audio, stages, _, params, run_id, _, audio_sha256 = args
    meta = {**(metadata or {}), "run_id": run_id, "audio": audio, "stages": stages,
            "artifact_keys": stage_keys(stages, audio_sha256, params)}
    return manager.submit(pipeline_task, *args, task_type=TaskType.PIPELINE, metadata=meta)


def run_pipeline(
    audio: str | os.PathLike[str],
    stages: str | Iterable[str] | None = None,
    manager: TaskManager | None = None,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    chunk_size: int = 150,
    overlap: int = 25,
    chunking_method: str = "embedding",
    model: str | None = None,
    executor: str = "thread",
    **params: Any,
) -> PipelineResult:
    """Run the pipeline on one audio file and block until it finishes.

    ``stages``: canonical names or the seed's aliases (needed stages are added).
    Without ``manager`` one is created on ``<home>/tasks.sqlite3`` and closed after.
    ``executor="dask"`` runs the stages on the workers of ``manager``'s Dask client
    (they must see the same ``home`` folder).
    In a running event loop (Jupyter) use ``await run_pipeline_async(...)``.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("run_pipeline() would block the running event loop; "
                           "use `await run_pipeline_async(...)` instead")
    args = _prepare(audio, stages, out_dir, home, chunk_size, overlap, chunking_method,
                    model, params, executor, manager)
    own = manager is None
    mgr = manager or TaskManager(store=_store_target(home))
    try:
        return _submit(mgr, args).result()
    finally:
        if own:
            mgr.close()


async def run_pipeline_async(
    audio: str | os.PathLike[str],
    stages: str | Iterable[str] | None = None,
    manager: TaskManager | None = None,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    chunk_size: int = 150,
    overlap: int = 25,
    chunking_method: str = "embedding",
    model: str | None = None,
    executor: str = "thread",
    **params: Any,
) -> PipelineResult:
    """Like :func:`run_pipeline`, awaiting inside the caller's running loop."""
    args = _prepare(audio, stages, out_dir, home, chunk_size, overlap, chunking_method,
                    model, params, executor, manager)
    own = manager is None
    mgr = manager or TaskManager(store=_store_target(home))
    try:
        return await _submit(mgr, args)
    finally:
        if own:
            await asyncio.to_thread(mgr.close)


def start_pipeline(
    audio: str | os.PathLike[str],
    stages: str | Iterable[str] | None = None,
    *,
    manager: TaskManager,
    metadata: dict[str, Any] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    chunk_size: int = 150,
    overlap: int = 25,
    chunking_method: str = "embedding",
    model: str | None = None,
    executor: str = "thread",
    **params: Any,
) -> TaskHandle:
    """Validate, submit the parent PIPELINE task on ``manager`` and return its handle at once.

    For servers and other callers that must not block: the handle's ``task_id`` is the
    parent task. Its metadata is ``metadata`` plus ``run_id``, ``audio``, ``stages`` and
    ``artifact_keys`` (the cache key of every stage). Raises ValueError like
    :func:`run_pipeline` before anything is submitted.
    """
    args = _prepare(audio, stages, out_dir, home, chunk_size, overlap, chunking_method,
                    model, params, executor, manager)
    return _submit(manager, args, metadata)


def _store_target(home: str | os.PathLike[str] | None) -> Path | None:
    """``<home>/tasks.sqlite3`` for an explicit home; else None: ``$PIPELINE_KIT_STORE``
    or the default file (see :func:`~pipeline_kit.tasks._store.open_store`)."""
    return Path(home) / STORE_FILENAME if home is not None else None


def runs(home: str | os.PathLike[str] | None = None, *,
         store: str | os.PathLike[str] | None = None):  # -> pandas.DataFrame
    """Run records, oldest first: from ``store`` (a path or database URL) if given, else
    ``<home>/tasks.sqlite3``, else ``$PIPELINE_KIT_STORE`` or the default home's file."""
    import pandas as pd

    cols = ["run_id", "started_at", "finished_at", "outcome", "stages", "cache_hits",
            "stage_seconds", "parameters", "inputs", "model", "versions", "out_dir", "error"]
    target = store if store is not None else _store_target(home)
    if target is None:
        target = os.environ.get(STORE_ENV) or default_store_path()
    if "://" not in str(target) and not Path(target).exists():
        return pd.DataFrame(columns=cols)  # no store file yet: no runs (and none created)
    opened = open_store(target)
    try:
        docs = opened.list_documents("runs")
    finally:
        opened.close()
    rows = [{c: d.get(c) for c in cols} for d in docs]
    rows.sort(key=lambda r: r["started_at"] or "")
    return pd.DataFrame(rows, columns=cols)


__all__ = [
    "ALIASES", "CHUNKING_METHODS", "STAGES", "PipelineResult", "StageOutput", "resolve_stages",
    "run_pipeline", "run_pipeline_async", "runs", "start_pipeline", "validate_params",
]
