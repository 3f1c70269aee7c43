"""Listen to what was found: play controls for time ranges of the source audio.

A front end (it knows records and tables, no tasks and no stage internals): any
table with start/end seconds (words, segments, chunks, chapters, questions, search
hits) gets a ▶ control per row that plays exactly that range, and a transcript view
highlights the word being played.

How it plays, and why: the whole recording is decoded once, encoded as Ogg Vorbis
(about 5 kB per second of speech) and handed to one ipywidgets ``Audio`` widget, which
JupyterLab renders as an HTML5 ``<audio>`` element. A ▶ control sets that element's
``currentTime`` to the row's start, plays it, and pauses at the row's end. A media
fragment URL (``file.wav#t=12,20``) needs the audio under the Jupyter server's root
(``/files/...``), which a recording elsewhere on disk is not, and a decoded slice per
row would repeat the audio in every row; one element with absolute times works for
any file, and ``currentTime`` is the time in the recording, so the transcript view
can highlight the word at that time.

The controls are plain HTML inside an ipywidgets ``HTML`` widget (it renders its value
as HTML, inline handlers included); one delegated ``onclick`` per block finds the
``<audio>`` of the enclosing ``.pk-listen`` box. Where no live front end renders
widgets (papermill, nbval, scripts), every view is a plain table with ``m:ss`` times.
"""

from __future__ import annotations

import functools
import html
import io
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline_kit.base._reprs import SHORT_SPAN, clock, marks_to_html, marks_to_terminal, short_span
from pipeline_kit.notebook._display import has_live_frontend
from pipeline_kit.stages._text import join_words, word_pieces

LISTEN_CLASS = "pk-listen"  # the box that holds one <audio> and the controls that drive it
MAX_ROWS = 200  # rows shown in a table view (more would slow the browser, not help the reader)
_TIME_COLUMNS = (("start", "end"), ("start_time", "end_time"), ("start_s", "end_s"))
_RATE = 16000
_BLOCK = 5 * _RATE  # samples per write when encoding

# One delegated handler: a click on an element with data-s (start) and data-e (end)
# plays that range of the box's <audio>; a frame loop pauses at the end and marks the
# word (data-ws/data-we) and the row (data-s/data-e) under the play head.
# One player at a time: any <audio> of the page that starts pauses every other one. A
# capturing listener on the document sees every 'play' (it does not bubble), from a ▶
# control or the element's own controls; installed once per page, when a view renders.
_JS_ONE_PLAYER = (
    "if(!window.pkOnePlayer){window.pkOnePlayer=true;"
    "document.addEventListener('play',e=>{for(const o of document.querySelectorAll('audio'))"
    "if(o!==e.target&&!o.paused)o.pause();},true);}"
)
_JS_CLICK = (
    "const b=event.target.closest('[data-s]');if(!b)return;"
    "const box=b.closest('.pk-listen');const a=box&&box.querySelector('audio');if(!a)return;"
    "for(const o of document.querySelectorAll('audio'))if(o!==a)o.pause();"
    "a.pkEnd=+b.dataset.e;a.pkBox=box;"
    "if(!a.pkTick){a.pkTick=()=>{const t=a.currentTime;"
    "if(a.pkEnd&&t>=a.pkEnd){a.pause();a.pkEnd=0;}"
    "for(const w of a.pkBox.querySelectorAll('[data-ws]')){"
    "w.classList.toggle('pk-on',!a.paused&&t>=+w.dataset.ws&&t<+w.dataset.we);}"
    "for(const r of a.pkBox.querySelectorAll('.pk-play')){"
    "r.classList.toggle('pk-playing',!a.paused&&t>=+r.dataset.s&&t<+r.dataset.e);}"
    "if(!a.paused)requestAnimationFrame(a.pkTick);};"
    "a.addEventListener('play',()=>requestAnimationFrame(a.pkTick));"
    "a.addEventListener('pause',()=>a.pkTick());}"
    "a.currentTime=+b.dataset.s;a.play();"
)
_CSS = """<style>
.pk-listen table.pk-table{border-collapse:collapse;font-size:12px;width:100%}
.pk-listen .pk-table th{text-align:left;border-bottom:1px solid #999;padding:2px 6px}
.pk-listen .pk-table td{vertical-align:top;padding:2px 6px;border-bottom:1px solid #eee}
.pk-listen .pk-play{cursor:pointer;border:1px solid #888;border-radius:3px;background:#f4f4f4;
 font-family:monospace;font-size:11px;white-space:nowrap;padding:1px 5px}
.pk-listen .pk-playing{background:#fff3b0}
.pk-listen .pk-w{cursor:pointer;border-radius:2px}
.pk-listen .pk-w.pk-on{background:#ffd84d}
.pk-listen .pk-note{color:#666;font-size:11px}
</style>"""


