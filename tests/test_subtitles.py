"""SRT and WebVTT timestamps past one and ten hours, read back by independent parsers
(``srt`` and ``webvtt-py``): a long recording's subtitles must keep their hours."""

from __future__ import annotations

import dataclasses

import pytest
import srt
import webvtt
from conftest import shared_path
from textdata import LJ

from pipeline_kit.stages._types import Transcript

# Where the transcript starts: just before 1 h, just before 10 h, and late in a 13 h day.
OFFSETS = [3600 - 4.321, 10 * 3600 - 4.321, 13 * 3600 + 59 * 60 + 47.5]


def shifted(t: Transcript, seconds: float) -> Transcript:
    """``t`` with every word and segment moved ``seconds`` later (a long recording's tail)."""
    words = tuple(dataclasses.replace(w, start=w.start + seconds, end=w.end + seconds)
                  for w in t.words)
    segments = tuple(dataclasses.replace(s, start=s.start + seconds, end=s.end + seconds)
                     for s in t.segments)
    return dataclasses.replace(t, words=words, segments=segments)


@pytest.fixture(scope="module")
def long_transcript_words() -> Transcript:
    """The LJ Speech reference text with evenly spaced word times (a few minutes of speech)."""
    text = " ".join(shared_path(LJ).read_text(encoding="utf-8").split()[:400])
    return Transcript.from_text(text, seconds_per_word=0.37)


def expected_cues(t: Transcript, texts: list[str]) -> list[tuple[float, float]]:
    """(start, end) each parsed cue must have: its first word's start, its last word's end."""
    spans, i = [], 0
    for text in texts:
        n = len(text.split())
        spans.append((t.words[i].start, t.words[i + n - 1].end))
        i += n
    assert i == len(t.words), "the cues do not hold every word once"
    return spans


@pytest.mark.parametrize("offset", OFFSETS)
def test_srt_times_past_hours_parse_back(long_transcript_words, offset):
    t = shifted(long_transcript_words, offset)
    cues = list(srt.parse(t.to_srt()))
    assert [c.index for c in cues] == list(range(1, len(cues) + 1))
    texts = [c.content for c in cues]
    assert " ".join(texts) == " ".join(w.text for w in t.words)
    for cue, (start, end) in zip(cues, expected_cues(t, texts), strict=True):
        assert cue.start.total_seconds() == pytest.approx(start, abs=0.0006)
        assert cue.end.total_seconds() == pytest.approx(end, abs=0.0006)
    assert cues[-1].end.total_seconds() > offset >= 3600 - 5


@pytest.mark.parametrize("offset", OFFSETS)
def test_vtt_times_past_hours_parse_back(long_transcript_words, offset):
    t = shifted(long_transcript_words, offset)
    captions = list(webvtt.from_string(t.to_vtt()))
    texts = [c.text for c in captions]
    assert " ".join(texts) == " ".join(w.text for w in t.words)
    for cap, (start, end) in zip(captions, expected_cues(t, texts), strict=True):
        assert cap.start_time.in_milliseconds() / 1000 == pytest.approx(start, abs=0.0006)
        assert cap.end_time.in_milliseconds() / 1000 == pytest.approx(end, abs=0.0006)


def test_an_hour_boundary_is_written_as_hours():
    """The cue crossing 1 h reads 00:59:5x --> 01:00:0x in both formats (not 60 minutes)."""
    t = shifted(Transcript.from_text("It was nearly one o'clock.", seconds_per_word=1.0),
                3600 - 2.5)
    assert "00:59:57,500 --> 01:00:02,500" in t.to_srt()
    assert "00:59:57.500 --> 01:00:02.500" in t.to_vtt()
