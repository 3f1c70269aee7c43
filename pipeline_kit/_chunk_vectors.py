"""Chunk embeddings kept beside the chunking artifacts, so a collection never re-embeds.

The chunking stage embeds every sentence once (MiniLM); a chunk's vector is the unit
mean of the sentences it overlaps (see ``stages._chunking.chunk_embeddings``). They are
stored as ``<home>/artifacts/chunk_embeddings/<fingerprint>.npy``, the fingerprint being
a sha256 of the embedder name and the chunks' word ranges and texts: the index finds a
run's vectors from its chunks alone, and other chunks never match them.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline_kit._fs import atomic_write_bytes
from pipeline_kit.stages._types import Chunk

FOLDER = "chunk_embeddings"


def fingerprint(chunks: Sequence[Chunk], embedder: str) -> str:
    """sha256 of ``embedder`` and every chunk's word range and text."""
    h = hashlib.sha256(embedder.encode())
    for c in chunks:
        h.update(f"\n{c.start_word_index}:{c.end_word_index}:{c.text}".encode())
    return h.hexdigest()


def vectors_path(home: str | os.PathLike[str], chunks: Sequence[Chunk], embedder: str) -> Path:
    return Path(home) / "artifacts" / FOLDER / f"{fingerprint(chunks, embedder)}.npy"


def save_vectors(home: str | os.PathLike[str], chunks: Sequence[Chunk], embedder: str,
                 vectors: np.ndarray) -> Path:
    """Store one float32 row per chunk (atomically)."""
    if vectors.shape[0] != len(chunks):
        raise ValueError(f"{vectors.shape[0]} vectors for {len(chunks)} chunks")
    buf = io.BytesIO()
    np.save(buf, np.asarray(vectors, dtype=np.float32))
    path = vectors_path(home, chunks, embedder)
    atomic_write_bytes(path, buf.getvalue(), durable=False)
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
