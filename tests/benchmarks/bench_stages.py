"""Timing of the post-transcription stages: concept graph and questions.

Runs on the LJ essay (~560 words, 221.7 s of audio) and a ~9,000-word text (Choi
documents concatenated). Prints cold (first call: imports) and warm timings. The
budget: all post-transcription stages together under 5 % of transcription time
(~1.1 s on the LJ text). Run: ``python tests/benchmarks/bench_stages.py``.
"""

from __future__ import annotations

import statistics
import time

from _common import CHOI, DATA

LJ = DATA / "speech_long" / "ljspeech_LJ001-0001-0032_concat_16k.ref.txt"
CHOI_3_11 = CHOI / "3-11"
LJ_AUDIO_SECONDS = 221.7
AUDIO = DATA / "speech_long" / "ljspeech_LJ001-0001-0032_concat_16k.wav"


def make_chunks(text: str, size: int = 150, overlap: int = 25):
    from pipeline_kit.stages._chunking import create_semantic_chunks

    return create_semantic_chunks(text, size, overlap, method="fixed", with_temporal=False)


def timed(fn, repeat: int = 5) -> tuple[float, float, object]:
    """(first call seconds, median of the next ``repeat`` calls, last result)."""
    t = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t)
    return first, statistics.median(runs), out


def main() -> int:
    if not LJ.exists() or not CHOI_3_11.is_dir():
        print(f"shared data not found under {DATA}; nothing to time")
        return 0
    from pipeline_kit.stages._chapters import analyze_chapters
    from pipeline_kit.stages._chunking import create_semantic_chunks
    from pipeline_kit.stages._graph import build_graph
    from pipeline_kit.stages._questions import generate_questions
    from pipeline_kit.stages._transcription import load_engine, transcribe

    lines: list[str] = []
    for f in sorted(CHOI_3_11.glob("*.ref"), key=lambda p: int(p.stem)):
        if sum(len(x.split()) for x in lines) >= 9000:
            break
        lines += [x.strip() for x in f.read_text().splitlines()
                  if x.strip() and not x.startswith("==========")]
    texts = {"LJ essay": LJ.read_text(encoding="utf-8"), "Choi docs": " ".join(lines)}
    print(f"{'text':10s} {'words':>6s} {'chunks':>6s} {'stage':28s} {'first s':>8s} "
          f"{'warm s':>8s}  result")
    lj_total = 0.0
    for name, text in texts.items():
        chunks = make_chunks(text)
        n = len(text.split())
        rows = []
        c1, c, sem = timed(lambda t=text: create_semantic_chunks(t, 150, 25), repeat=2)
        rows.append(("chunking (MiniLM)", c1, c, f"{len(sem)} chunks"))
        h1, h, chs = timed(lambda t=text, s=sem: analyze_chapters(t, chunks=s), repeat=2)
        rows.append(("chapters (hybrid)", h1, h, f"{len(chs)} chapters"))
        g1, g, G = timed(lambda c=chunks: build_graph(c))
        rows.append(("graph (tfidf)", g1, g, f"{G.number_of_nodes()} nodes, "
                     f"{G.number_of_edges()} edges"))
        q1, q, qs = timed(lambda c=chunks, G=G: generate_questions(c, graph=G))
        rows.append(("questions", q1, q, f"{len(qs)} questions"))
        if name == "LJ essay":
            lj_total = c + h + g + q
            e1, e, _ = timed(lambda c=chunks: build_graph(c, use_embeddings=True), repeat=2)
            rows.append(("graph (MiniLM, optional)", e1, e, "first call loads the model; "
                         "warm reuses cached embeddings"))
        for stage, first, warm, res in rows:
            print(f"{name:10s} {n:6d} {len(chunks):6d} {stage:28s} {first:8.3f} {warm:8.3f}  "
                  f"{res}")
    if not AUDIO.exists():
        print(f"\nLJ stages (warm): {lj_total:.3f} s; audio missing, no transcription baseline")
        return 0
    load_engine()
    t0 = time.perf_counter()
    transcribe(AUDIO)
    tr = time.perf_counter() - t0
    print(f"\nLJ transcription (same run, model loaded): {tr:.2f} s; chunking + chapters + "
          f"graph + questions (warm): {lj_total:.3f} s = {100 * lj_total / tr:.1f} % "
          f"(goal < 5 %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
