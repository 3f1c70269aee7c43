"""Speakers everywhere (issue 19): real AMI meeting audio, its gold speaker turns and a real
transcript of it, through words, segments, chunks, chapters, subtitles, the graph,
questions, the pipeline's results and exports, and speaker renaming.

The diarization here is the gold RTTM (read by a small parser below), so these tests
check how speakers are carried, not how well they are found (``test_diarization``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import shared_path

import pipeline_kit as pk
from pipeline_kit.pipeline._artifacts import ArtifactCache
from pipeline_kit.pipeline._registry import REGISTRY, Codec, StageCall, StageSpec
from pipeline_kit.pipeline._speaker_names import presented, saved_names
from pipeline_kit.stages._rttm import read_rttm as read_rttm_file
from pipeline_kit.stages._speakers import speaker_changes
from pipeline_kit.stages._text import join_words
from pipeline_kit.stages._types import Diarization, SpeakerTurn, Transcript
from pipeline_kit.tasks import TaskManager
from pipeline_kit.tasks._store import open_store

AMI = "diarization/pyannote_ami_debug"


# ----------------------------------------------------------------------------- gold data

def read_rttm(path: Path, uri: str) -> list[tuple[float, float, str]]:
    """(start, end, speaker) of the ``SPEAKER`` lines of ``uri`` in an RTTM file."""
    return [(t.start, t.end, t.speaker) for t in read_rttm_file(path).get(uri, [])]


def gold_diarization(rttm: Path, uri: str, duration: float = 30.0) -> Diarization:
    """The gold turns of ``uri`` as a Diarization, labelled SPEAKER_1.. by first appearance."""
    rows = sorted(read_rttm(rttm, uri))
    order = list(dict.fromkeys(s for _, _, s in rows))
    label = {s: f"SPEAKER_{i + 1}" for i, s in enumerate(order)}
    turns = tuple(SpeakerTurn(a, b, label[s]) for a, b, s in rows)
    return Diarization(turns=turns, speakers=tuple(label[s] for s in order),
                       method="gold-rttm", audio_duration_seconds=duration)


@pytest.fixture(scope="module")
def sample_wav() -> Path:
    """AMI's 30 s two-speaker excerpt (pyannote's tutorial sample)."""
    return shared_path(f"{AMI}/sample.wav")


@pytest.fixture(scope="module")
def gold(sample_wav) -> Diarization:
    return gold_diarization(sample_wav.with_suffix(".rttm"), "sample")


@pytest.fixture(scope="module")
def transcript(sample_wav) -> Transcript:
    """A real transcript of the sample (bundled tiny.en, once per module)."""
    return pk.transcribe(str(sample_wav))


@pytest.fixture(scope="module")
def labelled(transcript, gold) -> Transcript:
    return pk.assign_speakers(transcript, gold)


def _covering(gold: Diarization, start: float, end: float) -> dict[str, float]:
    """Seconds of ``[start, end]`` inside each speaker's gold turns."""
    out: dict[str, float] = {}
    for t in gold.turns:
        inter = min(t.end, end) - max(t.start, start)
        if inter > 0:
            out[t.speaker] = out.get(t.speaker, 0.0) + inter
    return out


def _clear_words(t: Transcript, gold: Diarization) -> list[int]:
    """Indices of words that lie (75 %+) in one speaker's turns and touch no other's."""
    out = []
    for i, w in enumerate(t.words):
        cover = _covering(gold, w.start, w.end)
        if len(cover) == 1 and w.end > w.start and sum(cover.values()) >= 0.75 * (w.end - w.start):
            out.append(i)
    return out


# ----------------------------------------------------------------------------- without shared data

