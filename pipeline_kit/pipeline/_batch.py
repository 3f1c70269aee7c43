"""Many audio files at once: one executed notebook (or pipeline run) per file, plus a summary.

Each file is one task of a :class:`~pipeline_kit.tasks.TaskManager`, so a batch has
the same status, progress, cancel and display as everything else. Two modes:

- ``"notebook"`` (default): ``notebooks/01_run_pipeline.ipynb`` executed with
  papermill per file, so every file leaves a readable, re-runnable record. Each
  notebook runs its own kernel (and loads the model in it).
- ``"pipeline"``: :func:`~pipeline_kit.pipeline._pipeline.run_pipeline` per file inside this
  process, all sharing one model load.

With a Dask client the files (notebook mode) or their stages (pipeline mode) run on
the cluster's workers; workers must see the same folders.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pipeline_kit.base._fs import atomic_write_text
from pipeline_kit.base._progress import Progress
from pipeline_kit.base._threads import share_env
from pipeline_kit.tasks import TaskManager, TaskStatus, TaskType

MODES = ("notebook", "pipeline")
AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".m4a", ".ogg", ".opus", ".webm", ".aac", ".mp4")
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01_run_pipeline.ipynb"
SUMMARY_COLUMNS = ["file", "name", "audio", "status", "error", "seconds", "run_id", "words",
                   "chunks", "chapters", "questions", "cache_hits", "out_dir", "notebook",
                   "task_id"]


def collect_audio(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files named, and audio files inside folders named; missing paths are an error."""
    files: list[Path] = []
    missing = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.suffix.lower() in AUDIO_SUFFIXES)
        elif p.is_file():
            files.append(p)
        else:
            missing.append(str(item))
    if missing:
        raise ValueError(f"no such file or folder: {', '.join(missing)}")
    if not files:
        raise ValueError(f"no audio files found (looked for {', '.join(AUDIO_SUFFIXES)})")
    return files


