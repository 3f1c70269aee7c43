"""The built-in stages' export formats (declared in :mod:`pipeline_kit.pipeline._builtin_stages`).

Each writer takes an :class:`~pipeline_kit.pipeline._registry.ExportCall` (the run's
results by stage) and writes its files with the format modules of ``stages/``; the
libraries they use (pympi-ling, praatio, WhisperX's writers, pandas) load only when a
file is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline_kit.pipeline._registry import Export, ExportCall
from pipeline_kit.stages._types import Transcript

Writer = Callable[[ExportCall], list[Path]]
SUBTITLE_OPTIONS = ("highlight_words", "max_line_width", "max_line_count")


def _transcript(call: ExportCall) -> Transcript:
    t = call.values.get("transcription")
    if t is None:
        raise ValueError("this export needs the run's transcript, which it does not have")
    return t


def _layered_all(named: dict[str, list[Any]]) -> dict[str, list[Any]]:
    from pipeline_kit.stages._tiers import layered

    out: dict[str, list[Any]] = {}
    for name, intervals in named.items():
        out.update(layered(name, intervals))
    return out


def elan_tiers(call: ExportCall) -> dict[str, list[Any]]:
    """A tier per speaker (segment text), then words, chunks, chapters and questions
    (those the run has)."""
    from pipeline_kit.stages import _tiers as tiers

    t = _transcript(call)
    named: dict[str, list[Any]] = {**tiers.speaker_tiers(t), "words": tiers.word_intervals(t)}
    v = call.values
    if v.get("chunking") is not None:
        named["chunks"] = tiers.chunk_intervals(v["chunking"])
    if v.get("chapters") is not None:
        named["chapters"] = tiers.chapter_intervals(v["chapters"])
    if v.get("questions") is not None:
        named["questions"] = tiers.question_intervals(v["questions"])
    return _layered_all(named)


def praat_tiers(call: ExportCall) -> dict[str, list[Any]]:
    """Interval tiers words, segments, speakers (when the words have speakers) and
    chapters (when the run has them)."""
    from pipeline_kit.stages import _tiers as tiers

    t = _transcript(call)
    named: dict[str, list[Any]] = {"words": tiers.word_intervals(t),
                                   "segments": tiers.segment_intervals(t)}
    turns = tiers.speaker_turns(t)
    if turns:
        named["speakers"] = turns
    if call.values.get("chapters") is not None:
        named["chapters"] = tiers.chapter_intervals(call.values["chapters"])
    return _layered_all(named)


def _write_eaf(call: ExportCall) -> list[Path]:
    from pipeline_kit.stages._elan import write_eaf

    return [write_eaf(call.out / f"{call.stem}.eaf", elan_tiers(call), call.audio)]


def _write_textgrid(call: ExportCall) -> list[Path]:
    from pipeline_kit.stages._praat import write_textgrid

    t = _transcript(call)
    return [write_textgrid(call.out / f"{call.stem}.TextGrid", praat_tiers(call),
                           t.audio_duration_seconds)]


def _whisperx(fmt: str) -> Writer:
    def write(call: ExportCall) -> list[Path]:
        from pipeline_kit.stages._whisperx_formats import write_whisperx

        options = {k: call.options[k] for k in SUBTITLE_OPTIONS
                   if k in call.options and fmt in ("srt", "vtt")}
        return [write_whisperx(_transcript(call), call.out, call.stem, fmt, **options)]

    return write


def _frames(stage: str, value: Any) -> dict[str, Any]:
    """The tables of ``stage``'s result by name: words and segments, chunks, chapters or
    questions."""
    from pipeline_kit.stages._tables import questions_df
    from pipeline_kit.stages._types import chapters_df, chunks_df

    if stage == "transcription":
        return {"words": value.words_df(), "segments": value.segments_df()}
    if stage == "chunking":
        return {"chunks": chunks_df(value)}
    if stage == "chapters":
        return {"chapters": chapters_df(value)}
    if stage == "questions":
        return {"questions": questions_df(value)}
    raise ValueError(f"stage {stage!r} has no tables")


def _tables(stage: str, fmt: str) -> Writer:
    def write(call: ExportCall) -> list[Path]:
        from pipeline_kit.stages._tables import write_table

        frames = _frames(stage, call.values[stage])
        return [write_table(df, call.out, call.stem, name, fmt) for name, df in frames.items()]

    return write


def table_exports(stage: str) -> tuple[Export, ...]:
    """``csv`` and ``parquet`` of ``stage``'s records."""
    return tuple(Export(fmt, _tables(stage, fmt), f"{stage} records as {fmt.upper()}")
                 for fmt in ("csv", "parquet"))


def transcript_exports() -> tuple[Export, ...]:
    """ELAN, Praat, WhisperX's five formats and the word and segment tables."""
    return (
        Export("eaf", _write_eaf, "ELAN: a tier per speaker, words, chunks, chapters, "
               "questions; the audio linked relative to the file"),
        Export("textgrid", _write_textgrid, "Praat TextGrid: words, segments, speakers, "
               "chapters"),
        Export("json", _whisperx("json"), "WhisperX JSON (segments with words)"),
        Export("srt", _whisperx("srt"), "SubRip as WhisperX writes it",
               options=SUBTITLE_OPTIONS),
        Export("vtt", _whisperx("vtt"), "WebVTT as WhisperX writes it",
               options=SUBTITLE_OPTIONS),
        Export("txt", _whisperx("txt"), "plain text, a line per segment, as WhisperX"),
        Export("tsv", _whisperx("tsv"), "start, end (ms), text per segment, as WhisperX"),
        *table_exports("transcription"),
    )
