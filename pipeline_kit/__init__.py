"""pipeline_kit: spoken audio into timed transcripts, chunks, graphs, chapters and questions.

The public surface: the stage functions, their result records, the task manager
and the offline model helpers. Heavy libraries (WhisperX, torch, sentence-transformers)
load on first use, not on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline_kit.base import _threads  # noqa: F401 - first: OpenMP's wait policy, before torch/CTranslate2 load
from pipeline_kit.base._fs import default_home
from pipeline_kit.base._models import (
    ModelNotAvailableError,
    resolve_embedding_model,
    resolve_whisper_model,
)
from pipeline_kit.base._params import Param
from pipeline_kit.base._progress import NullProgress, Progress, TaskCancelled
from pipeline_kit.ingest._upload import (
    AudioLibrary,
    AudioRecord,
    UploadError,
    import_audio,
    process_upload,
)
from pipeline_kit.notebook._display import (  # registers the task views; widgets load when shown
    progress_mode,
    show,
    with_progress,
)
from pipeline_kit.pipeline._pipeline import (  # no stage module: those load on first use
    PipelineResult,
    on_run_completed,
    run_pipeline,
    run_pipeline_async,
    runs,
    stage_parameters,
    start_pipeline,
)
from pipeline_kit.pipeline._registry import REGISTRY, Codec, RunParams, StageCall, StageSpec
from pipeline_kit.pipeline._speaker_names import rename_speakers
from pipeline_kit.stages._speakers import assign_speakers, concept_speakers, speaker_times
from pipeline_kit.stages._types import (
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
from pipeline_kit.tasks import (
    RetryPolicy,
    TaskHandle,
    TaskInfo,
    TaskManager,
    TaskStatus,
    TaskType,
)

__version__ = "0.1.0"

register_stage = REGISTRY.register


def _index_completed_run(home: str, record: dict[str, Any]) -> None:
    """Add a completed run to its home's collection index (DuckDB loads only now), and
    export MiniLM for torch-free search queries if this run loaded it (once per machine)."""
    from pipeline_kit.collection._collection import index_run
    from pipeline_kit.stages._onnx_embedder import export_if_loaded

    index_run(home, record)
    export_if_loaded()


on_run_completed(_index_completed_run)


if TYPE_CHECKING:  # what __getattr__ below loads, for type checkers and editors
    from pipeline_kit.collection._collection import Collection
    from pipeline_kit.notebook._coding_views import codings_view, tag_view
    from pipeline_kit.notebook._compare import RunComparison, compare_runs
    from pipeline_kit.notebook._explore import explore
    from pipeline_kit.notebook._graph_view import graph_view
    from pipeline_kit.notebook._listen import format_time, play, table, transcript_view
    from pipeline_kit.notebook._speaker_views import speaker_timeline, talk_time_table
    from pipeline_kit.pipeline._batch import run_batch
    from pipeline_kit.pipeline._exports import export, export_formats
    from pipeline_kit.pipeline._load_run import RunNotFoundError, load_run
    from pipeline_kit.stages._chapters import analyze_chapters
    from pipeline_kit.stages._chunking import create_semantic_chunks
    from pipeline_kit.stages._diarization import diarize
    from pipeline_kit.stages._graph import build_graph
    from pipeline_kit.stages._questions import generate_questions
    from pipeline_kit.stages._segmentation import segment_sentences
    from pipeline_kit.stages._sweep import choose_setting, plot_sweep, sweep
    from pipeline_kit.stages._temporal import find_temporal_markers, temporal_info
    from pipeline_kit.stages._transcription import transcribe

# Loaded on first use, not on import: the stage modules (NumPy, networkx, and the models
# they load), DuckDB, pandas, SciPy and the notebook views. ``pipeline-kit --help``,
# ``tasks`` and ``runs`` import this package and need none of them.
_LAZY = {
    "Collection": ".collection._collection",
    "RunComparison": ".notebook._compare", "compare_runs": ".notebook._compare",
    "codings_view": ".notebook._coding_views", "tag_view": ".notebook._coding_views",
    "explore": ".notebook._explore",
    "graph_view": ".notebook._graph_view",
    "format_time": ".notebook._listen", "play": ".notebook._listen", "table": ".notebook._listen",
    "transcript_view": ".notebook._listen",
    "speaker_timeline": ".notebook._speaker_views",
    "talk_time_table": ".notebook._speaker_views",
    "run_batch": ".pipeline._batch",
    "export": ".pipeline._exports", "export_formats": ".pipeline._exports",
    "RunNotFoundError": ".pipeline._load_run", "load_run": ".pipeline._load_run",
    "analyze_chapters": ".stages._chapters",
    "create_semantic_chunks": ".stages._chunking",
    "diarize": ".stages._diarization",
    "build_graph": ".stages._graph",
    "generate_questions": ".stages._questions",
    "segment_sentences": ".stages._segmentation",
    "choose_setting": ".stages._sweep", "plot_sweep": ".stages._sweep",
    "sweep": ".stages._sweep",
    "find_temporal_markers": ".stages._temporal", "temporal_info": ".stages._temporal",
    "transcribe": ".stages._transcription",
}


def __getattr__(name: str) -> object:
    """The lazily loaded names of ``_LAZY`` (``pk.Collection``, ``pk.transcribe``, ...)."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        if name == "sweep":  # in a notebook cell without a progress object, it shows its own
            value = with_progress("chunking sweep")(value)
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
    "codings_view",
    "compare_runs",
    "concept_speakers",
    "create_semantic_chunks",
    "default_home",
    "diarize",
    "explore",
    "export",
    "export_formats",
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
    "tag_view",
    "talk_time_table",
    "temporal_info",
    "transcribe",
    "transcript_view",
]
