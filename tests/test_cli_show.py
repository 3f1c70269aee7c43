"""Ids that work everywhere (run or task, or a prefix of either) and ``pipeline-kit show``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline_kit.faces.cli import main

WAV = Path(__file__).resolve().parents[1] / "data" / "sample" / "austen_sample.wav"


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    import pipeline_kit as pk

    home = tmp_path_factory.mktemp("show")
    out = home / "out"
    result = pk.run_pipeline(WAV, home=home, out_dir=out, chunking_method="tfidf",
                             chunk_size=40, overlap=5)
    return home, out, result


def test_status_cancel_and_retry_take_a_run_id_or_its_prefix(ran, capsys):
    home, _, result = ran
    record = result.run_record
    assert main(["status", result.run_id[:8], "--home", str(home)]) == 0
    assert json.loads(capsys.readouterr().out)["task_id"] == record["task_id"]
    # a finished run: cancel names the run's task, it does not say "unknown"
    assert main(["cancel", result.run_id, "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert record["task_id"] in err and "already finished" in err
    assert main(["status", "zz" * 4, "--home", str(home)]) == 2
    assert "unknown id 'zzzzzzzz': no run or task has it" in capsys.readouterr().err


def test_show_is_one_screen_about_the_run(ran, capsys):
    home, out, result = ran
    record = result.run_record
    stage_task = record["stage_tasks"]["chunking"]
    for ident in (result.run_id[:8], record["task_id"][:6], stage_task[:6]):
        assert main(["show", ident, "--home", str(home)]) == 0, ident
        text = capsys.readouterr().out
        lines = text.splitlines()
        assert lines[0].startswith(f"run {result.run_id}  completed")
        assert len(lines) <= 24 and max(map(len, lines)) < 400  # one screen
        assert re.search(rf"^audio +{re.escape(str(WAV))}  \(0:2\d\)$", text, re.M)
        assert re.search(r"^stages +upload [\d.]+s · transcription [\d.]+s", text, re.M)
        n_words = len(result.transcript.words)
        assert re.search(rf"^found +{n_words} words · {len(result.chunks)} chunks? · "
                         rf"{len(result.chapters)} chapters?", text, re.M)
        for c in result.chapters:
            m, s = divmod(int(c.start_time), 60)
            assert re.search(rf"^(chapters)? +{m}:{s:02d}  {re.escape(c.title[:20])}",
                             text, re.M)
        assert f"results   {out}/" in text and "transcript.srt" in text
    assert main(["show", result.run_id[:8], "--json", "--home", str(home)]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(record, default=str))


def test_show_refuses_a_task_outside_any_run(ran, capsys):
    from pipeline_kit.tasks import TaskManager

    home, _, _ = ran
    with TaskManager(home / "tasks.sqlite3") as tm:
        h = tm.submit(sum, [1, 2], task_type="custom")
        h.result(10)
    assert main(["show", h.task_id[:8], "--home", str(home)]) == 2
    assert "is not part of a pipeline run" in capsys.readouterr().err


def test_cli_search_shows_times_as_m_ss(ran, capsys):
    home, _, _ = ran
    assert main(["search", str(home), "Dashwood", "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(re.search(r"  \d+:\d\d–\d+:\d\d  ", x) for x in lines), lines
    assert not any(re.search(r"\d+\.\d-", x) for x in lines)  # no "53.4- 83.2s"
    assert "Dashwood" in "".join(lines) and "**" not in "".join(lines)  # marks are not shown
