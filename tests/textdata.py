"""Real-text inputs shared by the graph, question and stage-timing checks."""

from __future__ import annotations

from conftest import shared_path

from pipeline_kit.stages._chunking import create_semantic_chunks
from pipeline_kit.stages._types import Chunk

LJ = "speech_long/ljspeech_LJ001-0001-0032_concat_16k.ref.txt"


def make_chunks(text: str, size: int = 110, overlap: int = 15) -> list[Chunk]:
    """Fixed word windows without temporal markers: chunk i+1 starts at chunk i's end - overlap."""
    return create_semantic_chunks(text, size, overlap, method="fixed", with_temporal=False)


def choi_text(n_docs: int = 5) -> str:
    """The first ``n_docs`` Choi 3-11 documents as one text (skips when shared data is absent)."""
    folder = shared_path("textseg/choi_dev/3-11")
    files = sorted(folder.glob("*.ref"), key=lambda p: int(p.stem))[:n_docs]
    return " ".join(line.strip() for f in files for line in f.read_text().splitlines()
                    if line.strip() and not line.startswith("=========="))
