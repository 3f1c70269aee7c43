"""MiniLM sentence vectors without torch: ONNX Runtime and the ``tokenizers`` package.

A search query is one sentence; embedding it costs milliseconds, but loading torch,
sentence-transformers and the model costs 10 s or more and 1 GB of memory. So the
installed sentence-transformers model is exported to ONNX once per machine, in a
process that has torch loaded anyway (the first semantic search, or the end of a run
that embedded its chunks), into ``models_cache()/<name>-onnx-<weights sha256>/``:
``model.onnx`` and ``model.onnx.data`` (the transformer: token ids in, token vectors
out; its weights memory-mapped), the model's ``tokenizer.json`` and ``manifest.json``.
Queries are then tokenized with ``tokenizers``, run through ONNX Runtime, mean-pooled
over their tokens and scaled to unit length, as sentence-transformers does, so they
land in the same space as the stored chunk vectors.

An export is kept only when its vectors agree with sentence-transformers' on
``PROBES`` (cosine at least ``MIN_COSINE`` for every probe, alone and in a padded
batch). A cold ``pipeline-kit search`` finds the export by the weights file's path,
size and modification time recorded in the manifest, without hashing 90 MB again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline_kit.base._fs import atomic_write_text, file_lock
from pipeline_kit.base._models import ResolvedModel, models_cache, resolve_embedding_model

EXPORT_FORMAT = 1  # bumped when the exported graph or the folder's files change meaning
OPSET = 17
MIN_COSINE = 0.9999
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_FILES = ("model.onnx", "model.onnx.data", "tokenizer.json")
# Checked at export: short and long, a question, a heading, digits, non-ASCII, and one
# past the model's 256-token limit (truncated the same way on both sides).
PROBES = (
    "What did the printers of the fifteenth century use for their type?",
    "hello",
    "6.4 .",
    "In 1961 the president asked what you can do for your country.",
    "Éléonore's café served crème brûlée — naïvely priced at €4.50!",
    " ".join(["The committee met again and the minutes were read aloud."] * 40),
)


class OnnxEmbedder:
    """An exported model (``model.onnx`` and ``tokenizer.json`` in ``folder``):
    ``encode(texts)`` gives unit float32 rows, as
    :class:`~pipeline_kit.stages._embeddings.SentenceTransformerEmbedder` would."""

    def __init__(self, folder: Path, name: str, max_seq_length: int, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        self.folder = folder
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._pad_id = int((tokenizer.padding or {}).get("pad_id", 0))
        tokenizer.no_padding()  # padded here, to the longest text of a batch
        tokenizer.enable_truncation(max_seq_length)
        self._tokenizer = tokenizer
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # one sentence gains nothing from more
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # a query's buffers are small: no 25 MB arena
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(folder / "model.onnx"), options,
                                             providers=["CPUExecutionProvider"])

    @classmethod
    def load(cls, folder: Path) -> OnnxEmbedder:
        """The verified export of ``folder`` (FileNotFoundError when there is none)."""
        manifest = read_manifest(folder)
        if manifest is None:
            raise FileNotFoundError(f"{folder} holds no finished ONNX export")
        return cls(folder, manifest["name"], int(manifest["max_seq_length"]))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``: token vectors mean-pooled over the real tokens."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        encodings = self._tokenizer.encode_batch([str(t).strip() for t in texts])
        width = max(len(e.ids) for e in encodings)
        feeds = {name: np.full((len(encodings), width), self._pad_id if name == "input_ids"
                               else 0, dtype=np.int64) for name in _INPUTS}
        for i, e in enumerate(encodings):
            n = len(e.ids)
            feeds["input_ids"][i, :n] = e.ids
            feeds["attention_mask"][i, :n] = e.attention_mask
            feeds["token_type_ids"][i, :n] = e.type_ids
        tokens = self._session.run(None, feeds)[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


# ----------------------------------------------------------------------------- finding


def _weights_file(model: ResolvedModel) -> Path | None:
    return next((model.path / w for w in _WEIGHTS if (model.path / w).is_file()), None)


def _source(weights: Path) -> dict[str, Any]:
    """What identifies the weights file without reading it: path, size, mtime."""
    st = weights.stat()
    return {"path": str(weights.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a finished, verified export of this format; None otherwise."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    ok = (isinstance(manifest, dict) and manifest.get("format") == EXPORT_FORMAT
          and manifest.get("min_cosine", 0) >= MIN_COSINE
          and all((folder / f).is_file() for f in _FILES))
    return manifest if ok else None


def export_folder(model: ResolvedModel, sha256: str) -> Path:
    """Where the export of ``model`` (weights hashing to ``sha256``) is kept."""
    return models_cache() / f"{model.name}-onnx-{sha256[:16]}"


def find_export(model: str | None = None) -> Path | None:
    """The folder of this machine's export of the sentence-transformers model ``model``
    (None: the bundled MiniLM), or None when it has not been exported yet."""
    resolved = resolve_embedding_model(model)
    weights = _weights_file(resolved)
    if weights is None:
        return None
    source = _source(weights)
    for manifest_path in sorted(models_cache().glob(f"{resolved.name}-onnx-*/manifest.json")):
        manifest = read_manifest(manifest_path.parent)
        if manifest is not None and source in manifest.get("sources", []):
            return manifest_path.parent
    return None


# ----------------------------------------------------------------------------- exporting


def export_onnx(model: str | None = None) -> Path:
    """Export the sentence-transformers model ``model`` to ONNX once (torch needed) and
    return its folder; checked against sentence-transformers on ``PROBES`` first.

    Two processes exporting at once take turns; the second finds the first's export.
    An export that disagrees raises RuntimeError and leaves no manifest (none is used).
    """
    from pipeline_kit.stages._embeddings import SentenceTransformerEmbedder, get_embedder

    resolved = resolve_embedding_model(model)
    weights = _weights_file(resolved)
    if weights is None or not (resolved.path / "tokenizer.json").is_file():
        raise ValueError(f"{resolved.path}: no weights file or tokenizer.json to export")
    folder = export_folder(resolved, resolved.weights_sha256)
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / ".lock"):
        manifest = read_manifest(folder)
        source = _source(weights)
        if manifest is None:
            embedder = get_embedder(model)
            if not isinstance(embedder, SentenceTransformerEmbedder):
                raise TypeError(f"{resolved.name} is not a sentence-transformers model")
            manifest = _export(embedder, folder, resolved)
        if source not in manifest["sources"]:  # the same weights installed elsewhere
            manifest["sources"].append(source)
            atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=1))
    return folder


def _export(embedder: Any, folder: Path, resolved: ResolvedModel) -> dict[str, Any]:
    """Write ``model.onnx`` and ``tokenizer.json``, check them, then the manifest."""
    import torch

    st = embedder._model
    transformer, max_len = _mean_pooled_transformer(st)
    (folder / "manifest.json").unlink(missing_ok=True)
    example = st.tokenizer([PROBES[0]], return_tensors="pt")
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".staging-"))
    try:
        with _without_onnx_package(), warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python-side shape checks
            torch.onnx.export(_token_vectors(transformer),
                              tuple(example[k] for k in _INPUTS), str(staging / "traced.onnx"),
                              input_names=list(_INPUTS), output_names=["token_vectors"],
                              dynamic_axes={k: {0: "batch", 1: "tokens"}
                                            for k in (*_INPUTS, "token_vectors")},
                              opset_version=OPSET, dynamo=False)
        save_with_external_weights(staging / "traced.onnx", staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    shutil.copyfile(resolved.path / "tokenizer.json", folder / "tokenizer.json")
    manifest: dict[str, Any] = {
        "format": EXPORT_FORMAT, "name": resolved.name, "weights_sha256":
        resolved.weights_sha256, "max_seq_length": max_len, "opset": OPSET,
        "torch": torch.__version__, "sources": []}
    manifest["min_cosine"] = agreement(embedder, OnnxEmbedder(folder, resolved.name, max_len))
    if manifest["min_cosine"] < MIN_COSINE:
        raise RuntimeError(f"the ONNX export of {resolved.name} disagrees with "
                           f"sentence-transformers (cosine {manifest['min_cosine']:.6f} < "
                           f"{MIN_COSINE}): kept torch for queries")
    atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=1))
    return manifest


def save_with_external_weights(source: Path, staging: Path, folder: Path) -> None:
    """Save the ONNX model ``source`` into ``folder`` as ``model.onnx`` (the graph, small)
    and ``model.onnx.data`` (the weights), written by ONNX Runtime itself (no ``onnx``
    package needed) into ``staging`` first, then moved.

    ONNX Runtime memory-maps external weights instead of parsing them out of the
    protobuf: loading peaks at about 60 MB above the interpreter instead of 140 MB, and
    the 47 MB word-embedding table is read only for the rows a query's tokens use.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    # basic graph rewrites only (constant folding, dead nodes): they hold on any CPU
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(staging / "model.onnx")
    options.add_session_config_entry(
        "session.optimized_model_external_initializers_file_name", "model.onnx.data")
    options.add_session_config_entry(
        "session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    options.log_severity_level = 3
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    for name in ("model.onnx.data", "model.onnx"):  # the graph last: it names the data
        os.replace(staging / name, folder / name)


def agreement(reference: Any, onnx: OnnxEmbedder, texts: Sequence[str] = PROBES) -> float:
    """The lowest cosine between the two embedders' vectors of ``texts``, each text
    alone and all in one padded batch."""
    want = reference.encode(list(texts))
    alone = np.vstack([onnx.encode([t]) for t in texts])
    batch = onnx.encode(list(texts))
    return float(min((alone * want).sum(axis=1).min(), (batch * want).sum(axis=1).min()))


def _mean_pooled_transformer(st: Any) -> tuple[Any, int]:
    """The Hugging Face model of a (Transformer, mean Pooling[, Normalize]) pipeline and
    its token limit; ValueError for any other pipeline (its vectors would differ)."""
    kinds = [type(m).__name__ for m in st]
    pooling = getattr(st[1], "pooling_mode", None) if len(st) > 1 else None
    if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]) \
            or pooling not in ("mean", None) or getattr(st[1], "pooling_mode_mean_tokens",
                                                        pooling == "mean") is not True:
        raise ValueError(f"only Transformer + mean Pooling models are exported, not {kinds}")
    return st[0].auto_model, int(st[0].max_seq_length)