def test_hand_built_turns_over_the_bundled_sample_label_whole_sentences(sample_dir):
    """Turns that change speaker at sentence gaps (mid-pause) of the bundled reading:
    every word gets its sentence's speaker, and subtitle cues never mix two."""
    from pipeline_kit.stages._sentences import split_sentences

    t = pk.transcribe(str(sample_dir / "austen_sample.wav"))
    sentences = split_sentences(t)
    assert len(sentences) >= 4
    cuts = [0.0, *((a.end_time + b.start_time) / 2 for a, b in zip(sentences, sentences[1:],
                                                                   strict=False)),
            t.audio_duration_seconds + 1.0]
    who = [f"SPEAKER_{1 + (i // 2) % 2}" for i in range(len(sentences))]  # two sentences each
    turns = tuple(SpeakerTurn(cuts[i], cuts[i + 1], who[i]) for i in range(len(sentences)))
    hand = Diarization(turns=turns, speakers=("SPEAKER_1", "SPEAKER_2"), method="hand")
    labelled = pk.assign_speakers(t, hand)
    for s, speaker in zip(sentences, who, strict=True):
        assert {w.speaker for w in labelled.words[s.start_word:s.end_word]} == {speaker}
    for block in labelled.to_srt().strip().split("\n\n"):
        text = block.splitlines()[2]
        assert _CUE.match(text), block


# ----------------------------------------------------------------------------- words, segments

def test_words_get_the_gold_speaker_on_both_sides_of_every_change(transcript, labelled, gold):
    clear = _clear_words(transcript, gold)
    assert len(clear) >= 0.5 * len(transcript.words)
    for i in clear:
        (expected,) = _covering(gold, transcript.words[i].start, transcript.words[i].end)
        assert labelled.words[i].speaker == expected, transcript.words[i]
    # every change between turns of 1.5 s or more has a clearly attributed word of each
    # speaker within 3 s (the rapid "hello"s at the start are shorter turns)
    turns = sorted((t for t in gold.turns if t.duration >= 1.5), key=lambda t: t.start)
    changes = [(a.end, a.speaker, b.speaker) for a, b in zip(turns, turns[1:], strict=False)
               if a.speaker != b.speaker]
    assert len(changes) >= 4
    for at, before, after in changes:
        near = {labelled.words[i].speaker for i in clear
                if abs(transcript.words[i].start - at) < 3.0}
        assert {before, after} <= near, (at, before, after, near)
    # the input transcript is untouched: the transcription artifact stays speaker-free
    assert all(w.speaker is None for w in transcript.words)


def test_labels_match_whisperx_assign_word_speakers(transcript, labelled, gold):
    """The same word labels as whisperx's own function (with its nearest-turn fallback) on
    every word of the real transcript, zero-length words inside two turns included."""
    import pandas as pd
    from whisperx.diarize import assign_word_speakers

    segments = [{"start": s.start, "end": s.end, "text": s.text,
                 "words": [{"word": w.text, "start": w.start, "end": w.end}
                           for w in transcript.words[s.word_start:s.word_end]]}
                for s in transcript.segments]
    turns = pd.DataFrame([t.to_dict() for t in gold.turns])
    theirs = assign_word_speakers(turns, {"segments": segments}, fill_nearest=True)
    assert [w.get("speaker") for s in theirs["segments"]
            for w in s["words"]] == [w.speaker for w in labelled.words]
    # (segments differ on purpose: whisperx takes the most overlapped speaker of a
    # segment's span, ours the speaker of most of its words)


def test_words_outside_every_turn_take_the_nearest_turn_within_the_gap_else_none(transcript,
                                                                                  gold):
    words = transcript.words
    k = len(words) // 2
    w = words[k]
    # gold turns with a hole around word k: 0.4 s before it, and 5 s after it
    cut = Diarization(turns=(SpeakerTurn(0.0, w.start - 0.4, "SPEAKER_1"),
                             SpeakerTurn(w.end + 5.0, 40.0, "SPEAKER_2")),
                      speakers=("SPEAKER_1", "SPEAKER_2"), method="hand")
    t = pk.assign_speakers(transcript, cut)
    assert t.words[k].speaker == "SPEAKER_1"  # 0.4 s from SPEAKER_1's turn, 5 s from the other
    far = [i for i, x in enumerate(words)
           if x.start > w.end + 1.0 and x.end < w.end + 5.0 - 1.0]
    assert far, "no word lies more than 1 s from both turns"
    assert all(t.words[i].speaker is None for i in far)
    assert pk.assign_speakers(transcript, cut, max_gap=0.1).words[k].speaker is None


