"""Listen tables, the explore widget, the graph view and compare_runs on real runs.

Two pipeline runs of 3.7 min of real speech (LJSpeech essay on printing) that differ
only in chunk size; the widgets are built in this process (no browser: the browser
side is tests/test_browser.py) and checked against the runs' own records.
"""

from __future__ import annotations

import dataclasses
import io
import math
import re

import pytest
from conftest import LJ_LONG

import pipeline_kit as pk
from pipeline_kit.notebook._graph_view import (
    GraphView,
    chapter_color,
    communities_of,
    community_color,
    concept_chunks,
    filter_graph,
    search_concepts,
)
from pipeline_kit.notebook._listen import format_time, table_html, text_frame

pytestmark = pytest.mark.slow
LJ = LJ_LONG  # the recording conftest.lj_transcription has transcribed


@pytest.fixture(scope="module")
def runs(tmp_path_factory, lj_transcription):
    from conftest import seed_transcription, shared_path

    audio = shared_path(LJ)
    home = tmp_path_factory.mktemp("home")
    seed_transcription(lj_transcription, home)  # transcribed once per session
    a, b = (pk.run_pipeline(audio, home=home, out_dir=home / f"run_{n}", chunk_size=size,
                            overlap=10, chunking_method="tfidf")
            for n, size in (("a", 40), ("b", 80)))
    assert len(a.chapters) > 1, "the fixture needs a run with several chapters"
    return a, b


def _play_ranges(markup: str) -> list[tuple[float, float]]:
    return [(float(s), float(e)) for s, e in
            re.findall(r'class="pk-play" data-s="([\d.]+)" data-e="([\d.]+)"', markup)]


def test_format_time_is_minutes_and_seconds():
    assert [format_time(s) for s in (0, 56.51, 59.99, 61, 600, 3725.2)] == [
        "0:00", "0:56", "0:59", "1:01", "10:00", "1:02:05"]
    assert format_time(None) == "" and format_time(math.nan) == ""


def test_table_has_one_play_control_per_row_at_the_rows_times(runs):
    a, _ = runs
    view = pk.table(a.chunks, a, columns=["chunk_id", "text"])
    assert _play_ranges(view.html) == [(round(c.start_time, 3), round(c.end_time, 3))
                                       for c in a.chunks]
    text = view.text()
    assert list(text["start_time"]) == [format_time(c.start_time) for c in a.chunks]
    assert all(re.fullmatch(r"\d+:\d\d", t) for t in text["end_time"])


def test_table_refuses_bad_input_before_decoding(runs, tmp_path):
    a, _ = runs
    with pytest.raises(ValueError, match="nope"):
        pk.table(a.chunks, a, columns=["nope"])
    with pytest.raises(ValueError, match="no start/end time columns"):
        pk.table([{"text": "x"}], a)
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        pk.table(a.chunks, tmp_path / "missing.wav")
    with pytest.raises(ValueError, match="start < end"):
        pk.play(a, 5.0, 5.0)


def test_audio_element_holds_the_whole_recording(runs):
    import soundfile as sf

    a, _ = runs
    widget = pk.play(a, 1.0, 2.0).widget()
    audio = widget.children[0]
    assert audio.format == "ogg" and "pk-listen" in widget._dom_classes
    data, rate = sf.read(io.BytesIO(audio.value))
    assert abs(len(data) / rate - a.transcript.audio_duration_seconds) < 0.1


def test_explore_shows_each_chapter_with_its_chunks_and_questions(runs):
    a, _ = runs
    w = pk.explore(a).widget()
    chooser = next(x for x in _walk(w) if "pk-chapter-list" in x._dom_classes)
    pane = next(x for x in _walk(w) if "pk-chapter-pane" in x._dom_classes)
    assert [v for _, v in chooser.options] == [c.chapter_index for c in a.chapters]
    for ch in a.chapters:
        chooser.value = ch.chapter_index
        ranges = _play_ranges(pane.value)
        assert ranges[0] == (round(ch.start_time, 3), round(ch.end_time, 3))  # the chapter's ▶
        assert ch.title.replace("'", "&#x27;") in pane.value
        ids = set(re.findall(r"chunk-\d{4}", pane.value))
        assert set(ch.chunk_ids) <= ids
        asked = [q for q in a.questions if q.chunk_id in ch.chunk_ids]
        assert f"questions ({len(asked)})" in pane.value
    # the graph below follows the chosen chapter
    graph_dd = next(x for x in _walk(w) if getattr(x, "description", "") == "chapter")
    assert graph_dd.value == a.chapters[-1].chapter_index


def _walk(w):
    yield w
    for c in getattr(w, "children", ()):
        yield from _walk(c)


