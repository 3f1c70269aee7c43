"""Diarization development set: real recordings and seeded mixes of real voices, with gold turns.

Built into a cache folder (``$PIPELINE_KIT_DIARIZATION_DEVSET``, default
``/tmp/pipeline_kit_diarization_devset``), never into the repository. Every recording has a
``.wav`` (16 kHz mono), a ``.rttm`` (gold turns) and an entry in ``manifest.json``: its
group, gold speaker count and the source files its audio comes from (so that a threshold
chosen leave-one-recording-out is never chosen on a recording sharing audio with the one
it scores).

Groups:

- ``ami``: the 9 AMI excerpts of ``../shared/data/diarization`` (real meetings, far field);
  ``pyannote``: that folder's ``sample.wav`` (2 speakers).
- ``single``: every single-voice file there is: the 32 LJ Speech clips and their 221 s
  concatenation, the 5 LibriVox Austen clips of ``data/sample`` and their join, JFK, and
  each of the 10 LibriSpeech test-other readers of the Resemblyzer repository's demo audio
  (``audio_data/librispeech_test-other``, Apache-2.0; fetched from GitHub when a local copy
  is given in ``$RESEMBLYZER_AUDIO``) read as one 35-50 s recording.
- ``mix``: conversations of 2 to 5 voices, cut at quiet points from those readers (the
  LibriSpeech readers, LJ, Austen, JFK) or from AMI single-speaker stretches, with gaps,
  overlaps (25 % of turn changes start up to 0.8 s early) and back-channels (0.3-1.0 s of
  another voice inside a turn), speakers' levels 6 dB apart at most and one shared noise
  floor. Seeded: the same set every run.

Run: ``python tests/benchmarks/diarization_devset.py`` (prints the manifest summary).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from _common import DATA, REPO

SR = 16000
OUT = Path(os.environ.get("PIPELINE_KIT_DIARIZATION_DEVSET",
                          "/tmp/pipeline_kit_diarization_devset"))
AMI = DATA / "diarization" / "pyannote_ami_debug"
LJ = DATA / "speech" / "ljspeech_LJ001" / "wavs"
LJ_LONG = DATA / "speech_long" / "ljspeech_LJ001-0001-0032_concat_16k.wav"
JFK = DATA / "speech" / "jfk" / "jfk.flac"
SAMPLE = REPO / "data" / "sample"
LIBRI = Path(os.environ.get("RESEMBLYZER_AUDIO", "/tmp/i29cache/src/audio_data")
             ) / "librispeech_test-other"
SEED = 29
MIXES_PER_COUNT = 8  # for 2, 3, 4, 5 speakers
MIX_SECONDS = 45.0


@dataclass
class Voice:
    """One speaker's audio: trimmed pieces of real speech, and the files they came from."""

    name: str
    domain: str  # "read" or "ami"
    pieces: list[np.ndarray]
    sources: set[str] = field(default_factory=set)

    def stream(self) -> np.ndarray:
        gap = np.zeros(int(0.15 * SR), dtype=np.float32)
        return np.concatenate([x for p in self.pieces for x in (p, gap)])


def load(path: Path) -> np.ndarray:
    from pipeline_kit.ingest._audio import load_audio

    return load_audio(path)


def frame_db(x: np.ndarray, hop: int = 160) -> np.ndarray:
    """Level of each 10 ms frame, dB."""
    n = max(1, x.size // hop)
    return 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1)
                         + 1e-10)


def trim(x: np.ndarray, below: float = 35.0) -> np.ndarray:
    """``x`` without its leading and trailing frames ``below`` dB under its loudest frame."""
    db = frame_db(x)
    loud = np.flatnonzero(db > db.max() - below)
    if loud.size == 0:
        return x[:0]
    return x[loud[0] * 160: (loud[-1] + 1) * 160]


def speech_extent(x: np.ndarray) -> tuple[float, float]:
    """First and last loud instant of ``x`` (seconds): where its gold turn starts and ends."""
    db = frame_db(x)
    loud = np.flatnonzero(db > db.max() - 35.0)
    if loud.size == 0:
        return 0.0, 0.0
    return loud[0] * 0.01, (loud[-1] + 1) * 0.01


# ----------------------------------------------------------------------------- sources