def test_segments_take_the_speaker_of_most_of_their_words(labelled):
    from collections import Counter

    assert any(s.speaker for s in labelled.segments)
    for s in labelled.segments:
        counts = Counter(w.speaker for w in labelled.words[s.word_start:s.word_end]
                         if w.speaker is not None)
        if counts:
            assert counts[s.speaker] == max(counts.values())


def test_dataframes_carry_the_speaker(labelled):
    words = labelled.words_df()
    assert list(words["speaker"]) == [w.speaker for w in labelled.words]
    assert list(labelled.segments_df()["speaker"]) == [s.speaker for s in labelled.segments]
    again = Transcript.from_json(labelled.to_json())
    assert again == labelled  # JSON carries the speakers


# ----------------------------------------------------------------------------- chunks, chapters

def test_chunk_and_chapter_talk_times_sum_to_their_durations(labelled):
    assert all(w.speaker is not None for w in labelled.words)
    chunks = pk.create_semantic_chunks(labelled, 30, 5, method="tfidf")
    assert len(chunks) >= 2
    assert any(len(c.speakers) == 2 for c in chunks)
    for c in chunks:
        assert sum(c.speakers.values()) == pytest.approx(c.end_time - c.start_time, abs=0.01)
        said = {w.speaker for w in labelled.words[c.start_word_index:c.end_word_index]}
        assert set(c.speakers) == said
    chapters = pk.analyze_chapters(labelled, min_sentences=2, method="lexical")
    assert chapters and all(ch.speakers for ch in chapters)
    for ch in chapters:
        assert sum(ch.speakers.values()) == pytest.approx(ch.end_time - ch.start_time, abs=0.01)
    # the DataFrame views name who talks most in each
    for df, records in ((pk.chunks_df(chunks), chunks), (pk.chapters_df(chapters), chapters)):
        assert list(df["speakers"]) == [r.speakers for r in records]
        assert list(df["speaker"]) == [max(r.speakers, key=r.speakers.get) for r in records]
    # without speakers nothing is invented
    plain = dataclasses.replace(labelled, words=tuple(dataclasses.replace(w, speaker=None)
                                                      for w in labelled.words))
    assert all(c.speakers == {} for c in pk.create_semantic_chunks(plain, 30, 5,
                                                                   method="tfidf"))


@pytest.mark.parametrize("method", ["tfidf", "fixed"])
def test_split_on_speaker_change_cuts_at_every_change(labelled, method):
    size, overlap = 60, 10
    changes = speaker_changes(labelled.words)
    assert len(changes) >= 3
    # each stretch between changes has 3+ words, and the next is mostly someone else's
    bounds = [0, *changes, len(labelled.words)]
    stretches = [[w.speaker for w in labelled.words[a:b]]
                 for a, b in zip(bounds, bounds[1:], strict=False)]
    assert all(len(x) >= 3 for x in stretches)
    main = [max(set(x), key=x.count) for x in stretches]
    assert all(a != b for a, b in zip(main, main[1:], strict=False))
    whole = pk.create_semantic_chunks(labelled, size, overlap, method=method)
    assert any(len(c.speakers) > 1 for c in whole)  # the option has something to change
    split = pk.create_semantic_chunks(labelled, size, overlap, method=method,
                                      split_on_speaker_change=True)
    starts = {c.start_word_index for c in split}
    assert set(changes) <= starts  # a chunk starts exactly at each change, no overlap back
    for c in split:
        assert c.word_count <= size
        assert not any(c.start_word_index < x < c.end_word_index for x in changes)
    assert split[-1].end_word_index == len(labelled.words)
    with pytest.raises(ValueError, match="split_on_speaker_change must be True or False"):
        pk.create_semantic_chunks(labelled, size, overlap, split_on_speaker_change="yes")


