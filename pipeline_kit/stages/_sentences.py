"""Sentence segmentation of a timed transcript: the parser's sentences, mapped to words.

Sentences come from spaCy's dependency parse (:func:`~._parse.parsed`, one parse per
transcript shared with the other stages), with two corrections measured on real text:
no sentence ends after a title or a reference abbreviation ("Sen.", "Rep.", "figs.",
"e.g.": the parser breaks after some of them), and a break the parser puts inside a
transcript word is dropped. Speech adds what text lacks: a long pause or a spoken
heading also ends a sentence. Sentences keep the word-index range they cover, so
every later stage (chunking, chapters, questions) maps text back to word indices and
audio times.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from pipeline_kit.stages._text import is_abbreviation, join_words, joins_previous
from pipeline_kit.stages._types import Transcript

# Text with at least one sentence-final mark per this many words counts as punctuated.
PUNCTUATED_EVERY = 40
# In punctuated text the marks say where sentences end, so the run-on cut (meant for
# unpunctuated speech) waits this long: written sentences rarely run longer.
PUNCTUATED_MAX_WORDS = 150
_END_RE = re.compile(r"[.!?…]+[\"'”’)\]]*$")


@dataclass(frozen=True)
class Sentence:
    """Words ``[start_word, end_word)`` of a transcript, with text and times."""

    index: int
    text: str
    start_word: int
    end_word: int
    start_time: float
    end_time: float

    @property
    def word_count(self) -> int:
        return self.end_word - self.start_word


def ends_sentence(token: str) -> bool:
    """True when a token ends in sentence-final punctuation and is not an abbreviation."""
    token = token.strip()
    return bool(_END_RE.search(token)) and not is_abbreviation(token)


_ends_sentence = ends_sentence  # old private name, kept for callers


def as_transcript(source: Transcript | str) -> Transcript:
    """Accept a Transcript or plain text (which gets evenly spaced synthetic times)."""
    if isinstance(source, Transcript):
        return source
    if isinstance(source, str):
        return Transcript.from_text(source)
    raise TypeError(f"expected a Transcript or str, got {type(source).__name__}")


def heading_edges(t: Transcript, max_words: int = 3, pause: float = 0.3) -> frozenset[int]:
    """Word indices a sentence must end after: the edges of short stand-alone segments.

    A segment of at most ``max_words`` words with a pause of at least ``pause`` s on
    each side (or the start/end of the audio) is a heading, a spoken number ("Two")
    or a short reply; it is a sentence of its own even when the recogniser gave it no
    final punctuation, so it never joins the text of the next section.
    """
    words, cuts = t.words, set()
    for seg in t.segments:
        a, b = seg.word_start, seg.word_end
        if not 0 < b - a <= max_words or b > len(words):
            continue
        before = a == 0 or words[a].start - words[a - 1].end >= pause
        after = b == len(words) or words[b].start - words[b - 1].end >= pause
        if before and after:
            cuts.update({a - 1, b - 1} - {-1})
    return frozenset(cuts)


def parser_breaks(t: Transcript, model: str | os.PathLike[str] | None = None) -> set[int]:
    """Word indices where the parser starts a sentence (0 excluded), on word starts only
    and never right after an abbreviation."""
    from pipeline_kit.stages._parse import parsed

    if not t.words:
        return set()
    p = parsed(t, model)
    # In punctuated text a break needs final punctuation before it; the parser alone
    # also breaks inside long sentences ("clover stems | or crown gall").
    punctuated = is_punctuated(t)
    out = set()
    for sent in p.doc.sents:
        i = sent.start
        if i == 0 or not p.starts_word(i):
            continue
        w = p.word_index(i)
        before = t.words[w - 1].text
        if w > 0 and not is_abbreviation(before) and (not punctuated or ends_sentence(before)):
            out.add(w)
    return out


def is_punctuated(t: Transcript) -> bool:
    """At least one sentence-final mark per ``PUNCTUATED_EVERY`` words."""
    return sum(map(ends_sentence, (w.text for w in t.words))) * PUNCTUATED_EVERY \
        >= len(t.words)


def split_sentences(
    source: Transcript | str,
    *,
    pause_seconds: float = 1.0,
    max_words: int | None = 60,
    model: str | os.PathLike[str] | None = None,
) -> list[Sentence]:
    """Split into the parser's sentences, also ending one at long pauses and headings.

    ``pause_seconds``: a silence at least this long between two measured words ends
    a sentence even where the parser saw none (speech is often under-punctuated).
    ``max_words``: a run-on stretch longer than this is cut, so no "sentence" is
    unbounded (in punctuated text, longer than ``PUNCTUATED_MAX_WORDS`` if that is
    more); ``None`` disables the cut. No cut falls inside a word or before a
    hyphenated part ("self" | "-made"). ``model``: the spaCy pipeline (default
    en_core_web_sm).
    """
    if pause_seconds <= 0:
        raise ValueError(f"pause_seconds must be positive, got {pause_seconds}")
    if max_words is not None and max_words < 1:
        raise ValueError(f"max_words must be at least 1, got {max_words}")
    t = as_transcript(source)
    words = t.words
    if max_words is not None and words and is_punctuated(t):
        max_words = max(max_words, PUNCTUATED_MAX_WORDS)
    starts = parser_breaks(t, model) | {i + 1 for i in heading_edges(t)}
    out: list[Sentence] = []
    start = 0
    for i, w in enumerate(words):
        last = i == len(words) - 1
        cut = last or i + 1 in starts
        if not cut:
            nxt = words[i + 1]
            timed = not (w.interpolated or nxt.interpolated)
            cut = timed and (nxt.start - w.end) >= pause_seconds
        if not cut and max_words is not None:
            cut = i + 1 - start >= max_words
        if cut and not last and joins_previous(words[i + 1].text):
            cut = False  # never between "self" and "-made"
        if cut:
            span = words[start : i + 1]
            out.append(
                Sentence(
                    index=len(out),
                    text=join_words(span),
                    start_word=start,
                    end_word=i + 1,
                    start_time=span[0].start,
                    end_time=span[-1].end,
                )
            )
            start = i + 1
    return out
