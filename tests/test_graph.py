"""Concept graph: node/edge kinds, repeatable communities, exports and query helpers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import networkx as nx
import pytest
from conftest import shared_path
from textdata import LJ, choi_text, make_chunks

from pipeline_kit.stages._graph import build_graph
from pipeline_kit.stages._graph_query import (
    UnknownConceptError,
    concept_neighbourhood,
    concept_path,
    from_graphml,
    from_node_link_json,
    graph_frames,
    to_gexf,
    to_graphml,
    to_node_link_json,
    top_concepts,
)
from pipeline_kit.stages._types import Chapter, Chunk


@pytest.fixture(scope="module")
def lj_chunks() -> list[Chunk]:
    return make_chunks(shared_path(LJ).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def lj_graph(lj_chunks):
    return build_graph(lj_chunks)


def test_node_and_edge_kinds(lj_graph, lj_chunks):
    G = lj_graph
    kinds = Counter(k for _, k in G.nodes(data="kind"))
    assert kinds["chunk"] == len(lj_chunks) and kinds["concept"] > 10
    edge_kinds = Counter(k for _, _, k in G.edges(data="kind"))
    assert {"mention", "next", "cooccurrence"} <= set(edge_kinds)
    assert edge_kinds["next"] == len(lj_chunks) - 1
    for u, v, d in G.edges(data=True):
        if d["kind"] == "next":
            order = [c.chunk_id for c in lj_chunks]
            assert order.index(d["to_chunk"]) == order.index(d["from_chunk"]) + 1
        if d["kind"] == "mention":
            assert {G.nodes[u]["kind"], G.nodes[v]["kind"]} == {"chunk", "concept"}
            assert d["count"] >= 1 and d["weight"] > 0
    for n, d in G.nodes(data=True):
        assert isinstance(d["community"], int) and d["pagerank"] >= 0
        if d["kind"] == "concept":
            assert n == "concept:" + d["key"] and d["document_frequency"] >= 1
    labels = {d["label"].lower() for _, d in G.nodes(data=True) if d["kind"] == "concept"}
    assert {"printing", "movable types"} <= labels
    assert not labels & {"had", "the", "which", "were", "fourteen"}


def test_similar_edges_with_embeddings(lj_chunks):
    G = build_graph(lj_chunks, use_embeddings=True, embedder="tfidf",
                    similarity_threshold=0.0, k_similar=2)
    kinds = {k for _, _, k in G.edges(data="kinds")}
    assert any("similar" in k for k in kinds)
    assert G.graph["embedder"] != "tfidf"


def test_louvain_repeats_with_seed(lj_chunks):
    a = build_graph(lj_chunks, seed=7)
    b = build_graph(lj_chunks, seed=7)
    assert dict(a.nodes(data="community")) == dict(b.nodes(data="community"))
    assert nx.utils.graphs_equal(a, b)


def test_chapters_and_top_concepts(lj_chunks):
    half = len(lj_chunks) // 2
    chapters = [
        Chapter(0, "a", "", lj_chunks[0].start_time, lj_chunks[half].start_time, 0, 1,
                tuple(c.chunk_id for c in lj_chunks[:half])),
        Chapter(1, "b", "", lj_chunks[half].start_time, lj_chunks[-1].end_time, 1, 2,
                tuple(c.chunk_id for c in lj_chunks[half:])),
    ]
    G = build_graph(lj_chunks, chapters=chapters)
    assert G.nodes[lj_chunks[0].chunk_id]["chapter"] == 0
    assert G.nodes[lj_chunks[-1].chunk_id]["chapter"] == 1
    assert len(top_concepts(G, n=5)) == 5
    first = [label for label, _ in top_concepts(G, chapter=0, n=5)]
    second = [label for label, _ in top_concepts(G, chapter=1, n=5)]
    assert first != second
    with pytest.raises(ValueError, match="chapter 9"):
        top_concepts(G, chapter=9)


def test_exports_round_trip(lj_graph, tmp_path: Path):
    G = lj_graph
    H = from_graphml(to_graphml(G, tmp_path / "g.graphml"))
    assert set(H.nodes) == set(G.nodes) and H.number_of_edges() == G.number_of_edges()
    cid = next(n for n, k in G.nodes(data="kind") if k == "chunk")
    assert H.nodes[cid] == G.nodes[cid]
    J = from_node_link_json(to_node_link_json(G, tmp_path / "g.json"))
    assert nx.utils.graphs_equal(J, G)
    assert nx.utils.graphs_equal(from_node_link_json(tmp_path / "g.json"), G)
    assert to_gexf(G, tmp_path / "g.gexf").stat().st_size > 0
    bad = G.copy()
    bad.nodes[cid]["tags"] = ["x"]
    with pytest.raises(TypeError, match="tags"):
        to_graphml(bad, tmp_path / "bad.graphml")


def test_query_helpers(lj_graph):
    G = lj_graph
    sub = concept_neighbourhood(G, "printing")
    assert "concept:printing" in sub and sub.number_of_nodes() > 1
    assert set(concept_neighbourhood(G, "concept:printing", radius=0)) == {"concept:printing"}
    path = concept_path(G, "Printing", "movable types")
    assert path[0] == "concept:printing" and path[-1] == "concept:movable type"
    only = concept_path(G, "printing", "movable types", concepts_only=True)
    assert all(G.nodes[n]["kind"] == "concept" for n in only)
    with pytest.raises(UnknownConceptError, match="zeppelin") as e:
        concept_path(G, "printing", "zeppelin")
    assert "printing" not in str(e.value).replace("'zeppelin'", "")
    with pytest.raises(KeyError, match="printin"):
        concept_neighbourhood(G, "printin")
    nodes, edges = graph_frames(G)
    assert len(nodes) == G.number_of_nodes() and len(edges) == G.number_of_edges()
    assert {"source", "target", "kind", "weight"} <= set(edges.columns)


def test_betweenness_sampled_on_large_graph():
    chunks = make_chunks(choi_text(5), size=120, overlap=20)
    G = build_graph(chunks, top_concepts=60, betweenness_exact_max=100, betweenness_k=50)
    assert G.number_of_nodes() > 100
    assert G.graph["betweenness_sampled"] is True and G.graph["betweenness_k"] == 50
    assert any(d["betweenness"] > 0 for _, d in G.nodes(data=True))
    small = build_graph(chunks[:5])
    assert small.graph["betweenness_sampled"] is False


def test_validation_and_empty():
    with pytest.raises(ValueError, match="top_concepts"):
        build_graph([], top_concepts=0)
    G = build_graph([])
    assert G.number_of_nodes() == 0


def _short_middle_topic() -> tuple[list[Chunk], list[Chapter]]:
    """Choi document 1 with its second segment cut to two sentences: three chapters, the
    middle one short (another topic), chunked inside each chapter."""
    from pipeline_kit.stages._chunking import build_chunks
    from pipeline_kit.stages._types import Transcript

    doc = shared_path("textseg/choi_dev/3-11/1.ref").read_text(encoding="utf-8")
    segs = [[line.strip() for line in s.splitlines() if line.strip()]
            for s in doc.split("==========") if s.strip()]
    texts = [" ".join(s) for s in (segs[0], segs[1][:2], segs[2])]
    bounds = [0]
    for t in texts:
        bounds.append(bounds[-1] + len(t.split()))
    cuts = sorted({*range(40, bounds[-1], 40), *bounds[1:]})
    chunks = build_chunks(Transcript.from_text(" ".join(texts)), cuts, 0, with_temporal=False)
    chapters = [Chapter(i, f"part {i}", "", 0.0, 0.0, 0, 0, tuple(
        c.chunk_id for c in chunks if bounds[i] <= c.start_word_index < bounds[i + 1]))
        for i in range(3)]
    return chunks, chapters


def test_every_chapter_contributes_concepts_even_a_short_one():
    chunks, chapters = _short_middle_topic()
    G = build_graph(chunks, chapters=chapters, top_concepts=5)
    covered = {int(ch) for _, d in G.nodes(data=True) if d["kind"] == "concept"
               for ch in d["chapters"].split(",") if ch}
    assert covered == {0, 1, 2}


def test_near_duplicate_concepts_are_one_node(lj_chunks):
    G = build_graph(lj_chunks, top_concepts=40)
    labels = {d["label"]: d for _, d in G.nodes(data=True) if d["kind"] == "concept"}
    merged = {m for d in labels.values() for m in d["merged"].split("|") if m}
    bible = labels["Gutenberg Bible"]
    assert "Bible" in bible["merged"].split("|")
    # "the aforesaid Gutenberg Bible" is read as the same mention, without "aforesaid"
    assert "aforesaid Gutenberg Bible" not in labels and "aforesaid" not in bible["variants"]
    assert not merged & set(labels)  # a merged-away label is no node of its own
    assert "Middle Ages" in labels and "Ages" not in labels


def test_entities_keep_their_type_and_common_nouns_have_none(lj_graph):
    kinds = {d["label"]: d["entity_type"] for _, d in lj_graph.nodes(data=True)
             if d["kind"] == "concept"}
    assert kinds["Peter Schoeffer"] == "PERSON" and kinds["Italy"] == "GPE"
    assert kinds["printing"] == "" and kinds["movable types"] == ""
