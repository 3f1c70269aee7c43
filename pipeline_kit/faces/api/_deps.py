"""What the routes share: one task manager, the audio library and the settings per app."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from pipeline_kit.faces.api._config import ApiSettings
from pipeline_kit.ingest._upload import AudioLibrary
from pipeline_kit.tasks import TaskManager


@dataclass
class AppState:
    """Created by the app's lifespan; the manager is closed when the server stops."""

    settings: ApiSettings
    manager: TaskManager
    library: AudioLibrary
    durations: dict[str, float | None] = field(default_factory=dict)  # estimate memo


def state(request: Request) -> AppState:
    """The running app's :class:`AppState` (a FastAPI dependency)."""
    return request.app.state.api
