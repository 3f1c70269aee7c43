"""Run the registered stages on one audio file as tasks, cached by input.

Every stage (see :mod:`pipeline_kit.pipeline._registry`) is one task under a parent
``PIPELINE`` task, scheduled from the dependency graph (stages whose inputs are
ready run concurrently). Every stage result is a JSON artifact under
``<home>/artifacts`` (see :mod:`pipeline_kit.pipeline._artifacts`), so a re-run reuses what
is unchanged and a run that failed or was killed continues from the first stage
without an artifact. Every run leaves a run record (``run.json`` and the store's
``runs`` collection) whose outcome matches its PIPELINE task.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline_kit.base._fs import atomic_write_text
from pipeline_kit.base._progress import Progress, Span, ensure_progress, to_percent
from pipeline_kit.ingest._upload import file_sha256
from pipeline_kit.pipeline._artifacts import ArtifactCache, code_version, stage_key
from pipeline_kit.pipeline._registry import REGISTRY, RunParams, StageCall, StageSpec
from pipeline_kit.pipeline._speaker_names import presented
from pipeline_kit.tasks import TaskHandle, TaskManager, TaskType, current_manager, current_task_id
from pipeline_kit.tasks._store import (
    STORE_ENV,
    STORE_FILENAME,
    default_store_path,
    open_store,
    pipeline_home,
)
from pipeline_kit.tasks._views import views

# Where stage tasks run: manager threads, or Dask workers sharing the pipeline home.
EXECUTORS = ("thread", "dask")
VERSIONED_PACKAGES = (
    "pipeline_kit", "whisperx", "faster-whisper", "sentence-transformers", "scikit-learn",
    "networkx", "torch",
)


def resolve_stages(stages: str | Iterable[str] | None,
                   params: Mapping[str, Any] | None = None) -> list[str]:
    """Canonical stage names in run order, with every stage a chosen one needs (and the
    on-request stages, such as diarization, that ``params`` asks for)."""
    return REGISTRY.resolve(stages, params)


# ----------------------------------------------------------------------------- cache keys

def key_params(spec: StageSpec, params: RunParams) -> dict[str, Any]:
    """What changes ``spec``'s result besides its inputs: its parameters and identities."""
    own = params.for_stage(spec.name)
    if spec.identity is not None:
        own.update(spec.identity(own))
    return own


def stage_keys(stages: list[str], audio_sha256: str, params: RunParams) -> dict[str, str]:
    """Cache key of every stage (each includes the keys of its inputs)."""
    keys: dict[str, str] = {}
    for spec in REGISTRY.specs():  # registration order: dependencies first
        if spec.name not in stages:
            continue
        inputs = [keys[d] for d in spec.inputs(stages)]
        if spec.reads_audio:
            inputs.append(audio_sha256)
        keys[spec.name] = stage_key(spec.name, code_version(spec.sources),
                                    key_params(spec, params), inputs)
    return keys


# ----------------------------------------------------------------------------- progress

class _Aggregator:
    """Parent progress = weighted sum of its stages' progress."""

    def __init__(self, parent: Progress | None, stages: list[str]) -> None:
        self.parent = parent
        self.weights = {s: REGISTRY.get(s).weight for s in stages}
        self.done = dict.fromkeys(stages, 0.0)
        self.lock = threading.Lock()

    def set(self, stage: str, percent: float | None, step: str | None) -> None:
        with self.lock:
            if percent is not None:
                self.done[stage] = percent
            total = sum(self.weights[s] * self.done[s] for s in self.done)
            pct = total / sum(self.weights.values())
            waiting = [s for s, d in self.done.items() if d < 100.0]
        if self.parent is not None:
            self.parent.update(pct, step=self._step(stage, step, waiting))

    def _step(self, stage: str, step: str | None, waiting: list[str]) -> str:
        """``stage: step`` while the stage works; once it is complete, what comes next
        (the run's row read "transcription: Transcription done  ETA 12s", an ETA that is
        the run's, not the finished stage's)."""
        if self.done[stage] < 100.0:
            return f"{stage}: {step}" if step else stage
        return f"{stage} done, {waiting[0]} next" if waiting else f"{stage} done"


