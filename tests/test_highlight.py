"""Search snippets mark matches as **word**: views show a highlight, never the asterisks."""

from __future__ import annotations

import pandas as pd

from pipeline_kit.base._reprs import BOLD, RESET, marks_to_html, marks_to_terminal
from pipeline_kit.notebook._listen import table_html, text_frame

HITS = pd.DataFrame({"start_time": [53.4], "end_time": [83.2],
                     "snippet": ["the **beauty** of <b>type</b> and **printing**"]})


def test_notebook_table_highlights_with_html_and_escapes_the_rest():
    cell = table_html(HITS)
    assert "<mark>beauty</mark>" in cell and "<mark>printing</mark>" in cell
    assert "**" not in cell and "&lt;b&gt;type&lt;/b&gt;" in cell  # text stays text
    assert marks_to_html("a ** b") == "a ** b"  # a lone pair of stars is not a mark


def test_text_views_drop_the_marks_and_a_terminal_gets_bold():
    assert text_frame(HITS).loc[0, "snippet"] == "the beauty of <b>type</b> and printing"
    assert marks_to_terminal("the **beauty** of", tty=True) == f"the {BOLD}beauty{RESET} of"
    assert marks_to_terminal("the **beauty** of", tty=False) == "the beauty of"
