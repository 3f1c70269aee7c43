"""A collection of recordings: every finished run of one or more homes, indexed in DuckDB.

``Collection(home)`` (or a list of homes, or a batch output folder) keeps its index in
``<home>/collection/``: ``index.duckdb`` holds recordings, runs, words with times,
chunks, chapters, concepts and their mentions, questions, temporal markers and
speakers; beside it, per run, the hashed term counts of its chunks (``.npz``), the
chunk vectors the chunking stage computed (``.npy``) and its sentence vectors with each
chunk's span of them (``.sent.npy``, ``.span.npy``): copied, never recomputed.
Indexing is incremental (runs already indexed are skipped) and so idempotent; a file
lock serialises writers across processes.

Search (:meth:`Collection.search`) runs in memory over every chunk: BM25 (keyword),
cosine (semantic: chunk vectors, then each best chunk's best sentence) or their fusion
(hybrid); see :mod:`pipeline_kit.collection._search`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from scipy import sparse

from pipeline_kit.base._fs import atomic_write_bytes, atomic_writer
from pipeline_kit.collection._index_file import (
    ReadOnlyCollectionError,
    index_lock,
    is_damaged,
    log,
    set_aside,
    writable,
)
from pipeline_kit.collection._ingest import RunTables, iter_new_runs, read_run, resolve_homes
from pipeline_kit.collection._runs import Runs, chosen_run_ids, run_condition
from pipeline_kit.collection._search import (
    REDUCE_FROM,
    Clusters,
    Searcher,
    SentenceIndex,
    highlight,
    term_counts,
    top_k,
)
from pipeline_kit.collection._sidecars import SCHEMA as SIDECAR_SCHEMA
from pipeline_kit.collection._sidecars import (
    SidecarError,
    damaged,
    describe,
    forget_runs,
    record,
    unrecorded,
)

MODES = ("hybrid", "semantic", "keyword")
# Bumped whenever the stored rows or sidecar files change meaning (e.g. term hashing):
# an index of another format is rebuilt from the homes' runs when opened.
INDEX_FORMAT = "6"
INDEX_FOLDER = "collection"
CLUSTERS_FILE = "clusters.npz"  # the search's inverted lists (see Collection._clusters)
_POOL = 100  # candidates taken from each list before fusing
FUSIONS = ("score", "rrf")
# Hybrid "score" fusion: cosine * (1 + KEYWORD_WEIGHT * BM25 / best BM25 among the
# allowed rows). Multiplied, not added: keyword evidence scales what the embedding
# already sees, so a query the model cannot place (a heading like "6.4 .", cosines all
# near 0) is not reshuffled by a stray term match, which is how the additive mix lost
# recall@5 to semantic alone. The weight, 0.3, was chosen on Choi part-1 documents 0-9
# of each folder only (bench_retrieval, which reports documents 10-49): the best
# recall@5 + MRR there among 0.05-1.2 when chunks were scored by their mean vector.
# Kept since chunks are scored by their best sentence (there, 0.5 would score 0.0015
# more on documents 0-9; on 10-49, 0.1-0.3 beat semantic recall@5 by one query, 0.5
# ties it, and all beat its MRR).
KEYWORD_WEIGHT = 0.3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS recordings(recording_id VARCHAR PRIMARY KEY, recording VARCHAR,
    audio_path VARCHAR, duration DOUBLE);
CREATE TABLE IF NOT EXISTS runs(run_id VARCHAR PRIMARY KEY, seq INTEGER, recording_id VARCHAR,
    started_at VARCHAR, finished_at VARCHAR, date DATE, home VARCHAR, out_dir VARCHAR,
    parameters VARCHAR, first_row BIGINT, n_chunks INTEGER, has_vectors BOOLEAN,
    indexed_at VARCHAR);
CREATE TABLE IF NOT EXISTS chunks(row BIGINT, run_id VARCHAR, recording_id VARCHAR,
    chunk_index INTEGER, chunk_id VARCHAR, text VARCHAR, start_time DOUBLE, end_time DOUBLE,
    start_word INTEGER, end_word INTEGER, topic_index INTEGER, chapter_index INTEGER,
    speaker VARCHAR, speakers VARCHAR);
CREATE TABLE IF NOT EXISTS words(run_id VARCHAR, recording_id VARCHAR, word_index INTEGER,
    text VARCHAR, start_time DOUBLE, end_time DOUBLE, speaker VARCHAR);
CREATE TABLE IF NOT EXISTS chapters(run_id VARCHAR, recording_id VARCHAR, chapter_index INTEGER,
    title VARCHAR, summary VARCHAR, start_time DOUBLE, end_time DOUBLE, key_phrases VARCHAR,
    speaker VARCHAR);
CREATE TABLE IF NOT EXISTS concepts(run_id VARCHAR, recording_id VARCHAR, concept_key VARCHAR,
    label VARCHAR, weight DOUBLE, count INTEGER, variants VARCHAR, merged VARCHAR);
CREATE TABLE IF NOT EXISTS mentions(run_id VARCHAR, recording_id VARCHAR, concept_key VARCHAR,
    chunk_id VARCHAR, count INTEGER, start_time DOUBLE, end_time DOUBLE);
CREATE TABLE IF NOT EXISTS cooccurrences(run_id VARCHAR, recording_id VARCHAR, a_key VARCHAR,
    b_key VARCHAR, strength DOUBLE);
CREATE TABLE IF NOT EXISTS questions(run_id VARCHAR, recording_id VARCHAR, text VARCHAR,
    type VARCHAR, answer VARCHAR, chunk_id VARCHAR, start_time DOUBLE, end_time DOUBLE,
    score DOUBLE);
CREATE TABLE IF NOT EXISTS markers(run_id VARCHAR, recording_id VARCHAR, chunk_id VARCHAR,
    text VARCHAR, kind VARCHAR, normalized VARCHAR, confidence DOUBLE, year DOUBLE,
    span_years DOUBLE, word_index INTEGER, start_time DOUBLE, end_time DOUBLE,
    anchor VARCHAR);
CREATE TABLE IF NOT EXISTS speakers(run_id VARCHAR, recording_id VARCHAR, speaker VARCHAR,
    seconds DOUBLE);
"""
_TABLES = ("words", "chapters", "concepts", "mentions", "cooccurrences", "questions",
           "markers", "speakers")
