"""Collection scale benchmark (a script, not a test): 10 -> 100 -> 1,000 recordings.

Recordings are synthesized by replicating real text (the Choi part-1 documents of
``../shared/data/textseg/choi_dev``, chunked as the pipeline does with
``method="fixed"``, 60 words, overlap 10) with varied words: each chunk of a
synthetic recording is a real chunk with 20 % of its words replaced by other words of
the corpus, and its vector is the real chunk's MiniLM vector plus noise (cosine
about 0.9), so nothing is embedded while indexing, as in the pipeline (runs store
their vectors). Its 3-4 sentence vectors (float16, the last one shared with the next
chunk, as overlapping chunks share sentences) are its vector plus more noise (cosine
about 0.7): semantic search scores its best 100 chunks by their best sentence. Each
recording has ``--chunks`` chunks (500: 500,000 at 1,000), a words table and chunk rows.

Per size, in separate processes:

* build: index build time (synthesis excluded), chunks/s, index size on disk,
  peak memory (ru_maxrss);
* search (ours): load time, then p50/p95 latency of keyword, semantic and hybrid
  queries (query embedding included), peak memory;
* exact: the same search with every chunk's cosine computed (no inverted lists),
  the baseline of the semantic and hybrid latencies;
* baseline: the same keyword queries as a plain DuckDB scan of the chunk table
  (``text ILIKE '%term%'`` on every query term, no ranking), in its own process;
  ours, exact and the scan run in ABCCBA order and the ratios of their p95s are printed.

Each size is measured on the idle machine and again while ``--busy N`` processes
spin (pure-Python busy loops, started by this script; 0 skips it), since other users
of the 2 cores are the usual case. The load average is printed with each condition.
The first search process fits the inverted lists (kept in the index afterwards): its
load time is printed apart from the kept-lists loads.

Targets (issue 21): search p95 <= 100 ms at 500,000 chunks; indexing >= 5,000 chunks/s.

Run: HF_HUB_OFFLINE=1 PYTHONPATH=. python tests/benchmarks/bench_collection.py
     [--sizes 10 100 1000] [--chunks 500] [--queries 40] [--busy 4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import CHOI, REPO

BASE_CHUNKS = 1500
BATCH = 25  # recordings per add_runs call


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- material

def base_material(cache: Path) -> tuple[list[str], np.ndarray]:
    """Real chunks of the Choi documents and their MiniLM vectors (cached across runs)."""
    from pipeline_kit.stages._chunking import create_semantic_chunks
    from pipeline_kit.stages._segmetrics import load_choi

    texts: list[str] = []
    for folder in ("3-11", "3-5", "6-8", "9-11"):
        for f in sorted((CHOI / folder).glob("*.ref"), key=lambda p: int(p.stem)):
            sents, _ = load_choi(f)
            texts += [c.text for c in create_semantic_chunks(" ".join(sents), 60, 10,
                                                             method="fixed",
                                                             with_temporal=False)]
    texts = texts[:BASE_CHUNKS]
    vec_file = cache / f"choi_chunks_{len(texts)}.npy"
    if vec_file.exists():
        return texts, np.load(vec_file)
    from pipeline_kit.stages._embeddings import get_embedder

    vecs = get_embedder(None).encode(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(vec_file, vecs)
    return texts, vecs


def synth_runs(start: int, count: int, n_chunks: int, texts: list[str], vecs: np.ndarray):
    """``count`` synthetic recordings (ids from ``start``), as collection run tables."""
    import pandas as pd

    from pipeline_kit.collection._ingest import tables_from_texts

    vocab = np.array(sorted({w for t in texts for w in t.split()}))
    out = []
    for r in range(start, start + count):
        rng = np.random.default_rng(r)
        pick = rng.integers(0, len(texts), n_chunks)
        chunks = []
        for i in pick:
            words = np.array(texts[i].split())
            swap = rng.random(len(words)) < 0.2
            words[swap] = vocab[rng.integers(0, len(vocab), int(swap.sum()))]
            chunks.append(" ".join(words))
        noise = rng.normal(0, 0.012, (n_chunks, vecs.shape[1])).astype(np.float32)
        v = vecs[pick] + noise
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        run = tables_from_texts(f"run{r:05d}", f"recording-{r:05d}.wav", chunks, v,
                                sentences=synth_sentences(rng, v),
                                started_at=f"2026-{1 + r % 12:02d}-{1 + r % 28:02d}T10:00:00")
        words = " ".join(chunks).split()
        run.words = pd.DataFrame({"word_index": np.arange(len(words)), "text": words,
                                  "start_time": np.arange(len(words)) * 0.4,
                                  "end_time": np.arange(1, len(words) + 1) * 0.4,
                                  "speaker": [None] * len(words)})
        out.append(run)
    return out


def synth_sentences(rng: np.random.Generator, v: np.ndarray):
    """3-4 sentence vectors per chunk of unit vectors ``v``, each chunk's last one shared
    with the next chunk: its chunk's vector plus noise (cosine about 0.7)."""
    from pipeline_kit.pipeline._chunk_vectors import SentenceVectors

    per = rng.integers(3, 5, len(v))
    lo = np.concatenate([[0], np.cumsum(per - 1)[:-1]])
    owner = np.append(np.repeat(np.arange(len(v)), per - 1), len(v) - 1)
    s = v[owner] + rng.normal(0, 0.052, (len(owner), v.shape[1])).astype(np.float32)
    s /= np.linalg.norm(s, axis=1, keepdims=True)
    return SentenceVectors(s, np.stack([lo, lo + per], axis=1))


