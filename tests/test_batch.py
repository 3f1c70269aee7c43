"""`pipeline-kit batch` / run_batch: many files, one executed notebook or run per file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from pipeline_kit.faces.cli import main
from pipeline_kit.pipeline._batch import collect_audio, execute_notebook, output_names, run_batch

WAV = Path(__file__).resolve().parents[1] / "data" / "sample" / "austen_sample.wav"


@pytest.fixture
def inbox(tmp_path) -> Path:
    d = tmp_path / "inbox"
    d.mkdir()
    shutil.copy(WAV, d / "interview one.wav")
    shutil.copy(WAV, d / "lecture.wav")
    (d / "notes.txt").write_text("not audio, and not picked up from a folder")
    return d


@pytest.mark.slow
def test_cli_batch_executes_one_notebook_per_file(inbox, tmp_path, capsys):
    out = tmp_path / "out"
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "01_run_pipeline.ipynb"
    rc = main(["batch", str(notebook), "--input", str(inbox / "*.wav"), "--out", str(out),
               "--parallel", "2", "-p", "chunking_method", "tfidf", "-p", "chunk_size", "60",
               "-p", "overlap", "10"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    df = pd.read_csv(out / "summary.csv")
    assert sorted(df["name"]) == ["interview_one", "lecture"]
    assert (df["status"] == "completed").all(), df.to_dict("records")
    assert (df["words"] > 20).all() and (df["chunks"] >= 1).all()
    for name in df["name"]:
        nb = nbformat.read(out / name / "01_run_pipeline.ipynb", as_version=4)
        # papermill injected this file's parameters, and every code cell ran without error
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and f"{name}" in "".join(injected[0].source).replace(" ", "_")
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        assert outputs and not any(o.get("output_type") == "error" for o in outputs)
        record = json.loads((out / name / "run.json").read_text())
        assert record["outcome"] == "completed"
        assert record["parameters"]["chunk_size"] == 60
        assert (out / name / "chunks.json").is_file()
    assert "summary.csv" in captured.out


def test_pipeline_mode_reports_a_broken_file_and_finishes_the_others(inbox, tmp_path):
    (inbox / "broken.wav").write_bytes(b"RIFF....WAVEfmt not really audio" * 20)
    df = run_batch([inbox], tmp_path / "out", mode="pipeline", jobs=2,
                   chunking_method="tfidf", stages=["chunking"])
    rows = {r["name"]: r for r in df.to_dict("records")}
    assert set(rows) == {"broken", "interview_one", "lecture"}
    assert rows["broken"]["status"] == "failed"
    assert "broken.wav" in rows["broken"]["error"] or "audio" in rows["broken"]["error"].lower()
    for name in ("interview_one", "lecture"):
        assert rows[name]["status"] == "completed"
        assert rows[name]["words"] > 20 and rows[name]["chunks"] >= 1
        assert pd.isna(rows[name]["chapters"])  # missing: stage not run
    # one model, one home: the second identical file reused the first one's artifacts,
    # or both computed at once — either way the results are the same
    a = json.loads((tmp_path / "out" / "interview_one" / "chunks.json").read_text())
    b = json.loads((tmp_path / "out" / "lecture" / "chunks.json").read_text())
    assert a == b
    saved = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert len(saved) == 3 and set(saved["status"]) == {"completed", "failed"}


def test_cli_batch_exit_code_and_bad_arguments(inbox, tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nope.wav"), "--out", str(tmp_path / "o")]) == 1
    assert "nope.wav" in capsys.readouterr().err
    assert main(["batch", str(inbox), "--out", str(tmp_path / "o"), "--mode", "x"]) == 1
    assert "notebook, pipeline" in capsys.readouterr().err
    assert main(["batch", str(inbox), "--out", str(tmp_path / "o"), "--overlap", "500"]) == 1
    assert "overlap" in capsys.readouterr().err
    assert main(["batch", "--input", str(tmp_path / "*.flac"), "--out", str(tmp_path / "o")]) == 2
    assert "matches no file" in capsys.readouterr().err
    assert main(["batch", str(inbox), "--out", str(tmp_path / "o"), "--mode", "pipeline",
                 "-p", "chunk_size", "60"]) == 1
    assert "notebook mode" in capsys.readouterr().err
    assert main(["batch", str(inbox), "--out", str(tmp_path / "o"),
                 "-p", "audio_path", "x.wav"]) == 1
    assert "audio_path" in capsys.readouterr().err
    assert not (tmp_path / "o" / "summary.csv").exists()


def test_collect_and_name_files(inbox, tmp_path):
    files = collect_audio([inbox, inbox / "lecture.wav"])
    assert [f.name for f in files] == ["interview one.wav", "lecture.wav", "lecture.wav"]
    assert output_names(files) == ["interview_one", "lecture", "lecture-2"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no audio files"):
        collect_audio([tmp_path / "empty"])


def test_parameter_values_parse_as_papermill_does():
    from pipeline_kit.faces.cli._main import _parse_value

    assert [_parse_value(v) for v in ("60", "0.5", "True", "None", "tfidf", '["a", "b"]')] == [
        60, 0.5, True, None, "tfidf", ["a", "b"]]


@pytest.mark.slow
def test_parallel_batch_keeps_every_path_twice(inbox, tmp_path, monkeypatch, capsys):
    """`batch --jobs 2` from a relative --out: the printed summary path, each row's folder
    and notebook, and each run's own audio are right in each of two batches (the second
    one after the first has run: a working directory moved by it would show), the
    caller's working directory never moves, and the kernels' log noise stays out."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    params = tmp_path / "params.yaml"
    params.write_text("chunking_method: tfidf\nchunk_size: 60\n")
    home = tmp_path / "home"  # shared: transcription is computed once, then cached
    audio = {"interview one.wav": inbox / "interview one.wav", "lecture.wav": inbox / "lecture.wav"}
    for i in range(2):
        out = work / f"out{i}"
        rc = main(["batch", str(inbox), "--out", f"out{i}", "--jobs", "2", "--home", str(home),
                   "--stages", "chunking", "-f", str(params), "-p", "overlap", "10"])
        captured = capsys.readouterr()
        assert rc == 0, captured.err
        assert Path.cwd() == work
        assert f"summary: {out / 'summary.csv'} (results in {out}/<folder>)\n" in captured.out
        assert "IPKernelApp" not in captured.err and "encryption" not in captured.err
        df = pd.read_csv(out / "summary.csv")
        assert sorted(df["file"]) == sorted(audio)
        for row in df.to_dict("records"):
            assert row["status"] == "completed" and row["chunks"] >= 1
            assert Path(row["out_dir"]) == out / row["name"]
            assert Path(row["notebook"]) == out / row["name"] / "01_run_pipeline.ipynb"
            assert Path(row["notebook"]).is_file()
            record = json.loads((out / row["name"] / "run.json").read_text())
            assert record["out_dir"] == str(out / row["name"])
            assert record["inputs"][0]["path"] == str(audio[row["file"]])
            assert record["parameters"]["chunk_size"] == 60  # from -f params.yaml
            assert record["parameters"]["overlap"] == 10  # from -p
        assert sorted(p.name for p in out.iterdir()) == [
            "interview_one", "lecture", "summary.csv", "summary.json"]
    assert sorted(p.name for p in work.iterdir()) == [f"out{i}" for i in range(2)]


