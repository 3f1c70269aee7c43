"""Benchmark: reassembling a chunked upload vs ``cat`` of the same chunks.

Writes ``--chunks`` random chunk files (``--size-mib`` in total, default 1 GiB in
1024 chunks) into an upload of a temporary library under /tmp, then times, in
fresh subprocesses and alternating order:

* ``cat`` of the chunks into a file, and ``cat`` followed by fsync of that file;
* ``AudioLibrary.assemble`` (chunk checks + streaming copy + fsync), which is what
  ``process_upload`` runs before probing (probing is skipped: the data is random),
  both as it runs without a client checksum (no whole-file hash) and when it must
  compute and verify the whole-file SHA-256;
* ``concat_files`` without fsync, to compare with plain ``cat``;
* its two halves alone: the kernel copy without hashing, and SHA-256 of the chunks
  without copying (the lower bound for any reassembly that hashes the whole file).

Peak RSS of each reassembly subprocess is its VmHWM (and RUSAGE_CHILDREN ru_maxrss).
Goals: throughput >= 0.8 of cat, peak RSS < 100 MB. Prints a table; asserts nothing.
Run: ``PYTHONPATH=. python tests/benchmarks/bench_upload.py [--size-mib 1024 --chunks 1024]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO

CHILD = r"""
import json, sys, time
from pathlib import Path
import threading
from pipeline_kit.ingest._upload import AudioLibrary, concat_files, _copy_into, _hash_sources
root, upload_id, dest, mode = sys.argv[1:5]
lib = AudioLibrary(root, max_bytes=1 << 40, hash_uploads=mode == "assemble_hashed")
t = time.perf_counter()
sources = lib.check_chunks(upload_id)
if mode.startswith("assemble"):
    digest, size = lib.assemble(upload_id, dest)
elif mode == "concat":
    digest, size = concat_files(sources, dest, fsync=False)
elif mode == "hash":
    digest, _ = _hash_sources(sources, None, 8 << 20, threading.Event())
    size = sum(p.stat().st_size for p in sources)
else:  # copy only, as concat_files does it (kernel copy_file_range), no hashing
    size = 0
    with open(dest, "xb", buffering=0) as out:
        for p in sources:
            with open(p, "rb", buffering=0) as f:
                size += _copy_into(f, out, 8 << 20)
    digest = None
seconds = time.perf_counter() - t
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"seconds": seconds, "size": size, "sha256": digest, "vmhwm_kib": hwm}))
"""


MODES = {"assemble": "assemble", "assemble+sha256": "assemble_hashed", "concat_files": "concat",
         "copy": "copy", "sha256": "hash"}


def make_chunks(root: Path, n: int, total: int) -> tuple[str, list[Path]]:
    from pipeline_kit.ingest._upload import AudioLibrary

    lib = AudioLibrary(root, max_bytes=1 << 40)
    manifest = lib.start_upload("bench", expected_chunks=n, filename="bench.bin")
    size = total // n
    paths = []
    for i in range(n):
        p = lib.chunk_path(manifest.upload_id, i)
        p.write_bytes(os.urandom(size if i < n - 1 else total - size * (n - 1)))
        paths.append(p)
    return manifest.upload_id, paths


def time_cat(paths: list[Path], dest: Path, fsync: bool) -> float:
    t = time.perf_counter()
    with open(dest, "wb") as out:
        subprocess.run(["cat", *map(str, paths)], stdout=out, check=True)
        if fsync:
            os.fsync(out.fileno())
    return time.perf_counter() - t


def run_child(root: Path, upload_id: str, dest: Path, mode: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", CHILD, str(root), upload_id, str(dest), mode],
                         env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--chunks", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    total = args.size_mib << 20
    tmp = Path(tempfile.mkdtemp(prefix="pk-bench-upload-", dir="/tmp"))
    try:
        root = tmp / "audio"
        print(f"writing {args.chunks} random chunks, {args.size_mib} MiB in all, under {tmp}")
        upload_id, paths = make_chunks(root, args.chunks, total)
        dest = tmp / "out.bin"
        time_cat(paths, dest, fsync=True)  # warm the page cache
        dest.unlink()
        times: dict[str, list[float]] = {
            "cat": [], "cat + fsync": [], "assemble (no checksum sent; fsync)": [],
            "assemble+sha256 (verify; fsync)": [],
            "concat_files (hash, no fsync)": [], "  copy only (no hash, no fsync)": [],
            "  sha256 of the chunks only": []}
        rss: dict[str, int] = {}
        for _ in range(args.repeats):
            for name in times:
                os.sync()
                if name.startswith("cat"):
                    times[name].append(time_cat(paths, dest, fsync=name != "cat"))
                else:
                    mode = MODES[name.split()[0]]
                    result = run_child(root, upload_id, dest, mode)
                    assert result["size"] == total, result
                    times[name].append(result["seconds"])
                    rss[name] = max(rss.get(name, 0), result["vmhwm_kib"])
                dest.unlink(missing_ok=True)
        children_maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"\n{args.size_mib} MiB in {args.chunks} chunks, median of {args.repeats} runs "
              f"({os.cpu_count()} CPUs)")
        print(f"{'method':32} {'seconds':>8} {'MiB/s':>8} {'vs cat':>7} {'vs cat+fsync':>13} "
              f"{'peak RSS MB':>12}")
        for name, sec in med.items():
            peak = f"{rss[name] / 1024:.1f}" if name in rss else "-"
            print(f"{name:32} {sec:8.2f} {args.size_mib / sec:8.0f} {med['cat'] / sec:7.2f} "
                  f"{med['cat + fsync'] / sec:13.2f} {peak:>12}")
        print(f"max ru_maxrss over all children (incl. cat): {children_maxrss / 1024:.1f} MB")
        print("goals: assemble >= 0.8 x cat + fsync (and concat_files >= 0.8 x cat); "
              "peak RSS < 100 MB")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
