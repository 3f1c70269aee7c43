"""Chapter analysis: topical sections of a transcript with titles, summaries and times.

Sentences (:func:`split_sentences`) are segmented by :func:`segment_sentences`'s
modularity DP. Spoken headings ("One.", "Two." — short stand-alone items after a
pause, see :func:`heading_cues`) open chapters, even ones shorter than
``min_sentences``; once a recording announces its sections, chapters follow them.
Each chapter then gets key phrases (:func:`key_phrases` over all chapters, so they
are distinctive), a title that is the most central of them (:func:`by_centrality`),
an extractive summary (its most central sentences by embedding similarity, in text
order), its time span, the chunks overlapping it and, when its words carry speakers,
each speaker's talk time (see :func:`~._speakers.speaker_times`). Chapter times are
contiguous: a chapter ends where the next one starts, so pauses between chapters
belong to the earlier one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from pipeline_kit.base._params import Param, check_int
from pipeline_kit.base._progress import Progress, ensure_progress
from pipeline_kit.stages._embeddings import Embedder, get_embedder
from pipeline_kit.stages._keyphrases import NUMBER_WORDS, key_phrases
from pipeline_kit.stages._segmentation import (
    PRIORS,
    Vectors,
    best_partition,
    check_options,
    embed_sentences,
    estimated_short_segments,
    gain_matrix,
    lexical_vectors,
    scaled_resolution,
)
from pipeline_kit.stages._sentences import Sentence, as_transcript, split_sentences
from pipeline_kit.stages._speakers import has_speakers, speaker_times
from pipeline_kit.stages._text import join_words, split_text
from pipeline_kit.stages._types import Chapter, Chunk, ModelInfo, Segment, Transcript, Word


def transcript_from_chunks(chunks: Sequence[Chunk]) -> tuple[Transcript, int]:
    """Rebuild the word sequence of overlapping chunks; return it and its first word index.

    Chunk ``i+1`` may start before chunk ``i`` ends (the overlap); each word is taken
    from the first chunk that has it. Word times are spread evenly over each chunk's
    span (chunks carry no per-word times). Gaps between chunks are a ``ValueError``.
    """
    if not chunks:
        raise ValueError("no chunks given")
    if not all(isinstance(c, Chunk) for c in chunks):
        raise TypeError("expected a sequence of Chunk")
    ordered = sorted(chunks, key=lambda c: (c.start_word_index, c.end_word_index))
    first = ordered[0].start_word_index
    words: list[Word] = []
    for c in ordered:
        try:
            tokens = split_text(c.text, c.word_count)
        except ValueError:
            raise ValueError(f"{c.chunk_id}: text has {len(c.text.split())} words but its range "
                             f"[{c.start_word_index}, {c.end_word_index}) has "
                             f"{c.word_count}") from None
        have = first + len(words)
        if c.start_word_index > have:
            raise ValueError(f"{c.chunk_id} starts at word {c.start_word_index}, "
                             f"but the chunks before it end at word {have}")
        step = (c.end_time - c.start_time) / max(c.word_count, 1)
        for j in range(have - c.start_word_index, c.word_count):
            t = c.start_time + j * step
            words.append(Word(tokens[j], t, t + step, None, True))
    text = join_words(words)
    end = words[-1].end if words else 0.0
    seg = Segment(0, words[0].start if words else 0.0, end, text, 0, len(words))
    transcript = Transcript(text=text, segments=(seg,), words=tuple(words), language="en",
                            confidence=1.0, model=ModelInfo(name="chunks"),
                            word_timing_method="text", audio_duration_seconds=end)
    return transcript, first


def _no_chunks(source: object) -> bool:
    """An empty list or tuple: chunks of a transcript without words."""
    return isinstance(source, Sequence) and not isinstance(source, str) and len(source) == 0


def _resolve(source: object) -> tuple[Transcript, int, list[Chunk]]:
    """The transcript, first word index and chunks behind what the caller passed, or TypeError."""
    if isinstance(source, (Transcript, str)):
        return as_transcript(source), 0, []
    if isinstance(source, Sequence) and source and all(isinstance(c, Chunk) for c in source):
        transcript, offset = transcript_from_chunks(source)
        return transcript, offset, list(source)
    raise TypeError("expected a Transcript, a str or a list of Chunk, got "
                    f"{type(source).__name__}")


def _central(vectors: Vectors, count: int) -> list[int]:
    """Indices (in order) of the ``count`` rows most similar on average to the others."""
    n = vectors.shape[0]
    if n <= count:
        return list(range(n))
    sim = vectors @ vectors.T
    sim = np.asarray(sim.toarray() if hasattr(sim, "toarray") else sim, dtype=np.float64)
    score = (sim.sum(axis=1) - np.diag(sim)) / (n - 1)
    top = np.argsort(-score, kind="stable")[:count]
    return sorted(int(i) for i in top)


def _title(phrases: Sequence[str], index: int, parts: int) -> str:
    if not phrases:
        return f"Chapter {index + 1}"
    title = ", ".join(phrases[:parts])
    return title[0].upper() + title[1:]


def _rows(x: Vectors) -> np.ndarray:
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)


def by_centrality(phrases: Sequence[str], weights: Sequence[float], phrase_vectors: Vectors,
                  sentence_vectors: Vectors) -> list[str]:
    """``phrases`` ordered by centrality: cosine to the centroid of the chapter's sentences.

    The candidates are the chapter's distinctive key phrases; each cosine is scaled
    by the square root of the phrase's key-phrase score relative to the best (its
    distinctiveness and noun-phrase quality), so a central but generic single word
    ("books") does not beat a central specific phrase ("movable types").
    """
    if len(phrases) < 2:
        return list(phrases)
    centroid = _rows(sentence_vectors).mean(axis=0)
    pv = _rows(phrase_vectors)
    norms = np.linalg.norm(pv, axis=1) * (np.linalg.norm(centroid) or 1.0)
    w = np.asarray(weights, dtype=np.float64)
    w = np.sqrt(np.clip(w / (w.max() or 1.0), 0.0, None))
    score = np.clip(pv @ centroid / np.where(norms > 0, norms, 1.0), 0.0, None) * w
    order = np.argsort(-score, kind="stable")
    return [phrases[int(i)] for i in order]


HEADING_WORDS = 3  # a stand-alone sentence this short ("Two.", "Part three.") is a heading
HEADING_PAUSE = 0.3  # s of silence on each side that set a heading apart
# Gain for a chapter starting at a heading (pair gains average 1 in size), and the
# cost of one starting elsewhere once the speaker announces sections (two headings or
# more): so large that only ``target_count`` can ask for more chapters than announced.
CUE_BONUS = 8.0
UNANNOUNCED_COST = 1e6  # gain for a chapter starting at a heading (pair gains average 1 in size)


_SECTION_WORDS = "chapter part section step lesson topic act scene number question item"
_NUMBERED_RE = re.compile(
    rf"(?:(?:{'|'.join(_SECTION_WORDS.split())})\s+)?"
    rf"(?:\d+(?:st|nd|rd|th)?|[ivx]+|(?:{'|'.join(sorted(NUMBER_WORDS))})(?:-\w+)?)"
)


def standalone_items(sentences: Sequence[Sentence], transcript: Transcript) -> np.ndarray:
    """Per sentence: is it a short item set apart by pauses (a heading, or a short reply)?

    Such items follow a pause and are followed by one (or end a recognised segment:
    the recogniser's word times stretch into the pause). Text with evenly spread
    synthetic times has no pauses, hence no such items.
    """
    seg_ends = {seg.word_end for seg in transcript.segments}
    items = np.zeros(len(sentences) + 1, dtype=bool)
    for i, s in enumerate(sentences):
        if s.word_count > HEADING_WORDS:
            continue
        before = i == 0 or s.start_time - sentences[i - 1].end_time >= HEADING_PAUSE
        after = (i == len(sentences) - 1 or s.end_word in seg_ends
                 or sentences[i + 1].start_time - s.end_time >= HEADING_PAUSE)
        items[i] = before and after
    return items


def is_numbered(text: str) -> bool:
    """A section number as spoken: "Two.", "4.", "Part three", "Chapter 12", "II"."""
    bare = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return bool(_NUMBERED_RE.fullmatch(bare))


def heading_cues(sentences: Sequence[Sentence], transcript: Transcript) -> tuple[np.ndarray, bool]:
    """Sentences that open a section (per index ``0..n``), and whether sections are announced.

    Announced: two stand-alone items or more are section numbers; then every
    stand-alone item is taken as a heading (a number the recogniser misheard,
    "Three." as "Free.", still opens its section). One numbered item is a cue on its
    own. Without numbers no cue is given, so short replies ("Yes.", "Okay.") in a
    conversation never cut it.
    """
    items = standalone_items(sentences, transcript)
    numbered = items.copy()
    for i, s in enumerate(sentences):
        numbered[i] = items[i] and is_numbered(s.text)
    if numbered.sum() >= 2:
        return items, True
    return numbered, False


def _start_bonus(heads: np.ndarray, announced: bool) -> np.ndarray | None:
    """Gain for a chapter starting at each sentence: headings favoured, the rest not.

    A recording that announces its sections is split where it announces them: a
    content change inside a section of LJ Speech's printing essay outweighs any
    moderate cost (the modularity gain of splitting one topic grows with its
    length), so the cost is prohibitive instead.
    """
    if not heads.any():
        return None
    return np.where(heads, CUE_BONUS, -UNANNOUNCED_COST if announced else 0.0)


MIN_SENTENCES = Param("min_sentences", int, 4, "fewest sentences in a chapter",
                      minimum=1, maximum=10_000)
CHAPTER_PRIOR = Param("chapter_prior", str, "fixed",
                      "chapter length prior: 'fixed' (min_sentences) or 'estimated' (shorter "
                      "chapters where the text supports them; for uneven recordings)",
                      choices=PRIORS)
# An estimated short chapter still has two sentences: one-sentence chapters were mostly
# stray remarks, and min_short=2 kept Choi Pk at the fixed prior's (segmentation docs).
SHORTEST_ESTIMATED = 2


def _check_chapter_args(min_sentences: object, min_seconds: object, summary_sentences: object,
                        title_phrases: object) -> None:
    check_int("summary_sentences", summary_sentences, 1)
    check_int("title_phrases", title_phrases, 1)
    MIN_SENTENCES.check(min_sentences)
    if min_seconds is not None and (isinstance(min_seconds, bool)
                                    or not isinstance(min_seconds, (int, float))
                                    or not min_seconds >= 0):
        raise ValueError(f"min_seconds must be a non-negative number or None, got {min_seconds!r}")


def analyze_chapters(
    transcript_or_chunks: Transcript | str | Sequence[Chunk],
    *,
    min_sentences: int = MIN_SENTENCES.default,
    min_seconds: float | None = None,
    target_count: int | None = None,
    embedder: Embedder | str | None = None,
    method: str = "hybrid",
    chunks: Sequence[Chunk] | None = None,
    summary_sentences: int = 2,
    title_phrases: int = 1,
    cues: bool = True,
    chapter_prior: str = CHAPTER_PRIOR.default,
    progress: Progress | None = None,
    **options: float,
) -> list[Chapter]:
    """Split a transcript, plain text or list of chunks into titled, summarised chapters.

    Chapters cover every sentence in order. ``min_sentences`` / ``min_seconds``: the
    smallest chapter (a text too short for two is one chapter). ``target_count``: exact
    number of chapters (``ValueError`` when impossible); ``None`` finds it from the
    text. ``method``, ``embedder`` and ``options`` are those of
    :func:`segment_sentences`. ``chunks``: for a transcript input, the chunks to list
    in ``chunk_ids`` (chunk input lists its own). ``summary_sentences``: at most this
    many sentences per summary (1 for chapters under 6 sentences). ``title_phrases``: key
    phrases in the title, most central first (1: one noun phrase). ``cues``: let
    spoken headings (:func:`heading_cues`) open chapters, even short ones below
    ``min_sentences``; ``False`` segments by content alone. ``chapter_prior``:
    ``"estimated"`` also allows chapters of 2 to ``min_sentences - 1`` sentences where
    the text itself supports them (the ``prior`` of :func:`segment_sentences`).
    """
    opts = check_options(method, min_sentences, target_count, options)
    CHAPTER_PRIOR.check(chapter_prior)
    _check_chapter_args(min_sentences, min_seconds, summary_sentences, title_phrases)
    prog = ensure_progress(progress)
    prog.update(0, step="Splitting sentences")
    if _no_chunks(transcript_or_chunks):  # audio without speech gives no chunks
        prog.update(100, step="Chapters done (no text)")
        return []
    transcript, offset, own_chunks = _resolve(transcript_or_chunks)
    chunk_list = list(chunks) if chunks is not None else own_chunks
    sentences = split_sentences(transcript)
    if not sentences:
        return []
    texts = [s.text for s in sentences]
    if target_count is not None and target_count * min_sentences > len(texts):
        raise ValueError(f"target_count={target_count} needs at least "
                         f"{target_count * min_sentences} sentences at "
                         f"min_sentences={min_sentences}, the text has {len(texts)}")
    prog.check_cancelled()
    prog.update(10, step="Embedding sentences")
    emb = embed_sentences(texts, method, embedder)
    prog.check_cancelled()
    prog.update(60, step="Segmenting")
    times = (np.array([s.start_time for s in sentences]), np.array([s.end_time for s in sentences]))
    heads, announced = heading_cues(sentences, transcript) if cues else (None, False)
    if heads is None or not heads.any():
        heads = None

    def topic_gain(factor: float = 1.0) -> np.ndarray:
        g = gain_matrix(texts, method=method, embeddings=emb, **scaled_resolution(opts, factor))
        if heads is not None:  # a heading has no topic: the cue sets its place
            g[heads[:-1]] = 0.0
            g[:, heads[:-1]] = 0.0
        return g

    gain = topic_gain()
    short: set[tuple[int, int]] = set()
    if chapter_prior == "estimated":
        short = estimated_short_segments(gain, topic_gain, shorter_than=min_sentences,
                                         shortest=SHORTEST_ESTIMATED)
    starts = best_partition(gain, min_length=min_sentences, target_count=target_count,
                            durations=times, min_seconds=min_seconds, cues=heads, short=short,
                            start_bonus=None if heads is None else _start_bonus(heads, announced))
    prog.check_cancelled()
    prog.update(80, step="Titling chapters")
    bounds = list(zip([0, *starts], [*starts, len(sentences)], strict=True))
    vectors = emb if emb is not None else lexical_vectors(texts)

    def embed_phrases(phrases: list[str]) -> tuple[Vectors, Vectors]:
        """The sentences' and the phrases' vectors in one space (one TF-IDF fit when
        lexical: a parser phrase may hold a term no sentence vector has a column for)."""
        if emb is not None:
            return emb, np.asarray(get_embedder(embedder).encode(phrases), dtype=np.float64)
        both = lexical_vectors([*texts, *phrases])
        return both[:len(texts)], both[len(texts):]

    title_vectors = vectors if emb is not None else lexical_vectors([*texts])
    chapters = _build(sentences, bounds, title_vectors, chunk_list, offset,
                      summary_sentences, title_phrases, embed_phrases)
    if has_speakers(transcript.words):
        chapters = _with_talk_time(chapters, sentences, transcript.words)
    prog.update(100, step="Chapters done")
    return chapters


def _build(sentences: list[Sentence], bounds: list[tuple[int, int]], vectors: Vectors,
           chunks: list[Chunk], offset: int, summary_sentences: int,
           title_phrases: int,
           embed_phrases: Callable[[list[str]], tuple[Vectors, Vectors]]) -> list[Chapter]:
    bodies = [" ".join(s.text for s in sentences[a:b]) for a, b in bounds]
    phrases = key_phrases(bodies, top_n=5)
    every = sorted({p for row in phrases for p, _ in row})
    svec, pvec = vectors, np.zeros((0, 1))
    if every:
        svec, phrase_vectors = embed_phrases(every)
        pvec = _rows(phrase_vectors)
    where = {p: i for i, p in enumerate(every)}
    out: list[Chapter] = []
    for i, (a, b) in enumerate(bounds):
        count = summary_sentences if b - a >= 6 else 1
        picked = _central(vectors[a:b], count)
        summary = " ".join(sentences[a + j].text for j in picked)
        first_word = sentences[a].start_word + offset
        last_word = sentences[b - 1].end_word + offset
        ids = tuple(c.chunk_id for c in sorted(chunks, key=lambda c: c.chunk_index)
                    if c.start_word_index < last_word and c.end_word_index > first_word)
        end = sentences[b].start_time if b < len(sentences) else sentences[-1].end_time
        names = tuple(p for p, _ in phrases[i])
        central = by_centrality(names, [w for _, w in phrases[i]],
                                pvec[[where[p] for p in names]], svec[a:b])
        out.append(Chapter(
            chapter_index=i,
            title=_title(central, i, title_phrases),
            summary=summary,
            start_time=sentences[a].start_time,
            end_time=max(end, sentences[a].start_time),
            start_sentence=a,
            end_sentence=b,
            chunk_ids=ids,
            key_phrases=names,
        ))
    return out


def _with_talk_time(chapters: list[Chapter], sentences: list[Sentence],
                    words: Sequence[Word]) -> list[Chapter]:
    """Each chapter with the talk time of every speaker over its (contiguous) span."""
    import dataclasses

    out = []
    for c in chapters:
        span = words[sentences[c.start_sentence].start_word:sentences[c.end_sentence - 1].end_word]
        out.append(dataclasses.replace(c, speakers=speaker_times(span, c.start_time,
                                                                 c.end_time)))
    return out
