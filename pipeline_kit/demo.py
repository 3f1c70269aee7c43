"""The main job on the bundled sample: what `make demo` runs.

Transcribes ``data/sample/austen_sample.wav`` and writes the transcript in every
export format, then reports its word error rate against the bundled reference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .evaluation import word_error_rate
from .stages.transcription import transcribe

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "austen_sample.wav"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--audio", type=Path, default=SAMPLE)
    ap.add_argument("--out", type=Path, default=Path("out"))
    args = ap.parse_args(argv)
    out = args.out / "demo"
    out.mkdir(parents=True, exist_ok=True)
    t = transcribe(args.audio)
    t.to_json(out / "transcript.json")
    (out / "transcript.srt").write_text(t.to_srt(), encoding="utf-8")
    (out / "transcript.vtt").write_text(t.to_vtt(), encoding="utf-8")
    (out / "transcript.txt").write_text(t.to_txt(), encoding="utf-8")
    print(f"transcribed {args.audio.name}: {t.audio_duration_seconds:.1f} s of audio in "
          f"{t.processing_time_seconds:.1f} s ({len(t.words)} words, model {t.model.name})")
    ref = args.audio.with_suffix(".txt")
    if ref.exists():
        print(f"word error rate against {ref.name}: "
              f"{word_error_rate(ref.read_text(), t.text):.1%}")
    print(f"results in {out.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
