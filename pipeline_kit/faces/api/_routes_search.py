"""``GET /search``: hybrid, semantic or keyword search over every run of the server's home."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from pipeline_kit.faces.api._deps import AppState, state
from pipeline_kit.faces.api._schemas import ErrorBody

router = APIRouter(tags=["search"])
_open: dict[Path, Any] = {}  # home -> Collection (keeps its in-memory searcher warm)
_lock = threading.Lock()


def _collection(home: Path) -> Any:
    from pipeline_kit.collection._collection import Collection

    with _lock:
        if home not in _open:
            _open[home] = Collection(home, update=False)
        coll = _open[home]
    coll.update()  # runs finished since (nothing to do most of the time)
    return coll


@router.get("/search", responses={404: {"model": ErrorBody}, 422: {"model": ErrorBody}})
def search(
    q: Annotated[str, Query(min_length=1, max_length=1000, description="the query")],
    k: Annotated[int, Query(ge=1, le=500, description="hits to return")] = 10,
    mode: Annotated[Literal["hybrid", "semantic", "keyword"], Query()] = "hybrid",
    recording: Annotated[str, Query(description="only this recording (name or id)")] = "",
    speaker: Annotated[str, Query(description="only chunks where this speaker talks")] = "",
    app: AppState = Depends(state),
) -> dict[str, Any]:
    """The chunks of every finished run that best match ``q``, best first, with their
    recording, run, chapter, time range, speaker, highlighted snippet and score."""
    home = app.settings.home
    if not (home / "artifacts").is_dir():
        raise HTTPException(404, "nothing to search yet: no run has finished in this home")
    where = {k_: v for k_, v in (("recording", recording), ("speaker", speaker)) if v}
    try:
        hits = _collection(home).search(q, k=k, mode=mode, where=where or None)
    except ValueError as e:
        raise HTTPException(422, str(e)) from e
    return {"query": q, "mode": mode, "hits": json.loads(hits.to_json(orient="records"))}
