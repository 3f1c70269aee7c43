"""Query vectors from the ONNX export against sentence-transformers (torch), on Choi.

The queries are bench_retrieval.py's: the held-back first sentence of every gold
segment of Choi part-1 documents 10-49 of each folder (documents 0-9 chose the hybrid
keyword weight, nothing here was chosen on any of them). Each query is embedded alone,
as a search embeds it, by both embedders. Prints the cosine between the two vectors
of each query (mean, lowest, 1st percentile) and recall@5 / MRR of every search mode
with torch query vectors (the baseline: what search did before) and ONNX ones, on the
same index built with the torch chunk and sentence vectors, as the pipeline stores them.

Run: python tests/benchmarks/bench_query_embedding.py [--docs N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_retrieval import build, evaluate, load_docs

import pipeline_kit.collection._collection as collection
from pipeline_kit.stages._embeddings import get_embedder
from pipeline_kit.stages._onnx_embedder import OnnxEmbedder, ensure_export


def embed_one_by_one(embedder: object, queries: list[str]) -> tuple[np.ndarray, float]:
    """Each query's vector, embedded alone; and the mean milliseconds per query."""
    t0 = time.perf_counter()
    rows = np.vstack([embedder.encode([q]) for q in queries])  # type: ignore[attr-defined]
    return rows, 1000 * (time.perf_counter() - t0) / len(queries)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=40, help="documents per Choi folder")
    ap.add_argument("--offset", type=int, default=10, help="first document of each folder")
    args = ap.parse_args()
    docs = load_docs(args.docs, args.offset)
    queries = list(dict.fromkeys(seg[0] for _, segs in docs for seg in segs if len(seg) > 1))
    torch_model = get_embedder(None)
    folder = ensure_export(None)
    if folder is None:
        raise SystemExit("the model could not be exported to ONNX (see the warning)")
    onnx = OnnxEmbedder.load(folder)
    vectors = {}
    for name, embedder in (("torch", torch_model), ("onnx", onnx)):
        rows, ms = embed_one_by_one(embedder, queries)
        vectors[name] = dict(zip(queries, rows, strict=True))
        print(f"{name:>5}: {len(queries)} queries embedded one by one, {ms:.1f} ms/query")
    cos = np.array([float(vectors["torch"][q] @ vectors["onnx"][q]) for q in queries])
    print(f"\ncosine(torch, onnx) over {len(cos)} queries: mean {cos.mean():.7f}, "
          f"lowest {cos.min():.7f}, 1st percentile {np.percentile(cos, 1):.7f}")

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        coll = build(Path(tmp), docs)
        for name in ("torch", "onnx"):
            table = vectors[name]
            collection._encode_query = lambda q, table=table: table[q]  # type: ignore[assignment]
            results[name] = evaluate(coll, docs)
    print(f"\n{'mode':<10} {'queries':>7} {'R@5 torch':>10} {'R@5 onnx':>9} {'diff':>7} "
          f"{'MRR torch':>10} {'MRR onnx':>9} {'diff':>7}")
    for mode, base in results["torch"].items():
        new = results["onnx"][mode]
        print(f"{mode:<10} {base['queries']:>7} {base['recall@5']:>10.4f} "
              f"{new['recall@5']:>9.4f} {new['recall@5'] - base['recall@5']:>+7.4f} "
              f"{base['mrr']:>10.4f} {new['mrr']:>9.4f} {new['mrr'] - base['mrr']:>+7.4f}")


if __name__ == "__main__":
    main()
