"""Everything that renders in Jupyter: the live task panel and its text fallback,
players, transcript and graph views, explore, speaker tables and run comparisons.

The task manager finds its views through ``tasks._views``; nothing below this layer
imports it.
"""
