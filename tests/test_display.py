"""Widget panel models and text lines rendered from the task feed."""

from __future__ import annotations

import asyncio
import io
import re
import threading
import time

import pytest
import task_fixtures as fx

from pipeline_kit.notebook import _display as D
from pipeline_kit.tasks import TaskManager, TaskType

T = TaskType.TRANSCRIPTION


@pytest.fixture
def tm(tmp_path):
    with TaskManager(tmp_path / "tasks.sqlite3", progress_interval=0.01) as m:
        yield m


def test_panel_models_follow_the_feed_on_the_creating_loop(tm):
    async def main():
        loop = asyncio.get_running_loop()
        panel = D.TaskPanel(tm)
        assert panel.loop is loop
        applied_on = set()
        original = panel._apply

        def spy(info):
            applied_on.add(threading.get_ident())
            original(info)

        panel._apply = spy
        ok = tm.submit(fx.steps, 10, 0.002, task_type=T)
        bad = tm.submit(fx.fail, "boom", task_type=TaskType.GRAPH_GENERATION)
        blocked = tm.submit(fx.block, "panel", task_type=T)
        await ok
        with pytest.raises(ValueError):
            await bad
        await asyncio.to_thread(fx.event("panel.started").wait, 5)
        await asyncio.sleep(0.05)
        row = panel.rows[blocked.task_id]
        assert row.bar.bar_style == "info" and "running" in row.status.value
        row.button.click()  # the cancel button cancels that task
        with pytest.raises(Exception, match="cancelled"):
            await blocked
        await asyncio.sleep(0.05)  # let the last snapshots reach this loop
        assert applied_on == {threading.get_ident()}  # never applied on a worker thread
        return panel, ok, bad, blocked

    panel, ok, bad, blocked = asyncio.run(main())
    r_ok, r_bad, r_c = (panel.rows[h.task_id] for h in (ok, bad, blocked))
    assert r_ok.bar.value == 100 and r_ok.bar.bar_style == "success"
    assert "completed" in r_ok.status.value and r_ok.text == "step 10/10"
    assert r_ok.button.disabled and re.fullmatch(r"\d+\.\ds", r_ok.elapsed.value)
    assert r_ok.percent.value == "100%"
    # finished rows drop their Cancel button (hidden, so the columns stay in place)
    assert {r.button.layout.visibility for r in (r_ok, r_bad, r_c)} == {"hidden"}
    assert panel.rows[blocked.task_id].box.children[-1] is r_c.button
    assert r_bad.bar.bar_style == "danger" and "boom" in r_bad.text
    assert "failed" in r_bad.status.value
    assert r_c.bar.bar_style == "" and r_c.bar.style.bar_color == "#9e9e9e"
    assert "cancelled" in r_c.status.value
    assert len(panel.rows_box.children) == 3
    assert panel.header.layout.display == "none"  # these tasks name no run or audio
    panel.close()


def test_panel_for_a_handle_shows_its_retries_and_children(tm):
    h = tm.submit(fx.pipeline, 2, task_type=TaskType.PIPELINE)
    panel = D.TaskPanel(tm, select=h, loop=None)  # no loop: applied directly
    other = tm.submit(fx.noop, task_type=T)
    h.result(10)
    other.result(5)
    assert h.task_id in panel.rows and other.task_id not in panel.rows
    assert len(panel.rows) == 3  # the parent and its two children
    panel.close()


def test_text_mode_lines_and_summary(tm):
    out = io.StringIO()
    D.show(tm, mode="text", stream=out, interval=0.0)
    tm.submit(fx.steps, 5, 0.01, task_type=T).result(5)
    with pytest.raises(ValueError):
        tm.submit(fx.fail, "bad input", task_type=TaskType.CHAPTER_ANALYSIS).result(5)
    lines = out.getvalue().splitlines()
    assert re.match(r"\[  0%\] transcription  [0-9a-f]{6}  running  +\d+\.\ds", lines[0])
    assert not any("pending" in x for x in lines)  # a log shows starts and ends only
    # aligned columns: status padded, elapsed right-aligned before the step text
    done = re.compile(r"\[100%\] transcription  [0-9a-f]{6}  completed  +\d+\.\ds  step 5/5$")
    assert any(done.match(x) for x in lines), lines
    assert any("chapter_analysis" in x and "failed" in x and x.endswith("  bad input")
               for x in lines)
    assert any(x.startswith("task    type") for x in lines)  # summary header
    assert "HBox" not in out.getvalue()


