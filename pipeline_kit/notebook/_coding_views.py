"""Code search hits in a notebook: a "tag" control beside each hit's ▶, and a view of
each code's quotes with ▶ (see :mod:`pipeline_kit.collection._codings`).

In JupyterLab each hit is a row: ▶ and the snippet (playing the hit's range of its
recording, as every listen view does), a picker of the collection's codes, a field for a
new code, and a "tag" button; tagging calls ``coll.tag`` and then the view's
``on_tag`` callbacks (the notebook refreshes its codings view there). Elsewhere
(papermill, nbval, scripts) both views print their tables.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipeline_kit.notebook._display import has_live_frontend
from pipeline_kit.notebook._listen import (
    listen_box,
    listen_html,
    play_button,
    table,
    text_frame,
)

NEW_CODE = "(new code)"


def apply_tag(coll: Any, hit: Any, picked: str | None, new: str = "") -> str:
    """Tag ``hit`` with the new code ``new`` (created first) or else the ``picked`` one;
    a line saying what happened (a refused request says why, nothing is written)."""
    name = (new or "").strip() or (picked if picked and picked != NEW_CODE else "")
    if not name:
        return "pick a code or type a new one"
    try:
        if (new or "").strip():
            coll.code(name)
        coding = coll.tag(hit, name)
    except ValueError as e:
        return f"not tagged: {e}"
    return f"tagged {name!r} ({coding})"


@dataclass
class TagView:
    """Search hits with a tag control each (one recording's hits share its audio)."""

    coll: Any
    hits: pd.DataFrame
    on_tag: list[Callable[[str], None]] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)  # the live rows, once built

    def widget(self):  # -> ipywidgets.VBox
        import ipywidgets as W

        boxes = []
        for path, group in self.hits.groupby("audio_path", sort=False):
            title = W.HTML(f"<b>{html.escape(str(group['recording'].iloc[0]))}</b>")
            rows = [self._row(hit) for _, hit in group.iterrows()]
            self.rows += rows
            boxes.append(listen_box(path, [title, *rows]))
        return W.VBox(boxes or [W.HTML("no hits")])

    def _row(self, hit: pd.Series):  # -> ipywidgets.HBox
        import ipywidgets as W

        snippet = html.escape(str(hit.get("snippet", ""))).replace("**", "")
        play = W.HTML(listen_html(f"{play_button(hit['start_time'], hit['end_time'])} "
                                  f"<span style='font-size:12px'>{snippet}</span>"),
                      layout=W.Layout(flex="1 1 auto"))
        names = list(self.coll.codes()["name"])
        picker = W.Dropdown(options=[*names, NEW_CODE], value=names[0] if names else NEW_CODE,
                            layout=W.Layout(width="140px"))
        new = W.Text(placeholder="new code", layout=W.Layout(width="120px"))
        button = W.Button(description="tag", layout=W.Layout(width="50px"))
        status = W.Label()

        def tag(_: Any) -> None:
            status.value = apply_tag(self.coll, hit, picker.value, new.value)
            if status.value.startswith("tagged"):
                new.value = ""
                picker.options = [*self.coll.codes()["name"], NEW_CODE]
                for callback in self.on_tag:
                    callback(status.value)

        button.on_click(tag)
        row = W.HBox([play, picker, new, button, status])
        row.add_class("pk-tag-row")
        return row

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if has_live_frontend():
            display(self.widget())
        elif self.hits.empty:
            print("no hits")
        else:
            display(text_frame(self.hits[["recording", "start_time", "end_time", "speaker",
                                          "snippet"]]))


def tag_view(coll: Any, hits: pd.DataFrame,
             on_tag: Callable[[str], None] | None = None) -> TagView:
    """``hits`` (from ``coll.search``) with ▶ and a tag control each; ``on_tag(message)``
    runs after each successful tag."""
    missing = {"recording", "start_time", "end_time", "audio_path"} - set(hits.columns)
    if missing:
        raise ValueError(f"hits need the columns of coll.search(); missing {sorted(missing)}")
    return TagView(coll, hits.reset_index(drop=True), [on_tag] if on_tag else [])


QUOTE_COLUMNS = ["recording", "speaker", "text", "note", "coding_id"]


def codings_view(coll: Any, code: str | None = None) -> list[Any]:
    """Each code's quotes (one table per code and recording) with ▶ per quote."""
    quotes = coll.quotes(code)
    if quotes.empty:
        return [_Plain("no codings yet")]
    views = []
    quotes = quotes.assign(note=quotes["note"].fillna(""))  # no note: blank, not "None"
    for (name, path), group in quotes.groupby(["code", "audio_path"], sort=True):
        views.append(table(group, path, columns=QUOTE_COLUMNS,
                           title=f"{name} · {group['recording'].iloc[0]} "
                                 f"({len(group)} quote{'s' if len(group) != 1 else ''})"))
    return views


@dataclass
class _Plain:
    text: str

    def _ipython_display_(self) -> None:
        print(self.text)
