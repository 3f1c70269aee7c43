"""The spaCy parse of a transcript, made once and shared by every stage.

:func:`parsed` parses the transcript's display text (:func:`~._text.join_words` of
its words) and keeps, for every token, the index of the transcript word it lies in,
so sentences, entities and noun chunks map back to word indices and audio times.
Parses are cached in the process by a hash of the words and of the model files, and
can be stored beside a run's artifacts as a JSON token table (:meth:`ParsedTranscript.
to_dict`; never pickle) and rebuilt without running the model (:func:`from_dict`).
"""

from __future__ import annotations

import bisect
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline_kit.base._models import resolve_spacy_model
from pipeline_kit.stages._nlp import nlp
from pipeline_kit.stages._text import join_words, word_offsets
from pipeline_kit.stages._types import Transcript

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span

FORMAT = 1  # version of the token table written by to_dict
_CACHE_SIZE = 8
_cache: OrderedDict[str, ParsedTranscript] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class ParsedTranscript:
    """A transcript's spaCy ``doc`` and, per token, the transcript word it lies in.

    ``word_of_token[i]`` is the word index of ``doc[i]``; ``word_starts[w]`` the
    character where word ``w`` starts in ``doc.text``. ``key`` identifies the words
    and the model (see :func:`parse_key`).
    """

    doc: Doc
    word_of_token: tuple[int, ...]
    word_starts: tuple[int, ...]
    key: str

    def word_index(self, token_index: int) -> int:
        """The transcript word of token ``token_index``."""
        return self.word_of_token[token_index]

    def word_span(self, span: Span) -> tuple[int, int]:
        """Words ``[start, end)`` covered by a spaCy span (sentence, entity, noun chunk)."""
        return self.word_of_token[span.start], self.word_of_token[span.end - 1] + 1

    def starts_word(self, token_index: int) -> bool:
        """True when token ``token_index`` begins its word (not the inside of "self-made")."""
        tok = self.doc[token_index]
        return self.word_starts[self.word_of_token[token_index]] == tok.idx

    def to_dict(self) -> dict[str, Any]:
        """A JSON token table: enough to rebuild the doc without running the model."""
        d = self.doc
        return {
            "format": FORMAT, "key": self.key,
            "words": [t.text for t in d], "spaces": [bool(t.whitespace_) for t in d],
            "tags": [t.tag_ for t in d], "pos": [t.pos_ for t in d],
            "morphs": [str(t.morph) for t in d], "lemmas": [t.lemma_ for t in d],
            "heads": [t.head.i for t in d], "deps": [t.dep_ for t in d],
            "sent_starts": [bool(t.is_sent_start) for t in d],
            "ents": [[e.start, e.end, e.label_] for e in d.ents],
            "word_of_token": list(self.word_of_token), "word_starts": list(self.word_starts),
        }


def from_dict(data: dict[str, Any], model: str | os.PathLike[str] | None = None
              ) -> ParsedTranscript:
    """Rebuild a :class:`ParsedTranscript` from :meth:`ParsedTranscript.to_dict`."""
    from spacy.tokens import Doc, Span

    if data.get("format") != FORMAT:
        raise ValueError(f"parse table format {data.get('format')!r}, expected {FORMAT}")
    vocab = nlp(model).vocab
    doc = Doc(vocab, words=data["words"], spaces=data["spaces"], tags=data["tags"],
              pos=data["pos"], morphs=data["morphs"], lemmas=data["lemmas"],
              heads=data["heads"], deps=data["deps"], sent_starts=data["sent_starts"])
    doc.ents = [Span(doc, a, b, label=label) for a, b, label in data["ents"]]
    return ParsedTranscript(doc, tuple(data["word_of_token"]), tuple(data["word_starts"]),
                            data["key"])


def _words(t: Transcript) -> list[str]:
    return [w.text.strip() for w in t.words]


def parse_key(transcript: Transcript, model: str | os.PathLike[str] | None = None) -> str:
    """sha256 of the transcript's words and the spaCy model's files (name and hash)."""
    m = resolve_spacy_model(model)
    h = hashlib.sha256()
    h.update(f"{m.name}\0{m.weights_sha256}\0".encode())
    h.update("\0".join(_words(transcript)).encode())
    return h.hexdigest()


def _map_tokens(doc: Doc, starts: Sequence[int]) -> tuple[int, ...]:
    """Each token's word: the last word starting at or before the token's first char."""
    return tuple(max(0, bisect.bisect_right(starts, t.idx) - 1) for t in doc)


def parse_words(words: Sequence[str], model: str | os.PathLike[str] | None = None,
                key: str = "") -> ParsedTranscript:
    """Parse the display text of ``words`` (no cache)."""
    offsets = word_offsets(words)
    starts = tuple(a for a, _ in offsets)
    doc = nlp(model)(join_words(words))
    return ParsedTranscript(doc, _map_tokens(doc, starts), starts, key)


def parsed(transcript: Transcript, model: str | os.PathLike[str] | None = None
           ) -> ParsedTranscript:
    """The parse of ``transcript`` with ``model`` (default en_core_web_sm), made once.

    Later calls with the same words and model return the same object (an in-process
    cache of the last few transcripts, keyed by :func:`parse_key`).
    """
    key = parse_key(transcript, model)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    result = parse_words(_words(transcript), model, key)
    remember(result)
    return result


def remember(result: ParsedTranscript) -> None:
    """Put a parse in the in-process cache (e.g. one loaded from a run's artifacts)."""
    with _cache_lock:
        _cache[result.key] = result
        _cache.move_to_end(result.key)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)


def parser_identity(model: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The spaCy model a parse comes from (name and hash), for artifact keys."""
    m = resolve_spacy_model(model)
    return {"name": m.name, "sha256": m.weights_sha256}