# ----------------------------------------------------------------------------- subtitles

_CUE = re.compile(r"^\[(?P<who>[^\]]+)\] (?P<text>.+)$")


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitle_cues_start_with_their_speaker(labelled, fmt):
    text = labelled.to_srt() if fmt == "srt" else labelled.to_vtt()
    lines = [ln for ln in text.splitlines()
             if ln and "-->" not in ln and not ln.isdigit() and ln != "WEBVTT"]
    cues = [_CUE.match(ln) for ln in lines]
    assert all(cues), lines
    # the cues, without their prefixes, are the words in order; each cue is labelled with
    # the speaker who talks longest in it (issue 29: a label flipping for a word or two
    # no longer makes a cue of its own, so a cue may hold a moment of another speaker)
    pos = 0
    for m in cues:
        end = next(j for j in range(pos + 1, len(labelled.words) + 1)
                   if join_words(labelled.words[pos:j]) == m["text"])
        talk: dict[str, float] = {}
        for w in labelled.words[pos:end]:
            talk[w.speaker] = talk.get(w.speaker, 0.0) + w.end - w.start
        assert m["who"] == max(talk, key=talk.__getitem__)
        pos = end
    assert pos == len(labelled.words)
    assert len({m["who"] for m in cues}) == 2
    # a transcript without speakers keeps its cues unprefixed
    plain = dataclasses.replace(labelled, words=tuple(dataclasses.replace(w, speaker=None)
                                                      for w in labelled.words))
    assert "[" not in (plain.to_srt() if fmt == "srt" else plain.to_vtt())


# ----------------------------------------------------------------------------- views

def test_talk_time_table_and_timeline_follow_the_gold_turns(gold, sample_wav):
    raw = read_rttm(sample_wav.with_suffix(".rttm"), "sample")
    table = pk.talk_time_table(gold)
    assert list(table["speaker"]) == ["SPEAKER_1", "SPEAKER_2"]
    by_label = {}
    for a, b, s in raw:
        by_label[s] = by_label.get(s, 0.0) + (b - a)
    assert sorted(table["talk_seconds"]) == pytest.approx(sorted(by_label.values()), abs=1e-3)
    assert table["share"].sum() == pytest.approx(1.0, abs=1e-3)
    assert list(table["turns"]) == [sum(t.speaker == s for t in gold.turns)
                                    for s in ("SPEAKER_1", "SPEAKER_2")]

    import matplotlib

    matplotlib.use("Agg")
    ax = pk.speaker_timeline(gold)
    lanes = [t.get_text() for t in ax.get_yticklabels()]
    assert lanes == ["SPEAKER_1", "SPEAKER_2"]
    bars = ax.collections
    assert [len(b.get_paths()) for b in bars] == list(table["turns"])
    colors = [tuple(b.get_facecolor()[0]) for b in bars]
    assert colors[0] != colors[1]
    again = pk.speaker_timeline(gold)
    assert [tuple(b.get_facecolor()[0]) for b in again.collections] == colors  # stable
    assert ax.get_xlim() == (0.0, 30.0)
    with pytest.raises(TypeError, match="expected a Diarization"):
        pk.talk_time_table(gold.turns)


# ----------------------------------------------------------------------------- the pipeline

def _run_gold(call: StageCall) -> Diarization:
    """A diarization stage that reads the gold RTTM beside the audio's source file."""
    source = Path(call.params.get("gold_rttm") or GOLD_RTTM[0])
    return gold_diarization(source, "sample")


GOLD_RTTM: list[str] = [""]
GOLD_SPEC = StageSpec(
    name="diarization", task_type="speaker_diarization", run=_run_gold,
    codec=Codec(lambda d: d.to_dict(), Diarization.from_dict), sources=(__name__,),
    result_attr="diarization", weight=5, seconds_per_audio_second=0.0,
    depends=("upload", "transcription"), description="gold speaker turns (test)")
