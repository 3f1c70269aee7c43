"""Chunks on sentence boundaries, before/after (a script, not a test; issue 28).

Each side runs in its own process on the same Choi documents: "before" is the code of
a baseline commit (default: the commit before issue 28, extracted with ``git archive``
into a temporary folder), "after" is this checkout, in its default mode
(``chunk_boundaries="sentence"``) and in the word-exact mode. Gold sentences are
Choi's lines (one sentence per line, written by the corpus, not by either splitter).

Per setting (chunk_size/overlap 150/0 and 150/25, MiniLM, topic-aware default):

* ``mid-start``: share of chunk starts (first chunk excluded) inside a gold sentence;
* ``mid-cut``: share of cuts (where a chunk's new words begin) inside a gold sentence;
* ``abbr``: chunks whose last word is an abbreviation (Mr., Sen., Rep., figs., ...);
* ``Pk topics`` / ``Pk all``: Pk of the chunks' topic boundaries / of every cut
  against the gold topic segments (nltk convention, k = half the mean segment).

By default documents 25-34 of folders 9-11 and 3-11 are measured: the sentence rules
were developed on documents 0-24 of folders 3-5 and 6-8 (see docs/text-analysis.md).

Run: HF_HUB_OFFLINE=1 python tests/benchmarks/bench_chunk_sentences.py [--docs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BASELINE = "256572b"
ABBREVIATIONS = {"mr.", "mrs.", "dr.", "sen.", "rep.", "st.", "b.c.", "e.g.", "i.e.",
                 "figs.", "fig.", "gov.", "jr.", "no.", "prof.", "vol."}
SETTINGS = ((150, 0), (150, 25))


def _measure(folders: list[str], first: int, n_docs: int, modes: list[str]) -> dict:
    """One side's numbers (runs in the side's own process)."""
    import numpy as np

    from pipeline_kit.stages._chunking import (
        chunk_boundaries,
        chunk_prepared,
        prepare,
        topic_boundaries,
    )
    from pipeline_kit.stages._segmetrics import load_choi, pk, sentence_to_word_boundaries

    choi = Path(os.environ["CHOI"])
    out: dict = {}
    for mode in modes:
        for cs, ov in SETTINGS:
            starts = cuts = mid_starts = mid_cuts = abbr = 0
            pk_topics, pk_all = [], []
            for folder in folders:
                for i in range(first, first + n_docs):
                    sents, bounds = load_choi(choi / folder / f"{i}.ref")
                    text = " ".join(sents)
                    gold = sentence_to_word_boundaries(sents, bounds)
                    line_starts = set(np.cumsum([0] + [len(s.split()) for s in sents]).tolist())
                    n = len(text.split())
                    prep = prepare(text, "embedding")
                    kw = {} if mode == "before" else {"chunk_boundaries": mode}
                    ch = chunk_prepared(prep, cs, ov, with_temporal=False, **kw)
                    words = [w.text for w in prep.transcript.words]
                    for c in ch[1:]:
                        starts += 1
                        mid_starts += c.start_word_index not in line_starts
                    for b in chunk_boundaries(ch):
                        cuts += 1
                        mid_cuts += b not in line_starts
                    abbr += sum(words[c.end_word_index - 1].lower() in ABBREVIATIONS
                                for c in ch[:-1])
                    pk_topics.append(pk(gold, topic_boundaries(ch), n))
                    pk_all.append(pk(gold, chunk_boundaries(ch), n))
            out[f"{mode} {cs}/{ov}"] = {
                "mid-start": mid_starts / max(starts, 1), "mid-cut": mid_cuts / max(cuts, 1),
                "abbr": abbr, "Pk topics": float(np.mean(pk_topics)),
                "Pk all": float(np.mean(pk_all)), "starts": starts}
    return out


def _side(tree: Path, args: argparse.Namespace, modes: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), CHOI=str(args.choi), HF_HUB_OFFLINE="1")
    cmd = [sys.executable, __file__, "--side", str(tree), "--modes", ",".join(modes),
           "--folders", ",".join(args.folders), "--first", str(args.first),
           "--docs", str(args.docs)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False,
                         cwd=tempfile.gettempdir())
    if res.returncode:
        raise SystemExit(f"side {tree} failed:\n{res.stderr[-3000:]}")
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=10, help="documents per folder")
    ap.add_argument("--first", type=int, default=25, help="first document of each folder")
    ap.add_argument("--folders", type=lambda s: s.split(","), default=["9-11", "3-11"])
    ap.add_argument("--baseline", default=BASELINE, help="git commit of the 'before' side")
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--modes", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:  # inside a side's process: PYTHONPATH puts its tree first
        sys.path.insert(0, args.side)
        print(json.dumps(_measure(args.folders, args.first, args.docs, args.modes.split(","))))
        return
    from _common import DATA, REPO

    args.choi = DATA / "textseg" / "choi_dev"
    if not args.choi.is_dir():
        raise SystemExit(f"shared data not found: {args.choi}")
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.baseline,
                                  "pipeline_kit"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        rows = _side(Path(tmp), args, ["before"])
    rows |= _side(REPO, args, ["sentence", "word"])
    print(f"Choi {', '.join(args.folders)}, documents {args.first}-{args.first + args.docs - 1}"
          f" ({rows['before 150/0']['starts']} chunk starts at 150/0 before); MiniLM, "
          "topic-aware default; 'before' = baseline commit " + args.baseline)
    cols = ("mid-start", "mid-cut", "abbr", "Pk topics", "Pk all")
    print(f"{'side / setting':<22}" + "".join(f"{c:>11}" for c in cols))
    for name, r in rows.items():
        print(f"{name:<22}" + "".join(
            f"{r[c]:>11.1%}" if c.startswith("mid") else
            f"{r[c]:>11d}" if c == "abbr" else f"{r[c]:>11.3f}" for c in cols))


if __name__ == "__main__":
    main()
