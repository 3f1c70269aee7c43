"""Fit the overlapped-speech detector on the 9 AMI dev excerpts and write its weights.

Writes ``pipeline_kit/stages/_overlap_weights.py`` (see ``stages/_overlap.py``). Each
file is diarized as the pipeline stage does it (speech regions from the transcript's
words joined with the VAD; transcripts from the bundled tiny.en), and every speech frame
is labelled overlapped when the gold RTTM has two or more speakers at its centre.
``bench_diarization.py`` uses the same functions to score the detector leave-one-file-out.
Run: ``python tests/benchmarks/train_overlap.py`` (needs ``PIPELINE_KIT_SHARED_DATA``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import DATA, REPO

AMI = DATA / "diarization" / "pyannote_ami_debug"
FILES = [f"trn0{i}" for i in range(1, 10)]
C = 0.1  # inverse L2 strength: LOO DER 0.339 at 0.03, 0.329 at 0.1, 0.330 at 0.3
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)  # candidates; the benchmark picks one per fold
WEIGHTS = REPO / "pipeline_kit" / "stages" / "_overlap_weights.py"


@dataclass
class FileFrames:
    """One excerpt's detector frames, its one-speaker runs and gold overlap per frame."""

    frames: object  # pipeline_kit.stages._overlap.Frames
    runs: list[tuple[float, float, int]]
    gold_overlap: np.ndarray


def file_frames(name: str, transcript: object) -> FileFrames | None:
    """Diarize ``name`` up to the one-speaker runs; None when no speech is found."""
    from pipeline_kit.base._progress import ensure_progress
    from pipeline_kit.ingest._audio import load_audio
    from pipeline_kit.stages import _diarization as dia
    from pipeline_kit.stages import _overlap
    from pipeline_kit.stages._rttm import read_rttm

    samples = load_audio(AMI / f"{name}.wav")
    p, progress = dia.DEFAULT_PARAMS, ensure_progress(None)
    duration = samples.shape[0] / dia.SAMPLE_RATE
    regions = dia.speech_regions(samples, transcript, p, progress)  # type: ignore[arg-type]
    wins = dia.windows(regions, p, duration)
    if not wins:
        return None
    emb = dia.embed_windows(samples, wins, progress)
    labels = dia.cluster(emb, None, None, None, p, wins)
    frames = _overlap.frame_features(samples, regions, wins, emb, dia._centroids(emb, labels))
    gold = read_rttm(AMI / "train.rttm")[name]
    count = sum(((frames.t >= g.start) & (frames.t < g.end)).astype(int) for g in gold)
    return FileFrames(frames, dia.frame_labels(regions, wins, emb, labels, p),
                      np.asarray(count) >= 2)


def fit_on(items: list[FileFrames], c: float = C) -> tuple[np.ndarray, float]:
    """Detector weights from the speech frames of ``items``."""
    from pipeline_kit.stages import _overlap

    xs = [it.frames.x[it.frames.speech] for it in items]  # type: ignore[attr-defined]
    ys = [it.gold_overlap[it.frames.speech] for it in items]  # type: ignore[attr-defined]
    return _overlap.fit(xs, ys, c)


def transcripts(out: Path) -> dict[str, object]:
    """tiny.en transcripts of the 9 files, cached as JSON in ``out``."""
    import pipeline_kit as pk
    from pipeline_kit.ingest._audio import load_audio

    result = {}
    for f in FILES:
        path = out / f"{f}.transcript.json"
        if not path.exists():
            pk.transcribe(load_audio(AMI / f"{f}.wav")).to_json(path)
        result[f] = pk.Transcript.from_json(path)
    return result


def write_weights(coef: np.ndarray, intercept: float) -> None:
    """The weights as a Python module (plain text: diffable, no package-data setup)."""
    numbers = [f"{v:.6g}," for v in coef]
    lines = [" ".join(numbers[i:i + 8]) for i in range(0, len(numbers), 8)]
    body = "\n".join(f"    {line}" for line in lines)
    WEIGHTS.write_text(
        '"""Overlap detector weights, fitted on the AMI dev excerpts by\n'
        "tests/benchmarks/train_overlap.py (do not edit by hand).\"\"\"\n\n"
        f"INTERCEPT = {intercept:.6g}\nCOEF = (\n{body}\n)\n")


def main() -> int:
    import tempfile

    if not AMI.exists():
        print(f"skipped: shared development data not available at {AMI}")
        return 0
    cache = Path(os.environ.get("PIPELINE_KIT_TRANSCRIPTS", tempfile.mkdtemp()))
    trs = transcripts(cache)
    items = [it for f in FILES if (it := file_frames(f, trs[f])) is not None]
    coef, intercept = fit_on(items)
    write_weights(coef, intercept)
    print(f"wrote {WEIGHTS} ({coef.size} weights, {sum(int(i.frames.speech.sum()) for i in items)}"
          " speech frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
