"""Audio routes: chunked uploads, audio records and starting a pipeline run.

``POST /audio/uploads`` → ``PUT /audio/uploads/{id}/chunks/{index}`` (any order)
→ ``POST /audio/uploads/{id}/complete`` (an AUDIO_UPLOAD_PROCESSING task) →
``POST /audio/{audio_id}/process`` (a PIPELINE task); ``DELETE /audio/uploads/{id}``
drops an abandoned upload. Handlers are plain functions
(FastAPI runs them in worker threads) except the chunk upload, which streams its
body on the event loop and hands storing and hashing to a worker thread.
"""

from __future__ import annotations

import tempfile
from typing import Annotated, BinaryIO, cast

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from pipeline_kit.base._models import ModelNotAvailableError
from pipeline_kit.faces.api._deps import AppState, state
from pipeline_kit.faces.api._estimate import estimate, measured_speeds, run_audio_seconds
from pipeline_kit.faces.api._jobs import process_upload_job
from pipeline_kit.faces.api._schemas import (
    ID_PATTERN,
    SHA256_PATTERN,
    AudioOut,
    ChunkReceived,
    ErrorBody,
    ProcessRequest,
    ProcessStarted,
    UploadProcessing,
    UploadStart,
    UploadState,
)
from pipeline_kit.ingest._upload import MAX_CHUNKS, UnknownUploadError, UploadManifest
from pipeline_kit.pipeline._artifacts import ArtifactCache
from pipeline_kit.pipeline._pipeline import start_pipeline
from pipeline_kit.tasks import TaskStatus, TaskType

router = APIRouter(tags=["audio"])
UploadId = Annotated[str, Path(pattern=ID_PATTERN, description="upload id")]
AudioId = Annotated[str, Path(pattern=ID_PATTERN, description="audio id")]
SPOOL_BYTES = 1024 * 1024  # chunk bodies above this are buffered in a temporary file
BINARY_BODY = {"requestBody": {"required": True, "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary",
                                            "minLength": 1}}}}}


def _links(**links: tuple[str, dict[str, str]]) -> dict[str, dict]:
    """OpenAPI links: where the ids of an answer can be used next (clients, fuzzers)."""
    return {name: {"operationId": op, "parameters": params} for name, (op, params) in
            links.items()}


UPLOAD_LINKS = _links(
    GetUpload=("get_upload", {"upload_id": "$response.body#/upload_id"}),
    PutChunk=("put_chunk", {"upload_id": "$response.body#/upload_id",
                            "index": "$response.body#/missing_chunks/0"}),
    CompleteUpload=("complete_upload", {"upload_id": "$response.body#/upload_id"}))
TASK_LINKS = _links(
    TaskStatus=("task_status", {"task_id": "$response.body#/task_id"}),
    CancelTask=("cancel_task", {"task_id": "$response.body#/task_id"}),
    GetAudio=("get_audio", {"audio_id": "$response.body#/audio_id"}))


def _errors(*codes: int) -> dict[int | str, dict]:
    return {c: {"model": ErrorBody} for c in codes}


def _upload_state(app: AppState, m: UploadManifest) -> UploadState:
    received = app.library.received_chunks(m.upload_id)
    have = set(received)
    limits = app.settings.limits
    return UploadState(
        upload_id=m.upload_id, audio_id=m.audio_id or m.upload_id, filename=m.filename,
        expected_chunks=m.expected_chunks, total_size=m.total_size,
        max_chunk_bytes=limits.max_chunk_bytes, max_upload_bytes=m.max_bytes,
        received_chunks=[i for i in received if i < m.expected_chunks],
        missing_chunks=[i for i in range(m.expected_chunks) if i not in have],
        last_error=m.last_error)


@router.post("/audio/uploads", status_code=201, response_model=UploadState,
             responses={200: {"model": UploadState, "description": "resumed: this upload "
                              "was already started with the same parameters"},
                        201: {"links": UPLOAD_LINKS}, **_errors(409, 413, 422)})
