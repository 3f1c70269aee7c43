"""SRT and WebVTT export of a timed transcript.

Cues are cut from the word timings, not the (up to 30 s) recogniser segments: a cue
ends at a sentence end, at a pause, or when it would pass ``max_chars`` or
``max_seconds``, so subtitles stay readable. A cue never splits a written word (Whisper's
"-substantial" stays with "self"), and its text is :func:`~._text.join_words` of its
words, as in the transcript's text. With speakers (after diarization) a cue also ends
where another speaker starts, on a word boundary and only when the cue before and the
new speaker's stretch both last at least ``MIN_TURN_SECONDS``; its text begins with the
label of the speaker who talks longest in it (``[SPEAKER_1] ``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pipeline_kit.stages._text import is_abbreviation, join_words, joins_previous

# A cue split at a speaker change leaves both cues at least this long (seconds), so a
# label that flips for one word mid-sentence does not make a one-word cue.
MIN_TURN_SECONDS = 1.0


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


def _units(words: Sequence[TimedWord]) -> list[list[TimedWord]]:
    """Words grouped so that no cue splits a written word: a hyphenated part
    ("-substantial") or glued punctuation stays with the word before it."""
    units: list[list[TimedWord]] = []
    for w in words:
        if units and joins_previous(w.text.strip()):
            units[-1].append(w)
        else:
            units.append([w])
    return units


def _speaker_runs(units: Sequence[Sequence[TimedWord]]) -> list[float]:
    """For each unit: seconds from its start to the end of its speaker's run of units."""
    out = [0.0] * len(units)
    run_end = 0.0
    for i in range(len(units) - 1, -1, -1):
        if i == len(units) - 1 or units[i + 1][0].speaker != units[i][0].speaker:
            run_end = units[i][-1].end
        out[i] = run_end - units[i][0].start
    return out


def _label(cur: Sequence[TimedWord]) -> str:
    """``[SPEAKER] `` of the speaker talking longest in a cue ("" without speakers)."""
    talk: dict[str, float] = {}
    for w in cur:
        if w.speaker is not None:
            talk[w.speaker] = talk.get(w.speaker, 0.0) + (w.end - w.start)
    if not talk:
        return ""
    first = {w.speaker: i for i, w in reversed(list(enumerate(cur)))}
    return f"[{max(talk, key=lambda k: (talk[k], -first[k]))}] "


def _cues(
    words: Sequence[TimedWord], max_chars: int = 84, max_seconds: float = 7.0, pause: float = 0.8,
    min_turn_seconds: float = MIN_TURN_SECONDS,
) -> list[tuple[float, float, str]]:
    cues: list[tuple[float, float, str]] = []
    cur: list[TimedWord] = []

    def flush() -> None:
        if cur:
            cues.append((cur[0].start, cur[-1].end, _label(cur) + join_words(cur)))
            cur.clear()

    units = _units(words)
    runs = _speaker_runs(units)
    for u, run in zip(units, runs, strict=True):
        if cur:
            head = u[0]
            length = len(join_words([*cur, *u]))
            # Another speaker opens a cue only when both cues last min_turn_seconds.
            turn = (head.speaker != cur[-1].speaker and run >= min_turn_seconds
                    and cur[-1].end - cur[0].start >= min_turn_seconds)
            if (
                length > max_chars
                or u[-1].end - cur[0].start > max_seconds
                or head.start - cur[-1].end >= pause
                or turn
            ):
                flush()
        cur.extend(u)
        if u[-1].text.endswith((".", "?", "!")) and not is_abbreviation(u[-1].text):
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
