"""ELAN ``.eaf`` files of annotation tiers, written with pympi-ling.

ELAN stores times as integer milliseconds and refuses an annotation of zero length,
so an interval shorter than 1 ms after rounding is widened to 1 ms. The audio is
linked both by its absolute URL and by its path relative to the ``.eaf`` (ELAN tries
the relative one first, so a folder moved together keeps working).
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline_kit.base._fs import atomic_write_text
from pipeline_kit.stages._tiers import Interval

_MIMES = {".wav": "audio/x-wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4",
          ".flac": "audio/flac", ".ogg": "audio/ogg", ".opus": "audio/ogg"}


def ms(seconds: float) -> int:
    """Whole milliseconds, as ELAN stores times."""
    return max(0, round(seconds * 1000))


def audio_mime(path: Path) -> str:
    return _MIMES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "audio/*"


def write_eaf(path: Path, tiers: Mapping[str, Sequence[Interval]], audio: Path | None = None,
              author: str = "pipeline_kit") -> Path:
    """Write ``tiers`` (name -> non-overlapping intervals) as an ELAN file at ``path``."""
    from pympi.Elan import Eaf, to_string

    eaf = Eaf(author=author)
    eaf.remove_tier("default")
    if audio is not None:
        audio = Path(audio).resolve()
        rel = os.path.relpath(audio, Path(path).resolve().parent)
        eaf.add_linked_file(audio.as_uri(), relpath=rel, mimetype=audio_mime(audio))
    for name, intervals in tiers.items():
        eaf.add_tier(name)
        for start, end, label in intervals:
            a = ms(start)
            eaf.add_annotation(name, a, max(ms(end), a + 1), label)
    text = to_string(eaf)
    atomic_write_text(Path(path), '<?xml version="1.0" encoding="UTF-8"?>\n' + text)
    return Path(path)
