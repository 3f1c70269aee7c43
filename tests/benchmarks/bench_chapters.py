"""Benchmark: topic segmentation on Choi (2000) choi_dev, number of segments not given.

For each folder (3-5, 6-8, 9-11, 3-11; 50 documents each) prints mean Pk and
WindowDiff (nltk definitions, k = half the mean reference segment length) and the
time per document of:

* ``hybrid``   – :func:`segment_sentences` default (TF-IDF + MiniLM modularity DP);
  the time includes encoding the document's sentences with MiniLM (model loaded once);
* ``lexical``  – the same DP on TF-IDF alone (model-free);
* ``texttiling`` – nltk's TextTilingTokenizer (each sentence given as a paragraph);
* ``threshold`` – cut where the TF-IDF cosine of the 3 sentences before and after a
  gap falls below a fixed 0.05 (a simple fixed-threshold baseline);
* ``equal (oracle n)`` – equal-size segments with the true number of segments, for
  scale only (it is given the count the other methods must find).

Hyper-parameters of hybrid/lexical were tuned on 3-5, 6-8 and 9-11; 3-11 was only
measured. Prints a table; asserts nothing.
Run: ``HF_HUB_OFFLINE=1 PYTHONPATH=. python tests/benchmarks/bench_chapters.py [--folders 3-11]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from _common import CHOI

from pipeline_kit.stages._segmentation import (
    lexical_vectors,
    segment_sentences,
)
from pipeline_kit.stages._segmetrics import load_choi, pk, windowdiff

FOLDERS = ("3-5", "6-8", "9-11", "3-11")

Segmenter = Callable[[list[str], int], list[int]]


def load_folder(folder: str) -> list[tuple[list[str], list[int]]]:
    files = sorted((CHOI / folder).glob("*.ref"), key=lambda p: int(p.stem))
    return [load_choi(p) for p in files]


def texttiling(sentences: list[str], _: int) -> list[int]:
    """nltk TextTiling over sentences-as-paragraphs; boundaries mapped back to sentences."""
    from nltk.tokenize.texttiling import TextTilingTokenizer
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    tt = TextTilingTokenizer(stopwords=sorted(ENGLISH_STOP_WORDS))
    try:
        tiles = tt.tokenize("\n\n".join(sentences))
    except ValueError:  # too short to tile
        return []
    out, count = [], 0
    for tile in tiles[:-1]:
        count += len([p for p in tile.split("\n\n") if p.strip()])
        out.append(count)
    return [b for b in out if 0 < b < len(sentences)]


def threshold(sentences: list[str], _: int, window: int = 3, cut: float = 0.05) -> list[int]:
    x = lexical_vectors(sentences).toarray()
    out = []
    for b in range(1, len(sentences)):
        left, right = x[max(0, b - window):b].sum(0), x[b:b + window].sum(0)
        den = np.linalg.norm(left) * np.linalg.norm(right)
        if den == 0 or left @ right / den < cut:
            out.append(b)
    return out


def equal(sentences: list[str], n_segments: int) -> list[int]:
    n = len(sentences)
    return sorted({round(i * n / n_segments) for i in range(1, n_segments)} - {0, n})


def timed(fn: Segmenter, docs: Sequence[tuple[list[str], list[int]]],
          ) -> Iterator[tuple[list[int], list[int], int, float]]:
    """(gold starts, predicted starts, sentences, seconds) per document; the segmenter is
    told the gold count (the baselines need it, the others ignore it)."""
    for sentences, ref in docs:
        t = time.perf_counter()
        hyp = fn(sentences, len(ref) + 1)
        yield ref, hyp, len(sentences), time.perf_counter() - t


def run(name: str, fn: Segmenter, docs: Sequence[tuple[list[str], list[int]]]) -> dict:
    rows = list(timed(fn, docs))
    return {"name": name, "pk": statistics.mean(pk(r, h, n) for r, h, n, _ in rows),
            "wd": statistics.mean(windowdiff(r, h, n) for r, h, n, _ in rows),
            "sec": statistics.mean(s for *_, s in rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folders", nargs="+", default=list(FOLDERS))
    ap.add_argument("--no-embeddings", action="store_true", help="skip the hybrid method")
    args = ap.parse_args()
    if not CHOI.is_dir():
        sys.exit(f"Choi data not found at {CHOI}")
    methods: list[tuple[str, Segmenter]] = []
    if not args.no_embeddings:
        from pipeline_kit.stages._embeddings import get_embedder

        get_embedder(None)  # load MiniLM once, outside the timings
        methods.append(("hybrid", lambda s, _: segment_sentences(s)))
    methods += [
        ("lexical", lambda s, _: segment_sentences(s, method="lexical")),
        ("texttiling", texttiling),
        ("threshold", threshold),
        ("equal (oracle n)", equal),
    ]
    print(f"{'folder':7} {'method':17} {'Pk':>6} {'WD':>6} {'s/doc':>7}")
    for folder in args.folders:
        docs = load_folder(folder)
        for name, fn in methods:
            r = run(name, fn, docs)
            print(f"{folder:7} {name:17} {r['pk']:6.3f} {r['wd']:6.3f} {r['sec']:7.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
