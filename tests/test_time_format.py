"""One time format: m:ss wherever a time is shown, m:ss.s for words; counts as integers."""

from __future__ import annotations

import pandas as pd
import pytest

import pipeline_kit as pk
from pipeline_kit.base._reprs import clock, span
from pipeline_kit.notebook._listen import format_range, text_frame


def test_words_get_tenths_and_longer_spans_whole_seconds():
    assert clock(5.37, tenths=True) == "0:05.3" and clock(75.99, tenths=True) == "1:15.9"
    assert clock(5.37) == "0:05"
    assert span(5.21, 5.64) == "0:05.2–0:05.6"  # a word: no more "0:05–0:05"
    assert format_range(0.12, 0.36) == "0:00.1–0:00.3"
    assert span(53.4, 83.2) == "0:53–1:23"
    words = pd.DataFrame([w.to_dict() for w in (pk.Word("It", 0.12, 0.36),
                                                pk.Word("is", 0.36, 0.52))])
    shown = text_frame(words)
    assert list(shown["start"]) == ["0:00.1", "0:00.3"] and list(shown["end"]) == ["0:00.3",
                                                                                  "0:00.5"]
    chunks = pd.DataFrame({"start_time": [0.0, 61.5], "end_time": [61.5, 130.0]})
    assert list(text_frame(chunks)["end_time"]) == ["1:01", "2:10"]


def test_talk_time_table_and_timeline_axis_read_m_ss():
    import matplotlib

    matplotlib.use("Agg")
    turns = (pk.SpeakerTurn(0.0, 26.73, "SPEAKER_1"), pk.SpeakerTurn(26.73, 95.5, "SPEAKER_2"))
    d = pk.Diarization(turns, ("SPEAKER_1", "SPEAKER_2"), "test", audio_duration_seconds=95.5)
    table = pk.talk_time_table(d)
    assert list(table["talk"]) == ["0:26", "1:08"]
    assert list(table["first"]) == ["0:00", "0:26"] and list(table["last"]) == ["0:26", "1:35"]
    assert list(table["talk_seconds"]) == pytest.approx([26.73, 68.77])  # numbers for code
    ax = pk.speaker_timeline(d)
    assert ax.xaxis.get_major_formatter()(75.0, 0) == "1:15"
    assert "m:ss" in ax.get_xlabel()


def test_chunks_and_chapters_frames_show_m_ss_first():
    chunk = pk.Chunk(chunk_index=0, text="a b", start_word_index=0, end_word_index=2,
                     start_time=53.4, end_time=83.2)
    df = pk.chunks_df([chunk])
    assert list(df.columns[1:3]) == ["start", "end"]
    assert (df.loc[0, "start"], df.loc[0, "end"]) == ("0:53", "1:23")
    assert df.loc[0, "start_time"] == 53.4  # the seconds stay for code
    assert text_frame(df).loc[0, "start_time"] == "0:53"  # pk.table still finds them


def test_batch_summary_counts_are_integers(tmp_path):
    from pipeline_kit.pipeline._batch import SUMMARY_COLUMNS, counts_as_ints, write_summary

    rows = [{"file": "a.wav", "audio": "/x/a.wav", "status": "completed", "words": 70,
             "chunks": 3, "chapters": 1, "questions": 2},
            {"file": "b.wav", "audio": "/x/b.wav", "status": "failed", "error": "boom"}]
    df = counts_as_ints(pd.DataFrame(rows, columns=SUMMARY_COLUMNS))
    write_summary(tmp_path, df)
    write_summary(tmp_path, df.iloc[:1].copy())  # merged with the file already there
    text = (tmp_path / "summary.csv").read_text()
    assert ",70,3,1,2," in text and "70.0" not in text, text
    assert df["words"].tolist()[0] == 70 and pd.isna(df["words"].tolist()[1])