def queries(texts: list[str], n: int) -> list[str]:
    """Query strings: 3-6 consecutive words of random real chunks."""
    rng = np.random.default_rng(7)
    out = []
    for i in rng.integers(0, len(texts), n):
        words = texts[i].split()
        k = int(rng.integers(3, 7))
        j = int(rng.integers(0, max(1, len(words) - k)))
        out.append(" ".join(words[j:j + k]))
    return out


# ----------------------------------------------------------------------------- steps

def step_build(index_dir: Path, recordings: int, n_chunks: int, cache: Path) -> dict:
    from pipeline_kit.collection._collection import Collection

    texts, vecs = base_material(cache)
    home = index_dir / "home"
    (home / "artifacts").mkdir(parents=True, exist_ok=True)
    coll = Collection(home, index_dir=index_dir / "idx", update=False)
    seconds = 0.0
    for start in range(0, recordings, BATCH):
        runs = synth_runs(start, min(BATCH, recordings - start), n_chunks, texts, vecs)
        t0 = time.perf_counter()
        coll.add_runs(runs)
        seconds += time.perf_counter() - t0
    size = sum(f.stat().st_size for f in (index_dir / "idx").iterdir())
    chunks = recordings * n_chunks
    return {"chunks": chunks, "build_s": seconds, "chunks_per_s": chunks / seconds,
            "size_mb": size / 2**20, "peak_mb": _peak_mb()}


def step_search(index_dir: Path, n_queries: int, cache: Path, exact: bool = False) -> dict:
    import pipeline_kit.collection._collection as collection
    from pipeline_kit.collection._collection import Collection
    from pipeline_kit.stages._embeddings import get_embedder

    if exact:  # no inverted lists: every chunk's cosine, as below REDUCE_FROM chunks
        collection.REDUCE_FROM = 2**62

    texts, _ = base_material(cache)
    qs = queries(texts, n_queries)
    get_embedder(None).encode(["warm up"])  # model load is not a query
    coll = Collection(index_dir / "home", index_dir=index_dir / "idx", update=False)
    t0 = time.perf_counter()
    coll.search("warm up", k=20, mode="keyword")
    out: dict = {"load_s": time.perf_counter() - t0}
    for mode in ("keyword", "semantic", "hybrid"):
        lat = []
        for q in qs:
            t0 = time.perf_counter()
            coll.search(q, k=20, mode=mode)
            lat.append(time.perf_counter() - t0)
        out[mode] = {"p50_ms": 1000 * float(np.percentile(lat, 50)),
                     "p95_ms": 1000 * float(np.percentile(lat, 95))}
    out["peak_mb"] = _peak_mb()
    if not exact:
        out["agreement"] = exact_agreement(coll, qs)
    return out


def exact_agreement(coll, qs: list[str], k: int = 20) -> dict:
    """Share of queries whose semantic / hybrid top ``k`` (rows and order) equals the
    exact search's (every chunk's cosine, no inverted lists; then the same scoring of
    the best chunks by their best sentence), and the mean share of common rows."""
    import copy

    searcher, meta = coll._loaded()
    exact = copy.copy(searcher)
    exact.clusters = None
    allowed = meta["latest"].to_numpy()
    out: dict = {}
    for mode in ("semantic", "hybrid"):
        same, common = 0, 0.0
        for q in qs:
            rows, _ = coll._rank(searcher, q, k, mode, allowed)
            want, _ = coll._rank(exact, q, k, mode, allowed)
            same += list(rows) == list(want)
            common += len(set(rows.tolist()) & set(want.tolist())) / max(len(want), 1)
        out[mode] = {"same_top_k": same / len(qs), "common_rows": common / len(qs)}
    return out


def step_baseline(index_dir: Path, n_queries: int, cache: Path) -> dict:
    """The keyword queries as a DuckDB scan: every chunk containing every query term."""
    import duckdb

    from pipeline_kit.collection._search import terms

    texts, _ = base_material(cache)
    qs = queries(texts, n_queries)
    con = duckdb.connect(str(index_dir / "idx" / "index.duckdb"), read_only=True)
    lat = []
    for q in qs:
        ts = terms(q) or q.split()
        cond = " AND ".join(["text ILIKE ?"] * len(ts))
        t0 = time.perf_counter()
        con.execute(f"SELECT run_id, chunk_id, start_time, end_time FROM chunks WHERE {cond} "
                    "LIMIT 20", [f"%{t}%" for t in ts]).df()
        lat.append(time.perf_counter() - t0)
    con.close()
    return {"keyword": {"p50_ms": 1000 * float(np.percentile(lat, 50)),
                        "p95_ms": 1000 * float(np.percentile(lat, 95))},
            "peak_mb": _peak_mb()}


