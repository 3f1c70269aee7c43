"""``pipeline-kit``: run the pipeline and inspect its tasks and runs from a terminal.

Exit status 0 on success; otherwise non-zero with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline_kit.faces.cli._speakers import add_speakers_option, stages_with_speakers


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """One-line errors; options added by ``defer`` only when this parser is used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferred: list[Callable[[argparse.ArgumentParser], None]] = []

    def error(self, message: str) -> Any:  # one line instead of usage + message
        raise _UsageError(message)

    def defer(self, add: Callable[[argparse.ArgumentParser], None]) -> None:
        """Call ``add(self)`` when this parser parses or prints help, not now: the stage
        options of ``run`` and ``batch`` load every stage module (NumPy, networkx), which
        ``pipeline-kit --help`` or ``tasks`` must not wait for."""
        self._deferred.append(add)

    def _add_deferred(self) -> None:
        while self._deferred:
            self._deferred.pop(0)(self)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._add_deferred()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._add_deferred()
        return super().format_help()

    def format_usage(self) -> str:
        self._add_deferred()
        return super().format_usage()


HOME_HELP = ("data folder: task store, artifact cache, run folders (default "
             "$PIPELINE_KIT_HOME, else ~/.local/share/pipeline_kit; `run` prints it)")
RUN_EXAMPLES = """examples:
  pipeline-kit run talk.wav                          # results in <home>/runs/<run id>
  pipeline-kit run talk.wav --out talk-results       # results in ./talk-results
  pipeline-kit run talk.wav --stages chapters        # only what chapters need
  pipeline-kit run talk.wav --speakers 2             # two voices (default: estimated)
  pipeline-kit run talk.wav --chunk-size 100 --overlap 10 --method tfidf
  pipeline-kit show RUN_ID                           # afterwards: one screen about it
"""


def _pipeline_options(p: argparse.ArgumentParser) -> None:
    """The pipeline's parameters, shared by ``run`` and ``batch`` (added when one of them
    is parsed, see ``_Parser.defer``)."""
    if isinstance(p, _Parser):
        p.defer(_add_pipeline_options)
    else:
        _add_pipeline_options(p)


def _add_pipeline_options(p: argparse.ArgumentParser) -> None:
    """One flag per declared stage parameter (see :mod:`pipeline_kit.pipeline._registry`),
    defaults left to the registry."""
    from pipeline_kit.pipeline._registry import REGISTRY

    p.add_argument("--stages", nargs="+",
                   help=f"stages to run (needed ones are added): {', '.join(REGISTRY.names())}")
    for spec in REGISTRY.specs():
        if not spec.params:
            continue
        group = p.add_argument_group(f"{spec.name} parameters")
        for param in spec.params:
            group.add_argument(param.flag, *param.flags, dest=param.name,
                               type=_flag_type(param), default=argparse.SUPPRESS,
                               metavar=param.kind.__name__.upper(),
                               help=f"{param.help}; {param.describe()} "
                                    f"(default: {param.default})")
    add_speakers_option(p)
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def _flag_type(param: Any) -> Any:
    """argparse type of a parameter: its kind, and "None" for an optional one."""
    def convert(text: str) -> Any:
        if param.optional and text == "None":
            return None
        if param.kind is bool:
            return text.lower() in ("1", "true", "yes")
        return param.kind(text)

    convert.__name__ = param.kind.__name__  # argparse names it in "invalid int value"
    return convert


