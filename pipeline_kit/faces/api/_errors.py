"""Errors as HTTP answers: every refusal is a 4xx whose ``detail`` says what is wrong.

Library errors map to statuses by kind: unknown id 404, state conflict 409, too
large 413, invalid value 422. Validation errors become one readable ``detail``
string plus the individual ``errors``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from pipeline_kit.ingest._ids import shorten_repr
from pipeline_kit.ingest._upload import (
    DuplicateChunkError,
    IncompleteUploadError,
    SizeLimitError,
    UnknownAudioError,
    UnknownUploadError,
    UploadBusyError,
    UploadError,
    UploadExistsError,
)

# First match wins (subclasses before their bases); any other UploadError is a 422.
_UPLOAD_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (UnknownUploadError, 404),
    (UnknownAudioError, 404),
    (UploadExistsError, 409),
    (DuplicateChunkError, 409),
    (UploadBusyError, 409),
    (IncompleteUploadError, 409),
    (SizeLimitError, 413),
)


def upload_status(exc: UploadError) -> int:
    """HTTP status of an upload-library error."""
    for kind, status in _UPLOAD_STATUS:
        if isinstance(exc, kind):
            return status
    return 422


def _where(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body",)] or ["body"]
    return ".".join(parts)


def _got(error: dict[str, Any]) -> str:
    value = error.get("input")
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return f" (got {shorten_repr(value)})"
    return ""


def validation_message(errors: list[dict[str, Any]]) -> str:
    """One line out of pydantic's error list: ``where: what (got value); ...``."""
    shown = [f"{_where(e.get('loc', ()))}: {e.get('msg', 'invalid')}{_got(e)}"
             for e in errors[:5]]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(shown) + more


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = exc.errors()
    errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
               "type": str(e.get("type", ""))} for e in raw]
    return JSONResponse({"detail": validation_message(list(raw)), "errors": errors},
                        status_code=422)


async def _on_upload_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UploadError)
    return JSONResponse({"detail": str(exc)}, status_code=upload_status(exc))


def _leaf_routes(routes: list[Any]) -> Iterator[Any]:
    """The routes themselves, also those of included routers (included without a prefix)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _leaf_routes(inner.routes)
        else:
            yield route


def _allowed_methods(request: Request) -> list[str]:
    """Methods of every route of the path template that matched first, as the schema lists
    them (Starlette names only the first route's)."""
    matching = [r for r in _leaf_routes(request.app.router.routes)
                if r.matches(request.scope)[0] != Match.NONE]
    if not matching:
        return []
    template = getattr(matching[0], "path", None)
    return sorted({m for r in matching if getattr(r, "path", None) == template
                   for m in getattr(r, "methods", None) or ()})


async def _on_http_error(request: Request, exc: Exception) -> Any:
    """Starlette's answer, but a 405's ``Allow`` lists the methods of all routes of the path."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        if allowed:
            exc = StarletteHTTPException(405, exc.detail,
                                         headers={**(exc.headers or {}),
                                                  "Allow": ", ".join(allowed)})
    return await http_exception_handler(request, exc)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(UploadError, _on_upload_error)
