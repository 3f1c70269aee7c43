"""Speakers carried through a transcript's results: who said each word, segment, chunk.

:func:`assign_speakers` follows whisperx's ``assign_word_speakers``: a word gets the
speaker whose turns overlap it most (intersections summed per speaker); a word in
no turn (diarization turns often start late or end early around a word) gets the
nearest turn's speaker when that turn is at most ``max_gap`` seconds away (of equally
near turns, the one whose middle is nearest, as whisperx picks), else None. A
segment gets the speaker of most of its words. Everything else (chunk and chapter
talk time, speaker cuts in chunking, concept and question speakers, renaming) reads
the word labels, so one rule decides who said what everywhere.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipeline_kit.stages._text import join_words, word_offsets
from pipeline_kit.stages._types import (
    Chapter,
    Chunk,
    Diarization,
    Question,
    Segment,
    SpeakerTurn,
    Transcript,
    Word,
    dominant_speaker,
)

MAX_GAP = 1.0  # seconds: how far a word outside every turn may be from the nearest one
MIN_RUN_WORDS = 3  # a speaker run shorter than this is no speaker change for chunking


# ----------------------------------------------------------------------------- words


class _Turns:
    """Turns sorted by start, for overlap and nearest-turn queries."""

    def __init__(self, turns: Iterable[SpeakerTurn]) -> None:
        self.turns = sorted(turns, key=lambda t: (t.start, t.end, t.speaker))
        self.starts = [t.start for t in self.turns]
        self.longest = max((t.duration for t in self.turns), default=0.0)

    def _near(self, start: float, end: float, margin: float) -> list[SpeakerTurn]:
        """Turns that may lie within ``margin`` of ``[start, end]`` (no turn is longer
        than ``longest``, so only starts in a window around it can qualify)."""
        lo = bisect.bisect_left(self.starts, start - self.longest - margin)
        return self.turns[lo:bisect.bisect_right(self.starts, end + margin)]

    def speaker(self, start: float, end: float, max_gap: float) -> str | None:
        """The speaker overlapping ``[start, end]`` most, else the nearest within ``max_gap``."""
        overlap: dict[str, float] = {}
        for t in self._near(start, end, 0.0):
            inter = min(t.end, end) - max(t.start, start)
            if inter > 0:
                overlap[t.speaker] = overlap.get(t.speaker, 0.0) + inter
        if overlap:  # max keeps the first of equal ones: the earliest turn
            return max(overlap.items(), key=lambda kv: kv[1])[0]
        return self._nearest(start, end, max_gap)

    def _nearest(self, start: float, end: float, max_gap: float) -> str | None:
        best: tuple[float, float, str] | None = None
        mid = (start + end) / 2
        for t in self._near(start, end, max_gap):
            gap = max(t.start - end, start - t.end, 0.0)
            # equal gaps (a zero-length word inside two turns): the nearer middle wins, as
            # in whisperx's nearest-turn rule
            key = (gap, abs((t.start + t.end) / 2 - mid), t.speaker)
            if gap <= max_gap and (best is None or key < best):
                best = key
        return best[2] if best else None


def _majority(labels: Sequence[str | None]) -> str | None:
    """The most frequent label (first seen wins a tie); None when no label is set."""
    counts = Counter(s for s in labels if s is not None)
    if not counts:
        return None
    top = max(counts.values())
    return next(s for s in labels if s is not None and counts[s] == top)


def assign_speakers(transcript: Transcript, diarization: Diarization | None, *,
                    max_gap: float = MAX_GAP) -> Transcript:
    """``transcript`` with a ``speaker`` on every word and segment (see the module docstring).

    ``diarization=None`` or one without turns gives every word and segment None. The
    input is not changed (records are frozen); word times and texts stay as they are.
    """
    if not isinstance(transcript, Transcript):
        raise TypeError(f"expected a Transcript, got {type(transcript).__name__}")
    if diarization is not None and not isinstance(diarization, Diarization):
        raise TypeError(f"expected a Diarization or None, got {type(diarization).__name__}")
    if not (isinstance(max_gap, (int, float)) and max_gap >= 0):
        raise ValueError(f"max_gap must be a non-negative number of seconds, got {max_gap!r}")
    turns = _Turns(diarization.turns if diarization is not None else ())
    words = tuple(dataclasses.replace(w, speaker=turns.speaker(w.start, w.end, max_gap))
                  for w in transcript.words)
    segments = tuple(_segment_speaker(s, words, turns, max_gap) for s in transcript.segments)
    meta = dict(transcript.metadata or {})
    if diarization is not None:
        meta["speakers"] = {"labels": list(diarization.speakers), "method": diarization.method}
    return dataclasses.replace(transcript, words=words, segments=segments, metadata=meta)


def _segment_speaker(seg: Segment, words: Sequence[Word], turns: _Turns,
                     max_gap: float) -> Segment:
    if seg.word_end > seg.word_start:
        speaker = _majority([w.speaker for w in words[seg.word_start:seg.word_end]])
    else:  # a segment without words: its own span decides
        speaker = turns.speaker(seg.start, seg.end, max_gap)
    return dataclasses.replace(seg, speaker=speaker)


def has_speakers(words: Iterable[Word]) -> bool:
    """True when any word carries a speaker."""
    return any(w.speaker is not None for w in words)


# ----------------------------------------------------------------------------- talk time


def speaker_times(words: Sequence[Word], start: float, end: float) -> dict[str, float]:
    """Seconds each speaker holds the floor in ``[start, end]``, from the word labels.

    The span is shared out word by word: a pause between two words is split at its
    middle, the first word reaches back to ``start`` and the last forward to ``end``.
    So when every word has a speaker the values sum to ``end - start``; time of words
    without one is left out. Empty when no word has a speaker.
    """
    if not has_speakers(words) or end <= start:
        return {}
    out: dict[str, float] = {}
    left = start
    for i, w in enumerate(words):
        right = end if i == len(words) - 1 else (w.end + words[i + 1].start) / 2
        right = min(max(right, left), end)
        if w.speaker is not None:
            out[w.speaker] = out.get(w.speaker, 0.0) + (right - left)
        left = right
    return {s: round(v, 3) for s, v in sorted(out.items(), key=lambda kv: -kv[1])}


def speaker_changes(words: Sequence[Word], min_words: int = MIN_RUN_WORDS) -> list[int]:
    """Word indices where another speaker takes over, for cutting chunks there.

    Unlabelled words belong to the speaker before them. A run of fewer than
    ``min_words`` words (a "yeah" in the middle of someone's turn) is no change: it
    stays with the run before it, so it never becomes a chunk of its own.
    """
    runs: list[list[Any]] = []  # [speaker, first word, word count]
    for i, w in enumerate(words):
        speaker = w.speaker if w.speaker is not None else (runs[-1][0] if runs else None)
        if runs and runs[-1][0] == speaker:
            runs[-1][2] += 1
        else:
            runs.append([speaker, i, 1])
    merged: list[list[Any]] = []
    for run in runs:
        if merged and (run[2] < min_words or merged[-1][0] == run[0] or merged[-1][0] is None):
            merged[-1][2] += run[2]
            if merged[-1][0] is None:
                merged[-1][0] = run[0]
        else:
            merged.append(list(run))
    if len(merged) > 1 and merged[0][2] < min_words:  # a short opening joins the run after it
        merged[1][1:] = [0, merged[0][2] + merged[1][2]]
        del merged[0]
    return [r[1] for r in merged[1:]]


# ----------------------------------------------------------------------------- later stages


def questions_with_speakers(questions: Sequence[Question], chunks: Sequence[Chunk],
                            transcript: Transcript) -> list[Question]:
    """Each question with ``speaker`` set when all labelled words of its source sentence
    (``context``, found in its chunk) belong to one speaker."""
    if not has_speakers(transcript.words):
        return list(questions)
    by_id = {c.chunk_id: c for c in chunks}
    return [dataclasses.replace(q, speaker=_sentence_speaker(q, by_id, transcript.words))
            for q in questions]


def _sentence_speaker(q: Question, chunks: Mapping[str, Chunk],
                      words: Sequence[Word]) -> str | None:
    chunk = chunks.get(q.chunk_id or "")
    if chunk is None or not q.context:
        return None
    span = _find_text(q.context, words, chunk.start_word_index, chunk.end_word_index)
    if span is None:
        return None
    labels = {w.speaker for w in words[span[0]:span[1]] if w.speaker is not None}
    return labels.pop() if len(labels) == 1 else None


def _find_text(text: str, words: Sequence[Word], lo: int, hi: int) -> tuple[int, int] | None:
    """Word range in ``[lo, hi)`` whose display text (:func:`~._text.join_words`) holds
    ``text`` on word boundaries, or None."""
    want = " ".join(text.split())
    if not want:
        return None
    span = words[lo:hi]
    joined = join_words(span)
    offsets = word_offsets(span)
    starts = {a: i for i, (a, _) in enumerate(offsets)}
    ends = {b: i for i, (_, b) in enumerate(offsets)}
    at = joined.find(want)
    while at >= 0:
        first, last = starts.get(at), ends.get(at + len(want))
        if first is not None and last is not None:
            return lo + first, lo + last + 1
        at = joined.find(want, at + 1)
    return None


def concept_speakers_from_words(forms: Iterable[str], words: Sequence[Word]) -> dict[str, int]:
    """How often each speaker says one of ``forms`` (a concept's written forms)."""
    from pipeline_kit.stages._keyphrases import phrase_key

    keys = {tuple(phrase_key(f).split()) for f in forms if f.strip()}
    keys.discard(())
    low = [_bare(w.text) for w in words]
    last = [phrase_key(t) for t in low]  # phrase keys make only the last word singular
    counts: Counter[str] = Counter()
    for key in keys:
        n = len(key)
        for i in range(len(words) - n + 1):
            speaker = words[i].speaker
            hit = last[i + n - 1] == key[-1] and tuple(low[i:i + n - 1]) == key[:-1]
            if hit and speaker is not None:
                counts[speaker] += 1
    return dict(counts.most_common())


def _bare(token: str) -> str:
    return token.strip().strip(".,;:!?\"'()[]“”‘’—-").lower()


def link_concepts_to_speakers(G: Any, transcript: Transcript) -> Any:
    """Add to every concept node of ``G`` a ``speakers`` attribute: a JSON object
    ``{speaker: mentions}`` (a string, so GraphML export keeps working), and to every
    chunk node its dominant ``speaker``. Nodes and edges are unchanged otherwise, so
    graph queries see the same graph. Returns ``G`` (changed in place)."""
    if not has_speakers(transcript.words):
        return G
    words = transcript.words
    for _, d in G.nodes(data=True):
        if d.get("kind") == "concept":
            forms = [d.get("key", ""), d.get("label", ""), *str(d.get("variants", "")).split("|")]
            d["speakers"] = json.dumps(concept_speakers_from_words(forms, words),
                                       ensure_ascii=False)
        elif d.get("kind") == "chunk" and "start_word_index" in d:
            span = words[int(d["start_word_index"]):int(d["end_word_index"])]
            if span:
                talk = speaker_times(span, span[0].start, span[-1].end)
                d["speaker"] = dominant_speaker(talk) or ""
    G.graph["has_speakers"] = True
    return G


def concept_speakers(G: Any, concept: str) -> dict[str, int]:
    """``{speaker: mentions}`` of a concept of a speaker-linked graph ({} when unlinked)."""
    from pipeline_kit.stages._graph_query import resolve_concept

    raw = G.nodes[resolve_concept(G, concept)].get("speakers")
    return dict(json.loads(raw)) if raw else {}


# ----------------------------------------------------------------------------- names


def check_names(names: Mapping[str, str], known: Sequence[str]) -> dict[str, str]:
    """``names`` checked against the ``known`` labels: ValueError naming what is wrong.

    Keys must be known labels; names non-empty strings (stripped), no two speakers
    may end up with the same name.
    """
    if not isinstance(names, Mapping) or not names:
        raise ValueError("names must be a non-empty mapping of speaker label -> name, "
                         f"got {names!r}")
    unknown = [k for k in names if k not in known]
    if unknown:
        raise ValueError(f"unknown speaker label(s) {', '.join(map(repr, unknown))}; "
                         f"this run's speakers: {', '.join(known) or 'none'}")
    out: dict[str, str] = {}
    for label, name in names.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"the name for {label!r} must be a non-empty string, got {name!r}")
        out[label] = name.strip()
    final = [out.get(k, k) for k in known]
    clash = sorted({n for n in final if final.count(n) > 1})
    if clash:
        raise ValueError(f"two speakers would both be called {', '.join(map(repr, clash))}")
    return out


def relabel(value: Any, names: Mapping[str, str]) -> Any:
    """A stage result with speaker labels replaced by ``names`` (others unchanged).

    Knows transcripts, diarizations, lists of chunks, chapters and questions, and the
    concept graph; any other value is returned as is.
    """
    if not names:
        return value
    if isinstance(value, Transcript):
        return _relabel_transcript(value, names)
    if isinstance(value, Diarization):
        return dataclasses.replace(
            value, speakers=tuple(names.get(s, s) for s in value.speakers),
            turns=tuple(dataclasses.replace(t, speaker=names.get(t.speaker, t.speaker))
                        for t in value.turns))
    if isinstance(value, list):
        return [relabel(v, names) for v in value]
    if isinstance(value, (Chunk, Chapter)):
        return dataclasses.replace(value, speakers=_rekey(value.speakers, names))
    if isinstance(value, Question):
        return dataclasses.replace(value, speaker=names.get(value.speaker, value.speaker)
                                   if value.speaker else None)
    if hasattr(value, "nodes") and hasattr(value, "graph"):
        return _relabel_graph(value, names)
    return value


def _rekey(talk: Mapping[str, float], names: Mapping[str, str]) -> dict[str, float]:
    return {names.get(s, s): v for s, v in talk.items()}


def _relabel_transcript(t: Transcript, names: Mapping[str, str]) -> Transcript:
    def name(s: str | None) -> str | None:
        return names.get(s, s) if s is not None else None

    meta = dict(t.metadata or {})
    if isinstance(meta.get("speakers"), dict):
        labels = meta["speakers"].get("labels", [])
        meta["speakers"] = {**meta["speakers"], "labels": [name(s) for s in labels]}
    return dataclasses.replace(
        t, words=tuple(dataclasses.replace(w, speaker=name(w.speaker)) for w in t.words),
        segments=tuple(dataclasses.replace(s, speaker=name(s.speaker)) for s in t.segments),
        metadata=meta)


def _relabel_graph(G: Any, names: Mapping[str, str]) -> Any:
    H = G.copy()
    for _, d in H.nodes(data=True):
        if d.get("speakers"):
            d["speakers"] = json.dumps(_rekey(json.loads(d["speakers"]), names),
                                       ensure_ascii=False)
        if d.get("speaker"):
            d["speaker"] = names.get(d["speaker"], d["speaker"])
    return H
