"""Annotation tiers of a run: named lists of ``(start, end, label)`` intervals.

ELAN and Praat both hold a transcript as tiers of labelled time intervals, and
neither lets two intervals of one tier overlap. This module turns the run's records
into such tiers once (words, recogniser segments, speaker turns with their text,
chunks, chapters, questions); :mod:`pipeline_kit.stages._elan` and
:mod:`pipeline_kit.stages._praat` only write them. Records that overlap in time
(chunks overlap by design, several questions may come from one sentence) go onto
numbered extra tiers (``chunks``, ``chunks 2``, ...), each kept free of overlaps.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline_kit.stages._types import Chapter, Chunk, Question, Transcript, Word

Interval = tuple[float, float, str]
NO_SPEAKER = "speech"  # the tier of a transcript that has no speakers
# ELAN and Praat refuse intervals of no length; Whisper gives a few words none (an end
# equal to the start). They are widened to 2 ms (2, not 1: after rounding to ELAN's
# milliseconds they still last at least 1 ms), before overlaps are sorted onto tiers.
MIN_SECONDS = 0.002


def widened(intervals: Sequence[Interval], minimum: float = MIN_SECONDS) -> list[Interval]:
    """``intervals`` with every one shorter than ``minimum`` lengthened to it."""
    return [(a, max(b, a + minimum), label) for a, b, label in intervals]


def layered(name: str, intervals: Sequence[Interval]) -> dict[str, list[Interval]]:
    """``intervals`` on as few tiers as keep each free of overlaps: ``name``, ``name 2``...

    Each interval goes onto the first tier whose last interval ends by its start
    (intervals sorted by start), so a tier that does not overlap stays one tier.
    Intervals shorter than :data:`MIN_SECONDS` are widened first (see there).
    """
    tiers: list[list[Interval]] = []
    for iv in sorted(widened(intervals), key=lambda iv: (iv[0], iv[1])):
        for tier in tiers:
            if tier[-1][1] <= iv[0]:
                tier.append(iv)
                break
        else:
            tiers.append([iv])
    return {name if i == 0 else f"{name} {i + 1}": t for i, t in enumerate(tiers)} or {name: []}


def word_intervals(t: Transcript) -> list[Interval]:
    return [(w.start, w.end, w.text) for w in t.words]


def segment_intervals(t: Transcript) -> list[Interval]:
    return [(s.start, s.end, s.text.strip()) for s in t.segments]


def speaker_runs(t: Transcript) -> list[tuple[str | None, list[Word]]]:
    """The transcript's words cut where the segment or the speaker changes, in order.

    A segment whose words two speakers say gives one run per speaker turn in it, so
    no text lands on the tier of someone who did not say it.
    """
    runs: list[tuple[str | None, list[Word]]] = []
    for seg in t.segments:
        speaker: object = object()  # no word's speaker: every segment opens a run
        for w in t.words[seg.word_start:seg.word_end]:
            if w.speaker != speaker:
                speaker = w.speaker
                runs.append((w.speaker, []))
            runs[-1][1].append(w)
    return runs


def speaker_tiers(t: Transcript) -> dict[str, list[Interval]]:
    """One tier per speaker (by label; ``speech`` without speakers) with the text each
    says, cut at segment and speaker changes."""
    tiers: dict[str, list[Interval]] = {}
    for speaker, words in speaker_runs(t):
        tiers.setdefault(speaker or NO_SPEAKER, []).append(
            (words[0].start, words[-1].end, " ".join(w.text for w in words)))
    return tiers


def speaker_turns(t: Transcript) -> list[Interval]:
    """Intervals labelled by who speaks: consecutive words of one speaker joined
    (empty when the transcript has no speakers)."""
    out: list[Interval] = []
    for w in t.words:
        if w.speaker is None:
            continue
        if out and out[-1][2] == w.speaker:
            out[-1] = (out[-1][0], w.end, w.speaker)
        else:
            out.append((w.start, w.end, w.speaker))
    return out


def chunk_intervals(chunks: Sequence[Chunk]) -> list[Interval]:
    return [(c.start_time, c.end_time, c.text) for c in chunks]


def chapter_intervals(chapters: Sequence[Chapter]) -> list[Interval]:
    return [(c.start_time, c.end_time, c.title) for c in chapters]


def question_intervals(questions: Sequence[Question]) -> list[Interval]:
    """Questions that have a time span, labelled with the question and its answer."""
    return [(q.start_time, q.end_time, q.text + (f" [{q.answer}]" if q.answer else ""))
            for q in questions if q.start_time is not None and q.end_time is not None]
