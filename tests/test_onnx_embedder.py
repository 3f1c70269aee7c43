"""Search queries embedded with ONNX Runtime: the export of the bundled MiniLM, its
agreement with sentence-transformers, a torch-free ``pipeline-kit search``, the first
search on a machine (torch, then the export), and the same search asked of a running
``pipeline-kit serve``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path
from test_cli_imports import run_cli

from pipeline_kit.base._models import models_cache, resolve_embedding_model
from pipeline_kit.collection._collection import Collection
from pipeline_kit.collection._ingest import tables_from_texts
from pipeline_kit.faces.cli import main
from pipeline_kit.pipeline._chunk_vectors import SentenceVectors
from pipeline_kit.stages import _onnx_embedder as ox
from pipeline_kit.stages._embeddings import get_embedder, normalize_rows

LJ = "speech/ljspeech_LJ001/transcripts_LJ001-0001-0032.psv"
QUERIES = ("the invention of movable types", "books printed in Venice", "Gutenberg's Bible",
           "why the first printers imitated handwriting")


@pytest.fixture(scope="module")
def cache() -> Path:
    """The user cache folder holding this machine's export (made now if it has none yet:
    once per machine; a fresh export is tested in a fresh cache further down)."""
    folder = ox.ensure_export(None)
    assert folder is not None, "the bundled MiniLM could not be exported (see the warning)"
    return models_cache().parent.parent


@pytest.fixture(scope="module")
def lj_sentences() -> list[str]:
    path = shared_path(LJ)
    return [line.split("|", 1)[1].strip() for line in path.read_text().splitlines() if line]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, lj_sentences: list[str]) -> Path:
    """A home whose collection holds the LJ Speech essay, four sentences a chunk, with
    chunk and sentence vectors from sentence-transformers, as the pipeline stores them."""
    home = tmp_path_factory.mktemp("home")
    (home / "artifacts").mkdir()
    groups = [lj_sentences[i:i + 4] for i in range(0, len(lj_sentences), 4)]
    emb = normalize_rows(get_embedder(None).encode(lj_sentences))
    spans = np.array([(i, i + len(g)) for i, g in zip(range(0, len(emb), 4), groups,
                                                        strict=True)])
    chunk_vectors = normalize_rows(np.vstack([emb[a:b].mean(axis=0) for a, b in spans]))
    Collection(home, update=False).add_run(tables_from_texts(
        "lj", "lj.wav", [" ".join(g) for g in groups], chunk_vectors,
        sentences=SentenceVectors(emb.astype(np.float16), spans)))
    return home


def test_the_export_is_checked_kept_and_found_without_hashing(cache: Path) -> None:
    folder = ox.find_export(None)
    assert folder is not None and folder.parent == models_cache()
    manifest = ox.read_manifest(folder)
    assert manifest is not None
    resolved = resolve_embedding_model(None)
    assert manifest["weights_sha256"] == resolved.weights_sha256
    assert folder.name.endswith(resolved.weights_sha256[:16])
    assert manifest["min_cosine"] >= ox.MIN_COSINE and manifest["max_seq_length"] == 256
    assert (folder / "model.onnx.data").stat().st_size > 80e6  # the weights, outside the graph
    assert (folder / "model.onnx").stat().st_size < 1e6
    before = (folder / "model.onnx").stat().st_mtime_ns
    assert ox.export_onnx(None) == folder  # found, not exported again
    assert (folder / "model.onnx").stat().st_mtime_ns == before


def test_an_unverified_or_other_format_export_is_not_used(cache: Path, tmp_path: Path,
                                                          monkeypatch) -> None:
    folder = ox.find_export(None)
    assert folder is not None
    manifest = json.loads((folder / "manifest.json").read_text())
    copy = tmp_path / folder.name
    copy.mkdir()
    for name in ox._FILES:
        (copy / name).symlink_to(folder / name)
    for change in ({"min_cosine": 0.99}, {"format": ox.EXPORT_FORMAT + 1}, {}):
        (copy / "manifest.json").write_text(json.dumps({**manifest, **change}))
        assert (ox.read_manifest(copy) is None) == bool(change), change
    (copy / "model.onnx.data").unlink()
    assert ox.read_manifest(copy) is None  # a missing file
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    assert ox.find_export(None) is None


def test_onnx_vectors_agree_with_sentence_transformers(cache: Path,
                                                       lj_sentences: list[str]) -> None:
    onnx = ox.OnnxEmbedder.load(ox.find_export(None))
    reference = get_embedder(None)
    texts = [*QUERIES, *lj_sentences]
    longest = " ".join(lj_sentences)  # past the 256 tokens both cut texts at
    want = reference.encode([*texts, longest])
    alone = np.vstack([onnx.encode([t]) for t in [*texts, longest]])
    batch = onnx.encode(texts)  # padded to its longest sentence
    for got, ref in ((alone, want), (batch, want[:-1])):
        assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
        assert (got * ref).sum(axis=1).min() >= ox.MIN_COSINE


def test_the_agreement_check_catches_an_export_that_differs(cache: Path) -> None:
    """The check that gates every export fails for one that cuts texts at 8 tokens."""
    folder = ox.find_export(None)
    short = ox.OnnxEmbedder(folder, "cut", max_seq_length=8)
    assert ox.agreement(get_embedder(None), short) < 0.95


def test_cli_search_loads_no_torch_and_ranks_as_torch(cache: Path, home: Path,
                                                      tmp_path: Path) -> None:
    coll = Collection(home)
    env = {"XDG_CACHE_HOME": str(cache), "HF_HUB_OFFLINE": "1"}
    for q, mode in ((QUERIES[0], "hybrid"), (QUERIES[3], "semantic")):
        expected = coll.search(q, k=5, mode=mode)  # torch, loaded in this process
        code, heavy, out = run_cli(["search", str(home), q, "-k", "5", "--mode", mode,
                                    "--json"], tmp_path, env)
        assert code == 0, out
        assert not {"torch", "sentence_transformers", "transformers"} & set(heavy), heavy
        rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert [r["chunk_id"] for r in rows] == list(expected["chunk_id"]), (q, mode)
        assert np.allclose([r["score"] for r in rows], expected["score"], atol=1e-4)


def test_search_through_a_running_server(cache: Path, home: Path, tmp_path: Path,
                                         capsys) -> None:
    from api_server import start_server

    token = "s3cret-token"
    srv = start_server(home, token=token, env={"XDG_CACHE_HOME": str(cache)})
    try:
        token_file = tmp_path / "token"
        token_file.write_text(token + "\n")
        argv = ["search", QUERIES[0], "-k", "3", "--server", srv.url]
        assert main([*argv, "--token-file", str(token_file), "--json"]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        expected = Collection(home).search(QUERIES[0], k=3)
        assert [r["chunk_id"] for r in rows] == list(expected["chunk_id"])
        assert main([*argv, "--token-file", str(token_file)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 3 and lines[0].split()[1] == "lj.wav"
        bad = tmp_path / "bad"
        bad.write_text("wrong")
        assert main([*argv, "--token-file", str(bad)]) == 1
        assert "answered 401: invalid bearer token" in capsys.readouterr().err
    finally:
        srv.stop()
    assert main(argv) == 1  # stopped: nobody answers
    assert "cannot reach" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["search", "q"], "search needs HOME (or --server URL)"),
    (["search", "home", "q", "--server", "http://127.0.0.1:9"], "leave out HOME"),
    (["search", "q", "--server", "ftp://x"], "give an http:// or https:// URL"),
    (["search", "home", "q", "--token-file", "t"], "--token-file goes with --server"),
])
def test_search_arguments_are_checked_first(argv: list[str], message: str, capsys) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_process_with_the_model_loaded_embeds_with_it(cache: Path, home: Path) -> None:
    """No second model in memory where sentence-transformers is loaded (by the home
    fixture here, by a run's chunking in a notebook)."""
    q = QUERIES[1]
    ox._loaded.clear()
    assert np.allclose(ox.query_vector(q), get_embedder(None).encode([q])[0], atol=1e-6)
    assert not ox._loaded  # no ONNX session was opened
    assert ox.export_if_loaded(None) == ox.find_export(None)  # exported already: found


def test_the_first_search_on_a_machine_uses_torch_then_exports(home: Path,
                                                               tmp_path: Path) -> None:
    """Without an export, a search embeds its query with torch and exports the model,
    so the next search needs no torch; both rank alike."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "new-machine"), "HF_HUB_OFFLINE": "1"}
    argv = ["search", str(home), QUERIES[2], "-k", "4", "--mode", "semantic", "--json"]
    first = run_cli(argv, tmp_path, env)
    second = run_cli(argv, tmp_path, env)
    assert first[0] == second[0] == 0, first[2] + second[2]
    assert "torch" in first[1] and "torch" not in second[1]
    ids = [[json.loads(line)["chunk_id"] for line in run[2].splitlines()
            if line.startswith("{")] for run in (first, second)]
    assert ids[0] == ids[1] and len(ids[0]) == 4
