"""Chunk embeddings kept beside the chunking artifacts, so a collection never re-embeds.

The chunking stage embeds every sentence once (MiniLM); a chunk's vector is the unit
mean of the sentences it overlaps (see ``stages._chunking.chunk_embeddings``). They are
stored as ``<home>/artifacts/chunk_embeddings/<fingerprint>.npy``, the fingerprint being
a sha256 of the embedder name and the chunks' word ranges and texts: the index finds a
run's vectors from its chunks alone, and other chunks never match them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline_kit.base._fs import atomic_writer
from pipeline_kit.stages._types import Chunk

FOLDER = "chunk_embeddings"
SENTENCES_SUFFIX = ".sentences.npz"


@dataclass(frozen=True)
class SentenceVectors:
    """A run's unit sentence vectors and, per chunk, the ``(first, end)`` rows of its
    sentences (an empty span for a chunk with none)."""

    vectors: np.ndarray  # (sentences, dim), float16
    spans: np.ndarray  # (chunks, 2), int32

    def __post_init__(self) -> None:
        spans = np.asarray(self.spans)
        if spans.ndim != 2 or spans.shape[1] != 2 or self.vectors.ndim != 2:
            raise ValueError("sentence vectors need a (sentences, dim) matrix and "
                             "(chunks, 2) spans")
        if len(spans) and (spans.min() < 0 or spans.max() > len(self.vectors)
                           or (spans[:, 1] < spans[:, 0]).any()):
            raise ValueError(f"chunk sentence spans must lie within the "
                             f"{len(self.vectors)} sentence vectors")
        object.__setattr__(self, "vectors", np.asarray(self.vectors, dtype=np.float16))
        object.__setattr__(self, "spans", spans.astype(np.int32))


def fingerprint(chunks: Sequence[Chunk], embedder: str) -> str:
    """sha256 of ``embedder`` and every chunk's word range and text."""
    h = hashlib.sha256(embedder.encode())
    for c in chunks:
        h.update(f"\n{c.start_word_index}:{c.end_word_index}:{c.text}".encode())
    return h.hexdigest()


def vectors_path(home: str | os.PathLike[str], chunks: Sequence[Chunk], embedder: str) -> Path:
    return Path(home) / "artifacts" / FOLDER / f"{fingerprint(chunks, embedder)}.npy"


def save_vectors(home: str | os.PathLike[str], chunks: Sequence[Chunk], embedder: str,
                 vectors: np.ndarray, sentences: SentenceVectors | None = None) -> Path:
    """Store one float32 row per chunk, and the sentence vectors when given (atomically)."""
    if vectors.shape[0] != len(chunks):
        raise ValueError(f"{vectors.shape[0]} vectors for {len(chunks)} chunks")
    if sentences is not None and len(sentences.spans) != len(chunks):
        raise ValueError(f"{len(sentences.spans)} sentence spans for {len(chunks)} chunks")
    path = vectors_path(home, chunks, embedder)
    with atomic_writer(path, durable=False) as f:
        np.save(f, np.asarray(vectors, dtype=np.float32))
    if sentences is not None:
        with atomic_writer(path.with_suffix(SENTENCES_SUFFIX), durable=False) as f:
            np.savez(f, vectors=sentences.vectors, spans=sentences.spans)
    return path


def load_vectors(home: str | os.PathLike[str], chunks: Sequence[Chunk],
                 embedder: str) -> np.ndarray | None:
    """The stored vectors of ``chunks``, or None when the run did not keep any."""
    path = vectors_path(home, chunks, embedder)
    try:
        v = np.load(path)
    except (FileNotFoundError, ValueError, OSError):
        return None
    return v if v.shape[0] == len(chunks) else None


def load_sentence_vectors(home: str | os.PathLike[str], chunks: Sequence[Chunk],
                          embedder: str) -> SentenceVectors | None:
    """The stored sentence vectors of ``chunks``, or None when the run kept none (runs
    made before they were kept, or by another chunking method)."""
    path = vectors_path(home, chunks, embedder).with_suffix(SENTENCES_SUFFIX)
    try:
        with np.load(path) as z:
            found = SentenceVectors(z["vectors"], z["spans"])
    except (FileNotFoundError, ValueError, OSError, KeyError):
        return None
    return found if len(found.spans) == len(chunks) else None
