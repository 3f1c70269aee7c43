"""The collection heals itself (issue 32): a damaged index or sidecar is rebuilt from the
runs' artifacts, writers wait on the collection's lock, a read-only home can be read.

One real run of the bundled sample (transcription and chunking) is made once per module;
each test works on its own copy of that home."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pipeline_kit as pk
from pipeline_kit.collection._collection import Collection

REPO = Path(__file__).resolve().parents[1]
AUSTEN = REPO / "data" / "sample" / "austen_sample.wav"


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[Path, pk.PipelineResult]:
    """A home holding one finished, indexed run of the bundled sample."""
    home = tmp_path_factory.mktemp("heal-home")
    result = pk.run_pipeline(AUSTEN, ["chunking"], home=home, out_dir=home / "out",
                             chunk_size=30, overlap=5)
    return home, result


@pytest.fixture
def home(made, tmp_path) -> Path:
    return Path(shutil.copytree(made[0], tmp_path / "home"))


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline_kit.faces.cli", *args],
                          capture_output=True, text=True, timeout=300, cwd=REPO, **kwargs)


def _damage(path: Path) -> None:
    """Overwrite 4 KiB of the first block after DuckDB's three 4 KiB headers (what a bad
    disk or a torn write leaves): its checksum no longer matches."""
    data = bytearray(path.read_bytes())
    data[12288:16384] = b"\xa5" * 4096
    path.write_bytes(bytes(data))


def test_a_damaged_index_is_set_aside_and_rebuilt_from_the_runs(home, made, caplog):
    db = home / "collection" / "index.duckdb"
    expected = Collection(home).search("Dashwood", k=3, mode="keyword")
    assert len(expected)
    _damage(db)
    out = cli("index", "--rebuild", str(home))
    assert out.returncode == 0, out.stderr
    assert "1 indexed" in out.stdout
    aside = list(db.parent.glob("index.duckdb.corrupt-*"))
    assert len(aside) == 1
    said = [line for line in out.stderr.splitlines() if "damaged" in line]
    assert len(said) == 1 and aside[0].name in said[0] and "rebuilt" in said[0], out.stderr
    again = Collection(home).search("Dashwood", k=3, mode="keyword")
    assert again["chunk_id"].tolist() == expected["chunk_id"].tolist()
    # the Python side heals the same way when a search meets a damaged file
    _damage(db)
    with caplog.at_level(logging.WARNING, "pipeline_kit.collection"):
        coll = Collection(home, update=False)
        hits = coll.search("Dashwood", k=3, mode="keyword")
    assert hits["chunk_id"].tolist() == expected["chunk_id"].tolist()
    assert len(coll.repairs) == 1 and "set aside" in coll.repairs[0]
    assert len(list(db.parent.glob("index.duckdb.corrupt-*"))) == 2


def _sidecar(home: Path, ext: str) -> Path:
    (path,) = [p for p in (home / "collection").glob("run-*")
               if "".join(p.suffixes) == f".{ext}"]
    return path


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_a_truncated_sidecar_is_found_by_its_size_and_its_run_rebuilt(home, made):
    expected = Collection(home).search("Dashwood", k=3)
    assert len(expected)
    npz = _sidecar(home, "npz")
    _truncate(npz)
    coll = Collection(home, update=False)
    hits = coll.search("Dashwood", k=3)  # was: BadZipFile, naming no file
    assert hits["chunk_id"].tolist() == expected["chunk_id"].tolist()
    assert len(coll.repairs) == 1 and str(npz) in coll.repairs[0]
    assert "re-indexed" in coll.repairs[0]
    # a truncated sentence-vector file: `index` finds it, and search works after it
    _truncate(_sidecar(home, "sent.npy"))
    out = cli("index", str(home))
    assert out.returncode == 0 and ".sent.npy has" in out.stderr, out.stderr
    out = cli("search", str(home), "Dashwood", "-k", "3", "--json")
    assert out.returncode == 0, out.stderr  # was: "mmap length is greater than file size"
    assert out.stdout.count("\n") == len(expected)


def test_an_altered_sidecar_of_the_same_size_is_found_by_its_hash_on_index(home, made):
    expected = Collection(home).search("Dashwood", k=3, mode="semantic")
    npy = _sidecar(home, "npy")
    data = bytearray(npy.read_bytes())
    data[-64:] = bytes(64)  # the last vector's tail zeroed: same size, other content
    npy.write_bytes(bytes(data))
    coll = Collection(home, update=False)
    assert coll.index() == 1
    assert len(coll.repairs) == 1 and "altered" in coll.repairs[0] and str(npy) in \
        coll.repairs[0]
    again = coll.search("Dashwood", k=3, mode="semantic")
    assert again["chunk_id"].tolist() == expected["chunk_id"].tolist()
    assert again["score"].tolist() == pytest.approx(expected["score"].tolist())
    assert coll.index() == 0  # nothing damaged any more


HOLD = """
import sys
from pipeline_kit.collection._collection import Collection
coll = Collection(sys.argv[1], update=False)
with coll._db(write=sys.argv[2] == "write"):
    print("held", flush=True)
    sys.stdin.readline()
