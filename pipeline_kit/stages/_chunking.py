"""Topic-aware chunking of a transcript into overlapping, size-bounded word ranges.

Two separate steps, so a parameter sweep embeds only once:

1. :func:`prepare` splits sentences (punctuation and pauses), embeds every sentence
   in one ``encode`` call (MiniLM by default, or TF-IDF/LSA) and, from those same
   embeddings, finds the topic segments with the toolkit's segmentation
   (:mod:`._segmentation`'s modularity DP: hybrid lexical + embedding gain for
   ``"embedding"``, lexical only for ``"tfidf"``; Pk 0.055 on Choi). It also scores
   every sentence gap: cosine similarity between the mean embeddings of the
   ``window`` sentences on either side, smoothed, turned into a TextTiling depth
   score (how far similarity dips below the peaks on both sides).
2. :func:`chunk_prepared` places the cuts. Every topic boundary is a cut; inside
   each topic segment a dynamic programme adds only the cuts the size limit needs,
   at the weakest sentence gaps (highest depth score), failing that at a clause end,
   at last at any word. With ``straddle_topics=True`` the topic segmentation is
   ignored and the older rule applies to the whole text: each cut at a sentence gap
   gains ``score - threshold`` (so strong similarity drops are taken) and chunks
   may run across topic boundaries.

Chunk boundaries (``chunk_boundaries``): by default (``"sentence"``) every cut falls
on a sentence start (the parser's sentences, :mod:`._sentences`) and the overlap is
the whole sentences that fit in ``overlap`` words: chunk ``i+1`` starts at the first
sentence start at or after ``end[i] - overlap`` (at ``end[i]`` itself, no overlap,
when the last sentence is longer). A cut inside a sentence is taken only when no
split at sentence starts keeps every chunk within ``chunk_size`` (a run-on sentence
longer than ``chunk_size - overlap``). ``"word"`` is the word-exact mode: cuts prefer
sentence gaps but may fall at any word, and the overlap is exactly ``overlap`` words.

Hard rules (always hold):

* no chunk has more than ``chunk_size`` words;
* inside a topic segment chunk ``i+1`` starts ``overlap`` words before chunk ``i``
  ends, exactly in ``"word"`` mode (``start[i+1] == end[i] - overlap``), at the
  nearest sentence start at or after that word in ``"sentence"`` mode; at a topic
  boundary it starts exactly where chunk ``i`` ends (the overlap never carries words
  of one topic into the next), unless ``straddle_topics=True``, where the overlap
  applies everywhere;
* no chunk straddles a topic boundary (unless ``straddle_topics=True``);
  ``Chunk.topic_index`` numbers the topic segment of each chunk;
* every chunk brings at least one new word, and the first chunk of a segment is
  longer than ``overlap`` (unless it is the segment's only one), so starts strictly
  increase.

Speakers: chunks of a transcript whose words carry speakers (see :mod:`._speakers`)
list each speaker's talk time (``Chunk.speakers``). ``split_on_speaker_change=True``
also makes every speaker change (:func:`~._speakers.speaker_changes`) a cut without
overlap, like a topic boundary; the size rules above still hold.

Segments shorter than the overlap: a stretch with fewer new words than
``min_words`` (default ``overlap``, clipped to ``[1, chunk_size - overlap]``) is
not made a chunk of its own when another split keeps every chunk within
``chunk_size``. A topic segment of at most ``chunk_size`` words is one chunk.
Times are the transcript's own word times (the first and last word of a chunk).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from pipeline_kit.base._params import Param, check_int
from pipeline_kit.base._progress import Progress, ScaledProgress, ensure_progress
from pipeline_kit.stages._embeddings import Embedder, TfidfEmbedder, get_embedder
from pipeline_kit.stages._parse import parsed
from pipeline_kit.stages._segmentation import best_partition, gain_matrix
from pipeline_kit.stages._sentences import Sentence, as_transcript, split_sentences
from pipeline_kit.stages._speakers import speaker_changes, speaker_times
from pipeline_kit.stages._temporal import temporal_info
from pipeline_kit.stages._text import join_words, joins_previous, word_offsets
from pipeline_kit.stages._types import Chunk, TemporalInfo, Transcript

METHODS = ("embedding", "tfidf", "fixed")
PREPARE_OPTIONS = ("window", "smoothing", "pause_seconds", "max_sentence_words",
                   "min_topic_sentences")
CHUNK_OPTIONS = ("threshold", "threshold_z", "min_words", "with_temporal", "straddle_topics",
                 "split_on_speaker_change", "chunk_boundaries")
BOUNDARIES = ("sentence", "word")

_SHORT_PENALTY = 1000.0  # cost of a chunk under min_words: only taken when nothing else fits
_CLAUSE_COST = 1.0  # extra cost of cutting after a comma-like token instead of a sentence
_WORD_COST = 2.0  # extra cost of cutting at any other word
# In "sentence" mode a cut inside a sentence is a last resort: it costs more than any
# number of sentence cuts a segment could need.
_STRICT_CLAUSE_COST = 1e4
_STRICT_WORD_COST = 2e4
_GLUED_COST = 1e6  # cutting inside a written word ("self" | "-made"): only when forced


@dataclass(frozen=True)
class Prepared:
    """A transcript made ready for boundary placement; reusable for any chunk size.

    ``gap_words[g]`` is the word index where sentence ``g + 1`` starts, ``similarity[g]``
    the window similarity across that gap and ``scores[g]`` its depth score (higher:
    stronger topic shift). ``embeddings`` holds one unit row per sentence (None for
    ``method="fixed"``). ``topic_starts`` holds the word indices (excluding 0) where a
    topic segment starts (empty for ``method="fixed"``).
    """

    transcript: Transcript
    sentences: tuple[Sentence, ...]
    method: str
    embedder_name: str | None
    embeddings: np.ndarray | None
    gap_words: np.ndarray
    similarity: np.ndarray
    scores: np.ndarray
    window: int
    smoothing: int
    topic_starts: tuple[int, ...] = ()

    @property
    def n_words(self) -> int:
        return len(self.transcript.words)

    def topic_segments(self) -> list[tuple[int, int]]:
        """Word ranges ``[start, end)`` of the topic segments, in order."""
        edges = [0, *self.topic_starts, self.n_words]
        return list(pairwise(edges)) if self.n_words else []


# ---------------------------------------------------------------- validation


CHUNK_SIZE = Param("chunk_size", int, 150, "target chunk length in words",
                   minimum=1, maximum=10_000)
OVERLAP = Param("overlap", int, 25, "words shared by consecutive chunks (< chunk_size)",
                minimum=0, maximum=9_999)
CHUNKING_METHOD = Param("chunking_method", str, "embedding",
                        "where chunks break: MiniLM topic shifts, TF-IDF shifts, or fixed size",
                        choices=METHODS, flags=("--method",))
CHUNK_BOUNDARIES = Param("chunk_boundaries", str, "sentence",
                         "where chunks start and end: on sentence starts (overlap = whole "
                         "sentences within `overlap` words) or at exact word counts",
                         choices=BOUNDARIES)
SPLIT_ON_SPEAKER_CHANGE = Param("split_on_speaker_change", bool, False,
                                "also cut chunks where another speaker starts (with diarization)")


def validate_sizes(chunk_size: object, overlap: object) -> tuple[int, int]:
    """Check both against their declarations and ``overlap < chunk_size``; return ints."""
    size: int = CHUNK_SIZE.check(chunk_size)
    over: int = OVERLAP.check(overlap)
    if over >= size:
        raise ValueError(f"overlap must be smaller than chunk_size ({size}), got {over}")
    return size, over


def check_sizes(params: dict[str, Any]) -> None:
    """The cross-parameter rule of a run's chunking parameters."""
    validate_sizes(params["chunk_size"], params["overlap"])


