"""How long a run will take: audio duration × measured seconds of work per audio second.

Each stage's speed is the median ratio ``stage_seconds / audio duration`` over the
newest run records in the store that computed the stage (cache hits are not
measurements). Stages without such a run use their registry entry's declared speed;
stages whose artifact already exists count as 0 (the run will reuse it).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline_kit.pipeline._artifacts import ArtifactCache
from pipeline_kit.pipeline._registry import REGISTRY

MAX_RUNS = 20  # newest measurements per stage that count


@dataclass(frozen=True)
class Estimate:
    """Expected seconds in total and per stage, and what each number rests on."""

    seconds: float
    per_stage: dict[str, float]
    basis: dict[str, str]

    @property
    def minutes(self) -> float:
        return round(self.seconds / 60.0, 2)


def run_audio_seconds(home: Path, record: dict[str, Any], memo: dict[str, float | None]
                      ) -> float | None:
    """Duration of a run's audio, read from its upload (else transcript) artifact."""
    keys = record.get("artifact_keys") or {}
    for stage, field in (("upload", "duration_seconds"),
                         ("transcription", "audio_duration_seconds")):
        key = keys.get(stage)
        if not key:
            continue
        if key not in memo:
            data = ArtifactCache(home).load(stage, key)
            value = data.get(field) if isinstance(data, dict) else None
            memo[key] = float(value) if isinstance(value, int | float) and value > 0 else None
        if memo[key]:
            return memo[key]
    return None


def measured_speeds(records: Iterable[dict[str, Any]],
                    audio_seconds: Callable[[dict[str, Any]], float | None],
                    max_runs: int = MAX_RUNS) -> dict[str, list[float]]:
    """Per stage, seconds per audio second of the newest runs that computed it."""
    out: dict[str, list[float]] = {s: [] for s in REGISTRY.names()}
    newest = sorted(records, key=lambda r: str(r.get("started_at") or ""), reverse=True)
    for rec in newest:
        timed = rec.get("stage_seconds") or {}
        hits = set(rec.get("cache_hits") or ())
        todo = [s for s in timed if s in out and s not in hits and len(out[s]) < max_runs]
        if not todo:
            continue
        duration = audio_seconds(rec)
        if not duration:
            continue
        for stage in todo:
            seconds = timed[stage]
            if isinstance(seconds, int | float) and seconds >= 0:
                out[stage].append(seconds / duration)
    return out


def estimate(duration_seconds: float | None, stages: Iterable[str], cached: Iterable[str],
             speeds: dict[str, list[float]]) -> Estimate:
    """Expected run time of ``stages`` on audio of ``duration_seconds``."""
    duration = max(0.0, float(duration_seconds or 0.0))
    done = set(cached)
    per_stage: dict[str, float] = {}
    basis: dict[str, str] = {}
    for stage in stages:
        measured = speeds.get(stage) or []
        if stage in done:
            per_stage[stage], basis[stage] = 0.0, "cached"
            continue
        if measured:
            ratio = statistics.median(measured)
            basis[stage] = f"measured: median of {len(measured)} earlier run(s)"
        else:
            ratio = REGISTRY.get(stage).seconds_per_audio_second
            basis[stage] = "default: declared by the stage"
        per_stage[stage] = round(ratio * duration, 3)
    return Estimate(round(sum(per_stage.values()), 3), per_stage, basis)