def _stage_params(args: argparse.Namespace) -> dict[str, Any]:
    """The stage parameters given on the command line (the others keep their defaults)."""
    from pipeline_kit.pipeline._registry import REGISTRY

    return {p.name: getattr(args, p.name) for p in REGISTRY.params() if hasattr(args, p.name)}


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pipeline-kit", description=__doc__)
    p.add_argument("--version", action="version", version=f"pipeline-kit {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--home", help=HOME_HELP)
        sp.add_argument("--store", help="task store: a SQLite file or a postgresql:// URL "
                        "(default $PIPELINE_KIT_STORE, else <home>/tasks.sqlite3)")
        return sp

    r = add("run", "run the pipeline on an audio file")
    r.description, r.epilog = "Run the pipeline on an audio file.", RUN_EXAMPLES
    r.formatter_class = argparse.RawDescriptionHelpFormatter
    r.add_argument("audio")
    r.add_argument("--out", help="folder for the results (default: <home>/runs/<run id>)")
    _pipeline_options(r)
    b = add("batch", "run a notebook (default 01) or the pipeline on many audio files")
    b.add_argument("paths", nargs="*", metavar="[NOTEBOOK] AUDIO",
                   help="an .ipynb to run (default notebooks/01_run_pipeline.ipynb), then "
                        "audio files or folders of audio files")
    b.add_argument("--input", action="append", default=[], metavar="GLOB",
                   help="audio files matching this pattern (repeatable)")
    b.add_argument("--out", required=True, help="folder: one subfolder per file + summary.csv")
    b.add_argument("--mode", default="notebook", help="notebook (default) or pipeline")
    b.add_argument("--jobs", "--parallel", type=int, default=None, dest="jobs",
                   help="files at once (default: cores)")
    b.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"), help="notebook parameter, as papermill's -p")
    b.add_argument("-f", "--parameters-file", action="append", default=[], metavar="YAML",
                   help="notebook parameters from a YAML file, as papermill's -f "
                        "(-p values win)")
    b.add_argument("--dask", default=None, metavar="ADDRESS",
                   help="run on a Dask cluster: scheduler address, or 'local'")
    _pipeline_options(b)
    id_help = "a run id or a task id, or a unique prefix (6+ characters) of either"
    for name, help_ in (("status", "show one task"), ("retry", "run a failed task again")):
        add(name, help_).add_argument("task_id", help=id_help)
    sh = add("show", "one screen about a run: audio, stages and times, counts, speakers, "
                     "chapters, result files")
    sh.add_argument("task_id", metavar="ID", help=id_help)
    sh.add_argument("--json", action="store_true", help="the run record as JSON")
    c = add("cancel", "cancel a task (of any process sharing the store)")
    c.add_argument("task_id", help=id_help)
    c.add_argument("--wait", type=float, default=15.0,
                   help="seconds to wait for the owning process to cancel it (default 15)")
    _listing_options(add("tasks", "list tasks"), "status", ("pending", "running", "completed",
                                                             "failed", "cancelled"))
    _listing_options(add("runs", "list pipeline runs"), "outcome",
                     ("running", "completed", "failed", "cancelled", "interrupted"))
    _lab_options(sub.add_parser("lab", help="start JupyterLab on the notebooks (loopback, "
                                "with a token)"))
    _serve_options(add("serve", "serve the HTTP API (needs the optional extra 'api')"))
    ix = sub.add_parser("index", help="index every finished run of homes or batch outputs "
                        "into their collection (incremental)")
    ix.add_argument("homes", nargs="+", metavar="HOME", help="a home or batch output folder")
    ix.add_argument("--rebuild", action="store_true", help="drop the index and rebuild it")
    se = sub.add_parser("search", help="search the recordings of a home or batch output")
    se.add_argument("home", metavar="HOME", nargs="?",
                    help="a home or batch output folder (left out with --server)")
    se.add_argument("query")
    se.add_argument("-k", type=int, default=10, help="hits to show (default 10)")
    se.add_argument("--mode", default="hybrid", choices=("hybrid", "semantic", "keyword"))
    se.add_argument("--json", action="store_true", help="hits as JSON lines")
    se.add_argument("--server", metavar="URL",
                    help="ask a running 'pipeline-kit serve' at URL (it searches the home "
                         "it serves, with its model already loaded)")
    se.add_argument("--token-file", metavar="PATH", help="with --server: the bearer token, "
                    "read from this file (default: $PIPELINE_KIT_API_TOKEN)")
    _uploads_options(sub.add_parser("uploads", help="list unfinished uploads; remove "
                                    "abandoned ones and crash leftovers"))
    from pipeline_kit.faces.cli._coding import add_coding_parsers
    from pipeline_kit.faces.cli._export import add_export_parser

    add_export_parser(sub)
    add_coding_parsers(sub)
    return p


def _version() -> str:
    """The installed distribution's version (the package's own when not installed)."""
    import importlib.metadata

    try:
        return importlib.metadata.version("pipeline_kit")
    except importlib.metadata.PackageNotFoundError:
        from pipeline_kit import __version__

        return __version__


