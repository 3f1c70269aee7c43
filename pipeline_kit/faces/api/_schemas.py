"""Request and response bodies: the seed's field names, checked by pydantic.

Ids follow :mod:`pipeline_kit.ingest._ids` (``[A-Za-z0-9._-]``, at most 128 characters);
ids starting with ``.`` are reserved for the library's own folders.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, create_model

from pipeline_kit.base._params import Param
from pipeline_kit.ingest._upload import MAX_CHUNKS
from pipeline_kit.pipeline._registry import REGISTRY
from pipeline_kit.tasks import TaskInfo, TaskStatus

ID_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$"
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN, description="SHA-256, 64 hex digits")]
ResourceId = Annotated[str, Field(pattern=ID_PATTERN)]
StageName = Literal[tuple(REGISTRY.names()) + tuple(REGISTRY.aliases())]  # type: ignore[valid-type]
# Whisper models by name only: a path would let clients load any local folder.
WhisperModel = Literal["tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium",
                       "medium.en", "large-v1", "large-v2", "large-v3"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every 4xx answer: ``detail`` says what is wrong (validation errors add ``errors``)."""

    detail: str
    errors: list[dict[str, Any]] | None = None


# ----------------------------------------------------------------------------- uploads

class UploadStart(_Strict):
    """``POST /audio/uploads``: announce an upload of ``expected_chunks`` chunks."""

    expected_chunks: int = Field(
        ge=1, le=MAX_CHUNKS, validation_alias=AliasChoices("expected_chunks", "chunk_count"),
        description="number of chunks (the seed's chunk_count is accepted too)")
    filename: str = Field("audio", min_length=1, max_length=255,
                          description="the client's file name (display and extension only)")
    total_size: int | None = Field(None, ge=1, description="bytes of the whole file")
    sha256: Sha256 | None = Field(None, description="SHA-256 of the whole file")
    chunk_sha256: list[Sha256] | None = Field(
        None, max_length=MAX_CHUNKS, description="SHA-256 of every chunk, in index order")
    audio_id: ResourceId | None = Field(None, description="audio id to store it as "
                                        "(default: the upload id)")
    upload_id: ResourceId | None = Field(None, description="choose the upload id (resume: "
                                         "the same request again returns the same upload)")


class UploadState(BaseModel):
    """Where an upload stands."""

    upload_id: str
    audio_id: str
    filename: str
    expected_chunks: int
    total_size: int | None = None
    max_chunk_bytes: int
    max_upload_bytes: int
    received_chunks: list[int]
    missing_chunks: list[int]
    last_error: str | None = None


class ChunkReceived(BaseModel):
    """One stored chunk; ``duplicate`` when the same content was already there,
    ``replaced`` when it replaced different content (``replace=true``)."""

    upload_id: str
    index: int
    size: int
    sha256: str
    duplicate: bool
    replaced: bool = False
    missing_chunks: list[int]


class UploadProcessing(BaseModel):
    """``POST /audio/uploads/{id}/complete``: the AUDIO_UPLOAD_PROCESSING task."""

    task_id: str
    upload_id: str
    audio_id: str
    status: Literal["processing_started"] = "processing_started"


class AudioOut(BaseModel):
    """An audio record of the library."""

    audio_id: str
    filename: str
    upload_status: str
    processing_stage: str
    created_at: str
    upload_id: str | None = None
    file_size_bytes: int | None = None
    duration_seconds: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    codec: str | None = None
    format: str | None = None
    sha256: str | None = None
    completed_at: str | None = None
    error_message: str | None = None


# ----------------------------------------------------------------------------- processing

def _param_field(p: Param) -> tuple[Any, Any]:
    """A pydantic field for a declared stage parameter: its type, bounds and help."""
    kind: Any = Literal[p.choices] if p.choices else p.kind
    if p.name == "model":  # by name only: a path would let clients load any local folder
        kind = WhisperModel
    annotation = kind | None if p.optional else kind
    bounds: dict[str, Any] = {"ge": p.minimum, "le": p.maximum} if p.kind in (int, float) else {}
    if p.pattern is not None:
        bounds["pattern"] = f"^(?:{p.pattern})$"
    if p.kind in (int, bool):  # as the schema says: no true for an int, no 1 or "yes" for a bool
        bounds["strict"] = True
    return annotation, Field(p.default, description=p.help, **bounds)


ProcessRequest = create_model(  # type: ignore[call-overload]
    "ProcessRequest",
    __base__=_Strict,
    __doc__="``POST /audio/{audio_id}/process``: which stages (needed ones are added) and "
            "any stage parameter (declared by the stage registry).",
    stages=(list[StageName] | None, Field(  # type: ignore[valid-type]
        None, max_length=len(REGISTRY.names()) + len(REGISTRY.aliases()),
        description="stage names or the seed's aliases; default: all stages but "
                    "diarization (it runs when named or when num_speakers is given)")),
    **{p.name: _param_field(p) for p in REGISTRY.params()},
)


class ProcessStarted(BaseModel):
    """The seed's answer, plus the run and what the estimate is based on."""

    task_id: str
    audio_id: str
    status: Literal["processing_started"] = "processing_started"
    estimated_duration_minutes: float
    run_id: str
    stages: list[str]
    cached_stages: list[str]
    estimate_basis: dict[str, str]


# ----------------------------------------------------------------------------- tasks

class TaskStatusOut(BaseModel):
    """The seed's ``GET /tasks/{task_id}/status`` shape, plus type, lineage and result."""

    task_id: str
    status: TaskStatus
    progress_percentage: int
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error_message: str | None = None
    current_step: str | None = None
    metadata: dict[str, Any]
    task_type: str
    created_at: datetime
    parent_id: str | None = None
    attempt: int
    retry_of: str | None = None
    error_type: str | None = None
    result_data: Any = None

    @classmethod
    def of(cls, info: TaskInfo, *, with_result: bool = True) -> TaskStatusOut:
        return cls(
            task_id=info.task_id, status=info.status,
            progress_percentage=int(info.progress_percentage or 0),
            started_at=info.started_at, completed_at=info.completed_at,
            error_message=info.error_message,
            current_step=info.current_step or info.metadata.get("current_step"),
            metadata=info.metadata, task_type=str(info.task_type), created_at=info.created_at,
            parent_id=info.parent_id, attempt=info.attempt, retry_of=info.retry_of,
            error_type=info.error_type, result_data=info.result_data if with_result else None)


class TaskList(BaseModel):
    """``GET /tasks``: newest first (results left out; ask ``/tasks/{id}/status``)."""

    total: int
    tasks: list[TaskStatusOut]


class CancelOut(BaseModel):
    task_id: str
    cancelled: bool
    status: TaskStatus


class RetryOut(BaseModel):
    """The new attempt of a failed task."""

    task_id: str
    retry_of: str
    status: TaskStatus


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    auth: bool