def _token_vectors(model: Any) -> Any:
    """``model`` as a module of positional inputs whose output is its last hidden state
    (what ONNX export traces)."""
    import torch

    class TokenVectors(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    return TokenVectors().eval()


@contextlib.contextmanager
def _without_onnx_package() -> Iterator[None]:
    """torch's TorchScript exporter imports the ``onnx`` package (not installed here) only
    to splice onnx-script functions of custom operators into the model; a BERT has none,
    so the model bytes pass through unchanged. The export is verified afterwards."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        pass
    else:
        yield
        return
    from torch.onnx._internal import onnx_proto_utils

    original = onnx_proto_utils._add_onnxscript_fn

    def unchanged(model_bytes: bytes, custom_opsets: Any) -> bytes:
        return model_bytes

    onnx_proto_utils._add_onnxscript_fn = unchanged
    try:
        yield
    finally:
        onnx_proto_utils._add_onnxscript_fn = original


# ----------------------------------------------------------------------------- queries

_loaded: dict[Path, OnnxEmbedder] = {}
_failed: set[str] = set()  # models whose export failed in this process: not retried
_lock = threading.Lock()


def onnx_embedder(model: str | None = None) -> OnnxEmbedder | None:
    """This machine's ONNX embedder of ``model``, loaded once per process; None when the
    model has not been exported."""
    folder = find_export(model)
    if folder is None:
        return None
    with _lock:
        if folder not in _loaded:
            _loaded[folder] = OnnxEmbedder.load(folder)
        return _loaded[folder]


def ensure_export(model: str | None = None) -> Path | None:
    """Export ``model`` if it is not yet (a process that has torch loaded calls this);
    a failure warns once per process and returns None: queries then keep using torch."""
    key = str(model)
    if key in _failed:
        return None
    try:
        return find_export(model) or export_onnx(model)
    except Exception as e:  # noqa: BLE001 - the ONNX path is an optimisation
        _failed.add(key)
        warnings.warn(f"no ONNX export of the embedding model ({type(e).__name__}: {e}); "
                      "search queries load torch", RuntimeWarning, stacklevel=2)
        return None


def export_if_loaded(model: str | None = None) -> Path | None:
    """Export ``model`` now if this process has its sentence-transformers model loaded
    anyway (after a run that embedded its chunks) and it is not exported yet."""
    from pipeline_kit.stages._embeddings import loaded_embedder

    if loaded_embedder(model) is None:
        return None
    return ensure_export(model)


def query_vector(q: str, model: str | None = None) -> np.ndarray:
    """The unit vector of the query ``q`` (see :func:`text_vectors`)."""
    return text_vectors([q], model)[0]


def text_vectors(texts: Sequence[str], model: str | None = None) -> np.ndarray:
    """Unit vectors of a few ``texts`` at query time: with the sentence-transformers
    model when this process has loaded it already, else with the ONNX export, else with
    torch (which then exports the model, so the next process does not need torch)."""
    from pipeline_kit.base._threads import one_torch_thread
    from pipeline_kit.stages._embeddings import get_embedder, loaded_embedder

    warm = loaded_embedder(model)
    if warm is None:
        onnx = onnx_embedder(model)
        if onnx is not None:
            return onnx.encode(list(texts))
    embedder = warm or get_embedder(model)  # loads torch: the thread count applies from here
    # One thread: one short sentence gains nothing from a second, and on a busy machine
    # that thread spins (measured at load 6-8: 14 ms CPU per query on one, 17-300 on two).
    with one_torch_thread():
        vectors = embedder.encode(list(texts))
    if warm is None:
        ensure_export(model)
    return vectors