def test_summary_merges_with_the_one_already_there(inbox, tmp_path):
    """Re-using an output folder: earlier files keep their rows, a re-run file's row is
    replaced, so the summary has one row per file."""
    out, home = tmp_path / "out", tmp_path / "home"
    run_batch([inbox / "lecture.wav"], out, mode="pipeline", home=home,
              chunking_method="tfidf", stages=["chapters"])
    first = pd.read_csv(out / "summary.csv")
    assert first["chapters"][0] >= 1 and (out / "lecture" / "chapters.json").is_file()
    df = run_batch([inbox / "interview one.wav", inbox / "lecture.wav"], out, mode="pipeline",
                   home=home, chunking_method="tfidf", stages=["chunking"], chunk_size=60,
                   overlap=10)
    assert len(df) == 2
    saved = pd.read_csv(out / "summary.csv")
    assert sorted(saved["file"]) == ["interview one.wav", "lecture.wav"]
    lecture = saved[saved["file"] == "lecture.wav"].iloc[0]
    assert lecture["run_id"] != first["run_id"][0]  # the new run replaced the old row
    assert lecture["chunks"] > first["chunks"][0]  # smaller chunks: more of them
    assert lecture["chapters"] != lecture["chapters"]  # NaN: the old chapters.json not counted
    third = inbox / "third.wav"
    shutil.copy(WAV, third)
    run_batch([third], out, mode="pipeline", home=home, chunking_method="tfidf",
              stages=["chunking"])
    saved = pd.read_csv(out / "summary.csv")
    assert sorted(saved["file"]) == ["interview one.wav", "lecture.wav", "third.wav"]
    assert json.loads((out / "summary.json").read_text())[-1]["file"] == "third.wav"


