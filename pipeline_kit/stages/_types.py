"""Result records of the stages: plain dataclasses that round-trip through JSON.

Every record has ``to_dict()`` and ``from_dict()``; nothing here is pickled.
Field names follow the first design's records (``text_content`` is ``text`` here,
``raw_text`` is ``Transcript.text``) so its clients can map them one to one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from pipeline_kit.base._reprs import clip, clock, html_summary, plural, span, talk_times
from pipeline_kit.stages._subtitles import to_srt, to_vtt
from pipeline_kit.stages._text import join_words

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class _Dumpable(Protocol):
    """A record that serialises itself (every record here)."""

    def to_dict(self) -> dict[str, Any]: ...


class _Loadable(Protocol):
    """A record class that builds itself from its ``to_dict()`` (every record here)."""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self: ...


T = TypeVar("T", bound=_Loadable)


def _audio_seconds(t: Transcript) -> float:
    """Seconds of audio (the last word's end when the duration was not recorded)."""
    if t.audio_duration_seconds:
        return t.audio_duration_seconds
    return t.words[-1].end if t.words else 0.0


def _to_dict(obj: DataclassInstance) -> dict[str, Any]:
    return dataclasses.asdict(obj)


@dataclass(frozen=True)
class Word:
    """One recognised word with its time span in seconds."""

    text: str
    start: float
    end: float
    probability: float | None = None
    interpolated: bool = False  # time filled in from neighbours, not measured
    speaker: str | None = None  # diarization label (e.g. "SPEAKER_1"), None before diarization

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Word:
        return cls(**d)


@dataclass(frozen=True)
class Segment:
    """A stretch of speech as the recogniser returned it; ``words`` index into Transcript.words."""

    id: int
    start: float
    end: float
    text: str
    word_start: int  # index of its first word in Transcript.words
    word_end: int  # one past its last word
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    speaker: str | None = None  # the speaker of most of its words, None before diarization

    def __repr__(self) -> str:
        who = f", {self.speaker}" if self.speaker else ""
        return f"Segment({self.id}, {span(self.start, self.end)}{who}, {clip(self.text, 60)!r})"

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Segment:
        return cls(**d)


@dataclass(frozen=True)
class ModelInfo:
    """Which model produced a result: a name and a hash of its weights file."""

    name: str
    path: str | None = None
    weights_sha256: str | None = None
    device: str | None = None
    compute_type: str | None = None
    threads: int | None = None  # CPU threads the engine ran with
    vad: str | None = None  # speech detection engine, for a transcript

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelInfo:
        return cls(**d)


@dataclass(frozen=True)
class Transcript:
    """A timed transcript: text, segments and every word with start/end times."""

    text: str
    segments: tuple[Segment, ...]
    words: tuple[Word, ...]
    language: str
    confidence: float  # mean word probability, 0..1
    model: ModelInfo
    word_timing_method: str  # "wav2vec2-align", "whisper-word-timestamps" or "text"
    processing_time_seconds: float = 0.0
    audio_duration_seconds: float = 0.0
    audio_sha256: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"Transcript({clock(_audio_seconds(self))}, {plural(len(self.words), 'word')}, "
                f"{self.language}, {self.model.name})")

    def _repr_html_(self) -> str:
        speakers = sorted({w.speaker for w in self.words if w.speaker})
        rows: list[tuple[str, object]] = [
            ("duration", clock(_audio_seconds(self))),
            ("words", f"{len(self.words):,}"),
            ("segments", f"{len(self.segments):,}"),
            ("language", self.language),
            ("model", self.model.name),
            ("confidence", f"{self.confidence:.0%}"),
            ("word times", self.word_timing_method),
        ]
        if self.real_time_factor is not None and self.processing_time_seconds:
            rows.append(("processing", f"{self.processing_time_seconds:.1f} s "
                                       f"({self.real_time_factor:.2f}× real time)"))
        if speakers:
            rows.append(("speakers", ", ".join(speakers)))
        return html_summary("Transcript", rows, self.text)

    @property
    def real_time_factor(self) -> float | None:
        """Processing time divided by audio duration (below 1 is faster than real time)."""
        if not self.audio_duration_seconds:
            return None
        return self.processing_time_seconds / self.audio_duration_seconds

    @classmethod
    def from_text(cls, text: str, *, seconds_per_word: float = 0.4) -> Transcript:
        """Build an untimed transcript from plain text (times are synthetic, evenly spaced)."""
        tokens = text.split()
        words = tuple(
            Word(w, i * seconds_per_word, (i + 1) * seconds_per_word, None, True)
            for i, w in enumerate(tokens)
        )
        end = len(tokens) * seconds_per_word
        text = join_words(tokens)
        seg = Segment(0, 0.0, end, text, 0, len(tokens))
        return cls(
            text=text,
            segments=(seg,) if tokens else (),
            words=words,
            language="en",
            confidence=1.0,
            model=ModelInfo(name="text"),
            word_timing_method="text",
            audio_duration_seconds=end,
        )

    def to_dict(self) -> dict[str, Any]:
        d = _to_dict(self)
        d["real_time_factor"] = self.real_time_factor
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        d = dict(d)
        d.pop("real_time_factor", None)
        d["segments"] = tuple(Segment.from_dict(s) for s in d["segments"])
        d["words"] = tuple(Word.from_dict(w) for w in d["words"])
        d["model"] = ModelInfo.from_dict(d["model"])
        return cls(**d)

    def to_json(self, path: str | Path | None = None) -> str:
        """Serialise to JSON; also write it to ``path`` when one is given."""
        s = json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        if path is not None:
            Path(path).write_text(s, encoding="utf-8")
        return s

    @classmethod
    def from_json(cls, source: str | Path) -> Transcript:
        """Load from a JSON string or a path to a JSON file."""
        if isinstance(source, str) and source.lstrip().startswith("{"):
            return cls.from_dict(json.loads(source))
        return cls.from_dict(json.loads(Path(source).read_text(encoding="utf-8")))

    def words_df(self):  # -> pandas.DataFrame
        """One row per word: text, start, end, probability, interpolated, speaker, segment."""
        import pandas as pd

        seg_of = [0] * len(self.words)
        for s in self.segments:
            for i in range(s.word_start, s.word_end):
                seg_of[i] = s.id
        df = pd.DataFrame([w.to_dict() for w in self.words],
                          columns=["text", "start", "end", "probability", "interpolated",
                                   "speaker"])
        df["segment"] = seg_of
        return df

    def segments_df(self):  # -> pandas.DataFrame
        """One row per segment."""
        import pandas as pd

        cols = [f.name for f in dataclasses.fields(Segment)]
        return pd.DataFrame([s.to_dict() for s in self.segments], columns=cols)

    def to_srt(self) -> str:
        return to_srt(self.words)

    def to_vtt(self) -> str:
        return to_vtt(self.words)

    def to_txt(self) -> str:
        return "\n".join(s.text.strip() for s in self.segments) + "\n"


