"""Mutation check: plausible bugs, one at a time, each of which the suite must catch.

Usage (from the repository root, with the project's venv)::

    .venv/bin/python tests/mutation/run_mutants.py            # every mutant
    .venv/bin/python tests/mutation/run_mutants.py b d         # some, by id

The script copies the checkout (tracked and untracked, not ignored, files) into a
temporary folder and works only there: for each mutant it first runs the mutant's
tests on the unchanged copy (they must pass, or the row says so), then replaces the
mutant's ``old`` text (which must occur exactly once) with ``new``, runs the same
tests again and puts the original text back. Caught = the tests fail; survived =
they pass. The checkout itself is never modified. Prints a table; exits 1 unless
every mutant is caught.

Tests run with ``PIPELINE_KIT_REQUIRE_SERVICES=1`` (a skipped test catches nothing)
and a per-test ``--timeout`` with pytest-timeout's thread method, so a mutant that
makes a test hang ends its run as a failure instead of stalling it.

To update a mutant after a refactor, edit its ``file``/``old``/``new`` in MUTANTS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mutant:
    """One source-text replacement and the tests that must catch it."""

    id: str
    what: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    timeout: int = 120  # per test (pytest-timeout), seconds


MUTANTS: list[Mutant] = [
    Mutant("b", "retry jitter only upward",
           "pipeline_kit/tasks/_retry.py",
           "uniform(-self.jitter, self.jitter)",
           "uniform(0.0, self.jitter)",
           ("tests/test_retry_jitter.py",)),
    Mutant("c", "Pk/WindowDiff short-text rule broken (n == k falls through to nltk)",
           "pipeline_kit/stages/_segmetrics.py",
           "    if n <= k:\n",
           "    if n < k:\n",
           ("tests/test_segmetrics.py",)),
    Mutant("d", "SRT/VTT hours field typo (hours of 6 minutes)",
           "pipeline_kit/stages/_subtitles.py",
           "h, ms = divmod(ms, 3_600_000)",
           "h, ms = divmod(ms, 360_000)",
           ("tests/test_subtitles.py",)),
    Mutant("d2", "SRT/VTT hours field typo (one-digit hours)",
           "pipeline_kit/stages/_subtitles.py",
           'f"{h:02d}:',
           'f"{h:d}:',
           ("tests/test_subtitles.py",)),
    # Written against today's reporter (pipeline_kit/tasks/_reporter.py); the flush is
    # being made deterministic there, so this target may move.
    Mutant("e", "final (trailing) progress flush dropped",
           "pipeline_kit/tasks/_reporter.py",
           "                self._scheduled = True\n"
           "                self._post(wait)\n",
           "                self._scheduled = True\n",
           ("tests/test_progress_flush.py",
            "tests/test_tasks_parts.py::"
            "test_reporter_throttles_and_its_trailing_flush_keeps_the_last_value")),
    Mutant("f", "cancelling a running task never reaches the task",
           "pipeline_kit/tasks/_reporter.py",
           "        if self.stop is None:\n            self.stop = exc\n",
           "        if self.stop is None:\n            pass\n",
           ("tests/test_tasks_manager.py::test_cancel_running_stops_at_next_progress_call[sqlite]",),
           timeout=30),
    Mutant("a", "chunk_size dropped from the chunking cache key",
           "pipeline_kit/pipeline/_pipeline.py",
           "    own = params.for_stage(spec.name)\n",
           "    own = params.for_stage(spec.name)\n    own.pop('chunk_size', None)\n",
           ("tests/test_registry.py", "tests/test_pipeline.py", "-k",
            "changing_one_parameter or one_parameter_changed_alone"),
           timeout=600),
    Mutant("g", "atomic writes written straight to the final path (no temp + rename)",
           "pipeline_kit/base/_fs.py",
           "    tmp = temp_path(path.parent, path.name)\n",
           "    tmp = path\n",
           ("tests/test_atomic_writes.py",)),
    Mutant("h", "re-indexing a run no longer skipped",
           "pipeline_kit/collection/_collection.py",
           "            if run.run_id in known:\n                continue\n",
           "",
           ("tests/test_survivors.py::test_indexing_a_run_again_changes_nothing",)),
    Mutant("i", "load_run takes the first of several runs a prefix matches",
           "pipeline_kit/pipeline/_load_run.py",
           "    if len(matches) > 1:\n",
           "    if False:\n",
           ("tests/test_survivors.py::test_an_ambiguous_run_id_prefix_is_refused",)),
    Mutant("j", "papermill's environment no longer detected (the parent check hid it)",
           "pipeline_kit/notebook/_display.py",
           '    if any(k.startswith("PAPERMILL") for k in os.environ):\n        return True\n',
           "",
           ("tests/test_survivors.py",)),
]


def copy_checkout(dest: Path) -> None:
    """Tracked and untracked (not ignored) files of the checkout, as they are now."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=REPO, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def test_env(copy: Path, home: Path) -> dict[str, str]:
    """Environment for the copy's tests: its own modules first, services required."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(copy), str(copy / "tests"),
                                                      env.get("PYTHONPATH")]))
    env.setdefault("PIPELINE_KIT_SHARED_DATA", str(REPO.parent / "shared" / "data"))
    env["PIPELINE_KIT_REQUIRE_SERVICES"] = "1"
    env["PIPELINE_KIT_HOME"] = str(home)
    env["HF_HUB_OFFLINE"] = env["TRANSFORMERS_OFFLINE"] = "1"
    return env


def run_tests(m: Mutant, copy: Path, env: dict[str, str]) -> tuple[int, float, str]:
    """Run ``m.tests`` in the copy: (exit code, seconds, the last lines of the report).

    The run is also bounded from outside (a hang that pytest-timeout cannot end, e.g.
    at interpreter exit, is killed with its process group and counts as a failure).
    """
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly",
           "-p", "no:cacheprovider", "--timeout", str(m.timeout),
           "-o", "timeout_method=thread", *m.tests]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=copy, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=4 * m.timeout + 120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return -9, time.monotonic() - t0, "killed: the run outlived its bound\n" + out[-500:]
    return proc.returncode, time.monotonic() - t0, out


def evidence(out: str) -> str:
    """The line that says why the run failed (or how it passed)."""
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    for key in ("FAILED ", "ERROR ", "Timeout", "killed:"):
        for ln in lines:
            if ln.startswith(key) or (key == "Timeout" and "Timeout" in ln):
                return ln[:110]
    return lines[-1][:110] if lines else ""


def check(m: Mutant, copy: Path, env: dict[str, str]) -> tuple[str, float, str]:
    """(result, seconds with the mutant, evidence) for one mutant."""
    target = copy / m.file
    original = target.read_text(encoding="utf-8")
    found = original.count(m.old)
    if found != 1:
        return f"TARGET {'MISSING' if not found else 'AMBIGUOUS'}", 0.0, f"{m.old!r} x{found}"
    rc, _, out = run_tests(m, copy, env)
    if rc != 0:
        return "TESTS FAIL UNMUTATED", 0.0, evidence(out)
    try:
        target.write_text(original.replace(m.old, m.new), encoding="utf-8")
        rc, secs, out = run_tests(m, copy, env)
    finally:
        target.write_text(original, encoding="utf-8")
    if rc == 5:
        return "NO TESTS RAN", secs, evidence(out)
    return ("caught" if rc != 0 else "SURVIVED"), secs, evidence(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ids", nargs="*", help="mutant ids to run (default: all)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = ap.parse_args(argv)
    known = {m.id for m in MUTANTS}
    unknown = sorted(set(args.ids) - known)
    if unknown:
        ap.error(f"unknown mutant id(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    chosen = [m for m in MUTANTS if not args.ids or m.id in args.ids]

    tmp = Path(tempfile.mkdtemp(prefix="pipeline_kit_mutants."))
    rows = []
    try:
        copy = tmp / "repo"
        copy_checkout(copy)
        env = test_env(copy, tmp / "home")
        probe = "import pipeline_kit; print(pipeline_kit.__file__)"
        where = subprocess.run([sys.executable, "-c", probe], cwd=copy, env=env,
                               capture_output=True, text=True, check=True)
        if not where.stdout.strip().startswith(str(copy)):
            print(f"the copy's tests would import {where.stdout.strip()}, not the copy",
                  file=sys.stderr)
            return 2
        for m in chosen:
            print(f">> mutant {m.id}: {m.what}", flush=True)
            result, secs, why = check(m, copy, env)
            rows.append((m, result, secs, why))
            print(f"   {result} ({secs:.0f} s) {why}", flush=True)
    finally:
        if args.keep:
            print(f"copy kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    print("| id | mutant | file | tests | result | s |")
    print("|----|--------|------|-------|--------|---|")
    for m, result, secs, _ in rows:
        print(f"| {m.id} | {m.what} | {m.file} | {' '.join(m.tests)} | {result} | {secs:.0f} |")
    caught = sum(r == "caught" for _, r, _, _ in rows)
    print(f"\n{caught}/{len(rows)} caught")
    return 0 if caught == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