HIT_COLUMNS = ["recording", "run_id", "chunk_id", "chapter_index", "chapter", "start_time",
               "end_time", "speaker", "snippet", "score", "audio_path", "date"]


_T = TypeVar("_T")


def _date(iso: str | None) -> str | None:
    return iso[:10] if iso else None


class Collection:
    """Every finished run of ``source`` (a home, a batch output folder, or a list of them).

    ``index_dir``: where the index lives (default ``<first home>/collection``).
    ``update``: index new runs now (incremental; cheap when there are none).
    ``lock_timeout``: seconds to wait for another process's writing (or, to write, its
    reading) before :class:`~pipeline_kit.collection._index_file.CollectionBusyError`
    names it.
    """

    def __init__(self, source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                 *, index_dir: str | os.PathLike[str] | None = None,
                 update: bool = True, lock_timeout: float = 120.0) -> None:
        sources = [source] if isinstance(source, (str, os.PathLike)) else list(source)
        if not sources:
            raise ValueError("a collection needs at least one home or batch output folder")
        self.homes = list(dict.fromkeys(h for s in sources for h in resolve_homes(s)))
        self.index_dir = Path(index_dir) if index_dir else self.homes[0] / INDEX_FOLDER
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            if not self.index_dir.is_dir():
                raise ReadOnlyCollectionError(
                    f"{self.index_dir} cannot be created ({e.strerror}): no collection index "
                    f"there yet, and none can be written; run `pipeline-kit index` where the "
                    f"home can be written, or pass index_dir=") from None
        # A folder this process cannot write is read as it is: no update, no repair.
        self.read_only = not writable(self.index_dir)
        self.lock_timeout = lock_timeout
        self._searcher: tuple[float, Searcher, pd.DataFrame] | None = None
        self.repairs: list[str] = []  # what was found damaged and rebuilt, one line each
        if self._healing(self._open_format):
            self.index(rebuild=True)
        elif update:
            self.update()

    def __repr__(self) -> str:
        return f"Collection({[str(h) for h in self.homes]!r}, index_dir={str(self.index_dir)!r})"

    # ------------------------------------------------------------------------- storage

    @property
    def db_path(self) -> Path:
        return self.index_dir / "index.duckdb"

    @contextlib.contextmanager
    def _db(self, write: bool = True) -> Iterator[Any]:
        """A DuckDB connection held under the index's file lock (one writer at a time)."""
        with self._locked(write), self._connect(read_only=not write) as con:
            yield con

    def _locked(self, write: bool) -> contextlib.AbstractContextManager[None]:
        return index_lock(self.index_dir, exclusive=write, timeout=self.lock_timeout)

    @contextlib.contextmanager
    def _connect(self, read_only: bool = False) -> Iterator[Any]:
        """A DuckDB connection; readers open the file read-only, so that readers in
        several processes can share it (DuckDB locks a read-write file for one process).
        No connection may touch other files or the network: :meth:`query` runs the
        caller's SQL on it."""
        import duckdb

        con = duckdb.connect(str(self.db_path), read_only=read_only, config=_NO_EXTERNAL)
        try:
            yield con
        finally:
            con.close()

    def _open_format(self) -> bool:
        """Create the tables if new; True when the index has another format (rebuild it).
        An index already in shape is only read (no writer's lock is needed)."""
        if self.db_path.exists():
            with self._db(write=False) as con:
                tables = {r[0] for r in con.execute(
                    "SELECT table_name FROM information_schema.tables").fetchall()}
                if {"meta", "runs", "sidecars"} <= tables:
                    row = con.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
                    if row is not None:
                        if row[0] != INDEX_FORMAT and self.read_only:
                            raise self._refusal(f"its index has format {row[0]}, not "
                                                f"{INDEX_FORMAT}, and must be rebuilt")
                        return row[0] != INDEX_FORMAT
        if self.read_only:
            raise self._refusal("there is no collection index in it yet")
        with self._db() as con:
            con.execute(_SCHEMA + SIDECAR_SCHEMA)
            return self._format(con) != INDEX_FORMAT

    def _refusal(self, why: str) -> ReadOnlyCollectionError:
        return ReadOnlyCollectionError(
            f"{self.index_dir} is read-only for this process and {why}: run "
            f"`pipeline-kit index` where the home can be written")

    def _writing(self, what: str) -> None:
        """Refuse clearly, before any work, to write a collection that cannot be written."""
        if self.read_only:
            raise ReadOnlyCollectionError(
                f"{self.index_dir} is read-only for this process: cannot {what}")

    def _healing(self, work: Callable[[], _T]) -> _T:
        """``work()``; when DuckDB finds the index file damaged, the file is set aside,
        the index rebuilt from the runs' artifacts (it is derived data) and ``work()``
        run once more."""
        try:
            return work()
        except Exception as e:
            if not is_damaged(e):
                raise
            if self.read_only:
                raise self._refusal(f"{self.db_path.name} is damaged ({e})") from e
            self._rebuild_damaged(e, _identity(self.db_path))
        return work()

    def _rebuild_damaged(self, error: Exception, seen: tuple[int, ...] | None) -> None:
        with self._locked(True):
            if _identity(self.db_path) != seen:
                return  # another process has set it aside (and rebuilt it) meanwhile
            aside = set_aside(self.db_path)
            self._clear_files()
            with self._connect() as con:
                added = self._index_into(con, rebuild=True)
        self._touch()
        reason = str(error).splitlines()[0][:160]
        self._say(f"{self.db_path} was damaged ({reason}): set aside as {aside.name}, "
                  f"rebuilt from the runs' artifacts ({added} run(s))")

    def _new_runs(self) -> bool:
        """Whether a home holds a finished run not indexed yet (read under the readers'
        lock: a search does not wait for another reader unless there is work)."""
        known = set(self.query("SELECT run_id FROM runs")["run_id"])
        return next(iter_new_runs(self.homes, known), None) is not None

    def _say(self, line: str) -> None:
        self.repairs.append(line)
        log.warning("pipeline-kit: %s", line)

    def _clear_files(self) -> None:
        """Remove the sidecar files and inverted lists (rows of a new index point at new ones)."""
        for f in [*self.index_dir.glob("run-*"), self.index_dir / CLUSTERS_FILE]:
            f.unlink(missing_ok=True)

    @staticmethod
    def _format(con: Any) -> str | None:
        """The index's format; a new (empty) index takes the current one."""
        row = con.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if row is None and not con.execute("SELECT count(*) FROM runs").fetchone()[0]:
            con.execute("INSERT INTO meta VALUES ('format', ?)", [INDEX_FORMAT])
            return INDEX_FORMAT
        return row[0] if row else None

    def _stamp(self) -> float:
        p = self.index_dir / "stamp"
        return p.stat().st_mtime_ns if p.exists() else 0.0

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Any SQL over the index's tables, as a DataFrame. It runs with DuckDB's external
        access disabled: no other file (``read_text``, ``read_csv``, ``COPY``, ``ATTACH``)
        and no network can be reached from it."""
        def run() -> pd.DataFrame:
            with self._db(write=False) as con:
                return con.execute(sql, params or []).df()

        return self._healing(run)

    # ------------------------------------------------------------------------- indexing

    def index(self, *, rebuild: bool = False, verify: bool = True) -> int:
        """Index every finished run not indexed yet; the number added.

        ``rebuild``: drop the index and index every run again. ``verify``: check every
        sidecar file's SHA-256 first, re-indexing the runs whose files were altered.
        """
        self._writing("index runs into it")

        def run() -> int:
            with self._db() as con:
                return self._index_into(con, rebuild, verify)

        added = self._healing(run)
        if added or rebuild:
            self._touch()
        return added

    def update(self) -> int:
        """Index the runs finished since (nothing when there are none, or when the folder
        cannot be written); the number added. Unlike :meth:`index` it does not hash the
        sidecar files (searches check their sizes): cheap enough before every search."""
        if self.read_only or not self._new_runs():
            return 0
        return self.index(verify=False)

    def _index_into(self, con: Any, rebuild: bool, verify: bool = True) -> int:
        added = 0
        if rebuild:  # dropped, not emptied: another format may have other columns
            for (t,) in con.execute("SELECT table_name FROM information_schema.tables "
                                    "WHERE table_schema = 'main'").fetchall():
                con.execute(f'DROP TABLE IF EXISTS "{t}"')
            con.execute(_SCHEMA + SIDECAR_SCHEMA)
            con.execute("INSERT INTO meta VALUES ('format', ?)", [INDEX_FORMAT])
            self._clear_files()
        bad = {} if rebuild else damaged(con, self.index_dir, hashes=verify)
        self._forget(con, bad)
        known = {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()}
        for home, run in iter_new_runs(self.homes, known):
            added += self._add(con, [read_run(run, home)])
        self._report(con, bad)
        for run_id, seq in unrecorded(con):  # indexed before sizes and hashes were kept
            record(con, describe(run_id, [p for p in self._sidecar_files(seq, run_id)]))
        return added

    def _sidecar_files(self, seq: int, run_id: str) -> list[Path]:
        return sorted(p for ext in ("npz", "npy", "sent.npy", "span.npy")
                      if (p := self._sidecar(seq, run_id, ext)).exists())

    def _forget(self, con: Any, bad: dict[str, str]) -> None:
        """Drop the rows and files of runs whose sidecars are damaged (re-added after)."""
        if bad:
            forget_runs(con, self.index_dir, bad)
            (self.index_dir / CLUSTERS_FILE).unlink(missing_ok=True)  # rows move

    def _report(self, con: Any, bad: dict[str, str]) -> None:
        if not bad:
            return
        back = {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()}
        for run_id, problem in bad.items():
            done = ("re-indexed from its artifacts" if run_id in back else
                    "dropped from the index (no home holds its record)")
            self._say(f"{problem}: run {run_id} {done}")

    def _repair_sidecars(self, bad: dict[str, str]) -> None:
        """Rebuild the rows of runs whose sidecars a search found damaged."""
        with self._db() as con:
            self._forget(con, bad)
            known = {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()}
            for home, run in iter_new_runs(self.homes, known):
                if run["run_id"] in bad:
                    self._add(con, [read_run(run, home)])
            self._report(con, bad)
        self._touch()

    def add_run(self, run: RunTables) -> bool:
        """Index one run given as tables (False when its run id is indexed already)."""
        return self.add_runs([run]) == 1

    def add_runs(self, runs: Sequence[RunTables]) -> int:
        """Index runs given as tables, in one transaction; the number new to the index."""
        self._writing("index runs into it")

        def run() -> int:
            with self._db() as con:
                return self._add(con, runs)

        added = self._healing(run)
        if added:
            self._touch()
        return added

    def _touch(self) -> None:
        atomic_write_bytes(self.index_dir / "stamp", datetime.now(UTC).isoformat().encode(),
                           durable=False)

    def _add(self, con: Any, runs: Sequence[RunTables]) -> int:
        """Write the runs not indexed yet: sidecar files first (rows point at them), then
        every table's rows, one insert per table, in one transaction."""
        known = {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()}
        first_row, seq = con.execute(
            "SELECT coalesce(max(first_row + n_chunks), 0), coalesce(max(seq), 0) "
            "FROM runs").fetchone()
        for run in runs:  # all checked before anything is written
            _check_run(run)
        frames: dict[str, list[pd.DataFrame]] = {}
        meta: list[list[Any]] = []
        recs: list[list[Any]] = []
        files: list[list[Any]] = []
        for run in runs:
            if run.run_id in known:
                continue
            known.add(run.run_id)
            seq += 1
            n = len(run.chunks)
            files += describe(run.run_id, self._write_sidecars(seq, run))
            recs.append([run.recording_id, run.recording, run.audio_path, run.duration])
            meta.append([run.run_id, seq, run.recording_id, run.started_at, run.finished_at,
                         _date(run.started_at), run.home, run.out_dir,
                         json.dumps(run.parameters, default=str), first_row, n,
                         run.vectors is not None, datetime.now(UTC).isoformat()])
            chunks = run.chunks.assign(row=np.arange(first_row, first_row + n, dtype=np.int64))
            for table, df in (("chunks", chunks), *((t, getattr(run, t)) for t in _TABLES)):
                if df is not None and not df.empty:
                    frames.setdefault(table, []).append(
                        df.assign(run_id=run.run_id, recording_id=run.recording_id))
            first_row += n
        if not meta:
            return 0
        con.execute("BEGIN")
        try:
            con.executemany("INSERT OR IGNORE INTO recordings VALUES (?, ?, ?, ?)", recs)
            con.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            meta)
            for table, dfs in frames.items():
                self._insert(con, table, pd.concat(dfs, ignore_index=True))
            record(con, files)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        return len(meta)

    @staticmethod
    def _insert(con: Any, table: str, frame: pd.DataFrame) -> None:
        con.register("_frame", frame)
        try:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frame")
        finally:
            con.unregister("_frame")

    def _sidecar(self, seq: int, run_id: str, ext: str) -> Path:
        return self.index_dir / f"run-{seq:07d}-{run_id}.{ext}"

    def _write_sidecars(self, seq: int, run: RunTables) -> list[Path]:
        """Write the run's sidecar files; their paths."""
        paths = [self._sidecar(seq, run.run_id, "npz")]
        with atomic_writer(paths[0], durable=False) as f:
            sparse.save_npz(f, term_counts(run.chunks["text"].tolist()), compressed=False)
        if run.vectors is None:
            return paths
        arrays = {"npy": np.asarray(run.vectors, dtype=np.float32)}
        if run.sentences is not None:
            arrays |= {"sent.npy": run.sentences.vectors, "span.npy": run.sentences.spans}
        for ext, array in arrays.items():
            paths.append(self._sidecar(seq, run.run_id, ext))
            with atomic_writer(paths[-1], durable=False) as f:
                np.save(f, array)
        return paths

    # ------------------------------------------------------------------------- tables

    def recordings(self, *, runs: Runs = "latest") -> pd.DataFrame:
        """One row per recording: its name, duration, how many runs it has, and the
        chunks of the run(s) ``runs`` chooses (each recording's newest by default)."""
        cond, params = run_condition(runs, "u.run_id")
        chosen_run_ids(self, runs)
        return self.query(f"""
            SELECT r.recording, r.recording_id, r.duration, a.runs, sum(u.n_chunks) AS chunks,
                   a.first_run, a.last_run, r.audio_path
            FROM recordings r JOIN runs u USING (recording_id)
            JOIN (SELECT recording_id, count(*) AS runs, min(date) AS first_run,
                         max(date) AS last_run FROM runs GROUP BY recording_id) a
                 USING (recording_id)
            WHERE {cond}
            GROUP BY ALL ORDER BY r.recording""", params)

    def runs(self) -> pd.DataFrame:
        """One row per indexed run."""
        return self.query("SELECT u.*, r.recording FROM runs u JOIN recordings r "
                          "USING (recording_id) ORDER BY seq")

    def table(self, name: str) -> pd.DataFrame:
        """A whole table of the index (``words``, ``chunks``, ``markers``, ...)."""
        if name not in ("recordings", "runs", "chunks", *_TABLES):
            raise ValueError(f"no table {name!r}; tables: recordings, runs, chunks, "
                             f"{', '.join(_TABLES)}")
        return self.query(f"SELECT * FROM {name}")

    # ------------------------------------------------------------------------- search

    def _loaded(self) -> tuple[Searcher, pd.DataFrame]:
        """The in-memory searcher and chunk metadata, reloaded when the index changed."""
        stamp = self._stamp()
        if self._searcher is not None and self._searcher[0] == stamp:
            return self._searcher[1], self._searcher[2]
        return self._healing(self._load_repairing)

    def _load_repairing(self) -> tuple[Searcher, pd.DataFrame]:
        try:
            return self._load()
        except SidecarError as e:
            if self.read_only:
                raise self._refusal(f"a run's sidecar file is damaged: {e}") from e
            self._repair_sidecars(e.problems)
        return self._load()

    def _load(self) -> tuple[Searcher, pd.DataFrame]:
        stamp = self._stamp()
        with self._db(write=False) as con:
            bad = damaged(con, self.index_dir, hashes=False)  # sizes: cheap, every time
            if bad:
                raise SidecarError(bad)
            runs = con.execute("SELECT run_id, seq, n_chunks, has_vectors FROM runs "
                               "ORDER BY seq").fetchall()
            meta = con.execute("""
                SELECT c.row, r.recording, c.recording_id, c.run_id, c.chunk_id,
                       c.chapter_index, ch.title AS chapter, c.start_time, c.end_time,
                       c.speaker, c.speakers, c.text, r.audio_path, CAST(u.date AS VARCHAR) AS date,
                       u.seq
                FROM chunks c JOIN runs u USING (run_id) JOIN recordings r
                     ON r.recording_id = c.recording_id
                LEFT JOIN chapters ch ON ch.run_id = c.run_id
                     AND ch.chapter_index = c.chapter_index
                ORDER BY c.row""").df()
        counts, vectors, has = self._load_matrices(runs)
        latest = meta["run_id"].isin(chosen_run_ids(self, "latest")).to_numpy()
        meta["latest"] = latest  # the rule of every view, kept with the loaded chunks
        searcher = Searcher(counts, vectors, has, clusters=self._clusters(vectors, has),
                            sentences=self._sentence_index(runs))
        self._searcher = (stamp, searcher, meta)
        return searcher, meta

    def _clusters(self, vectors: np.ndarray | None, has: np.ndarray) -> Clusters | None:
        """The search's inverted lists (from ``REDUCE_FROM`` chunks on), kept beside the
        index: fitted once, then only new rows are filed; fitted again when the
        collection has more than doubled since (its centroids may no longer fit)."""
        if vectors is None or has.sum() < REDUCE_FROM:
            return None
        path = self.index_dir / CLUSTERS_FILE
        if path.exists():
            with np.load(path) as z:
                fitted, assign, centroids = int(z["fitted"]), z["assign"], z["centroids"]
            if len(assign) <= len(has) <= 2 * fitted and centroids.shape[1] == vectors.shape[1]:
                clusters = Clusters(centroids, assign)
                if len(assign) == len(has):
                    return clusters
                clusters = clusters.extended(vectors, has)
                self._save_clusters(clusters, fitted)
                return clusters
        clusters = Clusters.fit(vectors, has)
        self._save_clusters(clusters, len(has))
        return clusters

    def _save_clusters(self, clusters: Clusters, fitted: int) -> None:
        if self.read_only:
            return  # fitted again by the next process; a read-only folder keeps none
        with atomic_writer(self.index_dir / CLUSTERS_FILE, durable=False) as f:
            np.savez(f, centroids=clusters.centroids, assign=clusters.assign,
                     fitted=np.int64(fitted))

    def _sentence_index(self, runs: list[tuple[Any, ...]]) -> SentenceIndex:
        """The runs' sentence vectors, memory-mapped (a search reads only the rows it
        reranks), and their chunks' spans; None for runs that kept none."""
        first, vectors, spans = [], [], []
        row = 0
        for run_id, seq, n, has_vec in runs:
            first.append(row)
            row += n
            path = self._sidecar(seq, run_id, "sent.npy")
            found = has_vec and path.exists()
            vectors.append(_read(np.load, path, run_id, mmap_mode="r") if found else None)
            spans.append(_read(np.load, self._sidecar(seq, run_id, "span.npy"), run_id)
                         if found else None)
        return SentenceIndex(first, vectors, spans)

    def _load_matrices(self, runs: list[tuple[Any, ...]]
                       ) -> tuple[sparse.csr_matrix, np.ndarray | None, np.ndarray]:
        mats, vecs, has = [], [], []
        width = None
        for run_id, seq, n, has_vec in runs:
            mats.append(_read(sparse.load_npz, self._sidecar(seq, run_id, "npz"), run_id))
            v = _read(np.load, self._sidecar(seq, run_id, "npy"), run_id) if has_vec else None
            if v is not None:
                width = v.shape[1]
            vecs.append(v)
            has.append(np.full(n, v is not None))
        counts = sparse.vstack(mats).tocsr() if mats else sparse.csr_matrix((0, 1))
        hv = np.concatenate(has) if has else np.zeros(0, dtype=bool)
        if width is None:
            return counts, None, hv
        rows = [v if v is not None else np.zeros((n, width), np.float32)
                for v, (_, _, n, _) in zip(vecs, runs, strict=True)]
        return counts, np.ascontiguousarray(np.vstack(rows), dtype=np.float32), hv

    def search(self, q: str, k: int = 20, mode: str = "hybrid",
               where: dict[str, Any] | str | None = None, *, latest: bool = True,
               runs: Runs | None = None, fusion: str = "score") -> pd.DataFrame:
        """The ``k`` chunks that best match ``q``, best first.

        ``mode``: ``"keyword"`` (BM25), ``"semantic"`` (MiniLM cosine: the chunk vectors
        the runs stored pick the best 100 chunks, each then scored by its best-matching
        sentence) or ``"hybrid"`` (both fused: ``fusion="score"``, the cosine times
        1 + 0.3 × the BM25 score relative to the best, or ``"rrf"``, reciprocal-rank
        fusion).
        ``where``: a dict of filters (``recording`` name, id or stored file name,
        ``run_id``, ``speaker``, ``chapter`` index or title words, ``date`` as
        ``(from, to)`` ISO dates, each a value or a list) or a SQL condition over the hit
        columns (run by DuckDB with external access disabled: it reaches no file and no
        network; see docs/collection-repair.md). ``runs``: which runs to search, as every
        view chooses them (:mod:`~pipeline_kit.collection._runs`: each recording's newest
        run by default, ``"all"``, or a list of run ids); ``latest=False`` is
        ``runs="all"``. Columns: recording, run_id, chunk_id,
        chapter_index, chapter, start_time, end_time, speaker, snippet (matched words
        in ``**``), score, audio_path, date.
        """
        q, k, mode = _check_search(q, k, mode)
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
        searcher, meta = self._loaded()
        allowed = _mask(meta, where) & self._chosen_rows(
            meta, runs if runs is not None else ("latest" if latest else "all"))
        rows, scores = self._rank(searcher, q, k, mode, allowed, fusion, meta["text"].to_numpy())
        hits = meta.iloc[rows]
        out = pd.DataFrame({c: hits[c].to_numpy() for c in HIT_COLUMNS
                            if c not in ("snippet", "score")})
        out.insert(8, "snippet", [highlight(t, q) for t in hits["text"]])
        out.insert(9, "score", scores)
        return out[HIT_COLUMNS].reset_index(drop=True)

    def _chosen_rows(self, meta: pd.DataFrame, runs: Runs) -> np.ndarray:
        """Which loaded chunks belong to the runs ``runs`` chooses."""
        if isinstance(runs, str) and runs == "latest":
            return meta["latest"].to_numpy()
        return meta["run_id"].isin(chosen_run_ids(self, runs)).to_numpy()

    def _rank(self, searcher: Searcher, q: str, k: int, mode: str, allowed: np.ndarray,
              fusion: str = "score", texts: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        if mode == "semantic" and (searcher.vectors is None or not searcher.has_vector.any()):
            raise ValueError("no indexed run kept chunk vectors (runs with "
                             "chunking_method='embedding' do): use mode='keyword'")
        pool = max(_POOL, k)
        kw_rows = sem_rows = np.zeros(0, dtype=np.int64)
        if mode in ("keyword", "hybrid"):
            hit_rows, kw = searcher.keyword_hits(q)
            pick = top_k(kw, pool if mode == "hybrid" else k, allowed[hit_rows], positive=True)
            kw_rows = hit_rows[pick]
            if mode == "keyword":
                return kw_rows, kw[pick]
        if searcher.vectors is not None and searcher.has_vector.any():
            q_vector = _encode_query(q)
            with_vector = allowed & searcher.has_vector
            if mode == "hybrid" and fusion == "score":
                best = float(kw[pick[0]]) if len(pick) else 1.0
                boost = (hit_rows, KEYWORD_WEIGHT * kw / max(best, 1e-9))
                found = searcher.semantic_top(q_vector, k, with_vector, boost=boost)
                unstored = kw_rows[~searcher.has_vector[kw_rows]]
                if not len(unstored) or texts is None:
                    return found
                return _with_unstored_hits(found, unstored, texts, q_vector, boost, k)
            sem_rows, sem = searcher.semantic_top(q_vector, pool if mode == "hybrid" else k,
                                                  with_vector)
            if mode == "semantic":
                return sem_rows, sem
        return searcher.fuse([kw_rows, sem_rows], k)

    # ------------------------------------------------------------------------- timeline

    def timeline(self, where: dict[str, Any] | str | None = None, *,
                 runs: Runs = "latest") -> pd.DataFrame:
        """Every temporal marker, with its recording, chunk and audio time, and a ``year``
        on a shared axis when it resolves: years, decades, dates, centuries and eras by
        themselves; relative markers against the ``anchor`` column names (the nearest
        preceding absolute marker of the run for "ten years later", the recording date
        for "last year"; see :mod:`pipeline_kit.collection._time`). ``year_start`` and
        ``year_end`` bound the time a marker names ("the middle of the 15th century":
        1425-1475). ``runs``: each recording's newest run by default (see ``search``)."""
        cond, params = run_condition(runs, "m.run_id")
        chosen_run_ids(self, runs)  # names unknown run ids
        df = self.query(f"""
            SELECT r.recording, m.recording_id, m.run_id, m.chunk_id, c.row AS chunk_row,
                   m.text, m.kind, m.normalized, m.year, m.span_years,
                   m.year AS year_start, m.year + m.span_years AS year_end, m.anchor,
                   m.word_index,
                   m.confidence,
                   m.start_time, m.end_time, c.chapter_index, ch.title AS chapter, c.speaker,
                   c.speakers, CAST(u.date AS VARCHAR) AS date, r.audio_path
            FROM markers m JOIN runs u USING (run_id) JOIN recordings r
                 ON r.recording_id = m.recording_id
            JOIN chunks c ON c.run_id = m.run_id AND c.chunk_id = m.chunk_id
            LEFT JOIN chapters ch ON ch.run_id = c.run_id AND ch.chapter_index = c.chapter_index
            WHERE {cond}
            ORDER BY r.recording, m.start_time, m.word_index""", params)
        if isinstance(where, str):
            df = _sql_where(df, "t", where)
        elif where:
            df = df[_mask(df, where)]
        return df.reset_index(drop=True)

    def plot_timeline(self, df: pd.DataFrame | None = None):  # -> matplotlib Figure
        """Markers on a shared year axis (top) and on each recording's audio time (bottom)."""
        from pipeline_kit.collection._plot import plot_timeline

        return plot_timeline(self.timeline() if df is None else df)

    # ------------------------------------------------------------------------- concepts

    def concepts(self, *, embedder: Any = None, similarity: float | None = None,
                 runs: Runs = "latest") -> pd.DataFrame:
        """Concepts merged across recordings: recordings, mentions, first and last
        mention, and the concepts they co-occur with most. ``embedder=False`` merges by
        lemma and containment only. ``runs``: each recording's newest run by default."""
        from pipeline_kit.collection._concepts import merged_concepts

        return merged_concepts(self, embedder=embedder, similarity=similarity,
                               runs=runs)[0]

    def graph(self, *, embedder: Any = None, similarity: float | None = None,
              runs: Runs = "latest"):  # -> nx.Graph
        """The merged concept graph (networkx): concept nodes joined by co-occurrence,
        and recording nodes joined to the concepts they mention. ``runs``: each
        recording's newest run by default."""
        from pipeline_kit.collection._concepts import concept_graph

        return concept_graph(self, embedder=embedder, similarity=similarity, runs=runs)

    # ------------------------------------------------------------------------- coding
    # Codes, codings, quotes and their exports: see pipeline_kit.collection._codings.

    def code(self, name: str, color: str | None = None,
             description: str | None = None) -> dict[str, Any]:
        """Create a code (a theme), or change an existing one's colour or description."""
        from pipeline_kit.collection._codings import add_code

        return add_code(self, name, color, description)

    def codes(self) -> pd.DataFrame:
        """Every code with its colour, description and number of codings."""
        from pipeline_kit.collection._codings import codes

        return codes(self)

    def tag(self, hit_or_span: Any, code: str, note: str | None = None) -> str:
        """Apply ``code`` to a search hit or a ``(recording, start, end)`` span, snapped to
        whole words; the coding's id."""
        from pipeline_kit.collection._codings import tag

        return tag(self, hit_or_span, code, note)

    def untag(self, coding_or_span: Any, code: str | None = None) -> int:
        """Remove codings by id (or list of ids), or those on a hit's or span's words."""
        from pipeline_kit.collection._codings import untag

        return untag(self, coding_or_span, code)

    def codings(self, code: str | None = None) -> pd.DataFrame:
        """Every coding (of ``code``): code, recording, times, speaker, text, note."""
        from pipeline_kit.collection._codings import codings

        return codings(self, code)

    def quotes(self, code: str | None = None) -> pd.DataFrame:
        """Each coded span's text, recording, speaker and m:ss–m:ss time."""
        from pipeline_kit.collection._codings import quotes

        return quotes(self, code)

    def kwic(self, term: str, width: int = 8, *, runs: Runs = "latest") -> pd.DataFrame:
        """Keyword in context: each place ``term`` is said, ``width`` words either side,
        in each recording's newest run by default (``runs``: as every view takes it)."""
        from pipeline_kit.collection._codings import kwic

        return kwic(self, term, width, runs=runs)

    def export_quotes(self, path: str | os.PathLike[str], format: str = "csv",
                      clips: bool = True, code: str | None = None) -> Path:
        """Quotes as CSV or Markdown, with a WAV clip per quote (0.25 s padding)."""
        from pipeline_kit.collection._codings import export_quotes

        return export_quotes(self, Path(path), format, clips, code)

    def export_qdpx(self, path: str | os.PathLike[str], *, audio: bool = True) -> Path:
        """The recordings, transcripts, codes and codings as a REFI-QDA ``.qdpx`` (for
        NVivo, ATLAS.ti, MAXQDA, QualCoder)."""
        from pipeline_kit.collection._qdpx import export_qdpx

        return export_qdpx(self, path, audio=audio)


def index_run(home: str | os.PathLike[str], record: dict[str, Any]) -> bool:
    """Add one finished run (its record) to ``<home>/collection``; False if it was there."""
    coll = Collection(home, update=False)

    def add() -> bool:
        with coll._db() as con:
            if con.execute("SELECT 1 FROM runs WHERE run_id = ?",
                           [record["run_id"]]).fetchone():
                return False
            coll._add(con, [read_run(record, Path(home))])
            return True

    if not coll._healing(add):
        return False
    coll._touch()
    return True


def _read(load: Callable[..., _T], path: Path, run_id: str, **kwargs: Any) -> _T:
    """``load(path)``; a file that cannot be read is a :class:`SidecarError` naming it."""
    try:
        return load(path, **kwargs)
    except Exception as e:  # BadZipFile, "mmap length ...", pickle or header errors
        raise SidecarError({run_id: f"{path} cannot be read ({type(e).__name__}: {e})"}
                           ) from e


def _identity(path: Path) -> tuple[int, ...] | None:
    """Which file ``path`` is now (inode, size, mtime), None when there is none."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _check_run(run: RunTables) -> None:
    """A run's vectors must have one row (and one sentence span) per chunk: search reads
    them by chunk row."""
    n = len(run.chunks)
    if run.vectors is not None and len(run.vectors) != n:
        raise ValueError(f"run {run.run_id!r}: {len(run.vectors)} chunk vectors for "
                         f"{n} chunks")
    if run.sentences is not None:
        if run.vectors is None:
            raise ValueError(f"run {run.run_id!r}: sentence vectors need chunk vectors")
        if len(run.sentences.spans) != n:
            raise ValueError(f"run {run.run_id!r}: {len(run.sentences.spans)} sentence spans "
                             f"for {n} chunks")


def _check_search(q: Any, k: Any, mode: Any) -> tuple[str, int, str]:
    if not isinstance(q, str) or not q.strip():
        raise ValueError("the query must be a non-empty string")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return q, k, mode


def _with_unstored_hits(found: tuple[np.ndarray, np.ndarray], unstored: np.ndarray,
                        texts: np.ndarray, q_vector: np.ndarray,
                        boost: tuple[np.ndarray, np.ndarray], k: int
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``found`` (rows, scores) with the keyword hits that have no stored vector (their
    run chunked without embeddings), each embedded now and scored as the others: its
    cosine times 1 + its keyword boost. Scored as -1 (no cosine) times the boost, the
    one chunk holding a name ranked below every chunk without it."""
    from pipeline_kit.stages._onnx_embedder import text_vectors

    cos = text_vectors([str(t) for t in texts[unstored]]) @ q_vector.astype(np.float32)
    scores = cos * Searcher._factor(unstored, boost)
    rows = np.concatenate([found[0], unstored])
    all_scores = np.concatenate([found[1], scores])
    order = np.lexsort((rows, -all_scores))[:k]
    return rows[order], all_scores[order]


def _encode_query(q: str) -> np.ndarray:
    """The query's MiniLM vector: with ONNX Runtime once the model has been exported on
    this machine (no torch to load), see :mod:`pipeline_kit.stages._onnx_embedder`."""
    from pipeline_kit.stages._onnx_embedder import query_vector

    return query_vector(q)


# User SQL (query(), a ``where`` string) must not reach files or the network: DuckDB's
# read_text('/etc/hostname') or COPY ... TO would otherwise run with this process's rights.
_NO_EXTERNAL: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False}


