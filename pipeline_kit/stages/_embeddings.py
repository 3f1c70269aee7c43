"""Sentence embedders: the bundled MiniLM (sentence-transformers) and a model-free TF-IDF/LSA.

Every embedder returns L2-normalised float32 rows, so a dot product is a cosine.
Loaded models are cached per process: loading MiniLM costs seconds, encoding is cheap.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from pipeline_kit.base._models import resolve_embedding_model


@runtime_checkable
class Embedder(Protocol):
    """Anything with a ``name`` and ``encode(texts) -> (n, d) normalised array``."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Scale rows to unit length (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


# On CPU, small batches waste less on padding: MiniLM encodes 373 Choi sentences
# (sorted by length, as sentence-transformers does) 2.7x faster in batches of 8 than
# of 64, and texts of three sentences 1.6x faster. Larger batches pay off on a GPU.
CPU_BATCH_SIZE = 8
GPU_BATCH_SIZE = 64


class SentenceTransformerEmbedder:
    """A sentence-transformers model, resolved offline (bundled MiniLM by default)."""

    def __init__(self, model: str | None = None, device: str = "cpu",
                 batch_size: int | None = None) -> None:
        resolved = resolve_embedding_model(model)
        from sentence_transformers import SentenceTransformer

        self.name = resolved.name
        self.path = resolved.path
        self.batch_size = batch_size or (CPU_BATCH_SIZE if device == "cpu" else GPU_BATCH_SIZE)
        self._model = SentenceTransformer(str(resolved.path), device=device)
        self._lock = threading.Lock()  # torch modules are not safe to call concurrently

    @property
    def max_words(self) -> int:
        """Rough word budget before the model truncates (≈ 0.75 words per token)."""
        return int(getattr(self._model, "max_seq_length", 256) * 0.75)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            out = self._model.encode(
                list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                normalize_embeddings=True, show_progress_bar=False,
            )
        return np.asarray(out, dtype=np.float32)


class TfidfEmbedder:
    """TF-IDF (optionally reduced with LSA) fitted on the texts it is asked to encode.

    Model-free and fast; the vocabulary is the document itself, which suits
    segmenting one transcript at a time.
    """

    name = "tfidf-lsa"

    def __init__(self, n_components: int | None = 100, ngram_range: tuple[int, int] = (1, 1),
                 stop_words: str | None = "english") -> None:
        if n_components is not None and n_components < 1:
            raise ValueError(f"n_components must be at least 1 or None, got {n_components}")
        self.n_components = n_components
        self.ngram_range = ngram_range
        self.stop_words = stop_words

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        # The matrices are small: one BLAS thread is several times faster than many
        # threads competing for the cores (and keeps results bit-identical).
        with threadpool_limits(1):
            return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(ngram_range=self.ngram_range, stop_words=self.stop_words,
                              sublinear_tf=True)
        try:
            x = vec.fit_transform(texts)
        except ValueError:  # only stop words / empty vocabulary
            return np.zeros((len(texts), 1), dtype=np.float32)
        k = self.n_components
        if k is not None and min(x.shape) > k + 1:
            x = TruncatedSVD(n_components=k, random_state=0).fit_transform(x)
        else:
            x = x.toarray()
        return normalize_rows(x)


_cache: dict[tuple[str | None, str], SentenceTransformerEmbedder] = {}
_cache_lock = threading.Lock()


def get_embedder(embedder: Embedder | str | None = None, device: str = "cpu") -> Embedder:
    """Return an embedder: an object as is, ``"tfidf"``, or a model name/path (cached).

    ``None`` is the bundled all-MiniLM-L6-v2, loaded once per process.
    """
    if embedder is not None and not isinstance(embedder, str):
        if not isinstance(embedder, Embedder):
            raise TypeError("embedder must have a name and an encode(texts) method")
        return embedder
    if embedder in ("tfidf", "tfidf-lsa", "lsa"):
        return TfidfEmbedder()
    key = (embedder, device)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = SentenceTransformerEmbedder(embedder, device=device)
        return _cache[key]


def loaded_embedder(embedder: str | None = None, device: str = "cpu"
                    ) -> SentenceTransformerEmbedder | None:
    """The model ``get_embedder(embedder, device)`` would return if this process has
    loaded it already, else None (nothing is loaded)."""
    with _cache_lock:
        return _cache.get((embedder, device))


_EMB_CACHE: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_EMB_CACHE_MAX = 20000


def encode_cached(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Encode ``texts`` in one batch, reusing rows encoded before by the same embedder."""
    name = str(getattr(embedder, "name", type(embedder).__name__))
    if name.startswith("tfidf"):  # fitted on its input: rows depend on the batch
        return normalize_rows(embedder.encode(list(texts)))
    missing = list(dict.fromkeys(t for t in texts if (name, t) not in _EMB_CACHE))
    if missing:
        rows = normalize_rows(embedder.encode(missing))
        for t, row in zip(missing, rows, strict=True):
            _EMB_CACHE[(name, t)] = row
        while len(_EMB_CACHE) > _EMB_CACHE_MAX:
            _EMB_CACHE.popitem(last=False)
    for t in texts:
        _EMB_CACHE.move_to_end((name, t))
    return np.stack([_EMB_CACHE[(name, t)] for t in texts]) if texts else np.zeros((0, 0))