def test_graph_filters_cut_the_graph(runs):
    a, _ = runs
    G = a.graph
    for k in communities_of(G):
        H = filter_graph(G, community=k)
        assert {d["community"] for _, d in H.nodes(data=True)} == {k}  # chunks of others dropped
    ch = a.chapters[1].chapter_index
    H = filter_graph(G, chapter=ch)
    chunks = {n for n, d in H.nodes(data=True) if d["kind"] == "chunk"}
    assert chunks == set(a.chapters[1].chunk_ids)
    concepts = {n for n, d in H.nodes(data=True) if d["kind"] == "concept"}
    assert concepts == {u for c in chunks for u in G[c] if G.nodes[u]["kind"] == "concept"}


def test_colours_are_fixed_per_community_and_chapter():
    assert community_color(3) == community_color(3) != community_color(4)
    assert chapter_color(0) not in {community_color(k) for k in range(16)}


def test_search_matches_prefixes_and_suggests_only_close_words(runs):
    a, _ = runs
    G = a.graph
    everything, close = search_concepts(G, "")
    assert len(everything) == sum(1 for _, k in G.nodes(data="kind") if k == "concept")
    label = str(G.nodes[everything[0]]["label"])
    hits, _ = search_concepts(G, label[:4].upper())
    assert everything[0] in hits
    hits, close = search_concepts(G, "gutenberg")
    assert "tender" not in close
    long = next(str(G.nodes[n]["label"]) for n in everything if len(G.nodes[n]["label"]) >= 6)
    typo = long[:-1] + ("q" if long[-1] != "q" else "x")  # one letter off: suggested
    hits, close = search_concepts(G, typo)
    assert long.lower() in close or any(long.lower() in str(G.nodes[n]["label"]).lower()
                                        for n in hits)


def test_clicking_a_concept_lists_its_chunks_with_times(runs):
    a, _ = runs
    G = a.graph
    view = GraphView(G, a, a.chapters)
    assert view.canvas.children, "the graph is drawn before any interaction"
    concept = max((n for n, k in G.nodes(data="kind") if k == "concept"), key=G.degree)
    view.on_select({"new": concept})
    want = concept_chunks(G, concept)
    assert sorted(set(want["chunk_id"])) == sorted(
        u for u in G[concept] if G.nodes[u]["kind"] == "chunk")
    assert _play_ranges(view.chunk_list.value) == [
        (round(s, 3), round(e, 3)) for s, e in zip(want["start_time"], want["end_time"],
                                                   strict=True)]
    view.top.value = view.top.max  # every concept, as before the top-concepts default
    view.community.value = communities_of(G)[-1]
    sigma = view.canvas.children[0]
    kept = {n["key"] for n in sigma.data["nodes"]}
    assert kept == set(filter_graph(G, community=communities_of(G)[-1]))


def _shown(view):
    return {n["key"]: n["attributes"] for n in view.canvas.children[0].data["nodes"]}


def test_graph_view_starts_with_the_top_concepts_all_labelled(runs):
    from pipeline_kit.notebook._graph_view import DEFAULT_TOP, top_concepts

    a, _ = runs
    G = a.graph
    n_concepts = sum(1 for _, k in G.nodes(data="kind") if k == "concept")
    assert n_concepts > DEFAULT_TOP, "the fixture needs a graph with many concepts"
    view = GraphView(G, a, a.chapters)
    shown = _shown(view)
    concepts = {n for n, d in shown.items() if d["kind"] == "concept"}
    assert concepts == set(top_concepts(G, DEFAULT_TOP))  # not the whole hairball
    chunks = {n for n, d in shown.items() if d["kind"] == "chunk"}
    assert chunks and all(any(u in concepts for u in G[c]) for c in chunks)
    assert all(d["label"] for d in shown.values())  # every shown node has a label
    settings = view.canvas.children[0].renderer_settings  # sigma draws every label:
    assert settings["labelRenderedSizeThreshold"] == 0 and settings["labelDensity"] >= 1000
    view.top.value = view.top.max  # the slider shows more
    assert sum(d["kind"] == "concept" for d in _shown(view).values()) == n_concepts


def test_graph_search_marks_its_matches(runs):
    a, _ = runs
    G = a.graph
    view = GraphView(G, a, a.chapters)
    label = str(G.nodes[max((n for n, k in G.nodes(data="kind") if k == "concept"),
                            key=G.degree)]["label"])
    view.search.value = label
    hits, _ = search_concepts(G, label)
    shown = _shown(view)
    assert {n for n, d in shown.items() if d["halo"] > 0} == set(hits)
    assert view.canvas.children[0].data["nodes"]  # matches and their neighbours are drawn


def test_chapter_colours_stay_far_from_community_colours():
    from pipeline_kit.notebook._graph_view import CHAPTER_COLORS, COMMUNITY_COLORS, legend_html

    def rgb(h):
        return [int(h[i:i + 2], 16) for i in (1, 3, 5)]

    def dist(p, q):
        return sum((x - y) ** 2 for x, y in zip(rgb(p), rgb(q), strict=True)) ** 0.5

    assert min(dist(c, k) for c in CHAPTER_COLORS for k in COMMUNITY_COLORS) >= 80
    import networkx as nx

    G = nx.Graph()
    G.add_node("c", kind="concept", community=0)
    G.add_node("k", kind="chunk", chapter=0)
    legend = legend_html(G)
    assert legend.count("border-radius:50%") == 1 and legend.count("border-radius:0") == 1


