"""Benchmark: word speaker assignment, pipeline_kit vs whisperx, on an hour of meeting.

The input is real: AMI's two-speaker excerpt (``diarization/pyannote_ami_debug/sample.wav``
in the shared data) transcribed once with the bundled tiny.en, and its gold RTTM
turns; both repeated back to back (shifted by 30 s each time) to ``--minutes`` of
meeting. Each side runs in its own process, in ABBA order, timing only the call:
``pk.assign_speakers(transcript, diarization)`` and whisperx's
``assign_word_speakers(diarize_df, result, fill_nearest=True)`` (its nearest-turn
fallback, the closest to ours). Printed: median seconds per side, the ratio
pk / whisperx (below 1: faster), and how many words both label alike.
Run: ``PIPELINE_KIT_SHARED_DATA=/work/shared/data PYTHONPATH=. python
tests/benchmarks/bench_speakers.py [--minutes 60]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import DATA

AMI = DATA / "diarization" / "pyannote_ami_debug"

CHILD = r"""
import json, sys, time
side, src = sys.argv[1], sys.argv[2]
data = json.loads(open(src).read())
if side == "pk":
    import pipeline_kit as pk
    t = pk.Transcript.from_dict(data["transcript"])
    d = pk.Diarization.from_dict(data["diarization"])
    t0 = time.perf_counter()
    out = pk.assign_speakers(t, d)
    seconds = time.perf_counter() - t0
    labels = [w.speaker for w in out.words]
else:
    import pandas as pd
    from whisperx.diarize import assign_word_speakers
    t = data["transcript"]
    words = t["words"]
    result = {"segments": [{"start": s["start"], "end": s["end"], "text": s["text"],
                            "words": [{"word": w["text"], "start": w["start"], "end": w["end"]}
                                      for w in words[s["word_start"]:s["word_end"]]]}
                           for s in t["segments"]]}
    df = pd.DataFrame(data["diarization"]["turns"])
    t0 = time.perf_counter()
    out = assign_word_speakers(df, result, fill_nearest=True)
    seconds = time.perf_counter() - t0
    labels = [w.get("speaker") for s in out["segments"] for w in s["words"]]
print(json.dumps({"seconds": seconds, "labels": labels}))
"""


def build_input(minutes: float, path: Path) -> tuple[int, int]:
    """Write the repeated transcript and turns to ``path``; returns (words, turns)."""
    from test_speakers import gold_diarization  # tests/ is on sys.path (_common)

    import pipeline_kit as pk

    t = pk.transcribe(str(AMI / "sample.wav"))
    gold = gold_diarization(AMI / "sample.rttm", "sample")
    copies = max(1, round(minutes * 60 / 30.0))
    words, segments, turns = [], [], []
    for k in range(copies):
        off, base = 30.0 * k, len(words)
        words += [{**w.to_dict(), "start": w.start + off, "end": w.end + off} for w in t.words]
        segments += [{**s.to_dict(), "id": len(segments) + i, "start": s.start + off,
                      "end": s.end + off, "word_start": s.word_start + base,
                      "word_end": s.word_end + base} for i, s in enumerate(t.segments)]
        turns += [{"start": x.start + off, "end": x.end + off, "speaker": x.speaker}
                  for x in gold.turns]
    transcript = {**t.to_dict(), "words": words, "segments": segments,
                  "audio_duration_seconds": 30.0 * copies}
    transcript.pop("real_time_factor", None)
    diarization = {**gold.to_dict(), "turns": turns, "audio_duration_seconds": 30.0 * copies}
    path.write_text(json.dumps({"transcript": transcript, "diarization": diarization}))
    return len(words), len(turns)


def run_side(side: str, src: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, side, str(src)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--rounds", type=int, default=1, help="ABBA rounds")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        src = Path(tmp) / "input.json"
        n_words, n_turns = build_input(args.minutes, src)
        runs: dict[str, list[dict]] = {"pk": [], "whisperx": []}
        for _ in range(args.rounds):
            for side in ("pk", "whisperx", "whisperx", "pk"):
                runs[side].append(run_side(side, src))
    pk_s = statistics.median(r["seconds"] for r in runs["pk"])
    wx_s = statistics.median(r["seconds"] for r in runs["whisperx"])
    ours, theirs = runs["pk"][0]["labels"], runs["whisperx"][0]["labels"]
    same = sum(a == b for a, b in zip(ours, theirs, strict=True))
    print(f"{args.minutes:.0f} min of meeting: {n_words} words, {n_turns} turns")
    print(f"pipeline_kit assign_speakers:      {pk_s:8.4f} s")
    print(f"whisperx assign_word_speakers:     {wx_s:8.4f} s")
    print(f"ratio pk / whisperx: {pk_s / wx_s:.3f}  (below 1: faster)")
    print(f"same label: {same}/{len(ours)} words ({same / len(ours):.1%}); "
          f"pk None: {ours.count(None)}, whisperx None: {theirs.count(None)}")


if __name__ == "__main__":
    main()
