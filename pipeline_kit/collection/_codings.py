"""Qualitative coding in a collection: codes (themes) and codings (a code on a span).

A span is a recording plus start and end seconds, snapped outward to whole words of
the recording's run (the newest one unless a hit names its run), so a coding's text
is exactly the words it covers. Codes and codings are the researcher's work, not
derived data: they live in their own tables of the collection's DuckDB (``codes``,
``codings``), which an index rebuild never drops, and every write is also backed up
to ``codings.json`` beside the index; opened on an index without them (deleted,
rebuilt from scratch), the tables are filled again from that file.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from pipeline_kit.base._fs import atomic_write_text
from pipeline_kit.base._reprs import span as time_span
from pipeline_kit.collection._runs import Runs, chosen_run_ids, run_condition

BACKUP_FILE = "codings.json"
BACKUP_FORMAT = 1
CODINGS_SCHEMA = """
CREATE TABLE IF NOT EXISTS codes(name VARCHAR PRIMARY KEY, color VARCHAR, description VARCHAR,
    created_at VARCHAR);
CREATE TABLE IF NOT EXISTS codings(coding_id VARCHAR PRIMARY KEY, code VARCHAR,
    recording_id VARCHAR, recording VARCHAR, run_id VARCHAR, start_word INTEGER,
    end_word INTEGER, start_time DOUBLE, end_time DOUBLE, text VARCHAR, speaker VARCHAR,
    note VARCHAR, created_at VARCHAR);
"""
CODE_COLUMNS = ["name", "color", "description", "created_at"]
CODING_COLUMNS = ["coding_id", "code", "recording_id", "recording", "run_id", "start_word",
                  "end_word", "start_time", "end_time", "text", "speaker", "note", "created_at"]
# Tableau 10: distinct colours for codes created without one.
PALETTE = ("#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1",
           "#FF9DA7", "#9C755F", "#BAB0AC")
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")


@dataclass(frozen=True)
class Span:
    """A stretch of one recording's run, in whole words ``[start_word, end_word)``."""

    recording_id: str
    recording: str
    run_id: str
    start_word: int
    end_word: int
    start_time: float
    end_time: float
    text: str
    speaker: str | None


class Collection(Protocol):
    """What coding needs of a :class:`~pipeline_kit.collection._collection.Collection`
    (a protocol, so this module does not import the class that calls it)."""

    @property
    def index_dir(self) -> Path: ...

    def _db(self, write: bool = True) -> AbstractContextManager[Any]: ...

    def query(self, sql: str, params: Any = None) -> pd.DataFrame: ...

    def codes(self) -> pd.DataFrame: ...

    def codings(self, code: str | None = None) -> pd.DataFrame: ...


def _now() -> str:
    return datetime.now(UTC).isoformat()


# ----------------------------------------------------------------------------- storage

def ensure_tables(coll: Collection, con: Any) -> None:
    """Create the tables; fill them from the backup file when they are empty and it is not
    (the index was deleted or rebuilt without them)."""
    con.execute(CODINGS_SCHEMA)
    if con.execute("SELECT (SELECT count(*) FROM codes) + "
                   "(SELECT count(*) FROM codings)").fetchone()[0]:
        return  # the tables are the primary copy; the backup is read only to refill them
    backup = read_backup(coll.index_dir)
    if backup["codes"] or backup["codings"]:
        _insert_rows(con, "codes", CODE_COLUMNS, backup["codes"])
        _insert_rows(con, "codings", CODING_COLUMNS, backup["codings"])


