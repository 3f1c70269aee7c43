"""Notebook 01 in JupyterLab in a real headless Chromium: the live widget panel.

Under papermill the notebook prints text progress (tests/test_notebooks.py). Here a
JupyterLab server (127.0.0.1, random token, throwaway config/data/settings folders)
serves a copy of notebook 01 whose parameters point at the bundled sample; Chromium
(Debian's, driven by Playwright, no browser download) opens it, runs all cells through
the Run menu, and the test checks that ``pipeline_kit.notebook._display.TaskPanel`` was rendered
by the ipywidgets manager as real widgets (not ``VBox(...)`` text), was seen live
(a row running below 100 % with its ETA, its step text whole: screenshot
``live_panel.png``), and ends with every task at 100 % and ``completed``. The explore
test goes on to notebooks 04 (search, tagging) and 03 (compare_runs' display).

``PIPELINE_KIT_SCREENSHOTS=DIR`` also copies every screenshot into DIR (how
``docs/img/`` got the README's pictures).

Needs ``PIPELINE_KIT_CHROMIUM`` (an executable Chromium; .ci/services.sh sets it) and
the ``playwright`` package: skipped with the reason when either is missing. When they
are present and the browser or the server cannot start, the test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import service_missing

from pipeline_kit.base._fs import pid_alive

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "01_run_pipeline.ipynb"
COLLECTION = REPO / "notebooks" / "04_collection.ipynb"
EXPERIMENTS = REPO / "notebooks" / "03_chunking_experiments.ipynb"
SAMPLE = REPO / "data" / "sample" / "austen_sample.wav"
SCREENSHOT_COPY = Path("/tmp/browser_test.png")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Front-end plugins that would reach the network or a server extension we do not load.
DISABLED_PLUGINS = [
    "@jupyterlab/apputils-extension:announcements",
    "@jupyterlab/extensionmanager-extension",
    "@jupyterlab/lsp-extension",
]
STARTUP_TIMEOUT = 90  # s: server up, JupyterLab loaded, kernel idle
RUN_TIMEOUT = 300  # s: the whole notebook (model load + pipeline on 26.7 s of audio)
STATUS_CLASS = {"completed": "progress-bar-success", "running": "progress-bar-info"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not SAMPLE.exists(), reason=f"bundled sample audio missing: {SAMPLE}"),
]

# The rows of every TaskPanel in the notebook's outputs, read from the DOM that
# ipywidgets 8 renders: VBox > HBox(Label id, FloatProgress, HTML status, Label step,
# Label elapsed, Button). textContent (not innerText) so off-screen cells count too.
_JS_ROWS = """
() => [...document.querySelectorAll('.jp-OutputArea .widget-hprogress')].map(p => {
  const row = p.closest('.widget-hbox');
  const bar = p.querySelector('.progress-bar');
  const html = row ? row.querySelector('.widget-html') : null;
  const text = (e) => (e ? e.textContent.replace(/\\s+/g, ' ').trim() : null);
  return {
    task: text(p.querySelector('.widget-label')),
    width: bar ? bar.style.width : null,
    bar_class: bar ? bar.className : null,
    status: text(html),
    row: text(row),
  };
})
"""
# Records every state the rows show while the notebook runs (a MutationObserver
# sees each widget update, since each comm message is applied in its own task).
_JS_WATCH = """
(rowsSrc) => {
  const rows = eval(rowsSrc);
  window.__pkSeen = new Set();
  const record = () => {
    for (const r of rows()) window.__pkSeen.add(JSON.stringify([r.task, r.status, r.width]));
  };
  new MutationObserver(record).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true,
    attributeFilter: ['style', 'class'],
  });
}
"""
# A running row whose step cell shows an ETA, and whether that cell shows its text in
# full: no horizontal or vertical overflow cut off, and inside the output area.
_JS_LIVE_ETA = """
() => {
  for (const p of document.querySelectorAll('.jp-OutputArea .widget-hprogress')) {
    const row = p.closest('.widget-hbox');
    const htmls = row ? row.querySelectorAll('.widget-html') : [];
    if (htmls.length < 2) continue;
    const status = htmls[0].textContent.trim(), step = htmls[htmls.length - 1];
    const text = step.textContent.replace(/\\s+/g, ' ').trim();
    if (status !== 'running' || !/ETA \\d/.test(text)) continue;
    const area = row.closest('.jp-OutputArea-output').getBoundingClientRect();
    const box = step.getBoundingClientRect();
    const inner = step.querySelector('div[title]') || step;
    return {
      task: p.querySelector('.widget-label').textContent.trim(), text,
      title: inner.getAttribute('title'),
      clipped: step.scrollWidth > step.clientWidth + 1 || step.scrollHeight > step.clientHeight + 1
        || inner.scrollWidth > inner.clientWidth + 1,
      inside: box.left >= area.left - 1 && box.right <= area.right + 1 && box.width > 0,
    };
  }
  return null;
}
"""
_JS_KERNEL_READY = """
() => {
  const dialog = document.querySelector('.jp-Dialog .jp-mod-accept');
  if (dialog) { dialog.click(); return false; }  // a kernel dialog after all: accept it
  const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const name = document.querySelector('.jp-NotebookPanel-toolbar .jp-KernelName');
  return !!ind && ind.getAttribute('data-status') === 'idle'
    && !!name && /python/i.test(name.textContent);
}
"""
_JS_DONE = """
() => {
  const ind = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
    .map(e => e.textContent.trim());
  return !!ind && ind.getAttribute('data-status') === 'idle' && prompts.length > 0
    && !prompts.some(p => p.includes('*')) && /\\[\\d+\\]/.test(prompts[0]);
}
"""
_JS_CELLS = """
() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].map(c => ({
  prompt: c.querySelector('.jp-InputPrompt').textContent.trim(),
  source: c.querySelector('.jp-InputArea-editor').textContent.slice(0, 80),
  outputs: [...c.querySelectorAll('.jp-OutputArea-output')].map(o => ({
    mime: o.getAttribute('data-mime-type'), text: o.textContent,
  })),
}))
"""


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def chromium() -> str:
    path = os.environ.get("PIPELINE_KIT_CHROMIUM", "")
    if not path:
        service_missing("PIPELINE_KIT_CHROMIUM is not set (.ci/services.sh sets it to "
                        "Debian's /usr/bin/chromium)")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        service_missing(f"PIPELINE_KIT_CHROMIUM={path} is not an executable file")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _save_shot(target, path: Path) -> None:
    """A screenshot of ``target`` (a page or locator) at ``path``, also copied into
    ``$PIPELINE_KIT_SCREENSHOTS`` when set (how docs/img/ gets the README's pictures).
    A screenshot is evidence, not a check: failing to take one fails no test."""
    with contextlib.suppress(Exception):
        target.screenshot(path=str(path))
        if os.environ.get("PIPELINE_KIT_SCREENSHOTS"):
            keep = Path(os.environ["PIPELINE_KIT_SCREENSHOTS"])
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, keep / path.name)


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the server's kernels run in their own sessions)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(stat.parent.name))
    return out


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    end = time.monotonic() + timeout
    while (left := [p for p in pids if pid_alive(p)]) and time.monotonic() < end:
        time.sleep(0.2)
    return left


class LabServer:
    def __init__(self, root: Path, url: str, token: str, proc: subprocess.Popen, log: Path):
        self.root, self.url, self.token, self.proc, self.log = root, url, token, proc, log

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> bytes:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", method=method, data=data,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def start_kernel_for(self, path: str) -> None:
        """Start the notebook's session (kernel python3) before the page opens it.

        JupyterLab then attaches to that kernel: no "Select Kernel" dialog, which
        otherwise may appear when the kernel specs load after the notebook does.
        """
        self.api("/api/sessions", "POST", {
            "path": path, "name": path, "type": "notebook", "kernel": {"name": "python3"}})


def _write_notebook(dest: Path, run_dir: Path, **params: object) -> None:
    """A copy of notebook 01 with papermill-style injected parameters (absolute paths)."""
    _inject(NOTEBOOK, dest, audio_path=str(SAMPLE), output_dir=str(run_dir), **params)


def _write_collection_notebook(dest: Path, home: Path) -> None:
    """A copy of notebook 04 searching the runs of ``home`` (notebook 01's, the server's
    $PIPELINE_KIT_HOME) for 'Dashwood'."""
    _inject(COLLECTION, dest, homes=[str(home)], query="Dashwood", k=5)


def _write_experiments_notebook(dest: Path, run_dir: Path, out: Path) -> None:
    """A copy of notebook 03 on notebook 01's run: a small sweep, no Choi document, and
    its comparison of two runs of the sample."""
    _inject(EXPERIMENTS, dest, transcript_path=str(run_dir / "transcript.json"),
            chunk_sizes=[40, 100], overlaps=[0, 10], methods=["tfidf"], choi_document="",
            output_dir=str(out), compare_audio=str(SAMPLE), compare_chunk_sizes=[40, 80])


def _inject(source: Path, dest: Path, **params: object) -> None:
    """A copy of ``source`` with a papermill-style injected-parameters cell after its
    ``parameters`` cell."""
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(source, as_version=4)
    i = next(k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    code = ("# Parameters injected by tests/test_browser.py\n"
            + "".join(f"{k} = {v!r}\n" for k, v in params.items()))
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell(
        code, metadata={"tags": ["injected-parameters"]}))
    nbformat.write(nb, dest)


@pytest.fixture
def notebook_params() -> dict[str, object]:
    """Parameters injected into notebook 01 besides the audio and the output folder
    (diarization, which runs only when asked: the speaker views are checked)."""
    return {"diarize": True}


@pytest.fixture
def lab_server(tmp_path, chromium, notebook_params):
    pytest.importorskip("jupyterlab", reason="jupyterlab is not installed")
    root = tmp_path / "lab"
    root.mkdir()
    _write_notebook(root / NOTEBOOK.name, tmp_path / "run", **notebook_params)
    config = tmp_path / "jupyter_config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {p: True for p in DISABLED_PLUGINS}}))
    settings = tmp_path / "lab_settings"
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))  # every cell in the DOM

    # The kernel inherits this environment: no progress override (conftest sets
    # PIPELINE_KIT_PROGRESS=text for the other tests), so display.py must detect the
    # Jupyter server parent on its own; the venv's bin first so "python" is the venv's.
    env = {k: v for k, v in os.environ.items()
           if k != "PIPELINE_KIT_PROGRESS" and not k.startswith(("PAPERMILL", "JPY_"))}
    for k in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env.pop(k, None)
    env.update(
        HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
        PIPELINE_KIT_HOME=str(tmp_path / "home"),
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter_data"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter_runtime"),
        IPYTHONDIR=str(tmp_path / "ipython"),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={tmp_path / 'lab_workspaces'}",
    ]
    log = tmp_path / "jupyter_server.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log_file,
                                stderr=subprocess.STDOUT, start_new_session=True)
    server = LabServer(root, f"http://127.0.0.1:{port}", token, proc, log)
    try:
        end = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}")
            with contextlib.suppress(OSError):
                json.loads(server.api("/api/status"))
                break
            if time.monotonic() > end:
                pytest.fail(f"jupyter lab not up after {STARTUP_TIMEOUT}s:\n{server.log_tail()}")
            time.sleep(0.25)
        yield server
    finally:
        _stop_server(server)


def _stop_server(server: LabServer) -> None:
    """Shut the server down with its kernels; escalate to signals by process id."""
    proc = server.proc
    kernels = _children(proc.pid)
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            server.api("/api/shutdown", method="POST")
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # the server's own session
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = _wait_gone(kernels, 5)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
    _wait_gone(kernels, 5)


@pytest.fixture
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        except Exception as e:  # present but broken: a failure, not a skip
            pytest.fail(f"Chromium at {chromium} did not start: {e}")
        try:
            yield b
        finally:
            b.close()


# ---------------------------------------------------------------- the test


def test_notebook_01_shows_live_widget_progress_in_jupyterlab(lab_server, browser, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    screenshot = tmp_path / "jupyterlab.png"

    def context() -> str:
        return (f"\n-- uncaught page errors: {page_errors[:5]}"
                f"\n-- jupyter server log (tail):\n{lab_server.log_tail()}"
                f"\n-- screenshot: {screenshot}")

    t0 = time.monotonic()
    lab_server.start_kernel_for(NOTEBOOK.name)
    try:
        page.goto(f"{lab_server.url}/lab/tree/{NOTEBOOK.name}?token={lab_server.token}",
                  timeout=STARTUP_TIMEOUT * 1000)
        federated = page.evaluate(
            "() => JSON.parse(document.getElementById('jupyter-config-data').textContent)"
            ".federated_extensions.map(e => e.name)")
        assert "@jupyter-widgets/jupyterlab-manager" in federated, (
            f"the ipywidgets lab extension is not found by the server (JUPYTER_PATH="
            f"{os.environ.get('JUPYTER_PATH')}); extensions: {federated}")
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=STARTUP_TIMEOUT * 1000)
        try:
            page.wait_for_function(_JS_KERNEL_READY, timeout=STARTUP_TIMEOUT * 1000,
                                   polling=250)
        except PlaywrightTimeout:
            pytest.fail(f"the notebook's kernel was not ready after {STARTUP_TIMEOUT}s"
                        f"{context()}")
        t_ready = time.monotonic()

        page.evaluate(_JS_WATCH, _JS_ROWS)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
        # Mid-run: the first moment a running row shows its ETA, caught in a screenshot.
        live_eta = page.wait_for_function(
            f"() => ({_JS_LIVE_ETA})() || (({_JS_DONE})() && 'done')",
            timeout=RUN_TIMEOUT * 1000, polling=100).json_value()
        if isinstance(live_eta, dict):
            _save_shot(page.locator(".jp-OutputArea-output .widget-vbox:has(.widget-hprogress)")
                       .first, tmp_path / "live_panel.png")
        try:
            page.wait_for_function(_JS_DONE, timeout=RUN_TIMEOUT * 1000, polling=250)
        except PlaywrightTimeout:
            prompts = [c["prompt"] for c in page.evaluate(_JS_CELLS)]
            pytest.fail(f"the notebook did not finish within {RUN_TIMEOUT}s; prompts "
                        f"{prompts}; panel {page.evaluate(_JS_ROWS)}{context()}")
        t_done = time.monotonic()

        cells = page.evaluate(_JS_CELLS)
        rows = page.evaluate(_JS_ROWS)
        seen = [tuple(json.loads(s)) for s in page.evaluate("() => [...window.__pkSeen]")]
        panel = page.locator(".jp-OutputArea-output .widget-vbox:has(.widget-hprogress)").first
        if panel.count():
            panel.scroll_into_view_if_needed()
    finally:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(screenshot))
            shutil.copyfile(screenshot, SCREENSHOT_COPY)
    print(f"\nbrowser test: JupyterLab ready in {t_ready - t0:.1f}s, notebook ran in "
          f"{t_done - t_ready:.1f}s (Chromium {browser.version}), {len(seen)} panel states "
          f"seen; screenshot {screenshot} (copy: {SCREENSHOT_COPY})")

    # The notebook ran to the end without an error.
    prompts = [c["prompt"] for c in cells]
    tracebacks = [o["text"][-1500:] for c in cells for o in c["outputs"]
                  if o["mime"] == "application/vnd.jupyter.stderr" and "Traceback" in o["text"]]
    assert not tracebacks, f"a cell raised:\n{tracebacks[0]}{context()}"
    assert all(p.startswith("[") and p[1:-2].isdigit() for p in prompts), (
        f"not every code cell ran: prompts {prompts}{context()}")
    all_text = "\n".join(o["text"] for c in cells for o in c["outputs"])
    last = "".join(o["text"] for o in cells[-1]["outputs"])
    assert "saved to" in last, f"the closing summary is missing: {cells[-1]}{context()}"
    run_record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run_record["outcome"] == "completed", run_record

    # The panel was rendered by the widget manager, not as text reprs or errors.
    if "progress view:" in all_text:
        assert "progress view: widget" in all_text, (
            f"display.py chose text progress inside JupyterLab{context()}")
    for bad in ("HBox(", "VBox(", "FloatProgress(", "Error displaying widget",
                "Loading widget..."):
        assert bad not in all_text, f"{bad!r} shown in the outputs{context()}"
    assert rows, f"no progress-bar widget in any output{context()}"
    tasks = {r["task"] for r in rows}
    assert {"pipeline", "transcription"} <= tasks, f"panel rows: {rows}{context()}"

    # Live: the browser showed the pipeline task running below 100 % at some point.
    live = [s for s in seen if s[0] == "pipeline" and s[1] == "running" and s[2] != "100%"]
    assert live, f"the pipeline row was never seen running; states seen: {seen}{context()}"

    # Mid-run, a running row showed its ETA, its step text whole (wrapped, not cut off).
    assert isinstance(live_eta, dict), (
        f"no running row ever showed an ETA before the notebook finished; states seen: "
        f"{seen}{context()}")
    assert not live_eta["clipped"] and live_eta["inside"], (
        f"the step cell cuts its text: {live_eta}{context()}")
    assert " ".join(live_eta["title"].split()) == live_eta["text"], live_eta  # all on hover
    print(f"live panel: {live_eta['task']}: {live_eta['text']!r} (tmp_path/live_panel.png)")

    # Final state: every task at 100 %, green bar, status "completed".
    for r in rows:
        assert r["width"] == "100%", f"{r['task']} ended at {r['width']}: {r}{context()}"
        assert r["status"] == "completed", f"{r['task']} ended {r['status']!r}: {r}{context()}"
        assert STATUS_CLASS["completed"] in (r["bar_class"] or ""), f"{r}{context()}"
    assert screenshot.stat().st_size > 0


# ---------------------------------------------------------------- explore views

# 5 chunks and 3 chapters of the 26.7 s sample (the default settings give one of each).
# 24 words hold the sample's 22-word first sentence whole: questions come only from whole
# sentences, and the notebook checks that this paragraph gives at least one.
EXPLORE_PARAMS = {"diarize": True, "chunk_size": 24, "overlap": 5, "chunking_method": "tfidf",
                  "stage_params": {"min_sentences": 1}}
PLAY_TIMEOUT = 20  # s: the audio element starts playing after a click
_JS_AUDIO = """
(box) => {
  const a = box.querySelector('audio');
  return a && {paused: a.paused, t: a.currentTime, ready: a.readyState,
               error: a.error ? a.error.code : null, src: !!a.src};
}
"""
_JS_PLAYER_READY = "(box) => { const a = box.querySelector('audio'); return !!a && !!a.src; }"
_JS_PLAYING = "(box) => { const a = box.querySelector('audio'); return !!a && !a.paused "\
              "&& a.currentTime > 0; }"


def _run_all_cells(page, server: LabServer, context, name: str = NOTEBOOK.name) -> None:
    """Open notebook ``name`` in JupyterLab, run every cell, wait until the kernel is idle.

    ``reset`` empties the saved workspace, so a notebook opened before is not restored
    beside this one (its unexecuted cells would count as not done)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    server.start_kernel_for(name)
    page.goto(f"{server.url}/lab/tree/{name}?reset&token={server.token}",
              timeout=STARTUP_TIMEOUT * 1000)
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=STARTUP_TIMEOUT * 1000)
    try:
        page.wait_for_function(_JS_KERNEL_READY, timeout=STARTUP_TIMEOUT * 1000, polling=250)
    except PlaywrightTimeout:
        pytest.fail(f"the notebook's kernel was not ready after {STARTUP_TIMEOUT}s{context()}")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
    try:
        page.wait_for_function(_JS_DONE, timeout=RUN_TIMEOUT * 1000, polling=250)
    except PlaywrightTimeout:
        pytest.fail(f"the notebook did not finish within {RUN_TIMEOUT}s{context()}")
    cells = page.evaluate(_JS_CELLS)
    tracebacks = [o["text"][-1500:] for c in cells for o in c["outputs"]
                  if o["mime"] == "application/vnd.jupyter.stderr" and "Traceback" in o["text"]]
    assert not tracebacks, f"a cell raised:\n{tracebacks[0]}{context()}"


