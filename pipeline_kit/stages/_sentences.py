"""Sentence segmentation of a timed transcript, from punctuation and pauses.

Sentences keep the word-index range they cover, so every later stage (chunking,
chapters, questions) can map text back to word indices and audio times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline_kit.stages._types import Transcript

# Tokens ending in a period that do not end a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc e.g i.e mt ft no vol fig approx inc ltd co".split()
)
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
    """True when a token ends a sentence: final punctuation that is not an abbreviation."""
    token = token.strip()
    if not _END_RE.search(token):
        return False
    bare = token.rstrip(".!?…\"'”’)]").lower()
    if token.endswith(".") and (bare in _ABBREVIATIONS or re.fullmatch(r"[a-z]", bare)):
        return False
    return True


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


def split_sentences(
    source: Transcript | str,
    *,
    pause_seconds: float = 1.0,
    max_words: int | None = 60,
) -> list[Sentence]:
    """Split into sentences at sentence-final punctuation, long pauses and headings.

    ``pause_seconds``: a silence at least this long between two measured words ends
    a sentence even without punctuation (speech is often under-punctuated).
    ``max_words``: a run-on stretch longer than this is cut, so no "sentence" is
    unbounded; ``None`` disables the cut.
    """
    if pause_seconds <= 0:
        raise ValueError(f"pause_seconds must be positive, got {pause_seconds}")
    if max_words is not None and max_words < 1:
        raise ValueError(f"max_words must be at least 1, got {max_words}")
    t = as_transcript(source)
    words = t.words
    headings = heading_edges(t)
    out: list[Sentence] = []
    start = 0
    for i, w in enumerate(words):
        last = i == len(words) - 1
        cut = last or ends_sentence(w.text) or i in headings
        if not cut:
            nxt = words[i + 1]
            timed = not (w.interpolated or nxt.interpolated)
            cut = timed and (nxt.start - w.end) >= pause_seconds
        if not cut and max_words is not None:
            cut = i + 1 - start >= max_words
        if cut:
            span = words[start : i + 1]
            out.append(
                Sentence(
                    index=len(out),
                    text=" ".join(x.text.strip() for x in span),
                    start_word=start,
                    end_word=i + 1,
                    start_time=span[0].start,
                    end_time=span[-1].end,
                )
            )
            start = i + 1
    return out
