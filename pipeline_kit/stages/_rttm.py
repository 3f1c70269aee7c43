"""RTTM, the standard text format of speaker turns, written and read.

One line per turn: ``SPEAKER <file> 1 <start> <duration> <NA> <NA> <speaker> <NA> <NA>``
(NIST RT evaluation plan). Gold references of diarization sets come in it, and
scoring tools read it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from pipeline_kit.stages._types import SpeakerTurn


def to_rttm(turns: tuple[SpeakerTurn, ...] | list[SpeakerTurn], file_id: str = "audio") -> str:
    """RTTM text of ``turns`` for the recording ``file_id`` (no spaces allowed in either)."""
    if not file_id or any(c.isspace() for c in file_id):
        raise ValueError(f"RTTM file id must be a non-empty word without spaces, got {file_id!r}")
    lines = []
    for t in turns:
        if any(c.isspace() for c in t.speaker):
            raise ValueError(f"RTTM speaker labels cannot hold spaces, got {t.speaker!r}")
        lines.append(f"SPEAKER {file_id} 1 {t.start:.3f} {t.end - t.start:.3f} "
                     f"<NA> <NA> {t.speaker} <NA> <NA>")
    return "".join(line + "\n" for line in lines)


def parse_rttm(text: str) -> dict[str, list[SpeakerTurn]]:
    """Turns by file id from RTTM text; lines other than SPEAKER lines are skipped.

    Raises ValueError naming the line when a SPEAKER line is malformed.
    """
    out: dict[str, list[SpeakerTurn]] = defaultdict(list)
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] != "SPEAKER":
            continue
        try:
            start, duration = float(fields[3]), float(fields[4])
            speaker = fields[7]
        except (IndexError, ValueError):
            raise ValueError(f"RTTM line {n} is not 'SPEAKER <file> <chan> <start> "
                             f"<duration> <NA> <NA> <speaker> ...': {line!r}") from None
        if duration < 0:
            raise ValueError(f"RTTM line {n} has a negative duration: {line!r}")
        # rounded: binary floats add noise (7.944 + 5.996 = 13.940000000000001)
        out[fields[1]].append(SpeakerTurn(start, round(start + duration, 6), speaker))
    return {k: sorted(v, key=lambda t: (t.start, t.end)) for k, v in out.items()}


def read_rttm(path: str | Path) -> dict[str, list[SpeakerTurn]]:
    """Turns by file id from an RTTM file."""
    return parse_rttm(Path(path).read_text(encoding="utf-8"))