def _listing_options(sp: argparse.ArgumentParser, what: str, values: tuple[str, ...]) -> None:
    """Filters and output format of ``tasks`` and ``runs``."""
    sp.add_argument("--status", action="append", default=[], metavar="STATUS",
                    help=f"only this {what} (repeatable, or comma-separated): "
                         f"{', '.join(values)}")
    if sp.prog.endswith("tasks"):
        sp.add_argument("--type", action="append", default=[], metavar="TYPE",
                        help="only this task type (repeatable, or comma-separated)")
    sp.add_argument("--limit", type=int, default=50, metavar="N",
                    help="the newest N (default 50; 0 for all)")
    sp.add_argument("--json", action="store_true", help="JSON records instead of a table")
    sp.set_defaults(choices=values)


def _lab_options(lab: argparse.ArgumentParser) -> None:
    from pipeline_kit.pipeline._batch import NOTEBOOK

    lab.add_argument("--dir", default=str(NOTEBOOK.parent),
                     help=f"folder to open (default {NOTEBOOK.parent})")
    lab.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")


def _serve_options(sv: argparse.ArgumentParser) -> None:
    """Options of ``serve``; the token never has to appear on the command line."""
    sv.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--token-file", default=None, metavar="PATH",
                    help="require 'Authorization: Bearer TOKEN', TOKEN read from this file "
                         "(default: $PIPELINE_KIT_API_TOKEN)")
    sv.add_argument("--token", default=None,
                    help="the token itself (discouraged: other users see it in 'ps')")
    sv.add_argument("--max-chunk-mb", type=float, default=16, help="largest chunk upload")
    sv.add_argument("--max-upload-mb", type=float, default=4096, help="largest whole upload")
    sv.add_argument("--log-level", default="info")


def _uploads_options(up: argparse.ArgumentParser) -> None:
    up.add_argument("--home", help=HOME_HELP)
    up.add_argument("--prune", type=float, default=None, metavar="DAYS",
                    help="delete uploads without a new chunk for DAYS days (0: all idle ones)")


def _store(args: argparse.Namespace) -> Any:
    """--store, else <--home>/tasks.sqlite3, else None ($PIPELINE_KIT_STORE or the default)."""
    from pipeline_kit.tasks._store import STORE_FILENAME

    if args.store:
        return args.store
    return Path(args.home) / STORE_FILENAME if args.home else None


def _existing_store(args: argparse.Namespace) -> Any:
    """The store a reading command opens; a usage error when its file does not exist
    (``--home /typo`` would otherwise create an empty store and show nothing)."""
    from pipeline_kit.pipeline._pipeline import read_target, store_exists

    target = read_target(args.home, args.store or None)
    if not store_exists(target):
        where = f"--home {args.home}" if args.home else str(Path(target).parent)
        raise _UsageError(f"no task store at {target}: nothing has run with {where} "
                          "(check --home, --store or $PIPELINE_KIT_HOME)")
    return target


def _filter_values(items: list[str], allowed: tuple[str, ...] | None, flag: str) -> list[str]:
    """Values of a repeatable, comma-separated filter; unknown ones are a usage error."""
    values = [v.strip() for item in items for v in item.split(",") if v.strip()]
    bad = [v for v in values if allowed is not None and v not in allowed]
    if bad:
        raise _UsageError(f"{flag} {', '.join(bad)}: allowed: {', '.join(allowed or ())}")
    return values


def _tasks(args: argparse.Namespace) -> int:
    """``tasks``: a compact table (or JSON) of the store's attempts, filtered."""
    from pipeline_kit.faces.cli._listing import task_json, task_rows
    from pipeline_kit.faces.cli._readonly import read_tasks, store_writable

    if args.limit < 0:
        raise _UsageError(f"--limit must be >= 0, got {args.limit}")
    statuses = _filter_values(args.status, args.choices, "--status")
    types = _filter_values(args.type, None, "--type")
    target = _existing_store(args)
    if not store_writable(target):  # a read-only home: list it as it is
        infos = read_tasks(target, statuses or None, types or None)
    else:
        mgr = _manager(args)  # opening it marks tasks of dead processes interrupted first
        try:
            infos = mgr.store.list(status=statuses or None, task_type=types or None)
        finally:
            mgr.close()
    shown, text = task_rows(infos, args.limit)
    if args.json:
        print(task_json(shown))
    elif not infos:
        print("no tasks" + (" match" if statuses or types else ""))
    else:
        print(text)
        if len(shown) < len(infos):
            print(f"(the newest {len(shown)} of {len(infos)}; --limit 0 shows all)")
    return 0


