"""Benchmark: the per-chunk size check no longer grows with the chunks already stored.

``AudioLibrary.receive_chunk`` used to stat every stored chunk to check the
upload's size limit (O(n) per chunk, O(n^2) per upload); it now reads a byte
counter kept under a lock (O(1)). Each side runs in its own subprocess, in ABBA
order: a library upload holding ``--few`` or ``--many`` stored chunks receives
``--receives`` more 1 KiB chunks; the mean time per receive is printed, and the
ratio many/few (1.0 = independent of the number stored). The old check (a stat of
every stored chunk, as before) is timed on the same many-chunk upload as the
baseline cost that each receive used to add.
Run: ``PYTHONPATH=. python tests/benchmarks/bench_chunk_check.py [--many 9900]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, time
from pipeline_kit.ingest._upload import AudioLibrary
root, stored, receives = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lib = AudioLibrary(root)
lib.start_upload("u", expected_chunks=10_000, filename="a.wav")
chunks = lib.upload_dir("u") / "chunks"
for i in range(stored):  # stored earlier (by another process): written directly
    (chunks / f"{i}.part").write_bytes(b"x" * 1024)
lib.receive_chunk("u", stored, b"y" * 1024)  # first receive counts once
t = time.perf_counter()
for i in range(stored + 1, stored + 1 + receives):
    lib.receive_chunk("u", i, b"z" * 1024)
per_receive = (time.perf_counter() - t) / receives
t = time.perf_counter()
for i in range(receives):  # the old check: a stat of every other stored chunk
    sum(p.stat().st_size for j, ps in lib._chunk_files("u").items() for p in ps if j != i)
old_check = (time.perf_counter() - t) / receives
print(json.dumps({"per_receive": per_receive, "old_check": old_check}))
"""


def run_side(stored: int, receives: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(dir="/tmp") as root:
        out = subprocess.run([sys.executable, "-c", CHILD, root, str(stored), str(receives)],
                             check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--few", type=int, default=10)
    ap.add_argument("--many", type=int, default=9900)
    ap.add_argument("--receives", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2, help="ABBA rounds")
    args = ap.parse_args()
    few: list[dict[str, float]] = []
    many: list[dict[str, float]] = []
    for _ in range(args.rounds):
        for side in ("few", "many", "many", "few"):
            (few if side == "few" else many).append(
                run_side(args.few if side == "few" else args.many, args.receives))
    f = statistics.median(r["per_receive"] for r in few)
    m = statistics.median(r["per_receive"] for r in many)
    old = statistics.median(r["old_check"] for r in many)
    print(f"receive_chunk, {args.few} chunks stored:  {f * 1e3:8.3f} ms")
    print(f"receive_chunk, {args.many} chunks stored: {m * 1e3:8.3f} ms")
    print(f"ratio many/few: {m / f:.2f}  (1.0 = independent of the chunks stored)")
    print(f"old check alone at {args.many} chunks: {old * 1e3:8.3f} ms per receive "
          f"({old / m:.1f}x today's whole receive)")


if __name__ == "__main__":
    main()