def test_text_mode_throttles_progress_lines(tm):
    out = io.StringIO()
    D.TextRenderer(tm, stream=out, interval=10.0, summary=False)
    tm.submit(fx.steps, 50, 0.002, task_type=T).result(5)
    word = re.compile(r"\b(pending|running|completed|failed|cancelled)\b")
    statuses = [word.search(line).group(1) for line in out.getvalue().splitlines()]
    assert statuses == ["running", "completed"]


def test_handle_display_in_text_mode_prints_and_detaches(tm, capsys, monkeypatch):
    monkeypatch.setenv("PIPELINE_KIT_PROGRESS", "text")
    h = tm.submit(fx.block, "disp", task_type=T)
    assert fx.event("disp.started").wait(5)
    h._ipython_display_()
    fx.event("disp.release").set()
    h.result(5)
    tm.submit(fx.noop, task_type=T).result(5)
    text = capsys.readouterr().out
    assert h.task_id[:6] in text and "completed" in text and "task    type" in text
    assert "noop" not in text and text.count("completed") == 2  # line + summary row, then detached


def test_mode_detection(monkeypatch):
    monkeypatch.setenv("PIPELINE_KIT_PROGRESS", "none")
    assert D.progress_mode() == "none"
    monkeypatch.setenv("PIPELINE_KIT_PROGRESS", "widget")
    assert D.progress_mode() == "widget"
    monkeypatch.delenv("PIPELINE_KIT_PROGRESS")
    assert D.progress_mode() == "text"  # plain python: no kernel, no front end
    monkeypatch.setenv("PAPERMILL_EXECUTION", "1")
    assert D.under_papermill() and not D.has_live_frontend()


def test_show_none_and_bad_mode(tm):
    assert D.show(tm, mode="none") is None
    with pytest.raises(ValueError):
        D.show(tm, mode="fancy")


def test_public_entry_points_reach_the_registered_views(tm, capsys, monkeypatch):
    import pipeline_kit as pk

    assert "show" in pk.__all__ and pk.show is D.show
    panel = tm.panel(loop=None)
    assert isinstance(panel, D.TaskPanel) and panel.manager is tm
    h = tm.submit(fx.noop, task_type=T)
    h.result(5)
    assert h.task_id in panel.rows  # the panel follows the feed without being displayed
    panel.close()
    monkeypatch.setenv("PIPELINE_KIT_PROGRESS", "text")
    tm.display()
    assert pk.show(tm) is pk.show(tm)  # one shared text view per manager
    tm.submit(fx.noop, task_type="custom_kind").result(5)
    text = capsys.readouterr().out
    assert "custom_kind" in text and "completed" in text


def test_text_heartbeat_while_a_task_is_quiet(tm):
    out = io.StringIO()
    renderer = D.TextRenderer(tm, stream=out, interval=0.0, summary=False, heartbeat=0.2)
    h = tm.submit(fx.block, "beat", task_type=T)
    assert fx.event("beat.started").wait(5)
    deadline = time.monotonic() + 20
    while out.getvalue().count("running") < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    fx.event("beat.release").set()
    h.result(5)
    renderer.close()
    running = [x for x in out.getvalue().splitlines() if "running" in x]
    assert len(running) >= 4, out.getvalue()  # the state change, then heartbeats
    elapsed = [float(re.search(r"(\d+\.\d)s$", x).group(1)) for x in running[1:]]
    assert elapsed == sorted(elapsed) and elapsed[-1] > 0.0  # each says how long it has run


