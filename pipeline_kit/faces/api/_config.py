"""Server settings: data folder, token and request size limits (no FastAPI import)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline_kit.ingest._upload import DEFAULT_MAX_BYTES

TOKEN_ENV = "PIPELINE_KIT_API_TOKEN"
MiB = 1024 * 1024


@dataclass(frozen=True)
class ApiLimits:
    """Request size limits; anything larger is refused with 413 before it is stored.

    ``max_chunk_bytes`` bounds one ``PUT .../chunks/{index}`` body,
    ``max_json_bytes`` every other request body and ``max_upload_bytes`` the sum of
    an upload's chunks (the audio library's per-upload limit).
    """

    max_chunk_bytes: int = 16 * MiB
    max_json_bytes: int = 1 * MiB
    max_upload_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        for name in ("max_chunk_bytes", "max_json_bytes", "max_upload_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class ApiSettings:
    """What one app instance serves: ``home`` (tasks, audio, artifacts), token, limits."""

    home: Path
    token: str | None = None
    limits: ApiLimits = ApiLimits()

    @property
    def audio_root(self) -> Path:
        return self.home / "audio"


def resolve_token(token: str | None) -> str | None:
    """``token``, else ``$PIPELINE_KIT_API_TOKEN``; empty means no authentication."""
    value = token if token is not None else os.environ.get(TOKEN_ENV)
    return value or None