def test_parameters_file_errors_name_the_file(inbox, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n- not a mapping\n")
    assert main(["batch", str(inbox), "--out", str(tmp_path / "o"), "-f", str(bad)]) == 2
    assert f"-f {bad}: needs NAME: VALUE" in capsys.readouterr().err
    bad.write_text("a: [unclosed\n")
    assert main(["batch", str(inbox), "--out", str(tmp_path / "o"), "-f", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err
    missing = tmp_path / "missing.yaml"
    assert main(["batch", str(inbox), "--out", str(tmp_path / "o"), "-f", str(missing)]) == 2
    assert f"-f {missing}: cannot read it" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_failing_notebook_cell_is_one_line_naming_cell_and_line(inbox, tmp_path, capsys):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        'audio_path = ""\noutput_dir = ""\nhome = ""\nstages = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "from pathlib import Path\nsize = Path(audio_path).stat().st_size\n"
        "assert size < 100, f'{Path(audio_path).name} has {size} bytes'")]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["kernelspec"] = kernel
    path = tmp_path / "check.ipynb"
    nbformat.write(nb, path)
    rc = main(["batch", str(path), str(inbox / "lecture.wav"), "--out", str(tmp_path / "o")])
    out = capsys.readouterr()
    assert rc == 1
    row = pd.read_csv(tmp_path / "o" / "summary.csv").iloc[0]
    size = (inbox / "lecture.wav").stat().st_size
    assert row["file"] == "lecture.wav" and row["status"] == "failed"
    assert row["error"] == (  # In [3]: after the parameters and papermill's injected cell
        f"NotebookCellError: cell In [3] raised AssertionError: lecture.wav has {size} bytes "
        "at: assert size < 100, f'{Path(audio_path).name} has {size} bytes'")
    assert "NotebookCellError: cell In [3] raised AssertionError" in out.out
    assert "Traceback" not in out.out and "IPKernelApp" not in out.err


# Imported by every Python process started with this folder on PYTHONPATH: the first
# one (the first kernel) exits at once, as a kernel that lost a port race does.
_DIE_ONCE = """
import os
_marker = os.environ["PK_TEST_KERNEL_MARKER"]
if not os.path.exists(_marker):
    open(_marker, "w").close()
    os._exit(1)
"""


def test_a_kernel_that_dies_at_start_is_started_again(tmp_path, monkeypatch):
    """Parallel batch workers' kernels can race for a port, and the loser dies before it
    replies (seen in CI): the notebook is run again in a new kernel instead of failing."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_DIE_ONCE)
    marker = tmp_path / "first-kernel-died"
    monkeypatch.setenv("PK_TEST_KERNEL_MARKER", str(marker))
    monkeypatch.setenv("PYTHONPATH", str(site))
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("output_dir = ''", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import json, pathlib\n"
            "pathlib.Path(output_dir, 'run.json').write_text(json.dumps({'run_id': 'r1'}))")],
        metadata={"kernelspec": {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}})
    src = tmp_path / "nb.ipynb"
    nbformat.write(nb, src)
    out = tmp_path / "out"
    out.mkdir()
    summary = execute_notebook(str(src), str(tmp_path / "ran.ipynb"), {"output_dir": str(out)},
                               str(tmp_path))
    assert marker.exists()  # the first kernel did die
    assert summary["run_id"] == "r1" and (out / "run.json").is_file()