def test_text_and_widget_rows_show_units_rate_and_eta(tm):
    from pipeline_kit.tasks import TaskInfo, TaskStatus
    from pipeline_kit.tasks._types import utcnow

    info = TaskInfo(task_id="ab" * 16, task_type="diarization", status=TaskStatus.RUNNING,
                    progress_percentage=30.0, current_step="Segments", started_at=utcnow(),
                    progress_done=12, progress_total=40, progress_rate=3.5)
    line = D.format_line(info)
    assert re.match(r"\[ 30%\] diarization  ababab  running  +\d+\.\ds  Segments  "
                    r"12/40 s audio  3\.5/s  ETA 8s$", line), line
    done = info.replace(status=TaskStatus.COMPLETED, progress_percentage=100.0)
    assert "ETA" not in D.format_line(done) and "/s" not in D.format_line(done)
    panel = D.TaskPanel(tm, loop=None)
    panel._apply(info)
    assert panel.rows[info.task_id].text == "Segments  12/40 s audio  3.5/s  ETA 8s"
    panel.close()


def test_text_columns_line_up_and_long_names_are_whole():
    from pipeline_kit.tasks import TaskInfo, TaskStatus
    from pipeline_kit.tasks._types import utcnow

    long_name = "speaker_diarization_with_a_long_custom_name"
    infos = [
        TaskInfo(task_id="a" * 32, task_type="transcription", status=TaskStatus.RUNNING,
                 started_at=utcnow(), current_step="Transcribing a very long step " * 3),
        TaskInfo(task_id="b" * 32, task_type=long_name, status=TaskStatus.COMPLETED,
                 progress_percentage=100.0, started_at=utcnow(), completed_at=utcnow()),
        TaskInfo(task_id="c" * 32, task_type="chunking"),
    ]
    width = max(len(D.task_label(i)) for i in infos)
    lines = [D.format_line(i, width) for i in infos]
    assert long_name in lines[1]  # never cut
    assert len({ln.index(i.task_id[:6]) for ln, i in zip(lines, infos, strict=True)}) == 1
    assert len({ln.index(i.status.value) for ln, i in zip(lines, infos, strict=True)}) == 1
    # the elapsed time has its own column before the step: text never runs into it
    ends = [re.search(r"\d+\.\ds", ln[ln.index(i.status.value):])
            for ln, i in zip(lines, infos, strict=True)]
    assert ends[0] and ends[1] and ends[2] is None  # pending: no time yet
    starts = [ln.index(i.status.value) for ln, i in zip(lines, infos, strict=True)]
    assert starts[0] + ends[0].end() == starts[1] + ends[1].end()  # right-aligned
    assert lines[0][starts[0] + ends[0].end():].startswith("  Transcribing")


def test_headers_name_the_run_and_its_audio(tm):
    info_meta = {"run_id": "1a2b3c4d5e6f7a8b", "audio": "/data/talks/interview one.wav",
                 "stages": ["upload", "transcription"]}
    h = tm.submit(fx.block, "head", task_type=TaskType.PIPELINE, metadata=info_meta)
    assert fx.event("head.started").wait(5)
    out = io.StringIO()
    renderer = D.TextRenderer(tm, select=[h.task_id], stream=out, interval=0.0)
    panel = D.TaskPanel(tm, loop=None)
    fx.event("head.release").set()
    h.result(5)
    renderer.close()
    panel.close()
    header = "run 1a2b3c4d: interview one.wav (upload, transcription)"
    assert out.getvalue().splitlines()[0] == f"== {header}"
    assert out.getvalue().count("== ") == 1
    assert "pipeline interview one.wav" in out.getvalue()  # the row names its file too
    assert header in panel.header.value and panel.header.layout.display is None
    assert panel.rows[h.task_id].bar.description == "pipeline"
    assert panel.rows[h.task_id].bar.tooltip == "pipeline interview one.wav"
    child = tm.submit(fx.noop, task_type=T, metadata={"audio": "x.wav"}, parent_id=h.task_id)
    child.result(5)
    assert D.run_header(tm.get_task_status(child.task_id)) is None  # only top-level tasks


