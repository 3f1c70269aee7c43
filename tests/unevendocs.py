"""Uneven real-text documents built from Choi (2000) gold segments, for segmentation checks.

Choi documents have segments of similar length (3-5, 6-8 or 9-11 sentences). Real texts
(manifestos, lectures) mix one-sentence items with long sections. Each document built here
joins six whole gold segments (two from each of the folders 3-5, 6-8, 9-11) and four short
ones (the first one or two sentences of a further gold segment), in a seeded random order.
Every segment comes from a different gold segment, so every join is a topic boundary.
"""

from __future__ import annotations

import random
from pathlib import Path

from pipeline_kit.stages._segmetrics import load_choi

FOLDERS = ("3-5", "6-8", "9-11")
Document = tuple[list[str], list[int]]  # sentences, indices where a new segment starts


def gold_segments(folder: Path) -> list[list[str]]:
    """Every gold segment (its sentences) of the Choi documents in ``folder``, in file order."""
    out = []
    for path in sorted(folder.glob("*.ref"), key=lambda p: int(p.stem)):
        sentences, starts = load_choi(path)
        edges = [0, *starts, len(sentences)]
        out += [sentences[a:b] for a, b in zip(edges, edges[1:], strict=False)]
    return out


def uneven_documents(choi_dir: Path, n_docs: int = 20, seed: int = 7) -> list[Document]:
    """``n_docs`` documents of 10 segments each, 4 of them only 1-2 sentences long."""
    rng = random.Random(seed)
    pools = {f: gold_segments(choi_dir / f) for f in FOLDERS}
    used: set[tuple[str, int]] = set()

    def draw(folder: str) -> list[str]:
        while True:
            i = rng.randrange(len(pools[folder]))
            if (folder, i) not in used:
                used.add((folder, i))
                return pools[folder][i]

    docs = []
    for _ in range(n_docs):
        parts = [draw(f) for f in FOLDERS * 2]
        parts += [draw(rng.choice(FOLDERS))[: rng.choice((1, 2))] for _ in range(4)]
        rng.shuffle(parts)
        sentences: list[str] = []
        starts: list[int] = []
        for part in parts:
            if sentences:
                starts.append(len(sentences))
            sentences += part
        docs.append((sentences, starts))
    return docs


def short_segments_found(starts: list[int], predicted: list[int], n: int,
                         shorter_than: int = 3) -> tuple[int, int]:
    """(found, total) gold segments under ``shorter_than`` sentences whose both ends are
    predicted exactly (the start and end of the text count as predicted)."""
    edges = [0, *starts, n]
    cuts = {0, n, *predicted}
    short = [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b - a < shorter_than]
    return sum(a in cuts and b in cuts for a, b in short), len(short)
