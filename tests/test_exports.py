"""pk.export on a real run of the bundled sample: ELAN (read back with pympi-ling), Praat
(read back with praatio), WhisperX's formats, CSV and Parquet, and the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import shared_path

import pipeline_kit as pk
from pipeline_kit.pipeline._registry import REGISTRY
from pipeline_kit.stages._tiers import layered, speaker_tiers

REPO = Path(__file__).resolve().parents[1]
AUSTEN = REPO / "data" / "sample" / "austen_sample.wav"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> pk.PipelineResult:
    """Every stage on the sample, with small chunks so that chunks overlap."""
    home = tmp_path_factory.mktemp("export-home")
    return pk.run_pipeline(AUSTEN, pk.stage_names(), home=home,
                           out_dir=home / "out" / "austen", chunk_size=30, overlap=10)


@pytest.fixture(scope="module")
def saved_words(run) -> list[dict]:
    """The words as transcript.json stores them."""
    return json.loads((run.out_dir / "transcript.json").read_text())["words"]


def _two_speakers(run: pk.PipelineResult) -> pk.PipelineResult:
    """The run with its words said by two speakers taking turns at each segment's middle
    word and at 12 s (the real words and times, relabelled by the real assignment)."""
    t = run.transcript
    cut = 12.0
    turns = (pk.SpeakerTurn(0.0, cut, "A"), pk.SpeakerTurn(cut, t.audio_duration_seconds, "B"))
    d = pk.Diarization(turns, ("A", "B"), "test", audio_duration_seconds=t.audio_duration_seconds)
    values = {**run.values, "transcription": pk.assign_speakers(t, d)}
    return dataclasses.replace(run, values=values)


def test_eaf_has_the_transcript_words_and_times(run, saved_words, tmp_path):
    from pympi.Elan import Eaf

    (path,) = pk.export(run, "eaf", tmp_path)
    eaf = Eaf(str(path))
    words = eaf.get_annotation_data_for_tier("words")
    assert [(a, b, v) for a, b, v, *_ in words] == [
        (round(w["start"] * 1000), round(w["end"] * 1000), w["text"]) for w in saved_words]
    # one speaker tier with all the text, in order
    speaker = run.transcript.words[0].speaker
    said = [v for *_, v in sorted(eaf.get_annotation_data_for_tier(speaker))]
    assert " ".join(said).split() == [w["text"] for w in saved_words]
    # every chunk, chapter and question, on tiers that never overlap
    chunk_tiers = [n for n in eaf.get_tier_names() if re.fullmatch(r"chunks( \d+)?", n)]
    assert len(chunk_tiers) >= 2, "chunks overlap by 10 words: a second tier holds them"
    chunks = sorted(a for n in chunk_tiers for a in eaf.get_annotation_data_for_tier(n))
    assert [(a, b) for a, b, *_ in chunks] == [
        (round(c.start_time * 1000), round(c.end_time * 1000)) for c in run.chunks]
    for name in eaf.get_tier_names():
        spans = sorted(eaf.get_annotation_data_for_tier(name))
        assert all(x[1] <= y[0] for x, y in zip(spans, spans[1:], strict=False)), name
    titles = [v for *_, v in eaf.get_annotation_data_for_tier("chapters")]
    assert titles == [c.title for c in run.chapters]
    questions = [v for n in eaf.get_tier_names() if n.startswith("questions")
                 for *_, v in eaf.get_annotation_data_for_tier(n)]
    assert sorted(questions) == sorted(q.text + (f" [{q.answer}]" if q.answer else "")
                                       for q in run.questions if q.start_time is not None)
    # the audio, linked relative to the .eaf
    (media,) = eaf.media_descriptors
    assert (path.parent / media["RELATIVE_MEDIA_URL"]).resolve() == AUSTEN.resolve()
    assert media["MEDIA_URL"] == AUSTEN.resolve().as_uri()


def test_textgrid_has_the_transcript_words_and_times(run, saved_words, tmp_path):
    from praatio import textgrid

    (path,) = pk.export(run, "textgrid", tmp_path)
    tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    assert list(tg.tierNames) == ["words", "segments", "speakers", "chapters"]
    words = tg.getTier("words").entries
    assert [e.label for e in words] == [w["text"] for w in saved_words]
    for e, w in zip(words, saved_words, strict=True):
        assert e.start == pytest.approx(w["start"], abs=1e-9)
        assert e.end == pytest.approx(w["end"], abs=1e-9)
    segs = tg.getTier("segments").entries
    assert [x for e in segs for x in (e.start, e.end)] == pytest.approx(
        [x for s in run.transcript.segments for x in (s.start, s.end)])
    (turn,) = tg.getTier("speakers").entries  # one speaker found in the sample
    assert turn.label == run.transcript.words[0].speaker
    assert [e.label for e in tg.getTier("chapters").entries] == [c.title for c in run.chapters]


def test_each_speaker_gets_only_the_words_they_say(run, tmp_path):
    from praatio import textgrid
    from pympi.Elan import Eaf

    two = _two_speakers(run)
    eaf_path, tg_path = pk.export(two, "eaf,textgrid", tmp_path)
    eaf = Eaf(str(eaf_path))
    words = two.transcript.words
    for who in ("A", "B"):
        said = " ".join(v for *_, v in sorted(eaf.get_annotation_data_for_tier(who))).split()
        assert said == [w.text for w in words if w.speaker == who]
    assert {w.speaker for w in words} == {"A", "B"}
    turns = textgrid.openTextgrid(str(tg_path), False).getTier("speakers").entries
    assert [e.label for e in turns] == ["A", "B"]
    first_b = next(w for w in words if w.speaker == "B")
    assert turns[1].start == pytest.approx(first_b.start)


def test_a_diarized_meeting_gives_each_speaker_their_own_words(tmp_path):
    """AMI's two-speaker excerpt through the pipeline with diarization: every speaker tier
    of the EAF holds exactly the words diarization gave that speaker, and the TextGrid's
    speakers tier changes label where the words' speaker changes."""
    from praatio import textgrid
    from pympi.Elan import Eaf

    wav = shared_path("diarization/pyannote_ami_debug/sample.wav")
    run = pk.run_pipeline(wav, home=tmp_path / "home", out_dir=tmp_path / "out",
                          min_speakers=2, max_speakers=2, stages="diarization")
    words = run.transcript.words
    speakers = list(dict.fromkeys(w.speaker for w in words))
    assert len(speakers) == 2
    eaf_path, tg_path = pk.export(run, "eaf,textgrid", tmp_path / "x")
    eaf = Eaf(str(eaf_path))
    for who in speakers:
        tiers = [n for n in eaf.get_tier_names() if re.fullmatch(re.escape(who) + r"( \d+)?", n)]
        said = sorted(a for n in tiers for a in eaf.get_annotation_data_for_tier(n))
        assert " ".join(v for *_, v in said).split() == [w.text for w in words
                                                         if w.speaker == who]
    # every word, in order, on the words tiers (a word of no length may sit on "words 2")
    tiers = [n for n in eaf.get_tier_names() if re.fullmatch(r"words( \d+)?", n)]
    on_tiers = sorted(a for n in tiers for a in eaf.get_annotation_data_for_tier(n))
    assert [v for *_, v in on_tiers] == [w.text for w in words]
    turns = textgrid.openTextgrid(str(tg_path), False).getTier("speakers").entries
    changes = 1 + sum(a.speaker != b.speaker for a, b in zip(words, words[1:], strict=False))
    assert len(turns) == changes and {t.label for t in turns} == set(speakers)