def test_panel_name_column_widens_for_every_row(tm):
    panel = D.TaskPanel(tm, loop=None)
    short = tm.submit(fx.noop, task_type="a")
    short.result(5)
    long_name = "a_rather_long_custom_task_type_name_of_40_chars"
    tm.submit(fx.noop, task_type=long_name).result(5)
    widths = {r.bar.style.description_width for r in panel.rows.values()}
    assert widths == {f"{len(long_name) + 1}ch"}
    assert panel.rows[short.task_id].bar.layout.width == f"calc({len(long_name) + 1}ch + 200px)"
    assert any(r.bar.description == long_name for r in panel.rows.values())
    panel.close()


_RUN_SCRIPT = """
import asyncio, sys
import pipeline_kit as pk
wav, home = sys.argv[1], sys.argv[2]
kw = dict(home=home, chunking_method="tfidf", chunk_size=60, overlap=10)
r = pk.run_pipeline(wav, ["chunking"], **kw)
print("sync", r.run_id, len(r.chunks))
r = asyncio.run(pk.run_pipeline_async(wav, ["chunking"], **kw))
print("async", r.run_id, len(r.chunks))
"""


@pytest.mark.parametrize("mode", ["default", "none"])
def test_run_pipeline_without_a_manager_shows_progress_unless_silenced(tmp_path, mode):
    """A script calling run_pipeline / run_pipeline_async gets text progress on stderr
    (its stdout stays its own); PIPELINE_KIT_PROGRESS=none silences it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    wav = Path(__file__).resolve().parents[1] / "data" / "sample" / "austen_sample.wav"
    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_KIT_PROGRESS"}
    if mode == "none":
        env["PIPELINE_KIT_PROGRESS"] = "none"
    done = subprocess.run([sys.executable, "-c", _RUN_SCRIPT, str(wav), str(tmp_path / "home")],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert [ln.split()[0] for ln in out] == ["sync", "async"]
    run_ids = [ln.split()[1] for ln in out]
    if mode == "none":
        assert done.stderr == ""
        return
    err = done.stderr
    for run_id in run_ids:  # each run: its header, then its own lines
        stages = "upload, transcription, chunking"  # diarization runs only when asked
        assert f"== run {run_id[:8]}: {wav.name} ({stages})\n" in err
    assert re.search(r"^\[100%\] transcription +[0-9a-f]{6}  completed", err, re.M)
    assert re.search(rf"^\[100%\] pipeline {wav.name}  [0-9a-f]{{6}}  completed", err, re.M)
    assert err.count("task    type") == 2  # one summary per run


# ---------------------------------------------------------------- result reprs


@pytest.fixture(scope="module")
def pipeline_result(tmp_path_factory):
    from pathlib import Path

    import pipeline_kit as pk

    wav = Path(__file__).resolve().parents[1] / "data" / "sample" / "austen_sample.wav"
    home = tmp_path_factory.mktemp("reprs")
    return pk.run_pipeline(wav, home=home, chunking_method="tfidf", chunk_size=40, overlap=5)


def _mss(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)  # floored, as every time label
    return f"{m}:{s:02d}"


def test_result_reprs_are_one_short_line(pipeline_result):
    r = pipeline_result
    t = r.transcript
    assert repr(t) == (f"Transcript({_mss(t.audio_duration_seconds)}, {len(t.words)} words, "
                       f"{t.language}, {t.model.name})")
    assert len(r.chunks) >= 2
    for c in r.chunks:
        text = repr(c)
        assert text.startswith(f"Chunk({c.chunk_index}, {_mss(c.start_time)}–{_mss(c.end_time)}"
                               f", {c.word_count} words, '") and len(text) < 110, text
        assert "\n" not in text
    for ch in r.chapters:
        assert repr(ch).startswith(f"Chapter({ch.chapter_index}, {ch.title[:20]!r}"[:-1])
        assert f"{len(ch.chunk_ids)} chunk" in repr(ch)
    assert all(len(repr(q)) < 200 and repr(q).startswith(f"Question({q.type}, ")
               for q in r.questions)
    seg = t.segments[0]
    speaker = f"{seg.speaker}, " if seg.speaker else ""  # a diarized run's segment names it
    assert repr(seg).startswith(f"Segment(0, {_mss(seg.start)}–{_mss(seg.end)}, {speaker}'")
    text = repr(r)
    assert text.startswith(f"PipelineResult(run {r.run_id[:8]}, completed, austen_sample.wav; ")
    assert f"transcript: {t!r}" in text and f"chunks: {len(r.chunks)}," in text
    assert (f"graph: {r.graph.number_of_nodes()} nodes, {r.graph.number_of_edges()} edges"
            in text)
    assert f"questions: {len(r.questions)})" in text and len(text) < 400
    duration = _mss(r.audio.duration_seconds)
    assert f"'austen_sample.wav', completed, {duration}, 16000 Hz, 1 ch" in repr(r.audio)


def test_result_html_summaries(pipeline_result):
    from html.parser import HTMLParser

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.open: list[str] = []
            self.text: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag != "br":
                self.open.append(tag)

        def handle_endtag(self, tag):
            assert self.open.pop() == tag

        def handle_data(self, data):
            self.text.append(data)

    def parsed(html: str) -> str:
        p = Tags()
        p.feed(html)
        assert p.open == []  # every tag closed, in order
        return " ".join(p.text)

    r = pipeline_result
    t = r.transcript
    text = parsed(t._repr_html_())
    for expected in (_mss(t.audio_duration_seconds), str(len(t.words)), t.model.name,
                     t.language, " ".join(t.text.split()[:8])):
        assert expected in text, expected
    chunk = r.chunks[1]
    text = parsed(chunk._repr_html_())
    assert chunk.chunk_id in text and f"{_mss(chunk.start_time)}–{_mss(chunk.end_time)}" in text
    assert " ".join(chunk.text.split()[:6]) in text
    chapter = r.chapters[0]
    text = parsed(chapter._repr_html_())
    assert chapter.title in text and all(cid in text for cid in chapter.chunk_ids)
    text = parsed(r._repr_html_())
    assert f"Run {r.run_id[:8]}" in text and str(r.out_dir) in text
    for stage in r.run_record["stages"]:
        assert stage in text
    assert f"{r.graph.number_of_nodes()} nodes" in text


def test_long_transcript_repr_stays_short_and_html_is_escaped():
    import pipeline_kit as pk

    t = pk.Transcript.from_text("the <script>alert(1)</script> speech goes on " * 2000)
    hours, rest = divmod(int(len(t.words) * 0.4), 3600)  # from an hour on: h:mm:ss
    clock = f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    assert hours >= 1 and repr(t) == f"Transcript({clock}, {len(t.words):,} words, en, text)"
    html = t._repr_html_()
    assert len(html) < 3000 and "<script>" not in html and "&lt;script&gt;" in html


def test_diarization_repr_and_talk_times():
    import pipeline_kit as pk

    d = pk.Diarization(turns=(pk.SpeakerTurn(0.0, 70.0, "SPEAKER_1"),
                              pk.SpeakerTurn(70.0, 95.5, "SPEAKER_2"),
                              pk.SpeakerTurn(95.5, 130.0, "SPEAKER_1")),
                       speakers=("SPEAKER_1", "SPEAKER_2"), method="resemblyzer+spectral",
                       audio_duration_seconds=130.0)
    assert repr(d) == "Diarization(2 speakers, 3 turns, 2:10, resemblyzer+spectral)"
    html = d._repr_html_()
    talk = d.talk_time()
    assert f"talks {_mss(talk['SPEAKER_1'])}" in html and f"talks {_mss(talk['SPEAKER_2'])}" in html


def test_chunk_and_chapter_talk_times_use_the_one_time_format():
    import pipeline_kit as pk

    talk = {"SPEAKER_1": 70.6, "SPEAKER_2": 24.4}
    chunk = pk.Chunk(0, "Some words.", 0, 2, 0.0, 95.0, speakers=talk)
    chapter = pk.Chapter(0, "Title", "Summary.", 0.0, 95.0, 0, 1, speakers=talk)
    for html in (chunk._repr_html_(), chapter._repr_html_()):
        assert f"SPEAKER_1 {_mss(70.6)}, SPEAKER_2 {_mss(24.4)}" in html  # 1:10, 0:24
        assert " s," not in html


# ---------------------------------------------------------------- calls without a manager


def _speech_text() -> str:
    from conftest import shared_path

    return shared_path("speech_long/ljspeech_LJ001-0001-0032_concat_16k.ref.txt").read_text()


def test_sweep_called_directly_shows_its_progress(capsys, monkeypatch):
    import pipeline_kit as pk

    monkeypatch.setenv("PIPELINE_KIT_PROGRESS", "text")
    t = pk.Transcript.from_text(_speech_text())
    df = pk.sweep(t, chunk_size=[60, 100], overlap=[0, 20], method="tfidf")
    assert len(df) == 4
    err = capsys.readouterr().err.splitlines()
    assert re.match(r"\[  0%\] chunking sweep  [0-9a-f]{6}  running  +\d+\.\ds$", err[0]), err
    assert re.match(r"\[100%\] chunking sweep  [0-9a-f]{6}  completed  +\d+\.\ds  Sweep done$",
                    err[-1]), err

    with pytest.raises(ValueError, match="nope"):
        pk.sweep(t, chunk_size=[60], overlap=[0], method="nope")
    err = capsys.readouterr().err.splitlines()
    assert "failed" in err[-1] and "nope" in err[-1]

    monkeypatch.setenv("PIPELINE_KIT_PROGRESS", "none")
    pk.sweep(t, chunk_size=[60], overlap=[0], method="tfidf")
    assert capsys.readouterr().err == ""


def test_progress_view_widget_row_follows_a_real_sweep(capsys):
    import pipeline_kit as pk

    t = pk.Transcript.from_text(_speech_text())
    view = D.ProgressView("chunking sweep", mode="widget")
    assert view.row is not None and view.row.button.layout.visibility == "hidden"
    pk.sweep(t, chunk_size=[60, 100], overlap=[0, 20], method="tfidf", progress=view)
    assert view.info.progress_done == view.info.progress_total == 5  # 1 method + 4 settings
    assert view.info.status.value == "running" and view.info.progress_rate > 0
    view.finish()
    row = view.row
    assert row.bar.value == 100 and row.bar.bar_style == "success"
    assert row.percent.value == "100%" and row.text == "Sweep done"
    assert row.bar.description == "chunking sweep" and "completed" in row.status.value
    assert re.fullmatch(r"\d+\.\ds", row.elapsed.value)


def test_a_sink_without_within_gets_the_parts_as_percentages():
    """A Progress written before ``within`` (no such parameter) still follows a stage
    that reports parts of its bar: it gets the task's percentage, never a TypeError."""
    from pipeline_kit.base._progress import ensure_progress

    class OldSink:
        def __init__(self) -> None:
            self.calls: list[tuple[object, object, object]] = []

        def update(self, value=None, total=None, *, step=None) -> None:
            self.calls.append((value, total, step))

        def check_cancelled(self) -> None:
            return None

    old = OldSink()
    sink = ensure_progress(old)
    sink.update(5, 10, step="scan", within=(0.0, 10.0))
    sink.update(3, 4, step="decode")
    assert old.calls == [(5.0, None, "scan"), (3, 4, "decode")]
