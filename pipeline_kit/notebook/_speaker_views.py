"""Who spoke when, drawn and tabled: a speaker timeline and per-speaker talk time.

Reads :class:`~pipeline_kit.Diarization` records only (no tasks, no stages run).
Colours are stable: a speaker's colour follows its place in ``diarization.speakers``
(order of first appearance), so ``SPEAKER_1`` has the same colour in every plot.
"""

from __future__ import annotations

from typing import Any

from pipeline_kit.base._reprs import clock
from pipeline_kit.stages._types import Diarization

TALK_COLUMNS = ["speaker", "talk", "share", "turns", "first", "last", "talk_seconds"]


def _check(diarization: Any) -> Diarization:
    if not isinstance(diarization, Diarization):
        raise TypeError(f"expected a Diarization, got {type(diarization).__name__}")
    return diarization


def speaker_colors(diarization: Diarization) -> dict[str, Any]:
    """Speaker -> matplotlib colour, by order of first appearance (tab10, then tab20)."""
    import matplotlib

    labels = list(diarization.speakers) or list(dict.fromkeys(t.speaker
                                                              for t in diarization.turns))
    cmap = matplotlib.colormaps["tab10" if len(labels) <= 10 else "tab20"]
    return {s: cmap(i % cmap.N) for i, s in enumerate(labels)}


def mss_axis(ax: Any) -> None:
    """Label ``ax``'s x axis (seconds) in the one time format, m:ss."""
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: clock(v)))
    ax.set_xlabel("time (m:ss)")


def speaker_timeline(diarization: Diarization, ax: Any = None) -> Any:
    """One coloured lane per speaker over the recording (overlaps show as bars in two
    lanes at once); returns the matplotlib Axes (a new figure when ``ax`` is None)."""
    d = _check(diarization)
    import matplotlib.pyplot as plt

    colors = speaker_colors(d)
    lanes = list(colors)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 0.6 + 0.45 * max(len(lanes), 1)))
    for lane, speaker in enumerate(lanes):
        bars = [(t.start, t.duration) for t in d.turns if t.speaker == speaker]
        ax.broken_barh(bars, (lane - 0.4, 0.8), facecolors=colors[speaker])
    end = d.audio_duration_seconds or max((t.end for t in d.turns), default=1.0)
    ax.set_xlim(0, end)
    ax.set_ylim(-0.6, max(len(lanes), 1) - 0.4)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.invert_yaxis()  # first speaker on top
    mss_axis(ax)
    ax.set_title(f"Who speaks when ({len(lanes)} speaker{'s' * (len(lanes) != 1)}, "
                 f"{d.method})")
    ax.grid(axis="x", alpha=0.3)
    return ax


def talk_time_table(diarization: Diarization):  # -> pandas.DataFrame
    """One row per speaker: talk time, share of all talk time, number of turns, first
    start and last end, times as m:ss; ``talk_seconds`` keeps the number (overlapping
    turns count for each speaker)."""
    import pandas as pd

    d = _check(diarization)
    talk = d.talk_time()
    total = sum(talk.values()) or 1.0
    rows = []
    for speaker, seconds in talk.items():
        own = [t for t in d.turns if t.speaker == speaker]
        first = min((t.start for t in own), default=None)
        last = max((t.end for t in own), default=None)
        rows.append({"speaker": speaker, "talk": clock(seconds),
                     "share": round(seconds / total, 4), "turns": len(own),
                     "first": clock(first) if first is not None else "",
                     "last": clock(last) if last is not None else "",
                     "talk_seconds": round(seconds, 3)})
    return pd.DataFrame(rows, columns=TALK_COLUMNS)
