"""The notebooks: committed clean, and runnable headless with papermill (01 → 02 → 03 → 04)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ["01_run_pipeline.ipynb", "02_explore_graph.ipynb", "03_chunking_experiments.ipynb",
         "04_collection.ipynb"]
SAMPLE = NOTEBOOKS.parent / "data" / "sample" / "austen_sample.wav"


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_clean(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in _code_cells(nb):
        assert cell.get("outputs") == [], f"{name}: a cell has outputs"
        assert cell.get("execution_count") is None, f"{name}: a cell has an execution count"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: {len(tagged)} cells tagged 'parameters'"
    assert tagged[0] is _code_cells(nb)[0], f"{name}: parameters is not the first code cell"


@pytest.mark.parametrize("name", NAMES)
def test_papermill_sees_every_parameter_with_type_and_help(name):
    """`papermill --help-notebook` lists each parameter (a stray `=` in a comment or an
    annotation its pattern cannot read would hide it)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    declared = [line.split(":")[0].strip() for line in cell.source.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    seen = papermill.inspect_notebook(str(NOTEBOOKS / name))
    assert list(seen) == declared
    for p in seen.values():
        assert p["inferred_type_name"] != "None" and p["help"], p


def test_sanitize_file_exists():
    text = (NOTEBOOKS / "sanitize.cfg").read_text()
    assert "regex:" in text and "replace:" in text


def _outputs_text(nb) -> str:
    parts = []
    for cell in _code_cells(nb):
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append(out["text"])
            parts.extend(str(v) for v in out.get("data", {}).values())
    return "\n".join(parts)


def sandbox(tmp: Path) -> Path:
    """Copies of the notebooks in ``tmp/notebooks``, beside a link to this checkout's
    ``data``: their default ``../out`` is then a new folder under ``tmp``, never the
    checkout's (whose stale cache or files of an earlier run would be reused)."""
    copies = tmp / "notebooks"
    copies.mkdir()
    for name in NAMES:
        (copies / name).write_bytes((NOTEBOOKS / name).read_bytes())
    (tmp / "data").symlink_to(NOTEBOOKS.parent / "data", target_is_directory=True)
    return copies


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(not SAMPLE.exists(), reason="bundled sample audio missing")
def test_notebooks_run_headless_in_order(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PIPELINE_KIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PIPELINE_KIT_PROGRESS", raising=False)
    copies = sandbox(tmp_path)

    def run(name, **parameters):
        out = tmp_path / name
        papermill.execute_notebook(str(copies / name), str(out), parameters=parameters,
                                   kernel_name="python3", cwd=str(copies),
                                   progress_bar=False)
        return nbformat.read(out, as_version=4)

    # In-process papermill: the kernel's parent is pytest, not a Jupyter server, so
    # pipeline_kit.notebook._display must choose text progress on its own (no env override).
    run_dir = tmp_path / "run"
    # The short sample (26.7 s): nbval runs the defaults, the 2:15 demo recording.
    nb1 = run("01_run_pipeline.ipynb", output_dir=str(run_dir), chunk_size=40, overlap=10,
              chunking_method="tfidf", audio_path=str(SAMPLE), diarize=False)
    for f in ("run.json", "transcript.json", "transcript.srt", "transcript.vtt",
              "transcript.txt", "chunks.json", "chapters.json", "questions.json",
              "graph.graphml"):
        assert (run_dir / f).is_file(), f"01 did not write {f}"
    assert json.loads((run_dir / "chunks.json").read_text())
    json.loads((run_dir / "run.json").read_text())
    text1 = _outputs_text(nb1)
    assert "HBox(" not in text1 and "VBox(" not in text1, "progress rendered as widget reprs"
    # The play tables and the explore widget print plain tables with mm:ss headless.
    mimes = {m for c in _code_cells(nb1) for o in c.get("outputs", []) for m in o.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" not in mimes, mimes
    for bad in ("ListenView(", "Explorer(", "Audio(", "Select("):
        assert bad not in text1, f"{bad!r} in the headless output of 01"
    assert re.search(r"\b\d+:\d\d\b", text1), "no m:ss times in the headless tables"
    assert "transcription" in text1 and "completed" in text1, "no text progress lines"
    assert "questions" in text1  # the closing summary

    nb2 = run("02_explore_graph.ipynb", run_dir=str(run_dir))
    text2 = _outputs_text(nb2)
    assert f"graph from run {run_dir}" in text2
    assert "UnknownConceptError" in text2

    exp = tmp_path / "experiments"
    nb3 = run("03_chunking_experiments.ipynb", chunk_sizes=[30, 60], overlaps=[0, 10],
        methods=["tfidf"], transcript_path=str(run_dir / "transcript.json"),  # nbval: both
        output_dir=str(exp), compare_audio=str(SAMPLE), choi_document="")  # nbval runs it
    chosen = json.loads((exp / "chosen_setting.json").read_text())
    assert chosen["method"] == "tfidf"
    assert chosen["chunk_size"] in (30, 60) and chosen["overlap"] in (0, 10)
    assert chosen["overlap"] < chosen["chunk_size"]
    assert chosen["purpose"] == "search" and chosen["reason"] and chosen["score"] > 0
    assert {"mrr", "context_precision", "n_chunks"} <= set(chosen["metrics"])
    assert (exp / "sweep.csv").is_file()
    assert os.path.getsize(exp / "sweep.png") > 0
    # The compare section ran two pipelines of the sample, 40 and 80 words a chunk.
    assert (exp / "compare_a" / "run.json").is_file() and (exp / "compare_b" / "run.json").is_file()
    assert "chunk_size 40 → 80" in _outputs_text(nb3)

    # 04 indexes 01's run (in the default home, $PIPELINE_KIT_HOME here) and searches it
    assert "home: " + str(tmp_path / "home") in text1  # 01 says where its home is
    nb4 = run("04_collection.ipynb", query="Dashwood", k=5)  # homes: [] is the default home
    text4 = _outputs_text(nb4)
    assert f"Collection(['{tmp_path / 'home'}']" in text4  # 01's run, not the standalone demo
    assert "hits for 'Dashwood' (keyword)" in text4  # 01 chunked with TF-IDF: no vectors
    # the hits table of the run's recording, times as mm:ss (the ▶ controls' text form)
    assert re.search(r"austen_sample\.wav[\s\S]*\b\d+:\d\d\b[\s\S]*Dashwood", text4), text4[:2000]


def test_notebook_03_chooses_without_gold_and_shows_gold_metrics(tmp_path, monkeypatch):
    """03 alone on a Choi reference: the sweep table and the chosen setting carry the
    purpose and gold columns, and the label-free choice's gold rank is reported."""
    papermill = pytest.importorskip("papermill")
    from conftest import shared_path

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ref = shared_path("textseg/choi_dev/3-11/0.ref")
    exp = tmp_path / "experiments"
    papermill.execute_notebook(
        str(NOTEBOOKS / "03_chunking_experiments.ipynb"), str(tmp_path / "03.ipynb"),
        parameters={"chunk_sizes": [100, 300, 1000], "overlaps": [0, 25],
                    "methods": ["tfidf", "fixed"], "reference_path": str(ref),
                    "transcript_path": str(tmp_path / "absent.json"),
                    "output_dir": str(exp), "compare_audio": ""},  # no compare section
        kernel_name="python3", cwd=str(NOTEBOOKS), progress_bar=False)
    chosen = json.loads((exp / "chosen_setting.json").read_text())
    assert {"mrr", "context_precision", "gold_mrr", "gold_pk"} <= set(chosen["metrics"])
    assert chosen["settings"] == 12
    assert 1 <= chosen["gold_rank"] <= chosen["settings"]
    table = (exp / "sweep.csv").read_text().splitlines()[0].split(",")
    assert {"gold_pk", "gold_mrr", "mrr", "context_precision", "topic_pk"} <= set(table)
