"""One player per page: starting any <audio> pauses the others; a word plays from there on."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

import pipeline_kit as pk
from pipeline_kit.notebook import _listen as L

# A page of three players, as the views make them: the script under test is the one the
# views install; only the browser's event plumbing is stood in for.
PAGE = """
const listeners = [];
function player() {
  return {paused: true,
          play() { this.paused = false; for (const l of listeners) l({target: this}); },
          pause() { this.paused = true; }};
}
const audios = [player(), player(), player()];
global.window = {};
global.document = {
  addEventListener(type, fn, capture) { if (type === 'play' && capture) listeners.push(fn); },
  querySelectorAll(sel) { return sel === 'audio' ? audios : []; },
};
const install = %s;
eval(install); eval(install);  // two views on one page install it once
const states = [];
audios[0].play(); states.push(audios.map(a => a.paused));
audios[2].play(); states.push(audios.map(a => a.paused));
console.log(JSON.stringify({states, listeners: listeners.length}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page script")
def test_starting_one_player_pauses_every_other():
    out = subprocess.run(["node", "-e", PAGE % json.dumps(L._JS_ONE_PLAYER)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    got = json.loads(out)
    assert got["listeners"] == 1
    assert got["states"] == [[False, True, True], [True, True, False]]


def test_every_view_installs_the_one_player_script():
    html = L.listen_html("<span>x</span>")
    assert 'onerror="' in html and "pkOnePlayer" in html
    assert "o.pause()" in L._JS_CLICK  # a ▶ click pauses the others before it plays


def test_a_word_plays_from_that_word_to_the_end_of_the_view():
    words = [pk.Word("It", 0.12, 0.36), pk.Word("is", 0.36, 0.52), pk.Word("a", 0.6, 0.7),
             pk.Word("truth", 0.7, 1.1)]
    html = L.words_html(words)
    spans = re.findall(r'data-s="([\d.]+)" data-e="([\d.]+)"', html)
    assert [float(s) for s, _ in spans] == [0.12, 0.36, 0.6, 0.7]
    assert {float(e) for _, e in spans} == {1.1}  # not the word's own 0.24 s
    part = L.words_html(words, start=0.3, end=0.65)
    assert set(re.findall(r'data-e="([\d.]+)"', part)) == {"0.650"}