def _sql_where(frame: pd.DataFrame, name: str, condition: str) -> pd.DataFrame:
    """The rows of ``frame`` (called ``name``) for which the SQL ``condition`` holds, run
    on an in-memory DuckDB without external access (no files, no network)."""
    import duckdb

    con = duckdb.connect(":memory:", config=_NO_EXTERNAL)
    try:
        con.register(name, frame)
        return con.execute(f"SELECT * FROM {name} WHERE {condition}").df()
    finally:
        con.close()


def _values(v: Any) -> list[Any]:
    return list(v) if isinstance(v, (list, tuple, set)) else [v]


_FILTERS = ("recording", "run_id", "speaker", "chapter", "date")


def _mask(meta: pd.DataFrame, where: dict[str, Any] | str | None) -> np.ndarray:
    """Rows of ``meta`` that pass ``where``, as a boolean array."""
    ok = np.ones(len(meta), dtype=bool)
    if where is None:
        return ok
    if isinstance(where, str):
        rows = _sql_where(meta.assign(_i=np.arange(len(meta))), "hits", where)["_i"].to_numpy()
        sel = np.zeros(len(meta), dtype=bool)
        sel[rows] = True
        return ok & sel
    unknown = set(where) - set(_FILTERS)
    if unknown:
        raise ValueError(f"unknown filter {sorted(unknown)}; filters: {', '.join(_FILTERS)}")
    for key, value in where.items():
        ok &= _filter(meta, key, value)
    return ok


