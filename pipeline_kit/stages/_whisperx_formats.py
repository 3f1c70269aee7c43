"""WhisperX's output formats (json, srt, vtt, txt, tsv), written by WhisperX's own writers.

The transcript is handed to ``whisperx.utils``'s writers in the shape ``whisperx.align``
returns (segments with their words, ``word_segments``, ``language``), so every file is
what ``whisperx --output_format`` would write for the same words: cues per segment,
``--highlight_words`` underlining the word being spoken (``<u>word</u>``, one cue per
word), ``--max_line_width``/``--max_line_count`` re-cutting cues, TSV times in integer
milliseconds, and ``[SPEAKER_1]: `` before a cue when the words have speakers.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pipeline_kit.base._fs import atomic_write_text
from pipeline_kit.stages._types import Transcript

FORMATS = ("json", "srt", "vtt", "txt", "tsv")  # WhisperX's "all", in its order


def _word(w: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"word": w.text, "start": w.start, "end": w.end}
    if w.probability is not None:
        d["score"] = w.probability
    if w.speaker is not None:
        d["speaker"] = w.speaker
    return d


def whisperx_result(t: Transcript) -> dict[str, Any]:
    """The transcript as ``whisperx.align`` (then ``assign_word_speakers``) returns one."""
    segments = []
    for s in t.segments:
        seg: dict[str, Any] = {"start": s.start, "end": s.end, "text": s.text.strip(),
                               "words": [_word(w) for w in t.words[s.word_start:s.word_end]]}
        if s.speaker is not None:
            seg["speaker"] = s.speaker
        segments.append(seg)
    return {"segments": segments, "word_segments": [_word(w) for w in t.words],
            "language": t.language}


def whisperx_text(t: Transcript, fmt: str, *, highlight_words: bool = False,
                  max_line_width: int | None = None, max_line_count: int | None = None) -> str:
    """The text WhisperX's writer for ``fmt`` (one of :data:`FORMATS`) writes."""
    from whisperx.utils import get_writer

    if fmt not in FORMATS:
        raise ValueError(f"unknown WhisperX format {fmt!r}; formats: {', '.join(FORMATS)}")
    writer = get_writer(fmt, ".")
    buf = io.StringIO()
    writer.write_result(whisperx_result(t), buf,
                        {"highlight_words": highlight_words, "max_line_width": max_line_width,
                         "max_line_count": max_line_count})
    return buf.getvalue()


def write_whisperx(t: Transcript, out: Path, stem: str, fmt: str, **options: Any) -> Path:
    """Write ``<out>/<stem>.<fmt>`` as WhisperX names its files."""
    path = Path(out) / f"{stem}.{fmt}"
    atomic_write_text(path, whisperx_text(t, fmt, **options))
    return path
