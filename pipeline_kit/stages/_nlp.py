"""The one English language pipeline (spaCy), loaded once per process and model.

Sentences, tokens with POS, lemmas and stop flags, noun chunks, entities and the
dependency parse all come from here; nothing else in the package loads spaCy.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

from pipeline_kit.base._models import resolve_spacy_model

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

_lock = threading.Lock()


@lru_cache(maxsize=2)
def _load(path: str) -> Language:
    import spacy

    return spacy.load(path)


def nlp(model: str | os.PathLike[str] | None = None) -> Language:
    """The spaCy pipeline of ``model`` (default: the bundled en_core_web_sm), loaded once."""
    path = str(resolve_spacy_model(model).path)
    with _lock:  # one load per model even when stages start together
        return _load(path)


def parse(text: str, model: str | os.PathLike[str] | None = None) -> Doc:
    """Parse ``text`` with the shared pipeline."""
    return nlp(model)(text)
