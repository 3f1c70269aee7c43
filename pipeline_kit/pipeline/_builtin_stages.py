"""The six built-in stages, declared once (see :mod:`pipeline_kit.pipeline._registry`).

Each ``_run_*`` adapts a :class:`~pipeline_kit.pipeline._registry.StageCall` to the stage's
plain function; heavy libraries load when a stage runs, not when this imports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pipeline_kit.base._fs import atomic_write_text
from pipeline_kit.base._params import Param
from pipeline_kit.pipeline._export_writers import table_exports, transcript_exports
from pipeline_kit.pipeline._registry import REGISTRY, Codec, StageCall, StageSpec, register
from pipeline_kit.stages._chapters import CHAPTER_PRIOR, MIN_SENTENCES
from pipeline_kit.stages._chunking import (
    CHUNK_BOUNDARIES,
    CHUNK_SIZE,
    CHUNKING_METHOD,
    OVERLAP,
    SPLIT_ON_SPEAKER_CHANGE,
    check_sizes,
)
from pipeline_kit.stages._diarization import MAX_SPEAKERS, check_speaker_counts
from pipeline_kit.stages._graph import TOP_CONCEPTS
from pipeline_kit.stages._questions import MAX_QUESTIONS
from pipeline_kit.stages._transcription import BATCH_SIZE as DECODE_BATCH
from pipeline_kit.stages._types import Chapter, Chunk, Diarization, Question, Transcript
from pipeline_kit.tasks import TaskType

_S = "pipeline_kit.stages."
_I = "pipeline_kit.ingest."
MODEL = Param("model", str, None, "Whisper model name or CTranslate2 folder; None for the "
              "bundled tiny.en (others must be available offline)", optional=True)
BATCH_SIZE = Param("batch_size", int, DECODE_BATCH,
                   "speech segments decoded per engine call",
                   minimum=1, maximum=256)
LANGUAGE = Param("language", str, None, "ISO 639 code of the speech; None to detect it",
                 optional=True, pattern=r"[a-z]{2,3}")
NUM_SPEAKERS = Param("num_speakers", int, None, "how many people speak (asks for the "
                     "diarization stage); None to estimate it when the stage runs",
                     minimum=1, maximum=MAX_SPEAKERS, optional=True)
MIN_SPEAKERS = Param("min_speakers", int, None, "fewest speakers to find when estimating",
                     minimum=1, maximum=MAX_SPEAKERS, optional=True)
MAX_SPEAKERS_PARAM = Param("max_speakers", int, None, "most speakers to find when estimating",
                           minimum=1, maximum=MAX_SPEAKERS, optional=True)
DIARIZATION_MODEL = Param("diarization_model", str, None, "a local pyannote.audio pipeline "
                          "(folder with config.yaml); None for the bundled Resemblyzer engine",
                          optional=True)


def records_codec(cls: Any) -> Codec:
    """A list of records with ``to_dict``/``from_dict``."""
    return Codec(lambda v: [r.to_dict() for r in v], lambda d: [cls.from_dict(x) for x in d])


def record_codec(cls: Any) -> Codec:
    """One record with ``to_dict``/``from_dict``."""
    return Codec(lambda v: v.to_dict(), cls.from_dict)


def _graph_codec() -> Codec:
    def encode(g: Any) -> Any:
        from pipeline_kit.stages._graph_query import to_node_link_json

        return json.loads(to_node_link_json(g))

    def decode(data: Any) -> Any:
        from pipeline_kit.stages._graph_query import from_node_link_json

        return from_node_link_json(json.dumps(data))

    return Codec(encode, decode)


@cache
def model_identity(model: str | None) -> dict[str, Any]:
    """Name and weights hash of the Whisper model ``model`` resolves to (no loading)."""
    from pipeline_kit.base._models import resolve_whisper_model

    resolved = resolve_whisper_model(model)
    return {"name": resolved.name, "weights_sha256": resolved.weights_sha256}


@cache
def embedder_identity() -> dict[str, Any] | None:
    """Name and weights hash of the default sentence embedder (None when not installed)."""
    from pipeline_kit.base._models import ModelNotAvailableError, resolve_embedding_model

    try:
        resolved = resolve_embedding_model(None)
        return {"name": resolved.name, "weights_sha256": resolved.weights_sha256}
    except ModelNotAvailableError:
        return None


def _with_embedder(params: Mapping[str, Any]) -> dict[str, Any]:
    return {"embedder": embedder_identity()}


# ----------------------------------------------------------------------------- upload

def _upload_record_codec() -> Codec:
    def decode(d: Any) -> Any:
        from pipeline_kit.ingest._upload import AudioRecord

        return AudioRecord.from_dict(d)

    return Codec(lambda v: v.to_dict(), decode)


def _run_upload(call: StageCall) -> Any:
    from pipeline_kit.ingest._upload import AudioLibrary

    library = AudioLibrary(call.home / "audio")
    stored = _library_record(library, call.audio)
    return stored or library.import_audio(call.audio, progress=call.progress)


def _library_record(library: Any, audio: str) -> Any:
    """The record of ``audio`` when it already is a completed file of ``library`` (no copy).

    Audio uploaded through the HTTP API lives in the library already; importing it
    again would store a second copy under another id.
    """
    from pipeline_kit.ingest._upload import UploadError

    path = Path(audio).resolve()
    if path.parent.parent != library.root.resolve():
        return None
    try:
        record = library.get(path.parent.name)
    except UploadError:
        return None
    ok = record.upload_status == "completed" and record.audio_file == path.name
    return record if ok else None


def _library_audio(record: Any, home: Path) -> str | None:
    """The library's copy of the uploaded audio: what later stages read; None when the
    library no longer has it (its folder was deleted or moved)."""
    from pipeline_kit.ingest._upload import AudioLibrary, UploadError

    try:
        p = AudioLibrary(home / "audio").audio_path(record.audio_id)
    except UploadError:
        return None
    return str(p) if p.is_file() else None


# ----------------------------------------------------------------------------- speakers

def speaker_inputs() -> tuple[str, ...]:
    """The optional input of a stage that carries speakers: the ``diarization`` stage,
    when it is registered (it is declared before the stages that use it). It runs only
    when asked for, so those stages use it when it is in the run and never pull it in."""
    return ("diarization",) if "diarization" in REGISTRY else ()


def labelled_transcript(call: StageCall) -> Transcript:
    """The transcript with speakers on its words when the stage got a diarization.

    The transcription artifact itself stays speaker-free (its cache key must not
    depend on diarization); every stage that needs speakers assigns them the same way.
    """
    from pipeline_kit.stages._speakers import assign_speakers

    transcript = call.inputs["transcription"]
    diarization = call.inputs.get("diarization")
    return transcript if diarization is None else assign_speakers(transcript, diarization)


# ----------------------------------------------------------------------------- the others

def _run_transcription(call: StageCall) -> Transcript:
    from pipeline_kit.stages._transcription import transcribe

    p = call.params
    return transcribe(call.audio, p["model"], batch_size=p["batch_size"],
                      language=p["language"], progress=call.progress)


def _transcript_summary(t: Transcript) -> dict[str, Any]:
    out: dict[str, Any] = {"words": len(t.words), "segments": len(t.segments),
                           "audio_seconds": t.audio_duration_seconds,
                           "model": t.model.to_dict(), "engine": dict(t.metadata or {})}
    if not t.words:
        out["note"] = "no speech detected: later stages have nothing to work on"
    return out


def _count(name: str) -> Any:
    return lambda value: {name: len(value)}


def _graph_summary(g: Any) -> dict[str, Any]:
    return {"nodes": g.number_of_nodes(), "edges": g.number_of_edges()}


def _export_transcript(t: Transcript, out: Path) -> None:
    atomic_write_text(out / "transcript.srt", t.to_srt())
    atomic_write_text(out / "transcript.vtt", t.to_vtt())
    atomic_write_text(out / "transcript.txt", t.to_txt())


def _run_diarization(call: StageCall) -> Diarization:
    from pipeline_kit.stages._diarization import diarize

    p = call.params
    return diarize(call.audio, call.inputs["transcription"], num_speakers=p["num_speakers"],
                   min_speakers=p["min_speakers"], max_speakers=p["max_speakers"],
                   model=p["diarization_model"], progress=call.progress)


def _check_speakers(params: dict[str, Any]) -> None:
    check_speaker_counts(params["num_speakers"], params["min_speakers"], params["max_speakers"])


@cache
def _diarizer_identity(model: str | None) -> dict[str, Any]:
    """What the diarization result depends on beyond its parameters: engine and weights."""
    from pipeline_kit.stages._diarization import ENGINE, encoder_sha256

    if model is None:
        return {"engine": ENGINE, "weights_sha256": encoder_sha256()}
    from pipeline_kit.base._models import resolve_diarization_model, weights_sha256

    config = resolve_diarization_model(model)
    return {"engine": "pyannote", "config": str(config),
            "weights_sha256": weights_sha256(config.parent)}


def _diarization_summary(d: Diarization) -> dict[str, Any]:
    out: dict[str, Any] = {"speakers": len(d.speakers), "turns": len(d.turns),
                           "method": d.method,
                           "talk_time": {k: round(v, 2) for k, v in d.talk_time().items()}}
    if not d.turns:
        out["note"] = "no speech found: no speaker turns"
    return out


def _export_diarization(d: Diarization, out: Path) -> None:
    from pipeline_kit.stages._rttm import to_rttm

    atomic_write_text(out / "diarization.rttm", to_rttm(d.turns))


def _run_chunking(call: StageCall) -> list[Chunk]:
    """Chunks; their MiniLM vectors, and their sentences', are kept beside the artifacts
    for the collection."""
    from pipeline_kit.base._progress import ScaledProgress
    from pipeline_kit.pipeline._chunk_vectors import SentenceVectors, save_vectors
    from pipeline_kit.stages._chunking import (
        chunk_embeddings,
        chunk_prepared,
        chunk_sentence_spans,
        prepare,
    )

    p, prog = call.params, call.progress
    check_sizes(dict(p))
    prepared = prepare(labelled_transcript(call), p["chunking_method"],
                       progress=ScaledProgress(prog, 0, 80))
    chunks = chunk_prepared(prepared, p["chunk_size"], p["overlap"],
                            progress=ScaledProgress(prog, 80, 100),
                            split_on_speaker_change=p["split_on_speaker_change"],
                            chunk_boundaries=p["chunk_boundaries"])
    vectors = chunk_embeddings(prepared, chunks)
    if vectors is not None and p["chunking_method"] == "embedding" and prepared.embedder_name:
        assert prepared.embeddings is not None  # chunk_embeddings returns None without them
        sentences = SentenceVectors(prepared.embeddings,
                                    chunk_sentence_spans(prepared, chunks))
        save_vectors(call.home, chunks, prepared.embedder_name, vectors, sentences)
    return chunks


def _chunking_identity(params: Mapping[str, Any]) -> dict[str, Any]:
    from pipeline_kit.stages._parse import parser_identity

    embedder = _with_embedder(params) if params["chunking_method"] == "embedding" else {}
    return {**embedder, "parser": parser_identity()}


def _run_chapters(call: StageCall) -> list[Chapter]:
    from pipeline_kit.stages._chapters import analyze_chapters

    # From the transcript, so chapter times are its real word times (the same as a
    # direct analyze_chapters(transcript) call); the chunks only fill chunk_ids.
    return analyze_chapters(labelled_transcript(call), chunks=call.inputs["chunking"],
                            min_sentences=call.params["min_sentences"],
                            chapter_prior=call.params["chapter_prior"], progress=call.progress)


def _run_graph(call: StageCall) -> Any:
    from pipeline_kit.stages._graph import build_graph
    from pipeline_kit.stages._speakers import link_concepts_to_speakers

    # Near-duplicate concepts merge by MiniLM similarity too when it is installed.
    G = build_graph(call.inputs["chunking"], chapters=call.inputs["chapters"],
                    top_concepts=call.params["top_concepts"],
                    merge_embedder=embedder_identity() is not None, progress=call.progress)
    if "diarization" in call.inputs:
        link_concepts_to_speakers(G, labelled_transcript(call))
    return G


def _export_graph(g: Any, out: Path) -> None:
    from pipeline_kit.stages._graph_query import to_graphml

    to_graphml(g, out / "graph.graphml")


def _run_questions(call: StageCall) -> list[Question]:
    from pipeline_kit.stages._questions import generate_questions
    from pipeline_kit.stages._speakers import questions_with_speakers

    i = call.inputs
    questions = generate_questions(i["chunking"], i["chapters"], i["graph"],
                                   max_questions=call.params["max_questions"],
                                   progress=call.progress)
    if "diarization" in i:
        questions = questions_with_speakers(questions, i["chunking"], labelled_transcript(call))
    return questions


# seconds_per_audio_second: measured with `run_pipeline` on the bundled sample
# (austen_sample.wav, 26.7 s; Whisper tiny.en, embedding chunking) in a fresh process on
# 2 CPU cores, model loading included: upload 0.07 s, transcription 7.2 s, chunking
# 0.49 s, graph 0.03 s, chapters 0.18 s, questions 0.005 s.
# Diarization (bench_diarization.py, 9 x 30 s AMI, warm, cores shared with other work):
# 0.04 s per audio second, plus a few seconds of loading (torch, Resemblyzer) per process.
register(StageSpec(
    name="upload", task_type=TaskType.AUDIO_UPLOAD_PROCESSING, run=_run_upload,
    codec=_upload_record_codec(), sources=(_I + "_upload", _I + "_audio", "pipeline_kit.base._fs"),
    result_attr="audio", weight=2, seconds_per_audio_second=0.003,
    aliases=("upload_processing", "audio_upload_processing"), reads_audio=True,
    export_json=False, route=False, audio_path=_library_audio,
    description="validate and store the audio (PyAV probe, checksum)"))
register(StageSpec(
    name="transcription", task_type=TaskType.TRANSCRIPTION, run=_run_transcription,
    codec=record_codec(Transcript),
    sources=(_S + "_transcription", _I + "_audio", _S + "_types"),
    result_attr="transcript", weight=70, seconds_per_audio_second=0.27,
    depends=("upload",), params=(MODEL, BATCH_SIZE, LANGUAGE), reads_audio=True,
    identity=lambda p: {"model": model_identity(p["model"])}, export=_export_transcript,
    exports=transcript_exports(), summary=_transcript_summary,
    route=False, description="WhisperX transcript with word times"))
register(StageSpec(
    name="diarization", task_type="diarization", run=_run_diarization,
    codec=record_codec(Diarization),
    sources=(_S + "_diarization", _S + "_overlap", _S + "_overlap_weights", _S + "_rttm",
             _S + "_vad", _I + "_audio", _S + "_types"),
    result_attr="diarization", weight=8, seconds_per_audio_second=0.1,
    depends=("upload", "transcription"),
    params=(NUM_SPEAKERS, MIN_SPEAKERS, MAX_SPEAKERS_PARAM, DIARIZATION_MODEL), reads_audio=True,
    aliases=("speaker_diarization",), check=_check_speakers, on_request=True,
    requested_by=("num_speakers", "min_speakers", "max_speakers", "diarization_model"),
    identity=lambda p: {"diarizer": _diarizer_identity(p["diarization_model"])},
    export=_export_diarization, summary=_diarization_summary,
    description="speaker turns: who speaks when (only when asked: name the stage, or "
                "give num_speakers; CLI --speakers N|auto)"))
register(StageSpec(
    name="chunking", task_type=TaskType.SEMANTIC_CHUNKING, run=_run_chunking,
    codec=records_codec(Chunk),
    sources=(_S + "_chunking", _S + "_embeddings", _S + "_sentences", _S + "_temporal",
             _S + "_speakers", _S + "_types", _S + "_text", _S + "_parse", _S + "_nlp",
             "pipeline_kit.pipeline._chunk_vectors"),
    result_attr="chunks", weight=10, seconds_per_audio_second=0.018,
    depends=("transcription",), uses=speaker_inputs(),
    params=(CHUNK_SIZE, OVERLAP, CHUNKING_METHOD, SPLIT_ON_SPEAKER_CHANGE, CHUNK_BOUNDARIES),
    aliases=("semantic_chunking",),
    identity=_chunking_identity, check=check_sizes, summary=_count("chunks"),
    exports=table_exports("chunking"),
    description="overlapping chunks with word/time ranges and temporal markers"))
register(StageSpec(
    name="chapters", task_type=TaskType.CHAPTER_ANALYSIS, run=_run_chapters,
    codec=records_codec(Chapter),
    sources=(_S + "_chapters", _S + "_segmentation", _S + "_keyphrases", _S + "_embeddings",
             _S + "_sentences", _S + "_speakers", _S + "_types", _S + "_nlp"),
    result_attr="chapters", weight=6, seconds_per_audio_second=0.0066,
    depends=("transcription", "chunking"), uses=speaker_inputs(),
    params=(MIN_SENTENCES, CHAPTER_PRIOR), aliases=("chapter_analysis",), identity=_with_embedder,
    summary=_count("chapters"), exports=table_exports("chapters"),
    description="titled, summarised chapters with time ranges"))
register(StageSpec(
    name="graph", task_type=TaskType.GRAPH_GENERATION, run=_run_graph, codec=_graph_codec(),
    sources=(_S + "_graph", _S + "_graph_query", _S + "_keyphrases", _S + "_embeddings",
             _S + "_concept_merge", _S + "_speakers", _S + "_types", _S + "_nlp"),
    result_attr="graph", weight=6, seconds_per_audio_second=0.0015,
    depends=("chunking", "chapters", "transcription"), uses=speaker_inputs(),
    params=(TOP_CONCEPTS,), aliases=("graph_generation",), identity=_with_embedder,
    export=_export_graph, summary=_graph_summary, description="concept graph (networkx)"))
register(StageSpec(
    name="questions", task_type=TaskType.QUESTION_GENERATION, run=_run_questions,
    codec=records_codec(Question),
    sources=(_S + "_questions", _S + "_keyphrases", _S + "_sentences", _S + "_speakers",
             _S + "_types", _S + "_nlp"),
    result_attr="questions", weight=6, seconds_per_audio_second=0.0002,
    depends=("chunking", "chapters", "graph", "transcription"), uses=speaker_inputs(),
    params=(MAX_QUESTIONS,),
    aliases=("question_generation",), summary=_count("questions"),
    exports=table_exports("questions"),
    description="comprehension and clarifying questions"))