def start_upload(body: UploadStart, response: Response,
                 app: AppState = Depends(state)) -> UploadState:
    """Announce a chunked upload; answers its id, limits and the chunks still missing."""
    limit = app.settings.limits.max_chunk_bytes
    if body.total_size is not None and body.total_size > body.expected_chunks * limit:
        raise HTTPException(422, f"total_size {body.total_size} needs more than "
                            f"{body.expected_chunks} chunks of at most {limit} bytes")
    if body.chunk_sha256 is not None and len(body.chunk_sha256) != body.expected_chunks:
        raise HTTPException(422, f"{len(body.chunk_sha256)} chunk checksums for "
                            f"{body.expected_chunks} chunks")
    existed = False
    if body.upload_id is not None:
        try:
            app.library.manifest(body.upload_id)
            existed = True
        except UnknownUploadError:
            pass
    manifest = app.library.start_upload(
        body.upload_id, expected_chunks=body.expected_chunks, filename=body.filename,
        total_size=body.total_size, sha256=body.sha256, chunk_sha256=body.chunk_sha256,
        audio_id=body.audio_id)
    if existed:
        response.status_code = 200
    return _upload_state(app, manifest)


@router.get("/audio/uploads/{upload_id}", response_model=UploadState,
            responses=_errors(404, 422))
def get_upload(upload_id: UploadId, app: AppState = Depends(state)) -> UploadState:
    """Where an upload stands: received and missing chunks, last processing error."""
    return _upload_state(app, app.library.manifest(upload_id))


@router.delete("/audio/uploads/{upload_id}", status_code=204,
               responses={204: {"description": "the upload's chunks and manifest are gone"},
                          **_errors(404, 409, 422)})
def delete_upload(upload_id: UploadId, app: AppState = Depends(state)) -> Response:
    """Delete an abandoned upload: its chunks, manifest and "receiving" audio record.

    Completed audio is kept. 409 while the upload is being processed (retry once
    its task ended); 404 when it was never started, or already processed or deleted.
    """
    app.library.delete_upload(upload_id)
    return Response(status_code=204)


@router.put("/audio/uploads/{upload_id}/chunks/{index}", status_code=201,
            response_model=ChunkReceived, openapi_extra=BINARY_BODY,
            responses={200: {"model": ChunkReceived, "description": "this chunk was already "
                             "stored with the same content, or replaced it (replace=true)"},
                       409: {"model": ErrorBody, "description": "this chunk was already "
                             "stored with different content (the stored copy is kept; send "
                             "again with replace=true to replace it), or replace=true while "
                             "the upload is being processed"},
                       **_errors(404, 413, 422)})
async def put_chunk(
    request: Request,
    response: Response,
    upload_id: UploadId,
    index: Annotated[int, Path(ge=0, le=MAX_CHUNKS - 1, description="0-based chunk index")],
    # Typed str (not str | None): optional, but never null in the schema.
    sha256: Annotated[str, Query(pattern=SHA256_PATTERN,
                                 description="SHA-256 of this chunk")] = None,  # type: ignore
    x_chunk_sha256: Annotated[str, Header(pattern=SHA256_PATTERN,
                                          description="SHA-256 of this chunk")] = None,  # type: ignore
    replace: Annotated[bool, Query(description="replace a stored copy of this chunk that "
                                   "has different content (else that is a 409)")] = False,
    app: AppState = Depends(state),
) -> ChunkReceived:
    """Store one chunk (raw body bytes); the checksum, when given, is checked first.

    Sending a stored chunk again with the same bytes is a no-op (200,
    ``duplicate``). Different bytes are refused with 409 and the stored copy is
    kept, unless ``replace=true``: then they replace it (200, ``replaced``), for
    a client that knows its first copy was wrong. Replacing is refused (409)
    while the upload is being processed.
    """
    if sha256 and x_chunk_sha256 and sha256.lower() != x_chunk_sha256.lower():
        raise HTTPException(422, "the sha256 query parameter and the X-Chunk-SHA256 header "
                            "differ")
    want = sha256 or x_chunk_sha256
    await run_in_threadpool(app.library.manifest, upload_id)  # 404 before reading the body
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        size = 0
        async for block in request.stream():
            spool.write(block)
            size += len(block)
        if size == 0:
            raise HTTPException(422, f"chunk {index} is empty: send its bytes as the body")
        spool.seek(0)
        receipt = await run_in_threadpool(app.library.receive_chunk, upload_id, index,
                                          cast(BinaryIO, spool), want, replace=replace)
    missing = await run_in_threadpool(app.library.missing_chunks, upload_id)
    if receipt.duplicate or receipt.replaced:
        response.status_code = 200
    return ChunkReceived(upload_id=upload_id, index=receipt.index, size=receipt.size,
                         sha256=receipt.sha256, duplicate=receipt.duplicate,
                         replaced=receipt.replaced, missing_chunks=missing)