def _insert_rows(con: Any, table: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    if rows:
        marks = ", ".join("?" * len(columns))
        con.executemany(f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                        [[r.get(c) for c in columns] for r in rows])


def read_backup(index_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """The codes and codings of ``codings.json`` (empty when there is none); ValueError
    when it is there but unreadable (it is the only other copy: never overwrite it
    silently)."""
    path = Path(index_dir) / BACKUP_FILE
    if not path.exists():
        return {"codes": [], "codings": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {"codes": list(data["codes"]), "codings": list(data["codings"])}
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path} (the backup of the collection's codings) is not readable: "
                         f"{e}; move it aside to go on") from None


def write_backup(coll: Collection, con: Any) -> None:
    """Write every code and coding to ``codings.json`` (after each write, under the lock)."""
    codes = con.execute(f"SELECT {', '.join(CODE_COLUMNS)} FROM codes ORDER BY created_at, name"
                        ).df()
    codings = con.execute(f"SELECT {', '.join(CODING_COLUMNS)} FROM codings "
                          "ORDER BY created_at, coding_id").df()
    doc = {"format": BACKUP_FORMAT, "codes": _records(codes), "codings": _records(codings)}
    atomic_write_text(coll.index_dir / BACKUP_FILE, json.dumps(doc, ensure_ascii=False, indent=1))


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records", force_ascii=False))


# ----------------------------------------------------------------------------- codes

def add_code(coll: Collection, name: str, color: str | None = None,
             description: str | None = None) -> dict[str, Any]:
    """Create code ``name``, or change the colour or description of an existing one."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a code needs a non-empty name")
    name = name.strip()
    if color is not None and not (isinstance(color, str) and _COLOR.fullmatch(color)):
        raise ValueError(f"color must be '#RRGGBB', got {color!r}")
    with coll._db() as con:
        ensure_tables(coll, con)
        row = con.execute("SELECT color, description, created_at FROM codes WHERE name = ?",
                          [name]).fetchone()
        if row is None:
            n = con.execute("SELECT count(*) FROM codes").fetchone()[0]
            color = color or PALETTE[n % len(PALETTE)]
            con.execute("INSERT INTO codes VALUES (?, ?, ?, ?)",
                        [name, color, description, _now()])
        else:
            color = color or row[0]
            description = description if description is not None else row[1]
            con.execute("UPDATE codes SET color = ?, description = ? WHERE name = ?",
                        [color, description, name])
        write_backup(coll, con)
    return {"name": name, "color": color, "description": description}


def codes(coll: Collection) -> pd.DataFrame:
    """Every code with its colour, description and how many codings it has."""
    with coll._db() as con:
        ensure_tables(coll, con)
        return con.execute("""
            SELECT c.name, c.color, c.description, count(g.coding_id) AS codings, c.created_at
            FROM codes c LEFT JOIN codings g ON g.code = c.name
            GROUP BY ALL ORDER BY c.created_at, c.name""").df()


def _known_code(con: Any, code: Any) -> str:
    names = [r[0] for r in con.execute("SELECT name FROM codes ORDER BY name").fetchall()]
    if not isinstance(code, str) or code.strip() not in names:
        raise ValueError(f"no code {code!r}; codes: {', '.join(names) or 'none yet'} "
                         "(create it first: coll.code(name), pipeline-kit code HOME NAME)")
    return code.strip()


# ----------------------------------------------------------------------------- spans

def _span_fields(target: Any) -> tuple[str, float, float, str | None]:
    """(recording, start, end, run_id) of a search hit, a mapping or a
    ``(recording, start, end)`` tuple."""
    if isinstance(target, pd.DataFrame):
        if len(target) != 1:
            raise ValueError(f"tag one hit at a time (a row, e.g. hits.iloc[0]); got "
                             f"{len(target)} rows")
        target = target.iloc[0]
    if isinstance(target, (pd.Series, Mapping)):
        get = target.get
        recording = get("recording", get("recording_id"))
        start = get("start_time", get("start"))
        end = get("end_time", get("end"))
        run_id = get("run_id")
    elif isinstance(target, (tuple, list)) and len(target) == 3:
        recording, start, end = target
        run_id = None
    else:
        raise ValueError("a span is a search hit (a row), a mapping with recording, start "
                         "and end, or a (recording, start, end) tuple; got "
                         f"{type(target).__name__}")
    if recording is None or start is None or end is None:
        raise ValueError("a span needs a recording, a start and an end")
    start, end = float(start), float(end)
    if not 0 <= start < end:
        raise ValueError(f"a span needs 0 <= start < end, got {start:g}-{end:g}")
    return str(recording), start, end, (str(run_id) if run_id else None)


def snap(coll: Collection, con: Any, target: Any) -> Span:
    """The words of ``target``'s recording (its run, else the newest) that overlap it."""
    recording, start, end, run_id = _span_fields(target)
    rec = con.execute("SELECT recording_id, recording FROM recordings "
                      "WHERE recording = ? OR recording_id = ?", [recording, recording]).fetchall()
    if not rec:
        raise ValueError(f"no recording {recording!r} in the collection")
    if len(rec) > 1:
        raise ValueError(f"recording name {recording!r} is ambiguous: give its id "
                         f"({', '.join(r[0] for r in rec)})")
    recording_id, name = rec[0]
    if run_id is None:
        row = con.execute("SELECT run_id FROM runs WHERE recording_id = ? ORDER BY seq DESC "
                          "LIMIT 1", [recording_id]).fetchone()
        run_id = row[0]
    elif not con.execute("SELECT 1 FROM runs WHERE run_id = ? AND recording_id = ?",
                         [run_id, recording_id]).fetchone():
        raise ValueError(f"run {run_id!r} is not a run of recording {name!r}")
    words = con.execute("""
        SELECT word_index, text, start_time, end_time, speaker FROM words
        WHERE run_id = ? AND end_time > ? AND start_time < ? ORDER BY word_index""",
                        [run_id, start, end]).fetchall()
    if not words:
        raise ValueError(f"no words of {name!r} between {start:g} s and {end:g} s")
    talk: dict[str, float] = {}
    for _, _, a, b, who in words:
        if who is not None:
            talk[who] = talk.get(who, 0.0) + (b - a)
    speaker = max(talk, key=lambda k: talk[k]) if talk else None
    return Span(recording_id, name, run_id, words[0][0], words[-1][0] + 1, words[0][2],
                words[-1][3], " ".join(w[1] for w in words), speaker)


# ----------------------------------------------------------------------------- codings

def tag(coll: Collection, target: Any, code: str, note: str | None = None) -> str:
    """Apply ``code`` to ``target`` snapped to words; the coding's id (the existing one
    when the same code is on the same words already: tagging twice is one coding)."""
    if note is not None and not isinstance(note, str):
        raise ValueError(f"note must be text, got {type(note).__name__}")
    with coll._db() as con:
        ensure_tables(coll, con)
        code = _known_code(con, code)
        s = snap(coll, con, target)
        same = con.execute("SELECT coding_id FROM codings WHERE code = ? AND run_id = ? AND "
                           "start_word = ? AND end_word = ?",
                           [code, s.run_id, s.start_word, s.end_word]).fetchone()
        if same:
            if note is not None:
                con.execute("UPDATE codings SET note = ? WHERE coding_id = ?", [note, same[0]])
                write_backup(coll, con)
            return str(same[0])
        coding_id = uuid.uuid4().hex[:12]
        con.execute(f"INSERT INTO codings ({', '.join(CODING_COLUMNS)}) VALUES "
                    f"({', '.join('?' * len(CODING_COLUMNS))})",
                    [coding_id, code, s.recording_id, s.recording, s.run_id, s.start_word,
                     s.end_word, s.start_time, s.end_time, s.text, s.speaker, note, _now()])
        write_backup(coll, con)
    return coding_id


def untag(coll: Collection, target: Any, code: str | None = None) -> int:
    """Remove codings: by id (a string or a list of ids), or those on ``target``'s words
    (of ``code`` only, when given); how many were removed. An unknown id is an error."""
    with coll._db() as con:
        ensure_tables(coll, con)
        if isinstance(target, str) or (isinstance(target, list)
                                       and all(isinstance(t, str) for t in target)):
            ids = [target] if isinstance(target, str) else list(target)
            known = {r[0] for r in con.execute("SELECT coding_id FROM codings").fetchall()}
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise ValueError(f"no coding {', '.join(map(repr, unknown))}")
            con.executemany("DELETE FROM codings WHERE coding_id = ?", [[i] for i in ids])
            removed = len(set(ids))
        else:
            s = snap(coll, con, target)
            where = "run_id = ? AND start_word = ? AND end_word = ?"
            params: list[Any] = [s.run_id, s.start_word, s.end_word]
            if code is not None:
                where += " AND code = ?"
                params.append(_known_code(con, code))
            removed = con.execute(f"SELECT count(*) FROM codings WHERE {where}",
                                  params).fetchone()[0]
            con.execute(f"DELETE FROM codings WHERE {where}", params)
        write_backup(coll, con)
    return int(removed)


def codings(coll: Collection, code: str | None = None) -> pd.DataFrame:
    """Every coding (of ``code`` when given) with its code's colour and the recording's
    audio, ordered by recording and time."""
    with coll._db() as con:
        ensure_tables(coll, con)
        params: list[Any] = []
        where = ""
        if code is not None:
            where = "WHERE g.code = ?"
            params.append(_known_code(con, code))
        return con.execute(f"""
            SELECT g.coding_id, g.code, c.color, g.recording, g.start_time, g.end_time,
                   g.speaker, g.text, g.note, g.recording_id, g.run_id, g.start_word,
                   g.end_word, r.audio_path, g.created_at
            FROM codings g LEFT JOIN codes c ON c.name = g.code
            LEFT JOIN recordings r ON r.recording_id = g.recording_id
            {where} ORDER BY g.recording, g.start_time, g.code""", params).df()


def quotes(coll: Collection, code: str | None = None) -> pd.DataFrame:
    """Each coded span as a quote: code, recording, speaker, ``m:ss–m:ss`` time, text
    (plus start/end seconds, note, coding id and audio path), by code then time."""
    df = codings(coll, code)
    df.insert(4, "time", [time_span(a, b) for a, b in zip(df["start_time"], df["end_time"],
                                                          strict=True)])
    cols = ["code", "recording", "speaker", "time", "text", "start_time", "end_time", "note",
            "coding_id", "audio_path"]
    return df.sort_values(["code", "recording", "start_time"])[cols].reset_index(drop=True)


# ----------------------------------------------------------------------------- kwic

def _norm(token: str) -> str:
    """A word as KWIC compares it: lower case, without punctuation or hyphens."""
    return re.sub(r"[^\w']+", "", token.lower()).strip("'")


def _terms(term: str) -> list[str]:
    """The words of a KWIC term; hyphens split (Whisper says "ill -disposed")."""
    return [n for t in re.split(r"[\s-]+", term) if (n := _norm(t))]


def kwic(coll: Collection, term: str, width: int = 8, *, runs: Runs = "latest") -> pd.DataFrame:
    """Keyword in context: every place ``term`` (one or more words, case and punctuation
    ignored) is said in the runs ``runs`` chooses (each recording's newest by default),
    with ``width`` words either side. ``start_time``/``end_time`` span the whole line
    (what ▶ plays)."""
    if not isinstance(term, str) or not _terms(term):
        raise ValueError("kwic needs a term of at least one word")
    if isinstance(width, bool) or not isinstance(width, int) or width < 0:
        raise ValueError(f"width must be a non-negative integer, got {width!r}")
    wanted = _terms(term)
    n = len(wanted)
    chosen_run_ids(coll, runs)  # names unknown run ids
    cond, params = run_condition(runs, "w.run_id")
    with coll._db(write=False) as con:
        rows = con.execute(rf"""
            WITH hits AS (SELECT w.run_id, w.word_index AS hit FROM words w
                     WHERE {cond} AND
                     trim(regexp_replace(lower(w.text), '[^\w'']+', '', 'g'), '''') = ?)
            SELECT h.run_id, h.hit, w.word_index, w.text, w.start_time, w.end_time, w.speaker,
                   w.recording_id
            FROM hits h JOIN words w ON w.run_id = h.run_id
                 AND w.word_index BETWEEN h.hit - ? AND h.hit + ?
            ORDER BY h.run_id, h.hit, w.word_index""",
                           [*params, wanted[0], width, n - 1 + width]).df()
        recs = con.execute("SELECT recording_id, recording, audio_path FROM recordings").df()
    out = []
    for (run_id, hit), g in rows.groupby(["run_id", "hit"], sort=False):
        at = g["word_index"].to_numpy() - hit
        texts = g["text"].tolist()
        key = [texts[i] for i in range(len(g)) if 0 <= at[i] < n]
        if [_norm(t) for t in key] != wanted:
            continue
        first = g[at == 0].iloc[0]
        out.append({"recording_id": first["recording_id"], "run_id": run_id,
                    "left": " ".join(t for t, a in zip(texts, at, strict=True) if a < 0),
                    "keyword": " ".join(key),
                    "right": " ".join(t for t, a in zip(texts, at, strict=True) if a >= n),
                    "start_time": float(g["start_time"].min()),
                    "end_time": float(g["end_time"].max()),
                    "keyword_start": float(first["start_time"]),
                    "keyword_end": float(g[(at >= 0) & (at < n)]["end_time"].max()),
                    "speaker": first["speaker"]})
    cols = ["recording", "left", "keyword", "right", "start_time", "end_time", "keyword_start",
            "keyword_end", "speaker", "run_id", "audio_path"]
    if not out:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(out).merge(recs, on="recording_id", how="left")
    return df.sort_values(["recording", "keyword_start"])[cols].reset_index(drop=True)


# ----------------------------------------------------------------------------- quotes out

PAD = 0.25  # seconds of audio kept before and after a quote's words
CLIP_RATE = 16_000


def clip_name(recording: str, start: float, end: float) -> str:
    """``interview_1m05.20s-1m09.84s.wav``: the recording and the quote's time."""
    def t(x: float) -> str:
        m, s = divmod(x, 60)
        return f"{int(m)}m{s:05.2f}s"

    return f"{Path(recording).stem}_{t(start)}-{t(end)}.wav"


def cut_clips(df: pd.DataFrame, folder: Path, pad: float = PAD) -> list[str]:
    """One WAV per row of ``df`` (quotes), cut from its recording at the first word's start
    minus ``pad`` to the last word's end plus ``pad`` (inside the recording); the file
    names, in row order."""
    import numpy as np
    import soundfile as sf

    from pipeline_kit.base._fs import atomic_writer
    from pipeline_kit.ingest._audio import load_audio

    missing = sorted({str(p) for p in df["audio_path"]
                      if not (isinstance(p, str) and Path(p).is_file())})
    if missing:
        raise ValueError(f"audio not found for clips: {', '.join(missing)} "
                         "(clips=False writes the quotes alone)")
    folder.mkdir(parents=True, exist_ok=True)
    names = [clip_name(r, a, b) for r, a, b in zip(df["recording"], df["start_time"],
                                                     df["end_time"], strict=True)]
    for path, rows in df.assign(_name=names).groupby("audio_path", sort=False):
        samples = load_audio(path, sr=CLIP_RATE)
        for _, row in rows.iterrows():
            a = max(0, int(round((row["start_time"] - pad) * CLIP_RATE)))
            b = min(len(samples), int(round((row["end_time"] + pad) * CLIP_RATE)))
            with atomic_writer(folder / row["_name"], durable=False) as f:
                sf.write(f, np.asarray(samples[a:b]), CLIP_RATE, format="WAV", subtype="PCM_16")
    return names


def export_quotes(coll: Collection, path: str | Path, format: str = "csv", clips: bool = True,
                  code: str | None = None) -> Path:
    """Write the quotes (of ``code``, else all) as CSV or Markdown at ``path``; with
    ``clips`` one WAV per quote in ``<path stem>_clips/`` beside it, cut on word
    boundaries with 0.25 s of padding, linked from the file."""
    if format not in ("csv", "md"):
        raise ValueError(f"format must be 'csv' or 'md', got {format!r}")
    path = Path(path)
    df = quotes(coll, code)
    if clips and not df.empty:
        folder = path.parent / f"{path.stem}_clips"
        df["clip"] = [f"{folder.name}/{n}" for n in cut_clips(df, folder)]
    if format == "csv":
        atomic_write_text(path, df.drop(columns=["audio_path"]).to_csv(index=False))
    else:
        atomic_write_text(path, quotes_markdown(df))
    return path


def quotes_markdown(df: pd.DataFrame) -> str:
    """Quotes grouped under a heading per code: the words, then who, where and when."""
    lines: list[str] = ["# Quotes", ""]
    for code, group in df.groupby("code", sort=True):
        lines += [f"## {code}", ""]
        for _, q in group.iterrows():
            who = f"{q['speaker']}, " if isinstance(q["speaker"], str) else ""
            clip = f" ([clip]({q['clip']}))" if isinstance(q.get("clip"), str) else ""
            lines.append(f"> {q['text']}")
            lines.append(f">\n> — {who}{q['recording']}, {q['time']}{clip}")
            if isinstance(q["note"], str) and q["note"]:
                lines.append(f">\n> *{q['note']}*")
            lines.append("")
    return "\n".join(lines)
