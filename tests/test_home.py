"""One default home for the CLI, notebooks and API: $PIPELINE_KIT_HOME or a per-user folder."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline_kit.faces.cli import main

WAV = Path(__file__).resolve().parents[1] / "data" / "sample" / "austen_sample.wav"


def test_default_home_is_the_env_or_a_per_user_folder(tmp_path, monkeypatch):
    from pipeline_kit.base._fs import default_home
    from pipeline_kit.ingest._upload import default_root
    from pipeline_kit.tasks import default_store_path, pipeline_home

    monkeypatch.delenv("PIPELINE_KIT_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)  # not ./data: the same folder from any directory
    home = tmp_path / "xdg" / "pipeline_kit"
    assert default_home() == pipeline_home() == home
    assert default_store_path() == home / "tasks.sqlite3" and default_root() == home / "audio"
    monkeypatch.setenv("PIPELINE_KIT_HOME", str(tmp_path / "mine"))
    assert default_home() == pipeline_home() == tmp_path / "mine"


def test_run_without_out_writes_a_run_folder_under_the_home_that_runs_lists(
        tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PIPELINE_KIT_HOME", raising=False)
    monkeypatch.delenv("PIPELINE_KIT_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "xdg" / "pipeline_kit"
    assert main(["run", str(WAV), "--stages", "transcription", "--quiet"]) == 0
    out = capsys.readouterr().out
    record = json.loads(next((home / "runs").glob("*/run.json")).read_text())
    assert (home / "runs" / record["run_id"] / "transcript.json").is_file()
    assert f"home {home}" in out and record["run_id"][:8] in out  # the home is printed
    assert not (tmp_path / "data").exists()
    monkeypatch.chdir(tmp_path / "xdg")  # elsewhere, the same home and its runs
    assert main(["runs"]) == 0
    assert record["run_id"][:8] in capsys.readouterr().out


def test_run_help_has_examples(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    assert "examples:" in text and "pipeline-kit run talk.wav --out talk-results" in text
    assert "default: <home>/runs/<run id>" in text
