"""A finished run's artifacts as the collection's tables (one :class:`RunTables` per run).

Reads the JSON artifacts in place (``<home>/artifacts/<stage>/<key>.json``) and the
chunk vectors the chunking stage kept (:mod:`pipeline_kit.pipeline._chunk_vectors`); nothing
is embedded here.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline_kit.collection._time import narrow, resolve_relative_markers, year_fraction
from pipeline_kit.pipeline._artifacts import ArtifactCache
from pipeline_kit.pipeline._chunk_vectors import (
    SentenceVectors,
    load_sentence_vectors,
    load_vectors,
)
from pipeline_kit.pipeline._speaker_names import RECORD_KEY, presented
from pipeline_kit.stages._text import split_text, word_offsets
from pipeline_kit.stages._types import Chapter, Chunk, Diarization, Transcript, dominant_speaker

STORE_FILE = "tasks.sqlite3"


@dataclass
class RunTables:
    """One run, ready to index: its identity and one DataFrame per table."""

    run_id: str
    recording_id: str  # the audio's sha256 (or any stable id of the source)
    recording: str  # a readable name (the audio file's name)
    started_at: str | None
    finished_at: str | None
    home: str
    out_dir: str | None
    parameters: dict[str, Any]
    duration: float
    audio_path: str | None
    chunks: pd.DataFrame  # chunk_index, chunk_id, text, start_time, end_time, ...
    vectors: np.ndarray | None = None  # one unit row per chunk, or None
    sentences: SentenceVectors | None = None  # the chunks' sentence vectors, or None
    words: pd.DataFrame = field(default_factory=pd.DataFrame)
    chapters: pd.DataFrame = field(default_factory=pd.DataFrame)
    concepts: pd.DataFrame = field(default_factory=pd.DataFrame)
    mentions: pd.DataFrame = field(default_factory=pd.DataFrame)
    cooccurrences: pd.DataFrame = field(default_factory=pd.DataFrame)
    questions: pd.DataFrame = field(default_factory=pd.DataFrame)
    markers: pd.DataFrame = field(default_factory=pd.DataFrame)
    speakers: pd.DataFrame = field(default_factory=pd.DataFrame)


# ----------------------------------------------------------------------------- finding runs

def resolve_homes(source: str | os.PathLike[str]) -> list[Path]:
    """The pipeline homes under ``source``: a home, a batch output (``<dir>/home``), or a
    folder of either. Raises a clear error for anything else."""
    p = Path(source).expanduser().resolve()
    if not p.is_dir():
        raise FileNotFoundError(f"collection source {str(source)!r} is not a folder")
    if (p / STORE_FILE).is_file() or (p / "artifacts").is_dir():
        return [p]
    if (p / "home" / STORE_FILE).is_file():
        return [p / "home"]
    found = sorted(q.parent for q in p.glob(f"*/{STORE_FILE}"))
    found += sorted(q.parent for q in p.glob(f"*/home/{STORE_FILE}"))
    if not found:
        raise FileNotFoundError(f"{p} holds no pipeline run: no {STORE_FILE} in it, in "
                                f"{p / 'home'} or in its subfolders")
    return found


def finished_runs(home: Path) -> list[dict[str, Any]]:
    """Run records of ``home`` that completed with chunks, oldest first."""
    from pipeline_kit.tasks._store import open_store

    if not (home / STORE_FILE).is_file():
        return []  # runs recorded in another store: indexed by the pipeline as they finish
    store = open_store(home / STORE_FILE, read_only=True)
    try:
        docs = store.list_documents("runs")
    finally:
        store.close()
    done = [d for d in docs if d.get("outcome") == "completed"
            and "chunking" in (d.get("artifact_keys") or {})]
    return sorted(done, key=lambda d: (d.get("finished_at") or "", d.get("run_id")))


# ----------------------------------------------------------------------------- reading a run

def _load(cache: ArtifactCache, record: dict[str, Any], stage: str) -> Any | None:
    key = (record.get("artifact_keys") or {}).get(stage)
    return None if key is None else cache.load(stage, key)


def read_run(record: dict[str, Any], home: Path) -> RunTables:
    """The tables of one finished run (``record`` from the home's ``runs`` store)."""
    art_home = Path(record.get("home") or home)
    if not (art_home / "artifacts").is_dir():
        art_home = home
    cache = ArtifactCache(art_home)
    chunk_data = _load(cache, record, "chunking")
    if chunk_data is None:
        raise FileNotFoundError(f"run {record['run_id']}: its chunking artifact is missing "
                                f"under {art_home / 'artifacts'}")
    transcript_data = _load(cache, record, "transcription")
    diarization_data = _load(cache, record, "diarization")
    # As the run shows them (pk.load_run does the same): words labelled from its
    # diarization, every label renamed by the names given with rename_speakers.
    shown = presented({
        "transcription": Transcript.from_dict(transcript_data) if transcript_data else None,
        "diarization": Diarization.from_dict(diarization_data) if diarization_data else None,
        "chunking": [Chunk.from_dict(d) for d in chunk_data],
        "chapters": [Chapter.from_dict(d) for d in (_load(cache, record, "chapters") or [])],
    }, record.get(RECORD_KEY))
    transcript, chunks, chapters = shown["transcription"], shown["chunking"], shown["chapters"]
    inputs = record.get("inputs") or [{}]
    audio = inputs[0].get("path")
    run = RunTables(
        run_id=record["run_id"], recording_id=inputs[0].get("sha256") or record["run_id"],
        recording=_recording_name(cache, record, audio),
        started_at=record.get("started_at"), finished_at=record.get("finished_at"),
        home=str(art_home), out_dir=record.get("out_dir"),
        parameters=record.get("parameters") or {},
        duration=float(transcript.audio_duration_seconds) if transcript else 0.0,
        audio_path=_audio_path(art_home, record, audio),
        chunks=chunk_frame(chunks, chapters),
    )
    run.vectors, run.sentences = _vectors(art_home, chunks, record)
    run.words = word_frame(transcript) if transcript else pd.DataFrame()
    run.chapters = chapter_frame(chapters)
    run.markers = resolve_relative_markers(marker_frame(chunks), record.get("started_at"))
    run.speakers = speaker_frame(chunks)
    run.questions = question_frame(_load(cache, record, "questions") or [])
    graph = _load(cache, record, "graph")
    if graph:
        run.concepts, run.mentions, run.cooccurrences = graph_frames(graph, run.chunks)
    return run


def _vectors(home: Path, chunks: Sequence[Chunk], record: dict[str, Any]
             ) -> tuple[np.ndarray | None, SentenceVectors | None]:
    """The chunk vectors and sentence vectors the run's chunking stage kept, if any."""
    from pipeline_kit.pipeline._builtin_stages import embedder_identity

    params = record.get("parameters") or {}
    if params.get("chunking_method", "embedding") != "embedding":
        return None, None  # TF-IDF/LSA rows are fitted per transcript: not comparable
    ident = embedder_identity()
    if not ident:
        return None, None
    vectors = load_vectors(home, chunks, ident["name"])
    if vectors is None:
        return None, None
    return vectors, load_sentence_vectors(home, chunks, ident["name"])


def _recording_name(cache: ArtifactCache, record: dict[str, Any], audio: str | None) -> str:
    """The name people know the recording by: the uploaded (or imported) file's own name,
    which the library keeps in its record; audio sent through the API is stored under a
    content name (``audio-<sha256[:16]>.wav``), which stays in ``audio_path``."""
    upload = _load(cache, record, "upload")
    if upload and upload.get("filename"):
        return str(upload["filename"])
    return Path(audio).name if audio else str(record["run_id"])


def _audio_path(home: Path, record: dict[str, Any], original: str | None) -> str | None:
    """The library's copy of the audio when the run has one, else the original path."""
    upload = _load(ArtifactCache(home), record, "upload")
    if upload and upload.get("audio_id") and upload.get("audio_file"):
        p = home / "audio" / upload["audio_id"] / upload["audio_file"]
        if p.is_file():
            return str(p)
    return original


# ----------------------------------------------------------------------------- frames

def chapter_of_chunks(chunks: Sequence[Chunk], chapters: Sequence[Chapter]) -> list[int | None]:
    """Each chunk's chapter: the one listing it, else the one holding its middle."""
    listed = {cid: ch.chapter_index for ch in chapters for cid in ch.chunk_ids}
    out: list[int | None] = []
    for c in chunks:
        if c.chunk_id in listed:
            out.append(listed[c.chunk_id])
            continue
        mid = (c.start_time + c.end_time) / 2
        inside = [ch.chapter_index for ch in chapters if ch.start_time <= mid < ch.end_time]
        out.append(inside[0] if inside else None)
    return out


def chunk_frame(chunks: Sequence[Chunk], chapters: Sequence[Chapter]) -> pd.DataFrame:
    return pd.DataFrame({
        "chunk_index": [c.chunk_index for c in chunks],
        "chunk_id": [c.chunk_id for c in chunks],
        "text": [c.text for c in chunks],
        "start_time": [float(c.start_time) for c in chunks],
        "end_time": [float(c.end_time) for c in chunks],
        "start_word": [c.start_word_index for c in chunks],
        "end_word": [c.end_word_index for c in chunks],
        "topic_index": [c.topic_index for c in chunks],
        "chapter_index": pd.array(chapter_of_chunks(chunks, chapters), dtype="Int64"),
        "speaker": [dominant_speaker(c.speakers) for c in chunks],
        "speakers": [",".join(sorted(c.speakers)) for c in chunks],
    })


def word_frame(t: Transcript) -> pd.DataFrame:
    return pd.DataFrame({
        "word_index": np.arange(len(t.words)),
        "text": [w.text for w in t.words],
        "start_time": [float(w.start) for w in t.words],
        "end_time": [float(w.end) for w in t.words],
        "speaker": [w.speaker for w in t.words],
    })


def chapter_frame(chapters: Sequence[Chapter]) -> pd.DataFrame:
    return pd.DataFrame({
        "chapter_index": [c.chapter_index for c in chapters],
        "title": [c.title for c in chapters],
        "summary": [c.summary for c in chapters],
        "start_time": [float(c.start_time) for c in chapters],
        "end_time": [float(c.end_time) for c in chapters],
        "key_phrases": ["|".join(c.key_phrases) for c in chapters],
        "speaker": [dominant_speaker(c.speakers) for c in chapters],
    })


def speaker_frame(chunks: Sequence[Chunk]) -> pd.DataFrame:
    """Seconds per speaker over the run's chunks (empty before diarization)."""
    total: dict[str, float] = {}
    for c in chunks:
        for s, sec in c.speakers.items():
            total[s] = total.get(s, 0.0) + float(sec)
    return pd.DataFrame({"speaker": list(total), "seconds": list(total.values())})


_YEAR_RE = re.compile(r"^(\d{3,4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DECADE_RE = re.compile(r"^(\d{3,4})0s$")
_CENTURY_RE = re.compile(r"^(\d{1,2})(?:st|nd|rd|th) century$")
# Named eras as (start year, span), by the usual textbook bounds.
_ERAS: dict[str, tuple[float | None, float | None]] = {
    "middle ages": (500.0, 1000.0), "early middle ages": (500.0, 500.0),
    "high middle ages": (1000.0, 250.0), "late middle ages": (1250.0, 250.0),
    "renaissance": (1400.0, 200.0), "industrial revolution": (1760.0, 80.0),
}


def resolve_year(kind: str, normalized: str | None) -> tuple[float | None, float | None]:
    """(year on the axis, span in years) of a marker, or (None, None) when unresolved.

    "1455" -> (1455, 1); "1980s" -> (1980, 10); "1985-03-04" -> (1985.17, 0);
    "15th century" -> (1400, 100); "Middle Ages" -> (500, 1000). Relative and age
    markers stay unresolved here (relative ones need an anchor: see
    :func:`pipeline_kit.collection._time.resolve_relative_markers`).
    """
    if not normalized:
        return None, None
    m = _YEAR_RE.match(normalized)
    if m:
        year = float(m.group(1))
        if m.group(2):
            return year_fraction(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)), 0.0
        return year, 1.0
    m = _DECADE_RE.match(normalized)
    if m:
        return float(m.group(1)) * 10, 10.0
    m = _CENTURY_RE.match(normalized)
    if m:
        return (int(m.group(1)) - 1) * 100.0, 100.0
    return _ERAS.get(normalized.lower(), (None, None))


def _said_before(text: str, start: int, marker: str) -> str:
    """The words said before a marker's number: a few words of the chunk before it and
    the marker's own words up to its first digit ("the middle of the 15th century")."""
    digit = re.search(r"\d", marker)
    own = marker[: digit.start()] if digit else ""
    return " ".join(text[:start].split()[-5:]) + " " + own


def _word_at(chunk: Chunk, char: int) -> int:
    """Index, within ``chunk``, of the word holding character ``char`` of its text."""
    try:
        words = split_text(chunk.text, chunk.word_count)
    except ValueError:  # a text not built from its word range: count spaces
        return len(chunk.text[:char].split())
    starts = [a for a, _ in word_offsets(words)]
    return max(0, bisect.bisect_right(starts, char) - 1)


def marker_frame(chunks: Sequence[Chunk]) -> pd.DataFrame:
    """Every temporal marker of every chunk, with its time, resolved when it can be.

    Overlapping chunks repeat words: a marker is kept once, in the first chunk
    holding it (same text and same word offset in the transcript).
    """
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for c in chunks:
        for m in c.temporal_info.markers:
            word_at = c.start_word_index + _word_at(c, m.start_char)
            if (m.text, word_at) in seen:
                continue
            seen.add((m.text, word_at))
            year, span = resolve_year(m.kind, m.normalized)
            if year is not None and span is not None and m.kind in ("decade", "era") \
                    and m.normalized and m.normalized.lower() not in _ERAS:
                year, span = narrow(year, span, _said_before(c.text, m.start_char, m.text))
            rows.append({"chunk_id": c.chunk_id, "text": m.text, "kind": m.kind,
                         "normalized": m.normalized, "confidence": float(m.confidence),
                         "year": year, "span_years": span, "word_index": word_at,
                         "start_time": float(c.start_time), "end_time": float(c.end_time)})
    cols = ["chunk_id", "text", "kind", "normalized", "confidence", "year", "span_years",
            "word_index", "start_time", "end_time"]
    return pd.DataFrame(rows, columns=cols)


def question_frame(data: Sequence[dict[str, Any]]) -> pd.DataFrame:
    cols = ["text", "type", "answer", "chunk_id", "start_time", "end_time", "score"]
    return pd.DataFrame([{c: d.get(c) for c in cols} for d in data], columns=cols)


def graph_frames(graph: dict[str, Any], chunks: pd.DataFrame
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Concepts, their mentions (with chunk times) and co-occurrences of a node-link graph."""
    nodes = {n["id"]: n for n in graph.get("nodes", [])}
    concepts = [n for n in nodes.values() if n.get("kind") == "concept"]
    times = dict(zip(chunks["chunk_id"], zip(chunks["start_time"], chunks["end_time"],
                                             strict=True), strict=True))
    mentions, cooc = [], []
    for e in graph.get("edges", graph.get("links", [])):
        kind = e.get("kind")
        a, b = e["source"], e["target"]
        if kind == "mention":
            cid, chunk = (b, a) if nodes.get(b, {}).get("kind") == "concept" else (a, b)
            start, end = times.get(chunk, (None, None))
            mentions.append({"concept_key": nodes[cid].get("key"), "chunk_id": chunk,
                             "count": int(e.get("count", 1)), "start_time": start,
                             "end_time": end})
        elif kind == "cooccurrence":
            cooc.append({"a_key": nodes[a].get("key"), "b_key": nodes[b].get("key"),
                         "strength": float(e.get("strength", e.get("weight", 1.0)))})
    cframe = pd.DataFrame([{"concept_key": n.get("key"), "label": n.get("label"),
                            "weight": float(n.get("weight", 0.0)),
                            "count": int(n.get("count", 0)),
                            "variants": n.get("variants", ""), "merged": n.get("merged", "")}
                           for n in concepts],
                          columns=["concept_key", "label", "weight", "count", "variants",
                                   "merged"])
    return (cframe,
            pd.DataFrame(mentions, columns=["concept_key", "chunk_id", "count", "start_time",
                                            "end_time"]),
            pd.DataFrame(cooc, columns=["a_key", "b_key", "strength"]))


def iter_new_runs(homes: Sequence[Path], known: set[str]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(home, record) of every finished run not in ``known``, home by home."""
    for home in homes:
        for record in finished_runs(home):
            if record["run_id"] not in known:
                known.add(record["run_id"])
                yield home, record


def tables_from_texts(run_id: str, recording: str, texts: Sequence[str],
                      vectors: np.ndarray | None = None, *,
                      sentences: SentenceVectors | None = None, started_at: str | None = None,
                      seconds_per_word: float = 0.4, markers: bool = False) -> RunTables:
    """A run made of plain texts, one chunk each (times spread at ``seconds_per_word``):
    for benchmarks and for indexing text collections that never were audio.

    ``markers``: find the texts' temporal markers too, as the chunking stage does (off
    by default: the regexes cost more than the rest of the indexing)."""
    starts = np.cumsum([0, *(len(t.split()) for t in texts)])
    chunks = pd.DataFrame({
        "chunk_index": np.arange(len(texts)),
        "chunk_id": [f"chunk-{i:04d}" for i in range(len(texts))],
        "text": list(texts),
        "start_time": starts[:-1] * seconds_per_word,
        "end_time": starts[1:] * seconds_per_word,
        "start_word": starts[:-1], "end_word": starts[1:],
        "topic_index": np.arange(len(texts)),
        "chapter_index": pd.array([None] * len(texts), dtype="Int64"),
        "speaker": [None] * len(texts), "speakers": [""] * len(texts),
    })
    run = RunTables(run_id=run_id, recording_id=recording, recording=recording,
                    started_at=started_at, finished_at=started_at, home="", out_dir=None,
                    parameters={}, duration=float(starts[-1] * seconds_per_word),
                    audio_path=None, chunks=chunks, vectors=vectors, sentences=sentences)
    if markers:
        from pipeline_kit.stages._temporal import temporal_info

        found = [Chunk(i, t, int(starts[i]), int(starts[i + 1]), float(chunks["start_time"][i]),
                       float(chunks["end_time"][i]), temporal_info=temporal_info(t))
                 for i, t in enumerate(texts)]
        run.markers = resolve_relative_markers(marker_frame(found), started_at)
    return run