def _play_and_check(page, box, button, start: float, end: float, what: str, context) -> dict:
    """Click ``button``; the box's audio element must play at a time within start..end."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    button.scroll_into_view_if_needed()
    try:  # a view drawn again (the codings view after a tag) shows its text first
        page.wait_for_function(_JS_PLAYER_READY, arg=box.element_handle(),
                               timeout=PLAY_TIMEOUT * 1000, polling=50)
    except PlaywrightTimeout:
        pytest.fail(f"{what}: the box has no player: {box.evaluate(_JS_AUDIO)}{context()}")
    button.click()
    try:
        page.wait_for_function(_JS_PLAYING, arg=box.element_handle(),
                               timeout=PLAY_TIMEOUT * 1000, polling=50)
    except PlaywrightTimeout:
        pytest.fail(f"{what}: the audio element did not play: "
                    f"{box.evaluate(_JS_AUDIO)}{context()}")
    state = box.evaluate(_JS_AUDIO)
    assert not state["paused"], f"{what}: {state}{context()}"
    assert start - 0.05 <= state["t"] <= end + 0.05, (
        f"{what}: currentTime {state['t']:.2f} s outside {start:.2f}..{end:.2f}{context()}")
    return state


def _node_pixel(png: bytes, colors: list[str]) -> tuple[int, int] | None:
    """The centre of the largest disc drawn in one of ``colors`` in a screenshot."""
    import io

    import numpy as np
    from PIL import Image
    from scipy.ndimage import distance_transform_edt

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    best = None
    for c in colors:
        rgb = np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)])
        depth = distance_transform_edt(np.abs(img - rgb).max(axis=2) <= 12)
        y, x = np.unravel_index(int(depth.argmax()), depth.shape)
        if depth[y, x] >= 3 and (best is None or depth[y, x] > best[0]):
            best = (depth[y, x], int(x), int(y))
    return None if best is None else (best[1], best[2])


@pytest.mark.parametrize("notebook_params", [EXPLORE_PARAMS])
def test_explore_views_play_and_respond_in_jupyterlab(lab_server, browser, tmp_path,
                                                       notebook_params):
    """Notebook 01's listen views and explore widget in a real browser.

    A chapter's ▶ makes the page's audio element play inside that chapter's range (two
    chapters, so the seek is real); a chunk table's ▶ plays its row; a word of the
    transcript view lights up while it plays; the graph's chapter filter lists the
    run's chapters; clicking a concept node in the graph lists its chunks. Each view
    is saved as a screenshot in the test's tmp folder.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from pipeline_kit.notebook._graph_view import (
        DEFAULT_TOP,
        communities_of,
        community_color,
        filter_graph,
        top_concepts,
        with_their_chunks,
    )
    from pipeline_kit.stages._graph_query import from_node_link_json

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    shots: dict[str, Path] = {}

    def shot(name: str, locator=None) -> None:
        path = tmp_path / f"{name}.png"
        _save_shot(locator or page, path)
        if path.exists():
            shots[name] = path

    def context() -> str:
        return (f"\n-- uncaught page errors: {errors[:5]}\n-- jupyter server log (tail):\n"
                f"{lab_server.log_tail()}\n-- screenshots: {sorted(shots)}")

    try:
        _run_all_cells(page, lab_server, context)
    finally:
        shot("notebook_after_run")
    run = tmp_path / "run"
    chapters = json.loads((run / "chapters.json").read_text())
    chunks = json.loads((run / "chunks.json").read_text())
    G = from_node_link_json(run / "graph.json")
    assert len(chapters) >= 2, f"the run needs two chapters to test seeking: {chapters}"
    for bad in ("VBox(", "HBox(", "ListenView(", "Explorer(", "Error displaying widget"):
        assert bad not in page.inner_text(".jp-Notebook"), f"{bad!r} shown{context()}"

    # Speakers: the timeline figure and the talk-time table of the run's diarization.
    speakers = json.loads((run / "diarization.json").read_text())["speakers"]
    cell = page.locator(".jp-CodeCell", has=page.locator(".jp-InputArea", has_text=
                                                         "pk.speaker_timeline")).first
    cell.scroll_into_view_if_needed()
    assert cell.locator(".jp-OutputArea img").count() == 1, f"no speaker timeline{context()}"
    table_text = cell.locator(".jp-OutputArea").inner_text()
    assert speakers and all(s in table_text for s in speakers), (speakers, table_text[:300])
    shot("speaker_timeline", cell)

    # Explore: choose the second chapter, play it: the audio plays inside its range.
    explore = page.locator(".pk-explore").first
    assert explore.count(), f"no explore widget rendered{context()}"
    explore.scroll_into_view_if_needed()
    second = chapters[1]
    explore.locator(".pk-chapter-list select").select_option(index=1)
    pane = explore.locator(".pk-chapter-pane")
    pane.get_by_text(second["title"]).first.wait_for(timeout=10_000)
    state = _play_and_check(page, explore, pane.locator("h4 .pk-play").first,
                            second["start_time"], second["end_time"], "chapter ▶", context)
    shot("explore_chapter_playing", explore)
    print(f"\nchapter {second['chapter_index']} "
          f"({second['start_time']:.2f}-{second['end_time']:.2f} s) playing at {state['t']:.2f} s")

    # The graph's chapter filter lists the run's chapters.
    dropdown = explore.locator(".widget-dropdown", has=page.locator("label", has_text="chapter"))
    options = [" ".join(o.replace("\xa0", " ").split())  # ipywidgets pads with nbsp
               for o in dropdown.first.locator("option").all_inner_texts()]
    want = [f"{c['chapter_index']} · {c['title']}" for c in chapters]
    assert options[0] == "all chapters" and len(options) == len(chapters) + 1, options
    assert all(o.startswith(w) for o, w in zip(options[1:], want, strict=True)), (options, want)

    # Back to all chapters; clicking a concept node lists its chunks.
    dropdown.first.locator("select").select_option(index=0)  # all chapters
    shown = dropdown.first.locator("select").evaluate("s => s.selectedIndex")
    assert shown == 0, f"the chapter filter shows entry {shown} after choosing 'all'{context()}"
    graph = explore.locator(".pk-graph").first
    graph.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)  # sigma renders on the next frames
    shot("graph_view", graph)
    colors = sorted({community_color(d.get("community")) for _, d in G.nodes(data=True)
                     if d.get("kind") == "concept"})
    xy = _node_pixel(graph.screenshot(), colors)
    assert xy is not None, f"no concept node drawn in the graph view{context()}"
    box = graph.bounding_box()
    page.mouse.move(box["x"] + xy[0], box["y"] + xy[1])
    page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])
    chunk_list = explore.locator(".pk-chunk-list")
    chunk_list.locator(".pk-play").first.wait_for(timeout=10_000)
    shot("graph_node_chunks", explore)
    label = chunk_list.locator("b").first.inner_text()
    concept = next(n for n, d in G.nodes(data=True)
                   if d.get("kind") == "concept" and d.get("label") == label)
    listed = set(re.findall(r"chunk-\d{4}", chunk_list.inner_text()))
    assert listed == {u for u in G[concept] if G.nodes[u]["kind"] == "chunk"}, (label, listed)

    # The community filter keeps that community's concepts and chunks only.
    k = communities_of(G)[0]
    community = explore.locator(".widget-dropdown",
                                has=page.locator("label", has_text="community")).first
    community.locator("select").select_option(index=1)  # after "all communities"
    Hk = filter_graph(G, community=k)  # the view draws its most central concepts
    want_nodes = with_their_chunks(Hk, top_concepts(Hk, DEFAULT_TOP)).number_of_nodes()
    try:
        page.wait_for_function(
            "([el, n]) => (' ' + el.innerText.split(/\\s+/).join(' ') + ' ')"
            ".includes(' ' + n + ' nodes ')",
            arg=[graph.element_handle(), want_nodes], timeout=10_000)
    except PlaywrightTimeout:
        pytest.fail(f"community {k}: the graph does not show {want_nodes} nodes: "
                    f"{graph.inner_text()[:200]!r}{context()}")
    page.wait_for_timeout(1000)
    shot("graph_community_filter", graph)

    # A chunk table's ▶ plays that chunk.
    table = page.locator(".pk-listen:not(.pk-explore)",
                         has=page.locator("th", has_text="boundary_score")).first
    third = chunks[2]
    _play_and_check(page, table, table.locator(".pk-play").nth(2), third["start_time"],
                    third["end_time"], "chunk table ▶", context)
    shot("chunks_table_playing", table)

    # The transcript view lights the word being played.
    words = page.locator(".pk-listen:not(.pk-explore)",
                         has=page.locator(".pk-transcript")).first
    _play_and_check(page, words, words.locator(".pk-w").nth(10), 0, 27, "word", context)
    lit = words.locator(".pk-w.pk-on")
    lit.first.wait_for(timeout=5_000)
    ws, we = (float(lit.first.get_attribute(a)) for a in ("data-ws", "data-we"))
    t = words.evaluate(_JS_AUDIO)["t"]
    assert ws - 0.3 <= t <= we + 0.3, f"lit word {ws}-{we} s, audio at {t} s{context()}"
    shot("transcript_word_highlight", words)

    # Notebook 04 on the same run: the search's first hit plays inside its range.
    _write_collection_notebook(tmp_path / "lab" / COLLECTION.name, tmp_path / "home")
    page04 = browser.new_page(viewport={"width": 1400, "height": 1000})
    page04.on("pageerror", lambda e: errors.append(str(e)))
    _run_all_cells(page04, lab_server, context, COLLECTION.name)
    hits = page04.locator(".pk-listen", has=page04.locator(".pk-play")).first
    assert hits.count(), f"notebook 04 shows no hits table with ▶{context()}"
    first = hits.locator(".pk-play").first
    start, end = (float(first.get_attribute(a)) for a in ("data-s", "data-e"))
    _play_and_check(page04, hits, first, start, end, "search hit ▶", context)
    shot("collection_hit_playing", hits)

    # Its tag control: a new code typed beside the hit and "tag" codes the hit; the
    # codings view below then lists the quote under that code, and its ▶ plays it.
    row = page04.locator(".pk-tag-row").first
    row.scroll_into_view_if_needed()
    row.locator("input[type=text]").fill("browser theme")
    row.locator("button", has_text="tag").click()
    try:
        page04.get_by_text("tagged 'browser theme'").first.wait_for(timeout=20_000)
    except PlaywrightTimeout:
        pytest.fail(f"tagging the hit said nothing: {row.inner_text()}{context()}")
    # the codings view's title, not the hits box, whose status line also names the code
    quote = page04.locator(".pk-listen", has_text="browser theme · ").last
    try:
        quote.wait_for(timeout=20_000)
    except PlaywrightTimeout:
        pytest.fail(f"the codings view does not list the new code{context()}")
    play = quote.locator(".pk-play").first
    q_start, q_end = (float(play.get_attribute(a)) for a in ("data-s", "data-e"))
    assert q_start <= start + 0.5 and q_end >= end - 0.5, (q_start, q_end, start, end)
    _play_and_check(page04, quote, play, q_start, q_end, "coded quote ▶", context)
    shot("collection_coded_quote", quote)

    # Notebook 03's comparison of two runs of the sample (01's transcript, cached): a
    # rich display with the parameter diff, the boundary timeline and the question diff.
    _write_experiments_notebook(tmp_path / "lab" / EXPERIMENTS.name, run, tmp_path / "exp")
    page03 = browser.new_page(viewport={"width": 1400, "height": 1000})
    page03.on("pageerror", lambda e: errors.append(str(e)))
    _run_all_cells(page03, lab_server, context, EXPERIMENTS.name)
    shown = page03.locator(".jp-OutputArea-output", has_text="Comparison of run a").first
    assert shown.count(), f"notebook 03 shows no compare_runs display{context()}"
    shown.scroll_into_view_if_needed()
    shot("compare_runs", shown)
    text = shown.inner_text()
    diff = shown.locator("table").first.inner_text()
    assert "chunk_size" in diff and "40" in diff and "80" in diff, diff
    assert shown.locator("img[alt*='chunk boundaries']").evaluate(
        "img => img.complete && img.naturalWidth > 100"), f"no timeline picture{context()}"
    assert "questions only one run asked" in text
    notebook_text = page03.inner_text(".jp-Notebook")
    assert "RunComparison(" not in notebook_text and "<Axes" not in notebook_text, (
        f"a text repr shown instead of the display{context()}")
    print("screenshots:", ", ".join(f"{k}: {v}" for k, v in sorted(shots.items())))
    assert not [e for e in errors if "pk" in e.lower()], errors
