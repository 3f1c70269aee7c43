"""Qualitative coding over HTTP: ``GET/POST /codes``, ``POST /codings``,
``DELETE /codings/{id}``, ``GET /codings``, ``GET /quotes`` on the server home's
collection (see :mod:`pipeline_kit.collection._codings`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from pipeline_kit.faces.api._deps import AppState, state
from pipeline_kit.faces.api._routes_search import _collection
from pipeline_kit.faces.api._schemas import ErrorBody

router = APIRouter(tags=["coding"])
_REFUSED: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody},
                                             422: {"model": ErrorBody}}


class CodeIn(BaseModel):
    """A code (theme) to create, or the new colour/description of an existing one."""

    name: str = Field(min_length=1, max_length=200)
    color: str | None = Field(None, description="#RRGGBB")
    description: str | None = Field(None, max_length=10_000)


class CodingIn(BaseModel):
    """A code applied to a span of a recording; the span is snapped to whole words."""

    code: str = Field(min_length=1, max_length=200)
    recording: str = Field(min_length=1, description="recording name or id")
    start: float = Field(ge=0, description="seconds")
    end: float = Field(gt=0, description="seconds")
    run_id: str | None = Field(None, description="the run whose words to take (default newest)")
    note: str | None = Field(None, max_length=10_000)


def _coll(app: AppState) -> Any:
    home = app.settings.home
    if not (home / "artifacts").is_dir():
        raise HTTPException(404, "no collection yet: no run has finished in this home")
    return _collection(home)


def _records(df: Any) -> list[dict[str, Any]]:
    return json.loads(df.to_json(orient="records"))


@router.get("/codes", responses=_REFUSED)
def list_codes(app: AppState = Depends(state)) -> dict[str, Any]:
    """Every code with its colour, description and number of codings."""
    return {"codes": _records(_coll(app).codes())}


@router.post("/codes", status_code=201, responses=_REFUSED)
def create_code(body: CodeIn, app: AppState = Depends(state)) -> dict[str, Any]:
    """Create a code, or change an existing one's colour or description."""
    try:
        return _coll(app).code(body.name, body.color, body.description)
    except ValueError as e:
        raise HTTPException(422, str(e)) from e


@router.post("/codings", status_code=201, responses=_REFUSED)
def create_coding(body: CodingIn, app: AppState = Depends(state)) -> dict[str, Any]:
    """Apply a code to a span; the coding with its snapped times and words."""
    coll = _coll(app)
    span = {"recording": body.recording, "start": body.start, "end": body.end,
            "run_id": body.run_id}
    try:
        coding_id = coll.tag(span, body.code, body.note)
    except ValueError as e:
        raise HTTPException(422, str(e)) from e
    df = coll.codings()
    return _records(df[df["coding_id"] == coding_id])[0]


@router.get("/codings", responses=_REFUSED)
def list_codings(code: Annotated[str, Query(description="only this code")] = "",
                 app: AppState = Depends(state)) -> dict[str, Any]:
    """Every coding (of ``code``), by recording and time."""
    try:
        return {"codings": _records(_coll(app).codings(code or None))}
    except ValueError as e:
        raise HTTPException(422, str(e)) from e


@router.delete("/codings/{coding_id}", status_code=204, responses=_REFUSED)
def delete_coding(coding_id: str, app: AppState = Depends(state)) -> None:
    """Remove one coding."""
    try:
        _coll(app).untag(coding_id)
    except ValueError as e:
        raise HTTPException(404, str(e)) from e


@router.get("/quotes", responses=_REFUSED)
def list_quotes(code: Annotated[str, Query(description="only this code")] = "",
                app: AppState = Depends(state)) -> dict[str, Any]:
    """Each coded span's text, recording, speaker and m:ss–m:ss time."""
    try:
        return {"quotes": _records(_coll(app).quotes(code or None))}
    except ValueError as e:
        raise HTTPException(422, str(e)) from e
