"""pipeline_kit: spoken audio into timed transcripts, chunks, graphs, chapters and questions."""

from __future__ import annotations

__version__ = "0.1.0"