def _runs(args: argparse.Namespace) -> int:
    """``runs``: a compact table (or JSON) of run records, filtered by outcome."""
    from pipeline_kit.faces.cli._listing import run_rows
    from pipeline_kit.pipeline._pipeline import run_records

    if args.limit < 0:
        raise _UsageError(f"--limit must be >= 0, got {args.limit}")
    outcomes = _filter_values(args.status, args.choices, "--status")
    docs = run_records(store=_existing_store(args))
    if outcomes:
        docs = [d for d in docs if d.get("outcome") in outcomes]
    shown, text = run_rows(docs, args.limit)
    if args.json:
        print(json.dumps(shown, indent=1, default=str))
    elif not docs:
        print("no runs" + (" match" if outcomes else ""))
    else:
        print(text)
        if len(shown) < len(docs):
            print(f"(the newest {len(shown)} of {len(docs)}; --limit 0 shows all)")
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lab_command(folder: Path, port: int, open_browser: bool) -> list[str]:
    """The JupyterLab server command: this interpreter's, on loopback, in ``folder``."""
    return [sys.executable, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={folder}",
            f"--ServerApp.open_browser={open_browser}",
            # this machine may be offline: no news or update checks
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *(["--ServerApp.allow_root=True"] if os.geteuid() == 0 else [])]


def _lab(args: argparse.Namespace) -> int:
    """``lab``: replace this process by JupyterLab on the notebooks, on loopback.

    The token comes from ``$JUPYTER_TOKEN`` (a new random one when unset) and reaches
    the server through its environment, not its command line, which ``ps`` shows.
    """
    import importlib.util
    import secrets

    folder = Path(args.dir).expanduser().resolve()
    if not folder.is_dir():
        raise _UsageError(f"--dir {folder}: no such folder")
    if importlib.util.find_spec("jupyterlab") is None:
        raise _UsageError(f"JupyterLab is not installed for {sys.executable}")
    port = args.port or _free_port()
    if not 0 < port < 65536:
        raise _UsageError(f"--port must be from 1 to 65535, got {port}")
    token = os.environ.get("JUPYTER_TOKEN") or secrets.token_urlsafe(24)
    print(f"JupyterLab on {folder}\n  http://127.0.0.1:{port}/lab?token={token}\n"
          "(only this machine can connect; Ctrl-C stops it)", flush=True)
    sys.stderr.flush()
    # The venv's bin first, so terminals and "!python" in the notebooks are this venv's.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "JUPYTER_TOKEN": token, "PATH": path}
    cmd = lab_command(folder, port, not args.no_browser)
    os.execve(cmd[0], cmd, env)
    return 0  # not reached: the process is JupyterLab now


def _manager(args: argparse.Namespace, **kwargs: Any):
    from pipeline_kit.tasks import TaskManager

    return TaskManager(store=_store(args), **kwargs)


def _run(args: argparse.Namespace) -> int:
    from pipeline_kit.notebook._display import show
    from pipeline_kit.pipeline._pipeline import prepare_run, run_pipeline

    stages = stages_with_speakers(args)
    # every argument checked before a store is opened or any work starts
    prepare_run(args.audio, stages, args.out, args.home, "thread", None, _stage_params(args),
                hash_audio=False)
    mgr = _manager(args)
    try:
        if not args.quiet:
            show(mgr, mode="text", stream=sys.stderr)
        result = run_pipeline(args.audio, stages, mgr, out_dir=args.out, home=args.home,
                              **_stage_params(args))
    finally:
        mgr.close()
    rec = result.run_record
    print(f"run {result.run_id} {rec['outcome']}: results in {result.out_dir} "
          f"(cache hits: {', '.join(rec['cache_hits']) or 'none'})")
    print(f"home {rec.get('home') or args.home}: `pipeline-kit show {result.run_id[:8]}` "
          "sums it up")
    return 0


