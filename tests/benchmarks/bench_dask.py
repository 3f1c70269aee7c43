"""Dask LocalCluster (2 worker processes) vs the local executor on the same batch.

8 copies of the bundled sample (each at a slightly different volume, so no run can
reuse another's artifacts) through the whole pipeline with ``run_batch`` in pipeline
mode: local executor (manager threads in this process, one model load) against
``executor="dask"`` (stages on the workers, one model load per worker). Models are
loaded on both sides before timing. Then the per-task overhead Dask adds, from
no-op tasks. Run: ``python tests/benchmarks/bench_dask.py``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO as ROOT
from _common import TESTS

os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(ROOT), *filter(None, sys.path)])


SAMPLE = ROOT / "data" / "sample" / "austen_sample.wav"
N_FILES, N_NOOPS = 8, 100
PARAMS = {"chunking_method": "tfidf", "chunk_size": 80, "overlap": 10}


def copies(folder: Path, n: int) -> list[Path]:
    from wavdata import write_scaled_wav

    return [write_scaled_wav(SAMPLE, folder / f"copy{i}.wav", 1 - 0.01 * i) for i in range(n)]


def batch(files: list[Path], out: Path, manager) -> float:
    from pipeline_kit.pipeline._batch import run_batch

    t = time.perf_counter()
    df = run_batch(files, out, mode="pipeline", manager=manager, home=out / "home", **PARAMS)
    assert (df["status"] == "completed").all(), df[["name", "status", "error"]]
    return time.perf_counter() - t


def noops(manager, executor: str) -> float:
    import dask_fixtures

    t = time.perf_counter()
    hs = [manager.submit(dask_fixtures.noop, task_type="bench", executor=executor)
          for _ in range(N_NOOPS)]
    for h in hs:
        h.result(timeout=120)
    return (time.perf_counter() - t) / N_NOOPS


def main() -> int:
    import dask
    from distributed import Client, LocalCluster

    from pipeline_kit.tasks import TaskManager

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                               dashboard_address=None)
    client = Client(cluster)
    tmp = tempfile.TemporaryDirectory()
    d = Path(tmp.name)
    files = copies(d, N_FILES + 2)
    warm, files = files[N_FILES:], files[:N_FILES]
    with TaskManager(d / "local.db", max_workers=2) as local, \
            TaskManager(d / "dask.db", dask_client=client) as on_dask:
        batch(warm[:1], d / "warm-local", local)  # model loaded in this process
        batch(warm, d / "warm-dask", on_dask)  # ... and on both workers
        t_local = batch(files, d / "local", local)
        t_dask = batch(files, d / "dask", on_dask)
        n_local = statistics.median(noops(local, "thread") for _ in range(3))
        n_dask = statistics.median(noops(on_dask, "dask") for _ in range(3))
    client.close()
    cluster.close()
    tmp.cleanup()
    audio_s = N_FILES * 26.73
    method = PARAMS["chunking_method"]
    print(f"{N_FILES} files ({audio_s:.0f} s of audio), whole pipeline ({method}):")
    print(f"  local executor (threads, 1 process): {t_local:6.2f} s")
    print(f"  Dask LocalCluster, 2 workers       : {t_dask:6.2f} s   "
          f"speedup x{t_local / t_dask:.2f}")
    print(f"per-task overhead (no-op, median of 3 x {N_NOOPS}): thread {1e3 * n_local:.2f} ms, "
          f"dask {1e3 * n_dask:.2f} ms -> Dask adds {1e3 * (n_dask - n_local):.2f} ms per task")
    return 0


if __name__ == "__main__":
    sys.exit(main())
