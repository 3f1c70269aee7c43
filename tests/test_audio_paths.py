"""A folder given where an audio file is expected is named as a folder (issue 32)."""

from __future__ import annotations

import pytest

import pipeline_kit as pk


def test_transcribing_a_directory_says_it_is_a_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory, not a file"):
        pk.transcribe(tmp_path)  # was: "audio file not found"
    with pytest.raises(FileNotFoundError, match="audio file not found"):
        pk.transcribe(tmp_path / "missing.wav")