def _batch(args: argparse.Namespace) -> int:
    from pipeline_kit.notebook._display import show
    from pipeline_kit.pipeline._batch import run_batch
    from pipeline_kit.tasks import TaskManager

    stages = stages_with_speakers(args)
    notebooks = [p for p in args.paths if p.endswith(".ipynb")]
    if len(notebooks) > 1:
        raise _UsageError(f"one notebook at a time, got {', '.join(notebooks)}")
    audio = [p for p in args.paths if not p.endswith(".ipynb")]
    for pattern in args.input:
        matches = sorted(glob.glob(pattern, recursive=True))
        if not matches:
            raise _UsageError(f"--input {pattern!r} matches no file")
        audio += matches
    if not audio:
        raise _UsageError("no audio given (paths or --input GLOB)")
    parameters = {**_parameter_files(args.parameters_file),
                  **{name: _parse_value(value) for name, value in args.parameter}}
    out = Path(args.out).resolve()  # now: nothing may change the working directory later
    home = Path(args.home).resolve() if args.home else out / "home"
    home.mkdir(parents=True, exist_ok=True)
    mgr = TaskManager(args.store or home / "tasks.sqlite3", max_workers=args.jobs,
                      max_processes=args.jobs, dask_client=args.dask)
    try:
        if not args.quiet:
            show(mgr, mode="text", stream=sys.stderr)
        df = run_batch(audio, out, mode=args.mode, jobs=args.jobs, manager=mgr,
                       home=home, notebook=notebooks[0] if notebooks else None,
                       parameters=parameters, stages=stages, **_stage_params(args))
    finally:
        mgr.close()
    print(_batch_table(df))
    print(f"summary: {out / 'summary.csv'} (results in {out}/<folder>)")
    failed = int((df["status"] != "completed").sum())
    if failed:
        print(f"pipeline-kit: {failed} of {len(df)} files failed", file=sys.stderr)
    return 1 if failed else 0


def _index(args: argparse.Namespace) -> int:
    from pipeline_kit.collection._collection import Collection

    for home in args.homes:
        coll = Collection(home, update=False)
        added = coll.index(rebuild=args.rebuild)
        n = len(coll.runs())
        print(f"{coll.index_dir}: {added} run(s) added, {n} indexed")
    return 0


def _search(args: argparse.Namespace) -> int:
    """``search``: here (HOME) or by a running server (``--server URL``); see ``_search.py``."""
    from pipeline_kit.faces.cli import _search as search

    if args.k < 1:
        raise _UsageError(f"-k must be at least 1, got {args.k}")
    if args.server is None and args.home is None:
        raise _UsageError("search needs HOME (or --server URL)")
    if args.server is not None and args.home is not None:
        raise _UsageError(f"--server searches the home the server serves: leave out HOME "
                          f"({args.home!r})")
    if args.server is None and args.token_file is not None:
        raise _UsageError("--token-file goes with --server")
    if args.server is None:
        hits = search.local_hits(args.home, args.query, args.k, args.mode)
    else:
        try:
            search.check_server_url(args.server)
            token = search.server_token(args.token_file)
        except ValueError as e:
            raise _UsageError(str(e)) from None
        hits = search.server_hits(args.server, args.query, args.k, args.mode, token)
    search.print_hits(hits, args.json)
    return 0


def _batch_table(df: Any) -> str:
    """This batch's rows: file, outcome, counts, its folder, the error cut to one line."""
    from pipeline_kit.faces.cli._listing import format_duration, table

    def cell(v: Any) -> str:
        if v is None or v != v:  # None or NaN
            return ""
        return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)

    header = ("file", "status", "time", "words", "chunks", "chapters", "questions", "folder",
              "error")
    rows = [(r["file"], r["status"], format_duration(r["seconds"]) if cell(r["seconds"]) else "",
             cell(r["words"]), cell(r["chunks"]), cell(r["chapters"]), cell(r["questions"]),
             r["name"], cell(r["error"])[:90])
            for r in df.to_dict("records")]
    return table(header, rows, right=(2, 3, 4, 5, 6))


def _parameter_files(paths: list[str]) -> dict[str, Any]:
    """Parameters of ``-f`` YAML files, later files winning; each must hold a mapping."""
    import yaml

    merged: dict[str, Any] = {}
    for name in paths:
        try:
            data = yaml.safe_load(Path(name).read_text(encoding="utf-8"))
        except OSError as e:
            raise _UsageError(f"-f {name}: cannot read it ({e.strerror})") from None
        except yaml.YAMLError as e:
            raise _UsageError(f"-f {name}: not valid YAML "
                              f"({' '.join(str(e).split())})") from None
        if data is None:
            continue
        if not isinstance(data, dict):
            raise _UsageError(f"-f {name}: needs NAME: VALUE lines (a mapping), got "
                              f"{type(data).__name__}")
        merged.update(data)
    return merged


