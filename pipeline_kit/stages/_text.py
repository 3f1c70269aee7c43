"""Display text rebuilt from transcript words: the one place words become text.

Whisper emits the second part of a hyphenated word as a word of its own that starts
with the hyphen ("self", "-substantial"); tokenised text has stand-alone punctuation
("January , 1946") and split contractions ("do", "n't"). Every view that shows the text
of a word range (chunks, chapters, questions, snippets, subtitle cues, notebook views)
joins its words here, so each shows what the transcript's own text shows over the
same words ("self-substantial", never "self -substantial").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

# A word that continues the one before it, with no space between them: a hyphenated
# part ("-substantial", "--ask"), a contraction's second half, or closing punctuation.
_ATTACH_BEFORE = re.compile(
    r"(?:-+[^\W_]|n['’]t$|['’](?:s|t|re|ve|ll|d|m)$|[.,;:!?%)\]}”’…]+$|''$)", re.I)
# Words ending in a period after which no sentence ends: titles before a name and
# reference abbreviations before what they refer to.
_ABBREVIATIONS = frozenset(
    "mr mrs ms messrs dr prof st sen rep gov gen col lt capt sgt rev hon pres supt mt ft "
    "e.g i.e cf vs viz fig figs no nos vol vols pp p approx ca b.c a.d".split()
)
# Opening punctuation that sticks to the word after it.
_ATTACH_AFTER = frozenset({"(", "[", "{", "“", "‘", "``"})


class HasText(Protocol):
    """A transcript word (anything with a ``text``)."""

    @property
    def text(self) -> str: ...


def _texts(words: Iterable[str | HasText]) -> list[str]:
    return [(w if isinstance(w, str) else w.text).strip() for w in words]


def joins_previous(word: str) -> bool:
    """True when ``word`` is written against the word before it, without a space."""
    return bool(_ATTACH_BEFORE.match(word))


def is_abbreviation(word: str) -> bool:
    """True for a word that is a title or reference abbreviation ("Sen.", "e.g.", "B.C.")
    or an initial ("L."): no sentence ends after it."""
    w = word.strip().strip("\"'“”‘’()[]")
    if not w.endswith("."):
        return False
    bare = w[:-1].lower()
    return bare in _ABBREVIATIONS or bool(re.fullmatch(r"[a-z]", bare))


def word_pieces(words: Iterable[str | HasText]) -> list[tuple[str, str]]:
    """Each word with the separator written before it ("" or " "): for views that
    render words one by one (clickable word spans) yet must read like the text."""
    texts = _texts(words)
    out: list[tuple[str, str]] = []
    prev = ""  # the last non-empty word
    for w in texts:
        glued = not prev or not w or joins_previous(w) or prev in _ATTACH_AFTER
        out.append((w, "" if glued else " "))
        prev = w or prev
    return out


def word_offsets(words: Iterable[str | HasText]) -> list[tuple[int, int]]:
    """Character span ``[start, end)`` of each word in :func:`join_words` of ``words``."""
    out: list[tuple[int, int]] = []
    pos = 0
    for w, sep in word_pieces(words):
        pos += len(sep)
        out.append((pos, pos + len(w)))
        pos += len(w)
    return out


def join_words(words: Iterable[str | HasText]) -> str:
    """The display text of consecutive transcript words (or word strings).

    Words are separated by one space, except that a hyphenated part ("-substantial"),
    a contraction's second half ("n't", "'s") and closing punctuation join the word
    before them, and opening brackets join the word after them. Empty words add nothing.
    """
    return "".join(sep + w for w, sep in word_pieces(words))


_HYPHEN_CUT = re.compile(r"(?<=[^\s-])(?=-+[^\W_])")
_CONTRACTION_CUT = re.compile(r"(?=(?:n['’]t|['’](?:s|t|re|ve|ll|d|m))$)", re.I)
_CLOSING_RUN = re.compile(r"(?:[.,;:!?%)\]}”’…]|'')+$")


def _cuts(token: str) -> list[tuple[int, int]]:
    """(kind, position) of the places a token may have been glued: hyphen parts first,
    then contractions, then closing punctuation, then opening brackets."""
    found = [(0, m.start()) for m in _HYPHEN_CUT.finditer(token)]
    found += [(1, m.start()) for m in _CONTRACTION_CUT.finditer(token) if m.start() > 0][:1]
    tail = _CLOSING_RUN.search(token)
    if tail:  # every place inside a closing run: "below)." may be "below", ")", "."
        found += [(2, p) for p in range(max(tail.start(), 1), len(token))
                  if token[p - 1:p + 1] != "''"]
    found += [(3, len(p)) for p in sorted(_ATTACH_AFTER, key=len, reverse=True)
              if token.startswith(p) and len(token) > len(p)][:1]
    return found


def split_text(text: str, n_words: int | None = None) -> list[str]:
    """The words of a :func:`join_words` text, when only the text was kept.

    Without ``n_words`` this splits at spaces. With it, glued words are split apart
    again until there are ``n_words``: hyphenated parts first (as Whisper emits
    them), then contractions, then punctuation. Raises ValueError when the text
    cannot hold that many words.
    """
    tokens = text.split()
    if n_words is None or len(tokens) == n_words:
        return tokens
    need = n_words - len(tokens)
    cands = sorted((kind, i, pos) for i, t in enumerate(tokens) for kind, pos in _cuts(t))
    if need < 0 or len(cands) < need:
        raise ValueError(f"text has {len(tokens)} space-separated words, which cannot be "
                         f"split into {n_words} words: {text[:80]!r}")
    chosen: dict[int, list[int]] = {}
    for _, i, pos in cands[:need]:
        chosen.setdefault(i, []).append(pos)
    out: list[str] = []
    for i, t in enumerate(tokens):
        edges = [0, *sorted(set(chosen.get(i, ()))), len(t)]
        out += [t[a:b] for a, b in zip(edges, edges[1:], strict=False) if b > a]
    if len(out) != n_words:
        raise ValueError(f"text cannot be split into {n_words} words: {text[:80]!r}")
    return out
