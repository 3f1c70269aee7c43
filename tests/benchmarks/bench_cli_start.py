"""Wall time and peak memory of ``pipeline-kit`` commands from a cold start, before/after.

Each command runs in a new interpreter, as a user's terminal runs it: ``--help``,
``--version``, ``tasks``, ``runs``, and ``search`` in keyword and hybrid mode on a
small home (the bundled sample, run through chunking: one run with MiniLM chunk
vectors). The baseline is the package as of ``--baseline`` (a git revision, extracted
with ``git archive`` and put first on ``PYTHONPATH``), measured in the same run,
alternating with this checkout, in the same interpreter and environment. Each phase
runs twice: with the machine as it is ("idle"), then with ``--busy`` (default 4) plain
Python busy loops running, killed afterwards. Prints medians of ``--reps`` runs and
the after/before ratios; the load average is printed with each phase, since an
"idle" shared machine is not.

This checkout's search embeds its query with the ONNX export of MiniLM, made once per
machine (the set-up search below makes it if the machine has none yet).

Run: python tests/benchmarks/bench_cli_start.py --baseline <rev> [--reps 3] [--busy 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from _common import REPO

SAMPLE = REPO / "data" / "sample" / "austen_sample.wav"
QUERY = "what did John Dashwood consider doing for them"


def extract(rev: str, into: Path) -> Path:
    """The package as of ``rev``, extracted into ``into`` (returned: its PYTHONPATH)."""
    archive = into / "base.tar"
    subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), rev, "pipeline_kit"],
                   check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "base", filter="data")
    return into / "base"


def measure(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system: what a machine that is
    not idle cannot inflate much) of ``pipeline-kit argv`` in a new interpreter."""
    cmd = [sys.executable, "-m", "pipeline_kit.faces.cli", *argv]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"pipeline-kit {' '.join(argv)} failed ({proc.returncode}): {err}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def make_home(tmp: Path, env: dict[str, str]) -> Path:
    """A home with one run of the bundled sample through chunking (MiniLM vectors)."""
    home = tmp / "home"
    subprocess.run([sys.executable, "-m", "pipeline_kit.faces.cli", "run", str(SAMPLE),
                    "--home", str(home), "--out", str(tmp / "out"), "--stages", "chunking",
                    "--quiet"], env=env, cwd=tmp, check=True, stdout=subprocess.DEVNULL)
    return home


def busy_loops(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def phase(name: str, commands: dict[str, list[str]], sides: dict[str, dict[str, str]],
          reps: int, cwd: Path) -> None:
    """Median wall, RSS and CPU of every command on every side, sides alternating."""
    runs: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for _ in range(reps):
        for label, argv in commands.items():
            for side, env in sides.items():
                runs.setdefault((label, side), []).append(measure(argv, env, cwd))
    print(f"\n{name} (load average {os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} "
          f"cores), medians of {reps}:")
    print(f"{'command':<16} {'before s':>9} {'after s':>8} {'ratio':>6} "
          f"{'before MB':>10} {'after MB':>9} {'ratio':>6} {'before cpu':>11} "
          f"{'after cpu':>10} {'ratio':>6}")
    for label in commands:
        b, a = ([statistics.median(x) for x in zip(*runs[(label, s)], strict=True)]
                for s in ("before", "after"))
        print(f"{label:<16} {b[0]:>9.2f} {a[0]:>8.2f} {a[0] / b[0]:>6.2f} "
              f"{b[1]:>10.0f} {a[1]:>9.0f} {a[1] / b[1]:>6.2f} "
              f"{b[2]:>11.2f} {a[2]:>10.2f} {a[2] / b[2]:>6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="git revision measured as 'before'")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--busy", type=int, default=4, help="busy loops of the loaded phase")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        env.pop("PYTHONPATH", None)
        sides = {"before": {**env, "PYTHONPATH": str(extract(args.baseline, tmp))},
                 "after": env}
        home = make_home(tmp, env)
        h = ["--home", str(home)]
        commands = {"--help": ["--help"], "--version": ["--version"], "tasks": ["tasks", *h],
                    "runs": ["runs", *h],
                    "search keyword": ["search", str(home), QUERY, "--mode", "keyword"],
                    "search hybrid": ["search", str(home), QUERY]}
        for side_env in sides.values():  # compiles each side's .pyc, makes the ONNX export
            for argv in commands.values():
                measure(argv, side_env, tmp)
        phase("idle", commands, sides, args.reps, tmp)
        loops = busy_loops(args.busy)
        try:
            time.sleep(2)
            phase(f"under {args.busy} busy processes", commands, sides, args.reps, tmp)
        finally:
            for p in loops:
                p.kill()
                p.wait()


if __name__ == "__main__":
    main()