LATER = ("chunking", "chapters", "graph", "questions")


@contextlib.contextmanager
def gold_stage_registered(rttm: str | Path) -> Iterator[None]:
    """A ``diarization`` stage answering the gold turns of ``rttm``, registered where the
    real one goes (or the real one's engine swapped for the gold turns, once it exists),
    so the stages after it take speakers; the registry is restored afterwards."""
    GOLD_RTTM[0] = str(rttm)
    if "diarization" in REGISTRY.names():
        real = REGISTRY.get("diarization")
        REGISTRY.override("diarization", run=_run_gold, on_request=False)  # runs unasked here
        try:
            yield
        finally:
            REGISTRY.register(real, replace_existing=True)
        return
    originals = [REGISTRY.get(n) for n in LATER]
    for name in reversed(LATER):
        REGISTRY.unregister(name)
    REGISTRY.register(GOLD_SPEC)
    for spec in originals:
        deps = tuple(dict.fromkeys((*spec.depends, "transcription", "diarization")))
        REGISTRY.register(dataclasses.replace(spec, depends=deps))
    try:
        yield
    finally:
        for name in (*reversed(LATER), "diarization"):
            REGISTRY.unregister(name)
        for spec in originals:
            REGISTRY.register(spec)


@pytest.fixture(scope="module")
def gold_stage(sample_wav):
    with gold_stage_registered(sample_wav.with_suffix(".rttm")):
        yield


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("speakers-home")


@pytest.fixture(scope="module")
def run(gold_stage, sample_wav, home):
    """One pipeline run of the AMI sample with the gold diarization stage."""
    manager = TaskManager(store=home / "tasks.sqlite3")
    try:
        return pk.run_pipeline(sample_wav, manager=manager, home=home, out_dir=home / "out",
                               chunking_method="tfidf", chunk_size=40, overlap=5,
                               min_sentences=2)
    finally:
        manager.close()


def test_pipeline_results_carry_speakers_but_the_transcription_artifact_does_not(run, home,
                                                                                 gold):
    assert run.run_record["outcome"] == "completed"
    words = run.transcript.words
    assert {w.speaker for w in words} == {"SPEAKER_1", "SPEAKER_2"}
    assert run.transcript == pk.assign_speakers(_artifact(run, home, "transcription"), gold)
    stored = _artifact(run, home, "transcription")
    assert all(w.speaker is None for w in stored.words)
    assert run.chunks and all(c.speakers for c in run.chunks)
    for c in run.chunks:
        assert sum(c.speakers.values()) == pytest.approx(c.end_time - c.start_time, abs=0.01)
    assert run.chapters and all(ch.speakers for ch in run.chapters)
    out = Path(run.out_dir)
    assert "[SPEAKER_1] " in (out / "transcript.srt").read_text()
    assert "[SPEAKER_2] " in (out / "transcript.vtt").read_text()
    saved = Transcript.from_json(out / "transcript.json")
    assert [w.speaker for w in saved.words] == [w.speaker for w in words]


def _artifact(run, home, stage):
    data = ArtifactCache(home).load(stage, run.run_record["artifact_keys"][stage])
    assert data is not None, stage
    return REGISTRY.get(stage).codec.decode(data)


def test_graph_concepts_link_to_the_speakers_who_say_them(run):
    G = run.graph
    assert G.graph.get("has_speakers") is True
    concepts = [n for n, k in G.nodes(data="kind") if k == "concept"]
    linked = {n: pk.concept_speakers(G, n) for n in concepts}
    assert any(linked.values())
    text_of = {s: " ".join(w.text.strip(".,?!").lower() for w in run.transcript.words
                           if w.speaker == s) for s in ("SPEAKER_1", "SPEAKER_2")}
    for n, said in linked.items():
        for speaker in said:
            assert G.nodes[n]["key"].split()[0] in text_of[speaker], (n, speaker)
    # graph queries still work, and the graph still exports
    from pipeline_kit.stages._graph_query import concept_neighbourhood, to_graphml

    assert concept_neighbourhood(G, concepts[0]).number_of_nodes() >= 2
    to_graphml(G, Path(run.out_dir) / "check.graphml")


