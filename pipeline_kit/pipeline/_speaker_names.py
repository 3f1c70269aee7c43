"""Speakers as a run's user sees them: a labelled transcript, and names given to labels.

A run's stage artifacts stay as computed (the transcription artifact has no
speakers, so its cache key never depends on diarization). What a run shows (its
:class:`~pipeline_kit.PipelineResult`, saved exports, the API's transcript) is
:func:`presented`: the transcript with speakers assigned from the run's
diarization, and every label replaced by the names :func:`rename_speakers` stored
for the run (``speaker_names`` in the run record and ``speaker_names.json`` beside
the run's exports).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline_kit.base._fs import atomic_write_text
from pipeline_kit.stages._speakers import assign_speakers, check_names, relabel

NAMES_FILE = "speaker_names.json"
RECORD_KEY = "speaker_names"


def presented(values: Mapping[str, Any], names: Mapping[str, str] | None = None
              ) -> dict[str, Any]:
    """Stage results (by stage name) as shown: the transcript labelled from the
    diarization when both are there, then every speaker label renamed by ``names``."""
    out = dict(values)
    if out.get("transcription") is not None and out.get("diarization") is not None:
        out["transcription"] = assign_speakers(out["transcription"], out["diarization"])
    if names:
        out = {stage: relabel(value, names) for stage, value in out.items()}
    return out


def shown_labels(values: Mapping[str, Any]) -> list[str]:
    """Speaker labels of a run as shown now, in order of first appearance."""
    diarization = values.get("diarization")
    if diarization is not None:
        return list(diarization.speakers)
    transcript = values.get("transcription")
    words = transcript.words if transcript is not None else ()
    return list(dict.fromkeys(w.speaker for w in words if w.speaker is not None))


def rename_speakers(result: Any, names: Mapping[str, str], *,
                    store: str | os.PathLike[str] | None = None) -> Any:
    """Give a run's speakers names: ``rename_speakers(result, {"SPEAKER_1": "Interviewer"})``.

    Keys are the run's labels (``SPEAKER_1``...) or names given before; values are
    non-empty names, no two speakers alike (ValueError naming the problem, before
    anything changes). The names are stored for the run: in its record (``run.json``
    and the store's run document; ``store`` names the store when it is not
    ``<home>/tasks.sqlite3`` or ``$PIPELINE_KIT_STORE``) and in ``speaker_names.json``
    beside its exports, which are written again with the names. Returns the renamed
    result; ``result`` itself is unchanged.
    """
    values = result.values
    shown = shown_labels(values)
    if not shown:
        raise ValueError("this run has no speakers to rename (run it with the diarization "
                         "stage)")
    before: dict[str, str] = dict(result.run_record.get(RECORD_KEY) or {})
    label_of = {name: label for label, name in before.items()}  # a given name -> its label
    originals = [label_of.get(s, s) for s in shown]
    if not isinstance(names, Mapping):
        raise ValueError(f"names must be a mapping of speaker label -> name, got {names!r}")
    merged = {**before, **check_names({label_of.get(k, k): v for k, v in names.items()},
                                      originals)}
    check_names(merged, originals)  # the earlier names together with the new ones
    step = {before.get(o, o): merged.get(o, o) for o in originals
            if before.get(o, o) != merged.get(o, o)}
    record = {**result.run_record, RECORD_KEY: merged}
    renamed = dataclasses.replace(result, run_record=record,
                                  values={k: relabel(v, step) for k, v in values.items()})
    _persist(renamed, merged, store)
    return renamed


def _persist(result: Any, names: dict[str, str], store: str | os.PathLike[str] | None) -> None:
    """The names beside the run's exports (written again) and in its stored record."""
    if result.out_dir is not None:
        out = Path(result.out_dir)
        result.save(out)
        atomic_write_text(out / NAMES_FILE, json.dumps(
            {"run_id": result.run_id, "names": names}, ensure_ascii=False, indent=1))
    target = store if store is not None else _store_of(result.run_record)
    if target is None:
        return
    from pipeline_kit.tasks._store import open_store

    opened = open_store(target)
    try:
        doc = opened.get_document("runs", result.run_id)
        if doc is not None:
            opened.put_document("runs", result.run_id, {**doc, RECORD_KEY: names})
    finally:
        opened.close()


def _store_of(record: Mapping[str, Any]) -> str | Path | None:
    """Where a run's record is stored: ``<home>/tasks.sqlite3``, else ``$PIPELINE_KIT_STORE``."""
    from pipeline_kit.tasks._store import STORE_ENV, STORE_FILENAME

    home = record.get("home")
    if home and (Path(home) / STORE_FILENAME).is_file():
        return Path(home) / STORE_FILENAME
    return os.environ.get(STORE_ENV) or None


def saved_names(out_dir: str | os.PathLike[str]) -> dict[str, str]:
    """The names stored beside a saved run's exports ({} when none were given)."""
    p = Path(out_dir) / NAMES_FILE
    return dict(json.loads(p.read_text(encoding="utf-8"))["names"]) if p.is_file() else {}
