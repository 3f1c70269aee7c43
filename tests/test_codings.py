"""Coding in a collection on real runs of the bundled sample: codes, codings snapped to
words, their survival across index rebuilds, quotes, keyword in context, and quote
clips cut from the audio (checked by transcribing them again)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

import pipeline_kit as pk
from pipeline_kit.collection._codings import BACKUP_FILE, PAD

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
AUSTEN = SAMPLE / "austen_sample.wav"
SHORT = SAMPLE / "sense_and_sensibility_01_austen_64kb-0870.wav"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("coding-home")
    for audio in (AUSTEN, SHORT):
        pk.run_pipeline(audio, home=home, out_dir=home / "out" / audio.stem, chunk_size=30,
                        overlap=5)
    return home


@pytest.fixture(scope="module")
def austen(home) -> pk.PipelineResult:
    return pk.load_run(home / "out" / AUSTEN.stem)


@pytest.fixture
def coll(home, tmp_path) -> pk.Collection:
    """A fresh collection index (in tmp_path) over the module's runs, for each test."""
    return pk.Collection(home, index_dir=tmp_path / "index")


def _norm(text: str) -> list[str]:
    return [w for w in re.split(r"[^a-z']+", text.lower()) if w]


def test_a_search_hit_is_tagged_with_exactly_its_words(coll, austen):
    coll.code("money", description="what is owed and given")
    hit = coll.search("prudently in his power", k=1, mode="keyword").iloc[0]
    coding = coll.tag(hit, "money", note="first")
    row = coll.codings().set_index("coding_id").loc[coding]
    chunk = next(c for c in austen.chunks if c.chunk_id == hit["chunk_id"])
    words = austen.transcript.words[chunk.start_word_index:chunk.end_word_index]
    assert row["text"] == " ".join(w.text for w in words)
    assert (row["start_time"], row["end_time"]) == (chunk.start_time, chunk.end_time)
    assert (row["start_word"], row["end_word"]) == (chunk.start_word_index, chunk.end_word_index)
    assert row["speaker"] == words[0].speaker and row["note"] == "first"
    assert row["color"] == coll.codes().set_index("name").loc["money", "color"]
    # tagging the same words with the same code again is the same coding
    assert coll.tag(hit, "money", note="second") == coding
    assert len(coll.codings()) == 1 and coll.codings()["note"][0] == "second"


def test_a_span_snaps_outward_to_whole_words(coll, austen):
    coll.code("character")
    words = austen.transcript.words
    start, end = 5.0, 7.0
    inside = [i for i, w in enumerate(words) if w.end > start and w.start < end]
    assert words[inside[0]].start < start < words[inside[0]].end, "5.0 s cuts a word"
    coll.tag(("austen_sample.wav", start, end), "character")
    row = coll.codings().iloc[0]
    assert (row["start_word"], row["end_word"]) == (inside[0], inside[-1] + 1)
    assert (row["start_time"], row["end_time"]) == (words[inside[0]].start,
                                                    words[inside[-1]].end)
    assert row["text"] == " ".join(words[i].text for i in inside)
    # a mapping, naming the recording by id, gives the same words (one coding)
    rid = row["recording_id"]
    coll.tag({"recording": rid, "start": start, "end": end}, "character")
    assert len(coll.codings()) == 1


def test_bad_input_is_refused_before_anything_is_written(coll):
    coll.code("place", color="#112233")
    backup = (coll.index_dir / BACKUP_FILE).read_text()
    for target, code, match in [
        (("austen_sample.wav", 1.0, 2.0), "nope", "no code 'nope'; codes: place"),
        (("austen_sample.wav", 3.0, 2.0), "place", "start < end"),
        (("missing.wav", 1.0, 2.0), "place", "no recording 'missing.wav'"),
        (("austen_sample.wav", 500.0, 501.0), "place", "no words"),
        ("not a span", "place", "a span is"),
    ]:
        with pytest.raises(ValueError, match=match):
            coll.tag(target, code)
    with pytest.raises(ValueError, match="#RRGGBB"):
        coll.code("bad", color="red")
    with pytest.raises(ValueError, match="no coding 'zzz'"):
        coll.untag("zzz")
    assert coll.codings().empty and list(coll.codes()["name"]) == ["place"]
    assert (coll.index_dir / BACKUP_FILE).read_text() == backup


