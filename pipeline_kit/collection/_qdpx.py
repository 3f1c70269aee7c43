"""REFI-QDA project exchange (``.qdpx``): a collection's codes and codings for NVivo,
ATLAS.ti, MAXQDA and QualCoder.

A ``.qdpx`` is a zip holding ``project.qde`` (XML in the ``urn:QDA-XML:project:1.0``
namespace, schema ``Project-mrt2019.xsd``) and ``Sources/``. Each recording is an
``AudioSource`` (its audio copied into ``Sources/``) with the transcript of each run
that is coded (its newest run at least) as a ``Transcript``: plain text in
``Sources/``, one paragraph per speaker turn, and ``SyncPoint`` s tying character
positions to milliseconds (at every paragraph and at both ends of every coding).
Codes form the ``CodeBook``; a coding is a ``TranscriptSelection`` between two sync
points (so it has times and text) carrying a ``Coding`` of its code, its note as the
selection's ``Description``. Each speaker of a recording is a ``Case`` that refers to
that recording and to the selections the speaker says. GUIDs are derived from the
collection's ids (uuid5), so exporting again gives the same GUIDs.

:func:`read_qdpx` reads a ``.qdpx`` back (this module's or another tool's): its codes
and the codings on transcripts, with their times and text.
"""

from __future__ import annotations

import os
import uuid
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline_kit.base._fs import temp_path
from pipeline_kit.collection._codings import Collection

NS = "urn:QDA-XML:project:1.0"
_NAMESPACE = uuid.UUID("6f1c1d64-8a43-4c1b-9a53-3b1f4b0f7c21")  # this toolkit's GUIDs
ET.register_namespace("", NS)