@dataclass(frozen=True)
class TemporalMarker:
    """A time expression found in a text span."""

    text: str  # the matched text as it stands
    kind: str  # "year", "decade", "date", "age", "life_stage", "relative", "era"
    start_char: int  # span in the chunk text
    end_char: int
    normalized: str | None  # e.g. "1985", "1980s", "1985-03-04", "age:12"
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TemporalMarker:
        return cls(**d)


@dataclass(frozen=True)
class TemporalInfo:
    """Time expressions of a chunk; the first design's three fields plus all markers."""

    markers: tuple[TemporalMarker, ...] = ()

    @property
    def temporal_marker(self) -> str | None:
        """The most confident marker's normalized value (or text), as the first design had it."""
        if not self.markers:
            return None
        best = max(self.markers, key=lambda m: m.confidence)
        return best.normalized or best.text

    @property
    def temporal_confidence(self) -> float:
        return max((m.confidence for m in self.markers), default=0.0)

    @property
    def requires_user_clarification(self) -> bool:
        return not self.markers

    def to_dict(self) -> dict[str, Any]:
        return {
            "temporal_marker": self.temporal_marker,
            "temporal_confidence": self.temporal_confidence,
            "requires_user_clarification": self.requires_user_clarification,
            "markers": [m.to_dict() for m in self.markers],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TemporalInfo:
        return cls(tuple(TemporalMarker.from_dict(m) for m in d.get("markers", ())))


@dataclass(frozen=True)
class Chunk:
    """A stretch of the transcript: words [start_word_index, end_word_index)."""

    chunk_index: int
    text: str
    start_word_index: int
    end_word_index: int  # one past the last word
    start_time: float
    end_time: float
    boundary_score: float | None = None  # similarity drop that closed it (None: end of text)
    temporal_info: TemporalInfo = field(default_factory=TemporalInfo)
    topic_index: int = 0  # topic segment it lies in (chunks never straddle topics by default)
    speakers: dict[str, float] = field(default_factory=dict)  # speaker -> seconds talked in it

    @property
    def word_count(self) -> int:
        return self.end_word_index - self.start_word_index

    def __repr__(self) -> str:
        return (f"Chunk({self.chunk_index}, {span(self.start_time, self.end_time)}, "
                f"{plural(self.word_count, 'word')}, {clip(self.text, 50)!r})")

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [
            ("time", span(self.start_time, self.end_time)),
            ("words", f"{self.word_count:,} (words {self.start_word_index}–"
                      f"{self.end_word_index - 1})"),
            ("topic", self.topic_index),
        ]
        if self.temporal_info.markers:
            rows.append(("time markers", ", ".join(m.text for m in self.temporal_info.markers)))
        if self.speakers:
            rows.append(("speakers", talk_times(self.speakers)))
        return html_summary(f"Chunk {self.chunk_id}", rows, self.text)

    @property
    def character_count(self) -> int:
        return len(self.text)

    @property
    def chunk_id(self) -> str:
        return f"chunk-{self.chunk_index:04d}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "chunk_index": self.chunk_index,
            "text": self.text,
            "word_count": self.word_count,
            "character_count": self.character_count,
            "start_word_index": self.start_word_index,
            "end_word_index": self.end_word_index,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "boundary_score": self.boundary_score,
            "temporal_info": self.temporal_info.to_dict(),
            "topic_index": self.topic_index,
            "speakers": dict(self.speakers),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chunk:
        return cls(
            chunk_index=d["chunk_index"],
            text=d["text"],
            start_word_index=d["start_word_index"],
            end_word_index=d["end_word_index"],
            start_time=d["start_time"],
            end_time=d["end_time"],
            boundary_score=d.get("boundary_score"),
            temporal_info=TemporalInfo.from_dict(d.get("temporal_info", {})),
            topic_index=d.get("topic_index", 0),
            speakers=dict(d.get("speakers", {})),
        )


@dataclass(frozen=True)
class Chapter:
    """A topical section of a transcript."""

    chapter_index: int
    title: str
    summary: str
    start_time: float
    end_time: float
    start_sentence: int
    end_sentence: int  # one past the last sentence
    chunk_ids: tuple[str, ...] = ()
    key_phrases: tuple[str, ...] = ()
    speakers: dict[str, float] = field(default_factory=dict)  # speaker -> seconds talked in it

    def __repr__(self) -> str:
        return (f"Chapter({self.chapter_index}, {clip(self.title, 50)!r}, "
                f"{span(self.start_time, self.end_time)}, {plural(len(self.chunk_ids), 'chunk')})")

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [
            ("time", span(self.start_time, self.end_time)),
            ("chunks", ", ".join(self.chunk_ids) or "none"),
            ("key phrases", ", ".join(self.key_phrases) or "none"),
        ]
        if self.speakers:
            rows.append(("speakers", talk_times(self.speakers)))
        return html_summary(f"Chapter {self.chapter_index}: {self.title}", rows, self.summary)

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chapter:
        d = dict(d)
        d["chunk_ids"] = tuple(d.get("chunk_ids", ()))
        d["key_phrases"] = tuple(d.get("key_phrases", ()))
        d["speakers"] = dict(d.get("speakers", {}))
        return cls(**d)


@dataclass(frozen=True)
class SpeakerTurn:
    """One stretch of audio in which one speaker talks (turns of two speakers may overlap)."""

    start: float
    end: float
    speaker: str  # "SPEAKER_1", "SPEAKER_2", ... in order of first appearance

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpeakerTurn:
        return cls(**d)


@dataclass(frozen=True)
class Diarization:
    """Who spoke when: speaker turns over a recording, and how they were found."""

    turns: tuple[SpeakerTurn, ...]
    speakers: tuple[str, ...]  # labels in order of first appearance
    method: str  # e.g. "resemblyzer+spectral", "pyannote:<path>", "single-speaker"
    overlaps: tuple[tuple[float, float], ...] = ()  # (start, end) where two or more speak
    audio_duration_seconds: float = 0.0
    model: ModelInfo | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"Diarization({plural(len(self.speakers), 'speaker')}, "
                f"{plural(len(self.turns), 'turn')}, {clock(self.audio_duration_seconds)}, "
                f"{self.method})")

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [
            ("duration", clock(self.audio_duration_seconds)),
            ("method", self.method),
            ("turns", f"{len(self.turns):,}"),
            ("overlaps", f"{len(self.overlaps):,}"),
        ]
        rows += [(speaker, f"talks {clock(seconds)}")
                 for speaker, seconds in self.talk_time().items()]
        return html_summary("Diarization", rows)

    def talk_time(self) -> dict[str, float]:
        """Seconds each speaker talks (overlapping turns count for each speaker)."""
        totals = dict.fromkeys(self.speakers, 0.0)
        for t in self.turns:
            totals[t.speaker] = totals.get(t.speaker, 0.0) + t.duration
        return totals

    def to_dict(self) -> dict[str, Any]:
        return {
            "turns": [t.to_dict() for t in self.turns],
            "speakers": list(self.speakers),
            "method": self.method,
            "overlaps": [list(o) for o in self.overlaps],
            "audio_duration_seconds": self.audio_duration_seconds,
            "model": self.model.to_dict() if self.model else None,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Diarization:
        return cls(
            turns=tuple(SpeakerTurn.from_dict(t) for t in d.get("turns", ())),
            speakers=tuple(d.get("speakers", ())),
            method=d["method"],
            overlaps=tuple((float(a), float(b)) for a, b in d.get("overlaps", ())),
            audio_duration_seconds=d.get("audio_duration_seconds", 0.0),
            model=ModelInfo.from_dict(d["model"]) if d.get("model") else None,
            metadata=d.get("metadata", {}),
        )


@dataclass(frozen=True)
class Question:
    """A generated question about the transcript."""

    text: str
    type: str  # "clarifying", "cloze", "when", "how_many", "who", "where", "relation", ...
    answer: str | None
    chunk_id: str | None
    start_time: float | None
    end_time: float | None
    score: float
    source: str = "builtin"  # which generator produced it
    context: str | None = None  # the source sentence the answer comes from
    answer_type: str | None = None  # "person", "place", "date", "number", "thing", "phrase"
    speaker: str | None = None  # who said the source sentence, when one speaker said all of it

    def __repr__(self) -> str:
        where = f", {span(self.start_time, self.end_time)}" if self.start_time is not None else ""
        answer = f", answer={clip(self.answer, 40)!r}" if self.answer else ""
        return f"Question({self.type}{where}, {clip(self.text, 80)!r}{answer})"

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Question:
        return cls(**d)


def dominant_speaker(speakers: Mapping[str, float]) -> str | None:
    """The speaker with the most talk time in a ``speakers`` mapping (None when empty)."""
    return max(speakers.items(), key=lambda kv: kv[1])[0] if speakers else None


CHUNK_COLUMNS = ["chunk_id", "start_time", "end_time", "word_count", "topic_index",
                 "boundary_score", "speaker", "speakers", "text"]
CHAPTER_COLUMNS = ["chapter_index", "title", "start_time", "end_time", "speaker", "speakers",
                   "key_phrases", "summary"]


def chunks_df(chunks: Sequence[Chunk]):  # -> pandas.DataFrame
    """One row per chunk; ``speaker`` is who talks most in it, ``speakers`` each one's
    seconds (None and {} before diarization)."""
    import pandas as pd

    rows = [{**c.to_dict(), "speaker": dominant_speaker(c.speakers)} for c in chunks]
    return _with_clock(pd.DataFrame(rows, columns=CHUNK_COLUMNS))


def chapters_df(chapters: Sequence[Chapter]):  # -> pandas.DataFrame
    """One row per chapter, with ``speaker`` (most talk time) and ``speakers`` as for chunks."""
    import pandas as pd

    rows = [{**c.to_dict(), "speaker": dominant_speaker(c.speakers)} for c in chapters]
    return _with_clock(pd.DataFrame(rows, columns=CHAPTER_COLUMNS))


def _with_clock(df: Any) -> Any:
    """``df`` with ``start``/``end`` columns in m:ss first, so a shown table reads in the
    one time format; ``start_time``/``end_time`` keep the seconds for code."""
    df.insert(1, "start", df["start_time"].map(clock))
    df.insert(2, "end", df["end_time"].map(clock))
    return df


def dump_records(records: Sequence[_Dumpable], path: str | Path | None = None) -> str:
    """Serialise a list of records to JSON (and write it when ``path`` is given)."""
    s = json.dumps([r.to_dict() for r in records], ensure_ascii=False, indent=1)
    if path is not None:
        Path(path).write_text(s, encoding="utf-8")
    return s


def load_records(cls: type[T], source: str | Path) -> list[T]:
    """Load a list of ``cls`` records from a JSON string or file."""
    text = str(source)
    if isinstance(source, Path) or not text.lstrip().startswith("["):
        text = Path(source).read_text(encoding="utf-8")
    return [cls.from_dict(d) for d in json.loads(text)]
