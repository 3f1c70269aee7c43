"""The run's records as flat tables (CSV or Parquet): words, segments, chunks, chapters,
questions, one row per record, the DataFrames the records already give.

Mapping and list cells (a chunk's ``speakers``, a chapter's ``key_phrases``) are
written as JSON text, so both formats hold them the same way and read back as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline_kit.base._fs import atomic_writer
from pipeline_kit.stages._types import Question

TABLE_FORMATS = ("csv", "parquet")


def questions_df(questions: Sequence[Question]):  # -> pandas.DataFrame
    """One row per question."""
    import dataclasses

    import pandas as pd

    cols = [f.name for f in dataclasses.fields(Question)]
    return pd.DataFrame([q.to_dict() for q in questions], columns=cols)


def _flat(df: Any) -> Any:
    """``df`` with dict, list and tuple cells as JSON text."""
    out = df.copy()
    for col in out.columns:
        if out[col].map(lambda v: isinstance(v, (dict, list, tuple))).any():
            out[col] = out[col].map(
                lambda v: json.dumps(list(v) if isinstance(v, tuple) else v, ensure_ascii=False)
                if isinstance(v, (dict, list, tuple)) else v)
    return out


def write_table(df: Any, out: Path, stem: str, name: str, fmt: str) -> Path:
    """Write ``df`` as ``<out>/<stem>.<name>.<fmt>`` (``csv`` or ``parquet``)."""
    if fmt not in TABLE_FORMATS:
        raise ValueError(f"unknown table format {fmt!r}; formats: {', '.join(TABLE_FORMATS)}")
    path = Path(out) / f"{stem}.{name}.{fmt}"
    flat = _flat(df)
    with atomic_writer(path, durable=False) as f:
        if fmt == "csv":
            f.write(flat.to_csv(index=False).encode("utf-8"))
        else:
            flat.to_parquet(f, index=False)
    return path
