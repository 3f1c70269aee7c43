"""REFI-QDA export of a coded collection of real runs: the project.qde validates against
the REFI-QDA schema, and its codes and codings read back as they were written."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import xmlschema

import pipeline_kit as pk
from pipeline_kit.collection._qdpx import NS, read_qdpx, transcript_text

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
XSD = Path(__file__).parent / "data" / "refi-qda" / "Project-mrt2019.xsd"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    """The REFI-QDA project schema, read by xmlschema (make test installs it)."""
    return xmlschema.XMLSchema(str(XSD))


def _errors(schema: xmlschema.XMLSchema, root: ET.Element) -> list[str]:
    return [str(e.reason or e) for e in schema.iter_errors(ET.tostring(root, encoding="unicode"))]
RECORDINGS = (SAMPLE / "austen_sample.wav",
              SAMPLE / "sense_and_sensibility_01_austen_64kb-0870.wav")


@pytest.fixture(scope="module")
def coll(tmp_path_factory) -> pk.Collection:
    """Two runs of the sample, indexed, with two codes and three codings."""
    home = tmp_path_factory.mktemp("qdpx-home")
    for audio in RECORDINGS:
        pk.run_pipeline(audio, pk.stage_names(), home=home, out_dir=home / "out" / audio.stem,
                        chunk_size=30, overlap=5)
    coll = pk.Collection(home)
    coll.code("money", color="#E15759", description="what is owed & given <in full>")
    coll.code("family")
    coll.tag(coll.search("prudently in his power", k=1, mode="keyword").iloc[0], "money",
             note="the brother's duty")
    coll.tag((RECORDINGS[0].name, 15.0, 18.0), "family")
    coll.tag((RECORDINGS[1].name, 1.0, 3.0), "family")
    return coll


@pytest.fixture(scope="module")
def qdpx(coll, tmp_path_factory) -> Path:
    return coll.export_qdpx(tmp_path_factory.mktemp("qdpx") / "project.qdpx")


def _qde(path: Path) -> ET.Element:
    with zipfile.ZipFile(path) as z:
        return ET.fromstring(z.read("project.qde"))


def test_project_validates_against_the_refi_qda_schema(qdpx, schema):
    with zipfile.ZipFile(qdpx) as z:
        schema.validate(z.read("project.qde").decode())


def test_the_schema_check_finds_real_mistakes(qdpx, schema):
    """The check must fail on a project that breaks the schema, or it proves nothing."""
    root = _qde(qdpx)
    transcript = next(root.iter(f"{{{NS}}}Transcript"))
    sync = transcript.find(f"{{{NS}}}SyncPoint")
    transcript.remove(sync)
    transcript.append(sync)  # a SyncPoint after the selections: out of sequence
    assert any("SyncPoint" in e for e in _errors(schema, root)), _errors(schema, root)
    root = _qde(qdpx)
    code = next(root.iter(f"{{{NS}}}Code"))
    del code.attrib["isCodable"]
    code.set("color", "red")
    errors = _errors(schema, root)
    assert any("isCodable" in e for e in errors), errors
    assert any("color" in e or "red" in e for e in errors), errors


def test_zip_holds_the_project_and_its_sources(qdpx, coll):
    root = _qde(qdpx)
    with zipfile.ZipFile(qdpx) as z:
        names = set(z.namelist())
        sources = root.findall(f"{{{NS}}}Sources/{{{NS}}}AudioSource")
        assert sorted(s.get("name") for s in sources) == sorted(p.name for p in RECORDINGS)
        for s in sources:
            audio = "Sources/" + s.get("path").removeprefix("internal://")
            original = next(p for p in RECORDINGS if p.name == s.get("name"))
            assert z.read(audio) == original.read_bytes()
            (tr,) = s.findall(f"{{{NS}}}Transcript")
            assert "Sources/" + tr.get("plainTextPath").removeprefix("internal://") in names
            assert tr.findall(f"{{{NS}}}SyncPoint")
    cases = root.findall(f"{{{NS}}}Cases/{{{NS}}}Case")
    speakers = coll.query("SELECT DISTINCT recording_id, speaker FROM words "
                          "WHERE speaker IS NOT NULL")
    assert len(cases) == len(speakers) >= 2  # one case per speaker of each recording
    refs = {r.get("targetGUID") for c in cases for r in c.findall(f"{{{NS}}}SelectionRef")}
    assert len(refs) == len(coll.codings())


def test_codings_round_trip(qdpx, coll):
    back = read_qdpx(qdpx)
    codes = coll.codes()
    assert back["codes"][["name", "color", "description"]].fillna("").values.tolist() == \
        codes[["name", "color", "description"]].fillna("").values.tolist()
    mine = coll.codings().sort_values(["recording", "start_time"]).reset_index(drop=True)
    got = back["codings"].sort_values(["source", "start_time"]).reset_index(drop=True)
    assert got["code"].tolist() == mine["code"].tolist()
    assert got["source"].tolist() == mine["recording"].tolist()
    assert got["text"].tolist() == mine["text"].tolist()  # the words, by character position
    assert got["start_time"].tolist() == [round(t * 1000) / 1000 for t in mine["start_time"]]
    assert got["end_time"].tolist() == [round(t * 1000) / 1000 for t in mine["end_time"]]
    assert got["note"].fillna("").tolist() == mine["note"].fillna("").tolist()
    # exporting again gives the same GUIDs: a tool importing twice sees the same objects
    again = coll.export_qdpx(qdpx.with_name("again.qdpx"))
    assert read_qdpx(again)["codings"]["selection"].tolist() == \
        back["codings"]["selection"].tolist()


def test_transcript_layout_and_bad_requests(coll, tmp_path):
    import pandas as pd

    words = pd.DataFrame({"text": ["Hello", "there.", "Hi", "back."],
                          "speaker": ["A", "A", "B", None]})
    layout = transcript_text(words)
    assert layout.text == "A: Hello there.\nB: Hi\nback.\n"
    assert [layout.text[a:b] for a, b in zip(layout.word_start, layout.word_end,
                                             strict=True)] == list(words["text"])
    with pytest.raises(ValueError, match=r"\.qdpx"):
        coll.export_qdpx(tmp_path / "project.zip")
    assert not list(tmp_path.iterdir())


def test_a_coding_whose_run_left_the_index_is_not_dropped_silently(coll, tmp_path):
    """A run removed from the index (its home's run deleted, then a rebuild) leaves its
    codings without words: the export refuses, naming one, instead of leaving them out."""
    import shutil

    index = tmp_path / "index"
    shutil.copytree(coll.index_dir, index)
    copy = pk.Collection(coll.homes, index_dir=index, update=False)
    run_id = copy.codings()["run_id"].iloc[0]
    with copy._db() as con:
        con.execute("DELETE FROM runs WHERE run_id = ?", [run_id])
    with pytest.raises(ValueError, match=f"runs no longer indexed.*run {run_id}"):
        copy.export_qdpx(tmp_path / "p.qdpx")
    assert not (tmp_path / "p.qdpx").exists()
