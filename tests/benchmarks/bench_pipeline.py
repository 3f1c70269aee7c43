"""The pipeline's own cost: full run vs the stage functions called directly, same run.

On the shared 221.7 s LJ recording (the bundled 26.7 s sample when the shared data is
absent): ``run_pipeline`` into a fresh home (tasks, artifacts, run record) against
``transcribe`` + chunking + graph + chapters + questions called one after another
in a script's main thread, with the same parameters. Target ≤ 1.05. Then a re-run
with everything cached: target ≤ 1 s.

Each measurement runs in a fresh process, as a user's script would, after one
warm-up run of the same kind in that process (model loads excluded); the two kinds
alternate in ABBA order. Why separate processes: libgomp keeps one OpenMP thread
team per thread that ran torch, and with more OpenMP threads than cores it stops
spin-waiting at barriers, so in one process mixing main-thread torch calls with
worker-thread ones the later side is slowed by the earlier one (measured here: a
pipeline's transcription stage 10.5–11.5 s in a clean process, 14.2–15.9 s after
the main thread had run torch). Run: ``python tests/benchmarks/bench_pipeline.py``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _common import DATA, REPO

LJ = DATA / "speech_long" / "ljspeech_LJ001-0001-0032_concat_16k.wav"
SAMPLE = REPO / "data" / "sample" / "austen_sample.wav"
ROUNDS = 4  # ABBA pairs: direct, pipeline, pipeline, direct, ...

CHILD = r"""
import json, os, sys, tempfile, time
from pathlib import Path
mode, audio = sys.argv[1], Path(sys.argv[2])
PARAMS = {"chunk_size": 150, "overlap": 25, "chunking_method": "embedding"}

def direct():
    from pipeline_kit.stages._chapters import analyze_chapters
    from pipeline_kit.stages._chunking import create_semantic_chunks
    from pipeline_kit.stages._graph import build_graph
    from pipeline_kit.stages._questions import generate_questions
    from pipeline_kit.stages._transcription import transcribe
    t, c = time.perf_counter(), time.process_time()
    transcript = transcribe(audio)
    chunks = create_semantic_chunks(transcript, PARAMS["chunk_size"], PARAMS["overlap"],
                                    method=PARAMS["chunking_method"])
    graph = build_graph(chunks, top_concepts=40)
    chapters = analyze_chapters(chunks, min_sentences=4)
    generate_questions(chunks, chapters, graph)
    return {"wall": time.perf_counter() - t, "cpu": time.process_time() - c}

def pipelined(home):
    from pipeline_kit.pipeline._pipeline import run_pipeline
    t, c = time.perf_counter(), time.process_time()
    r = run_pipeline(audio, home=home, out_dir=home / "out", **PARAMS)
    assert r.run_record["cache_hits"] == [], r.run_record["cache_hits"]
    out = {"wall": time.perf_counter() - t, "cpu": time.process_time() - c}
    t = time.perf_counter()
    r = run_pipeline(audio, home=home, out_dir=home / "out2", **PARAMS)
    assert len(r.run_record["cache_hits"]) == 6, r.run_record["cache_hits"]
    out["cached"] = time.perf_counter() - t
    return out

with tempfile.TemporaryDirectory() as d:
    if mode == "direct":
        direct()  # warm-up: model and embedder loads
        out = direct()
    else:
        pipelined(Path(d) / "warm")
        out = pipelined(Path(d) / "timed")
print("RESULT " + json.dumps(out))
"""


def measure(mode: str, audio: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, str(audio)], env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} run failed:\n{proc.stderr[-3000:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def main() -> int:
    audio = LJ if LJ.exists() else SAMPLE
    print(f"audio: {audio.name}" + ("" if audio == LJ else " (shared LJ recording not found)"))
    d_runs, p_runs = [], []
    for i in range(ROUNDS):
        for mode in (("direct", "pipeline") if i % 2 == 0 else ("pipeline", "direct")):
            (d_runs if mode == "direct" else p_runs).append(measure(mode, audio))
    d_wall = [r["wall"] for r in d_runs]
    p_wall = [r["wall"] for r in p_runs]
    d, p = statistics.median(d_wall), statistics.median(p_wall)
    cpu = statistics.median(r["cpu"] for r in p_runs) / statistics.median(
        r["cpu"] for r in d_runs)
    cached = [r["cached"] for r in p_runs]
    print(f"direct stage calls (main thread): {d:6.2f} s  (median of {ROUNDS}: "
          f"{', '.join(f'{x:.2f}' for x in d_wall)})")
    print(f"run_pipeline (stage tasks)      : {p:6.2f} s  "
          f"({', '.join(f'{x:.2f}' for x in p_wall)})")
    print(f"ratio pipeline / direct: wall {p / d:.3f}, CPU time {cpu:.3f}  (target <= 1.05)")
    print(f"cached re-run: {statistics.median(cached):.3f} s  (target <= 1 s; "
          f"{', '.join(f'{x:.3f}' for x in cached)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