def guid(*parts: object) -> str:
    """A stable GUID for one object of the collection (the same on every export)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(map(str, parts))))


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _sub(parent: ET.Element, tag: str, **attrs: Any) -> ET.Element:
    return ET.SubElement(parent, _q(tag), {k: str(v) for k, v in attrs.items() if v is not None})


def _ms(seconds: float) -> int:
    return max(0, round(float(seconds) * 1000))


@dataclass
class TranscriptText:
    """A run's words as plain text: one paragraph per speaker turn, and where each word
    starts and ends in it (characters)."""

    text: str
    word_start: list[int]
    word_end: list[int]
    paragraphs: list[tuple[int, int]] = field(default_factory=list)  # (word, char) openings


def transcript_text(words: pd.DataFrame) -> TranscriptText:
    """``words`` (word_index order; text, speaker) laid out as paragraphs, a speaker's
    label opening each of their turns."""
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    paragraphs: list[tuple[int, int]] = []
    pos = 0
    last: object = object()
    for i, (text, speaker) in enumerate(zip(words["text"], words["speaker"], strict=True)):
        speaker = speaker if isinstance(speaker, str) else None
        if speaker != last:
            opening = ("\n" if parts else "") + (f"{speaker}: " if speaker else "")
            parts.append(opening)
            pos += len(opening)
            paragraphs.append((i, pos))
            last = speaker
        elif parts:
            parts.append(" ")
            pos += 1
        starts.append(pos)
        parts.append(text)
        pos += len(text)
        ends.append(pos)
    return TranscriptText("".join(parts) + "\n", starts, ends, paragraphs)


# ----------------------------------------------------------------------------- writing

def export_qdpx(coll: Collection, path: str | os.PathLike[str], *, audio: bool = True,
                name: str | None = None) -> Path:
    """Write the collection's recordings, transcripts, codes and codings as a ``.qdpx``.

    ``audio``: copy each recording's audio into the file (``internal://``); False links it
    by its absolute path instead. A recording whose audio is missing is an error (before
    anything is written) unless ``audio=False``.
    """
    path = Path(path)
    if path.suffix.lower() != ".qdpx":
        raise ValueError(f"a REFI-QDA project file ends in .qdpx, got {path.name!r}")
    codes, codings = coll.codes(), coll.codings()
    sources = _sources(coll, codings)
    written = {r for src in sources for r in src["runs"]}
    orphans = codings[~codings["run_id"].isin(written)]
    if not orphans.empty:  # their words are gone: the file would silently miss them
        raise ValueError(f"{len(orphans)} coding(s) are on runs no longer indexed (e.g. "
                         f"{orphans['coding_id'].iloc[0]} on {orphans['recording'].iloc[0]}, "
                         f"run {orphans['run_id'].iloc[0]}): untag them or index that run "
                         "again")
    if audio:
        missing = [s["audio_path"] for s in sources
                   if not (isinstance(s["audio_path"], str) and Path(s["audio_path"]).is_file())]
        if missing:
            raise ValueError(f"audio not found: {', '.join(map(str, missing))} "
                             "(audio=False links it instead of copying it)")
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    user = guid("user", "pipeline_kit")
    root = ET.Element(_q("Project"), {"name": name or path.stem,
                                      "origin": f"pipeline_kit {_version()}",
                                      "creatingUserGUID": user, "creationDateTime": now})
    _sub(_sub(root, "Users"), "User", guid=user, name="pipeline_kit")
    if not codes.empty:
        book = _sub(_sub(root, "CodeBook"), "Codes")
        for c in codes.itertuples():
            code = _sub(book, "Code", guid=guid("code", c.name), name=c.name, isCodable="true",
                        color=c.color)
            if isinstance(c.description, str) and c.description:
                _sub(code, "Description").text = c.description
    files: dict[str, Any] = {}
    cases: dict[tuple[str, str], list[str]] = {}
    source_list = ET.Element(_q("Sources"))
    for s in sources:
        _audio_source(source_list, s, codings, user, now, audio, files, cases)
    if cases:
        case_list = _sub(root, "Cases")
        for (recording_id, speaker), selections in cases.items():
            rec = next(s["recording"] for s in sources if s["recording_id"] == recording_id)
            case = _sub(case_list, "Case", guid=guid("case", recording_id, speaker),
                        name=f"{speaker} ({rec})")
            _sub(case, "SourceRef", targetGUID=guid("source", recording_id))
            for sel in selections:
                _sub(case, "SelectionRef", targetGUID=sel)
    if len(source_list):
        root.append(source_list)
    ET.indent(root)
    qde = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8")
    _write_zip(path, qde, files)
    return path


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("pipeline_kit")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def _sources(coll: Collection, codings: pd.DataFrame) -> list[dict[str, Any]]:
    """Each recording with the runs to write: its newest, and every run a coding is on."""
    recs = coll.query("""
        SELECT r.recording_id, r.recording, r.audio_path, u.run_id, u.seq
        FROM recordings r JOIN runs u USING (recording_id) ORDER BY r.recording, u.seq""")
    coded = set(codings["run_id"])
    out = []
    for rid, g in recs.groupby("recording_id", sort=False):
        newest = g["seq"].max()
        runs = [r for r, seq in zip(g["run_id"], g["seq"], strict=True)
                if seq == newest or r in coded]
        first = g.iloc[0]
        out.append({"recording_id": rid, "recording": first["recording"],
                    "audio_path": first["audio_path"], "runs": runs,
                    "words": {r: coll.query("SELECT text, speaker, start_time, end_time FROM "
                                            "words WHERE run_id = ? ORDER BY word_index", [r])
                              for r in runs}})
    return out


def _audio_source(parent: ET.Element, s: dict[str, Any], codings: pd.DataFrame, user: str,
                  now: str, copy_audio: bool, files: dict[str, Any],
                  cases: dict[tuple[str, str], list[str]]) -> None:
    src = guid("source", s["recording_id"])
    audio = Path(str(s["audio_path"]))
    if copy_audio:
        inner = f"{src}{audio.suffix.lower()}"
        files[inner] = audio
        where = f"internal://{inner}"
    else:
        where = f"absolute://{audio.resolve()}"
    node = _sub(parent, "AudioSource", guid=src, name=s["recording"], path=where,
                creatingUser=user, creationDateTime=now)
    for run_id in s["runs"]:
        words = s["words"][run_id]
        layout = transcript_text(words)
        tid = guid("transcript", run_id)
        files[f"{tid}.txt"] = layout.text.encode("utf-8")
        tr = _sub(node, "Transcript", guid=tid, name=f"{s['recording']} (run {run_id[:8]})",
                  plainTextPath=f"internal://{tid}.txt", creatingUser=user,
                  creationDateTime=now)
        mine = codings[codings["run_id"] == run_id]
        points: dict[tuple[int, int], str] = {}

        def sync(position: int, seconds: float, tr: ET.Element = tr,
                 points: dict[tuple[int, int], str] = points, run_id: str = run_id) -> str:
            key = (position, _ms(seconds))
            if key not in points:
                points[key] = guid("sync", run_id, *key)
                _sub(tr, "SyncPoint", guid=points[key], timeStamp=key[1], position=key[0])
            return points[key]

        for word, char in layout.paragraphs:
            sync(char, words["start_time"].iloc[word])
        marks = [(sync(layout.word_start[c.start_word], c.start_time),
                  sync(layout.word_end[c.end_word - 1], c.end_time)) for c in mine.itertuples()]
        for c, (a, b) in zip(mine.itertuples(), marks, strict=True):
            sel = guid("selection", c.coding_id)
            node_sel = _sub(tr, "TranscriptSelection", guid=sel, name=_clip(c.text),
                            fromSyncPoint=a, toSyncPoint=b, creatingUser=user,
                            creationDateTime=now)
            if isinstance(c.note, str) and c.note:
                _sub(node_sel, "Description").text = c.note
            coding = _sub(node_sel, "Coding", guid=guid("coding", c.coding_id),
                          creatingUser=user, creationDateTime=now)
            _sub(coding, "CodeRef", targetGUID=guid("code", c.code))
            if isinstance(c.speaker, str):
                cases.setdefault((s["recording_id"], c.speaker), []).append(sel)
        for speaker in sorted({w for w in words["speaker"] if isinstance(w, str)}):
            cases.setdefault((s["recording_id"], speaker), [])


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _write_zip(path: Path, qde: bytes, files: dict[str, Any]) -> None:
    """The zip, written beside ``path`` and moved over it: a reader never sees half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path.parent, path.name)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("project.qde", qde)
            for inner, content in files.items():
                if isinstance(content, Path):
                    z.write(content, f"Sources/{inner}", compress_type=zipfile.ZIP_STORED)
                else:
                    z.writestr(f"Sources/{inner}", content)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- reading

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_qdpx(path: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """The codes (name, color, description, guid; nested codes too) and the codings on
    audio and video transcripts (code, source, start/end seconds, text, note) of a
    ``.qdpx``, as :func:`export_qdpx` or another REFI-QDA tool wrote it."""
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read("project.qde"))
        names = set(z.namelist())

        def text_of(tr: ET.Element) -> str:
            inline = tr.find(_q("PlainTextContent"))
            if inline is not None:
                return inline.text or ""
            where = tr.get("plainTextPath", "")
            inner = "Sources/" + where.removeprefix("internal://")
            return z.read(inner).decode("utf-8") if inner in names else ""

        codes = [{"name": c.get("name"), "color": c.get("color"),
                  "description": (c.findtext(_q("Description")) or None), "guid": c.get("guid")}
                 for c in root.iter(_q("Code"))]
        by_guid = {str(c["guid"]).upper(): c["name"] for c in codes}
        rows = []
        for source in root.iter():
            if _local(source.tag) not in ("AudioSource", "VideoSource"):
                continue
            for tr in source.findall(_q("Transcript")):
                text = text_of(tr)
                points = {p.get("guid", "").upper(): (int(p.get("timeStamp", 0)),
                                                      int(p.get("position", 0)))
                          for p in tr.findall(_q("SyncPoint"))}
                for sel in tr.findall(_q("TranscriptSelection")):
                    a = points.get(sel.get("fromSyncPoint", "").upper())
                    b = points.get(sel.get("toSyncPoint", "").upper())
                    for coding in sel.findall(_q("Coding")):
                        ref = coding.find(_q("CodeRef"))
                        rows.append({
                            "code": by_guid.get(str(ref.get("targetGUID", "") if ref is not None
                                                    else "").upper()),
                            "source": source.get("name"),
                            "start_time": a[0] / 1000 if a else None,
                            "end_time": b[0] / 1000 if b else None,
                            "text": text[a[1]:b[1]] if a and b else None,
                            "note": sel.findtext(_q("Description")) or None,
                            "selection": sel.get("guid")})
    return {"codes": pd.DataFrame(codes, columns=["name", "color", "description", "guid"]),
            "codings": pd.DataFrame(rows, columns=["code", "source", "start_time", "end_time",
                                                   "text", "note", "selection"])}
