"""pipeline_kit: spoken audio into timed transcripts, chunks, graphs, chapters and questions.

The public surface: the six stage functions, their result records, the task manager
and the offline model helpers. Heavy libraries (WhisperX, torch, sentence-transformers)
load on first use, not on import.
"""

from __future__ import annotations

from .batch import run_batch
from .models import ModelNotAvailableError, resolve_embedding_model, resolve_whisper_model
from .pipeline import PipelineResult, run_pipeline, run_pipeline_async, runs, start_pipeline
from .progress import NullProgress, Progress, TaskCancelled
from .stages.chapters import analyze_chapters
from .stages.chunking import create_semantic_chunks
from .stages.graph import build_graph
from .stages.questions import generate_questions
from .stages.segmentation import segment_sentences
from .stages.sweep import plot_sweep, sweep
from .stages.temporal import find_temporal_markers, temporal_info
from .stages.transcription import transcribe
from .stages.types import (
    Chapter,
    Chunk,
    ModelInfo,
    Question,
    Segment,
    TemporalInfo,
    TemporalMarker,
    Transcript,
    Word,
)
from .stages.upload import AudioLibrary, AudioRecord, UploadError, import_audio, process_upload
from .tasks import (
    RetryPolicy,
    TaskHandle,
    TaskInfo,
    TaskManager,
    TaskStatus,
    TaskType,
)

__version__ = "0.1.0"

__all__ = [
    "AudioLibrary",
    "AudioRecord",
    "Chapter",
    "Chunk",
    "ModelInfo",
    "ModelNotAvailableError",
    "NullProgress",
    "PipelineResult",
    "Progress",
    "Question",
    "RetryPolicy",
    "Segment",
    "TaskCancelled",
    "TaskHandle",
    "TaskInfo",
    "TaskManager",
    "TaskStatus",
    "TaskType",
    "TemporalInfo",
    "TemporalMarker",
    "Transcript",
    "UploadError",
    "Word",
    "analyze_chapters",
    "build_graph",
    "create_semantic_chunks",
    "find_temporal_markers",
    "generate_questions",
    "import_audio",
    "plot_sweep",
    "process_upload",
    "resolve_embedding_model",
    "resolve_whisper_model",
    "run_batch",
    "run_pipeline",
    "run_pipeline_async",
    "runs",
    "segment_sentences",
    "start_pipeline",
    "sweep",
    "temporal_info",
    "transcribe",
]