def test_compare_runs_lines_up_two_chunk_sizes(runs):
    a, b = runs
    cmp = pk.compare_runs(a, b)
    assert cmp.params.set_index("parameter").loc["chunk_size"].tolist() == [40, 80]
    for run, r in (("a", a), ("b", b)):
        part = cmp.boundaries[cmp.boundaries["run"] == run]
        assert part["start_time"].tolist() == [c.start_time for c in r.chunks]
        assert (cmp.chapters["run"] == run).sum() == len(r.chapters)
    only_a = set(cmp.questions.loc[cmp.questions["run"] == "a", "text"])
    texts_b = {" ".join(q.text.lower().split()) for q in b.questions}
    assert only_a == {q.text for q in a.questions if " ".join(q.text.lower().split())
                      not in texts_b}
    assert cmp.transcript.empty  # same model: same words
    assert "chunk_size 40 → 80" in cmp.summary()
    assert len(text_frame(cmp.boundaries)) == len(a.chunks) + len(b.chunks)
    assert table_html(cmp.boundaries).count("pk-play") == len(cmp.boundaries)


def test_compare_runs_finds_a_changed_word(runs):
    a, b = runs
    words = list(b.transcript.words)
    i = len(words) // 2
    words[i] = dataclasses.replace(words[i], text="zeppelin")
    changed = dataclasses.replace(b, values={**b.values, "transcription": dataclasses.replace(
        b.transcript, words=tuple(words))})
    diff = pk.compare_runs(a, changed).transcript
    assert diff[["op", "b"]].values.tolist() == [["replace", "zeppelin"]]
    assert diff["start_time"].iloc[0] == a.transcript.words[i].start


def test_compare_runs_refuses_runs_of_different_recordings(runs, tmp_path):
    a, b = runs
    other = dataclasses.replace(b, run_record={**b.run_record,
                                               "inputs": [{"path": "x", "sha256": "0" * 64}]})
    with pytest.raises(ValueError, match="different recordings"):
        pk.compare_runs(a, other)


def test_explore_a_reloaded_run_shows_the_same_chapters(runs):
    """pk.load_run gives back the run: its explore panes are the original's, byte for byte."""
    a, _ = runs
    panes = []
    for result in (a, pk.load_run(a.out_dir)):
        w = pk.explore(result).widget()
        chooser = next(x for x in _walk(w) if "pk-chapter-list" in x._dom_classes)
        pane = next(x for x in _walk(w) if "pk-chapter-pane" in x._dom_classes)
        seen = []
        for ch in result.chapters:
            chooser.value = ch.chapter_index
            seen.append(pane.value)
        panes.append(seen)
    assert panes[0] == panes[1] and len(panes[0]) == len(a.chapters)


def test_explore_shows_speakers_once_the_words_have_them(runs):
    """Before diarization nothing about speakers shows; with speaker labels on the words
    and talk times on chapters/chunks, the chapter pane names them."""
    a, _ = runs
    plain = {**a.values,  # the run as it was before diarization: no speaker anywhere
             "transcription": dataclasses.replace(a.transcript, words=tuple(
                 dataclasses.replace(w, speaker=None) for w in a.transcript.words)),
             "chapters": [dataclasses.replace(c, speakers={}) for c in a.chapters],
             "chunking": [dataclasses.replace(c, speakers={}) for c in a.chunks]}
    plain.pop("diarization", None)
    w0 = pk.explore(dataclasses.replace(a, values=plain)).widget()
    pane = next(x for x in _walk(w0) if "pk-chapter-pane" in x._dom_classes)
    assert "speakers" not in pane.value and "SPEAKER_" not in pane.value
    words = tuple(dataclasses.replace(w, speaker=f"SPEAKER_{1 + (i // 50) % 2}")
                  for i, w in enumerate(a.transcript.words))
    ch0 = dataclasses.replace(a.chapters[0], speakers={"SPEAKER_1": 30.0, "SPEAKER_2": 12.5})
    chunks = [dataclasses.replace(c, speakers={"SPEAKER_1": 5.0}) for c in a.chunks]
    values = {**a.values, "transcription": dataclasses.replace(a.transcript, words=words),
              "chapters": [ch0, *a.chapters[1:]], "chunking": chunks}
    w = pk.explore(dataclasses.replace(a, values=values)).widget()
    pane = next(x for x in _walk(w) if "pk-chapter-pane" in x._dom_classes)
    assert "<b>speakers</b>: SPEAKER_1 0:30, SPEAKER_2 0:12" in pane.value
    assert "<b>SPEAKER_1:</b>" in pane.value and "<th>speakers</th>" in pane.value