class _Forward:
    """A stage's progress: to its own task and to the parent's aggregator."""

    def __init__(self, own: Progress | None, agg: _Aggregator, stage: str) -> None:
        self.own = None if own is None else ensure_progress(own)
        self.agg, self.stage = agg, stage

    def update(self, value: float | None = None, total: float | None = None, *,
               step: str | None = None, within: Span | None = None) -> None:
        if self.own is not None:
            self.own.update(value, total, step=step, within=within)
        self.agg.set(self.stage, to_percent(value, total, within), step)

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


def run_stage(stage: str, key: str, home: str, audio: str, inputs: dict[str, Any],
              params: dict[str, Any], aggregator: _Aggregator,
              progress: Progress | None = None) -> StageOutput:
    """One stage as a task: load its artifact, or compute and store it."""
    spec = REGISTRY.get(stage)
    fwd = _Forward(progress, aggregator, stage)
    cache_ = ArtifactCache(home)
    t0 = time.perf_counter()
    data = cache_.load(stage, key)
    if data is not None:
        value = spec.codec.decode(data)
        if spec.audio_path is None or spec.audio_path(value, Path(home)) is not None:
            fwd.update(100, step="cached")
            return StageOutput(stage, key, value, True, time.perf_counter() - t0)
        # the stored upload names a library copy that is gone: upload again
    fwd.update(0, step="running")
    value = spec.run(StageCall(audio=audio, inputs=inputs, params=params, home=Path(home),
                               progress=fwd))
    cache_.save(stage, key, spec.codec.encode(value))
    fwd.update(100, step="done")
    return StageOutput(stage, key, value, False, time.perf_counter() - t0)


