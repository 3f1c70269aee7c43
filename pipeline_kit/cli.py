"""``pipeline-kit``: run the pipeline and inspect its tasks and runs from a terminal.

Exit status 0 on success; otherwise non-zero with a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pipeline_kit.pipeline import CHUNKING_METHODS


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line instead of usage + message
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pipeline-kit", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_)
        sp.add_argument("--home", help="data folder (default $PIPELINE_KIT_HOME or ./data)")
        return sp

    r = add("run", "run the pipeline on an audio file")
    r.add_argument("audio")
    r.add_argument("--out", required=True, help="folder for the results")
    r.add_argument("--stages", nargs="+", help="stages to run (needed ones are added)")
    r.add_argument("--chunk-size", type=int, default=150)
    r.add_argument("--overlap", type=int, default=25)
    r.add_argument("--method", default="embedding", help=f"one of {', '.join(CHUNKING_METHODS)}")
    r.add_argument("--model", default=None, help="Whisper model (default: bundled tiny.en)")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    for name, help_ in (("status", "show one task"), ("retry", "run a failed task again"),
                        ("cancel", "cancel a task of this process")):
        add(name, help_).add_argument("task_id")
    add("tasks", "list tasks")
    add("runs", "list pipeline runs")
    return p


def _manager(home: str | None):
    from pipeline_kit.tasks import TaskManager
    from pipeline_kit.tasks.store import STORE_FILENAME, pipeline_home

    return TaskManager(store=(Path(home) if home else pipeline_home()) / STORE_FILENAME)


def _run(args: argparse.Namespace) -> int:
    from pipeline_kit.display import show
    from pipeline_kit.pipeline import resolve_stages, run_pipeline

    stages = None
    if args.stages:
        stages = [s for item in args.stages for s in item.split(",")]
        resolve_stages(stages)  # fail before creating a manager
    mgr = _manager(args.home)
    try:
        if not args.quiet:
            show(mgr, mode="text", stream=sys.stderr)
        result = run_pipeline(args.audio, stages, mgr, out_dir=args.out, home=args.home,
                              chunk_size=args.chunk_size, overlap=args.overlap,
                              chunking_method=args.method, model=args.model)
    finally:
        mgr.close()
    rec = result.run_record
    print(f"run {result.run_id} {rec['outcome']}: results in {result.out_dir} "
          f"(cache hits: {', '.join(rec['cache_hits']) or 'none'})")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "run":
            return _run(args)
        if args.command == "runs":
            from pipeline_kit.pipeline import runs

            df = runs(args.home)
            print(df[["run_id", "started_at", "outcome", "stages", "cache_hits"]].to_string()
                  if len(df) else "no runs")
            return 0
        mgr = _manager(args.home)
        try:
            if args.command == "tasks":
                df = mgr.tasks()
                cols = ["task_id", "task_type", "status", "progress_percentage", "parent_id",
                        "created_at"]
                print(df[cols].to_string() if len(df) else "no tasks")
                return 0
            if args.command == "status":
                info = mgr.get_task_status(args.task_id)
                if info is None:
                    raise _UsageError(f"unknown task id {args.task_id!r}")
                d = info.to_dict()
                d.pop("call_args", None)
                print(json.dumps(d, indent=1, default=str))
                return 0
            if args.command == "cancel":
                if mgr.get_task_status(args.task_id) is None:
                    raise _UsageError(f"unknown task id {args.task_id!r}")
                if not mgr.cancel(args.task_id):
                    raise _UsageError(f"task {args.task_id} is finished or not run by this "
                                      "process; nothing cancelled")
                print(f"cancelled {args.task_id}")
                return 0
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
    except Exception as e:  # noqa: BLE001 - a CLI reports every failure in one line
        msg = " ".join(str(e).split()) or type(e).__name__
        print(f"pipeline-kit: error: {type(e).__name__}: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
