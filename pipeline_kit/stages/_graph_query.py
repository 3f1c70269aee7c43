"""Exports, loaders and query helpers for the concept graph built by :mod:`.graph`."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import networkx as nx

from pipeline_kit.base._fs import atomic_writer
from pipeline_kit.stages._graph import CONCEPT_PREFIX

_SCALARS = (str, int, float, bool)


class UnknownConceptError(KeyError):
    """A concept that is not in the graph (the message names it and close matches)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


def check_attributes(G: nx.Graph) -> None:
    """Raise TypeError naming the first graph/node/edge attribute that is not str/int/float/bool."""
    def bad(where: str, d: dict) -> None:
        for k, v in d.items():
            if not isinstance(v, _SCALARS):
                raise TypeError(f"{where} attribute {k!r} is {type(v).__name__}; only "
                                "str, int, float and bool can be exported")
    bad("graph", G.graph)
    for n, d in G.nodes(data=True):
        bad(f"node {n!r}", d)
    for u, v, d in G.edges(data=True):
        bad(f"edge {u!r}-{v!r}", d)


def to_graphml(G: nx.Graph, path: str | Path) -> Path:
    """Write GraphML (readable by Gephi, yEd, Cytoscape); returns the path."""
    check_attributes(G)
    with atomic_writer(Path(path)) as f:
        nx.write_graphml(G, f, named_key_ids=True)
    return Path(path)


def from_graphml(path: str | Path) -> nx.Graph:
    """Read a graph written by :func:`to_graphml` (attribute types are kept)."""
    return nx.read_graphml(str(path))


def to_gexf(G: nx.Graph, path: str | Path) -> Path:
    """Write GEXF (Gephi's format); returns the path."""
    check_attributes(G)
    nx.write_gexf(G, str(path))
    return Path(path)


def to_node_link_json(G: nx.Graph, path: str | Path | None = None) -> str:
    """Node-link JSON (``nodes``/``edges`` lists, as d3 and networkx read it); written when
    ``path`` is given."""
    check_attributes(G)
    s = json.dumps(nx.node_link_data(G, edges="edges"), ensure_ascii=False, indent=1)
    if path is not None:
        Path(path).write_text(s, encoding="utf-8")
    return s


def from_node_link_json(source: str | Path) -> nx.Graph:
    """Load a graph from node-link JSON text or a path to a file with it."""
    text = source
    if isinstance(source, Path) or not str(source).lstrip().startswith("{"):
        text = Path(source).read_text(encoding="utf-8")
    data = json.loads(str(text))
    return nx.node_link_graph(data, directed=data.get("directed", False),
                              multigraph=data.get("multigraph", False), edges="edges")


def concept_nodes(G: nx.Graph) -> list[str]:
    """Ids of all concept nodes."""
    return [n for n, k in G.nodes(data="kind") if k == "concept"]


def resolve_concept(G: nx.Graph, concept: str) -> str:
    """Node id of ``concept``: a node id, a phrase ("printing", any case) or a written form."""
    if concept in G and G.nodes[concept].get("kind") == "concept":
        return concept
    want = " ".join(str(concept).removeprefix(CONCEPT_PREFIX).lower().split())
    from pipeline_kit.stages._keyphrases import phrase_key

    cid = CONCEPT_PREFIX + phrase_key(want)
    if cid in G:
        return cid
    for n in concept_nodes(G):
        d = G.nodes[n]
        forms = {str(d.get("label", "")).lower(), *str(d.get("variants", "")).lower().split("|")}
        if want in forms:
            return n
    labels = sorted(str(G.nodes[n].get("label", n)) for n in concept_nodes(G))
    # 0.8: a typo still finds its concept; "gutenberg" no longer suggests "tender" (0.67)
    close = difflib.get_close_matches(str(concept), labels, n=3, cutoff=0.8)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise UnknownConceptError(f"unknown concept {concept!r}{hint}")


def concept_neighbourhood(G: nx.Graph, concept: str, radius: int = 1) -> nx.Graph:
    """The subgraph within ``radius`` hops of ``concept`` (chunks mentioning it, related
    concepts...), as a copy."""
    if radius < 0:
        raise ValueError(f"radius must be non-negative, got {radius}")
    return nx.ego_graph(G, resolve_concept(G, concept), radius=radius).copy()


def concept_path(G: nx.Graph, a: str, b: str, *, concepts_only: bool = False) -> list[str]:
    """Shortest path (fewest hops) of node ids from concept ``a`` to concept ``b``.

    Unknown concepts raise :class:`UnknownConceptError` naming every one of them;
    ``concepts_only`` restricts the path to concept nodes (co-occurrence edges).
    """
    missing, ids = [], []
    for c in (a, b):
        try:
            ids.append(resolve_concept(G, c))
        except UnknownConceptError as e:
            missing.append(str(e))
    if missing:
        raise UnknownConceptError("; ".join(missing))
    H = G.subgraph(concept_nodes(G)) if concepts_only else G
    try:
        return nx.shortest_path(H, ids[0], ids[1])
    except nx.NetworkXNoPath:
        raise ValueError(f"no path between {a!r} and {b!r} in the graph") from None


def top_concepts(G: nx.Graph, chapter: int | None = None, n: int = 10) -> list[tuple[str, float]]:
    """The ``n`` most important concepts as (label, score), best first.

    Whole graph: the concept's TF-IDF weight times (1 + PageRank × node count).
    One chapter: the summed mention weight from that chapter's chunks.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    scores: dict[str, float] = {}
    if chapter is None:
        size = max(G.number_of_nodes(), 1)
        for c in concept_nodes(G):
            d = G.nodes[c]
            scores[c] = float(d.get("weight", 1.0)) * (1 + float(d.get("pagerank", 0.0)) * size)
    else:
        chunks = [v for v, d in G.nodes(data=True)
                  if d.get("kind") == "chunk" and d.get("chapter") == chapter]
        if not chunks:
            known = sorted({d["chapter"] for _, d in G.nodes(data=True) if "chapter" in d})
            raise ValueError(f"no chunk of chapter {chapter} in the graph (chapters: {known})")
        for v in chunks:
            for u, e in G[v].items():
                if e.get("kind") == "mention":
                    scores[u] = scores.get(u, 0.0) + float(e.get("weight", 1.0))
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [(str(G.nodes[c].get("label", c)), s) for c, s in ranked]


def graph_frames(G: nx.Graph):  # -> tuple[pandas.DataFrame, pandas.DataFrame]
    """(nodes_df indexed by node id, edges_df with ``source``/``target`` columns)."""
    import pandas as pd

    nodes = pd.DataFrame([{"id": n, **d} for n, d in G.nodes(data=True)])
    if not nodes.empty:
        nodes = nodes.set_index("id")
    edges = pd.DataFrame([{"source": u, "target": v, **d} for u, v, d in G.edges(data=True)],
                         columns=None)
    if edges.empty:
        edges = pd.DataFrame(columns=["source", "target", "kind", "weight"])
    return nodes, edges
