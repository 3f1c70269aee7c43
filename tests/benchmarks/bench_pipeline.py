"""The pipeline's own cost: full run vs the stage functions called directly, same run.

On the shared 221.7 s LJ recording (the bundled 26.7 s sample when the shared data is
absent): ``run_pipeline`` into a fresh home (tasks, artifacts, run record) against
``transcribe`` + chunking + graph + chapters + questions called one after another
with the same parameters. Target ≤ 1.05. Then a re-run with everything cached:
target ≤ 1 s. The model is loaded once before timing (reported separately).
Run: ``python tests/benchmarks/bench_pipeline.py``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("PIPELINE_KIT_SHARED_DATA", REPO.parent / "shared" / "data"))
LJ = DATA / "speech_long" / "ljspeech_LJ001-0001-0032_concat_16k.wav"
SAMPLE = REPO / "data" / "sample" / "austen_sample.wav"
ROUNDS = 5
PARAMS = {"chunk_size": 150, "overlap": 25, "chunking_method": "embedding"}


def direct(audio: Path) -> tuple[float, float]:
    from pipeline_kit.stages.chapters import analyze_chapters
    from pipeline_kit.stages.chunking import create_semantic_chunks
    from pipeline_kit.stages.graph import build_graph
    from pipeline_kit.stages.questions import generate_questions
    from pipeline_kit.stages.transcription import transcribe

    t, c = time.perf_counter(), time.process_time()
    transcript = transcribe(audio)
    chunks = create_semantic_chunks(transcript, PARAMS["chunk_size"], PARAMS["overlap"],
                                    method=PARAMS["chunking_method"])
    graph = build_graph(chunks, top_concepts=40)
    chapters = analyze_chapters(chunks, min_sentences=4)
    generate_questions(chunks, chapters, graph)
    return time.perf_counter() - t, time.process_time() - c


def pipelined(audio: Path, home: Path) -> tuple[float, float, list[str]]:
    from pipeline_kit.pipeline import run_pipeline

    t, c = time.perf_counter(), time.process_time()
    r = run_pipeline(audio, home=home, out_dir=home / "out", **PARAMS)
    return time.perf_counter() - t, time.process_time() - c, r.run_record["cache_hits"]


def main() -> int:
    from pipeline_kit.stages.chunking import create_semantic_chunks
    from pipeline_kit.stages.transcription import load_engine

    audio = LJ if LJ.exists() else SAMPLE
    print(f"audio: {audio.name}" + ("" if audio == LJ else " (shared LJ recording not found)"))
    t = time.perf_counter()
    load_engine()
    create_semantic_chunks("Warm up the embedder. It loads once.", 10, 2)
    print(f"one-time model + embedder load: {time.perf_counter() - t:.2f} s")
    d_times, p_times, d_cpu, p_cpu, cached = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(ROUNDS):  # alternate, so drift hits both sides alike
            home = Path(tmp) / f"home{i}"
            wall, cpu = direct(audio)
            d_times.append(wall)
            d_cpu.append(cpu)
            wall, cpu, hits = pipelined(audio, home)
            assert hits == [], hits
            p_times.append(wall)
            p_cpu.append(cpu)
            wall, _, hits = pipelined(audio, home)
            assert len(hits) == 6, hits
            cached.append(wall)
    d, p, c = (statistics.median(x) for x in (d_times, p_times, cached))
    paired = statistics.median(b / a for a, b in zip(d_times, p_times, strict=True))
    cpu = statistics.median(b / a for a, b in zip(d_cpu, p_cpu, strict=True))
    print(f"direct stage calls : {d:7.2f} s  (median of {ROUNDS}: "
          f"{', '.join(f'{x:.2f}' for x in d_times)})")
    print(f"run_pipeline       : {p:7.2f} s  ({', '.join(f'{x:.2f}' for x in p_times)})")
    print(f"ratio pipeline / direct, wall: {p / d:.3f} (medians), {paired:.3f} (median of "
          f"paired rounds); CPU time: {cpu:.3f}  (target <= 1.05)")
    print(f"cached re-run      : {c:7.3f} s  (target <= 1 s; "
          f"{', '.join(f'{x:.3f}' for x in cached)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
