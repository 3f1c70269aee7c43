"""Speaker diarization on real speech: two PyPI-shipped voices with known turns, AMI
meeting excerpts with gold RTTM, bad input, short and silent audio, and the stage in a
pipeline run (result, run record, ``diarization.rttm``)."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path

import pipeline_kit as pk
from pipeline_kit.base._progress import TaskCancelled, to_percent
from pipeline_kit.ingest._audio import load_audio
from pipeline_kit.stages._diarization import DEFAULT_PARAMS, diarize
from pipeline_kit.stages._rttm import parse_rttm, read_rttm, to_rttm

SR = 16000
REPO = Path(__file__).resolve().parents[1]
AUSTEN = REPO / "data" / "sample" / "austen_sample.wav"
# The pyannote.audio wheel (installed with whisperx) ships its tutorial recording with
# gold turns; 21.78-28.50 s is one speaker (speaker91) alone until 27.85 s.
PYANNOTE_SAMPLE = Path(importlib.util.find_spec("pyannote.audio").origin).parent / "sample"
OTHER = (21.9, 27.8)
AUSTEN_PARTS = ((0.0, 8.0), (8.0, 16.0))


@pytest.fixture(scope="module")
def two_voices() -> tuple[np.ndarray, list[float]]:
    """Austen reader 8 s, the other voice 5.9 s, Austen again 8 s; and the change points."""
    austen = load_audio(AUSTEN)
    other = load_audio(PYANNOTE_SAMPLE / "sample.wav")
    a1, a2 = (austen[int(s * SR):int(e * SR)] for s, e in AUSTEN_PARTS)
    b = other[int(OTHER[0] * SR):int(OTHER[1] * SR)]
    changes = [len(a1) / SR, (len(a1) + len(b)) / SR]
    return np.concatenate([a1, b, a2]), changes


def _change_points(d: pk.Diarization) -> list[float]:
    turns = sorted(d.turns, key=lambda t: t.start)
    return [b.start for a, b in zip(turns, turns[1:], strict=False) if a.speaker != b.speaker]


def test_two_voices_are_found_at_their_change_points(two_voices):
    audio, changes = two_voices
    d = pk.diarize(audio)
    assert d.speakers == ("SPEAKER_1", "SPEAKER_2")
    assert d.turns[0].speaker == "SPEAKER_1" and d.turns[0].start < 1.0
    found = _change_points(d)
    assert len(found) == 2, d.turns
    for want, got in zip(changes, found, strict=True):
        assert abs(want - got) < 1.0, (changes, found)
    # the first and the last voice are the same person
    assert d.turns[-1].speaker == "SPEAKER_1"
    talk = d.talk_time()
    assert talk["SPEAKER_2"] == pytest.approx(changes[1] - changes[0], abs=1.5)
    assert d.method.startswith("resemblyzer") and d.model.weights_sha256
    assert d.audio_duration_seconds == pytest.approx(len(audio) / SR)


def test_a_given_speaker_count_is_where_clustering_starts_and_min_max_force_it(two_voices):
    """``num_speakers`` replaces the estimate, but a third voice without evidence (one
    voice split in two) merges back; min == max forces the count."""
    audio, _ = two_voices
    assert pk.diarize(audio, num_speakers=3).speakers == ("SPEAKER_1", "SPEAKER_2")
    assert len(pk.diarize(audio, min_speakers=3, max_speakers=3).speakers) == 3
    assert len(pk.diarize(audio, num_speakers=1).speakers) == 1
    assert len(pk.diarize(audio, min_speakers=2, max_speakers=2).speakers) == 2


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"num_speakers": 0}, "num_speakers must be from 1 to 20, got 0"),
    ({"num_speakers": 21}, "num_speakers must be from 1 to 20, got 21"),
    ({"max_speakers": 0}, "max_speakers must be from 1 to 20"),
    ({"min_speakers": 3, "max_speakers": 2}, "min_speakers (3) is greater than max_speakers (2)"),
    ({"num_speakers": 4, "max_speakers": 3}, "contradicts max_speakers"),
    ({"num_speakers": 2.5}, "num_speakers must be an integer"),
])
def test_bad_speaker_counts_fail_before_any_work(kwargs, message):
    # the audio does not exist: the parameters are checked first
    with pytest.raises(ValueError) as e:
        pk.diarize("/nonexistent/audio.wav", **kwargs)
    assert message in str(e.value)


def test_a_model_not_available_offline_fails_at_once_saying_how_to_provide_it(tmp_path):
    for model in ("pyannote/speaker-diarization-3.1", tmp_path):  # a hub name; no config.yaml
        with pytest.raises(pk.ModelNotAvailableError) as e:
            pk.diarize("/nonexistent/audio.wav", model=model)
        assert "not available offline" in str(e.value) and "config.yaml" in str(e.value)


def test_a_local_pyannote_config_whose_models_are_missing_fails_before_reading_audio(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("version: 3.1.0\npipeline:\n  name: pyannote.audio.pipelines."
                      "SpeakerDiarization\n  params:\n    clustering: AgglomerativeClustering\n"
                      f"    embedding: {tmp_path}/missing-embedding.bin\n"
                      f"    segmentation: {tmp_path}/missing-segmentation.bin\n")
    with pytest.raises(pk.ModelNotAvailableError) as e:
        pk.diarize("/nonexistent/audio.wav", model=tmp_path)
    assert "could not be loaded offline" in str(e.value) and str(config) in str(e.value)


def test_audio_shorter_than_a_window_is_one_speaker():
    audio = load_audio(AUSTEN)[SR:2 * SR]  # 1 s of speech
    d = pk.diarize(audio)
    assert d.speakers == ("SPEAKER_1",)
    assert d.turns and all(t.speaker == "SPEAKER_1" for t in d.turns)
    assert 0 <= d.turns[0].start < d.turns[-1].end <= 1.0


def test_silence_has_no_turns():
    d = pk.diarize(np.zeros(10 * SR, dtype=np.float32))
    assert d.turns == () and d.speakers == () and d.talk_time() == {}
    assert d.audio_duration_seconds == 10.0


def test_speech_a_transcript_missed_is_found_by_the_vad(two_voices):
    audio, _ = two_voices
    empty = pk.Transcript("", (), (), "en", 0.0, pk.ModelInfo("none"), "text")
    d = pk.diarize(audio, empty)
    assert d.metadata["regions_from"] == "transcript+vad"
    assert d.talk_time() and sum(d.talk_time().values()) > 0.5 * len(audio) / SR
    words_only = replace(DEFAULT_PARAMS, regions="words")
    assert diarize(audio, empty, params=words_only).turns == ()


class _CancelAfter:
    def __init__(self, calls: int) -> None:
        self.calls, self.steps, self.counts, self.percents = calls, [], [], []

    def update(self, value=None, total=None, *, step=None, within=None) -> None:
        self.steps.append(step)
        if value is not None:
            self.percents.append(to_percent(value, total, within))
        if total is not None:
            self.counts.append((step, value, total))

    def check_cancelled(self) -> None:
        self.calls -= 1
        if self.calls < 0:
            raise TaskCancelled("cancelled")


def test_progress_is_reported_and_cancel_stops_the_work(two_voices):
    audio, _ = two_voices
    progress = _CancelAfter(1)
    with pytest.raises(TaskCancelled):
        pk.diarize(audio, progress=progress)
    assert "Detecting speech" in progress.steps
    assert "Diarization done" not in progress.steps

    # A whole run: the bar only rises, and counts are seconds of this file (the old
    # total was four times its length, "157.8/631.3").
    whole = _CancelAfter(10**6)
    pk.diarize(audio, progress=whole)
    assert whole.percents == sorted(whole.percents) and whole.percents[-1] == 100
    assert whole.counts and all(t == pytest.approx(len(audio) / SR) and d <= t
                                for _, d, t in whole.counts), whole.counts


def test_rttm_round_trip_and_errors():
    turns = [pk.SpeakerTurn(0.5, 2.25, "SPEAKER_1"), pk.SpeakerTurn(2.0, 3.0, "SPEAKER_2")]
    text = to_rttm(turns, "meeting")
    assert text.splitlines()[0] == "SPEAKER meeting 1 0.500 1.750 <NA> <NA> SPEAKER_1 <NA> <NA>"
    assert parse_rttm(text) == {"meeting": turns}
    with pytest.raises(ValueError, match="RTTM line 1"):
        parse_rttm("SPEAKER meeting 1 zero 1.0 <NA> <NA> A <NA> <NA>")
    with pytest.raises(ValueError, match="spaces"):
        to_rttm(turns, "two words")


def _der(gold, hyp, uem_end: float) -> float:
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    def ann(turns):
        a = Annotation()
        for t in turns:
            a[Segment(t.start, t.end)] = t.speaker
        return a

    return DiarizationErrorRate(collar=0.0)(ann(gold), ann(hyp),
                                            uem=Timeline([Segment(0, uem_end)]))


@pytest.mark.parametrize("name", ["trn05", "trn06"])
def test_der_on_ami_meeting_excerpts(name):
    """Real meetings with gold turns (overlapping speech, 3-4 speakers): a loose bound,
    and better than one speaker over the whole file (DER 0.30 and 0.25 there)."""
    ami = shared_path("diarization/pyannote_ami_debug")
    gold = read_rttm(ami / "train.rttm")[name]
    d = pk.diarize(str(ami / f"{name}.wav"))
    everywhere = [pk.SpeakerTurn(0.0, 30.0, "X")]
    der = _der(gold, d.turns, 30.0)
    assert der < 0.3
    assert der < _der(gold, everywhere, 30.0)


@pytest.mark.parametrize("name", ["trn09"])  # trn08: no run of it lasts min_turn (1.5 s) now
def test_overlapped_speech_in_a_meeting_gets_a_second_speaker(name):
    """Where the detector says two talk at once, mostly two do (above half, where a second
    speaker starts to pay), and the meeting's DER drops. The detector was fitted on these
    excerpts: this checks that the shipped weights and the features still agree (a feature
    changed without refitting fails it); the benchmark's leave-one-out says how it generalises.
    It only adds a voice found: with two forced (min = max = 2) it runs; estimated, these
    excerpts get one voice and no overlap (a speaker is never invented from it)."""
    ami = shared_path("diarization/pyannote_ami_debug")
    gold = read_rttm(ami / "train.rttm")[name]
    two = {"min_speakers": 2, "max_speakers": 2}
    d = pk.diarize(str(ami / f"{name}.wav"), **two)
    t = np.arange(0.0, 30.0, 0.01) + 0.005
    talking = sum(((t >= g.start) & (t < g.end)).astype(int) for g in gold)
    flagged = np.zeros(t.size, dtype=bool)
    for s, e in d.overlaps:
        flagged |= (t >= s) & (t < e)
    assert flagged.sum() * 0.01 > 1.0
    assert np.mean(talking[flagged] >= 2) > 0.5
    for s, e in d.overlaps:  # two speakers' turns cover every overlap span
        mid = (s + e) / 2
        assert len({x.speaker for x in d.turns if x.start <= mid < x.end}) >= 2
    alone = diarize(str(ami / f"{name}.wav"), **two,
                    params=replace(DEFAULT_PARAMS, overlap_threshold=None))
    assert alone.overlaps == ()
    estimated = pk.diarize(str(ami / f"{name}.wav"))
    assert len(estimated.speakers) > 1 or estimated.overlaps == ()
    assert _der(gold, d.turns, 30.0) < _der(gold, alone.turns, 30.0)


def test_one_reader_has_no_overlapped_speech():
    d = pk.diarize(str(AUSTEN))
    assert d.speakers == ("SPEAKER_1",) and d.overlaps == ()
    assert d.metadata["overlap_seconds"] == 0


def test_pyannote_sample_two_speakers_der():
    """The two-speaker recording shipped in the pyannote.audio wheel, gold RTTM beside it.

    Its second voice is far-field and close to the first (separation 0.105, below the
    0.12 that keeps one reader of LibriSpeech whole): estimated, it is one speaker, even
    from num_speakers=2; forced to two (min = max = 2), both are found."""
    gold = read_rttm(PYANNOTE_SAMPLE / "sample.rttm")["sample"]
    d = pk.diarize(str(PYANNOTE_SAMPLE / "sample.wav"), min_speakers=2, max_speakers=2)
    assert len(d.speakers) == 2
    assert _der(gold, d.turns, 30.0) < 0.3
    alone = pk.diarize(str(PYANNOTE_SAMPLE / "sample.wav"))
    assert _der(gold, d.turns, 30.0) < _der(gold, alone.turns, 30.0)


def test_pipeline_runs_the_stage_and_writes_rttm(tmp_path, two_voices):
    audio, changes = two_voices
    wav = tmp_path / "two_voices.wav"
    _write_wav(wav, audio)
    r = pk.run_pipeline(wav, stages="diarization", home=tmp_path / "home",
                        out_dir=tmp_path / "out", num_speakers=2)
    d = r.diarization
    assert isinstance(d, pk.Diarization) and d.speakers == ("SPEAKER_1", "SPEAKER_2")
    assert d.metadata["regions_from"] == "transcript+vad"
    for want, got in zip(changes, _change_points(d), strict=True):
        assert abs(want - got) < 1.0
    rttm = read_rttm(tmp_path / "out" / "diarization.rttm")
    assert list(rttm.values()) == [list(d.turns)]
    saved = json.loads((tmp_path / "out" / "diarization.json").read_text())
    assert pk.Diarization.from_dict(saved) == d
    summary = r.run_record["stage_summaries"]["diarization"]
    assert summary["speakers"] == 2 and summary["turns"] == len(d.turns)


def _write_wav(path: Path, audio: np.ndarray) -> None:
    import wave

    pcm = np.clip(audio * 32767, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())


def test_cli_run_takes_speaker_flags_and_writes_rttm(tmp_path, two_voices, capsys):
    from pipeline_kit.faces.cli import main

    audio, changes = two_voices
    wav = tmp_path / "two_voices.wav"
    _write_wav(wav, audio)
    home, out = str(tmp_path / "home"), tmp_path / "out"
    for flags, problem in ((["--speakers", "0"], "num_speakers must be an integer from 1 to 20"),
                           (["--min-speakers", "3", "--max-speakers", "2"],
                            "min_speakers (3) is greater than max_speakers (2)")):
        assert main(["run", str(wav), "--out", str(out), "--home", home, *flags]) != 0
        assert problem in capsys.readouterr().err
        assert not out.exists()
    rc = main(["run", str(wav), "--out", str(out), "--home", home, "--stages", "diarization",
               "--speakers", "2"])
    assert rc == 0
    turns = read_rttm(out / "diarization.rttm")["audio"]
    assert {t.speaker for t in turns} == {"SPEAKER_1", "SPEAKER_2"}
    run = json.loads((out / "run.json").read_text())
    assert run["parameters"]["num_speakers"] == 2
    assert (out / "transcript.srt").is_file()  # diarization needed the transcript


def test_more_speakers_asked_for_than_windows_is_no_crash():
    audio = load_audio(AUSTEN)[: int(2.5 * SR)]  # a few windows only
    d = pk.diarize(audio, min_speakers=5, max_speakers=8)
    assert 1 <= len(d.speakers) <= 5 and d.turns


def test_one_reader_over_minutes_is_one_speaker():
    """221 s of one LJ Speech reader: the count estimate must not split one voice."""
    wav = shared_path("speech_long/ljspeech_LJ001-0001-0032_concat_16k.wav")
    d = pk.diarize(str(wav))
    assert d.speakers == ("SPEAKER_1",)
    assert d.talk_time()["SPEAKER_1"] > 200


# ----------------------------------------------------------------------------- only when asked

def test_a_default_run_leaves_diarization_out_and_a_speaker_setting_asks_for_it():
    from pipeline_kit.pipeline._pipeline import stage_keys
    from pipeline_kit.pipeline._registry import REGISTRY, RunParams

    default = REGISTRY.resolve(None)
    assert "diarization" not in default and default[-1] == "questions"
    assert "diarization" not in REGISTRY.resolve(None, {"num_speakers": None})
    for asked in ({"num_speakers": 2}, {"max_speakers": 3}):
        assert REGISTRY.resolve(None, asked) == [*default[:2], "diarization", *default[2:]]
    assert REGISTRY.resolve(["chunking"]) == ["upload", "transcription", "chunking"]
    assert REGISTRY.resolve(["speaker_diarization"]) == ["upload", "transcription", "diarization"]
    with_speakers = REGISTRY.resolve(["chunking", "diarization"])
    assert with_speakers == ["upload", "transcription", "diarization", "chunking"]
    # chunking takes the diarization (and its key changes) only when it is in the run
    assert REGISTRY.get("chunking").inputs(with_speakers) == ("transcription", "diarization")
    assert REGISTRY.waves(with_speakers) == [["upload"], ["transcription"], ["diarization"],
                                             ["chunking"]]
    plain = stage_keys(REGISTRY.resolve(["chunking"]), "0" * 64, RunParams())
    speakers = stage_keys(with_speakers, "0" * 64, RunParams())
    assert plain["transcription"] == speakers["transcription"]
    assert plain["chunking"] != speakers["chunking"]


def test_cli_speakers_flag_takes_a_count_or_auto(tmp_path, capsys):
    from pipeline_kit.faces.cli import main
    from pipeline_kit.faces.cli._main import _parser
    from pipeline_kit.faces.cli._speakers import stages_with_speakers
    from pipeline_kit.pipeline._registry import REGISTRY

    def stages(*flags: str) -> tuple[list[str] | None, int | None]:
        args = _parser().parse_args(["run", "a.wav", "--out", "o", *flags])
        return stages_with_speakers(args), getattr(args, "num_speakers", None)

    assert stages() == (None, None)
    assert stages("--speakers", "auto") == ([*REGISTRY.default_names(), "diarization"], None)
    assert stages("--speakers", "3", "--stages", "chunking") == (["chunking", "diarization"], 3)
    wav = tmp_path / "a.wav"
    _write_wav(wav, np.zeros(SR, dtype=np.float32))
    assert main(["run", str(wav), "--out", str(tmp_path / "o"), "--speakers", "many"]) != 0
    assert "expected a number of speakers or 'auto', got 'many'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- the count

@pytest.mark.parametrize("source", ["jfk", "lj", "austen"])
def test_a_single_voice_is_one_speaker_with_no_spurious_turn(source):
    """One reader (JFK 11 s, an LJ Speech clip, a LibriVox clip): one speaker, nothing
    spoken over it. (The benchmark checks every such file there is.)"""
    path = {"jfk": lambda: shared_path("speech/jfk/jfk.flac"),
            "lj": lambda: shared_path("speech/ljspeech_LJ001/wavs/LJ001-0014.wav"),
            "austen": lambda: REPO / "data/sample/sense_and_sensibility_01_austen_64kb-0920.wav"
            }[source]()
    d = pk.diarize(str(path))
    assert d.speakers == ("SPEAKER_1",) and d.overlaps == ()
    assert all(t.speaker == "SPEAKER_1" for t in d.turns)


def _embedded(audio: np.ndarray):  # -> (windows, embeddings)
    from pipeline_kit.base._progress import ensure_progress
    from pipeline_kit.stages._diarization import embed_windows, speech_regions, windows

    progress, duration = ensure_progress(None), len(audio) / SR
    wins = windows(speech_regions(audio, None, DEFAULT_PARAMS, progress), DEFAULT_PARAMS,
                   duration)
    return wins, embed_windows(audio, wins, progress)


def test_one_voice_split_in_two_merges_back_and_two_voices_stay_apart(two_voices):
    from pipeline_kit.stages._diarization import merge_unclear, separation, talk_seconds

    audio, changes = two_voices
    wins, emb = _embedded(audio)
    mids = np.array([(s + e) / 2 for s, e in wins])
    truth = ((mids >= changes[0]) & (mids < changes[1])).astype(int)
    assert separation(emb, truth, 0, 1) >= DEFAULT_PARAMS.min_separation
    talk = [talk_seconds(wins, truth == k) for k in (0, 1)]
    assert talk[1] == pytest.approx(6.8, abs=0.3) and talk[0] > 14  # the windows' span
    enough = replace(DEFAULT_PARAMS, min_talk=6.0)
    assert merge_unclear(emb, wins, truth, 1, enough).max() == 1
    assert merge_unclear(emb, wins, truth, 1, DEFAULT_PARAMS).max() == 0  # 7 s are needed

    wins, emb = _embedded(load_audio(AUSTEN))
    halves = (np.arange(len(wins)) >= len(wins) // 2).astype(int)  # 13 s each, one voice
    assert separation(emb, halves, 0, 1) < DEFAULT_PARAMS.min_separation
    assert merge_unclear(emb, wins, halves, 1, DEFAULT_PARAMS).max() == 0
    assert merge_unclear(emb, wins, halves, 2, DEFAULT_PARAMS).max() == 1  # min_speakers
