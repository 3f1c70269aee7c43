"""The pipeline-kit command line."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline_kit.cli import main

WAV = Path(__file__).resolve().parents[1] / "data" / "sample" / "austen_sample.wav"


def test_run_writes_results_and_the_other_commands_work(tmp_path, capsys):
    home, out = tmp_path / "home", tmp_path / "out"
    rc = main(["run", str(WAV), "--out", str(out), "--home", str(home), "--method", "tfidf",
               "--chunk-size", "80", "--overlap", "10"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    for name in ("run.json", "transcript.json", "transcript.srt", "transcript.vtt",
                 "transcript.txt", "chunks.json", "graph.graphml", "chapters.json",
                 "questions.json"):
        assert (out / name).is_file(), name
    record = json.loads((out / "run.json").read_text())
    assert record["outcome"] == "completed" and record["parameters"]["chunk_size"] == 80
    assert "completed" in captured.out
    assert "transcription" in captured.err  # text progress lines

    assert main(["runs", "--home", str(home)]) == 0
    assert record["run_id"] in capsys.readouterr().out
    assert main(["tasks", "--home", str(home)]) == 0
    assert "semantic_chunking" in capsys.readouterr().out
    task_id = record["stage_tasks"]["chunking"]
    assert main(["status", task_id, "--home", str(home)]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "completed"


def test_bad_arguments_exit_non_zero_with_one_line(tmp_path, capsys):
    home = str(tmp_path / "home")
    for argv in (
        ["run", str(WAV), "--out", str(tmp_path / "o"), "--home", home, "--stages", "bogus"],
        ["run", str(WAV), "--out", str(tmp_path / "o"), "--home", home, "--overlap", "500"],
        ["run", str(WAV), "--home", home],  # --out missing
        ["status", "no-such-task", "--home", home],
        ["cancel", "no-such-task", "--home", home],
        ["retry", "no-such-task", "--home", home],
        ["frobnicate"],
    ):
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc != 0, argv
        assert len(err.strip().splitlines()) == 1, (argv, err)
        assert err.startswith("pipeline-kit: error:"), err
    main(["run", str(WAV), "--out", str(tmp_path / "o"), "--home", home, "--stages", "bogus"])
    assert "allowed: upload" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_run_and_listing_on_a_shared_store(store_target, tmp_path, capsys):
    """--store (SQLite file or PostgreSQL URL): tasks and run records land there."""
    out = tmp_path / "out"
    rc = main(["run", str(WAV), "--out", str(out), "--home", str(tmp_path / "home"),
               "--store", store_target, "--method", "tfidf", "--stages", "chunking",
               "--quiet"])
    assert rc == 0, capsys.readouterr().err
    run_id = json.loads((out / "run.json").read_text())["run_id"]
    capsys.readouterr()
    assert main(["runs", "--store", store_target]) == 0
    assert run_id in capsys.readouterr().out
    assert main(["tasks", "--store", store_target]) == 0
    listing = capsys.readouterr().out
    assert "semantic_chunking" in listing and "pipeline" in listing
