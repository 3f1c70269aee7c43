"""SRT and WebVTT export of a timed transcript.

Cues are cut from the word timings, not the (up to 30 s) recogniser segments: a cue
ends at a sentence end, at a pause, or when it would pass ``max_chars`` or
``max_seconds``, so subtitles stay readable. With speakers (after diarization) a cue
also ends where another speaker starts, and its text begins with the speaker's label
(``[SPEAKER_1] ``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class TimedWord(Protocol):
    """What a cue needs of a word: its text, times and speaker (a transcript's ``Word``)."""

    @property
    def text(self) -> str: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def speaker(self) -> str | None: ...


def _cues(
    words: Sequence[TimedWord], max_chars: int = 84, max_seconds: float = 7.0, pause: float = 0.8
) -> list[tuple[float, float, str]]:
    cues: list[tuple[float, float, str]] = []
    cur: list[TimedWord] = []

    def flush() -> None:
        if cur:
            who = f"[{cur[0].speaker}] " if cur[0].speaker is not None else ""
            cues.append((cur[0].start, cur[-1].end, who + " ".join(w.text for w in cur)))
            cur.clear()

    for w in words:
        if cur:
            length = sum(len(x.text) + 1 for x in cur) + len(w.text)
            if (
                length > max_chars
                or w.end - cur[0].start > max_seconds
                or w.start - cur[-1].end >= pause
                or w.speaker != cur[-1].speaker
            ):
                flush()
        cur.append(w)
        if w.text.endswith((".", "?", "!")):
            flush()
    flush()
    return cues


def _stamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(words: Sequence[TimedWord]) -> str:
    """SubRip text of a transcript's words: numbered cues with ``HH:MM:SS,mmm`` times."""
    blocks = [
        f"{i}\n{_stamp(a, ',')} --> {_stamp(b, ',')}\n{text}\n"
        for i, (a, b, text) in enumerate(_cues(words), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(words: Sequence[TimedWord]) -> str:
    """WebVTT text of a transcript's words: a header and cues with ``HH:MM:SS.mmm`` times."""
    blocks = [
        f"{_stamp(a, '.')} --> {_stamp(b, '.')}\n{text}\n"
        for a, b, text in _cues(words)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)
