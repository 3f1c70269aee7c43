"""``pipeline-kit export RUN --format ...``: a run's results as ELAN, Praat, WhisperX's
formats, CSV or Parquet (see :func:`pipeline_kit.export`).

Nothing heavy is imported until the command runs.
"""

from __future__ import annotations

import argparse
import sys

FORMATS_HELP = "eaf, textgrid, json, srt, vtt, txt, tsv, all (WhisperX's five), csv, parquet"


def add_export_parser(sub: argparse._SubParsersAction) -> None:
    """Declare ``export`` on the CLI's subcommands."""
    p = sub.add_parser("export", help="write a run as ELAN .eaf, Praat .TextGrid, WhisperX "
                       "json/srt/vtt/txt/tsv, CSV or Parquet")
    p.add_argument("run", metavar="RUN", help="a run's output folder, or a run id (or a unique "
                   "prefix) in --home's store")
    p.add_argument("--format", "--output-format", "-f", dest="formats", action="append",
                   metavar="FORMAT", help=f"repeatable or comma-separated: {FORMATS_HELP} "
                   "(default all)")
    p.add_argument("--out", help="folder for the files (default: the run's folder/exports)")
    p.add_argument("--home", help="data folder whose store holds the run id")
    p.add_argument("--highlight-words", "--highlight_words", action="store_true",
                   help="SRT/VTT: underline each word as it is spoken (as WhisperX)")
    p.add_argument("--max-line-width", "--max_line_width", type=int, default=None,
                   help="SRT/VTT: characters per line before a break (as WhisperX)")
    p.add_argument("--max-line-count", "--max_line_count", type=int, default=None,
                   help="SRT/VTT: lines per cue (needs --max-line-width)")


def run_export(args: argparse.Namespace) -> int:
    """Write the files and list them; status 2 with one line when the request is wrong."""
    from pipeline_kit.pipeline._exports import export
    from pipeline_kit.pipeline._load_run import RunNotFoundError

    try:
        paths = export(args.run, ",".join(args.formats or ["all"]), args.out, home=args.home,
                       highlight_words=args.highlight_words, max_line_width=args.max_line_width,
                       max_line_count=args.max_line_count)
    except (ValueError, RunNotFoundError) as e:
        print(f"pipeline-kit: error: {e}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0
