"""``pipeline-kit show RUN``: one screen about a run, instead of its raw record.

The audio and its duration, each stage with its time (or "cached"), what the run
found (words, chunks, chapters, concepts, questions, speakers), the chapters with
their m:ss starts and where the results are. ``--json`` prints the record itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline_kit.base._reprs import clip, clock, plural, talk_times
from pipeline_kit.faces.cli._listing import format_duration

MAX_CHAPTERS = 12
LABEL = 10  # width of the label column


def _seconds(value: float | None) -> str:
    """A stage's time as the tables show it (``4.2s``, ``1m02s``), '?' when unknown."""
    return format_duration(value) or "?"


def _line(label: str, text: str) -> str:
    return f"{label.ljust(LABEL)}{text}"


def _stages(record: dict[str, Any]) -> str:
    hits = set(record.get("cache_hits") or ())
    seconds = record.get("stage_seconds") or {}
    parts = [f"{s} {'cached' if s in hits else _seconds(seconds.get(s))}"
             for s in record.get("stages") or ()]
    return " · ".join(parts)


def _counts(result: Any) -> str:
    parts = []
    t = result.transcript
    if t is not None:
        parts.append(plural(len(t.words), "word"))
    for attr, word in (("chunks", "chunk"), ("chapters", "chapter"),
                       ("questions", "question")):
        value = getattr(result, attr)
        if value is not None:
            parts.append(plural(len(value), word))
    g = result.graph
    if g is not None and hasattr(g, "number_of_nodes"):
        parts.append(f"{plural(g.number_of_nodes(), 'concept node')}, "
                     f"{plural(g.number_of_edges(), 'edge')}")
    return " · ".join(parts)


def _duration(result: Any) -> float | None:
    for value, attr in ((result.transcript, "audio_duration_seconds"),
                        (result.diarization, "duration")):
        seconds = getattr(value, attr, None) if value is not None else None
        if seconds:
            return float(seconds)
    return None


def _outputs(result: Any) -> str:
    folder = result.out_dir
    if folder is None or not Path(folder).is_dir():
        return "(no output folder)"
    names = sorted(p.name for p in Path(folder).iterdir() if p.is_file())
    return f"{folder}/  " + " ".join(names)


def summary(result: Any, task_id: str | None = None) -> str:
    """The one-screen text of a run (a :class:`PipelineResult`)."""
    rec = result.run_record
    inputs = rec.get("inputs") or [{}]
    audio = str(inputs[0].get("path") or "?")
    lines = [f"run {result.run_id}  {rec.get('outcome', '?')}"
             + (f"  (task {task_id[:8]})" if task_id else "")]
    duration = _duration(result)
    lines.append(_line("audio", f"{audio}  ({clock(duration)})" if duration else audio))
    lines.append(_line("stages", _stages(rec)))
    if rec.get("error"):
        lines.append(_line("error", clip(str(rec["error"]), 200)))
    counts = _counts(result)
    if counts:
        lines.append(_line("found", counts))
    d = result.diarization
    if d is not None:
        lines.append(_line("speakers", talk_times(d.talk_time()) or "none"))
    chapters = result.chapters or []
    for i, c in enumerate(chapters[:MAX_CHAPTERS]):
        lines.append(_line("chapters" if i == 0 else "",
                           f"{clock(c.start_time):>7}  {clip(c.title, 60)}"))
    if len(chapters) > MAX_CHAPTERS:
        lines.append(_line("", f"… and {len(chapters) - MAX_CHAPTERS} more"))
    lines.append(_line("results", _outputs(result)))
    return "\n".join(lines)


def show_json(record: dict[str, Any]) -> str:
    """The run record as indented JSON (the raw form)."""
    return json.dumps(record, indent=1, default=str)
