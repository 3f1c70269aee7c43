"""Diarization: DER on the 9 AMI dev excerpts, and its time as a share of transcription's.

Data: ``../shared/data/diarization/pyannote_ami_debug/`` (trn01..09.wav, 30 s each,
gold ``train.rttm``, scored region ``train.uem``). DER from ``pyannote.metrics``
(missed + false alarm + confusion over scored speaker time; overlap scored), with
collar 0 and 0.25 s, for the default engine with speech regions from Silero VAD
(``diarize(audio)``) and from the transcript's words joined with the VAD
(``diarize(audio, transcript)``, what the pipeline stage does). A diagnostic line scores
the transcript side again with the gold speaker count given. The overlap detector
(``stages/_overlap.py``) was fitted on these same files, so the default engine's DER is
in-sample; the ``loo`` column refits it without the file it scores (threshold chosen on
the other 8) and is the figure to expect on unseen meetings; ``no ovl`` turns it off.
Speaker count: estimated vs gold, per file.

Speed baseline measured in the same run: transcription (bundled tiny.en) of the same 9
files; each side runs in its own process, in ABBA order, every process warms up (model
load, first call) on the first file before it times all 9. Goal: diarization time /
transcription time <= 0.25; DER (collar 0, transcript regions) <= 0.30.
Run: ``python tests/benchmarks/bench_diarization.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from train_overlap import AMI, FILES  # the same 9 files, offline

WARM_UP = "trn03"  # speech throughout (trn01 has none the engines find: nothing would load)


def worker(side: str, out: Path) -> None:
    """One side in this process: warm up on a file with speech, then time all nine."""
    import pipeline_kit as pk
    from pipeline_kit.ingest._audio import load_audio

    audio = {f: load_audio(AMI / f"{f}.wav") for f in FILES}

    def run(f: str) -> object:
        if side == "transcription":
            return pk.transcribe(audio[f])
        return pk.diarize(audio[f], pk.Transcript.from_json(out / f"{f}.transcript.json"))

    run(WARM_UP)
    seconds = {}
    for f in FILES:
        t0 = time.perf_counter()
        result = run(f)
        seconds[f] = time.perf_counter() - t0
        if side == "transcription":
            result.to_json(out / f"{f}.transcript.json")  # type: ignore[attr-defined]
    print(json.dumps(seconds))


def timed(side: str, out: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--worker", side, str(out)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def annotation(turns):  # -> pyannote.core.Annotation
    from pyannote.core import Annotation, Segment

    a = Annotation()
    for t in turns:
        a[Segment(t.start, t.end)] = t.speaker
    return a


def scores(hyps: dict, gold: dict, uem: dict, collar: float
           ) -> tuple[float, dict[str, float], dict[str, float]]:
    """Total DER over the files, each file's DER, and the total's parts (shares of it)."""
    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = DiarizationErrorRate(collar=collar)
    per = {f: metric(annotation(gold[f]), annotation(hyps[f].turns), uem=uem[f]) for f in FILES}
    acc = metric.accumulated_
    parts = {k: acc[k] / acc["total"] for k in ("missed detection", "false alarm", "confusion")}
    return abs(metric), per, parts


def overlap_share(gold: dict) -> float:
    """Share of scored speaker time spoken over someone else: missed by a one-label engine."""
    total = extra = 0.0
    for f in FILES:
        a = annotation(gold[f])
        total += sum(s.duration for s, _ in a.itertracks())
        extra += total_overlap(a)
    return extra / total


def missed_split(hyps: dict, gold: dict, uem: dict, step: float = 0.01) -> tuple[float, float]:
    """Missed speaker time where the gold has two or more speakers vs one (collar 0), each
    as a share of scored speaker time: which part of the miss overlap detection could win."""
    over = single = total = 0.0
    for f in FILES:
        lo, hi = uem[f].extent().start, uem[f].extent().end
        t = np.arange(lo, hi, step) + step / 2
        g = sum(((t >= x.start) & (t < x.end)).astype(int) for x in gold[f])
        h = sum(((t >= x.start) & (t < x.end)).astype(int) for x in hyps[f].turns)
        miss = np.maximum(0, g - h)
        over += miss[g >= 2].sum() * step
        single += miss[g == 1].sum() * step
        total += np.sum(g) * step
    return over / total, single / total


def total_overlap(a) -> float:  # a: pyannote.core.Annotation
    """Speaker time beyond one speaker at a time (two at once count once extra)."""
    edges = sorted({t for s, _ in a.itertracks() for t in (s.start, s.end)})
    out = 0.0
    for lo, hi in zip(edges, edges[1:], strict=False):
        mid = (lo + hi) / 2
        n = sum(1 for s, _ in a.itertracks() if s.start <= mid < s.end)
        out += max(0, n - 1) * (hi - lo)
    return out


def leave_one_out(transcripts: dict, gold: dict, uem: dict) -> dict:
    """Each file diarized with the overlap detector refitted on the other 8, its threshold
    chosen on those 8: what the detector is worth on a file it has not seen."""
    from train_overlap import THRESHOLDS, file_frames, fit_on

    import pipeline_kit as pk
    from pipeline_kit.stages._diarization import DEFAULT_PARAMS, label_turns
    from pipeline_kit.stages._overlap import probabilities, second_speaker_runs

    items = {f: file_frames(f, transcripts[f]) for f in FILES}

    def hyp(item, coef, intercept, threshold):  # -> pk.Diarization
        if item is None:
            return pk.Diarization((), (), "none")
        extra = second_speaker_runs(item.frames,
                                    probabilities(item.frames, coef, intercept) > threshold)
        runs = item.runs + [r for r in extra if r[1] - r[0] >= DEFAULT_PARAMS.min_turn]
        return pk.Diarization(*label_turns(runs), "loo")

    out = {}
    for f in FILES:
        train = [g for g in FILES if g != f and items[g] is not None]
        coef, intercept = fit_on([items[g] for g in train])
        best = min(THRESHOLDS, key=lambda th: sum_error(
            {g: hyp(items[g], coef, intercept, th) for g in train}, gold, uem, train))
        out[f] = hyp(items[f], coef, intercept, best)
    return out


def sum_error(hyps: dict, gold: dict, uem: dict, files: list[str]) -> float:
    """Total DER (collar 0) over ``files``."""
    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = DiarizationErrorRate(collar=0.0)
    for f in files:
        metric(annotation(gold[f]), annotation(hyps[f].turns), uem=uem[f])
    return abs(metric)


def one_speaker_over_speech(wav: Path, transcript):  # -> pk.Diarization
    """The baseline: the speech regions the stage finds, all given to one speaker."""
    import pipeline_kit as pk
    from pipeline_kit.base._progress import ensure_progress
    from pipeline_kit.ingest._audio import load_audio
    from pipeline_kit.stages._diarization import DEFAULT_PARAMS, speech_regions

    regions = speech_regions(load_audio(wav), transcript, DEFAULT_PARAMS, ensure_progress(None))
    return pk.Diarization(tuple(pk.SpeakerTurn(s, e, "ONE") for s, e in regions), ("ONE",),
                          "one")


def read_uem(path: Path) -> dict:
    from pyannote.core import Segment, Timeline

    out = {}
    for line in path.read_text().splitlines():
        f, _, start, end = line.split()
        out[f] = Timeline([Segment(float(start), float(end))])
    return out


def main() -> int:
    if not AMI.exists():
        print(f"skipped: shared development data not available at {AMI}")
        return 0
    import pipeline_kit as pk
    from pipeline_kit.stages._rttm import read_rttm

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        order = ["transcription", "diarization", "diarization", "transcription"]  # ABBA
        runs = [(side, timed(side, out)) for side in order]
        transcripts = {f: pk.Transcript.from_json(out / f"{f}.transcript.json") for f in FILES}
    total = {side: sum(sum(t.values()) for s, t in runs if s == side) / 2
             for side in ("transcription", "diarization")}
    gold = read_rttm(AMI / "train.rttm")
    uem = read_uem(AMI / "train.uem")
    from dataclasses import replace

    from pipeline_kit.stages._diarization import DEFAULT_PARAMS

    no_overlap = replace(DEFAULT_PARAMS, overlap_threshold=None)
    hyps = {"vad": {f: pk.diarize(str(AMI / f"{f}.wav")) for f in FILES},
            "transcript": {f: pk.diarize(str(AMI / f"{f}.wav"), transcripts[f]) for f in FILES},
            "loo": leave_one_out(transcripts, gold, uem),
            "no overlap": {f: pk.diarize(str(AMI / f"{f}.wav"), transcripts[f],
                                         params=no_overlap) for f in FILES}}
    table = {(k, c): scores(hyps[k], gold, uem, c) for k in hyps for c in (0.0, 0.25)}

    print("columns: vad = regions from the VAD alone; tr = from the transcript's words and "
          "the VAD (the stage); loo = tr with the overlap detector refitted without the file; "
          "no ovl = tr without the overlap detector")
    print(f"{'file':<7}{'gold spk':>9}{'spk vad':>8}{'spk tr':>7}"
          f"{'DER vad':>9}{'DER tr':>8}{'DER tr c.25':>12}{'DER loo':>9}{'DER no ovl':>11}")
    right = {k: 0 for k in hyps}
    for f in FILES:
        n = len({t.speaker for t in gold[f]})
        found = {k: len(hyps[k][f].speakers) for k in hyps}
        for k in hyps:
            right[k] += found[k] == n
        print(f"{f:<7}{n:>9}{found['vad']:>8}{found['transcript']:>7}"
              f"{table['vad', 0.0][1][f]:>9.3f}{table['transcript', 0.0][1][f]:>8.3f}"
              f"{table['transcript', 0.25][1][f]:>12.3f}{table['loo', 0.0][1][f]:>9.3f}"
              f"{table['no overlap', 0.0][1][f]:>11.3f}")
    for k in hyps:
        parts = ", ".join(f"{n} {v:.3f}" for n, v in table[k, 0.0][2].items())
        over, single = missed_split(hyps[k], gold, uem)
        print(f"total DER, {k:<10}: collar 0: {table[k, 0.0][0]:.3f} ({parts}; "
              f"missed in overlap {over:.3f}, elsewhere {single:.3f})   "
              f"collar 0.25: {table[k, 0.25][0]:.3f}   speaker count right: {right[k]}/9")
    parts = table["no overlap", 0.0][2]
    print(f"floor without the overlap detector on these speech regions (confusion 0): missed"
          f" + false alarm = {parts['missed detection'] + parts['false alarm']:.3f}")
    counts = {f: len({t.speaker for t in gold[f]}) for f in FILES}
    given = {f: pk.diarize(str(AMI / f"{f}.wav"), transcripts[f], num_speakers=counts[f])
             for f in FILES}
    print(f"diagnostic: gold speaker count given (transcript regions): DER "
          f"{scores(given, gold, uem, 0.0)[0]:.3f} (collar 0; the embeddings limit, not the count)")
    detected = {f: one_speaker_over_speech(AMI / f"{f}.wav", transcripts[f]) for f in FILES}
    base = scores(detected, gold, uem, 0.0)[0]
    for k in ("transcript", "loo"):
        print(f"baseline, one speaker over the detected speech (transcript words + VAD, as the "
              f"stage finds it): DER {base:.3f}; {k}: {table[k, 0.0][0]:.3f}, "
              f"{100 * (1 - table[k, 0.0][0] / base):+.0f}% lower (goal: at least 20 %)")
    one = {f: pk.Diarization((pk.SpeakerTurn(0.0, 30.0, "X"),), ("X",), "one") for f in FILES}
    print(f"reference: one speaker over every whole file: DER {scores(one, gold, uem, 0.0)[0]:.3f}"
          f"; overlapped speech (missed by any one-speaker-per-frame engine): "
          f"{overlap_share(gold):.3f} of scored speaker time")
    print(f"goal DER (collar 0) <= 0.30: "
          f"{'met' if table['transcript', 0.0][0] <= 0.30 else 'NOT met'} in-sample (the "
          f"overlap detector was fitted on these 9 files); leave-one-file-out: "
          f"{'met' if table['loo', 0.0][0] <= 0.30 else 'NOT met'}")
    print(f"time for the 9 files (mean of 2 processes each, ABBA): transcription "
          f"{total['transcription']:.2f} s, diarization {total['diarization']:.2f} s")
    ratio = total["diarization"] / total["transcription"]
    print(f"ratio diarization/transcription: {ratio:.3f} (goal <= 0.25)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], Path(sys.argv[3]))
        sys.exit(0)
    sys.exit(main())
