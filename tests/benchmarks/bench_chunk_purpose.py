"""Does the sweep's label-free retrieval score rank settings as gold retrieval does, and
does ``choose_setting(purpose="search")`` pick a setting that is good by gold?
(A script, not a test.)

Grid: method "embedding" (MiniLM), chunk_size 40, 60, 100, 150, 200, 300, 500, 1000 x
overlap 0, 25, 50 (23 valid settings). Data: Choi dev.

* Tuning (chose the self-supervised rule: each of the text's own topic segments' first
  sentence asks, right answers the chunks mostly in that segment; before, every sentence
  asked and a chunk holding a neighbour counted too): folders 3-5 and 9-11, docs 0-4.
* Scoring (never looked at while building): folders 6-8 and 3-11, docs 10 onwards.

Printed per folder:

1. Spearman between the self-supervised score (``mrr``, ``recall_at_1``) and gold
   retrieval (``gold_mrr``, ``gold_recall_at_1``) across the 23 settings: mean and median
   over documents, and "pooled" (the Spearman of the per-setting means over the
   folder's documents); also over all document x setting rows at once. Baseline in
   the same run: the chunk count alone (fewer chunks
   ranked higher), which is what ``topic_pk`` mostly restated.
2. The setting chosen for ``purpose="search"`` against gold MRR x gold context
   precision: its rank (1 + the settings strictly better), the share of documents where
   it is in the top 3, how often it is the largest size (and how often the largest is
   truly best). Baselines in the same run: the old choice (lowest ``topic_pk``) and
   always the largest size with no overlap.

3. (``--ceiling``) How far the gold score agrees with itself: the Spearman across
   settings between gold MRR asked by each segment's first sentence and by its second
   sentence; and the Spearman of the self-supervised MRR with gold MRR asked by every
   sentence (right answers: chunks mostly in its gold segment).

Run: HF_HUB_OFFLINE=1 python tests/benchmarks/bench_chunk_purpose.py [--docs 10]
      [--set scoring|tuning|both] [--ceiling]
Needs ../shared/data (textseg/choi_dev).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from _common import CHOI
from scipy.stats import spearmanr

from pipeline_kit.stages import _chunk_eval as ev
from pipeline_kit.stages._chunking import chunk_prepared, prepare
from pipeline_kit.stages._embeddings import get_embedder
from pipeline_kit.stages._segmetrics import load_choi, sentence_to_word_boundaries
from pipeline_kit.stages._sweep import choose_setting, sentence_index, sweep

SIZES = (40, 60, 100, 150, 200, 300, 500, 1000)
OVERLAPS = (0, 25, 50)
TUNING = {"3-5": range(0, 5), "9-11": range(0, 5)}
SCORING_FOLDERS = ("6-8", "3-11")


def _rho(a: pd.Series, b: pd.Series) -> float:
    """Spearman, NaN when either side is constant (no ranking to compare)."""
    if a.nunique() < 2 or b.nunique() < 2:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _old_choice(df: pd.DataFrame) -> pd.Series:
    """The choice before this benchmark's version: lowest topic_pk, then topic_windowdiff,
    larger chunk, smaller overlap."""
    return df.sort_values(["topic_pk", "topic_windowdiff", "chunk_size", "overlap"],
                          ascending=[True, True, False, True], kind="stable").iloc[0]


def _gold_rank(df: pd.DataFrame, row: pd.Series) -> int:
    """1 + the number of settings strictly better by gold MRR x gold context precision."""
    gold = df["gold_mrr"] * df["gold_context_precision"]
    return int((gold > gold[row.name] + 1e-9).sum()) + 1


def score_doc(folder: str, i: int) -> dict[str, object]:
    sents, bounds = load_choi(CHOI / folder / f"{i}.ref")
    df = sweep(" ".join(sents), SIZES, OVERLAPS, "embedding",
               gold=sentence_to_word_boundaries(sents, bounds))
    chosen = choose_setting(df, "search")
    largest = df[(df.chunk_size == max(SIZES)) & (df.overlap == 0)].iloc[0]
    gold = df["gold_mrr"] * df["gold_context_precision"]
    return {
        "folder": folder, "doc": i, "table": df,
        "rho_mrr": _rho(df["mrr"], df["gold_mrr"]),
        "rho_r1": _rho(df["recall_at_1"], df["gold_recall_at_1"]),
        "rho_count": _rho(-df["n_chunks"], df["gold_mrr"]),
        "rank_new": _gold_rank(df, chosen), "rank_old": _gold_rank(df, _old_choice(df)),
        "rank_largest": _gold_rank(df, largest),
        "new_is_largest": int(chosen["chunk_size"]) == max(SIZES),
        "largest_best": bool(gold[largest.name] >= gold.max() - 1e-9),
        "chosen": f"{int(chosen['chunk_size'])}/{int(chosen['overlap'])}",
    }


def ceiling_doc(folder: str, i: int) -> dict[str, float]:
    """Spearman of gold MRR (first-sentence queries) with gold MRR (second-sentence
    queries), and of the self-supervised MRR with gold MRR asked by every sentence."""
    sents, bounds = load_choi(CHOI / folder / f"{i}.ref")
    gold = sentence_to_word_boundaries(sents, bounds)
    prep = prepare(" ".join(sents), "embedding")
    index = sentence_index(prep)
    segs = index.segment_of_sentences(gold)
    rows = []
    for cs in SIZES:
        for ov in (o for o in OVERLAPS if o < cs):
            chunks = chunk_prepared(prep, cs, ov, with_temporal=False)
            w = ev.sentence_chunk_words(index, chunks)
            every = ev.every_sentence(index, w)
            seg = ev.segment_chunk_words(chunks, gold, index.n_words)
            rel = ev.mostly_inside(ev.own_segment_words(seg, segs, every), every)
            rows.append({
                "first": ev.gold_retrieval(index, chunks, w, gold, every)["gold_mrr"],
                "second": ev.gold_retrieval(index, chunks, w, gold, every, nth=1)["gold_mrr"],
                "all": ev.rank_scores(every.scores, rel)["mrr"],
                "self": ev.self_supervised(index, chunks, w, prep.topic_starts, every)["mrr"]})
    d = pd.DataFrame(rows)
    return {"first~second": _rho(d["first"], d["second"]),
            "self~all-sentence gold": _rho(d["self"], d["all"]),
            "first~all-sentence gold": _rho(d["first"], d["all"])}


def report_ceiling(name: str, docs: dict[str, range]) -> None:
    r = pd.DataFrame([ceiling_doc(f, i) for f, rng in docs.items() for i in rng])
    print(f"\n### {name}: how far gold agrees with itself ({len(r)} documents)")
    print(f"{'Spearman across settings':<34} {'mean':>7} {'median':>7}")
    for col in r.columns:
        print(f"{col:<34} {r[col].mean():>7.3f} {r[col].median():>7.3f}")


def report(name: str, results: list[dict[str, object]]) -> None:
    r = pd.DataFrame([{k: v for k, v in x.items() if k != "table"} for x in results])
    tables = pd.concat([x["table"] for x in results])  # type: ignore[misc]
    means = tables.groupby(["chunk_size", "overlap"]).mean(numeric_only=True)
    print(f"\n### {name}: {len(r)} documents ({', '.join(sorted(set(r.folder)))})")
    print(f"{'Spearman vs gold':<34} {'mean':>7} {'median':>7} {'pooled':>7}")
    for label, col, a, b in (("self mrr ~ gold mrr", "rho_mrr", "mrr", "gold_mrr"),
                             ("self recall@1 ~ gold recall@1", "rho_r1", "recall_at_1",
                              "gold_recall_at_1"),
                             ("baseline: fewer chunks ~ gold mrr", "rho_count", "n_chunks",
                              "gold_mrr")):
        sign = -1 if a == "n_chunks" else 1
        pooled = _rho(sign * means[a], means[b])
        print(f"{label:<34} {r[col].mean():>7.3f} {r[col].median():>7.3f} {pooled:>7.3f}")
    rows = _rho(tables["mrr"], tables["gold_mrr"])
    print(f"(self mrr ~ gold mrr over all {len(tables)} document-setting rows: {rows:.3f}; "
          "mostly differences between documents)")
    print(f"{'search choice vs gold MRR x CP':<34} {'top-3':>7} {'rank 1':>7} {'mean rk':>7}")
    for label, col in (("choose_setting(purpose='search')", "rank_new"),
                       ("baseline: old min topic_pk", "rank_old"),
                       ("baseline: largest size, overlap 0", "rank_largest")):
        print(f"{label:<34} {np.mean(r[col] <= 3):>7.0%} {np.mean(r[col] == 1):>7.0%} "
              f"{r[col].mean():>7.2f}")
    print(f"chosen is the largest size in {int(r.new_is_largest.sum())} of {len(r)} documents; "
          f"the largest is truly best (ties included) in {int(r.largest_best.sum())}")
    print("choices:", ", ".join(f"{f}/{d}:{c}(rank {k})" for f, d, c, k in
                                zip(r.folder, r.doc, r.chosen, r.rank_new, strict=True)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=10, help="scoring documents per folder")
    ap.add_argument("--set", choices=("scoring", "tuning", "both"), default="both")
    ap.add_argument("--ceiling", action="store_true", help="also part 3 (slower)")
    args = ap.parse_args()
    if not CHOI.is_dir():
        raise SystemExit(f"shared data not found: {CHOI}")
    get_embedder(None).encode(["warm up"])
    t0 = time.perf_counter()
    sets: list[tuple[str, dict[str, range]]] = []
    if args.set in ("tuning", "both"):
        sets.append(("TUNING (chose the relevance rule)", TUNING))
    if args.set in ("scoring", "both"):
        sets.append(("SCORING (unseen)", {f: range(10, 10 + args.docs)
                                          for f in SCORING_FOLDERS}))
    for name, docs in sets:
        results = [score_doc(f, i) for f, rng in docs.items() for i in rng]
        for folder in docs:
            report(f"{name} {folder}", [x for x in results if x["folder"] == folder])
        report(f"{name} all", results)
        if args.ceiling:
            report_ceiling(name, docs)
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
