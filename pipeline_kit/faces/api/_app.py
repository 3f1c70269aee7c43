"""The FastAPI app: one task manager per app, closed when the server stops."""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request

from pipeline_kit.faces.api import _errors as errors
from pipeline_kit.faces.api._auth import require_token
from pipeline_kit.faces.api._config import ApiLimits, ApiSettings, resolve_token
from pipeline_kit.faces.api._deps import AppState
from pipeline_kit.faces.api._limits import BodySizeLimit
from pipeline_kit.faces.api._routes_audio import router as audio_router
from pipeline_kit.faces.api._routes_coding import router as coding_router
from pipeline_kit.faces.api._routes_results import results_router
from pipeline_kit.faces.api._routes_search import router as search_router
from pipeline_kit.faces.api._routes_tasks import router as tasks_router
from pipeline_kit.faces.api._schemas import ErrorBody, Health
from pipeline_kit.ingest._upload import AudioLibrary
from pipeline_kit.pipeline._artifacts import ArtifactCache
from pipeline_kit.tasks import TaskManager
from pipeline_kit.tasks._store import STORE_FILENAME, pipeline_home

log = logging.getLogger("pipeline_kit.faces.api")
DESCRIPTION = """Upload audio in chunks, run the pipeline on it as tracked tasks, poll their
status and fetch the results. Send `Authorization: Bearer <token>` when the server
has a token. Every refusal is a 4xx whose `detail` says what is wrong."""


def _version() -> str:
    try:
        return importlib.metadata.version("pipeline_kit")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def _recover(library: AudioLibrary, artifacts: ArtifactCache) -> None:
    """Remove the staging and temp files a crashed server (or any dead writer) left."""
    removed = library.recover() + artifacts.recover()
    if removed:
        log.warning("removed %d temporary file(s) left by dead processes, e.g. %s",
                    len(removed), removed[0])


def create_app(
    home: str | os.PathLike[str] | None = None,
    token: str | None = None,
    limits: ApiLimits | None = None,
    store: str | os.PathLike[str] | None = None,
) -> FastAPI:
    """The API over ``home`` (default ``$PIPELINE_KIT_HOME`` or ``./data``).

    ``token`` (default ``$PIPELINE_KIT_API_TOKEN``) turns on bearer authentication
    for every route but ``/health`` and the OpenAPI schema and docs. The task store
    is ``store`` (a SQLite path or database URL), else ``<home>/tasks.sqlite3`` when
    ``home`` is given, else ``$PIPELINE_KIT_STORE`` or the default home's file.
    """
    settings = ApiSettings(home=Path(home or pipeline_home()).resolve(),
                           token=resolve_token(token), limits=limits or ApiLimits())
    if store is None and home is not None:
        store = settings.home / STORE_FILENAME

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.home.mkdir(parents=True, exist_ok=True)
        manager = await asyncio.to_thread(TaskManager, store=store)
        library = AudioLibrary(settings.audio_root, max_bytes=settings.limits.max_upload_bytes,
                               hash_uploads=True)
        await asyncio.to_thread(_recover, library, ArtifactCache(settings.home))
        app.state.api = AppState(settings, manager, library)
        try:
            yield
        finally:
            await asyncio.to_thread(manager.close)

    app = FastAPI(title="pipeline_kit", version=_version(), description=DESCRIPTION,
                  lifespan=lifespan, generate_unique_id_function=lambda route: route.name)
    app.state.settings = settings
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_json_bytes=settings.limits.max_json_bytes,
                       max_chunk_bytes=settings.limits.max_chunk_bytes)
    auth = [Depends(require_token)]
    refused: dict[int | str, dict] = {
        400: {"model": ErrorBody, "description": "malformed request (body not UTF-8 JSON)"},
        401: {"model": ErrorBody, "description": "missing or invalid bearer token"}}
    for router in (audio_router, tasks_router, results_router(), search_router, coding_router):
        app.include_router(router, dependencies=auth, responses=refused)

    @app.get("/health", response_model=Health, tags=["server"])
    def health(request: Request) -> Health:
        """Liveness, without authentication."""
        return Health(version=_version(), auth=request.app.state.settings.token is not None)

    return app
