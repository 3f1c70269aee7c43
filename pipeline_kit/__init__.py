"""pipeline_kit: spoken audio into timed transcripts, chunks, graphs, chapters and questions.

The public surface: the stage functions, their result records, the task manager
and the offline model helpers. Heavy libraries (WhisperX, torch, sentence-transformers)
load on first use, not on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _threads  # noqa: F401 - first: OpenMP's wait policy, before torch/CTranslate2 load
from ._batch import run_batch
from ._display import (  # registers the task views; widgets load when shown
    progress_mode,
    show,
    with_progress,
)
from ._load_run import RunNotFoundError, load_run
from ._models import ModelNotAvailableError, resolve_embedding_model, resolve_whisper_model
from ._params import Param
from ._pipeline import (
    PipelineResult,
    run_pipeline,
    run_pipeline_async,
    runs,
    stage_parameters,
    start_pipeline,
)
from ._progress import NullProgress, Progress, TaskCancelled
from ._registry import REGISTRY, Codec, RunParams, StageCall, StageSpec
from ._speaker_names import rename_speakers
from ._speaker_views import speaker_timeline, talk_time_table
from .stages._chapters import analyze_chapters
from .stages._chunking import create_semantic_chunks
from .stages._diarization import diarize
from .stages._graph import build_graph
from .stages._questions import generate_questions
from .stages._segmentation import segment_sentences
from .stages._speakers import assign_speakers, concept_speakers, speaker_times
from .stages._sweep import choose_setting, plot_sweep
from .stages._sweep import sweep as _sweep
from .stages._temporal import find_temporal_markers, temporal_info
from .stages._transcription import transcribe
from .stages._types import (
    Chapter,
    Chunk,
    Diarization,
    ModelInfo,
    Question,
    Segment,
    SpeakerTurn,
    TemporalInfo,
    TemporalMarker,
    Transcript,
    Word,
    chapters_df,
    chunks_df,
)
from .stages._upload import AudioLibrary, AudioRecord, UploadError, import_audio, process_upload
from .tasks import (
    RetryPolicy,
    TaskHandle,
    TaskInfo,
    TaskManager,
    TaskStatus,
    TaskType,
)

__version__ = "0.1.0"

# Called in a notebook cell without a progress object, the sweep shows its own progress.
sweep = with_progress("chunking sweep")(_sweep)

register_stage = REGISTRY.register


if TYPE_CHECKING:  # what __getattr__ below loads, for type checkers and editors
    from ._collection import Collection
    from ._compare import RunComparison, compare_runs
    from ._explore import explore
    from ._graph_view import graph_view
    from ._listen import format_time, play, table, transcript_view

# Loaded on first use, not on import: DuckDB, pandas, SciPy and the notebook views.
_LAZY = {
    "Collection": "._collection",
    "RunComparison": "._compare", "compare_runs": "._compare",
    "explore": "._explore",
    "graph_view": "._graph_view",
    "format_time": "._listen", "play": "._listen", "table": "._listen",
    "transcript_view": "._listen",
}


def __getattr__(name: str) -> object:
    """The lazily loaded names of ``_LAZY`` (``pk.Collection``, ``pk.play``, ...)."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pipeline_kit' has no attribute {name!r}")


def stage_names() -> list[str]:
    """Registered stage names in run order (built-ins and plug-ins)."""
    return REGISTRY.names()

__all__ = [
    "AudioLibrary",
    "AudioRecord",
    "Chapter",
    "Collection",
    "Chunk",
    "Codec",
    "Diarization",
    "ModelInfo",
    "ModelNotAvailableError",
    "NullProgress",
    "Param",
    "PipelineResult",
    "Progress",
    "Question",
    "RetryPolicy",
    "RunComparison",
    "RunNotFoundError",
    "RunParams",
    "Segment",
    "SpeakerTurn",
    "StageCall",
    "StageSpec",
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
    "assign_speakers",
    "build_graph",
    "chapters_df",
    "choose_setting",
    "chunks_df",
    "compare_runs",
    "concept_speakers",
    "create_semantic_chunks",
    "diarize",
    "explore",
    "find_temporal_markers",
    "format_time",
    "generate_questions",
    "graph_view",
    "import_audio",
    "load_run",
    "play",
    "plot_sweep",
    "process_upload",
    "progress_mode",
    "register_stage",
    "rename_speakers",
    "resolve_embedding_model",
    "resolve_whisper_model",
    "run_batch",
    "run_pipeline",
    "run_pipeline_async",
    "runs",
    "segment_sentences",
    "show",
    "speaker_timeline",
    "speaker_times",
    "stage_names",
    "stage_parameters",
    "start_pipeline",
    "sweep",
    "table",
    "talk_time_table",
    "temporal_info",
    "transcribe",
    "transcript_view",
]