def run_stage_remote(stage: str, key: str, home: str, audio: str, input_keys: dict[str, str],
                     params: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
    """:func:`run_stage` for a Dask worker: JSON arguments, inputs read from the cache.

    The worker loads each input from its artifact under ``home``, which workers must
    share with the caller.
    """
    cache_ = ArtifactCache(home)
    inputs: dict[str, Any] = {}
    for dep, dep_key in input_keys.items():
        data = cache_.load(dep, dep_key)
        if data is None:
            raise FileNotFoundError(f"{stage}: no {dep} artifact {dep_key} under {home} "
                                    "(do the workers share the pipeline home?)")
        inputs[dep] = REGISTRY.get(dep).codec.decode(data)
    return run_stage(stage, key, home, audio, inputs, params, _Aggregator(None, [stage]),
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
    """Results of one run, by stage; each stage's ``result_attr`` reads its result
    (``result.transcript``, ``result.chunks``, ...); stages that did not run are None."""

    run_id: str
    run_record: dict[str, Any]
    out_dir: Path | None = None
    values: dict[str, Any] = field(default_factory=dict, repr=False)

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_"):
            for spec in REGISTRY.specs():
                if spec.result_attr == name:
                    return self.values.get(spec.name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getitem__(self, stage: str) -> Any:
        """The result of ``stage`` (its canonical name), or None when it did not run."""
        return self.values.get(REGISTRY.get(stage).name)

    def __repr__(self) -> str:
        rec = self.run_record
        parts = [f"run {self.run_id[:8]}", str(rec.get("outcome", "?"))]
        audio = _audio_name(rec)
        head = ", ".join(parts) + (f", {audio}" if audio else "")
        body = ", ".join(f"{REGISTRY.get(stage).result_attr}: {_brief(value)}"
                         for stage, value in self.values.items())
        return f"PipelineResult({head}{'; ' + body if body else ''})"

    def _repr_html_(self) -> str:
        import html

        rec = self.run_record
        hits, seconds = set(rec.get("cache_hits") or []), rec.get("stage_seconds") or {}
        rows = "".join(
            f"<tr><td>{html.escape(stage)}</td>"
            f"<td>{html.escape(REGISTRY.get(stage).result_attr)}</td>"
            f"<td>{html.escape(_brief(value))}</td>"
            f"<td>{'cached' if stage in hits else ''}</td>"
            f"<td style='text-align:right'>{seconds.get(stage, 0.0):.1f} s</td></tr>"
            for stage, value in self.values.items())
        title = (f"Run {self.run_id[:8]} · {_audio_name(rec) or 'no audio'} · "
                 f"{rec.get('outcome', '?')}")
        where = f"<br>results in <code>{html.escape(str(self.out_dir))}</code>" \
            if self.out_dir else ""
        return (f"<div><b>{html.escape(title)}</b><table><tr><th>stage</th><th>result</th>"
                f"<th>summary</th><th></th><th>time</th></tr>{rows}</table>{where}</div>")

    def to_dict(self) -> dict[str, Any]:
        return self.run_record

    def save(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write every result that exists, then ``run.json``, into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for stage, value in self.values.items():
            spec = REGISTRY.get(stage)
            if spec.export_json:
                atomic_write_text(out / f"{spec.result_attr}.json",
                                  json.dumps(spec.codec.encode(value), ensure_ascii=False,
                                             indent=1))
            if spec.export is not None:
                spec.export(value, out)
        atomic_write_text(out / "run.json", json.dumps(self.run_record, indent=1, default=str))
        return out


def _audio_name(record: dict[str, Any]) -> str:
    inputs = record.get("inputs") or [{}]
    return Path(inputs[0].get("path") or "").name


def _brief(value: Any) -> str:
    """A few words about one stage's result: a count, a graph's size, or a short repr."""
    if hasattr(value, "number_of_nodes") and hasattr(value, "number_of_edges"):
        return f"{value.number_of_nodes()} nodes, {value.number_of_edges()} edges"
    if isinstance(value, (list, tuple)):
        return f"{len(value)}"
    text = " ".join(repr(value).split())
    return text if len(text) <= 80 else text[:79] + "…"


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _new_record(audio: str, stages: list[str], home: str, params: RunParams, executor: str,
                run_id: str, out_dir: str, audio_sha256: str, keys: dict[str, str]
                ) -> dict[str, Any]:
    model = (key_params(REGISTRY.get("transcription"), params).get("model")
             if "transcription" in stages else None)
    return {
        "run_id": run_id,
        "task_id": current_task_id(),
        "started_at": _now(),
        "inputs": [{"path": str(Path(audio).resolve()), "sha256": audio_sha256}],
        "stages": stages,
        "parameters": {**params.to_dict(), "executor": executor},
        "model": model,
        "versions": package_versions(),
        "code_versions": {s: code_version(REGISTRY.get(s).sources) for s in stages},
        "artifact_keys": keys,
        "stage_seconds": {},
        "stage_tasks": {},
        "stage_summaries": {},
        "cache_hits": [],
        "outcome": "running",
        "home": home,
        "out_dir": out_dir,
    }


async def pipeline_task(audio: str, stages: list[str], home: str, params: dict[str, Any],
                        run_id: str, out_dir: str, audio_sha256: str, executor: str = "thread",
                        progress: Progress | None = None) -> PipelineResult:
    """The parent PIPELINE task: submits and awaits one task per stage.

    Its arguments are JSON, so ``TaskManager.retry`` can run it again (it then
    continues from the first stage without an artifact).
    """
    manager = current_manager()
    if manager is None:
        raise RuntimeError("pipeline_task must run as a task of a TaskManager")
    run_params = RunParams(params)
    keys = stage_keys(stages, audio_sha256, run_params)
    agg = _Aggregator(progress, stages)
    record = _new_record(audio, stages, home, run_params, executor, run_id, out_dir,
                         audio_sha256, keys)
    values: dict[str, Any] = {}
    reads = {"audio": audio}

    async def run(stage: str) -> None:
        spec = REGISTRY.get(stage)
        meta = {"run_id": run_id, "stage": stage, "key": keys[stage]}
        own = run_params.for_stage(stage)
        if executor == "dask":
            out = await _run_stage_dask(manager, spec, keys, home, reads["audio"], own, agg,
                                        meta, record)
        else:
            inputs = {d: values[d] for d in spec.inputs(stages)}
            handle = manager.submit(run_stage, stage, keys[stage], home, reads["audio"], inputs,
                                    own, agg, task_type=spec.task_type, metadata=meta)
            record["stage_tasks"][stage] = handle.task_id
            out = await handle
        values[stage] = out.value
        record["stage_seconds"][stage] = round(out.seconds, 4)
        if spec.summary is not None:
            record["stage_summaries"][stage] = spec.summary(out.value)
        if out.cache_hit:
            hits = {*record["cache_hits"], stage}
            record["cache_hits"] = [s for s in stages if s in hits]  # run order
        if spec.audio_path is not None:
            reads["audio"] = spec.audio_path(out.value, Path(home)) or reads["audio"]

    result = PipelineResult(run_id=run_id, run_record=record, out_dir=Path(out_dir))
    # stored at once, so a killed run leaves a record that runs() can report
    await asyncio.to_thread(_save_record, manager, result)
    try:
        for wave in REGISTRY.waves(stages):
            await asyncio.gather(*(run(s) for s in wave))
        result.values = presented({s: values[s] for s in stages})  # speakers on the transcript
        record.update(outcome="completed", finished_at=_now())
        await asyncio.to_thread(_save_record, manager, result, True)
        if "chunking" in stages:
            await asyncio.to_thread(_update_collection, home, record)
    except BaseException as e:
        record.update(outcome="cancelled" if isinstance(e, asyncio.CancelledError) else "failed",
                      error=f"{type(e).__name__}: {e}", finished_at=_now())
        await asyncio.to_thread(_save_record, manager, result)
        raise
    if progress is not None:
        progress.update(100, step="done")
    return result


async def _run_stage_dask(manager: TaskManager, spec: StageSpec, keys: dict[str, str], home: str,
                          audio: str, params: dict[str, Any], agg: _Aggregator,
                          meta: dict[str, Any], record: dict[str, Any]) -> StageOutput:
    """One stage on a Dask worker; its progress feeds the parent through the manager."""
    stage = spec.name
    input_keys = {d: keys[d] for d in spec.inputs(keys)}
    handle = manager.submit(run_stage_remote, stage, keys[stage], home, audio, input_keys,
                            params, task_type=spec.task_type, metadata=meta, executor="dask")
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
    value = await asyncio.to_thread(spec.codec.decode, data)
    return StageOutput(stage, keys[stage], value, summary["cache_hit"], summary["seconds"])


def _save_record(manager: TaskManager, result: PipelineResult, full: bool = False) -> None:
    """Results (``full``) and the run record; a failed write fails the run, truthfully."""
    record = result.run_record
    if full:
        try:
            result.save(result.out_dir or ".")
        except BaseException as e:
            record.update(outcome="failed", error=f"{type(e).__name__}: {e}")
            _save_record(manager, result)
            raise
    else:
        try:
            Path(result.out_dir or ".").mkdir(parents=True, exist_ok=True)
            atomic_write_text(Path(result.out_dir or ".") / "run.json",
                              json.dumps(record, indent=1, default=str))
        except OSError:
            pass  # the store's copy below still tells the outcome
    manager.put_document("runs", result.run_id, record)


# Called with (home, run record) after each completed run that made chunks. The
# collection, a layer above, adds its indexer here (see ``pipeline_kit/__init__``).
_run_listeners: list[Callable[[str, dict[str, Any]], None]] = []


def on_run_completed(listener: Callable[[str, dict[str, Any]], None]) -> None:
    """Call ``listener(home, record)`` after every completed run that made chunks."""
    _run_listeners.append(listener)


def _update_collection(home: str, record: dict[str, Any]) -> None:
    """Tell the listeners (the collection index) of the finished run; a failure warns."""
    for listener in _run_listeners:
        try:
            listener(home, record)
        except Exception as e:  # the index is derived data: `pipeline-kit index` rebuilds it
            warnings.warn(f"collection index under {home} not updated: "
                          f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=1)


# ----------------------------------------------------------------------------- entry points

@dataclass(frozen=True)
class _Prepared:
    """A run checked and ready to submit: every argument of :func:`pipeline_task`."""

    audio: str
    stages: list[str]
    home: str
    params: dict[str, Any]
    run_id: str
    out_dir: str
    audio_sha256: str
    executor: str

    def args(self) -> tuple[Any, ...]:
        return (self.audio, self.stages, self.home, self.params, self.run_id, self.out_dir,
                self.audio_sha256, self.executor)


def check_folder(path: Path, what: str) -> Path:
    """``path`` as a folder we can write: it is one, or can be made in a writable parent."""
    p = path.expanduser().resolve()
    if p.exists() and not p.is_dir():
        raise ValueError(f"{what} {p} exists and is not a folder")
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {p} cannot be written ({probe} is not a writable folder)")
    return p


def check_audio(audio: str | os.PathLike[str]) -> Path:
    """``audio`` as an existing regular file, or ValueError naming the path."""
    path = Path(audio).expanduser()
    if not path.exists():
        raise ValueError(f"audio file not found: {path}")
    if not path.is_file():
        raise ValueError(f"audio path is not a file: {path}")
    if not os.access(path, os.R_OK):
        raise ValueError(f"audio file cannot be read: {path}")
    return path.resolve()


def prepare_run(audio: Any, stages: Any, out_dir: Any, home: Any, executor: Any,
                manager: TaskManager | None, params: dict[str, Any] | RunParams,
                hash_audio: bool = True) -> _Prepared:
    """Check everything a run needs before any work starts (ValueError names what is wrong).

    ``hash_audio=False`` only checks (the audio's sha256 is then left empty).
    """
    names = resolve_stages(stages, params)
    run_params = params if isinstance(params, RunParams) else RunParams(params)
    path = check_audio(audio)
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; allowed: {', '.join(EXECUTORS)}")
    if executor == "dask" and (manager is None or not manager.has_dask):
        raise ValueError("executor='dask' needs manager=TaskManager(dask_client=...)")
    home_path = check_folder(Path(home) if home is not None else pipeline_home(), "home")
    if "transcription" in names:  # fail at once when the model is not available offline
        key_params(REGISTRY.get("transcription"), run_params)
    run_id = uuid.uuid4().hex[:16]
    out = check_folder(Path(out_dir) if out_dir is not None else home_path / "runs" / run_id,
                       "output folder")
    return _Prepared(str(path), names, str(home_path), run_params.to_dict(), run_id, str(out),
                     file_sha256(path) if hash_audio else "", executor)


def _submit(manager: TaskManager, run: _Prepared, metadata: dict[str, Any] | None = None
            ) -> TaskHandle:
    """Submit the PIPELINE task of ``run``; its metadata names the run and its cache keys."""
    keys = stage_keys(run.stages, run.audio_sha256, RunParams(run.params))
    meta = {**(metadata or {}), "run_id": run.run_id, "audio": run.audio, "stages": run.stages,
            "artifact_keys": keys}
    return manager.submit(pipeline_task, *run.args(), task_type=TaskType.PIPELINE, metadata=meta)


def run_pipeline(
    audio: str | os.PathLike[str],
    stages: str | Iterable[str] | None = None,
    manager: TaskManager | None = None,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    executor: str = "thread",
    **params: Any,
) -> PipelineResult:
    """Run the pipeline on one audio file and block until it finishes.

    ``stages``: canonical names or the seed's aliases (needed stages are added).
    ``params``: any stage parameter by name (``chunk_size=200``, ``model="small"``;
    see ``pk.stage_parameters()``), each checked against its bounds before work starts.
    Without ``manager`` one is created on ``<home>/tasks.sqlite3`` and closed after, and
    the run's progress is shown (text lines on stderr in a script, a widget panel in
    JupyterLab; ``PIPELINE_KIT_PROGRESS=none`` silences it).
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
    run = prepare_run(audio, stages, out_dir, home, executor, manager, params)
    own = manager is None
    mgr = manager or TaskManager(store=_store_target(home))
    view = None
    try:
        handle = _submit(mgr, run)
        view = views().follow(mgr, handle) if own else None
        return handle.result()
    finally:
        if view is not None:
            view.finish()
        if own:
            mgr.close()


async def run_pipeline_async(
    audio: str | os.PathLike[str],
    stages: str | Iterable[str] | None = None,
    manager: TaskManager | None = None,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    home: str | os.PathLike[str] | None = None,
    executor: str = "thread",
    **params: Any,
) -> PipelineResult:
    """Like :func:`run_pipeline`, awaiting inside the caller's running loop."""
    run = prepare_run(audio, stages, out_dir, home, executor, manager, params)
    own = manager is None
    mgr = manager or TaskManager(store=_store_target(home))
    view = None
    try:
        handle = _submit(mgr, run)
        view = views().follow(mgr, handle) if own else None
        return await handle
    finally:
        if view is not None:
            await asyncio.sleep(0)  # the panel applies the last snapshots on this loop
            await asyncio.to_thread(view.finish)
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
    executor: str = "thread",
    **params: Any,
) -> TaskHandle:
    """Validate, submit the parent PIPELINE task on ``manager`` and return its handle at once.

    For servers and other callers that must not block: the handle's ``task_id`` is the
    parent task. Its metadata is ``metadata`` plus ``run_id``, ``audio``, ``stages`` and
    ``artifact_keys`` (the cache key of every stage). Raises ValueError like
    :func:`run_pipeline` before anything is submitted.
    """
    run = prepare_run(audio, stages, out_dir, home, executor, manager, params)
    return _submit(manager, run, metadata)


def _store_target(home: str | os.PathLike[str] | None) -> Path | None:
    """``<home>/tasks.sqlite3`` for an explicit home; else None: ``$PIPELINE_KIT_STORE``
    or the default file (see :func:`~pipeline_kit.tasks._store.open_store`)."""
    return Path(home) / STORE_FILENAME if home is not None else None


def read_target(home: str | os.PathLike[str] | None = None,
                store: str | os.PathLike[str] | None = None) -> str | os.PathLike[str]:
    """The store a reader opens: ``store`` (a path or database URL), else
    ``<home>/tasks.sqlite3``, else ``$PIPELINE_KIT_STORE`` or the default file."""
    target = store if store is not None else _store_target(home)
    return target if target is not None else (os.environ.get(STORE_ENV)
                                              or default_store_path())


def store_exists(target: str | os.PathLike[str]) -> bool:
    """Whether there is a store at ``target`` (a database URL is taken to exist): a
    reader must not open a missing file, which would create an empty store."""
    return "://" in str(target) or Path(target).is_file()


RUN_COLUMNS = ["run_id", "started_at", "finished_at", "outcome", "stages", "cache_hits",
               "stage_seconds", "parameters", "inputs", "model", "versions", "out_dir", "error"]


def runs(home: str | os.PathLike[str] | None = None, *,
         store: str | os.PathLike[str] | None = None):  # -> pandas.DataFrame
    """Run records, oldest first: from ``store`` (a path or database URL) if given, else
    ``<home>/tasks.sqlite3``, else ``$PIPELINE_KIT_STORE`` or the default home's file.

    A record still marked running whose PIPELINE task has ended (its process was
    killed, and recovery marked the task) shows that task's outcome (``interrupted``
    when recovery ended it).
    """
    import pandas as pd

    return pd.DataFrame(run_records(home, store=store), columns=RUN_COLUMNS)


def run_records(home: str | os.PathLike[str] | None = None, *,
                store: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """What :func:`runs` shows, as plain dicts of ``RUN_COLUMNS`` (None where a record has
    no value), without pandas: ``pipeline-kit runs`` prints these."""
    target = read_target(home, store)
    if not store_exists(target):
        return []  # no store file yet: no runs (none created)
    opened = open_store(target, read_only=True)
    try:
        docs = [_reconciled(d, opened) for d in opened.list_documents("runs")]
    finally:
        opened.close()
    rows = [{c: d.get(c) for c in RUN_COLUMNS} for d in docs]
    rows.sort(key=lambda r: r["started_at"] or "")
    return rows


def _reconciled(doc: dict[str, Any], store: Any) -> dict[str, Any]:
    """``doc`` with its outcome taken from its PIPELINE task when the record is stale."""
    task_id = doc.get("task_id")
    if doc.get("outcome") != "running" or not task_id:
        return doc
    info = store.get(task_id)
    if info is None or not info.is_terminal:
        return doc
    error = info.error_message or ""
    outcome = "interrupted" if "interrupt" in error.lower() else info.status.value
    return {**doc, "outcome": outcome, "error": doc.get("error") or error or None,
            "finished_at": doc.get("finished_at") or (info.completed_at.isoformat()
                                                      if info.completed_at else None)}


def stage_parameters():  # -> pandas.DataFrame
    """Every stage parameter: its stage, type, default, bounds and meaning."""
    import pandas as pd

    rows = [{"parameter": p.name, "stage": s.name, "type": p.kind.__name__,
             "default": p.default, "allowed": p.describe(), "help": p.help}
            for s in REGISTRY.specs() for p in s.params]
    return pd.DataFrame(rows)


__all__ = [
    "PipelineResult", "StageOutput", "resolve_stages", "run_pipeline", "run_pipeline_async",
    "runs", "stage_parameters", "start_pipeline",
]
