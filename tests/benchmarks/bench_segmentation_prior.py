"""Benchmark: segment-length prior of :func:`segment_sentences`, fixed vs estimated.

On Choi 3-11 (50 documents, even segments) and on 20 uneven documents built from Choi
gold segments (``tests/unevendocs.py``: 6 long segments and 4 of only 1-2 sentences
each), prints mean Pk and WindowDiff (nltk, k = half the mean gold segment length), the
short gold segments found (both ends exact), boundaries per document, and the
segmentation time per document (sentence embeddings computed once per document, shared
by both priors, outside the timings), for:

* ``fixed``      – ``prior="fixed"`` (every segment ≥ ``min_length`` = 3 sentences);
* ``estimated``  – ``prior="estimated"`` (shorter segments, down to one sentence, where
  they are stable across the resolution, label-free);
* ``estimated, 2+`` – the same with ``min_short=2`` (no one-sentence segment);
* ``no boundary`` – one segment;
* ``even (oracle n)`` – equal-size segments with the gold number of segments (it is
  given the count the others must find).

Prints a table; asserts nothing.
Run: ``HF_HUB_OFFLINE=1 PYTHONPATH=. python tests/benchmarks/bench_segmentation_prior.py``
``--folders 3-5 6-8 9-11 3-11`` for every Choi folder (default: 3-11).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Sequence

import numpy as np
from _common import CHOI  # first: puts tests/ on sys.path for unevendocs
from bench_chapters import equal as even
from bench_chapters import timed
from unevendocs import short_segments_found, uneven_documents

from pipeline_kit.stages._segmentation import embed_sentences, segment_sentences
from pipeline_kit.stages._segmetrics import load_choi, pk, windowdiff

Doc = tuple[list[str], list[int]]
Segmenter = Callable[[list[str], int], list[int]]


class Precomputed:
    """An embedder answering from embeddings computed once for the document."""

    def __init__(self, sentences: list[str], vectors: np.ndarray) -> None:
        self.rows = {s: v for s, v in zip(sentences, vectors, strict=True)}
        self.name = "MiniLM (precomputed)"

    def encode(self, sentences: list[str]) -> np.ndarray:
        return np.stack([self.rows[s] for s in sentences])


def run(fn: Segmenter, docs: Sequence[Doc]) -> dict[str, float]:
    rows = list(timed(fn, docs))
    found = [short_segments_found(r, h, n) for r, h, n, _ in rows]
    return {"pk": statistics.mean(pk(r, h, n) for r, h, n, _ in rows),
            "wd": statistics.mean(windowdiff(r, h, n) for r, h, n, _ in rows),
            "found": sum(f for f, _ in found), "short": sum(s for _, s in found),
            "cuts": statistics.mean(len(h) for _, h, _, _ in rows),
            "gold": statistics.mean(len(r) for _, r in docs),
            "sec": statistics.mean(s for *_, s in rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=20, help="uneven documents to build")
    ap.add_argument("--folders", nargs="+", default=["3-11"], help="Choi folders")
    args = ap.parse_args()
    if not CHOI.is_dir():
        sys.exit(f"Choi data not found at {CHOI}")
    sets = {f"choi {f}": [load_choi(p) for p in sorted((CHOI / f).glob("*.ref"),
                                                      key=lambda p: int(p.stem))]
            for f in args.folders}
    sets["uneven"] = uneven_documents(CHOI, n_docs=args.docs)
    print(f"{'set':10} {'method':16} {'Pk':>6} {'WD':>6} {'short found':>11} "
          f"{'cuts/doc':>8} {'gold':>5} {'s/doc':>6}")
    for set_name, docs in sets.items():
        vectors = {id(s): embed_sentences(s, "hybrid", None) for s, _ in docs}

        def with_prior(prior: str, min_short: int = 1,
                       vectors: dict[int, np.ndarray] = vectors) -> Segmenter:
            return lambda sents, _: segment_sentences(
                sents, embedder=Precomputed(sents, vectors[id(sents)]), prior=prior,
                min_short=min_short)

        methods: list[tuple[str, Segmenter]] = [
            ("fixed", with_prior("fixed")), ("estimated", with_prior("estimated")),
            ("estimated, 2+", with_prior("estimated", 2)),
            ("no boundary", lambda s, _: []), ("even (oracle n)", even)]
        for name, fn in methods:
            r = run(fn, docs)
            print(f"{set_name:10} {name:16} {r['pk']:6.3f} {r['wd']:6.3f} "
                  f"{r['found']:>5}/{r['short']:<5} {r['cuts']:8.1f} {r['gold']:5.1f} "
                  f"{r['sec']:6.3f}", flush=True)


if __name__ == "__main__":
    main()
