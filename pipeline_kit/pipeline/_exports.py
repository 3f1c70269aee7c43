"""``pk.export(result, format=...)``: write a run in the formats its stages declare.

Every format comes from the registry (:attr:`StageSpec.exports`): ``eaf`` (ELAN),
``textgrid`` (Praat), WhisperX's ``json``, ``srt``, ``vtt``, ``txt``, ``tsv`` (and
``all``: those five, as ``whisperx --output_format all``), ``csv`` and ``parquet``
(each stage's records). Files are named after the audio, as WhisperX names them
(``interview.eaf``, ``interview.srt``, ``interview.words.csv``), in ``out`` (default
the run's output folder's ``exports/``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline_kit.pipeline._load_run import load_run
from pipeline_kit.pipeline._pipeline import PipelineResult
from pipeline_kit.pipeline._registry import REGISTRY, ExportCall

# Groups of formats a caller may name at once; "all" is WhisperX's.
GROUPS = {"all": ("json", "srt", "vtt", "txt", "tsv")}
EXPORT_FOLDER = "exports"


def export_formats() -> dict[str, str]:
    """Every format :func:`export` writes, with what it is (and which stages write it)."""
    out = {fmt: "; ".join(f"{spec.name}: {e.description}" for spec, e in writers)
           for fmt, writers in REGISTRY.exports().items()}
    out.update({g: "WhisperX's all: " + ", ".join(members) for g, members in GROUPS.items()})
    return out


def resolve_formats(format: str | Iterable[str]) -> list[str]:
    """The formats named (comma-separated or a list; groups expanded), checked; ValueError
    naming the known ones otherwise."""
    names = format.split(",") if isinstance(format, str) else list(format)
    known = REGISTRY.exports()
    out: list[str] = []
    bad: list[str] = []
    for raw in names:
        name = str(raw).strip().lower()
        if not name:
            continue
        members = GROUPS.get(name, (name,))
        if all(m in known for m in members):
            out.extend(m for m in members if m not in out)
        else:
            bad.append(str(raw))
    if bad or not out:
        what = f"unknown export format(s) {', '.join(map(repr, bad))}" if bad else \
            "no export format given"
        raise ValueError(f"{what}; formats: {', '.join([*known, *GROUPS])}")
    return out


def _check_options(highlight_words: Any, max_line_width: Any, max_line_count: Any) -> None:
    if not isinstance(highlight_words, bool):
        raise ValueError(f"highlight_words must be True or False, got {highlight_words!r}")
    for name, value in (("max_line_width", max_line_width), ("max_line_count", max_line_count)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
    if max_line_count is not None and max_line_width is None:
        raise ValueError("max_line_count needs max_line_width (as in WhisperX)")


def run_audio(result: PipelineResult) -> Path | None:
    """The run's audio file: the path it was run on, else the audio library's copy."""
    inputs = result.run_record.get("inputs") or [{}]
    given = inputs[0].get("path")
    if given and Path(given).is_file():
        return Path(given)
    upload = result.values.get("upload")
    home = result.run_record.get("home")
    spec = REGISTRY.get("upload") if "upload" in REGISTRY else None
    if upload is not None and home and spec is not None and spec.audio_path is not None:
        copy = spec.audio_path(upload, Path(home))
        if copy:
            return Path(copy)
    return None


def _stem(result: PipelineResult) -> str:
    inputs = result.run_record.get("inputs") or [{}]
    given = inputs[0].get("path")
    return Path(given).stem if given else f"run-{result.run_id[:8]}"


def export(result: PipelineResult | str | os.PathLike[str], format: str | Iterable[str] = "all",
           out: str | os.PathLike[str] | None = None, *, home: str | os.PathLike[str] | None = None,
           highlight_words: bool = False, max_line_width: int | None = None,
           max_line_count: int | None = None) -> list[Path]:
    """Write ``result`` (a run, its output folder or its id) in ``format``; the files written.

    ``format``: a name of :func:`export_formats` or several (a list, or comma-separated).
    ``highlight_words`` underlines each word as it is spoken in SRT/VTT (a cue per word,
    as ``whisperx --highlight_words True``); ``max_line_width``/``max_line_count`` cut
    cues as WhisperX's options do. Everything is checked before a file is written; a
    format whose stage did not run is an error naming that stage.
    """
    formats = resolve_formats(format)
    _check_options(highlight_words, max_line_width, max_line_count)
    if not isinstance(result, PipelineResult):
        result = load_run(result, home)
    writers = REGISTRY.exports()
    for fmt in formats:
        if not any(spec.name in result.values for spec, _ in writers[fmt]):
            stages = ", ".join(spec.name for spec, _ in writers[fmt])
            raise ValueError(f"format {fmt!r} needs a result of stage {stages}, which run "
                             f"{result.run_id[:8]} does not have")
    if out is None:
        if result.out_dir is None:
            raise ValueError("this run has no output folder: give out=")
        out = Path(result.out_dir) / EXPORT_FOLDER
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    call = ExportCall(values=result.values, out=folder, stem=_stem(result),
                      audio=run_audio(result),
                      options={"highlight_words": highlight_words,
                               "max_line_width": max_line_width,
                               "max_line_count": max_line_count})
    written: list[Path] = []
    for fmt in formats:
        for spec, e in writers[fmt]:
            if spec.name in result.values:
                written += e.write(call)
    return written
