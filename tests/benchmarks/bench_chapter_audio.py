"""Chapters of a real recording with a short section: boundaries vs gold, titles.

The recording is built from the shared data and the bundled sample, each section
introduced by its spoken number (espeak-ng: "One.", "Two." ...):

1. LJ Speech LJ001-0001..0012 (printing, one reader, ~80 s)
2. JFK's inaugural excerpt (11 s, another speaker and topic: the short section)
3. The bundled Austen reading (27 s, a third reader and topic)
4. LJ Speech LJ001-0020..0032 (type and letter design, ~95 s)

with 1 s of silence before each number and 0.4 s after it. It is transcribed with the
bundled tiny.en (``pipeline_kit.transcribe``, default options), then chaptered two
ways in the same run: ``analyze_chapters`` with the defaults (new) and with the
old behaviour (``min_sentences=4`` everywhere, no heading cues, titles of two
phrases: ``cues=False, title_phrases=2``).
Prints, per way, each gold boundary's nearest chapter start, the extra chapters and
the titles, and whether every gold boundary is within ±5 s with no extra one (the
issue 18 target). Also prints what each spoken number was transcribed as (before
the VAD kept short stand-alone items apart, "One", "Two" and "Four" were dropped).
Run: ``python tests/benchmarks/bench_chapter_audio.py`` (needs espeak-ng).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import DATA, REPO

LJ = DATA / "speech" / "ljspeech_LJ001" / "wavs"
SECTIONS = [
    ("One.", [LJ / f"LJ001-{i:04d}.wav" for i in range(1, 13)]),
    ("Two.", [DATA / "speech" / "jfk" / "jfk.flac"]),
    ("Three.", [REPO / "data" / "sample" / "austen_sample.wav"]),
    ("Four.", [LJ / f"LJ001-{i:04d}.wav" for i in range(20, 33)]),
]
SR = 16000


def spoken(text: str, folder: Path) -> np.ndarray:
    from pipeline_kit.ingest._audio import load_audio

    path = folder / f"{text.strip('.')}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text],
                   check=True)
    return load_audio(path, sr=SR)


def build(folder: Path) -> tuple[np.ndarray, list[float]]:
    """The recording and the start time (s) of each spoken number (gold: sections 2..4)."""
    from pipeline_kit.ingest._audio import load_audio

    pieces, starts, t = [], [], 0.0
    for i, (number, paths) in enumerate(SECTIONS):
        lead = np.zeros(SR if i else SR // 4, dtype=np.float32)
        pieces.append(lead)
        t += len(lead) / SR
        starts.append(t)
        num = spoken(number, folder)
        pieces += [num, np.zeros(int(0.4 * SR), dtype=np.float32)]
        t += len(num) / SR + 0.4
        for p in paths:
            a = load_audio(p, sr=SR)
            pieces.append(a)
            t += len(a) / SR
    return np.concatenate(pieces), starts


def score(chapters, gold: list[float]) -> tuple[list[float], int, bool]:
    starts = [c.start_time for c in chapters[1:]]
    nearest = [min(starts, key=lambda s: abs(s - g)) if starts else float("nan") for g in gold]
    used = {min(range(len(starts)), key=lambda j: abs(starts[j] - g)) for g in gold} \
        if starts else set()
    extra = len(starts) - len(used)
    ok = extra == 0 and all(abs(n - g) <= 5 for n, g in zip(nearest, gold, strict=True))
    return nearest, extra, ok


def main() -> int:
    missing = [p for _, ps in SECTIONS for p in ps if not p.exists()]
    if missing or not shutil.which("espeak-ng"):
        print(f"skipped: needs espeak-ng and the shared data ({missing[:1]})")
        return 0
    from pipeline_kit.stages._chapters import analyze_chapters
    from pipeline_kit.stages._transcription import transcribe

    with tempfile.TemporaryDirectory() as tmp:
        audio, numbers = build(Path(tmp))
    gold = numbers[1:]
    print(f"recording: {len(audio) / SR:.1f} s; gold section starts: "
          + ", ".join(f"{g:.1f}" for g in gold))
    t = transcribe(audio)
    for (number, _), at in zip(SECTIONS, numbers, strict=True):
        heard = [w.text for w in t.words if abs(w.start - at) < 1.0 and w.end < at + 1.5]
        print(f"spoken {number!r} at {at:.1f} s: transcribed as {' '.join(heard) or 'NOTHING'}")
    ways = (("old (no heading cues, 2-phrase titles)", {"cues": False, "title_phrases": 2}),
            ("new (defaults)", {}))
    for name, kwargs in ways:
        chapters = analyze_chapters(t, **kwargs)
        nearest, extra, ok = score(chapters, gold)
        print(f"\n{name}: {len(chapters)} chapters; target met: {ok}; extra: {extra}")
        for g, n in zip(gold, nearest, strict=True):
            print(f"  gold {g:6.1f}  nearest start {n:6.1f}  error {n - g:+5.1f} s")
        for c in chapters:
            print(f"  {c.start_time:6.1f}-{c.end_time:6.1f}  {c.title}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