def test_questions_name_the_speaker_of_a_one_speaker_sentence(run):
    # This two-person chat ("I didn't know you were there", "this is Diane ...") gives no
    # parser question since issue 28 (first-person and "this" subjects are not asked), so
    # each chunk's sentences are also put through questions_with_speakers as the
    # questions stage does, with the run's own transcript and chunks.
    from pipeline_kit.stages._questions import sentence_spans
    from pipeline_kit.stages._speakers import questions_with_speakers
    from pipeline_kit.stages._types import Question

    words = run.transcript.words
    chunks = {c.chunk_id: c for c in run.chunks}
    asked = [Question(s.text, "what", "x", c.chunk_id, c.start_time, c.end_time, 0.5,
                      context=s.text)
             for c in run.chunks for s in sentence_spans(c.text)]
    labelled = questions_with_speakers(asked, run.chunks, run.transcript)
    assert any(q.speaker for q in labelled)
    checked = 0
    for q in [*run.questions, *labelled]:
        if q.speaker is None or not q.context:
            continue
        c = chunks[q.chunk_id]
        texts = [w.text for w in words[c.start_word_index:c.end_word_index]]
        tokens = q.context.split()
        at = next(i for i in range(len(texts)) if texts[i:i + len(tokens)] == tokens)
        span = words[c.start_word_index + at:c.start_word_index + at + len(tokens)]
        assert {w.speaker for w in span} == {q.speaker}
        checked += 1
    assert checked >= 1


def _copy_of_run(run, home: Path, tmp_path: Path):
    """The run with its home (store, audio, artifacts) and exports copied under ``tmp_path``,
    so a test that renames leaves the module's run as it was."""
    import shutil

    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    out = copy / "out"
    record = {**run.run_record, "home": str(copy), "out_dir": str(out)}
    return dataclasses.replace(run, run_record=record, out_dir=out), copy


def test_rename_persists_in_the_saved_run_the_store_and_the_artifact_view(run, home, tmp_path):
    mine, copy = _copy_of_run(run, home, tmp_path)
    renamed = pk.rename_speakers(mine, {"SPEAKER_1": "Interviewer"})
    assert {w.speaker for w in renamed.transcript.words} == {"Interviewer", "SPEAKER_2"}
    assert all("SPEAKER_1" not in c.speakers for c in renamed.chunks)
    assert renamed["diarization"].speakers == ("Interviewer", "SPEAKER_2")
    assert renamed.transcript.metadata["speakers"]["labels"] == ["Interviewer", "SPEAKER_2"]
    assert {w.speaker for w in mine.transcript.words} == {"SPEAKER_1", "SPEAKER_2"}  # unchanged
    out = Path(mine.out_dir)
    # the saved run directory, read back from disk
    assert saved_names(out) == {"SPEAKER_1": "Interviewer"}
    assert json.loads((out / "run.json").read_text())["speaker_names"] == {
        "SPEAKER_1": "Interviewer"}
    srt = (out / "transcript.srt").read_text()
    assert "[Interviewer] " in srt and "[SPEAKER_1]" not in srt
    reread = Transcript.from_json(out / "transcript.json")
    assert reread == renamed.transcript
    chunks = json.loads((out / "chunks.json").read_text())
    assert any("Interviewer" in c["speakers"] for c in chunks)
    # the store's run record (found through the run's home), and the run's artifacts as a
    # loader shows them
    store = open_store(copy / "tasks.sqlite3")
    try:
        doc = store.get_document("runs", run.run_id)
    finally:
        store.close()
    assert doc["speaker_names"] == {"SPEAKER_1": "Interviewer"}
    shown = presented({s: _artifact(run, copy, s) for s in doc["stages"]}, doc["speaker_names"])
    assert shown["transcription"] == renamed.transcript
    # a second rename may use the given name; both names persist
    again = pk.rename_speakers(renamed, {"Interviewer": "Host", "SPEAKER_2": "Guest"})
    assert {w.speaker for w in again.transcript.words} == {"Host", "Guest"}
    assert saved_names(out) == {"SPEAKER_1": "Host", "SPEAKER_2": "Guest"}
    # the module's own run and its files are untouched
    assert "[SPEAKER_1] " in (Path(run.out_dir) / "transcript.srt").read_text()


