"""Praat ``.TextGrid`` files of annotation tiers, written with praatio.

Every tier is an interval tier over the whole recording; the gaps between intervals
become empty intervals, as Praat expects.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline_kit.base._fs import temp_path
from pipeline_kit.stages._tiers import Interval

MIN_INTERVAL = 1e-3  # a shorter interval (a word with no measured length) is widened to this


def write_textgrid(path: Path, tiers: Mapping[str, Sequence[Interval]], duration: float
                   ) -> Path:
    """Write ``tiers`` (name -> non-overlapping intervals) as a long-format TextGrid."""
    from praatio import textgrid

    widened = {name: [(s, max(e, s + MIN_INTERVAL), label) for s, e, label in intervals]
               for name, intervals in tiers.items()}
    end = max([duration, MIN_INTERVAL, *(iv[1] for ivs in widened.values() for iv in ivs)])
    grid = textgrid.Textgrid(minTimestamp=0.0, maxTimestamp=end)
    for name, entries in widened.items():
        grid.addTier(textgrid.IntervalTier(name, entries, 0.0, end))
    path = Path(path)
    tmp = temp_path(path.parent, path.name)
    try:
        grid.save(str(tmp), format="long_textgrid", includeBlankSpaces=True,
                  reportingMode="error")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