def read_voices() -> list[Voice]:
    """The read-speech voices: 10 LibriSpeech readers (when present), LJ, Austen, JFK."""
    voices = []
    if LIBRI.is_dir():
        for d in sorted(p for p in LIBRI.iterdir() if p.is_dir()):
            files = sorted(d.glob("*.flac"))
            voices.append(Voice(f"libri{d.name}", "read", [trim(load(f)) for f in files],
                                {str(f) for f in files}))
    lj = sorted(LJ.glob("*.wav"))
    voices.append(Voice("lj", "read", [trim(load(f)) for f in lj], {str(f) for f in lj}))
    austen = sorted(SAMPLE.glob("sense_and_sensibility_*.wav"))
    voices.append(Voice("austen", "read", [trim(load(f)) for f in austen],
                        {str(f) for f in austen}))
    voices.append(Voice("jfk", "read", [trim(load(JFK))], {str(JFK)}))
    return voices


def ami_voices(min_seconds: float = 8.0) -> list[Voice]:
    """AMI participants with at least ``min_seconds`` of stretches (>= 1.5 s) where only
    they speak, according to the gold turns."""
    from pipeline_kit.stages._rttm import read_rttm

    gold = read_rttm(AMI / "train.rttm")
    by_speaker: dict[str, Voice] = {}
    for f, turns in sorted(gold.items()):
        audio = load(AMI / f"{f}.wav")
        t = np.arange(0, 30, 0.01) + 0.005
        count = sum(((t >= g.start) & (t < g.end)).astype(int) for g in turns)
        for g in turns:
            alone = (t >= g.start) & (t < g.end) & (count == 1)
            for s, e in _runs(alone, t):
                if e - s >= 1.5:
                    v = by_speaker.setdefault(g.speaker, Voice(f"ami_{g.speaker}", "ami", []))
                    v.pieces.append(audio[int(s * SR): int(e * SR)])
                    v.sources.add(str(AMI / f"{f}.wav"))
    return [v for v in by_speaker.values() if sum(p.size for p in v.pieces) / SR >= min_seconds]


