"""Compact terminal tables of tasks and run records (``pipeline-kit tasks`` / ``runs``).

Short ids (the shortest unique prefix, at least 6 characters, so each can be typed
back into ``status``/``cancel``), times to the second, durations as ``1m02s``, the
step of a running task or the first line of an error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline_kit.tasks._types import SHORT_ID_MIN, TaskInfo

NOTE_WIDTH = 60


def short_ids(ids: Iterable[str], minimum: int = SHORT_ID_MIN) -> int:
    """The shortest prefix length (>= ``minimum``) that keeps ``ids`` apart."""
    unique = set(ids)
    length = minimum
    while len({i[:length] for i in unique}) < len(unique):
        length += 1
    return length


def format_duration(seconds: float | None) -> str:
    """``4.2s``, ``1m02s``, ``2h05m``; '' for None."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def format_time(value: datetime | str | None) -> str:
    """A timestamp in local time to the second ('' for None)."""
    if value is None or value == "":
        return ""
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is not None:
        when = when.astimezone()
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _clip(text: str | None, width: int = NOTE_WIDTH) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def table(header: Sequence[str], rows: Sequence[Sequence[str]],
          right: Iterable[int] = ()) -> str:
    """Aligned columns under a header and a rule; columns in ``right`` right-aligned."""
    widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
    right = set(right)

    def line(r: Sequence[str]) -> str:
        cells = [str(v).rjust(w) if c in right else str(v).ljust(w)
                 for c, (v, w) in enumerate(zip(r, widths, strict=True))]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths),
                      *(line(r) for r in rows)])


def _limited(items: list[Any], limit: int | None) -> list[Any]:
    """The newest ``limit`` items (all for None or 0), oldest first."""
    return items[-limit:] if limit else items


def task_rows(infos: list[TaskInfo], limit: int | None) -> tuple[list[TaskInfo], str]:
    """The tasks to show and their table."""
    shown = _limited(infos, limit)
    n = short_ids([i.task_id for i in infos])
    header = ("id", "type", "status", "done", "try", "parent", "created", "time",
              "step / error")
    rows = []
    for i in shown:
        note = i.error_message if i.status.value in ("failed", "cancelled") else i.current_step
        rows.append((i.task_id[:n], str(i.task_type), i.status.value,
                     f"{i.progress_percentage:.0f}%", str(i.attempt),
                     (i.parent_id or "")[:n], format_time(i.created_at),
                     format_duration(i.duration), _clip(note)))
    return shown, table(header, rows, right=(3, 4, 7))


def task_json(infos: list[TaskInfo]) -> str:
    """The tasks as a JSON list (stored call arguments left out)."""
    docs = []
    for i in infos:
        d = i.to_dict()
        d.pop("call_args", None)
        docs.append(d)
    return json.dumps(docs, indent=1, default=str)


def _run_seconds(doc: dict[str, Any]) -> float | None:
    start, end = doc.get("started_at"), doc.get("finished_at")
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def run_rows(docs: list[dict[str, Any]], limit: int | None) -> tuple[list[dict[str, Any]], str]:
    """The run records to show and their table."""
    shown = _limited(docs, limit)
    n = short_ids([str(d.get("run_id")) for d in docs], 8)
    header = ("run", "started", "time", "outcome", "audio", "stages", "cached", "error")
    rows = []
    for d in shown:
        inputs = d.get("inputs") or [{}]
        audio = Path(inputs[0].get("path") or "").name
        stages, hits = d.get("stages") or [], d.get("cache_hits") or []
        rows.append((str(d.get("run_id"))[:n], format_time(d.get("started_at")),
                     format_duration(_run_seconds(d)), str(d.get("outcome") or ""), audio,
                     str(len(stages)), str(len(hits)), _clip(d.get("error"))))
    return shown, table(header, rows, right=(2, 5, 6))
