"""Start overhead of ``executor="process"`` tasks: a fresh Python process per task
(``PIPELINE_KIT_WORKER_TASKS=1``, the behaviour before issue 32) against kept worker
processes (the default), in the same run, each side in its own process, ABBA order.

    python tests/benchmarks/bench_process_pool.py [--tasks 40] [--rounds 2]

Per task: ``os.getpid`` submitted and awaited one at a time (latency: all of it is
overhead), then ``--tasks`` of them submitted at once to two worker processes
(throughput). Also prints the machine's load average: the overhead grows with it.
No assertions on time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _common import REPO

SIDE = """
import json, os, sys, tempfile, time
from pipeline_kit.tasks import TaskManager
n = int(sys.argv[1])
with tempfile.TemporaryDirectory() as tmp, \\
        TaskManager(os.path.join(tmp, "t.sqlite3"), max_processes=2) as tm:
    def one():
        return tm.submit(os.getpid, task_type="probe", executor="process").result(600)
    one()  # the manager and its store warm; a first worker for the pooled side
    t0 = time.perf_counter()
    pids = {one() for _ in range(n)}
    latency = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    hs = [tm.submit(os.getpid, task_type="probe", executor="process") for _ in range(n)]
    pids |= {h.result(600) for h in hs}
    throughput = (time.perf_counter() - t0) / n
print(json.dumps({"latency": latency, "throughput": throughput, "processes": len(pids)}))
"""


def side(fresh: bool, n: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PIPELINE_KIT_WORKER_TASKS", None)
    if fresh:
        env["PIPELINE_KIT_WORKER_TASKS"] = "1"
    out = subprocess.run([sys.executable, "-c", SIDE, str(n)], env=env, text=True,
                         capture_output=True, timeout=3600, cwd=tempfile.gettempdir())
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    results: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    for _ in range(args.rounds):
        for fresh in (True, False, False, True):  # ABBA
            results[fresh].append(side(fresh, args.tasks))
    print(f"load average at start {load:.1f}, {os.cpu_count()} cores; "
          f"{args.tasks} tasks x {2 * args.rounds} runs per side, "
          f"{time.perf_counter() - t0:.0f} s")
    print(f"{'':34}{'one at a time':>16}{f'{args.tasks} at once, 2 workers':>24}"
          f"{'processes':>11}")
    med = {}
    for fresh, label in ((True, "fresh process per task (before)"),
                         (False, "kept worker processes (after)")):
        rows = results[fresh]
        lat = sorted(r["latency"] for r in rows)[len(rows) // 2]
        thr = sorted(r["throughput"] for r in rows)[len(rows) // 2]
        med[fresh] = (lat, thr)
        procs = max(r["processes"] for r in rows)
        print(f"{label:34}{lat * 1000:13.1f} ms{thr * 1000:21.1f} ms{procs:>11}")
    print(f"{'before / after':34}{med[True][0] / med[False][0]:15.1f}x"
          f"{med[True][1] / med[False][1]:23.1f}x")


if __name__ == "__main__":
    main()
