"""Retrieval quality of the collection's search on Choi part 1 (a script, not a test).

Every Choi document of ``../shared/data/textseg/choi_dev`` is one recording of a
collection; each of its gold segments is one chunk, indexed WITHOUT its first
sentence; that held-back sentence is the query, searched within its document
(``where={"recording": doc}``); the right hit is the segment it came from. Chunk
vectors are built as the pipeline builds them (unit mean of the MiniLM sentence
embeddings), before indexing; nothing is embedded at index time.

Prints recall@5 and MRR (over the full ranking of a document's segments) for
keyword (BM25), semantic (cosine), hybrid (score fusion, the default) and hybrid-rrf
(reciprocal-rank fusion); the two single modes are the baselines, measured in the same
run on the same index. Documents 0-9 of each folder chose the hybrid keyword weight,
so by default documents 10-49 are measured.

Run: HF_HUB_OFFLINE=1 PYTHONPATH=. python tests/benchmarks/bench_retrieval.py [--docs N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import CHOI

from pipeline_kit.collection._collection import Collection
from pipeline_kit.collection._ingest import tables_from_texts
from pipeline_kit.pipeline._chunk_vectors import SentenceVectors
from pipeline_kit.stages._embeddings import get_embedder, normalize_rows
from pipeline_kit.stages._segmetrics import load_choi

FOLDERS = ("3-5", "6-8", "9-11", "3-11")
MODES = (("keyword", "score"), ("semantic", "score"), ("hybrid", "score"), ("hybrid", "rrf"))


def _segments(path: Path) -> list[list[str]]:
    sents, bounds = load_choi(path)
    edges = [0, *bounds, len(sents)]
    return [sents[a:b] for a, b in zip(edges, edges[1:], strict=False) if b > a]


def load_docs(per_folder: int, offset: int = 10) -> list[tuple[str, list[list[str]]]]:
    """Documents ``offset`` to ``offset + per_folder`` of each folder (0-9 tuned the
    hybrid fusion's keyword weight, so they are left out by default)."""
    docs = []
    for folder in FOLDERS:
        files = sorted((CHOI / folder).glob("*.ref"), key=lambda p: int(p.stem))
        files = files[offset:offset + per_folder]
        docs += [(f"{folder}/{f.stem}", _segments(f)) for f in files]
    return docs


def build(index_dir: Path, docs: list[tuple[str, list[list[str]]]]) -> Collection:
    """One recording per document, one chunk per segment minus its first sentence."""
    model = get_embedder(None)
    bodies = [(name, [seg[1:] for seg in segs if len(seg) > 1]) for name, segs in docs]
    flat = [s for _, segs in bodies for seg in segs for s in seg]
    emb = normalize_rows(model.encode(flat))
    runs, at = [], 0
    for name, segs in bodies:
        first = at
        vecs, spans = [], []
        for seg in segs:
            vecs.append(emb[at:at + len(seg)].mean(axis=0))
            spans.append((at - first, at - first + len(seg)))
            at += len(seg)
        runs.append(tables_from_texts(name.replace("/", "_"), name,
                                      [" ".join(seg) for seg in segs],
                                      normalize_rows(np.array(vecs)),
                                      sentences=SentenceVectors(emb[first:at], np.array(spans))))
    home = index_dir / "home"
    (home / "artifacts").mkdir(parents=True)
    coll = Collection(home, index_dir=index_dir / "idx", update=False)
    coll.add_runs(runs)
    return coll


def evaluate(coll: Collection, docs: list[tuple[str, list[list[str]]]]) -> dict[str, dict]:
    out = {}
    for mode, fusion in MODES:
        ranks = []
        t0 = time.perf_counter()
        for name, segs in docs:
            kept = [seg for seg in segs if len(seg) > 1]
            for i, seg in enumerate(kept):
                hits = coll.search(seg[0], k=len(kept), mode=mode, where={"recording": name},
                                   fusion=fusion)
                ids = list(hits["chunk_id"])
                want = f"chunk-{i:04d}"
                ranks.append(ids.index(want) + 1 if want in ids else None)
        n = len(ranks)
        out[mode if mode != "hybrid" or fusion == "score" else "hybrid-rrf"] = {
                     "queries": n,
                     "recall@5": sum(1 for r in ranks if r and r <= 5) / n,
                     "mrr": sum(1 / r for r in ranks if r) / n,
                     "ms_per_query": 1000 * (time.perf_counter() - t0) / n}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=40, help="documents per Choi folder")
    ap.add_argument("--offset", type=int, default=10, help="first document of each folder")
    args = ap.parse_args()
    docs = load_docs(args.docs, args.offset)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        coll = build(Path(tmp), docs)
        print(f"{len(docs)} documents, {sum(len(s) for _, s in docs)} segments indexed "
              f"in {time.perf_counter() - t0:.1f} s (embedding included)")
        res = evaluate(coll, docs)
    print(f"\n{'mode':<10} {'queries':>7} {'recall@5':>9} {'MRR':>7} {'ms/query':>9}")
    for mode, r in res.items():
        print(f"{mode:<10} {r['queries']:>7} {r['recall@5']:>9.3f} {r['mrr']:>7.3f} "
              f"{r['ms_per_query']:>9.1f}")
    for metric in ("recall@5", "mrr"):
        best = max(res["keyword"][metric], res["semantic"][metric])
        print(f"hybrid / best single mode, {metric}: {res['hybrid'][metric] / best:.3f}")


if __name__ == "__main__":
    main()
