"""Drawing a collection's timeline with matplotlib (static, so it survives nbval and export)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def plot_timeline(df: pd.DataFrame) -> Any:
    """Two panels: resolved markers on a year axis, every marker on its recording's audio
    time; one row per recording in both."""
    import matplotlib.pyplot as plt

    recs = sorted(df["recording"].unique()) if len(df) else []
    y = {r: i for i, r in enumerate(recs)}
    height = 1.8 + 0.45 * max(len(recs), 1)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 2 * height))
    resolved = df[df["year"].notna()] if len(df) else df
    for r in resolved.itertuples():
        top.errorbar(r.year + (r.span_years or 0) / 2, y[r.recording],
                     xerr=(r.span_years or 0) / 2, fmt="o", color="tab:blue", capsize=3)
        top.annotate(str(r.text), (r.year, y[r.recording]), textcoords="offset points",
                     xytext=(0, 6), fontsize=7, ha="left")
    top.set_title("Resolved time expressions (year)")
    top.set_xlabel("year")
    for r in (df.itertuples() if len(df) else []):
        colour = "tab:blue" if pd.notna(r.year) else "tab:orange"
        bottom.plot([r.start_time], [y[r.recording]], "|", color=colour, markersize=14)
        bottom.annotate(str(r.text), (r.start_time, y[r.recording]), textcoords="offset points",
                        xytext=(0, 8), fontsize=7, rotation=20)
    bottom.set_title("Where each expression is said (blue: resolved, orange: relative)")
    bottom.set_xlabel("audio time (s)")
    for ax in (top, bottom):
        ax.set_yticks(range(len(recs)), recs)
        ax.set_ylim(-0.7, max(len(recs), 1) - 0.3)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