def test_load_run_shows_the_speakers_and_the_names_given(run, home, tmp_path):
    load_run = pk.load_run
    assert load_run(run.out_dir).transcript == run.transcript  # labelled, as the run showed it
    mine, copy = _copy_of_run(run, home, tmp_path)
    pk.rename_speakers(mine, {"SPEAKER_2": "Guest"})
    expected = [{"SPEAKER_2": "Guest"}.get(w.speaker, w.speaker) for w in run.transcript.words]
    for loaded in (load_run(mine.out_dir), load_run(run.run_id, home=copy)):
        assert [w.speaker for w in loaded.transcript.words] == expected
        assert loaded["diarization"].speakers == ("SPEAKER_1", "Guest")
        assert all("SPEAKER_2" not in c.speakers for c in loaded.chunks)


# The API in a process of its own (as test_api's server): importing pipeline_kit.faces.api here
# would freeze its request schema before other test modules register their stages.
API_CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from test_speakers import gold_stage_registered
with gold_stage_registered(sys.argv[2]):
    from fastapi.testclient import TestClient
    from pipeline_kit.faces.api import ApiLimits, create_app
    with TestClient(create_app(home=sys.argv[3], token=None, limits=ApiLimits())) as client:
        url = f"/audio/{sys.argv[4]}/transcript"
        got = client.get(url)
        srt = client.get(url, params={"format": "srt"})
print(json.dumps({"status": got.status_code, "json": got.json(), "srt": srt.text}))
"""


def test_api_transcript_carries_speakers_and_given_names(run, home, tmp_path, sample_wav):
    import subprocess
    import sys

    mine, copy = _copy_of_run(run, home, tmp_path)
    pk.rename_speakers(dataclasses.replace(mine, out_dir=None), {"SPEAKER_2": "Guest"})
    proc = subprocess.run([sys.executable, "-c", API_CHILD, str(Path(__file__).parent),
                           str(sample_wav.with_suffix(".rttm")), str(copy),
                           run.audio.audio_id], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200, answer
    assert answer["json"]["run_id"] == run.run_id
    t = Transcript.from_dict(answer["json"]["transcript"])
    assert [w.speaker for w in t.words] == [
        {"SPEAKER_2": "Guest"}.get(w.speaker, w.speaker) for w in run.transcript.words]
    assert "[Guest] " in answer["srt"] and "[SPEAKER_1] " in answer["srt"]


@pytest.mark.parametrize(("names", "message"), [
    ({"SPEAKER_9": "Someone"}, "unknown speaker label.*'SPEAKER_9'.*SPEAKER_1, SPEAKER_2"),
    ({"SPEAKER_1": "  "}, "name for 'SPEAKER_1' must be a non-empty string"),
    ({"SPEAKER_1": None}, "name for 'SPEAKER_1' must be a non-empty string"),
    ({}, "non-empty mapping"),
    ("Interviewer", "must be a mapping"),
    ({"SPEAKER_1": "SPEAKER_2"}, "both be called 'SPEAKER_2'"),
    ({"SPEAKER_1": "Ann", "SPEAKER_2": "Ann"}, "both be called 'Ann'"),
])
def test_bad_rename_fails_clearly_and_changes_nothing(run, names, message, tmp_path):
    out = Path(run.out_dir)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    fresh = dataclasses.replace(run, run_record={**run.run_record, "speaker_names": {}},
                                out_dir=tmp_path)
    with pytest.raises(ValueError, match=message):
        pk.rename_speakers(fresh, names)
    assert not any(tmp_path.iterdir())
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