def test_codings_survive_a_rebuild_and_a_lost_index(coll, home, tmp_path):
    coll.code("family")
    ids = {coll.tag(("austen_sample.wav", 0.5, 2.5), "family"),
           coll.tag((SHORT.name, 1.0, 3.0), "family", note="sister")}
    before = coll.codings()
    backup = json.loads((coll.index_dir / BACKUP_FILE).read_text())
    assert {c["coding_id"] for c in backup["codings"]} == ids  # backed up on every write
    coll.index(rebuild=True)
    pd.testing.assert_frame_equal(coll.codings(), before)
    # the whole DuckDB lost (deleted, or set aside as broken): the backup fills it again
    coll.db_path.unlink()
    again = pk.Collection(home, index_dir=coll.index_dir)
    pd.testing.assert_frame_equal(again.codings(), before)
    assert list(again.codes()["codings"]) == [2]


def test_an_unreadable_backup_is_an_error_and_is_kept(home, tmp_path):
    """With the tables empty, codings.json is the only copy: a broken one stops the
    collection's coding (saying so) and is never overwritten."""
    index = tmp_path / "broken"
    index.mkdir()
    (index / BACKUP_FILE).write_text('{"codes": [')
    coll = pk.Collection(home, index_dir=index)
    with pytest.raises(ValueError, match="codings.json.*not readable.*move it aside"):
        coll.code("family")
    assert (index / BACKUP_FILE).read_text() == '{"codes": ['


def test_untag_by_id_and_by_span(coll):
    coll.code("a")
    coll.code("b")
    span = ("austen_sample.wav", 10.0, 12.0)
    first = coll.tag(span, "a")
    coll.tag(span, "b")
    other = coll.tag(("austen_sample.wav", 20.0, 21.0), "a")
    assert coll.untag(span, code="b") == 1
    assert set(coll.codings()["coding_id"]) == {first, other}
    assert coll.untag([first, other]) == 2
    assert coll.codings().empty
    backup = json.loads((coll.index_dir / BACKUP_FILE).read_text())
    assert backup["codings"] == [] and len(backup["codes"]) == 2


def test_quotes_show_text_speaker_and_time(coll, austen):
    coll.code("money")
    coll.code("family")
    coll.tag(("austen_sample.wav", 2.0, 4.0), "money")
    coll.tag(("austen_sample.wav", 15.0, 16.0), "family")
    q = coll.quotes()
    assert list(q["code"]) == ["family", "money"]
    assert all(re.fullmatch(r"\d+:\d\d–\d+:\d\d", t) for t in q["time"])
    assert list(q["time"]) == [f"{pk.format_time(a)}–{pk.format_time(b)}"
                               for a, b in zip(q["start_time"], q["end_time"], strict=True)]
    assert set(q["speaker"]) == {austen.transcript.words[0].speaker}
    assert list(coll.quotes("money")["code"]) == ["money"]


def test_kwic_lines(coll, austen):
    words = austen.transcript.words
    lines = coll.kwic("rather", width=3)
    where = [i for i, w in enumerate(words) if _norm(w.text) == ["rather"]]
    assert len(lines) == len(where) >= 2
    for (_, line), i in zip(lines.iterrows(), where, strict=True):
        assert line["keyword"] == words[i].text
        assert line["left"] == " ".join(w.text for w in words[max(0, i - 3):i])
        assert line["right"] == " ".join(w.text for w in words[i + 1:i + 4])
        assert line["keyword_start"] == words[i].start
        assert line["start_time"] == words[max(0, i - 3)].start
    # a hyphenated term matches Whisper's split words ("ill", "-disposed")
    ill = coll.kwic("ill-disposed", width=2)
    assert len(ill) == 2 and all(_norm(k) == ["ill", "disposed"] for k in ill["keyword"])
    assert coll.kwic("nonexistentword").empty
    with pytest.raises(ValueError, match="width"):
        coll.kwic("rather", width=-1)


def test_quote_clips_are_cut_on_word_boundaries(coll, tmp_path):
    coll.code("money")
    coll.tag(("austen_sample.wav", 8.5, 11.0), "money")
    coll.tag((SHORT.name, 2.0, 4.0), "money")
    csv = coll.export_quotes(tmp_path / "quotes.csv")
    md = coll.export_quotes(tmp_path / "quotes.md", format="md")
    table = pd.read_csv(csv)
    assert len(table) == 2 and md.read_text().count("([clip](quotes_clips/") == 2
    for _, q in table.iterrows():
        clip = tmp_path / q["clip"]
        assert clip.name.startswith(Path(q["recording"]).stem + "_")
        duration = sf.info(str(clip)).duration
        assert duration == pytest.approx(q["end_time"] - q["start_time"] + 2 * PAD, abs=0.05)
        heard = _norm(pk.transcribe(str(clip)).text)
        said = _norm(q["text"])
        it = iter(heard)
        assert all(w in it for w in said), (said, heard)  # every word, in order
    with pytest.raises(ValueError, match="'csv' or 'md'"):
        coll.export_quotes(tmp_path / "q.docx", format="docx")
    shutil.rmtree(tmp_path / "quotes_clips")
    coll.export_quotes(tmp_path / "plain.csv", clips=False)
    assert "clip" not in pd.read_csv(tmp_path / "plain.csv").columns
    assert not (tmp_path / "plain_clips").exists()


