"""``pk.explore(result)``: one widget to check what a run found, by ear.

Chapter list → the chapter's text (words light up as they play; speakers when the run
has them) → its chunks and questions, each with a ▶ control; below, the concept graph
filtered to the chapter, where clicking a concept lists its chunks with their times.
One ``<audio>`` element (see :mod:`pipeline_kit.notebook._listen`) serves every control. Where
no live front end renders widgets, the chapters are printed as a table with m:ss times.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipeline_kit.notebook._display import has_live_frontend
from pipeline_kit.notebook._listen import (
    audio_path,
    format_range,
    format_time,
    listen_box,
    listen_html,
    play_button,
    table_html,
    text_frame,
    to_frame,
    words_html,
)

CHAPTER_COLUMNS = ["chapter_index", "title", "start_time", "end_time", "key_phrases"]
CHUNK_COLUMNS = ["chunk_id", "word_count", "start_time", "end_time", "text"]
QUESTION_COLUMNS = ["type", "text", "answer", "chunk_id", "score", "start_time", "end_time"]


def _speakers_html(speakers: dict[str, float]) -> str:
    """"SPEAKER_1 01:10, SPEAKER_2 00:20" (talk time), or nothing before diarization."""
    if not speakers:
        return ""
    parts = ", ".join(f"{html.escape(s)} {format_time(t)}"
                      for s, t in sorted(speakers.items(), key=lambda kv: -kv[1]))
    return f"<div><b>speakers</b>: {parts}</div>"


def chapter_chunks(chapter: Any, chunks: Sequence[Any]) -> list[Any]:
    """The chunks of ``chapter``: those it lists, else those overlapping its time range."""
    ids = set(chapter.chunk_ids)
    if ids:
        return [c for c in chunks if c.chunk_id in ids]
    return [c for c in chunks
            if c.start_time < chapter.end_time and c.end_time > chapter.start_time]


def chapter_questions(chapter: Any, chunks: Sequence[Any], questions: Sequence[Any]) -> list[Any]:
    """The questions about the chunks of ``chapter``."""
    ids = {c.chunk_id for c in chapter_chunks(chapter, chunks)}
    return [q for q in questions if q.chunk_id in ids]


def chapter_html(chapter: Any, transcript: Any, chunks: Sequence[Any],
                 questions: Sequence[Any]) -> str:
    """One chapter: title, ▶, speakers, summary, its words (highlighted as they play),
    then its chunks and questions with ▶ controls."""
    c = chapter
    head = (f"<h4 style='margin:4px 0'>{c.chapter_index} · {html.escape(c.title)} "
            f"{play_button(c.start_time, c.end_time)}</h4>")
    phrases = (f"<div><b>key phrases</b>: {html.escape(', '.join(c.key_phrases))}</div>"
               if c.key_phrases else "")
    summary = f"<div><i>{html.escape(c.summary)}</i></div>" if c.summary else ""
    words = (words_html(transcript.words, c.start_time, c.end_time)
             if transcript is not None else "")
    mine = chapter_chunks(c, chunks)
    with_speakers = any(getattr(k, "speakers", None) for k in mine)  # after diarization
    cks = to_frame(mine, CHUNK_COLUMNS + (["speakers"] if with_speakers else []))
    qs = to_frame(chapter_questions(c, chunks, questions), QUESTION_COLUMNS)
    parts = [head, _speakers_html(dict(c.speakers)), phrases, summary,
             f"<div style='max-height:220px;overflow:auto;border:1px solid #ddd;padding:4px'>"
             f"{words}</div>",
             f"<h5 style='margin:6px 0 2px'>chunks ({len(cks)})</h5>",
             table_html(cks) if not cks.empty else "<i>none</i>",
             f"<h5 style='margin:6px 0 2px'>questions ({len(qs)})</h5>",
             table_html(qs.dropna(subset=["start_time", "end_time"]))
             if not qs.empty and qs["start_time"].notna().any() else "<i>none</i>"]
    return listen_html("".join(parts))


@dataclass
class Explorer:
    """The explore widget of one run (see the module docstring)."""

    result: Any

    def __post_init__(self) -> None:
        r = self.result
        self.chapters = list(r.chapters or [])
        self.chunks = list(r.chunks or [])
        self.questions = list(r.questions or [])
        self.transcript = r.transcript
        self.graph = r.graph

    def header(self) -> str:
        """File name, duration and what the run found."""
        name = audio_path(self.result).name
        dur = self.transcript.audio_duration_seconds if self.transcript is not None else None
        return (f"<b>{html.escape(name)}</b> ({format_time(dur)}) · run "
                f"{html.escape(str(self.result.run_id))[:12]} · {len(self.chapters)} chapters, "
                f"{len(self.chunks)} chunks, {len(self.questions)} questions")

    def chapters_frame(self) -> pd.DataFrame:
        return to_frame(self.chapters, CHAPTER_COLUMNS)

    def widget(self):  # -> ipywidgets.VBox
        """The live widget: header, chapter list and pane, then the graph."""
        import ipywidgets as W

        from pipeline_kit.notebook._graph_view import GraphView, chapter_color

        items = [(f"{c.chapter_index} · {format_range(c.start_time, c.end_time)} · {c.title}",
                  c.chapter_index) for c in self.chapters]
        chooser = W.Select(options=items, rows=min(max(len(items), 4), 14),
                           layout=W.Layout(width="34%"))
        chooser.add_class("pk-chapter-list")
        overview = W.HTML(listen_html(
            "<b>chapters</b>" + table_html(self.chapters_frame()))
            if self.chapters else "<i>no chapters in this run</i>")
        pane = W.HTML(layout=W.Layout(width="64%"))
        pane.add_class("pk-chapter-pane")
        by_index = {c.chapter_index: c for c in self.chapters}
        graph = (GraphView(self.graph, self.result, self.chapters)
                 if self.graph is not None and self.graph.number_of_nodes() else None)

        def show(change: Any = None) -> None:
            c = by_index.get(chooser.value)
            if c is None:
                pane.value = "<i>choose a chapter</i>"
                return
            bar = (f"<div style='height:4px;background:{chapter_color(c.chapter_index)}'>"
                   "</div>")
            pane.value = bar + chapter_html(c, self.transcript, self.chunks, self.questions)
            if graph is not None and change is not None:
                graph.chapter.value = c.chapter_index

        chooser.observe(show, names="value")
        if items:
            chooser.value = items[0][1]
        show()
        parts = [W.HTML(self.header()), overview, W.HBox([chooser, pane])]
        if graph is not None:
            parts += [W.HTML("<h4 style='margin:8px 0 2px'>concept graph</h4>"), *graph.parts()]
        box = listen_box(self.result, parts)
        box.add_class("pk-explore")
        return box

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if has_live_frontend():
            display(self.widget())
        else:
            print(self.header().replace("<b>", "").replace("</b>", ""))
            if self.chapters:
                display(text_frame(self.chapters_frame()))

    def __repr__(self) -> str:
        return (f"Explorer({audio_path(self.result).name}: {len(self.chapters)} chapters, "
                f"{len(self.chunks)} chunks)")


def explore(result: Any) -> Explorer:
    """One widget over a run's results: chapters → text → chunks and questions → play,
    and the concept graph whose clicked concepts list their chunks.

    ``result``: a :class:`~pipeline_kit.PipelineResult` (from ``run_pipeline`` or
    ``load_run``) with a transcript; its recording must still be on disk.
    """
    if getattr(result, "run_record", None) is None:
        raise TypeError(f"explore needs a PipelineResult, got {type(result).__name__}")
    if result.transcript is None:
        raise ValueError("explore needs a run with a transcript (the transcription stage)")
    audio_path(result)
    return Explorer(result)
