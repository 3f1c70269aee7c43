"""Distinct copies of a 16-bit WAV for tests and benchmarks that must not share a cache key."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np


def write_scaled_wav(src: Path, dst: Path, gain: float) -> Path:
    """``src`` with every sample times ``gain``: the same speech, a different sha256."""
    with wave.open(str(src)) as r:
        params, frames = r.getparams(), r.readframes(r.getnframes())
    if params.sampwidth != 2:
        raise ValueError(f"{src}: expected 16-bit PCM, got {8 * params.sampwidth}-bit")
    samples = (np.frombuffer(frames, dtype="<i2").astype(np.float32) * gain).astype("<i2")
    with wave.open(str(dst), "wb") as w:
        w.setparams(params)
        w.writeframes(samples.tobytes())
    return dst
