"""Relative time expressions on coll.timeline(): resolved against the preceding absolute
marker of the same run or the recording's date, vague ones left alone. Texts written
here go through the temporal marker finder and a real collection index."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline_kit.collection._collection import Collection
from pipeline_kit.collection._ingest import tables_from_texts

HISTORY = [
    "Gutenberg printed his Bible in 1455 in Mainz.",
    "Ten years later the press had reached Italy. The following decade saw presses in "
    "every large town.",
    "Two centuries earlier no one in Europe printed with movable type. A few years later "
    "it spread to Paris.",
    "In the 1980s desktop publishing arrived. Five years later every office had a laser "
    "printer.",
]
INTERVIEW = [
    "Ten years later, she said, the shop closed.",  # no absolute marker before it
    "Last year I visited Mainz, and next week I go again. Three years ago we met there.",
    "Yesterday it rained. Within ten years everything changed. Two centuries ago the "
    "town was a field.",
]
RECORDED = "2026-03-18T10:00:00+00:00"  # a Wednesday


@pytest.fixture(scope="module")
def timeline(tmp_path_factory) -> dict[str, dict[str, tuple]]:
    tmp = tmp_path_factory.mktemp("coll-time")
    (tmp / "home" / "artifacts").mkdir(parents=True)
    coll = Collection(tmp / "home", index_dir=tmp / "idx", update=False)
    coll.add_runs([
        tables_from_texts("history", "history.wav", HISTORY, started_at="2026-01-05T09:00:00",
                          markers=True),
        tables_from_texts("interview", "interview.wav", INTERVIEW, started_at=RECORDED,
                          markers=True),
    ])
    tl = coll.timeline()
    return {rec: {r.text: (r.year, r.span_years, None if pd.isna(r.anchor) else r.anchor, r.kind)
                  for r in tl[tl["recording"] == rec].itertuples()}
            for rec in ("history.wav", "interview.wav")}


def _resolved(entry: tuple) -> tuple:
    year, span, anchor, _ = entry
    return round(year, 4), round(span, 4), anchor


def test_anaphoric_markers_count_from_the_preceding_absolute_marker(timeline):
    h = timeline["history.wav"]
    assert h["1455"][:3] == (1455.0, 1.0, None)  # absolute: no anchor
    assert _resolved(h["Ten years later"]) == (1465.0, 1.0, "1455")
    assert _resolved(h["The following decade"]) == (1465.0, 10.0, "1455")
    assert _resolved(h["Two centuries earlier"]) == (1255.0, 100.0, "1455")
    # the anchor moves on with the narrative: the 1980s, not 1455
    assert _resolved(h["Five years later"]) == (1985.0, 1.0, "the 1980s")


def test_deictic_markers_count_from_the_recording_date(timeline):
    i = timeline["interview.wav"]
    on = "recording date 2026-03-18"
    assert _resolved(i["Last year"]) == (2025.0, 1.0, on)
    assert _resolved(i["Three years ago"]) == (2023.0, 1.0, on)
    assert _resolved(i["Two centuries ago"]) == (1800.0, 100.0, on)
    year, span, anchor = _resolved(i["next week"])  # 25 March 2026
    assert anchor == on and year == round(2026 + 2 / 12 + 24 / 365, 4)
    year, _, anchor = _resolved(i["Yesterday"])  # 17 March 2026
    assert anchor == on and year == round(2026 + 2 / 12 + 16 / 365, 4)


def test_vague_or_unanchored_markers_stay_unresolved(timeline):
    h, i = timeline["history.wav"], timeline["interview.wav"]
    for entry in (h["A few years later"], i["Within ten years"],
                  i["Ten years later"]):  # the history's 1455 is another recording
        year, _, anchor, kind = entry
        assert kind == "relative" and pd.isna(year) and anchor is None


def test_an_index_without_anchors_is_rebuilt(tmp_path):
    """An index of the previous format (no anchor column) is rebuilt when opened."""
    import duckdb

    (tmp_path / "home" / "artifacts").mkdir(parents=True)
    idx = tmp_path / "idx"
    coll = Collection(tmp_path / "home", index_dir=idx, update=False)
    coll.add_runs([tables_from_texts("h", "h.wav", HISTORY, markers=True)])
    con = duckdb.connect(str(Path(idx) / "index.duckdb"))
    con.execute("ALTER TABLE markers DROP COLUMN anchor")
    con.execute("UPDATE meta SET value = '3' WHERE key = 'format'")
    con.close()
    again = Collection(tmp_path / "home", index_dir=idx, update=False)
    assert again.query("SELECT value FROM meta WHERE key = 'format'")["value"][0] != "3"
    again.add_runs([tables_from_texts("h", "h.wav", HISTORY, markers=True)])
    tl = again.timeline().set_index("text")
    assert tl.loc["Ten years later", "anchor"] == "1455"


PRINTING = ["In the middle of the 15th century Gutenberg printed in Mainz.",
            "He printed his Bible in 1462. For the next 15 or 20 years the craft spread, "
            "and 15 or 20 years later Venice was its centre.",
            "In the second half of the 19th century machines set the type; in the early "
            "1900s they were everywhere. The 17th century printed pamphlets."]


@pytest.fixture(scope="module")
def printing(tmp_path_factory) -> pd.DataFrame:
    tmp = tmp_path_factory.mktemp("coll-precision")
    (tmp / "home" / "artifacts").mkdir(parents=True)
    coll = Collection(tmp / "home", index_dir=tmp / "idx", update=False)
    coll.add_runs([tables_from_texts("p", "printing.wav", PRINTING, markers=True)])
    return coll.timeline().set_index("text")


def _bounds(tl: pd.DataFrame, text: str) -> tuple[float, float]:
    row = tl.loc[[t for t in tl.index if text in t][0]]
    return round(float(row["year_start"]), 1), round(float(row["year_end"]), 1)


def test_qualifiers_narrow_a_century_or_decade(printing):
    assert _bounds(printing, "15th century") == (1425.0, 1475.0)
    assert _bounds(printing, "19th century") == (1850.0, 1900.0)
    assert _bounds(printing, "1900s") == (1900.0, 1903.3)
    assert _bounds(printing, "17th century") == (1600.0, 1700.0)  # no qualifier: whole


def test_a_range_of_years_resolves_from_its_anchor(printing):
    assert _bounds(printing, "the next 15 or 20 years") == (1462.0, 1482.0)
    assert _bounds(printing, "15 or 20 years later") == (1477.0, 1483.0)  # 1477 to 1482
    assert printing.loc["the next 15 or 20 years", "anchor"] == "1462"


def _two_runs_of_one_recording(tmp: Path) -> Collection:
    """'history.wav' indexed twice (chunked two ways: whole texts, then sentence pairs)
    and 'interview.wav' once."""
    (tmp / "home" / "artifacts").mkdir(parents=True)
    coll = Collection(tmp / "home", index_dir=tmp / "idx", update=False)
    halves = [s for t in HISTORY for s in t.split(". ")]
    coll.add_runs([tables_from_texts("h1", "history.wav", HISTORY, markers=True),
                   tables_from_texts("i1", "interview.wav", INTERVIEW, markers=True),
                   tables_from_texts("h2", "history.wav", halves, markers=True)])
    return coll


def test_every_view_reads_each_recordings_newest_run(tmp_path):
    coll = _two_runs_of_one_recording(tmp_path)
    tl = coll.timeline()
    assert set(tl["run_id"]) == {"h2", "i1"}
    assert not tl.duplicated(["recording", "word_index", "text"]).any()
    both = coll.timeline(runs="all")
    assert set(both["run_id"]) == {"h1", "h2", "i1"}
    history = both[both["recording"] == "history.wav"]
    assert len(history) == 2 * len(tl[tl["recording"] == "history.wav"])
    assert list(coll.timeline(runs=["h1"])["run_id"].unique()) == ["h1"]
    recs = coll.recordings().set_index("recording")
    assert recs.loc["history.wav", "runs"] == 2
    assert recs.loc["history.wav", "chunks"] == len([s for t in HISTORY for s in t.split(". ")])
    assert coll.recordings(runs="all").set_index("recording").loc["history.wav", "chunks"] \
        == len(HISTORY) + recs.loc["history.wav", "chunks"]
    hits = coll.search("Gutenberg Bible", mode="keyword", k=50)
    assert set(hits["run_id"]) == {"h2"}
    assert set(coll.search("Gutenberg Bible", mode="keyword", k=50, runs="all")["run_id"]) \
        == {"h1", "h2"}


def test_unknown_runs_are_refused_by_name(tmp_path):
    coll = _two_runs_of_one_recording(tmp_path)
    with pytest.raises(ValueError, match="'nope'"):
        coll.timeline(runs=["h1", "nope"])
    with pytest.raises(ValueError, match="runs must be"):
        coll.recordings(runs="newest")  # type: ignore[arg-type]
