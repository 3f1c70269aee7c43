"""compare_runs shows itself: parameter diff, the timeline picture, the question diff."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipeline_kit as pk

WAV = Path(__file__).resolve().parents[1] / "data" / "sample" / "austen_sample.wav"


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    home = tmp_path_factory.mktemp("compare")
    a, b = (pk.run_pipeline(WAV, home=home, out_dir=home / n, chunk_size=size, overlap=5,
                            chunking_method="tfidf") for n, size in (("a", 20), ("b", 60)))
    return pk.compare_runs(a, b)


def test_plot_shows_a_picture_once_not_an_axes_repr(comparison):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    shown = comparison.plot()
    assert not repr(shown).startswith("<Axes") and "TimelinePlot" in repr(shown)
    assert shown._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(plt.get_fignums()) == before  # the backend will not show it a second time
    assert shown.ax.xaxis.get_major_formatter()(75.0, 0) == "1:15"  # m:ss
    _, ax = plt.subplots()
    assert comparison.plot(ax).ax is ax  # drawing into a given Axes still works
    plt.close("all")


def test_rich_display_has_the_parameter_diff_timeline_and_questions(comparison):
    page = comparison._repr_html_()
    assert "<table" in page and "chunk_size" in page and ">20<" in page and ">60<" in page
    assert "data:image/png;base64," in page
    only = comparison.questions
    assert len(only), "the two chunk sizes should ask some different questions"
    first = only.iloc[0]
    import html

    assert html.escape(first["text"]) in page
    assert pk.format_time(first["start_time"]) in page  # its time in m:ss
