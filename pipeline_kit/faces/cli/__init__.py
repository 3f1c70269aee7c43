"""``pipeline-kit``, the command line: a face over the same core as the notebooks and the API."""

from __future__ import annotations

from pipeline_kit.faces.cli._main import main

__all__ = ["main"]
