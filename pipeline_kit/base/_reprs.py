"""Short ``repr`` strings and small HTML summaries of result records.

A transcript's default dataclass repr lists every word (113,000 characters for seven
minutes); these say what a record is in one line, and as a small table in Jupyter.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping

PREVIEW_CHARS = 400


def clock(seconds: float | None, tenths: bool = False) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on) of a time in seconds; ``?`` when missing.

    The one time format of every repr, table and player label. Floored, so a label never
    points past the moment it names (56.9 s is second 56). ``tenths`` adds them
    (``m:ss.s``), for words and other spans shorter than a couple of seconds.
    """
    if seconds is None or math.isnan(float(seconds)):
        return "?"
    value = max(0.0, float(seconds))
    total = int(math.floor(value))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    if tenths:
        text += f".{min(9, int(math.floor((value - total) * 10 + 1e-6)))}"
    return text


SHORT_SPAN = 2.0  # seconds: spans shorter than this (words) are shown with tenths


def short_span(start: float | None, end: float | None) -> bool:
    """True for a span short enough that whole seconds would hide it (``0:00–0:00``)."""
    return start is not None and end is not None and float(end) - float(start) < SHORT_SPAN


def span(start: float | None, end: float | None) -> str:
    """``0:56–1:42``; ``0:05.2–0:05.6`` for a span shorter than :data:`SHORT_SPAN`."""
    tenths = short_span(start, end)
    return f"{clock(start, tenths)}–{clock(end, tenths)}"


def plural(n: int, word: str) -> str:
    """``1 word``, ``1,234 words``."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def talk_times(speakers: Mapping[str, float]) -> str:
    """``SPEAKER_1 1:10, SPEAKER_2 0:24``: each speaker's talk time in a chunk or chapter,
    in the one time format (as the diarization summary and the explore pane show it)."""
    return ", ".join(f"{k} {clock(v)}" for k, v in speakers.items())


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1].rstrip() + "…"


def html_summary(title: str, rows: Iterable[tuple[str, object]], preview: str | None = None
                 ) -> str:
    """A titled two-column table, and optionally a text preview; everything escaped."""
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(str(k))}</th>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in rows)
    out = f"<div><b>{html.escape(title)}</b><table>{cells}</table>"
    if preview:
        out += (f"<p style='max-width:60em'>{html.escape(clip(preview, PREVIEW_CHARS))}</p>")
    return out + "</div>"


# Search snippets mark matched words as **word** (plain text that can travel as JSON);
# every view turns the marks into its own emphasis, never showing the asterisks.
_MARK = re.compile(r"\*\*(.+?)\*\*")
BOLD, RESET = "\033[1m", "\033[0m"


def marks_to_html(text: str) -> str:
    """``text`` escaped for HTML, its ``**marks**`` as ``<mark>`` highlights."""
    return _MARK.sub(r"<mark>\1</mark>", html.escape(text))


def marks_to_terminal(text: str, tty: bool) -> str:
    """``text`` with its ``**marks**`` in bold on a terminal, unmarked elsewhere."""
    return _MARK.sub(rf"{BOLD}\1{RESET}" if tty else r"\1", text)
