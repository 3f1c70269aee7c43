"""Chunking benchmarks (a script, not a test): prints tables with baselines from the same run.

1. Sweep cost: a 24-setting sweep on a ~9,000-word text against one chunking run
   (goal: sweep <= 2x one run; the model is loaded before timing starts).
2. Topic-aware chunking before/after on choi_dev: the old threshold rule
   (``straddle_topics=True``, same code, same embeddings) against the default, at the
   hard max 150 words (overlap 0 and 25) and at a size that never binds; Pk of all
   chunk boundaries and of the chunks' topic boundaries (``topic_index`` changes).
3. Quality against LangChain's and chonkie's SemanticChunker on choi_dev,
   all with the same embedder (the bundled MiniLM) and each library's defaults;
   Pk at word level (nltk, k = half the mean gold segment length). A library that is
   not installed is skipped with the reason printed.
4. Speed against LangChain's SemanticChunker (``--speed``): the same Choi 3-11
   documents chunked by each side in its own process, in ABBA order; ratio printed.

Run: HF_HUB_OFFLINE=1 PYTHONPATH=. python tests/benchmarks/bench_chunking.py [--docs 20]
Needs ../shared/data (textseg/choi_dev).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
from _common import CHOI

from pipeline_kit.stages._chunking import (
    chunk_boundaries,
    chunk_prepared,
    create_semantic_chunks,
    prepare,
    topic_boundaries,
)
from pipeline_kit.stages._embeddings import get_embedder
from pipeline_kit.stages._segmetrics import load_choi, pk, sentence_to_word_boundaries
from pipeline_kit.stages._sweep import sweep

FOLDERS = ("3-5", "6-8", "9-11", "3-11")
BIG = 10_000  # never binds (the declared maximum): only topic boundaries are compared


def _doc(folder: str, i: int) -> tuple[str, list[int]]:
    sents, bounds = load_choi(CHOI / folder / f"{i}.ref")
    return " ".join(sents), sentence_to_word_boundaries(sents, bounds)


def _timed(fn: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


# ------------------------------------------------------------------ 1. sweep vs one run


def bench_sweep() -> None:
    words: list[str] = []
    i = 0
    while len(words) < 9000:
        words += _doc("3-11", i)[0].split()
        i += 1
    text = " ".join(words[:9000])
    sizes, overlaps = [100, 150, 200, 250, 300, 400], [0, 10, 25, 50]
    print(f"\n## 1. Sweep of {len(sizes) * len(overlaps)} settings vs one run "
          f"({len(text.split())} words, Choi 3-11 docs 0-{i - 1})")
    print(f"{'method':<10} {'one run s':>10} {'sweep s':>10} {'ratio':>7}")
    for method in ("embedding", "tfidf"):
        one = _timed(lambda m=method: create_semantic_chunks(text, 150, 25, method=m))
        sw = _timed(lambda m=method: sweep(text, sizes, overlaps, m), repeat=1)
        print(f"{method:<10} {one:>10.2f} {sw:>10.2f} {sw / one:>7.2f}")


# ------------------------------------------------------------------ 2. libraries on Choi


def _ours(method: str) -> Callable[[str], list[int]]:
    def run(text: str) -> list[int]:
        return chunk_boundaries(create_semantic_chunks(text, BIG, 0, method=method,
                                                       with_temporal=False))
    return run


def _word_starts(pieces: list[str]) -> list[int]:
    out, n = [], 0
    for p in pieces[:-1]:
        n += len(p.split())
        out.append(n)
    return out


def _langchain() -> Callable[[str], list[int]] | str:
    try:
        from langchain_core.embeddings import Embeddings
        from langchain_experimental.text_splitter import SemanticChunker
    except ImportError as e:
        return f"langchain-experimental not installed ({e})"
    model = get_embedder(None)

    class Wrapped(Embeddings):
        def embed_documents(self, texts):
            return model.encode(texts).tolist()

        def embed_query(self, text):
            return model.encode([text])[0].tolist()

    splitter = SemanticChunker(Wrapped())  # defaults: percentile 95, buffer_size 1

    def run(text: str) -> list[int]:
        return _word_starts(splitter.split_text(text))
    return run


def _chonkie() -> Callable[[str], list[int]] | str:
    try:
        from chonkie import SemanticChunker
        from chonkie.embeddings import SentenceTransformerEmbeddings
    except ImportError as e:
        return f"chonkie not installed ({e})"
    model = get_embedder(None)
    st = SentenceTransformerEmbeddings(model._model)  # type: ignore[attr-defined]
    chunker = SemanticChunker(embedding_model=st, chunk_size=BIG)  # other defaults

    def run(text: str) -> list[int]:
        return [len(text[:c.start_index].split()) for c in chunker.chunk(text)[1:]]
    return run


# ------------------------------------------------------------------ 2. before / after


def bench_topics(n_docs: int) -> None:
    settings = [(150, 0), (150, 25), (BIG, 0)]
    print(f"\n## 2. Topic-aware chunks, Choi dev, {n_docs} docs per folder (MiniLM; "
          "before = straddle_topics=True, the old threshold rule)")
    print(f"{'folder':<6} {'rule':<7} " + " ".join(f"{f'all {c}/{o}':>13}" for c, o in settings)
          + f" {'topics 150/25':>14} {'max words':>9}")
    for folder in FOLDERS:
        rows: dict[str, list[list[float]]] = {"before": [], "after": []}
        biggest = {"before": 0, "after": 0}
        for i in range(n_docs):
            text, gold = _doc(folder, i)
            n = len(text.split())
            prep = prepare(text, "embedding")
            for rule, straddle in (("before", True), ("after", False)):
                vals = []
                for cs, ov in settings:
                    ch = chunk_prepared(prep, cs, ov, with_temporal=False,
                                        straddle_topics=straddle)
                    vals.append(pk(gold, chunk_boundaries(ch), n))
                    if (cs, ov) == (150, 25):
                        vals.append(pk(gold, topic_boundaries(ch), n) if not straddle
                                    else float("nan"))
                        biggest[rule] = max(biggest[rule], max(c.word_count for c in ch))
                rows[rule].append([vals[0], vals[1], vals[3], vals[2]])
        for rule, vals in rows.items():
            m = np.mean(vals, axis=0)
            print(f"{folder:<6} {rule:<7} " + " ".join(f"{v:>13.3f}" for v in m[:3])
                  + f" {m[3]:>14.3f} {biggest[rule]:>9}")


# ------------------------------------------------------------------ 3. libraries on Choi


def bench_libraries(n_docs: int) -> None:
    get_embedder(None).encode(["warm up"])
    systems: dict[str, Callable[[str], list[int]] | str] = {
        "pipeline_kit embedding": _ours("embedding"),
        "pipeline_kit tfidf": _ours("tfidf"),
        "fixed 150 words": lambda t: list(range(150, len(t.split()), 150)),
        "langchain SemanticChunker": _langchain(),
        "chonkie SemanticChunker": _chonkie(),
    }
    print(f"\n## 3. Choi dev, {n_docs} docs per folder, MiniLM for all embedding methods")
    for name, fn in systems.items():
        if isinstance(fn, str):
            print(f"SKIP {name}: {fn}")
    live = {k: v for k, v in systems.items() if not isinstance(v, str)}
    print(f"{'system':<27} " + " ".join(f"{'Pk ' + f:>9}" for f in FOLDERS)
          + f" {'Pk all':>7} {'s/doc':>7} {'chunks':>7}")
    for name, fn in live.items():
        pks, secs, counts, cols = [], [], [], []
        for folder in FOLDERS:
            fp = []
            for i in range(n_docs):
                text, gold = _doc(folder, i)
                t0 = time.perf_counter()
                hyp = fn(text)  # type: ignore[operator]
                secs.append(time.perf_counter() - t0)
                counts.append(len(hyp) + 1)
                fp.append(pk(gold, hyp, len(text.split())))
            cols.append(np.mean(fp))
            pks += fp
        print(f"{name:<27} " + " ".join(f"{c:>9.3f}" for c in cols)
              + f" {np.mean(pks):>7.3f} {np.mean(secs):>7.3f} {np.mean(counts):>7.1f}")


# ------------------------------------------------------------------ 4. speed, ABBA


def _time_side(side: str, n_docs: int) -> float:
    """Seconds one side takes to chunk the first ``n_docs`` Choi 3-11 documents."""
    texts = [_doc("3-11", i)[0] for i in range(n_docs)]
    get_embedder(None).encode(["warm up"])  # model loading is not what is measured
    if side == "ours":
        def fn(t: str) -> object:
            return create_semantic_chunks(t, 150, 25, with_temporal=False)
    else:
        lc = _langchain()
        if isinstance(lc, str):
            raise SystemExit(lc)
        fn = lc
    t0 = time.perf_counter()
    for t in texts:
        fn(t)
    return time.perf_counter() - t0


def bench_speed(n_docs: int) -> None:
    print(f"\n## 4. Speed vs LangChain SemanticChunker, Choi 3-11 docs 0-{n_docs - 1}, "
          "same MiniLM, each side in its own process, ABBA")
    times: dict[str, list[float]] = {"ours": [], "langchain": []}
    for side in ("ours", "langchain", "langchain", "ours"):
        out = subprocess.run([sys.executable, __file__, "--time-side", side,
                              "--docs", str(n_docs)], capture_output=True, text=True,
                             check=True)
        times[side].append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
        print(f"{side:<10} {times[side][-1]:>8.2f} s", flush=True)
    ratio = np.mean(times["langchain"]) / np.mean(times["ours"])
    print(f"pipeline_kit is {ratio:.2f}x faster than LangChain SemanticChunker (goal >= 2.5x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=20, help="documents per Choi folder (max 50)")
    ap.add_argument("--skip-sweep", action="store_true")
    ap.add_argument("--only", choices=("sweep", "topics", "libraries", "speed"),
                    help="run one part only")
    ap.add_argument("--time-side", choices=("ours", "langchain"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not CHOI.is_dir():
        raise SystemExit(f"shared data not found: {CHOI}")
    if args.time_side:
        print(json.dumps({"seconds": _time_side(args.time_side, args.docs)}))
        return
    get_embedder(None).encode(["warm up"])  # model loading is not what is measured
    if args.only in (None, "sweep") and not args.skip_sweep:
        bench_sweep()
    if args.only in (None, "topics"):
        bench_topics(args.docs)
    if args.only in (None, "libraries"):
        bench_libraries(args.docs)
    if args.only in (None, "speed"):
        bench_speed(args.docs)


if __name__ == "__main__":
    main()
