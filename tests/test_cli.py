"""The pipeline-kit command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline_kit.faces.cli import main

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
    umask = os.umask(0o022)
    os.umask(umask)
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in out.iterdir()}
    assert set(modes.values()) == {oct(0o666 & ~umask)}, modes  # one mode, as umask says
    record = json.loads((out / "run.json").read_text())
    assert record["outcome"] == "completed" and record["parameters"]["chunk_size"] == 80
    assert "completed" in captured.out
    assert "transcription" in captured.err  # text progress lines

    assert main(["runs", "--home", str(home)]) == 0
    runs_table = capsys.readouterr().out.splitlines()
    assert runs_table[0].split() == ["run", "started", "time", "outcome", "audio", "stages",
                                     "cached", "error"]
    row = runs_table[2].split()
    n_stages = str(len(record["stages"]))
    assert row[0] == record["run_id"][:8] and row[4:] == ["completed", WAV.name, n_stages, "0"]
    assert re.fullmatch(r"\d+\.\ds|\d+m\d\ds|\d+h\d\dm", row[3])  # any run length
    assert main(["tasks", "--home", str(home)]) == 0
    tasks_table = capsys.readouterr().out
    assert "semantic_chunking" in tasks_table and record["task_id"] not in tasks_table
    assert re.search(rf"^{record['task_id'][:6]}\s+pipeline\s+completed\s+100%\s+1\s+"
                     r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+\.\ds\s+done$", tasks_table, re.M)
    task_id = record["stage_tasks"]["chunking"]
    assert main(["status", task_id, "--home", str(home)]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "completed"


def test_bad_arguments_exit_non_zero_with_one_line(tmp_path, capsys):
    home = str(tmp_path / "home")
    for argv in (
        ["run", str(WAV), "--out", str(tmp_path / "o"), "--home", home, "--stages", "bogus"],
        ["run", str(WAV), "--out", str(tmp_path / "o"), "--home", home, "--overlap", "500"],
        ["run", str(tmp_path / "missing.wav"), "--home", home],  # (--out is optional now)
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
    assert run_id[:8] in capsys.readouterr().out
    assert main(["tasks", "--store", store_target]) == 0
    listing = capsys.readouterr().out
    assert "semantic_chunking" in listing and "pipeline" in listing


def test_cancel_reaches_a_run_in_another_process(tmp_path, capsys):
    import subprocess
    import sys
    import time

    from pipeline_kit.tasks import SQLiteTaskStore

    home = tmp_path / "home"
    from pk_test_slow_stage import slow_stage_env

    env = slow_stage_env("chunking=120")
    child = subprocess.Popen(
        [sys.executable, "-m", "pipeline_kit.faces.cli", "run", str(WAV),
         "--out", str(tmp_path / "o"),
         "--home", str(home), "--method", "tfidf", "--quiet"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        chunking = None
        while chunking is None:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "chunking never started"
            if (home / "tasks.sqlite3").exists():
                store = SQLiteTaskStore(home / "tasks.sqlite3")
                running = store.list(status="running", task_type="semantic_chunking")
                parent = store.list(task_type="pipeline")
                store.close()
                chunking = running[0] if running else None
            time.sleep(0.2)
        rc = main(["cancel", parent[0].task_id, "--home", str(home), "--wait", "30"])
        out = capsys.readouterr()
        assert rc == 0, out.err
        assert "cancelled" in out.out
        assert child.wait(100) != 0  # ended as cancelled: the stage's 120 s delay never ran out
        store = SQLiteTaskStore(home / "tasks.sqlite3")
        try:
            assert store.get(parent[0].task_id).status.value == "cancelled"
        finally:
            store.close()
    finally:
        if child.poll() is None:
            child.kill()
    store = SQLiteTaskStore(home / "tasks.sqlite3")
    assert store.get(parent[0].task_id).status.value == "cancelled"
    assert store.get(chunking.task_id).status.value == "cancelled"
    assert main(["cancel", parent[0].task_id, "--home", str(home)]) == 2  # already finished
    assert "already finished" in capsys.readouterr().err


def test_bad_arguments_fail_before_any_work(tmp_path, capsys):
    """Each refusal names the problem and leaves no store, artifact or output behind."""

    a_file = tmp_path / "taken"
    a_file.write_text("not a folder")
    home = tmp_path / "home"
    cases = [
        (["--out", str(a_file)], f"output folder {a_file} exists and is not a folder"),
        (["--out", str(tmp_path / "o"), "--chunk-size", "1000000000"],
         "chunk_size must be an integer from 1 to 10000, got 1000000000"),
        (["--out", str(tmp_path / "o"), "--overlap", "150"],
         "overlap must be smaller than chunk_size (150), got 150"),
        (["--out", str(tmp_path / "o"), "--method", "magic"], "unknown chunking_method 'magic'"),
        (["--out", str(tmp_path / "o"), "--stages", "nope"], "unknown stage name(s): 'nope'"),
    ]
    for extra, message in cases:
        rc = main(["run", str(WAV), "--home", str(home), *extra])
        err = capsys.readouterr().err
        assert rc == 1 and message in err, (extra, err)  # before any work: see below
    missing = tmp_path / "missing.wav"
    assert main(["run", str(missing), "--out", str(tmp_path / "o"), "--home", str(home)]) == 1
    assert f"audio file not found: {missing}" in capsys.readouterr().err
    assert main(["run", str(tmp_path), "--out", str(tmp_path / "o"), "--home", str(home)]) == 1
    assert "audio path is not a file" in capsys.readouterr().err
    assert not home.exists() and not (tmp_path / "o").exists()
    assert a_file.read_text() == "not a folder"


def _run_into_closed_pipe(argv: list[str]) -> subprocess.CompletedProcess:
    """``pipeline-kit ARGV`` with stdout a real pipe whose reader has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -1` after its line: every write now fails with EPIPE
    try:
        return subprocess.run([sys.executable, "-m", "pipeline_kit.faces.cli", *argv],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)


def test_printing_commands_exit_0_when_their_reader_goes(tmp_path):
    from pipeline_kit.ingest._upload import AudioLibrary
    from pipeline_kit.tasks import TaskManager

    home = tmp_path / "home"
    mgr = TaskManager(store=home / "tasks.sqlite3")
    try:
        handle = mgr.submit(sum, [1, 2], task_type="demo")
        assert handle.result(30) == 3
        task_id = handle.task_id
    finally:
        mgr.close()
    AudioLibrary(home / "audio").start_upload("u1", expected_chunks=2, filename="a.wav")
    for argv in (["tasks"], ["runs"], ["uploads"], ["status", task_id]):
        done = _run_into_closed_pipe([*argv, "--home", str(home)])
        assert (done.returncode, done.stderr) == (0, ""), argv
    # The same commands into an open pipe print what they should (so they did write).
    listing = subprocess.run([sys.executable, "-m", "pipeline_kit.faces.cli", "tasks", "--home",
                              str(home)], capture_output=True, text=True, timeout=120)
    assert task_id[:6] in listing.stdout and listing.returncode == 0
    shell = subprocess.run(["bash", "-o", "pipefail", "-c", f"{sys.executable} -m "
                            f"pipeline_kit.faces.cli tasks --home {home} | head -1"],
                           capture_output=True, text=True, timeout=120)
    assert (shell.returncode, shell.stderr) == (0, "") and shell.stdout.split()[:2] == [
        "id", "type"]


def test_uploads_lists_prunes_and_removes_crash_leftovers(tmp_path, capsys):
    from pipeline_kit.ingest._upload import AudioLibrary

    home = tmp_path / "home"
    lib = AudioLibrary(home / "audio")
    for uid in ("old", "new"):
        lib.start_upload(uid, expected_chunks=2, filename=f"{uid}.wav")
        lib.receive_chunk(uid, 0, b"x" * 1000)
    week_ago = time.time() - 7 * 86400
    for p in [lib.upload_dir("old"), *lib.upload_dir("old").rglob("*")]:
        os.utime(p, (week_ago, week_ago))
    chunks = lib.upload_dir("new") / "chunks"
    script = ("import sys; from pathlib import Path; from pipeline_kit.base._fs import temp_path, "
              "create_new; p = temp_path(Path(sys.argv[1]), '1'); create_new(p).write(b'y'); "
              "print(p)")  # a writer that dies with its temp file
    dead = Path(subprocess.run([sys.executable, "-c", script, str(chunks)], check=True,
                               capture_output=True, text=True).stdout.strip())
    assert dead.is_file()

    assert main(["uploads", "--home", str(home)]) == 0
    out = capsys.readouterr()
    assert "removed 1 temporary file(s) of dead processes" in out.err and not dead.exists()
    lines = out.out.splitlines()
    assert lines[0].startswith("upload_id") and [ln.split()[0] for ln in lines[1:]] == [
        "old", "new"]
    assert "1/2" in lines[1] and "1000" in lines[1] and "old.wav" in lines[1]
    assert main(["uploads", "--home", str(home), "--prune", "3"]) == 0
    out = capsys.readouterr().out
    assert "pruned 1 upload(s) idle for more than 3 days: old" in out
    assert not lib.upload_dir("old").exists() and lib.missing_chunks("new") == [1]
    assert main(["uploads", "--home", str(home), "--prune", "-1"]) == 2
    assert "--prune DAYS must be >= 0" in capsys.readouterr().err
    lib.delete_upload("new")
    assert main(["uploads", "--home", str(home)]) == 0
    assert capsys.readouterr().out.strip() == "no uploads"


def _seed_tasks(target: str) -> dict[str, str]:
    """Stored attempts whose ids share prefixes, as other processes would leave them."""
    from pipeline_kit.tasks import TaskInfo, TaskStatus, open_store
    from pipeline_kit.tasks._callables import encode_args

    ids = {"a": "abcdef01" + "1" * 24, "b": "abcdef02" + "2" * 24, "c": "123456" + "f" * 26}
    store = open_store(target)
    store.insert(TaskInfo(task_id=ids["a"], task_type="speaker_diarization",
                          status=TaskStatus.COMPLETED))
    store.insert(TaskInfo(task_id=ids["b"], task_type="speaker_diarization",
                          status=TaskStatus.COMPLETED))
    store.insert(TaskInfo(task_id=ids["c"], task_type="speaker_diarization",
                          status=TaskStatus.FAILED, error_message="flaky",
                          callable_ref="task_fixtures:add", call_args=encode_args((2, 3), {})))
    store.close()
    return ids


def test_short_and_ambiguous_id_prefixes(store_target, capsys):
    import task_fixtures  # noqa: F401 - the retried function must import

    ids = _seed_tasks(store_target)
    assert main(["status", ids["a"][:8], "--store", store_target]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["task_id"] == ids["a"] and shown["task_type"] == "speaker_diarization"

    assert main(["status", "abcdef", "--store", store_target]) == 2
    err = capsys.readouterr().err
    assert "ambiguous" in err and ids["a"] in err and ids["b"] in err
    assert len(err.strip().splitlines()) == 1

    assert main(["cancel", "abcdef0", "--store", store_target]) == 2
    assert "ambiguous" in capsys.readouterr().err
    assert main(["cancel", "abcdef02", "--store", store_target]) == 2
    assert f"task {ids['b']} already finished" in capsys.readouterr().err

    assert main(["retry", "123456", "--store", store_target]) == 0
    assert f"retried {ids['c']} as " in capsys.readouterr().out

    assert main(["status", "abcde", "--store", store_target]) == 2  # too short to resolve
    assert "at least 6 characters" in capsys.readouterr().err

    assert main(["tasks", "--store", store_target]) == 0  # a custom task type lists too
    assert capsys.readouterr().out.count("speaker_diarization") == 4  # 3 seeded + the retry


def test_version(capsys):
    import pipeline_kit

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"pipeline-kit {pipeline_kit.__version__}"


def test_task_listing_filters_limits_and_json(store_target, capsys):
    ids = _seed_tasks(store_target)
    assert main(["tasks", "--store", store_target]) == 0
    lines = capsys.readouterr().out.splitlines()
    # "abcdef" is shared, so the ids show as many characters as keep them apart
    assert [ln.split()[0] for ln in lines[2:]] == ["abcdef01", "abcdef02", "123456ff"]
    assert "flaky" in lines[4] and "failed" in lines[4]

    assert main(["tasks", "--store", store_target, "--status", "failed", "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [d["task_id"] for d in docs] == [ids["c"]] and "call_args" not in docs[0]
    assert main(["tasks", "--store", store_target, "--status", "completed,failed",
                 "--type", "speaker_diarization", "--limit", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in out[2:4]] == ["abcdef02", "123456ff"]
    assert out[-1] == "(the newest 2 of 3; --limit 0 shows all)"
    assert main(["tasks", "--store", store_target, "--type", "transcription"]) == 0
    assert capsys.readouterr().out.strip() == "no tasks match"
    assert main(["tasks", "--store", store_target, "--status", "done"]) == 2
    assert "--status done: allowed: pending, running" in capsys.readouterr().err
    assert main(["tasks", "--store", store_target, "--limit", "-1"]) == 2
    assert "--limit must be >= 0" in capsys.readouterr().err


def test_run_listing_filters_and_json(tmp_path, capsys):
    home = tmp_path / "home"
    for size in ("60", "80"):
        assert main(["run", str(WAV), "--out", str(tmp_path / size), "--home", str(home),
                     "--method", "tfidf", "--stages", "chunking", "--chunk-size", size,
                     "--overlap", "10", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["runs", "--home", str(home), "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [d["parameters"]["chunk_size"] for d in docs] == [60, 80]
    assert main(["runs", "--home", str(home), "--limit", "1", "--status", "completed"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].split()[0] == docs[1]["run_id"][:8] and len(out) == 4
    assert main(["runs", "--home", str(home), "--status", "failed"]) == 0
    assert capsys.readouterr().out.strip() == "no runs match"


def test_a_home_without_a_store_is_an_error(tmp_path, capsys):
    typo = tmp_path / "typo"
    for command in (["runs"], ["tasks"], ["status", "abcdef"], ["cancel", "abcdef"]):
        assert main([*command, "--home", str(typo)]) == 2, command
        err = capsys.readouterr().err
        assert err.startswith(f"pipeline-kit: error: no task store at {typo / 'tasks.sqlite3'}")
        assert len(err.strip().splitlines()) == 1
    assert not typo.exists()  # nothing was created by looking


def test_lab_serves_the_notebooks_on_loopback_with_a_token(tmp_path):
    """`pipeline-kit lab` starts this venv's JupyterLab on 127.0.0.1: the printed URL's
    token opens it, no token is refused, the token is not on the command line."""
    import signal
    import urllib.error
    import urllib.request

    pytest.importorskip("jupyterlab", reason="jupyterlab is not installed")
    folder = tmp_path / "nbs"
    folder.mkdir()
    (folder / "hello.ipynb").write_text(json.dumps(
        {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), IPYTHONDIR=str(tmp_path / "ipy"))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline_kit.faces.cli", "lab", "--dir",
                             str(folder), "--no-browser"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        head = [proc.stdout.readline() for _ in range(3)]
        assert head[0].strip() == f"JupyterLab on {folder}", head
        url = head[1].strip()
        m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/lab\?token=(\S+)", url)
        assert m, url
        port, token = m.groups()

        def get(path: str) -> int:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code

        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "jupyterlab exited"
            try:
                status = get(f"/api/contents?token={token}")
                break
            except OSError:
                assert time.monotonic() < deadline, "jupyterlab did not answer in 120 s"
                time.sleep(0.25)
        assert status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}",
                                    timeout=5) as r:
            assert [c["name"] for c in json.loads(r.read())["content"]] == ["hello.ipynb"]
        assert get("/api/contents") == 403  # no token: refused
        assert get("/api/contents?token=wrong" + token) == 403
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode()
        assert "jupyterlab" in cmdline and token not in cmdline and "127.0.0.1" in cmdline
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode is not None