# ---------------------------------------------------------------- times


def format_time(seconds: float | None, tenths: bool = False) -> str:
    """``m:ss`` (``h:mm:ss`` from one hour), as in every repr; ``m:ss.s`` with ``tenths``;
    empty for a missing time."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    return clock(seconds, tenths)


def format_range(start: float | None, end: float | None) -> str:
    """``m:ss–m:ss`` for a time range; with tenths for a word-length one."""
    tenths = short_span(start, end)
    return f"{format_time(start, tenths)}–{format_time(end, tenths)}"


def time_columns(df: pd.DataFrame) -> tuple[str, str]:
    """Names of the start and end columns (seconds) of ``df``; ValueError naming the columns."""
    for start, end in _TIME_COLUMNS:  # numbers only: chunks_df's start/end are m:ss text
        if (start in df.columns and end in df.columns
                and pd.api.types.is_numeric_dtype(df[start])
                and pd.api.types.is_numeric_dtype(df[end])):
            return start, end
    raise ValueError(f"no start/end time columns in the table (looked for "
                     f"{', '.join(f'{a}/{b}' for a, b in _TIME_COLUMNS)}; it has "
                     f"{', '.join(map(str, df.columns)) or 'no columns'})")


def to_frame(rows: Any, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A DataFrame of ``rows``: a DataFrame, records with ``to_dict()``, or dicts."""
    if isinstance(rows, pd.DataFrame):
        df = rows
    else:
        df = pd.DataFrame([r.to_dict() if hasattr(r, "to_dict") else dict(r)
                           for r in (rows or [])])
    if columns is not None and not df.empty:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(f"columns {missing} are not in the table (it has {list(df.columns)})")
        start_end = [c for pair in _TIME_COLUMNS for c in pair if c in df.columns]
        keep = list(dict.fromkeys([*columns, *start_end]))
        df = df[keep]
    return df


def text_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its start/end seconds shown as ``m:ss`` (the text view of a table)."""
    start, end = time_columns(df)
    out = df.copy()
    for c in out.columns:  # search snippets: their **marks** would show as asterisks
        if not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].map(lambda v: marks_to_terminal(v, False) if isinstance(v, str)
                                else v)
    lengths = (df[end] - df[start]).dropna()
    tenths = bool(len(lengths)) and float(lengths.median()) < SHORT_SPAN  # a table of words
    out[start] = out[start].map(lambda v: format_time(v, tenths))
    out[end] = out[end].map(lambda v: format_time(v, tenths))
    return out


# ---------------------------------------------------------------- audio


def audio_path(audio: Any) -> Path:
    """The source audio file of ``audio``: a path, or a run result / run record naming it."""
    record = getattr(audio, "run_record", audio)
    if isinstance(record, dict):
        inputs = record.get("inputs") or []
        if not inputs:
            raise ValueError("the run record names no input audio")
        audio = inputs[0]["path"]
    if not isinstance(audio, (str, os.PathLike)):
        raise TypeError(f"audio must be a path or a run result, got {type(audio).__name__}")
    path = Path(audio)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    return path


@functools.lru_cache(maxsize=8)
def _encoded(path: str, mtime_ns: int, size: int) -> tuple[bytes, str]:
    """The whole recording as (bytes, format) for the browser: Ogg Vorbis, WAV as fallback."""
    import soundfile as sf

    from pipeline_kit.ingest._audio import load_audio

    samples = load_audio(path, sr=_RATE)
    buf = io.BytesIO()
    try:
        # In blocks: libsndfile's Vorbis encoder segfaults on one write of a few minutes.
        with sf.SoundFile(buf, "w", _RATE, 1, format="OGG", subtype="VORBIS") as f:
            for i in range(0, len(samples), _BLOCK):
                f.write(samples[i:i + _BLOCK])
        return buf.getvalue(), "ogg"
    except (RuntimeError, sf.LibsndfileError):  # a libsndfile built without Vorbis
        buf = io.BytesIO()
        sf.write(buf, samples, _RATE, format="WAV", subtype="PCM_16")
        return buf.getvalue(), "wav"


def encoded_audio(audio: Any) -> tuple[bytes, str]:
    """The recording of ``audio`` encoded for an ``<audio>`` element (cached per file)."""
    path = audio_path(audio)
    st = path.stat()
    return _encoded(str(path.resolve()), st.st_mtime_ns, st.st_size)


def audio_widget(audio: Any):  # -> ipywidgets.Audio
    """An ``Audio`` widget holding the whole recording, with the browser's controls."""
    import ipywidgets as W

    data, fmt = encoded_audio(audio)
    return W.Audio(value=data, format=fmt, autoplay=False, loop=False, controls=True,
                   layout=W.Layout(width="100%", max_width="640px", height="36px"))