def _runs(mask: np.ndarray, t: np.ndarray) -> list[tuple[float, float]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return [(float(t[a] - 0.005), float(t[b - 1] + 0.005)) for a, b in zip(edges[::2], edges[1::2],
                                                                          strict=True)]


# ----------------------------------------------------------------------------- mixing

class Reader:
    """Consecutive pieces of one voice's stream, cut at the quietest 10 ms near the target."""

    def __init__(self, voice: Voice, rng: np.random.Generator) -> None:
        self.voice, self.x = voice, voice.stream()
        self.db = frame_db(self.x)
        self.pos = int(rng.integers(0, max(1, self.x.size // 2)))

    def take(self, seconds: float) -> np.ndarray:
        if self.pos + int(seconds * SR) >= self.x.size:
            self.pos = 0
        lo = self.pos // 160 + int(max(0.2, seconds - 0.6) * 100)
        hi = min(self.db.size, self.pos // 160 + int((seconds + 0.6) * 100))
        cut = ((lo + int(np.argmin(self.db[lo:hi]))) * 160 if hi > lo
               else self.pos + int(seconds * SR))
        piece = self.x[self.pos: cut]
        self.pos = cut
        return trim(piece)


def mix(voices: list[Voice], rng: np.random.Generator
        ) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """One conversation of ``voices``: samples and gold (start, end, speaker) turns."""
    readers = [Reader(v, rng) for v in voices]
    gains = 10 ** (rng.uniform(-3, 3, len(voices)) / 20)
    share = rng.dirichlet(np.full(len(voices), 1.5))
    order = list(rng.permutation(len(voices)))  # everyone has a turn early on
    placed: list[tuple[int, np.ndarray, int]] = []  # (start sample, audio, speaker)
    t, last = 0, -1
    while t < MIX_SECONDS * SR or order:
        k = order.pop(0) if order else int(rng.choice(len(voices), p=share))
        if k == last and len(voices) > 1:
            continue
        piece = readers[k].take(float(rng.uniform(1.5, 8.0)))
        if piece.size < 0.3 * SR:
            continue
        gap = rng.uniform(-0.8, 0.0) if rng.random() < 0.25 and placed else rng.uniform(0.1, 1.0)
        start = max(0, t + int(gap * SR))
        placed.append((start, piece * gains[k] / _rms(piece), k))
        if len(voices) > 1 and rng.random() < 0.3 and piece.size > 2.5 * SR:  # back-channel
            other = int(rng.choice([j for j in range(len(voices)) if j != k]))
            bc = readers[other].take(float(rng.uniform(0.3, 1.0)))
            if 0.2 * SR <= bc.size <= 1.3 * SR:
                at = start + int(rng.uniform(0.3, 0.8) * (piece.size - bc.size))
                placed.append((at, bc * gains[other] / _rms(bc), other))
        t, last = start + piece.size, k
    n = max(s + a.size for s, a, _ in placed) + SR // 2
    out = np.zeros(n, dtype=np.float64)
    turns = []
    for s, a, k in placed:
        out[s: s + a.size] += a
        lo, hi = speech_extent(a)
        turns.append((s / SR + lo, s / SR + hi, voices[k].name))
    out += rng.normal(0, 10 ** (-45 / 20), n)  # a shared noise floor, 45 dB under speech
    out *= 0.1 / max(1e-9, _rms(out))
    return np.clip(out, -1, 1).astype(np.float32), sorted(turns)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)) + 1e-9)


# ----------------------------------------------------------------------------- writing

def write(name: str, audio: np.ndarray, turns: list[tuple[float, float, str]], group: str,
          sources: set[str], manifest: dict) -> None:
    import soundfile as sf

    sf.write(OUT / f"{name}.wav", audio, SR, subtype="FLOAT")
    (OUT / f"{name}.rttm").write_text("".join(
        f"SPEAKER {name} 1 {s:.3f} {e - s:.3f} <NA> <NA> {k} <NA> <NA>\n" for s, e, k in turns))
    manifest[name] = {"group": group, "speakers": len({k for _, _, k in turns}),
                      "sources": sorted(sources), "seconds": round(audio.size / SR, 2)}


def single_file(name: str, path: Path, manifest: dict, group: str = "single") -> None:
    audio = load(path)
    lo, hi = speech_extent(audio)
    write(name, audio, [(lo, hi, "reader")], group, {str(path)}, manifest)


def build() -> dict:
    """Write the whole set into ``OUT`` (skipped when its manifest exists) and return it."""
    done = OUT / "manifest.json"
    if done.exists():
        return json.loads(done.read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    manifest: dict = {}
    from pipeline_kit.stages._rttm import read_rttm

    gold = read_rttm(AMI / "train.rttm")
    for f in sorted(gold):
        write(f, load(AMI / f"{f}.wav"), [(g.start, g.end, g.speaker) for g in gold[f]], "ami",
              {str(AMI / f"{f}.wav")}, manifest)
    sample = read_rttm(AMI / "sample.rttm")
    write("sample", load(AMI / "sample.wav"),
          [(g.start, g.end, g.speaker) for turns in sample.values() for g in turns], "pyannote",
          {str(AMI / "sample.wav")}, manifest)
    for f in sorted(LJ.glob("*.wav")):
        single_file(f.stem, f, manifest)
    single_file("lj_concat", LJ_LONG, manifest)
    manifest["lj_concat"]["sources"] = sorted(str(f) for f in LJ.glob("*.wav"))
    for f in sorted(SAMPLE.glob("*austen*.wav")):  # voices_sample.wav has three voices
        single_file(f.stem, f, manifest)
    manifest["austen_sample"]["sources"] = sorted(
        str(f) for f in SAMPLE.glob("sense_and_sensibility_*.wav"))
    single_file("jfk", JFK, manifest)
    rng = np.random.default_rng(SEED)
    read, ami = read_voices(), ami_voices()
    for v in read:
        if v.name.startswith("libri"):  # one reader, utterances with natural pauses
            parts, turns, t = [], [], 0.0
            for p in v.pieces:
                pause = np.zeros(int(rng.uniform(0.3, 0.9) * SR), dtype=np.float32)
                parts += [p, pause]
                turns.append((t, t + p.size / SR, v.name))
                t += (p.size + pause.size) / SR
                if t > 40:
                    break
            write(v.name, np.concatenate(parts), turns, "single", v.sources, manifest)
    for n in range(2, 6):
        for i in range(MIXES_PER_COUNT):
            pool = ami if i % 4 == 3 and len(ami) >= n else read
            # AMI voices of one meeting sound alike: draw them from as few files as possible
            voices = [pool[j] for j in rng.choice(len(pool), n, replace=False)]
            audio, turns = mix(voices, rng)
            name = f"mix{n}_{i}" + ("_ami" if pool is ami else "")
            write(name, audio, turns, "mix", set().union(*(v.sources for v in voices)), manifest)
    done.write_text(json.dumps(manifest, indent=1))
    return manifest


def main() -> int:
    if not AMI.exists():
        print(f"skipped: shared development data not available at {DATA}")
        return 0
    manifest = build()
    groups: dict[str, list[str]] = {}
    for name, m in manifest.items():
        groups.setdefault(m["group"], []).append(name)
    for g, names in groups.items():
        secs = sum(manifest[n]["seconds"] for n in names)
        counts = sorted({manifest[n]["speakers"] for n in names})
        print(f"{g:<9}{len(names):>4} recordings, {secs:7.1f} s, speakers {counts}")
    print(f"written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