def test_cli_and_api_share_the_codings(home, tmp_path):
    import subprocess
    import sys

    from api_server import start_server

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipeline_kit.faces.cli", *args],
                              capture_output=True, text=True, timeout=300, check=False)

    h = str(home)
    assert cli("code", h, "money", "--color", "#E15759").returncode == 0
    tagged = cli("tag", h, AUSTEN.name, "0:08", "0:10.5", "money", "--note", "from the CLI")
    assert tagged.returncode == 0, tagged.stderr
    coding_id = tagged.stdout.split()[0]
    bad = cli("tag", h, AUSTEN.name, "8", "10", "nope")
    assert bad.returncode == 2 and "no code 'nope'" in bad.stderr
    listed = cli("code", h, "--json")
    assert [json.loads(line)["codings"] for line in listed.stdout.splitlines()] == [1]
    quotes = cli("quotes", h, "--json")
    (quote,) = [json.loads(line) for line in quotes.stdout.splitlines()]
    assert quote["code"] == "money" and quote["note"] == "from the CLI"
    out = tmp_path / "cli.qdpx"
    assert cli("export-qdpx", h, str(out)).returncode == 0
    from pipeline_kit.collection._qdpx import read_qdpx

    assert read_qdpx(out)["codings"]["text"].tolist() == [quote["text"]]
    srv = start_server(home)
    try:
        with srv.client() as api:
            assert [c["name"] for c in api.get("/codes").json()["codes"]] == ["money"]
            assert api.get("/quotes").json()["quotes"][0]["coding_id"] == coding_id
            made = api.post("/codings", json={"code": "money", "recording": SHORT.name,
                                              "start": 1.0, "end": 2.5})
            assert made.status_code == 201, made.text
            assert made.json()["recording"] == SHORT.name and made.json()["text"]
            refused = api.post("/codings", json={"code": "nope", "recording": SHORT.name,
                                                 "start": 1.0, "end": 2.5})
            assert refused.status_code == 422 and "no code" in refused.json()["detail"]
            assert api.post("/codes", json={"name": "x", "color": "red"}).status_code == 422
            assert len(api.get("/quotes", params={"code": "money"}).json()["quotes"]) == 2
            assert api.delete(f"/codings/{made.json()['coding_id']}").status_code == 204
            assert api.delete("/codings/zzz").status_code == 404
    finally:
        srv.stop()
    removed = cli("untag", h, coding_id)
    assert removed.returncode == 0 and "removed 1" in removed.stdout
    assert pk.Collection(home).codings().empty


def test_notebook_tag_control_tags_a_hit_and_the_codings_view_shows_it(coll):
    """The live rows of notebook 04: clicking "tag" with a new code creates the code,
    tags that hit, and calls back (the notebook redraws its codings view there)."""
    from pipeline_kit.notebook._coding_views import NEW_CODE, apply_tag

    hits = coll.search("Dashwood", k=3, mode="keyword")
    told: list[str] = []
    view = pk.tag_view(coll, hits, on_tag=told.append)
    view.widget()
    assert len(view.rows) == len(hits)
    play, picker, new, button, status = view.rows[0].children
    assert 'class="pk-play"' in play.value and picker.value == NEW_CODE
    new.value = "inheritance"
    button.click()
    assert status.value.startswith("tagged 'inheritance'") and told == [status.value]
    (row,) = coll.codings().itertuples()
    assert (row.code, row.recording, row.start_time, row.end_time) == (
        "inheritance", hits["recording"][0], hits["start_time"][0], hits["end_time"][0])
    assert list(picker.options) == ["inheritance", NEW_CODE]  # the new code is offered now
    # nothing picked and nothing typed: refused, nothing written
    assert apply_tag(coll, hits.iloc[1], NEW_CODE, "") == "pick a code or type a new one"
    assert len(coll.codings()) == 1
    (quotes,) = pk.codings_view(coll)
    assert list(quotes.frame["coding_id"]) == [row.coding_id]
    assert 'class="pk-play"' in quotes.html and "inheritance" in quotes.title
    assert list(quotes.frame["note"]) == [""]  # no note reads blank, not "None"
