"""Same audio, same parameters, same transcript: across executors, threads and load (issue 36).

Transcribes each audio file (the bundled Austen sample and, with shared data, JFK's
44.1 kHz stereo FLAC) in short VAD pieces (``vad_chunk_seconds=5``, several engine
calls with batches) through the task manager's executors:

* ``inline``: a plain call in this process;
* ``thread``: the manager's thread executor;
* ``process``: the manager's worker process (a fresh interpreter);
* ``dask``: a worker of the suite's two-process ``LocalCluster`` (its nanny sets
  ``OMP_NUM_THREADS=1``),

each with CTranslate2 on 1 and on 2 threads, idle and with 3 busy processes spinning on
the 2 cores. Every transcript's words (text, start, end, probability) are compared with
the first one (inline, 2 threads, idle). Prints one row per condition: words that
differ in text or times, words whose probability differs, and the largest
probability difference.

Run: python tests/benchmarks/bench_reproducible.py [--busy 3]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from _common import DATA, REPO

SAMPLE = REPO / "data" / "sample" / "austen_sample.wav"
JFK = DATA / "speech" / "jfk" / "jfk.flac"
PIECE_SECONDS = 5.0


def words_of(audio: str, threads: int) -> list[list]:
    """The transcript's words as JSON rows (runs in whichever executor calls it)."""
    from pipeline_kit.stages._transcription import transcribe

    t = transcribe(audio, model="tiny.en", threads=threads, vad_chunk_seconds=PIECE_SECONDS)
    return [[w.text, w.start, w.end, w.probability] for w in t.words]


@contextlib.contextmanager
def busy(n: int) -> Iterator[None]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def compare(ref: list[list], got: list[list]) -> tuple[int, int, float]:
    """Words whose text or times differ (or are missing), words whose probability
    differs, and the largest probability difference."""
    differ = abs(len(ref) - len(got))
    prob = 0
    dp = 0.0
    for a, b in zip(ref, got, strict=False):
        differ += a[:3] != b[:3]
        prob += a[3] != b[3]
        dp = max(dp, abs((a[3] or 0) - (b[3] or 0)))
    return differ, prob, dp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--busy", type=int, default=3, help="busy processes in the loaded runs")
    args = ap.parse_args()
    from bench_reproducible import words_of as importable  # workers import it by name
    from test_tasks_dask import _local_cluster  # the suite's two-process LocalCluster

    from pipeline_kit.tasks import TaskManager

    audios = [SAMPLE] + ([JFK] if JFK.is_file() else [])
    print(f"{'audio':<18} {'executor':<8} {'threads':>7} {'load':>7} {'words':>6} "
          f"{'text/time differ':>17} {'prob differ':>12} {'max dp':>8}")
    refs: dict[str, list[list]] = {}
    with tempfile.TemporaryDirectory() as tmp, _local_cluster() as client, \
            TaskManager(Path(tmp) / "t.db", dask_client=client) as tm:
        for load in (0, args.busy):
            with busy(load):
                for audio in audios:
                    for executor in ("inline", "thread", "process", "dask"):
                        for threads in (2, 1):
                            if executor == "inline":
                                got = importable(str(audio), threads)
                            else:
                                got = tm.submit(importable, str(audio), threads,
                                                task_type="transcribe",
                                                executor=executor).result(timeout=900)
                            ref = refs.setdefault(audio.name, got)
                            differ, prob, dp = compare(ref, got)
                            print(f"{audio.name:<18} {executor:<8} {threads:>7} "
                                  f"{'busy ' + str(load) if load else 'idle':>7} {len(got):>6} "
                                  f"{differ:>17} {prob:>12} {dp:>8.1e}", flush=True)


if __name__ == "__main__":
    main()