@router.post("/audio/uploads/{upload_id}/complete", status_code=202,
             response_model=UploadProcessing,
             responses={202: {"links": TASK_LINKS}, **_errors(404, 409, 422)})
def complete_upload(upload_id: UploadId, app: AppState = Depends(state)) -> UploadProcessing:
    """Reassemble, check and probe the upload as an AUDIO_UPLOAD_PROCESSING task.

    Asking again while that task runs, or after it completed, answers the same task.
    """
    mgr = app.manager
    previous = mgr.get_document("api_uploads", upload_id)
    try:
        manifest = app.library.manifest(upload_id)
    except UnknownUploadError:
        if previous is None:
            raise
        return UploadProcessing(task_id=previous["task_id"], upload_id=upload_id,
                                audio_id=previous["audio_id"])
    audio_id = manifest.audio_id or upload_id
    if previous is not None:
        info = mgr.get_task_status(previous["task_id"])
        if info is not None and info.status in (TaskStatus.PENDING, TaskStatus.RUNNING,
                                                TaskStatus.COMPLETED):
            return UploadProcessing(task_id=info.task_id, upload_id=upload_id,
                                    audio_id=audio_id)
    missing = app.library.missing_chunks(upload_id)
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (", ..." if len(missing) > 20 else "")
        raise HTTPException(409, f"upload {upload_id}: {len(missing)} of "
                            f"{manifest.expected_chunks} chunks missing: [{shown}]")
    handle = mgr.submit(process_upload_job, str(app.settings.audio_root), upload_id,
                        task_type=TaskType.AUDIO_UPLOAD_PROCESSING,
                        metadata={"upload_id": upload_id, "audio_id": audio_id,
                                  "filename": manifest.filename})
    mgr.put_document("api_uploads", upload_id, {"task_id": handle.task_id,
                                                "audio_id": audio_id})
    return UploadProcessing(task_id=handle.task_id, upload_id=upload_id, audio_id=audio_id)


@router.get("/audio/{audio_id}", response_model=AudioOut, responses=_errors(404, 422))
def get_audio(audio_id: AudioId, app: AppState = Depends(state)) -> AudioOut:
    """The audio record: upload status, duration, format, checksum."""
    return AudioOut(**app.library.get(audio_id).to_dict())


@router.post("/audio/{audio_id}/process", status_code=202, response_model=ProcessStarted,
             responses={202: {"links": TASK_LINKS}, **_errors(404, 409, 413, 422)})
def process_audio(
    audio_id: AudioId,
    body: Annotated[ProcessRequest | None, Body()] = None,
    app: AppState = Depends(state),
) -> ProcessStarted:
    """Run the pipeline on uploaded audio as a PIPELINE task (its stages are child tasks)."""
    req = body or ProcessRequest()
    record = app.library.get(audio_id)
    if record.upload_status != "completed":
        raise HTTPException(409, f"audio {audio_id} is not ready ({record.upload_status}): "
                            "complete its upload first")
    params = req.model_dump(exclude={"stages"})
    try:
        handle = start_pipeline(
            app.library.audio_path(audio_id), req.stages, manager=app.manager,
            metadata={"audio_id": audio_id}, home=app.settings.home, **params)
    except (ValueError, ModelNotAvailableError) as e:
        raise HTTPException(422, str(e)) from None
    meta = handle.info.metadata if handle.info is not None else {}
    stages: list[str] = list(meta.get("stages") or [])
    keys: dict[str, str] = meta.get("artifact_keys") or {}
    cache = ArtifactCache(app.settings.home)
    cached = [s for s in stages if s in keys and cache.path(s, keys[s]).is_file()]
    speeds = measured_speeds(app.manager.list_documents("runs"),
                             lambda r: run_audio_seconds(app.settings.home, r, app.durations))
    est = estimate(record.duration_seconds, stages, cached, speeds)
    return ProcessStarted(task_id=handle.task_id, audio_id=audio_id,
                          estimated_duration_minutes=est.minutes, run_id=meta.get("run_id", ""),
                          stages=stages, cached_stages=cached, estimate_basis=est.basis)