def output_names(files: list[Path]) -> list[str]:
    """One folder name per file: its stem made safe, numbered when stems repeat."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for f in files:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", f.stem).strip("._") or "audio"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names


# The kernel's own log (not cell output): "running over TCP without encryption" at start,
# "KeyboardInterrupt caught in kernel" at shutdown. Cell errors still fail the run.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


# Kernels started at once by parallel workers can race for the same free port; the loser
# dies before it answers (a known jupyter_client race): its notebook is started again.
KERNEL_START_ATTEMPTS = 3
_KERNEL_START_ERRORS = ("Kernel died before replying to kernel_info", "Kernel didn't respond")


def kernel_start_failed(exc: BaseException) -> bool:
    """Whether ``exc`` says the kernel never came up (no cell can have run)."""
    return any(m in str(exc) for m in _KERNEL_START_ERRORS)


class NotebookCellError(RuntimeError):
    """A cell of a batch notebook raised: which cell, which exception, at which line."""


def cell_error(exc: Any) -> NotebookCellError:
    """A one-line error of papermill's ``PapermillExecutionError`` (whose text is the
    whole traceback): ``cell In [11] raised AssertionError at: assert len(q) > 0``."""
    at = ""
    for line in reversed("\n".join(exc.traceback).splitlines()):
        line = re.sub(r"\x1b\[[0-9;]*m", "", line)
        m = re.match(r"\s*-+>\s*\d+\s+(.*)", line)
        if m:
            at = f" at: {m.group(1).strip()}"
            break
    value = f": {exc.evalue}" if exc.evalue else ""
    return NotebookCellError(f"cell In [{exc.exec_count}] raised {exc.ename}{value}{at}")


def execute_notebook(notebook: str, output: str, parameters: dict[str, Any], cwd: str,
                     progress: Progress | None = None) -> dict[str, Any]:
    """Execute ``notebook`` into ``output`` with papermill; return the run's summary.

    Importable with JSON arguments, so it runs in a worker process (the batch's
    default) or on a Dask worker. The kernel is started in ``cwd``; this process never
    changes its own working directory (papermill's ``cwd=`` would, for every thread).
    Progress is per executed cell. A kernel that dies before it answers (see
    ``KERNEL_START_ATTEMPTS``) is started again; once a cell has run, nothing is retried.
    """
    import nbformat
    import papermill

    n_cells = len(nbformat.read(notebook, as_version=4).cells) + 1  # + injected parameters
    cells_run = 0

    def on_cell(cell: Any = None, cell_index: int = 0, **_: Any) -> None:
        nonlocal cells_run
        cells_run += 1
        if progress is not None:
            progress.update(min(cell_index + 1, n_cells), n_cells, step="notebook cells")

    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        try:
            papermill.execute_notebook(notebook, output, parameters=parameters, cwd=None,
                                       progress_bar=False, log_output=False,
                                       kernel_name="python3",
                                       resources={"metadata": {"path": cwd}},
                                       extra_arguments=KERNEL_ARGUMENTS,
                                       on_cell_executed=on_cell)
            break
        except papermill.PapermillExecutionError as e:
            raise cell_error(e) from None
        except RuntimeError as e:
            if cells_run or attempt == KERNEL_START_ATTEMPTS or not kernel_start_failed(e):
                raise
    if progress is not None:
        progress.update(100, step="notebook executed")
    return run_summary(Path(parameters["output_dir"]))


def notebook_stage_params(notebook: Path, params: dict[str, Any]) -> dict[str, Any]:
    """Stage parameters as ``notebook`` takes them: those it declares by name, the rest
    in its ``stage_params`` dict; ValueError when it can take neither."""
    if not params:
        return {}
    import papermill

    declared = set(papermill.inspect_notebook(str(notebook)))
    named = {k: v for k, v in params.items() if k in declared}
    rest = {k: v for k, v in params.items() if k not in declared}
    if rest and "stage_params" not in declared:
        raise ValueError(f"notebook {notebook.name} takes no parameter {', '.join(sorted(rest))}"
                         " (and no stage_params)")
    return {**named, **({"stage_params": rest} if rest else {})}


def run_summary(out_dir: Path) -> dict[str, Any]:
    """Counts and identity of the run saved in ``out_dir`` (from run.json and results)."""
    rec = json.loads((out_dir / "run.json").read_text(encoding="utf-8"))
    ran = set(rec.get("stages") or [])  # a folder re-used may hold files of an earlier run

    def count(name: str, stage: str) -> int | None:
        p = out_dir / f"{name}.json"
        if stage not in ran or not p.is_file():
            return None
        return len(json.loads(p.read_text(encoding="utf-8")))

    words = None
    t = out_dir / "transcript.json"
    if "transcription" in ran and t.is_file():
        words = len(json.loads(t.read_text(encoding="utf-8")).get("words", []))
    return {"run_id": rec.get("run_id"), "words": words, "chunks": count("chunks", "chunking"),
            "chapters": count("chapters", "chapters"),
            "questions": count("questions", "questions"),
            "cache_hits": ",".join(rec.get("cache_hits") or []), "outcome": rec.get("outcome")}


def run_batch(
    audio: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    mode: str = "notebook",
    jobs: int | None = None,
    manager: TaskManager | None = None,
    dask_client: Any = None,
    home: str | os.PathLike[str] | None = None,
    notebook: str | os.PathLike[str] | None = None,
    parameters: dict[str, Any] | None = None,
    stages: list[str] | None = None,
    **params: Any,
):  # -> pandas.DataFrame
    """Process every file; write ``<out_dir>/<name>/`` per file and ``summary.csv``/``.json``.

    ``jobs``: files at once on this machine (default: number of cores). ``home``: the
    task store and artifact cache shared by the runs (default ``<out_dir>/home``), so
    a file processed before is not transcribed again. ``notebook``: another
    parameterized notebook (it gets ``audio_path``, ``output_dir``, ``home`` and the
    stage parameters given in ``params``); ``parameters`` override notebook parameters.
    ``params``: stage parameters by name (``chunk_size=200``), checked before any work.
    Returns the summary table; a failed file is a row with its error, and the others
    still run.
    """
    import pandas as pd

    from pipeline_kit.pipeline._pipeline import prepare_run, start_pipeline
    from pipeline_kit.pipeline._registry import RunParams

    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; allowed: {', '.join(MODES)}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    files = [f.resolve() for f in collect_audio(audio)]
    names = output_names(files)
    out = Path(out_dir).resolve()
    home_path = Path(home).resolve() if home else out / "home"
    checked = prepare_run(files[0], stages, out, home_path, "thread", None, RunParams(params),
                          hash_audio=False)  # every argument checked before any work
    stage_list = checked.stages if stages else None
    home_path.mkdir(parents=True, exist_ok=True)
    nb = Path(notebook).resolve() if notebook else NOTEBOOK
    if mode == "notebook" and not nb.is_file():
        raise ValueError(f"notebook not found: {nb}")
    if parameters and mode != "notebook":
        raise ValueError("parameters (-p) are for notebook mode; pipeline mode takes "
                         "stages, chunk_size, overlap, chunking_method, model")
    reserved = {"audio_path", "output_dir"} & set(parameters or {})
    if reserved:
        raise ValueError(f"batch sets {', '.join(sorted(reserved))} per file; do not pass it")
    own = manager is None
    mgr = manager or TaskManager(home_path / "tasks.sqlite3", max_workers=jobs or os.cpu_count(),
                                 max_processes=jobs or os.cpu_count(), dask_client=dask_client)
    executor: Literal["thread", "dask"] = "dask" if mgr.has_dask else "thread"
    # A notebook per worker process: papermill's file handler changes the working
    # directory around every read and write, which threads would race on.
    nb_executor: Literal["process", "dask"] = "dask" if mgr.has_dask else "process"
    # Kernels and in-process runs each take their share of the cores (see _threads).
    shared = contextlib.ExitStack()
    shared.enter_context(share_env(jobs or os.cpu_count() or 1))
    try:
        handles = []
        for f, name in zip(files, names, strict=True):
            run_dir = out / name
            run_dir.mkdir(parents=True, exist_ok=True)
            meta = {"batch": str(out), "audio": str(f), "name": name}
            if mode == "notebook":
                nb_params = {"audio_path": str(f), "output_dir": str(run_dir),
                             "home": str(home_path), "stages": stage_list,
                             **notebook_stage_params(nb, params), **(parameters or {})}
                h = mgr.submit(execute_notebook, str(nb), str(run_dir / nb.name), nb_params,
                               str(nb.parent), task_type=TaskType.PIPELINE, metadata=meta,
                               executor=nb_executor)
            else:
                h = start_pipeline(f, stage_list, manager=mgr, metadata=meta, out_dir=run_dir,
                                   home=home_path, executor=executor, **params)
            handles.append((f, name, run_dir, h))
        rows = []
        for f, name, run_dir, h in handles:
            row: dict[str, Any] = {"file": f.name, "name": name, "audio": str(f),
                                   "out_dir": str(run_dir),
                                   "task_id": h.task_id,
                                   "notebook": str(run_dir / nb.name) if mode == "notebook"
                                   else None}
            try:
                summary = h.result()
                row.update(summary if mode == "notebook" else run_summary(run_dir))
                row["status"] = TaskStatus.COMPLETED.value
                done = mgr.get_task_status(h.task_id)
                row["seconds"] = round(done.duration or 0.0, 3) if done else None
            except BaseException as e:  # noqa: BLE001 - one failed file is one row
                info = mgr.get_task_status(h.task_id)
                row["status"] = info.status.value if info else TaskStatus.FAILED.value
                row["error"] = f"{type(e).__name__}: {' '.join(str(e).split())[:500]}"
            rows.append(row)
    finally:
        shared.close()
        if own:
            mgr.close()
    df = counts_as_ints(pd.DataFrame(rows, columns=SUMMARY_COLUMNS))
    write_summary(out, df)
    return df


COUNT_COLUMNS = ("words", "chunks", "chapters", "questions")


def counts_as_ints(df):  # (DataFrame) -> DataFrame
    """Counts as integers, missing ones empty (a failed file's None made them 70.0)."""
    for c in COUNT_COLUMNS:
        if c in df.columns:
            df[c] = df[c].astype("Int64")
    return df


def merged_summary(previous, new):  # (DataFrame | None, DataFrame) -> DataFrame
    """``previous`` rows of files not in ``new``, then ``new``: one row per audio file."""
    import pandas as pd

    if previous is None or previous.empty:
        return new
    if "audio" not in previous.columns:
        raise ValueError("the existing summary has no 'audio' column; it is not a batch summary")
    kept = previous[~previous["audio"].isin(set(new["audio"]))]
    kept = kept.reindex(columns=[*SUMMARY_COLUMNS,
                                 *[c for c in kept.columns if c not in SUMMARY_COLUMNS]])
    return pd.concat([kept, new], ignore_index=True) if len(kept) else new


def write_summary(out: Path, df) -> None:  # (Path, DataFrame) -> None
    """Write ``summary.csv``/``.json``, merged with a summary already there (keyed by file),
    so re-using an output folder adds to its summary instead of replacing it."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    csv = out / "summary.csv"
    previous = pd.read_csv(csv) if csv.is_file() and csv.stat().st_size else None
    merged = counts_as_ints(merged_summary(previous, df))
    atomic_write_text(csv, merged.to_csv(index=False))
    atomic_write_text(out / "summary.json", merged.to_json(orient="records", indent=1))