def test_overlapping_intervals_go_to_extra_tiers():
    tiers = layered("chunks", [(0, 10, "a"), (8, 20, "b"), (19, 30, "c"), (20, 25, "d")])
    assert tiers == {"chunks": [(0, 10, "a"), (19, 30, "c")],
                     "chunks 2": [(8, 20, "b"), (20, 25, "d")]}
    # a word of no length (Whisper gives some) lasts 2 ms, on a tier of its own if the
    # next word starts at once (found on AMI: "need" 10.276-10.276, "to" 10.276-10.516)
    words = layered("words", [(10.0, 10.276, "we"), (10.276, 10.276, "need"),
                              (10.276, 10.516, "to")])
    assert words == {"words": [(10.0, 10.276, "we"), (10.276, 10.278, "need")],
                     "words 2": [(10.276, 10.516, "to")]}
    # a transcript without speakers keeps its text on one tier
    t = pk.Transcript.from_text("one two three four")
    assert speaker_tiers(t) == {"speech": [(0.0, 1.6, "one two three four")]}


def test_whisperx_formats(run, tmp_path):
    paths = pk.export(run, "all", tmp_path)
    assert [p.name for p in paths] == [f"austen_sample.{x}" for x in
                                       ("json", "srt", "vtt", "txt", "tsv")]
    t = run.transcript
    data = json.loads(paths[0].read_text())
    assert [w["word"] for w in data["word_segments"]] == [w.text for w in t.words]
    assert [[w["start"] for w in s["words"]] for s in data["segments"]] == [
        [w.start for w in t.words[s.word_start:s.word_end]] for s in t.segments]
    rows = paths[4].read_text().splitlines()
    assert rows[0] == "start\tend\ttext"
    assert [r.split("\t")[:2] for r in rows[1:]] == [
        [str(round(s.start * 1000)), str(round(s.end * 1000))] for s in t.segments]
    assert paths[3].read_text().splitlines() == [f"[{s.speaker}]: {s.text.strip()}"
                                                 for s in t.segments]


