"""Result routes: an audio item's transcript, and every registered stage's result.

Each answers the newest run's artifact (or the run named by ``run_id``); 404 until
the stage has produced one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import PlainTextResponse, Response

from pipeline_kit.faces.api._deps import AppState, state
from pipeline_kit.faces.api._results import find_result
from pipeline_kit.faces.api._schemas import ID_PATTERN, ErrorBody
from pipeline_kit.pipeline._registry import REGISTRY
from pipeline_kit.pipeline._speaker_names import RECORD_KEY, presented
from pipeline_kit.stages._types import Diarization, Transcript

router = APIRouter(tags=["results"])
AudioId = Annotated[str, Path(pattern=ID_PATTERN, description="audio id")]
# Typed str (not str | None): optional, but never null in the schema.
RunId = Annotated[str, Query(pattern=ID_PATTERN, description="a run of this audio "
                             "(default: the newest with this result)")]
ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}}
TEXT_TYPES = {"srt": "application/x-subrip", "vtt": "text/vtt", "txt": "text/plain"}


def _result(app: AppState, audio_id: str, stage: str, what: str, run_id: str | None
            ) -> tuple[str, Any]:
    record = app.library.get(audio_id)
    found = find_result(app, record, stage, run_id)
    if found is None:
        run = f" in run {run_id}" if run_id else ""
        raise HTTPException(404, f"no {what} for audio {audio_id}{run} yet: start it with "
                            f"POST /audio/{audio_id}/process and wait for its task")
    return found


@router.get("/audio/{audio_id}/transcript", responses={**ERRORS, 200: {
    "description": "the transcript as JSON, SubRip, WebVTT or plain text",
    "content": {"application/json": {"schema": {"type": "object"}},
                **{t: {"schema": {"type": "string"}} for t in TEXT_TYPES.values()}}}})
def transcript(
    audio_id: AudioId,
    format: Annotated[Literal["json", "srt", "vtt", "txt"], Query()] = "json",
    run_id: RunId = None,  # type: ignore[assignment]
    app: AppState = Depends(state),
) -> Response:
    """The timed transcript (``format=json``, ``srt``, ``vtt`` or ``txt``), with speakers
    when the run has a diarization."""
    rid, data = _result(app, audio_id, "transcription", "transcript", run_id)
    data = _with_speakers(app, audio_id, rid, data)
    if format == "json":
        import json

        body = json.dumps({"audio_id": audio_id, "run_id": rid, "transcript": data},
                          ensure_ascii=False)
        return Response(body, media_type="application/json")
    t = Transcript.from_dict(data)
    text = {"srt": t.to_srt, "vtt": t.to_vtt, "txt": t.to_txt}[format]()
    return PlainTextResponse(text, media_type=TEXT_TYPES[format])


@router.get("/audio/{audio_id}/speakers", responses=ERRORS)
def speakers(audio_id: AudioId, run_id: RunId = None,  # type: ignore[assignment]
             app: AppState = Depends(state)) -> dict[str, Any]:
    """Who speaks: labels in order of first appearance, seconds each talks, and the turns."""
    rid, data = _result(app, audio_id, "diarization", "speaker turns", run_id)
    d = Diarization.from_dict(data)
    return {"audio_id": audio_id, "run_id": rid, "speakers": list(d.speakers),
            "talk_time": d.talk_time(), "turns": [t.to_dict() for t in d.turns],
            "overlaps": [list(o) for o in d.overlaps], "method": d.method}


def _with_speakers(app: AppState, audio_id: str, run_id: str, data: Any) -> Any:
    """Transcript ``data`` of a run labelled as the run shows it: speakers from its
    diarization, names given with ``rename_speakers`` (unchanged without diarization)."""
    if "diarization" not in REGISTRY:
        return data
    found = find_result(app, app.library.get(audio_id), "diarization", run_id)
    if found is None:
        return data
    doc = app.manager.get_document("runs", run_id) or {}
    values = presented({"transcription": Transcript.from_dict(data),
                        "diarization": REGISTRY.get("diarization").codec.decode(found[1])},
                       doc.get(RECORD_KEY))
    return values["transcription"].to_dict()


def _records(stage: str, field: str, what: str):
    def route(audio_id: AudioId, run_id: RunId = None,  # type: ignore[assignment]
              app: AppState = Depends(state)) -> dict[str, Any]:
        rid, data = _result(app, audio_id, stage, what, run_id)
        return {"audio_id": audio_id, "run_id": rid, field: data}

    route.__name__ = f"get_{field}"
    route.__doc__ = f"The {what} of the newest run (``{field}``)."
    return route


def add_stage_routes(target: APIRouter) -> None:
    """``GET /audio/{id}/<result_attr>`` for every registered stage with a route."""
    for spec in REGISTRY.specs():
        if spec.route:
            what = spec.description or spec.name
            target.add_api_route(f"/audio/{{audio_id}}/{spec.result_attr}",
                                 _records(spec.name, spec.result_attr, what), methods=["GET"],
                                 response_model=dict[str, Any], responses=ERRORS)


def results_router() -> APIRouter:
    """The transcript route and one route per stage registered now (built per app, so a
    stage registered after this module was imported has its route too)."""
    out = APIRouter()
    out.include_router(router)
    add_stage_routes(out)
    return out
