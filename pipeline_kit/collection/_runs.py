"""Which runs a collection view reads: the one rule every view shares.

A recording run twice (another chunk size, a newer model) is still one recording.
By default every view (search, timeline, concepts, graph, recordings) reads each
recording's newest run, the one indexed last; ``runs="all"`` reads every run, and a
list of run ids reads exactly those.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

import pandas as pd

Runs = Literal["latest", "all"] | Sequence[str]

# Each recording's newest run: the highest index sequence number of its runs.
_LATEST = ("SELECT run_id FROM runs u WHERE seq = "
           "(SELECT max(seq) FROM runs v WHERE v.recording_id = u.recording_id)")


class Queryable(Protocol):
    """What the rule needs of a collection: SQL over its index."""

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame: ...


def run_condition(runs: Runs, column: str = "run_id") -> tuple[str, list[Any]]:
    """A SQL condition on ``column`` that keeps the chosen runs, and its parameters."""
    if isinstance(runs, str):
        if runs == "latest":
            return f"{column} IN ({_LATEST})", []
        if runs == "all":
            return "TRUE", []
        raise ValueError(f"runs must be 'latest', 'all' or a list of run ids, not {runs!r}")
    ids = list(runs)
    if not ids or not all(isinstance(r, str) and r for r in ids):
        raise ValueError(f"runs must be 'latest', 'all' or a non-empty list of run ids, "
                         f"not {runs!r}")
    return f"{column} IN ({', '.join('?' * len(ids))})", ids


def chosen_run_ids(coll: Queryable, runs: Runs) -> set[str]:
    """The ids of the runs ``runs`` chooses; unknown ids in a list are an error."""
    cond, params = run_condition(runs)
    found = set(coll.query(f"SELECT run_id FROM runs WHERE {cond}", params)["run_id"])
    if not isinstance(runs, str):
        missing = [r for r in runs if r not in found]
        if missing:
            raise ValueError(f"no indexed run {', '.join(map(repr, missing))} in this "
                             "collection (see Collection.runs())")
    return found
