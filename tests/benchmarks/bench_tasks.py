"""Task-manager overhead against bare asyncio and a bare thread pool (prints a table).

    PYTHONPATH=. python tests/benchmarks/bench_tasks.py [--tasks 2000]

Per-task cost of submit → complete for a no-op function with persistence on (a
SQLite file in a temporary folder), next to ``asyncio.create_task`` and
``ThreadPoolExecutor.submit`` in the same run; and the cost of progress updates.
No assertions on time: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures as cf
import tempfile
import time
from pathlib import Path

from pipeline_kit.base._progress import NullProgress
from pipeline_kit.tasks import TaskManager, TaskType


def noop() -> None:
    return None


async def anoop() -> None:
    return None


def progress_loop(n: int, progress=None) -> float:
    """Calls ``progress.update`` ``n`` times; returns seconds per call."""
    t0 = time.perf_counter()
    for i in range(n):
        progress.update(i, n, step="words")
    return (time.perf_counter() - t0) / n


def check_loop(n: int, progress=None) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        progress.check_cancelled()
    return (time.perf_counter() - t0) / n


def per_task(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e6:9.1f} µs"


def bench(n: int) -> list[tuple[str, str]]:
    rows = []

    async def bare_asyncio() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*[asyncio.create_task(anoop()) for _ in range(n)])
        return time.perf_counter() - t0

    rows.append(("asyncio.create_task + gather (no-op)", per_task(asyncio.run(bare_asyncio()), n)))

    with cf.ThreadPoolExecutor() as pool:
        pool.submit(noop).result()
        t0 = time.perf_counter()
        cf.wait([pool.submit(noop) for _ in range(n)])
        rows.append(("ThreadPoolExecutor.submit, batch", per_task(time.perf_counter() - t0, n)))
        t0 = time.perf_counter()
        for _ in range(n // 4):
            pool.submit(noop).result()
        rows.append(("ThreadPoolExecutor submit→result, one by one",
                     per_task(time.perf_counter() - t0, n // 4)))

    with tempfile.TemporaryDirectory() as d, TaskManager(Path(d) / "tasks.sqlite3") as tm:
        tm.submit(noop, task_type=TaskType.PIPELINE).result()
        t0 = time.perf_counter()
        handles = [tm.submit(noop, task_type=TaskType.PIPELINE) for _ in range(n)]
        tm.wait(handles)
        rows.append(("TaskManager.submit (thread), batch, SQLite on",
                     per_task(time.perf_counter() - t0, n)))
        t0 = time.perf_counter()
        for _ in range(n // 4):
            tm.submit(noop, task_type=TaskType.PIPELINE).result()
        rows.append(("TaskManager submit→result, one by one, SQLite on",
                     per_task(time.perf_counter() - t0, n // 4)))
        t0 = time.perf_counter()
        handles = [tm.submit(anoop, task_type=TaskType.PIPELINE) for _ in range(n)]
        tm.wait(handles)
        rows.append(("TaskManager.submit (async def), batch, SQLite on",
                     per_task(time.perf_counter() - t0, n)))

        async def awaited() -> float:
            t0 = time.perf_counter()
            await asyncio.gather(*[tm.submit(noop, task_type=TaskType.PIPELINE)
                                   for _ in range(n)])
            return time.perf_counter() - t0

        rows.append(("TaskManager, awaited from another loop, batch",
                     per_task(asyncio.run(awaited()), n)))

        k = 10_000
        per_update = tm.submit(progress_loop, k, task_type=TaskType.PIPELINE).result()
        rows.append((f"progress.update × {k:,} (per call)", f"{per_update * 1e6:9.2f} µs"))
        per_check = tm.submit(check_loop, k, task_type=TaskType.PIPELINE).result()
        rows.append((f"progress.check_cancelled × {k:,} (per call)",
                     f"{per_check * 1e6:9.2f} µs"))
        rows.append((f"total for {k:,} updates", f"{per_update * k * 1e3:9.2f} ms"))
    null = NullProgress()
    t0 = time.perf_counter()
    for i in range(10_000):
        null.update(i, 10_000, step="words")
    rows.append(("NullProgress.update (baseline, per call)",
                 f"{(time.perf_counter() - t0) / 10_000 * 1e6:9.2f} µs"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=2000)
    n = ap.parse_args().tasks
    rows = bench(n)
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement (' + str(n) + ' tasks)':<{width}}  per task / call")
    print("-" * (width + 18))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