def listen_box(audio: Any, children: Iterable[Any]):  # -> ipywidgets.VBox
    """A box with the recording's ``<audio>`` first; ▶ controls inside it play that audio."""
    import ipywidgets as W

    box = W.VBox([audio_widget(audio), *children])
    box.add_class(LISTEN_CLASS)
    return box


# ---------------------------------------------------------------- html pieces


def play_button(start: float, end: float, label: str | None = None) -> str:
    """HTML of one ▶ control for ``start``..``end`` seconds (inside a ``listen_html`` block)."""
    text = label if label is not None else f"▶ {format_range(start, end)}"
    return (f'<button class="pk-play" data-s="{float(start):.3f}" data-e="{float(end):.3f}" '
            f'title="play {format_range(start, end)}">{html.escape(text)}</button>')


def listen_html(inner: str) -> str:
    """Wrap HTML holding ▶ controls or words so that clicks on them play the audio."""
    # an image that cannot load runs its onerror when the view is rendered (a <script>
    # in widget HTML never runs; inline handlers, as the onclick here, do)
    install = (f'<img src="data:image/gif;base64,x" alt="" style="display:none" '
               f'onerror="{html.escape(_JS_ONE_PLAYER)}">')
    return (f'{_CSS}{install}<div class="pk-block" onclick="{html.escape(_JS_CLICK)}">'
            f'{inner}</div>')


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.3g}"
    if isinstance(v, (list, tuple)):
        return html.escape(", ".join(map(str, v)))
    if isinstance(v, dict):
        return html.escape(", ".join(f"{k} {format_time(s)}" for k, s in v.items()))
    return marks_to_html(str(v))  # a search snippet's **matches** are highlighted


def table_html(df: pd.DataFrame, max_rows: int = MAX_ROWS) -> str:
    """An HTML table of ``df`` with a ▶ control per row in place of its start/end columns."""
    start, end = time_columns(df)
    shown = df.head(max_rows)
    cols = [c for c in shown.columns if c not in (start, end)]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ["play", *cols])
    rows = []
    for _, r in shown.iterrows():
        if pd.isna(r[start]) or pd.isna(r[end]):
            ctl = ""
        else:
            ctl = play_button(r[start], r[end])
        cells = "".join(f"<td>{_cell(r[c])}</td>" for c in cols)
        rows.append(f"<tr><td>{ctl}</td>{cells}</tr>")
    note = (f'<div class="pk-note">first {max_rows} of {len(df)} rows</div>'
            if len(df) > max_rows else "")
    return f'<table class="pk-table"><tr>{head}</tr>{"".join(rows)}</table>{note}'


