"""pk.Collection on real runs: the bundled sample and the shared LJ recording, through the
whole pipeline once per module, then indexed, searched, filtered and re-indexed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import LJ_LONG, seed_transcription, shared_path

import pipeline_kit as pk
from pipeline_kit.collection._collection import Collection, _encode_query
from pipeline_kit.collection._ingest import tables_from_texts
from pipeline_kit.collection._search import Clusters, Searcher, highlight
from pipeline_kit.pipeline._chunk_vectors import (
    SentenceVectors,
    load_sentence_vectors,
    load_vectors,
)
from pipeline_kit.stages._concept_merge import merge_concepts
from pipeline_kit.stages._sentences import split_sentences

REPO = Path(__file__).resolve().parents[1]
AUSTEN = REPO / "data" / "sample" / "austen_sample.wav"
LJ = LJ_LONG  # the recording conftest.lj_transcription has transcribed
PARAMS = {"chunk_size": 60, "overlap": 10}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("coll-home")


@pytest.fixture(scope="module")
def results(home, lj_transcription) -> dict[str, pk.PipelineResult]:
    """The two recordings run through every stage (the pipeline indexes each as it ends);
    LJ's transcription comes from the session's cache."""
    lj = shared_path(LJ)
    seed_transcription(lj_transcription, home)
    return {p.name: pk.run_pipeline(p, pk.stage_names(), home=home, out_dir=home / "out" / p.stem,
                                    **PARAMS)
            for p in (AUSTEN, lj)}


@pytest.fixture(scope="module")
def coll(home, results) -> Collection:
    return Collection(home)


def _lj(results) -> pk.PipelineResult:
    return results[Path(LJ).name]


def test_pipeline_indexed_every_run_with_its_stored_vectors(home, results, coll):
    runs = coll.runs().set_index("run_id")
    assert set(runs.index) == {r.run_id for r in results.values()}
    for r in results.values():
        assert runs.loc[r.run_id, "n_chunks"] == len(r.chunks) > 1
        assert bool(runs.loc[r.run_id, "has_vectors"])
        words = coll.query("SELECT count(*) AS n FROM words WHERE run_id = ?", [r.run_id])
        assert words["n"][0] == len(r.transcript.words)
        # the words carry the run's speakers as the run shows them (the transcription
        # artifact itself is speaker-free)
        spoken = coll.query("SELECT speaker FROM words WHERE run_id = ? ORDER BY word_index",
                            [r.run_id])["speaker"].tolist()
        assert spoken == [w.speaker for w in r.transcript.words]
        assert r.transcript.words[0].speaker is not None
    # the index holds the vectors the chunking stage stored, row for row (not recomputed)
    lj = _lj(results)
    seq = int(runs.loc[lj.run_id, "seq"])
    indexed = np.load(coll.index_dir / f"run-{seq:07d}-{lj.run_id}.npy")
    stored = load_vectors(home, lj.chunks, pk.resolve_embedding_model(None).name)
    assert stored is not None and np.array_equal(indexed, stored)
    # and the sentence vectors with each chunk's span of them
    sentences = load_sentence_vectors(home, lj.chunks, pk.resolve_embedding_model(None).name)
    assert sentences is not None and len(sentences.spans) == len(lj.chunks)
    sidecar = coll.index_dir / f"run-{seq:07d}-{lj.run_id}"
    assert np.array_equal(np.load(f"{sidecar}.sent.npy"), sentences.vectors)
    assert np.array_equal(np.load(f"{sidecar}.span.npy"), sentences.spans)


def test_keyword_search_finds_the_chunk_and_its_time(results, coll):
    lj = _lj(results)
    expected = {c.chunk_id: c for c in lj.chunks if "gutenberg" in c.text.lower()}
    assert expected, "the LJ transcript names the Gutenberg Bible"
    hits = coll.search("Gutenberg", k=5, mode="keyword")
    top = hits.iloc[0]
    assert top["recording"] == Path(LJ).name and top["chunk_id"] in expected
    chunk = expected[top["chunk_id"]]
    assert (top["start_time"], top["end_time"]) == (chunk.start_time, chunk.end_time)
    assert "**Gutenberg" in top["snippet"]
    assert set(hits["chunk_id"]) <= set(expected)  # BM25: only chunks with the word


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_a_sentence_of_a_chunk_finds_that_chunk(results, coll, mode):
    lj = _lj(results)
    target = lj.chunks[len(lj.chunks) // 2]
    words = target.text.split()
    query = " ".join(words[len(words) // 3: len(words) // 3 + 15])
    hits = coll.search(query, k=3, mode=mode)
    top = hits.iloc[0]
    assert top["recording"] == Path(LJ).name
    hit = next(c for c in lj.chunks if c.chunk_id == top["chunk_id"])
    assert query in hit.text, (query, hit.text)


def test_semantic_search_scores_a_chunk_by_its_best_sentence(home, results, tmp_path):
    """A query that is one sentence of a chunk scores that chunk by that sentence (cosine
    about 1), not by the chunk's mean vector, which blurs it with the chunk's other
    sentences; a run indexed without sentence vectors falls back to the mean."""
    lj = _lj(results)
    embedder = pk.resolve_embedding_model(None).name
    vectors = load_vectors(home, lj.chunks, embedder)
    stored = load_sentence_vectors(home, lj.chunks, embedder)
    assert vectors is not None and stored is not None
    sentences = split_sentences(lj.transcript)
    assert len(sentences) == len(stored.vectors)  # one stored vector per sentence, in order
    i, (lo, hi) = next((i, s) for i, s in enumerate(stored.spans.tolist()) if s[1] - s[0] >= 3)
    query = sentences[lo + 1].text  # wholly inside chunk i
    texts = [c.text for c in lj.chunks]
    q = _encode_query(query)
    (tmp_path / "empty" / "artifacts").mkdir(parents=True)
    for with_sentences in (True, False):
        coll = Collection(tmp_path / "empty", index_dir=tmp_path / f"idx{with_sentences}",
                          update=False)
        coll.add_run(tables_from_texts("lj", "lj.wav", texts, vectors,
                                       sentences=stored if with_sentences else None))
        top = coll.search(query, k=3, mode="semantic").iloc[0]
        row = int(top["chunk_id"].split("-")[1])
        if with_sentences:
            assert query in texts[row]  # chunk i, or its neighbour sharing the sentence
            assert top["score"] == pytest.approx(1.0, abs=0.01)
            assert float(vectors[i] @ q) < top["score"] - 0.1
        else:
            assert top["score"] == pytest.approx(float(vectors[row] @ q), abs=1e-5)
            assert top["score"] < 0.95


def test_a_run_whose_vectors_do_not_match_its_chunks_is_refused_before_writing(
        home, results, coll, tmp_path):
    lj = _lj(results)
    embedder = pk.resolve_embedding_model(None).name
    vectors = load_vectors(home, lj.chunks, embedder)
    stored = load_sentence_vectors(home, lj.chunks, embedder)
    assert vectors is not None and stored is not None
    texts = [c.text for c in lj.chunks]
    fresh = Collection(coll.homes[0], index_dir=tmp_path / "idx", update=False)
    good = tables_from_texts("good", "good.wav", texts, vectors, sentences=stored)
    assert fresh.add_run(good)
    files = sorted(p.name for p in fresh.index_dir.iterdir())
    fewer = SentenceVectors(stored.vectors, stored.spans[:-1])
    for run, problem in (
            (tables_from_texts("a", "a.wav", texts, vectors[:-1]), "chunk vectors for"),
            (tables_from_texts("b", "b.wav", texts, vectors, sentences=fewer),
             "sentence spans for"),
            (tables_from_texts("c", "c.wav", texts, sentences=stored), "need chunk vectors")):
        with pytest.raises(ValueError, match=problem):
            fresh.add_runs([tables_from_texts("ok", "ok.wav", texts, vectors), run])
    assert fresh.runs()["run_id"].tolist() == ["good"]  # the valid run beside it not added
    assert sorted(p.name for p in fresh.index_dir.iterdir()) == files
    hits = fresh.search("the Gutenberg Bible", k=3, mode="semantic")  # it still searches
    assert hits["run_id"].tolist() == ["good"] * 3 and hits["score"].iloc[0] > 0.5


def test_snippet_windows_the_first_match_and_marks_every_match_in_it():
    text = shared_path(LJ.replace(".wav", ".ref.txt")).read_text()
    words = text.split()[:200]
    at = words.index("Gutenberg,")  # word 116: far past the first 40-word window
    snippet = highlight(" ".join(words), "Gutenberg Bible")
    shown = snippet.removeprefix("… ").removesuffix(" …").split()
    assert snippet.startswith("… ") and snippet.endswith(" …") and len(shown) == 40
    assert at > 40 and shown[40 // 3] == "**Gutenberg,**"  # a third of the window before it
    marked = [w for w in shown if w.startswith("**")]
    assert marked == ["**Gutenberg,**", '**Bible"**'], marked


def test_filters(results, coll):
    austen = AUSTEN.name
    hits = coll.search("printing letters", k=10, where={"recording": austen})
    assert len(hits) and set(hits["recording"]) == {austen}
    assert coll.search("printing", k=10, where={"date": ("2999-01-01", None)}).empty
    today = coll.runs()["date"].astype(str).iloc[0]
    assert len(coll.search("printing", k=10, where={"date": (today, today)}))
    lj = _lj(results)
    ch = lj.chapters[-1]
    in_chapter = coll.search("printing", k=10, where={"chapter": ch.chapter_index,
                                                      "recording": Path(LJ).name})
    assert len(in_chapter) and set(in_chapter["chapter_index"]) == {ch.chapter_index}
    late = coll.search("printing", k=10, mode="keyword", where="start_time > 100")
    assert len(late) and (late["start_time"] > 100).all()
    spoken = coll.search("printing", where={"speaker": "SPEAKER_1"})  # each run is diarized
    assert len(spoken) and set(spoken["speaker"]) == {"SPEAKER_1"}, spoken
    assert coll.search("printing", where={"speaker": "SPEAKER_9"}).empty
    with pytest.raises(ValueError, match="unknown filter"):
        coll.search("printing", where={"colour": "red"})
    with pytest.raises(ValueError, match="mode"):
        coll.search("printing", mode="fuzzy")


def test_timeline_entries_link_to_chunks_and_times(results, coll):
    tl = coll.timeline()
    lj = _lj(results)
    chunks = {c.chunk_id: c for c in lj.chunks}
    mine = tl[tl["run_id"] == lj.run_id]
    assert len(mine) >= 2
    for m in mine.itertuples():
        chunk = chunks[m.chunk_id]
        assert m.text in chunk.text
        assert (m.start_time, m.end_time) == (chunk.start_time, chunk.end_time)
    century = mine[mine["normalized"] == "15th century"]
    assert len(century)
    for m in century.itertuples():  # "the middle of the 15th century" is narrowed
        said = chunks[m.chunk_id].text[: chunks[m.chunk_id].text.find(m.text)].lower()
        middle = "middle of" in m.text.lower() or said.rstrip().endswith("middle of the")
        assert (m.year_start, m.year_end) == ((1425, 1475) if middle else (1400, 1500))
    fig = coll.plot_timeline(tl)
    assert len(fig.axes) == 2


def test_concepts_across_recordings(results, coll):
    table = coll.concepts()
    names = {Path(LJ).name, AUSTEN.name}
    assert len(table) and all(set(r) <= names for r in table["recordings"])
    assert {n for r in table["recordings"] for n in r} == names
    # "Middle Ages" and "Ages", if both appear, are one concept
    lj_labels = set(coll.query("SELECT label FROM concepts")["label"])
    for variants in table["variants"]:
        assert len(set(variants) & {"Middle Ages", "Ages"}) in (0, 2) or \
            not {"Middle Ages", "Ages"} <= lj_labels
    G = coll.graph()
    kinds = {d["kind"] for _, d in G.nodes(data=True)}
    assert kinds == {"concept", "recording"}


def test_merging_the_issue_examples_and_not_unrelated_ones():
    labels = ["Middle Ages", "Ages", "Gutenberg Bible", "aforesaid Gutenberg Bible", "Bible",
              "printing", "printing press", "Civil War", "World War", "War", "Italy",
              "printing in Italy", "printers", "Printer"]
    g = merge_concepts(labels)
    m = g.mapping()
    assert m["Ages"] == m["Middle Ages"] == "Middle Ages"
    assert m["Bible"] == m["aforesaid Gutenberg Bible"] == m["Gutenberg Bible"] == \
        "Gutenberg Bible"
    assert m["printers"] == m["Printer"]
    apart = [("Middle Ages", "Gutenberg Bible"), ("printing", "printing press"),
             ("Civil War", "World War"), ("War", "Civil War"), ("Italy", "printing in Italy")]
    for a, b in apart:
        assert m[a] != m[b], (a, b)


def test_cli_and_api_search(home, results, coll, tmp_path):
    from api_server import start_server

    batch = tmp_path / "batch"  # a batch output keeps its runs' home in <out>/home
    shutil.copytree(home, batch / "home")
    out = subprocess.run([sys.executable, "-m", "pipeline_kit.faces.cli", "search", str(batch),
                          "Gutenberg", "-k", "3", "--json", "--mode", "keyword"],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    expected = coll.search("Gutenberg", k=3, mode="keyword")
    assert [r["chunk_id"] for r in rows] == list(expected["chunk_id"])
    srv = start_server(home)
    try:
        with srv.client() as api:
            r = api.get("/search", params={"q": "Gutenberg", "k": 3, "mode": "keyword"})
            assert r.status_code == 200, r.text
            assert [h["chunk_id"] for h in r.json()["hits"]] == list(expected["chunk_id"])
            assert api.get("/search", params={"q": ""}).status_code == 422
    finally:
        srv.stop()


def test_indexing_is_incremental_and_idempotent(home, results, tmp_path):
    home = Path(shutil.copytree(home, tmp_path / "home"))  # the new run below stays here
    fresh = Collection(home, index_dir=tmp_path / "idx")
    assert len(fresh.runs()) == 2
    before = fresh.search("Gutenberg Bible", k=5)
    assert fresh.index() == 0
    assert fresh.index(rebuild=True) == 2
    again = fresh.search("Gutenberg Bible", k=5)
    assert list(again["chunk_id"]) == list(before["chunk_id"])
    # a new run of a known recording is added alone; searches see only its newest run
    newer = pk.run_pipeline(AUSTEN, home=home, out_dir=home / "out" / "again", chunk_size=40,
                            overlap=5)
    assert fresh.index() == 1 and fresh.index() == 0
    assert len(fresh.runs()) == 3
    hits = fresh.search("Dashwood", k=20, where={"recording": AUSTEN.name})
    assert len(hits) and set(hits["run_id"]) == {newer.run_id}
    every = fresh.search("Dashwood", k=50, where={"recording": AUSTEN.name}, latest=False)
    assert len(set(every["run_id"])) == 2


def test_bad_sources_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        Collection(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no pipeline run"):
        Collection(tmp_path)


def test_fast_semantic_search_ranks_as_the_exact_search(coll):
    """The inverted lists' first pass + exact re-rank (used from 100,000 chunks on)
    returns the exact search's hits in its order, with its scores, on the real
    collection whenever the lists it probes hold them, while it scores only the rows of
    those lists."""
    runs = [tuple(r) for r in coll.runs()[["run_id", "seq", "n_chunks", "has_vectors"]]
            .itertuples(index=False)]
    counts, vectors, has = coll._load_matrices(runs)
    clusters = Clusters.fit(vectors, has, rows_per_list=3)
    sentences = coll._sentence_index(runs)
    exact = Searcher(counts, vectors, has, sentences=sentences, rerank=3)
    fast = Searcher(counts, vectors, has, clusters=clusters, probe=2, candidates=8,
                    sentences=sentences, rerank=3)
    assert len(clusters.centroids) > 4 and (clusters.assign[has] >= 0).all()
    _, meta = coll._loaded()
    allowed = meta["latest"].to_numpy()
    compared = 0
    for q in ("printing in Italy", "Gutenberg Bible", "Dashwood's estate", "Miss Dashwood"):
        q_vector = _encode_query(q)
        probed = clusters.candidates(q_vector, allowed, 2, 8)
        assert 8 <= len(probed) < allowed.sum()  # only part of the collection is scored
        for mode, fusion in (("semantic", "score"), ("hybrid", "score"), ("hybrid", "rrf")):
            want_rows, want = coll._rank(exact, q, 3, mode, allowed, fusion)
            if not set(want_rows.tolist()) <= set(probed.tolist()):
                continue  # an approximate search: the lists it probes miss these hits
            compared += 1
            rows, got = coll._rank(fast, q, 3, mode, allowed, fusion)
            assert rows.tolist() == want_rows.tolist(), (q, mode, fusion)
            assert np.allclose(got, want, atol=1e-5)
    assert compared >= 3  # the lists held the exact hits often enough to compare


def test_inverted_lists_are_kept_and_extended(coll, tmp_path, monkeypatch):
    """From REDUCE_FROM chunks on the lists are fitted once and kept in the index
    folder; a grown collection files only its new rows under the kept centroids."""
    import pipeline_kit.collection._collection as collection

    monkeypatch.setattr(collection, "REDUCE_FROM", 1)
    runs = [tuple(r) for r in coll.runs()[["run_id", "seq", "n_chunks", "has_vectors"]]
            .itertuples(index=False)]
    _, vectors, has = coll._load_matrices(runs)
    fresh = Collection(coll.homes[0], index_dir=tmp_path / "idx", update=False)
    part = len(has) * 2 // 3
    first = fresh._clusters(vectors[:part], has[:part])
    assert (fresh.index_dir / collection.CLUSTERS_FILE).is_file()
    grown = fresh._clusters(vectors, has)
    assert np.array_equal(grown.centroids, first.centroids)
    assert np.array_equal(grown.assign[:part], first.assign)
    nearest = np.argmax(vectors[part:] @ first.centroids.T, axis=1)
    assert np.array_equal(grown.assign[part:][has[part:]], nearest[has[part:]])


def test_a_recording_run_twice_counts_once_in_every_view(home, results, tmp_path):
    """A real home where the LJ recording is run again with another chunk size: the
    timeline, concepts, graph, recordings and search each read its newest run only,
    and ``runs="all"`` reads both."""
    again = tmp_path / "home"
    shutil.copytree(home, again)
    first = _lj(results)
    second = pk.run_pipeline(shared_path(LJ), ["chunking", "graph"], home=again,
                             out_dir=tmp_path / "out", chunk_size=90, overlap=10)
    coll = Collection(again)
    newest = {second.run_id, results[AUSTEN.name].run_id}

    tl, tl_all = coll.timeline(), coll.timeline(runs="all")
    assert set(tl["run_id"]) <= newest and second.run_id in set(tl["run_id"])
    assert not tl.duplicated(["recording", "word_index", "text"]).any()
    assert {first.run_id, second.run_id} <= set(tl_all["run_id"])
    assert len(tl_all) > len(tl)

    mentions = coll.concepts()["mentions"].sum()
    assert mentions == coll.concepts(runs=sorted(newest))["mentions"].sum()
    assert coll.concepts(runs="all")["mentions"].sum() > mentions
    nodes = {n: d for n, d in coll.graph().nodes(data=True) if d["kind"] == "concept"}
    assert sum(d["mentions"] for d in nodes.values()) == mentions

    recs = coll.recordings().set_index("recording")
    assert recs.loc[Path(LJ).name, "runs"] == 2
    assert recs.loc[Path(LJ).name, "chunks"] == len(second.chunks)
    assert set(coll.search("printing", k=50)["run_id"]) <= newest


def test_hybrid_search_ranks_a_keyword_hit_first_when_the_newest_run_has_no_vectors(
        home, results, tmp_path):
    """The newest run of the sample was chunked with TF-IDF (no chunk vectors), as
    notebook 03's comparison runs are. Hybrid search scored its chunks -1 (no cosine)
    times the keyword boost: the one chunk holding "Dashwood" came last (-1.3), after
    six chunks without it (-1.0). Now the keyword hit comes first and chunks with
    neither a vector nor the word are no hits."""
    again = tmp_path / "home"
    shutil.copytree(home, again)
    newest = pk.run_pipeline(AUSTEN, ["chunking"], home=again, out_dir=tmp_path / "out",
                             chunk_size=20, overlap=0, chunking_method="tfidf")
    hits = Collection(again).search("Dashwood", k=10)
    shown = hits[["run_id", "chunk_id", "score", "snippet"]]
    assert len(newest.chunks) > 2 and len(hits), shown
    assert hits.loc[0, "run_id"] == newest.run_id and "Dashwood" in hits.loc[0, "snippet"], shown
    own = hits[hits["run_id"] == newest.run_id]  # the other recording's may follow, by cosine
    assert all("Dashwood" in s for s in own["snippet"]) and (own["score"] > 0).all(), shown