# ----------------------------------------------------------------------------- driver

def _child(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         env=env, check=False)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--chunks", type=int, default=500, help="chunks per recording")
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "pk_bench_cache"))
    ap.add_argument("--busy", type=int, default=4,
                    help="busy-loop processes for the busy condition (0: idle only)")
    ap.add_argument("--step", choices=("build", "search", "exact", "baseline"))
    ap.add_argument("--dir")
    args = ap.parse_args()
    cache = Path(args.cache)
    if args.step:
        d = Path(args.dir)
        res = {"build": lambda: step_build(d, args.sizes[0], args.chunks, cache),
               "search": lambda: step_search(d, args.queries, cache),
               "exact": lambda: step_search(d, args.queries, cache, exact=True),
               "baseline": lambda: step_baseline(d, args.queries, cache)}[args.step]()
        print(json.dumps(res))
        return
    base_material(cache)  # embed the real chunks once, before any timing
    rows = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            common = ["--dir", tmp, "--chunks", str(args.chunks), "--queries",
                      str(args.queries), "--cache", str(cache)]
            build = _child("--step", "build", "--sizes", str(n), *common)
            conditions = {}
            for busy in dict.fromkeys([0, args.busy]):
                conditions[busy] = _measure(common, busy)
                _print_row(n, build, conditions[busy])
            rows.append((n, build, conditions))
    _print_table(rows)


SPIN = "while True:\n    pass\n"


def _measure(common: list[str], busy: int) -> dict:
    """Ours, exact and the scan, ABCCBA, each in its own process, with ``busy`` spinning
    processes running throughout."""
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(busy)]
    try:
        time.sleep(1.0 if busy else 0.0)
        load = [os.getloadavg()[0]]
        runs: dict = {"search": [], "exact": [], "baseline": []}
        for side in ("search", "exact", "baseline", "baseline", "exact", "search"):
            runs[side].append(_child("--step", side, *common))
        load.append(os.getloadavg()[0])
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    return {"busy": busy, "load": load, **runs}


def _mean(xs: list[dict], *path: str) -> float:
    vals = []
    for x in xs:
        for p in path:
            x = x[p]
        vals.append(float(x))
    return sum(vals) / len(vals)


def _print_row(n: int, build: dict, cond: dict) -> None:
    print(f"# {n} recordings, busy {cond['busy']} done: {json.dumps(build)}", file=sys.stderr,
          flush=True)


def _pair(runs: list[dict], mode: str) -> str:
    return f"{_mean(runs, mode, 'p50_ms'):.1f}/{_mean(runs, mode, 'p95_ms'):.1f}"


def _print_table(rows: list) -> None:
    print(f"\n{'recordings':>10} {'chunks':>8} {'build s':>8} {'chunks/s':>9} {'size MB':>8} "
          f"{'build MB':>8} {'search MB':>9}")
    for n, b, conds in rows:
        print(f"{n:>10} {b['chunks']:>8} {b['build_s']:>8.1f} {b['chunks_per_s']:>9.0f} "
              f"{b['size_mb']:>8.1f} {b['peak_mb']:>8.0f} "
              f"{_mean(conds[0]['search'], 'peak_mb'):>9.0f}")
    print("\nlatency p50/p95 ms (query embedding included); exact = every chunk's cosine; "
          "scan = DuckDB ILIKE")
    print(f"{'recordings':>10} {'busy':>4} {'load':>9} {'load s':>11} {'keyword':>11} "
          f"{'scan':>11} {'semantic':>11} {'exact sem':>11} {'hybrid':>11} "
          f"{'exact hyb':>11} {'sem/exact p95':>13} {'hyb/exact p95':>13}")
    for n, _, conds in rows:
        for busy, c in conds.items():
            s, e, base = c["search"], c["exact"], c["baseline"]
            loads = f"{s[0]['load_s']:.1f}/{s[1]['load_s']:.1f}"
            print(f"{n:>10} {busy:>4} {c['load'][0]:>4.1f}-{c['load'][1]:<4.1f} {loads:>11} "
                  f"{_pair(s, 'keyword'):>11} {_pair(base, 'keyword'):>11} "
                  f"{_pair(s, 'semantic'):>11} {_pair(e, 'semantic'):>11} "
                  f"{_pair(s, 'hybrid'):>11} {_pair(e, 'hybrid'):>11} "
                  f"{_mean(s, 'semantic', 'p95_ms') / _mean(e, 'semantic', 'p95_ms'):>13.2f} "
                  f"{_mean(s, 'hybrid', 'p95_ms') / _mean(e, 'hybrid', 'p95_ms'):>13.2f}")
    print("\nfast semantic / hybrid top 20 vs the exact ranking (same rows and order; "
          "common rows):")
    for n, _, conds in rows:
        a = conds[0]["search"][0]["agreement"]
        print(f"{n:>10} recordings: semantic {a['semantic']['same_top_k']:.1%} "
              f"({a['semantic']['common_rows']:.1%}), hybrid {a['hybrid']['same_top_k']:.1%} "
              f"({a['hybrid']['common_rows']:.1%})")


if __name__ == "__main__":
    main()