"""


def _hold(home: Path, how: str) -> subprocess.Popen[str]:
    """A process holding the collection's lock and a connection until its stdin closes."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(home), how], cwd=REPO, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def _release(proc: subprocess.Popen[str]) -> None:
    proc.communicate("\n", timeout=60)
    assert proc.returncode == 0


def test_readers_in_two_processes_share_the_index(home, made):
    coll = Collection(home, update=False)
    reader = _hold(home, "read")
    try:  # was: DuckDB's "Could not set lock on file" (each opened it read-write)
        assert coll.runs()["run_id"].tolist() == [made[1].run_id]
        assert len(coll.search("Dashwood", k=3, mode="keyword"))
        out = cli("search", str(home), "Dashwood", "-k", "2", "--mode", "keyword")
        assert out.returncode == 0, out.stderr
    finally:
        _release(reader)


def test_a_writer_waits_on_the_lock_and_names_its_holder(home, made):
    from pipeline_kit.collection._index_file import CollectionBusyError

    coll = Collection(home, update=False, lock_timeout=0.5)
    writer = _hold(home, "write")
    try:
        with pytest.raises(CollectionBusyError, match=f"pid {writer.pid}"):
            coll.index(rebuild=True)
        with pytest.raises(CollectionBusyError, match=f"pid {writer.pid}"):
            coll.runs()  # a reader waits for the writer too
    finally:
        _release(writer)
    assert coll.index(rebuild=True) == 1  # free again
    # two indexers at once: the second waits for the first, and both succeed
    procs = [subprocess.Popen([sys.executable, "-m", "pipeline_kit.faces.cli", "index",
                               "--rebuild", str(home)], cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "1 run(s) added, 1 indexed" in out


def _no_root_overrides() -> None:
    """In the child, before exec: without the capabilities that let root ignore file
    modes (DAC override, DAC read-search, fowner), a read-only folder is read-only for
    root too. Nothing to do for other users."""
    import ctypes
    import os

    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: gone after exec
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _chmod_tree(root: Path, writable: bool) -> None:
    for p in [root, *root.rglob("*")]:
        mode = p.stat().st_mode
        p.chmod(mode | 0o200 if writable else mode & ~0o222)


def test_a_read_only_home_can_be_listed_and_searched_and_refuses_writes(home, made):
    expected = Collection(home).search("Dashwood", k=2, mode="keyword")
    before = sorted(home.rglob("*"))
    _chmod_tree(home, writable=False)
    try:
        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return cli(*args, preexec_fn=_no_root_overrides)

        tasks = run("tasks", "--home", str(home), "--json")
        assert tasks.returncode == 0, tasks.stderr  # was: "unable to open database file"
        ids = [t["task_id"] for t in __import__("json").loads(tasks.stdout)]
        assert ids
        status = run("status", ids[0], "--home", str(home))
        assert status.returncode == 0 and ids[0] in status.stdout, status.stderr
        runs = run("runs", "--home", str(home))
        assert runs.returncode == 0 and made[1].run_id[:6] in runs.stdout, runs.stderr
        search = run("search", str(home), "Dashwood", "-k", "2", "--mode", "keyword")
        assert search.returncode == 0, search.stderr  # was: creating collection/.lock
        assert expected["chunk_id"].iloc[0] in search.stdout
        for args in (("index", str(home)), ("retry", ids[0], "--home", str(home))):
            refused = run(*args)
            assert refused.returncode != 0 and "read-only" in refused.stderr, refused.stderr
            assert len(refused.stderr.strip().splitlines()) == 1
        assert sorted(home.rglob("*")) == before  # nothing created
    finally:
        _chmod_tree(home, writable=True)


def test_sql_given_by_the_caller_cannot_read_files(home, made):
    coll = Collection(home, update=False)
    secret = home / "secret.txt"
    secret.write_text("Dashwood")
    probes = [f"EXISTS (SELECT * FROM read_text('{secret}'))",
              f"text IN (SELECT content FROM read_text('{secret}'))"]
    for where in probes:  # was: run, with this process's rights
        with pytest.raises(Exception, match="disabled by configuration"):
            coll.search("Dashwood", k=2, mode="keyword", where=where)
        with pytest.raises(Exception, match="disabled by configuration"):
            coll.timeline(where=where)
    with pytest.raises(Exception, match="disabled by configuration"):
        coll.query(f"SELECT * FROM read_text('{secret}')")
    with pytest.raises(Exception, match="disabled by configuration"):
        coll.query(f"COPY chunks TO '{home / 'leak.csv'}'")
    assert not (home / "leak.csv").exists()
    # conditions over the columns still work
    hits = coll.search("Dashwood", k=5, mode="keyword", where="start_time >= 0")
    assert len(hits) and (hits["start_time"] >= 0).all()
    assert coll.query("SELECT count(*) AS n FROM chunks")["n"][0] == len(made[1].chunks)