def _parse_value(text: str) -> Any:
    """A -p value as papermill reads it: int, float, True/False/None, JSON, else the text."""
    literal = {"True": True, "False": False, "None": None}
    if text in literal:
        return literal[text]
    try:
        return json.loads(text)
    except ValueError:
        return text


def _serve(args: argparse.Namespace) -> int:
    from pipeline_kit.faces.api import ApiNotInstalledError, require_api

    try:
        require_api()
    except ApiNotInstalledError as e:
        raise _UsageError(str(e)) from None
    from pipeline_kit.faces.api import ApiLimits, serve

    token = _serve_token(args)
    mb = 1024 * 1024
    limits = ApiLimits(max_chunk_bytes=int(args.max_chunk_mb * mb),
                       max_upload_bytes=int(args.max_upload_mb * mb))
    serve(args.host, args.port, args.home, token, limits, args.log_level, _store(args))
    return 0


def _serve_token(args: argparse.Namespace) -> str | None:
    """--token-file's content, else --token (warning: ``ps`` shows it), else None (the env var)."""
    if args.token is not None and args.token_file is not None:
        raise _UsageError("give --token-file or --token, not both")
    if args.token is not None:
        print("pipeline-kit: warning: --token shows the token to every user of this machine "
              "(ps, /proc); use $PIPELINE_KIT_API_TOKEN or --token-file PATH", file=sys.stderr)
        return args.token
    if args.token_file is None:
        return None
    path = Path(args.token_file)
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise _UsageError(f"--token-file {path}: cannot read it ({e.__class__.__name__}: "
                          f"{e.strerror if isinstance(e, OSError) else e})") from None
    if not token:
        raise _UsageError(f"--token-file {path} is empty")
    return token


def _uploads(args: argparse.Namespace) -> int:
    """List unfinished uploads; with --prune DAYS delete the idle ones first."""
    from pipeline_kit.ingest._upload import AudioLibrary, default_root

    if args.prune is not None and not args.prune >= 0:
        raise _UsageError(f"--prune DAYS must be >= 0, got {args.prune:g}")
    library = AudioLibrary(Path(args.home) / "audio" if args.home else default_root())
    removed = library.recover()
    if removed:
        print(f"removed {len(removed)} temporary file(s) of dead processes", file=sys.stderr)
    if args.prune is not None:
        pruned = library.prune_uploads(args.prune)
        print(f"pruned {len(pruned)} upload(s) idle for more than {args.prune:g} days"
              + (f": {', '.join(pruned)}" if pruned else ""))
    uploads = library.list_uploads()
    if not uploads:
        print("no uploads")
        return 0
    print(f"{'upload_id':<34} {'chunks':>11} {'bytes':>12}  {'last_activity':<25} filename")
    for u in uploads:
        chunks = f"{u.received_chunks}/{u.expected_chunks if u.expected_chunks else '?'}"
        print(f"{u.upload_id:<34} {chunks:>11} {u.received_bytes:>12}  {u.last_activity:<25} "
              f"{u.filename or '(no manifest)'}")
    return 0


def _resolve(mgr: Any, text: str) -> Any:
    """The task and run an id (run or task, or a unique prefix) names; a usage error if
    it names none or several."""
    from pipeline_kit.faces.cli._ids import IdError, resolve

    try:
        return resolve(mgr, text)
    except IdError as e:
        raise _UsageError(str(e)) from None


def _full_id(mgr: Any, task_id: str) -> str:
    """The full task id of a run or task id or unique prefix (a run: its pipeline task)."""
    found = _resolve(mgr, task_id)
    if found.task is None:
        raise _UsageError(f"run {found.run['run_id']} has no task in this store")
    return str(found.task.task_id)


def _show(mgr: Any, args: argparse.Namespace) -> int:
    """``show ID``: one screen about the run an id names (``--json``: its record)."""
    from pipeline_kit.faces.cli._show import show_json, summary
    from pipeline_kit.pipeline._load_run import result_of_record

    found = _resolve(mgr, args.task_id)
    if found.run is None:
        raise _UsageError(f"task {found.task.task_id} is not part of a pipeline run; "
                          f"`status {found.task.task_id[:8]}` shows it")
    if args.json:
        print(show_json(found.run))
    else:
        print(summary(result_of_record(found.run), found.run.get("task_id")))
    return 0


