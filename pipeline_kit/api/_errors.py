"""Errors as HTTP answers: every refusal is a 4xx whose ``detail`` says what is wrong.

Library errors map to statuses by kind: unknown id 404, state conflict 409, too
large 413, invalid value 422. Validation errors become one readable ``detail``
string plus the individual ``errors``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from pipeline_kit._ids import shorten_repr
from pipeline_kit.stages._upload import (
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


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(UploadError, _on_upload_error)
