"""The per-run files beside the collection's index (term counts ``.npz``, chunk vectors
``.npy``, sentence vectors ``.sent.npy`` and spans ``.span.npy``): their sizes and
SHA-256 are kept in the index's ``sidecars`` table when written, so a truncated or
altered file is found before a search trips over it (size on every open, hash on
``index``), and its run's rows are rebuilt."""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS sidecars(run_id VARCHAR, file VARCHAR, size BIGINT, sha256 VARCHAR);
"""


class SidecarError(Exception):
    """A run's sidecar file is missing, truncated or altered (its rows must be rebuilt)."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems  # run id -> what is wrong, naming the file


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def describe(run_id: str, paths: Iterable[Path]) -> list[list[Any]]:
    """Rows of the ``sidecars`` table for the files just written for ``run_id``."""
    return [[run_id, p.name, p.stat().st_size, file_sha256(p)] for p in paths]


def record(con: Any, rows: list[list[Any]]) -> None:
    if rows:
        con.executemany("INSERT INTO sidecars VALUES (?, ?, ?, ?)", rows)


def damaged(con: Any, folder: Path, *, hashes: bool) -> dict[str, str]:
    """Runs whose recorded sidecars are missing or differ in size (and, with ``hashes``,
    in SHA-256): run id -> the problem, naming the file."""
    problems: dict[str, str] = {}
    rows = con.execute("SELECT run_id, file, size, sha256 FROM sidecars ORDER BY run_id, file"
                       ).fetchall()
    for run_id, name, size, sha in rows:
        if run_id in problems:
            continue
        path = folder / name
        try:
            actual = path.stat().st_size
        except FileNotFoundError:
            problems[run_id] = f"{path} is missing"
            continue
        if actual != size:
            problems[run_id] = f"{path} has {actual} bytes, {size} were written"
        elif hashes and file_sha256(path) != sha:
            problems[run_id] = f"{path} was altered (its SHA-256 differs from the one written)"
    return problems


def unrecorded(con: Any) -> list[tuple[str, int]]:
    """(run id, seq) of runs indexed before sidecars were recorded."""
    return con.execute("SELECT run_id, seq FROM runs WHERE run_id NOT IN "
                       "(SELECT run_id FROM sidecars) ORDER BY seq").fetchall()


def run_tables(con: Any) -> list[str]:
    """Every table of the index with a ``run_id`` column (their rows belong to one run)."""
    return [r[0] for r in con.execute(
        "SELECT DISTINCT table_name FROM information_schema.columns "
        "WHERE column_name = 'run_id' AND table_schema = 'main'").fetchall()]


def forget_runs(con: Any, folder: Path, run_ids: Iterable[str]) -> None:
    """Delete the runs' rows from every table and their sidecar files."""
    ids = list(run_ids)
    if not ids:
        return
    marks = ", ".join("?" * len(ids))
    seqs = con.execute(f"SELECT seq, run_id FROM runs WHERE run_id IN ({marks})", ids).fetchall()
    for table in run_tables(con):
        con.execute(f"DELETE FROM {table} WHERE run_id IN ({marks})", ids)
    for seq, run_id in seqs:
        for f in folder.glob(glob.escape(f"run-{seq:07d}-{run_id}") + ".*"):
            f.unlink(missing_ok=True)