def _cancel(mgr: Any, task_id: str, wait: float) -> int:
    """Cancel here, or ask the owning process through the store and wait for it."""
    import time

    outcome = mgr.request_cancel(task_id)
    if outcome == "unknown":
        raise _UsageError(f"unknown task id {task_id!r}")
    if outcome == "finished":
        raise _UsageError(f"task {task_id} already finished "
                          f"({mgr.get_task_status(task_id).status.value}); nothing cancelled")
    if outcome == "requested":
        # Another process owns the task; it acts on the request at its next heartbeat.
        end = time.monotonic() + wait
        while time.monotonic() < end:
            info = mgr.get_task_status(task_id)
            if info is not None and info.is_terminal:
                print(f"{task_id}: {info.status.value}")
                return 0 if info.status.value == "cancelled" else 1
            time.sleep(0.2)
        print(f"cancel of {task_id} requested; its process has not acted on it within "
              f"{wait:g} s (it does at its next heartbeat, if it is alive)")
        return 0
    print(f"cancelled {task_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; exit status 0, 1 (failure), 2 (usage) or 130 (interrupted)."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here when the output was small
        return code
    except BrokenPipeError:
        return _stdout_closed()


def _stdout_closed() -> int:
    """The reader of stdout went away (``pipeline-kit tasks | head``): stop quietly, status 0.

    stdout is pointed at /dev/null so Python's final flush cannot complain.
    Another broken pipe (stdout still has its reader) is a failure, reported as one.
    """
    if not _stdout_reader_gone():
        print("pipeline-kit: error: BrokenPipeError: a pipe closed", file=sys.stderr)
        return 1
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


def _stdout_reader_gone() -> bool:
    """True when stdout is a pipe without a reader (poll says POLLERR), or we cannot tell."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows), or no real stdout
        return True


def _main(argv: list[str] | None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "run":
            return _run(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "batch":
            return _batch(args)
        if args.command == "uploads":
            return _uploads(args)
        if args.command == "index":
            return _index(args)
        if args.command == "search":
            return _search(args)
        if args.command == "runs":
            return _runs(args)
        if args.command == "tasks":
            return _tasks(args)
        if args.command == "lab":
            return _lab(args)
        if args.command == "export":
            from pipeline_kit.faces.cli._export import run_export

            return run_export(args)
        if args.command in ("code", "tag", "untag", "quotes", "export-qdpx"):
            from pipeline_kit.faces.cli._coding import run_coding

            return run_coding(args)
        target = _existing_store(args)
        from pipeline_kit.faces.cli._readonly import read_status, store_writable

        if not store_writable(target):
            if args.command != "status":
                raise _UsageError(f"task store {target} is read-only for this process: "
                                  f"cannot {args.command}")
            shown = read_status(target, args.task_id)
            if isinstance(shown, str):
                raise _UsageError(shown)
            print(json.dumps(shown, indent=1, default=str))
            return 0
        mgr = _manager(args)
        try:
            if args.command == "show":
                return _show(mgr, args)
            if getattr(args, "task_id", None) is not None:
                args.task_id = _full_id(mgr, args.task_id)
            if args.command == "status":
                info = mgr.get_task_status(args.task_id)
                if info is None:
                    raise _UsageError(f"unknown task id {args.task_id!r}")
                d = info.to_dict()
                d.pop("call_args", None)
                print(json.dumps(d, indent=1, default=str))
                return 0
            if args.command == "cancel":
                return _cancel(mgr, args.task_id, args.wait)
            # retry
            if mgr.get_task_status(args.task_id) is None:
                raise _UsageError(f"unknown task id {args.task_id!r}")
            handle = mgr.retry(args.task_id)
            handle.result()
            print(f"retried {args.task_id} as {handle.task_id}: {handle.status}")
            return 0
        finally:
            mgr.close()
    except _UsageError as e:
        print(f"pipeline-kit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pipeline-kit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # main() tells a closed stdout from other pipes
    except Exception as e:  # noqa: BLE001 - a CLI reports every failure in one line
        msg = " ".join(str(e).split()) or type(e).__name__
        print(f"pipeline-kit: error: {type(e).__name__}: {msg}", file=sys.stderr)
        return 1