def _filter(meta: pd.DataFrame, key: str, value: Any) -> np.ndarray:
    if key == "recording":  # its name, its id, or the name of the file the library keeps
        vals = _values(value)
        stored = meta["audio_path"].fillna("").map(lambda p: Path(p).name if p else "")
        return (meta["recording"].isin(vals) | meta["recording_id"].isin(vals)
                | stored.isin(vals)).to_numpy()
    if key == "date":
        lo, hi = value if isinstance(value, (list, tuple)) else (value, value)
        d = pd.to_datetime(meta["date"])
        sel = np.ones(len(meta), dtype=bool)
        if lo is not None:
            sel &= (d >= pd.Timestamp(lo)).to_numpy()
        if hi is not None:
            sel &= (d <= pd.Timestamp(hi)).to_numpy()
        return sel
    if key == "chapter":
        sel = np.zeros(len(meta), dtype=bool)
        for v in _values(value):
            if isinstance(v, int):
                sel |= (meta["chapter_index"] == v).fillna(False).to_numpy(dtype=bool)
            else:
                sel |= meta["chapter"].fillna("").str.contains(str(v), case=False,
                                                               regex=False).to_numpy()
        return sel
    if key == "speaker":
        wanted = set(_values(value))
        return meta["speakers"].fillna("").map(
            lambda s: bool(wanted & set(s.split(",")))).to_numpy(dtype=bool)
    return meta[key].isin(_values(value)).to_numpy()