def words_html(words: Sequence[Any], start: float | None = None,
               end: float | None = None) -> str:
    """The words (records with text/start/end) of ``start``..``end`` as clickable spans
    that light up while they are played; a new paragraph where the speaker changes."""
    parts: list[str] = []
    speaker = None
    shown = [w for w in words
             if not (start is not None and w.end <= start or end is not None and w.start >= end)]
    # a click plays from that word on, to the end of what is shown
    until = end if end is not None else max((w.end for w in shown), default=0.0)
    for w, (text, sep) in zip(shown, word_pieces(shown), strict=True):
        who = getattr(w, "speaker", None)
        if who and who != speaker:
            parts.append(f'{"<br>" if parts else ""}<b>{html.escape(who)}:</b> ')
            speaker = who
            sep = ""
        parts.append(f'{sep}<span class="pk-w" data-ws="{w.start:.3f}" data-we="{w.end:.3f}" '
                     f'data-s="{w.start:.3f}" data-e="{until:.3f}">{html.escape(text)}</span>')
    return f'<div class="pk-transcript" style="line-height:1.7">{"".join(parts)}</div>'


# ---------------------------------------------------------------- views


@dataclass
class ListenView:
    """A view with play controls in JupyterLab, and a plain table everywhere else.

    ``frame`` is the table (times in seconds); displaying the view chooses the form.
    """

    audio: Any
    frame: pd.DataFrame
    html: str
    title: str = ""
    plain: str | None = None  # the text view, when a table of ``frame`` would not read well

    def widget(self):  # -> ipywidgets.VBox
        """The live view: the recording's audio element and the controls that play it."""
        import ipywidgets as W

        parts = [W.HTML(f"<b>{html.escape(self.title)}</b>")] if self.title else []
        return listen_box(self.audio, [*parts, W.HTML(listen_html(self.html))])

    def text(self) -> pd.DataFrame:
        """The text view: the table with ``m:ss`` times."""
        return text_frame(self.frame)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if has_live_frontend():
            display(self.widget())
        else:
            if self.title:
                print(self.title)
            if self.plain is not None:
                print(self.plain)
            elif self.frame.empty:
                print("(no rows)")
            else:
                display(self.text())

    def __repr__(self) -> str:
        title = f", {self.title}" if self.title else ""
        return f"{type(self).__name__}({len(self.frame)} rows{title})"


def table(rows: Any, audio: Any, *, columns: Sequence[str] | None = None,
          title: str = "", max_rows: int = MAX_ROWS) -> ListenView:
    """Any result table with start/end seconds, with a ▶ control per row.

    ``rows``: a DataFrame or a list of records (words, segments, chunks, chapters,
    questions, search hits); ``audio``: the source file or the run result that made it;
    ``columns``: the columns to show (start/end are kept). Bad input fails here, before
    anything is decoded: unknown columns, no time columns, a missing audio file.
    """
    df = to_frame(rows, columns)
    if not df.empty:
        time_columns(df)
    audio_path(audio)
    return ListenView(audio, df, table_html(df, max_rows) if not df.empty else "(empty)", title)


def play(audio: Any, start: float, end: float, label: str | None = None) -> ListenView:
    """A play control for ``start``..``end`` seconds of ``audio`` (a path or run result)."""
    if not (0 <= float(start) < float(end)):
        raise ValueError(f"need 0 <= start < end, got start={start}, end={end}")
    audio_path(audio)
    df = pd.DataFrame([{"audio": audio_path(audio).name, "start": start, "end": end}])
    return ListenView(audio, df, play_button(start, end, label))


def transcript_view(transcript: Any, audio: Any, start: float | None = None,
                    end: float | None = None, title: str = "") -> ListenView:
    """The words of ``transcript`` (between ``start`` and ``end``) that light up as they play;
    click a word to play from it."""
    audio_path(audio)
    words = [w for w in transcript.words
             if not (start is not None and w.end <= start or end is not None and w.start >= end)]
    df = pd.DataFrame([{"text": w.text, "start": w.start, "end": w.end,
                        "speaker": getattr(w, "speaker", None)} for w in words],
                      columns=["text", "start", "end", "speaker"])
    lo = start if start is not None else (words[0].start if words else 0.0)
    hi = end if end is not None else (words[-1].end if words else 0.0)
    ctl = play_button(lo, hi) if hi > lo else ""
    plain = f"[{format_range(lo, hi)}] " + join_words(words)
    return ListenView(audio, df, f"{ctl}{words_html(words, start, end)}", title, plain)