def _srt_cues(text: str) -> list[tuple[float, float, str]]:
    cues = []
    for block in text.strip().split("\n\n"):
        _, times, *lines = block.split("\n")
        a, b = (sum(float(x) * m for x, m in zip(s.replace(",", ".").split(":"),
                                                 (3600, 60, 1), strict=True))
                for s in times.split(" --> "))
        cues.append((a, b, "\n".join(lines)))
    return cues


def test_highlight_words_underlines_the_word_being_spoken(run, tmp_path):
    srt, vtt = pk.export(run, ["srt", "vtt"], tmp_path, highlight_words=True)
    cues = _srt_cues(srt.read_text())
    marked = [c for c in cues if "<u>" in c[2]]
    words = run.transcript.words
    assert len(marked) == len(words)
    for (a, b, text), w in zip(marked, words, strict=True):
        assert re.findall(r"<u>(.*?)</u>", text) == [w.text]
        assert (a, b) == (pytest.approx(w.start, abs=5e-4), pytest.approx(w.end, abs=5e-4))
    assert vtt.read_text().startswith("WEBVTT") and vtt.read_text().count("<u>") == len(words)
    plain = _srt_cues(pk.export(run, "srt", tmp_path / "plain")[0].read_text())
    assert "<u>" not in "".join(c[2] for c in plain)


def test_csv_and_parquet_tables(run, tmp_path):
    paths = pk.export(run, "csv,parquet", tmp_path)
    names = {p.name for p in paths}
    for table in ("words", "segments", "chunks", "chapters", "questions"):
        assert {f"austen_sample.{table}.csv", f"austen_sample.{table}.parquet"} <= names
    for ext, read in (("csv", pd.read_csv), ("parquet", pd.read_parquet)):
        words = read(tmp_path / f"austen_sample.words.{ext}")
        assert words["text"].tolist() == [w.text for w in run.transcript.words]
        assert words["start"].tolist() == pytest.approx([w.start for w in run.transcript.words])
        chunks = read(tmp_path / f"austen_sample.chunks.{ext}")
        assert chunks["chunk_id"].tolist() == [c.chunk_id for c in run.chunks]
        assert [json.loads(s) for s in chunks["speakers"]] == [c.speakers for c in run.chunks]
        questions = read(tmp_path / f"austen_sample.questions.{ext}")
        assert questions["text"].tolist() == [q.text for q in run.questions]


def test_formats_come_from_the_registry_and_bad_requests_write_nothing(run, tmp_path):
    declared = {e.format for s in REGISTRY.specs() for e in s.exports}
    assert set(pk.export_formats()) == declared | {"all"}
    assert {"eaf", "textgrid", "srt", "tsv", "csv", "parquet"} <= declared
    out = tmp_path / "bad"
    with pytest.raises(ValueError, match="unknown export format.*'docx'"):
        pk.export(run, "eaf,docx", out)
    with pytest.raises(ValueError, match="max_line_width"):
        pk.export(run, "srt", out, max_line_width=0)
    no_transcript = dataclasses.replace(run, values={"chunking": run.chunks})
    with pytest.raises(ValueError, match="'eaf' needs a result of stage transcription"):
        pk.export(no_transcript, "csv,eaf", out)
    assert not out.exists()
    # a format several stages write has the tables of the stages the run has
    only = dataclasses.replace(run, values={"transcription": run.transcript})
    assert [p.name for p in pk.export(only, "csv", out)] == [
        "austen_sample.words.csv", "austen_sample.segments.csv"]


def test_cli_export_by_run_id(run, tmp_path):
    env = {**os.environ, "PIPELINE_KIT_PROGRESS": "none"}
    cli = [sys.executable, "-m", "pipeline_kit.faces.cli"]
    home = run.run_record["home"]
    done = subprocess.run([*cli, "export", run.run_id[:8], "--home", home, "--format", "eaf",
                           "-f", "tsv", "--out", str(tmp_path)], env=env, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "austen_sample.eaf"),
                                   str(tmp_path / "austen_sample.tsv")]
    bad = subprocess.run([*cli, "export", str(run.out_dir), "--format", "docx"], env=env,
                         capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "unknown export format" in bad.stderr
    default = subprocess.run([*cli, "export", str(run.out_dir), "--highlight-words"], env=env,
                             capture_output=True, text=True, check=False)
    assert default.returncode == 0, default.stderr
    assert (run.out_dir / "exports" / "austen_sample.srt").read_text().count("<u>") == len(
        run.transcript.words)
