"""The README leads with a short quickstart; benchmark tables and API details live in docs/."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_readme_opens_with_a_short_quickstart_and_points_to_the_docs():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", text, re.M)
    assert sections[0] == "Quickstart"
    quick = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert len([ln for ln in quick.splitlines() if ln.strip()]) <= 12  # one screen
    assert "pipeline-kit run" in quick and "pipeline-kit show" in quick
    assert "|---|" not in text  # no table: the benchmark tables moved to docs/
    for doc in ("docs/benchmarks.md", "docs/api.md", "docs/scale-out.md"):
        assert doc in text and (REPO / doc).is_file(), doc
    bench = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert "recall@5" in bench and "| tiny.en (bundled)" in bench
    assert "POST /audio/uploads" in (REPO / "docs" / "api.md").read_text(encoding="utf-8")


def test_readme_commands_name_flags_the_cli_has():
    from pipeline_kit.faces.cli._main import _parser

    text = (REPO / "README.md").read_text(encoding="utf-8")
    commands = set(_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    used = set(re.findall(r"pipeline-kit ([a-z]+)\b", text))
    assert "show" in used and used <= commands, used - commands
