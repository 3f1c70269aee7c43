"""Cost of the spaCy parse against transcription (a script, not a test; issue 28).

Target: parsing a transcript once (:func:`pipeline_kit.stages._parse.parsed`, shared by
the stages) costs at most 10 % of transcribing it. Each side runs in its own process,
timing a warm second call: Whisper tiny.en (the bundled default) transcribing the
audio (``transcribe`` loads its model on every call, as a pipeline run does), then
en_core_web_sm parsing that transcript with the pipeline loaded (the in-process cache
cleared before each of 3 repeats; best time). The spaCy load, paid once per process,
is printed apart. Audio: the bundled sample
(26.7 s) and, with ../shared/data, LJ Speech's 221.7 s and an AMI meeting excerpt.

Run: HF_HUB_OFFLINE=1 python tests/benchmarks/bench_parse.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import DATA, REPO


def _transcribe_side(audio: str, out: str) -> dict:
    from pipeline_kit.stages._transcription import transcribe

    transcribe(audio)  # warm the file cache and imports
    t0 = time.perf_counter()
    t = transcribe(audio)  # loads its model on every call, as a pipeline run does
    seconds = time.perf_counter() - t0
    t.to_json(out)
    return {"seconds": seconds, "words": len(t.words), "audio": t.audio_duration_seconds}


def _parse_side(path: str) -> dict:
    from pipeline_kit.stages import _parse
    from pipeline_kit.stages._nlp import nlp
    from pipeline_kit.stages._types import Transcript

    t = Transcript.from_dict(json.loads(Path(path).read_text()))
    t0 = time.perf_counter()
    nlp()("Warm up.")
    load = time.perf_counter() - t0
    best = float("inf")
    for _ in range(3):
        _parse._cache.clear()
        t0 = time.perf_counter()
        _parse.parsed(t)
        best = min(best, time.perf_counter() - t0)
    return {"seconds": best, "load": load}


def _run(*args: str) -> dict:
    res = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         check=False)
    if res.returncode:
        raise SystemExit(res.stderr[-3000:])
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", choices=("transcribe", "parse"), help=argparse.SUPPRESS)
    ap.add_argument("--audio", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side == "transcribe":
        print(json.dumps(_transcribe_side(args.audio, args.out)))
        return
    if args.side == "parse":
        print(json.dumps(_parse_side(args.out)))
        return
    audio = [REPO / "data/sample/austen_sample.wav",
             DATA / "speech_long/ljspeech_LJ001-0001-0032_concat_16k.wav",
             DATA / "diarization/pyannote_ami_debug/trn02.wav"]
    print(f"{'audio':<45} {'words':>6} {'transcribe s':>13} {'parse s':>8} {'ratio':>7} "
          f"{'spaCy load s':>13}")
    with tempfile.TemporaryDirectory() as tmp:
        for i, a in enumerate(p for p in audio if p.exists()):
            out = str(Path(tmp) / f"{i}.json")
            tr = _run("--side", "transcribe", "--audio", str(a), "--out", out)
            pa = _run("--side", "parse", "--out", out)
            print(f"{a.name:<45} {tr['words']:>6} {tr['seconds']:>13.2f} {pa['seconds']:>8.3f} "
                  f"{pa['seconds'] / tr['seconds']:>7.1%} {pa['load']:>13.2f}")


if __name__ == "__main__":
    main()