def _split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    unknown = sorted(set(options) - set(PREPARE_OPTIONS) - set(CHUNK_OPTIONS))
    if unknown:
        raise TypeError(f"unknown chunking option(s): {', '.join(unknown)}; "
                        f"known: {', '.join(PREPARE_OPTIONS + CHUNK_OPTIONS)}")
    prep = {k: v for k, v in options.items() if k in PREPARE_OPTIONS}
    chunk = {k: v for k, v in options.items() if k in CHUNK_OPTIONS}
    return prep, chunk


# ---------------------------------------------------------------- step 1: prepare


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Centered moving average (edges padded with the edge value)."""
    if width <= 1 or len(x) < 2:
        return x.copy()
    half = width // 2
    padded = np.pad(x, (half, width - 1 - half), mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def _depth(sim: np.ndarray) -> np.ndarray:
    """TextTiling depth: climb to the nearest peak on each side, add both drops."""
    n = len(sim)
    out = np.zeros(n)
    for g in range(n):
        left = g
        while left > 0 and sim[left - 1] >= sim[left]:
            left -= 1
        right = g
        while right < n - 1 and sim[right + 1] >= sim[right]:
            right += 1
        out[g] = (sim[left] - sim[g]) + (sim[right] - sim[g])
    return out


def window_similarity(emb: np.ndarray, window: int) -> np.ndarray:
    """Cosine between mean embeddings of ``window`` sentences before/after each gap."""
    m = len(emb)
    if m < 2:
        return np.zeros(0)
    csum = np.vstack([np.zeros((1, emb.shape[1]), dtype=np.float64),
                      np.cumsum(emb, axis=0, dtype=np.float64)])
    g = np.arange(1, m)
    left = csum[g] - csum[np.maximum(0, g - window)]
    right = csum[np.minimum(m, g + window)] - csum[g]
    num = np.einsum("ij,ij->i", left, right)
    den = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _resolve_embedder(method: str, embedder: Embedder | str | None) -> Embedder | None:
    if method == "fixed":
        return None
    if method == "tfidf":
        return embedder if isinstance(embedder, TfidfEmbedder) else TfidfEmbedder()
    return get_embedder(embedder)


def topic_starts(sentences: Sequence[Sentence], method: str, embeddings: np.ndarray | None,
                 min_sentences: int) -> tuple[int, ...]:
    """Word indices where topic segments start, by the toolkit's segmentation DP.

    Reuses the chunker's sentence embeddings (no second ``encode``): hybrid lexical +
    embedding gain for ``"embedding"``, lexical gain only otherwise.
    """
    if method == "fixed" or len(sentences) < 2 * min_sentences:
        return ()
    texts = [s.text for s in sentences]
    if method == "embedding" and embeddings is not None:
        gain = gain_matrix(texts, method="hybrid", embeddings=embeddings)
    else:
        gain = gain_matrix(texts, method="lexical")
    return tuple(sentences[b].start_word for b in best_partition(gain, min_length=min_sentences))


def prepare(
    transcript: Transcript | str,
    method: str = "embedding",
    embedder: Embedder | str | None = None,
    *,
    window: int = 3,
    smoothing: int = 1,
    pause_seconds: float = 1.0,
    max_sentence_words: int | None = 60,
    min_topic_sentences: int = 3,
    progress: Progress | None = None,
) -> Prepared:
    """Split sentences, embed them once, find the topic segments, score every gap.

    ``method="embedding"`` uses ``embedder`` (default: bundled MiniLM);
    ``"tfidf"`` uses TF-IDF/LSA fitted on this transcript (``embedder`` is used only
    when it is a :class:`TfidfEmbedder`); ``"fixed"`` embeds nothing (fixed-size
    baseline, no topics). ``min_topic_sentences``: fewest sentences per topic segment.
    """
    method = CHUNKING_METHOD.check(method)
    window = check_int("window", window, 1)
    smoothing = check_int("smoothing", smoothing, 1)
    min_topic_sentences = check_int("min_topic_sentences", min_topic_sentences, 1)
    if max_sentence_words is not None:
        max_sentence_words = check_int("max_sentence_words", max_sentence_words, 1)
    if not (isinstance(pause_seconds, (int, float)) and pause_seconds > 0):
        raise ValueError(f"pause_seconds must be a positive number, got {pause_seconds!r}")
    prog = ensure_progress(progress)
    t = as_transcript(transcript)
    prog.update(0, 4, step="Splitting sentences")
    sentences = tuple(split_sentences(t, pause_seconds=pause_seconds, max_words=max_sentence_words))
    gap_words = np.array([s.start_word for s in sentences[1:]], dtype=np.int64)
    model = _resolve_embedder(method, embedder)
    emb = None
    sim = np.zeros(len(gap_words))
    scores = np.zeros(len(gap_words))
    if model is not None and sentences:
        prog.check_cancelled()
        prog.update(1, 4, step="Embedding sentences")
        emb = np.asarray(model.encode([s.text for s in sentences]), dtype=np.float32)
        prog.check_cancelled()
        prog.update(2, 4, step="Scoring sentence gaps")
        sim = window_similarity(emb, window)
        scores = _depth(_smooth(sim, smoothing))
    prog.check_cancelled()
    prog.update(3, 4, step="Finding topic segments")
    topics = topic_starts(sentences, method, emb, min_topic_sentences)
    prog.update(4, 4, step="Prepared")
    return Prepared(t, sentences, method, None if model is None else model.name, emb,
                    gap_words, sim, scores, window, smoothing, topics)


# ---------------------------------------------------------------- step 2: place boundaries


def _fallback_cost(token: str, strict: bool = False) -> float:
    clause = token.rstrip("\"'”’)]").endswith((",", ";", ":", "—", "--"))
    if strict:
        return _STRICT_CLAUSE_COST if clause else _STRICT_WORD_COST
    return _CLAUSE_COST if clause else _WORD_COST


def _candidates(prep: Prepared, lo: int, hi: int, threshold: float,
                span: int, strict: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Cut positions in ``(lo, hi]`` and their gains: sentence gaps, plus words where
    gaps are too far apart; ``hi`` itself is last with gain 0."""
    words = prep.transcript.words
    i, j = np.searchsorted(prep.gap_words, [lo, hi], side="right")
    inside = prep.gap_words[i:j] < hi
    pos = [int(p) for p in prep.gap_words[i:j][inside]]
    gain = [float(x) - threshold for x in prep.scores[i:j][inside]]
    fill_over = max(1, span // 2)
    extra_pos: list[int] = []
    extra_gain: list[float] = []
    for a, b in pairwise([lo, *pos, hi]):
        if b - a > fill_over:
            for p in range(a + 1, b):
                extra_pos.append(p)
                cost = _fallback_cost(words[p - 1].text, strict)
                if joins_previous(words[p].text):  # "self" | "-made": only when forced
                    cost = _GLUED_COST
                extra_gain.append(-threshold - cost)
    allpos = np.array(pos + extra_pos + [hi], dtype=np.int64)
    allgain = np.array(gain + extra_gain + [0.0])
    order = np.argsort(allpos, kind="stable")
    return allpos[order], allgain[order]


def _place_cuts(prep: Prepared, lo: int, hi: int, chunk_size: int, overlap: int,
                threshold: float, min_words: int, progress: Progress,
                strict: bool = False) -> list[int]:
    """Chunk ends in ``(lo, hi]`` (last is ``hi``) maximising total gain under the rules.

    The first chunk starts at ``lo`` with nothing carried over. ``strict``: cuts
    inside sentences only when nothing else fits (``"sentence"`` mode).
    """
    span = chunk_size - overlap  # most new words a later chunk may bring
    pos, gain = _candidates(prep, lo, hi, threshold, span, strict)
    k = len(pos)
    best = np.full(k, -np.inf)
    back = np.full(k, -1, dtype=np.int64)
    # Cost of a chunk by its number of new words (0..chunk_size): only short ones pay.
    lengths = np.arange(chunk_size + 1)
    short = np.where(lengths < min_words, _SHORT_PENALTY * (1 + (min_words - lengths)), 0.0)
    first_len = pos - lo
    first_ok = (((first_len > overlap) | (pos == hi)) & (first_len <= chunk_size))
    best[first_ok] = gain[first_ok] - short[first_len[first_ok]]
    los = np.searchsorted(pos, pos - span, side="left")
    for j in range(1, k):
        if j % 2048 == 0:
            progress.check_cancelled()
        start = int(los[j])
        if start >= j:
            continue
        prev = best[start:j] - short[pos[j] - pos[start:j]]
        i = int(prev.argmax())
        value = prev[i] + gain[j]
        if value > best[j]:
            best[j] = value
            back[j] = start + i
    if not np.isfinite(best[-1]):  # cannot happen when 0 <= overlap < chunk_size
        raise RuntimeError("no chunking satisfies the size rules")
    cuts = [hi]
    j = k - 1
    while back[j] >= 0:
        j = int(back[j])
        cuts.append(int(pos[j]))
    return cuts[::-1]


def _spans(n: int, starts: Collection[int]) -> list[tuple[int, int]]:
    """Word ranges ``[lo, hi)`` of ``[0, n)`` cut at ``starts``."""
    return list(pairwise([0, *sorted(s for s in set(starts) if 0 < s < n), n]))


def _topic_cuts(prep: Prepared, chunk_size: int, overlap: int, min_words: int,
                progress: Progress, extra: Collection[int] = (),
                strict: bool = False) -> list[int]:
    """Every topic boundary, plus inside each segment only the cuts its size needs.

    The threshold sits above every depth score, so each cut costs at least 1 and
    the fewest cuts win; among those, the weakest sentence gaps.
    """
    threshold = (float(prep.scores.max()) if len(prep.scores) else 0.0) + 1.0
    cuts: list[int] = []
    for lo, hi in _spans(prep.n_words, {*prep.topic_starts, *extra}):
        cuts += _place_cuts(prep, lo, hi, chunk_size, overlap, threshold, min_words, progress,
                            strict)
    return cuts


def _fixed_cuts(n: int, chunk_size: int, overlap: int) -> list[int]:
    cuts = [min(n, chunk_size)]
    while cuts[-1] < n:
        cuts.append(min(n, cuts[-1] + chunk_size - overlap))
    return cuts


def auto_threshold(prep: Prepared, threshold_z: float = 1.0) -> float:
    """Default threshold: mean + ``threshold_z`` standard deviations of the depth scores."""
    if len(prep.scores) == 0:
        return 0.0
    return float(prep.scores.mean() + threshold_z * prep.scores.std())


def chunk_prepared(
    prepared: Prepared,
    chunk_size: int = CHUNK_SIZE.default,
    overlap: int = OVERLAP.default,
    *,
    threshold: float | None = None,
    threshold_z: float = 1.0,
    min_words: int | None = None,
    with_temporal: bool = True,
    straddle_topics: bool = False,
    split_on_speaker_change: bool = False,
    chunk_boundaries: str = CHUNK_BOUNDARIES.default,
    progress: Progress | None = None,
) -> list[Chunk]:
    """Place chunk boundaries on a :class:`Prepared` transcript (no embedding here).

    By default every topic boundary is a cut without overlap and each topic segment
    is split only where ``chunk_size`` forces it. ``straddle_topics=True`` ignores
    the topics: cuts go where the depth score beats ``threshold`` (default
    :func:`auto_threshold` with ``threshold_z``; both are used only then) and the
    overlap is exact at every cut. ``min_words``: fewest new words a chunk should
    bring (default ``overlap`` clipped to ``[1, chunk_size - overlap]``; see the
    module docstring). ``split_on_speaker_change``: also cut, without overlap, where
    another speaker starts (needs a transcript with speakers). ``chunk_boundaries``:
    ``"sentence"`` (cuts and overlaps on sentence starts) or ``"word"`` (word-exact
    overlap; see the module docstring). ``method="fixed"`` is word-exact either way.
    """
    chunk_size, overlap = validate_sizes(chunk_size, overlap)
    strict = CHUNK_BOUNDARIES.check(chunk_boundaries) == "sentence"
    if min_words is None:
        min_words = max(1, min(overlap, chunk_size - overlap))
    min_words = check_int("min_words", min_words, 1)
    if min_words > chunk_size - overlap:
        raise ValueError(f"min_words must be at most chunk_size - overlap "
                         f"({chunk_size - overlap}), got {min_words}")
    if threshold is None:
        if not (isinstance(threshold_z, (int, float)) and math.isfinite(threshold_z)):
            raise ValueError(f"threshold_z must be a finite number, got {threshold_z!r}")
        threshold = auto_threshold(prepared, threshold_z)
    elif not (isinstance(threshold, (int, float)) and math.isfinite(threshold)):
        raise ValueError(f"threshold must be a finite number or None, got {threshold!r}")
    if not isinstance(straddle_topics, bool):
        raise ValueError(f"straddle_topics must be True or False, got {straddle_topics!r}")
    split_on_speaker_change = SPLIT_ON_SPEAKER_CHANGE.check(split_on_speaker_change)
    prog = ensure_progress(progress)
    n = prepared.n_words
    if n == 0:
        return []
    prog.update(0, 2, step="Placing chunk boundaries")
    turns = speaker_changes(prepared.transcript.words) if split_on_speaker_change else []
    walls: tuple[int, ...] = tuple(turns)
    if prepared.method == "fixed":
        cuts = [lo + c for lo, hi in _spans(n, turns)
                for c in _fixed_cuts(hi - lo, chunk_size, overlap)]
    elif straddle_topics:
        cuts = [c for lo, hi in _spans(n, turns)
                for c in _place_cuts(prepared, lo, hi, chunk_size, overlap, float(threshold),
                                     min_words, prog, strict)]
    else:
        cuts = _topic_cuts(prepared, chunk_size, overlap, min_words, prog, turns, strict)
        walls = tuple(sorted({*prepared.topic_starts, *turns}))
    prog.update(1, 2, step="Building chunks")
    score_at = dict(zip(prepared.gap_words.tolist(), prepared.scores.tolist(), strict=True))
    sentence_starts = None
    if strict and prepared.method != "fixed":
        sentence_starts = [s.start_word for s in prepared.sentences]
    return build_chunks(prepared.transcript, cuts, overlap, score_at, with_temporal, prog,
                        walls=walls, topic_starts=prepared.topic_starts,
                        sentence_starts=sentence_starts)


def build_chunks(transcript: Transcript, cuts: Sequence[int], overlap: int,
                 score_at: dict[int, float] | None = None, with_temporal: bool = True,
                 progress: Progress | None = None, *, walls: Collection[int] = (),
                 topic_starts: Sequence[int] = (),
                 sentence_starts: Sequence[int] | None = None) -> list[Chunk]:
    """Chunks from cut positions: chunk ``i`` is ``[cuts[i-1] - overlap, cuts[i])``.

    At a cut in ``walls`` (topic boundaries) the next chunk starts at the cut itself,
    without overlap. With ``sentence_starts`` the overlap is whole sentences: chunk
    ``i`` starts at the first sentence start in ``[cuts[i-1] - overlap, cuts[i-1]]``
    after chunk ``i-1``'s start (at ``cuts[i-1]`` when there is none). ``topic_index`` counts the
    ``topic_starts`` at or before a chunk's first new word.
    """
    prog = ensure_progress(progress)
    words = transcript.words
    score_at = score_at or {}
    wall_set = set(walls)
    starts = sorted(topic_starts)
    sent_starts = None if sentence_starts is None else sorted(sentence_starts)
    ents: list[tuple[int, int, str]] = []
    offsets: list[tuple[int, int]] = []
    if with_temporal and words:  # the transcript's own parse: no chunk is parsed again
        p = parsed(transcript)
        ents = [(e.start_char, e.end_char, e.label_) for e in p.doc.ents]
        offsets = word_offsets(words)
    out: list[Chunk] = []
    start = fresh = 0
    for i, end in enumerate(cuts):
        prog.check_cancelled()
        text = join_words(words[start:end])
        last = i == len(cuts) - 1
        out.append(Chunk(
            chunk_index=i,
            text=text,
            start_word_index=start,
            end_word_index=end,
            start_time=words[start].start,
            end_time=words[end - 1].end,
            boundary_score=None if last else float(score_at.get(end, 0.0)),
            temporal_info=(temporal_info(text, _chunk_entities(ents, offsets, start, end))
                           if with_temporal else TemporalInfo()),
            topic_index=bisect.bisect_right(starts, fresh),
            speakers=speaker_times(words[start:end], words[start].start, words[end - 1].end),
        ))
        start = end if end in wall_set else _overlap_start(end, overlap, sent_starts, start + 1)
        fresh = end
        prog.update(i + 1, len(cuts), step="Building chunks")
    return out


def _chunk_entities(ents: Sequence[tuple[int, int, str]], offsets: Sequence[tuple[int, int]],
                    start: int, end: int) -> list[tuple[int, int, str]]:
    """The transcript's entities inside words ``[start, end)``, in chunk-text characters
    (a chunk's text is the transcript's text over its words)."""
    lo, hi = offsets[start][0], offsets[end - 1][1]
    return [(a - lo, b - lo, label) for a, b, label in ents if a >= lo and b <= hi]


def _overlap_start(end: int, overlap: int, sentence_starts: Sequence[int] | None,
                   floor: int) -> int:
    """Where the chunk after a cut at ``end`` starts: ``overlap`` words back, or the
    first sentence start within them and at or after ``floor`` (the word after the
    previous chunk's start), else ``end``."""
    if sentence_starts is None:
        return end - overlap
    i = bisect.bisect_left(sentence_starts, max(end - overlap, floor))
    return min(end, sentence_starts[i]) if i < len(sentence_starts) else end


def create_semantic_chunks(
    transcript: Transcript | str,
    chunk_size: int = CHUNK_SIZE.default,
    overlap: int = OVERLAP.default,
    method: str = CHUNKING_METHOD.default,
    embedder: Embedder | str | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> list[Chunk]:
    """Split a transcript (or plain text) into overlapping chunks that follow its topics.

    Chunk boundaries first follow the topic segmentation, then split each topic
    segment by size (at most ``chunk_size`` words, exact ``overlap`` inside a topic,
    none across a topic boundary; see the module docstring).
    ``method``: ``"embedding"`` (MiniLM or ``embedder``), ``"tfidf"`` (model-free) or
    ``"fixed"`` (every ``chunk_size - overlap`` words, no topics). ``options``:
    ``window``, ``smoothing``, ``pause_seconds``, ``max_sentence_words``,
    ``min_topic_sentences`` (see :func:`prepare`) and ``straddle_topics``,
    ``threshold``, ``threshold_z``, ``min_words``, ``with_temporal``,
    ``split_on_speaker_change``, ``chunk_boundaries`` (see :func:`chunk_prepared`).
    Deterministic for a given input and embedder.
    """
    chunk_size, overlap = validate_sizes(chunk_size, overlap)
    method = CHUNKING_METHOD.check(method)
    prep_opts, chunk_opts = _split_options(options)
    first = second = None
    if progress is not None:
        first, second = ScaledProgress(progress, 0, 80), ScaledProgress(progress, 80, 100)
    prepared = prepare(transcript, method, embedder, progress=first, **prep_opts)
    return chunk_prepared(prepared, chunk_size, overlap, progress=second, **chunk_opts)


def chunk_sentence_spans(prepared: Prepared, chunks: Sequence[Chunk]) -> np.ndarray:
    """Each chunk's sentences as ``(first, end)`` indices into ``prepared.sentences``:
    the sentences its word range overlaps (an empty span when it overlaps none)."""
    starts = np.array([s.start_word for s in prepared.sentences], dtype=np.int64)
    ends = np.array([s.end_word for s in prepared.sentences], dtype=np.int64)
    lo = np.searchsorted(ends, [c.start_word_index for c in chunks], side="right")
    hi = np.searchsorted(starts, [c.end_word_index for c in chunks], side="left")
    return np.stack([lo, np.maximum(lo, hi)], axis=1).reshape(len(chunks), 2)


def chunk_embeddings(prepared: Prepared, chunks: Sequence[Chunk]) -> np.ndarray | None:
    """One unit row per chunk: the mean of the embeddings of the sentences it overlaps.

    Reuses the sentence embeddings :func:`prepare` computed (nothing is encoded), so
    a collection can search chunks semantically without embedding them again. None
    when nothing was embedded (``method="fixed"``).
    """
    emb = prepared.embeddings
    if emb is None or not prepared.sentences:
        return None
    out = np.zeros((len(chunks), emb.shape[1]), dtype=np.float32)
    for i, (lo, hi) in enumerate(chunk_sentence_spans(prepared, chunks)):
        if hi > lo:
            out[i] = emb[lo:hi].mean(axis=0)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1.0, norms)


def chunk_boundaries(chunks: Sequence[Chunk]) -> list[int]:
    """Word indices where each chunk's new words begin (the cuts), first chunk excluded."""
    return [c.end_word_index for c in chunks[:-1]]


def topic_boundaries(chunks: Sequence[Chunk]) -> list[int]:
    """Word indices where a chunk opens a new topic segment (its first new word)."""
    return [a.end_word_index for a, b in pairwise(chunks) if b.topic_index != a.topic_index]
