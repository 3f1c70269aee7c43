"""Concepts across a collection: every run's graph concepts, near-duplicates merged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from pipeline_kit.collection._runs import Queryable as Collection
from pipeline_kit.collection._runs import Runs, chosen_run_ids, run_condition
from pipeline_kit.stages._concept_merge import SIMILARITY, merge_concepts

if TYPE_CHECKING:
    import networkx as nx

CONCEPT_COLUMNS = ["concept", "variants", "recordings", "n_recordings", "mentions",
                   "first_recording", "first_time", "last_recording", "last_time",
                   "cooccurs_with"]


def _mentions(coll: Collection, runs: Runs) -> pd.DataFrame:
    """Every mention of the chosen runs with its concept label, recording and the run's
    date, in time order."""
    cond, params = run_condition(runs, "m.run_id")
    return coll.query(f"""
        SELECT c.label, m.concept_key, m.run_id, r.recording, u.date, u.seq,
               m.count, m.start_time, m.chunk_id
        FROM mentions m JOIN concepts c ON c.run_id = m.run_id
             AND c.concept_key = m.concept_key
        JOIN runs u ON u.run_id = m.run_id JOIN recordings r ON r.recording_id = m.recording_id
        WHERE {cond}
        ORDER BY u.date, u.seq, m.start_time""", params)


def merged_concepts(coll: Collection, *, embedder: Any = None, similarity: float | None = None,
                    runs: Runs = "latest"
                    ) -> tuple[pd.DataFrame, dict[tuple[str, str], str], pd.DataFrame]:
    """(concept table, (run_id, concept_key) -> merged name, merged co-occurrences), over
    the runs ``runs`` chooses (each recording's newest by default)."""
    chosen_run_ids(coll, runs)  # names unknown run ids
    cond, params = run_condition(runs)
    concepts = coll.query(f"SELECT run_id, concept_key, label, count FROM concepts "
                          f"WHERE {cond}", params)
    if concepts.empty:
        return pd.DataFrame(columns=CONCEPT_COLUMNS), {}, pd.DataFrame(
            columns=["a", "b", "strength"])
    weights = concepts.groupby("label")["count"].sum()
    groups = merge_concepts(list(weights.index), list(weights.to_numpy()),
                            embedder=embedder, similarity=similarity or SIMILARITY)
    name_of = groups.mapping()
    key_name = {(r.run_id, r.concept_key): name_of[r.label] for r in concepts.itertuples()}
    m = _mentions(coll, runs)
    m["concept"] = [key_name.get((r, k)) for r, k in zip(m["run_id"], m["concept_key"],
                                                          strict=True)]
    co = _cooccurrences(coll, key_name, runs)
    rows = []
    for name, g in m.groupby("concept", sort=False):
        first, last = g.iloc[0], g.iloc[-1]
        rows.append({
            "concept": name,
            "variants": sorted({lab for lab, n in name_of.items() if n == name}),
            "recordings": sorted(set(g["recording"])),
            "n_recordings": g["recording"].nunique(),
            "mentions": int(g["count"].sum()),
            "first_recording": first["recording"], "first_time": float(first["start_time"]),
            "last_recording": last["recording"], "last_time": float(last["start_time"]),
            "cooccurs_with": _partners(co, str(name)),
        })
    table = pd.DataFrame(rows, columns=CONCEPT_COLUMNS)
    table = table.sort_values(["n_recordings", "mentions", "concept"],
                              ascending=[False, False, True]).reset_index(drop=True)
    return table, key_name, co


def _cooccurrences(coll: Collection, key_name: dict[tuple[str, str], str],
                   runs: Runs) -> pd.DataFrame:
    cond, params = run_condition(runs)
    co = coll.query(f"SELECT run_id, a_key, b_key, strength FROM cooccurrences WHERE {cond}",
                    params)
    pairs: dict[tuple[str, str], float] = {}
    for r in co.itertuples():
        a, b = key_name.get((r.run_id, r.a_key)), key_name.get((r.run_id, r.b_key))
        if a and b and a != b:
            pair = (min(a, b), max(a, b))
            pairs[pair] = pairs.get(pair, 0.0) + float(r.strength)
    return pd.DataFrame([(a, b, s) for (a, b), s in pairs.items()],
                        columns=["a", "b", "strength"])


def _partners(co: pd.DataFrame, name: str, n: int = 5) -> list[str]:
    """The ``n`` concepts ``name`` co-occurs with most strongly."""
    if co.empty:
        return []
    mine = co[(co["a"] == name) | (co["b"] == name)]
    mine = mine.sort_values("strength", ascending=False).head(n)
    return [b if a == name else a for a, b in zip(mine["a"], mine["b"], strict=True)]


def concept_graph(coll: Collection, *, embedder: Any = None,
                  similarity: float | None = None, runs: Runs = "latest") -> nx.Graph:
    """Merged concepts (``kind="concept"``) joined by ``cooccurrence`` edges, and recordings
    (``kind="recording"``) joined by ``mention`` edges to the concepts they mention."""
    import networkx as nx

    table, _, co = merged_concepts(coll, embedder=embedder, similarity=similarity, runs=runs)
    G = nx.Graph(name="pipeline_kit collection concepts")
    for r in table.itertuples():
        G.add_node(f"concept:{r.concept}", kind="concept", label=r.concept,
                   mentions=int(r.mentions), n_recordings=int(r.n_recordings),
                   variants="|".join(r.variants))
        for rec in r.recordings:
            G.add_node(f"recording:{rec}", kind="recording", label=rec)
            G.add_edge(f"recording:{rec}", f"concept:{r.concept}", kind="mention")
    for a, b, s in co.itertuples(index=False):
        G.add_edge(f"concept:{a}", f"concept:{b}", kind="cooccurrence", weight=float(s))
    return G
