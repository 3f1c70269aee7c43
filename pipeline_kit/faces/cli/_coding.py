"""``pipeline-kit code / tag / untag / quotes / export-qdpx``: qualitative coding of a
collection from a terminal (see :mod:`pipeline_kit.collection._codings`).

Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

COMMANDS = ("code", "tag", "untag", "quotes", "export-qdpx")


def seconds(text: str) -> float:
    """``75.5``, ``1:15.5`` or ``1:01:15`` as seconds (argparse type)."""
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (seconds or m:ss)") from None
    if len(parts) > 3 or any(p < 0 for p in parts):
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (seconds or m:ss)")
    total = 0.0
    for p in parts:
        total = total * 60 + p
    return total


def add_coding_parsers(sub: argparse._SubParsersAction) -> None:
    """Declare the coding commands on the CLI's subcommands."""
    home = {"metavar": "HOME", "help": "a home or batch output folder (its collection)"}
    c = sub.add_parser("code", help="list the codes of a collection, or create/change one")
    c.add_argument("home", **home)
    c.add_argument("name", nargs="?", help="the code to create or change")
    c.add_argument("--color", help="#RRGGBB")
    c.add_argument("--description")
    c.add_argument("--json", action="store_true", help="codes as JSON lines")
    t = sub.add_parser("tag", help="apply a code to a span of a recording (snapped to words)")
    t.add_argument("home", **home)
    t.add_argument("recording", help="recording name or id")
    t.add_argument("start", type=seconds, help="seconds or m:ss")
    t.add_argument("end", type=seconds, help="seconds or m:ss")
    t.add_argument("code")
    t.add_argument("--note")
    t.add_argument("--run", help="the run to take the words from (default: the newest)")
    u = sub.add_parser("untag", help="remove codings by id")
    u.add_argument("home", **home)
    u.add_argument("coding_ids", nargs="+", metavar="CODING_ID")
    q = sub.add_parser("quotes", help="the coded spans as quotes; or write them with clips")
    q.add_argument("home", **home)
    q.add_argument("--code", help="only this code")
    q.add_argument("--out", help="write the quotes here (CSV or Markdown by --format)")
    q.add_argument("--format", choices=("csv", "md"), default=None,
                   help="file format (default: from --out's suffix, else csv)")
    q.add_argument("--no-clips", action="store_true", help="no audio clips beside --out")
    q.add_argument("--json", action="store_true", help="quotes as JSON lines")
    x = sub.add_parser("export-qdpx", help="the collection's codes and codings as a REFI-QDA "
                       ".qdpx (NVivo, ATLAS.ti, MAXQDA, QualCoder)")
    x.add_argument("home", **home)
    x.add_argument("out", metavar="OUT.qdpx")
    x.add_argument("--no-audio", action="store_true",
                   help="link the audio by its path instead of copying it in")


def run_coding(args: argparse.Namespace) -> int:
    """Run one coding command; status 2 with one line when the request is wrong."""
    from pipeline_kit.collection._collection import Collection

    try:
        coll = Collection(args.home)
        return _COMMANDS[args.command](coll, args)
    except ValueError as e:
        print(f"pipeline-kit: error: {e}", file=sys.stderr)
        return 2


def _json_lines(df: Any) -> None:
    for row in json.loads(df.to_json(orient="records", force_ascii=False)):
        print(json.dumps(row, ensure_ascii=False))


def _code(coll: Any, args: argparse.Namespace) -> int:
    if args.name is not None:
        coll.code(args.name, args.color, args.description)
    elif args.color or args.description:
        raise ValueError("--color and --description need a code NAME")
    codes = coll.codes()
    if args.json:
        _json_lines(codes)
    elif codes.empty:
        print("no codes")
    else:
        for c in codes.itertuples():
            print(f"{c.color}  {c.codings:>4}  {c.name}"
                  + (f"  - {c.description}" if isinstance(c.description, str) else ""))
    return 0


def _tag(coll: Any, args: argparse.Namespace) -> int:
    span: dict[str, Any] = {"recording": args.recording, "start": args.start, "end": args.end,
                            "run_id": args.run}
    coding = coll.tag(span, args.code, args.note)
    row = coll.codings().set_index("coding_id").loc[coding]
    print(f"{coding}  {args.code}  {row['recording']}  {row['start_time']:.2f}-"
          f"{row['end_time']:.2f}s  {row['text']}")
    return 0


def _untag(coll: Any, args: argparse.Namespace) -> int:
    print(f"removed {coll.untag(list(args.coding_ids))} coding(s)")
    return 0


def _quotes(coll: Any, args: argparse.Namespace) -> int:
    if args.out is not None:
        fmt = args.format or ("md" if args.out.endswith(".md") else "csv")
        print(coll.export_quotes(args.out, format=fmt, clips=not args.no_clips, code=args.code))
        return 0
    quotes = coll.quotes(args.code)
    if args.json:
        _json_lines(quotes)
    elif quotes.empty:
        print("no quotes")
    for q in ([] if args.json else quotes.itertuples()):
        who = f"{q.speaker}, " if isinstance(q.speaker, str) else ""
        print(f"[{q.code}] {q.text}\n    - {who}{q.recording}, {q.time}")
    return 0


def _export_qdpx(coll: Any, args: argparse.Namespace) -> int:
    print(coll.export_qdpx(args.out, audio=not args.no_audio))
    return 0


_COMMANDS = {"code": _code, "tag": _tag, "untag": _untag, "quotes": _quotes,
             "export-qdpx": _export_qdpx}
