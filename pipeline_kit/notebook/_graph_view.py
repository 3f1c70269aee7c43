"""Views of the concept graph: an interactive ipysigma widget, and a static drawing.

A front end over the graph that :func:`pipeline_kit.build_graph` returns. Colours are
fixed per community (concept nodes) and per chapter (chunk nodes) by their numbers,
so a community or a chapter has the same colour in every view, filtered or not, live
or static. Node positions are computed once per graph (seeded), so filtering keeps
every node where it was and the graph is drawn before any interaction. In JupyterLab
the view is ipysigma with a search box, chapter and community filters, and a list of
a clicked concept's chunks (with ▶ controls when the audio is given); where no live
front end renders widgets it is a matplotlib drawing.
"""

from __future__ import annotations

import difflib
import html
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import pandas as pd

from pipeline_kit.notebook._display import has_live_frontend
from pipeline_kit.notebook._listen import format_range, listen_box, listen_html, table_html

# Tableau 10 then its light half: distinguishable, and the same in matplotlib and sigma.
COMMUNITY_COLORS = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#a0cbe8", "#ffbe7d", "#ff9d9a", "#86bcb6", "#8cd17d", "#f1ce63",
)
# Chapters get dark tones, far from every community colour (at least 93 apart in RGB;
# the muted ones before were as close as 15: chapter 0 read as community 0).
CHAPTER_COLORS = (
    "#1f3a5f", "#7a3b00", "#2f5d1f", "#6a1b4d", "#00555a", "#5c4d00", "#3d2466", "#5a2a20",
)
NO_GROUP_COLOR = "#bbbbbb"
EDGE_COLORS = {"mention": "#c5cbd3", "cooccurrence": "#e8c468", "next": "#f28e2b",
               "similar": "#76b7b2"}
ALL = -1  # the "all" entry of a filter (ipywidgets reads a None value as "nothing selected")
SEARCH_CUTOFF = 0.8  # difflib ratio for a suggestion: "gutenberg"/"tender" is 0.67
MAX_LABELS = 25  # concept labels in the static drawing (the most central ones)
DEFAULT_TOP = 15  # concepts the live view shows at first (a slider shows more)
MATCH_HALO = "#ffd84d"  # the halo of a concept that matches the search


def community_color(community: int | None) -> str:
    """The colour of a concept community (grey when there is none)."""
    if community is None:
        return NO_GROUP_COLOR
    return COMMUNITY_COLORS[int(community) % len(COMMUNITY_COLORS)]


def chapter_color(chapter: int | None) -> str:
    """The colour of a chapter's chunks (grey when chapters are unknown)."""
    if chapter is None:
        return NO_GROUP_COLOR
    return CHAPTER_COLORS[int(chapter) % len(CHAPTER_COLORS)]


def node_color(d: dict[str, Any]) -> str:
    """A node's colour: its community for a concept, its chapter for a chunk."""
    if d.get("kind") == "concept":
        return community_color(d.get("community"))
    return chapter_color(d.get("chapter"))


# ---------------------------------------------------------------- queries


def chapters_of(G: nx.Graph) -> list[int]:
    """The chapter numbers of the graph's chunks."""
    return sorted({int(d["chapter"]) for _, d in G.nodes(data=True) if "chapter" in d})


def communities_of(G: nx.Graph) -> list[int]:
    """The community numbers of the graph's concepts."""
    return sorted({int(d["community"]) for _, d in G.nodes(data=True)
                   if d.get("kind") == "concept" and "community" in d})


def filter_graph(G: nx.Graph, chapter: int | None = None,
                 community: int | None = None) -> nx.Graph:
    """The subgraph of one chapter (its chunks and the concepts they mention) and/or of
    one community (its concepts and the chunks of that community only)."""
    keep = set(G)
    if chapter is not None:
        chunks = {n for n, d in G.nodes(data=True)
                  if d.get("kind") == "chunk" and d.get("chapter") == chapter}
        keep = chunks | {u for c in chunks for u in G[c]
                         if G.nodes[u].get("kind") == "concept"}
    if community is not None:
        keep = {n for n in keep if G.nodes[n].get("community") == community}
    return G.subgraph(keep)


def _forms(d: dict[str, Any]) -> list[str]:
    return [f for f in (str(d.get("label", "")).lower(),
                        *str(d.get("variants", "")).lower().split("|")) if f]


def search_concepts(G: nx.Graph, query: str) -> tuple[list[str], list[str]]:
    """(concept ids matching ``query``, suggested labels when none does).

    An empty query matches every concept. A concept matches when a word of its label
    or of a variant starts with the query (case-insensitive), or contains it as a
    phrase; suggestions are labels at least ``SEARCH_CUTOFF`` similar (difflib), so
    a typo finds its concept and an unrelated word suggests nothing.
    """
    concepts = [n for n, k in G.nodes(data="kind") if k == "concept"]
    q = " ".join(query.lower().split())
    if not q:
        return concepts, []
    hits = [n for n in concepts
            if any(q in f and (f.startswith(q) or f" {q}" in f) for f in _forms(G.nodes[n]))]
    if hits:
        return hits, []
    labels = {str(G.nodes[n].get("label", n)).lower() for n in concepts}
    words = {w for lab in labels for w in lab.split()}
    close = difflib.get_close_matches(q, sorted(labels | words), n=3, cutoff=SEARCH_CUTOFF)
    return [], close


def concept_chunks(G: nx.Graph, node: str) -> pd.DataFrame:
    """The chunks of a concept (or the chunk itself), in time order, with their times."""
    if node not in G:
        raise KeyError(f"no node {node!r} in the graph")
    d = G.nodes[node]
    ids = [node] if d.get("kind") == "chunk" else [
        u for u in G[node] if G.nodes[u].get("kind") == "chunk"]
    rows = [{"chunk_id": u, "chapter": G.nodes[u].get("chapter"),
             "start_time": float(G.nodes[u]["start_time"]),
             "end_time": float(G.nodes[u]["end_time"]),
             "mentions": int(G.edges[node, u].get("count", 1)) if u != node else None,
             "text": str(G.nodes[u].get("text", ""))} for u in ids]
    df = pd.DataFrame(rows, columns=["chunk_id", "chapter", "start_time", "end_time",
                                     "mentions", "text"])
    return df.sort_values("start_time").reset_index(drop=True)


def positions(G: nx.Graph, seed: int = 1) -> dict[str, tuple[float, float]]:
    """Seeded spring layout of the whole graph: the same place for a node in every view."""
    if G.number_of_nodes() == 0:
        return {}
    pos = nx.spring_layout(G, seed=seed, weight="weight")
    return {n: (float(x), float(y)) for n, (x, y) in pos.items()}


# ---------------------------------------------------------------- static drawing


def draw_graph(G: nx.Graph, ax: Any = None, *, pos: dict | None = None,
               highlight: Sequence[str] = (), title: str = "", max_labels: int = MAX_LABELS):
    """Draw ``G`` with matplotlib: concepts as circles in their community's colour,
    chunks as squares in their chapter's colour, labels on the most central concepts."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 6.5))
    ax.clear()
    ax.axis("off")
    if G.number_of_nodes() == 0:
        ax.set_title(f"{title} (empty)")
        return ax
    pos = {n: p for n, p in (pos or positions(G)).items() if n in G}
    concepts = [n for n in G if G.nodes[n].get("kind") == "concept"]
    chunks = [n for n in G if G.nodes[n].get("kind") != "concept"]
    nx.draw_networkx_edges(G, pos, ax=ax, alpha=0.15, width=0.6)
    nx.draw_networkx_nodes(G, pos, nodelist=chunks, node_shape="s", node_size=60, ax=ax,
                           node_color=[node_color(G.nodes[n]) for n in chunks])
    size = [80 + 4000 * float(G.nodes[n].get("pagerank", 0.0)) for n in concepts]
    marked = set(highlight)
    nx.draw_networkx_nodes(G, pos, nodelist=concepts, node_size=size, ax=ax,
                           node_color=[node_color(G.nodes[n]) for n in concepts],
                           edgecolors=["black" if n in marked else "white" for n in concepts])
    central = sorted(concepts, key=lambda n: -float(G.nodes[n].get("pagerank", 0.0)))
    shown = set(central[:max_labels]) | (marked & set(concepts))
    labels = {n: str(G.nodes[n].get("label", n)) for n in shown}
    texts = nx.draw_networkx_labels(G, pos, labels, font_size=8, ax=ax)
    for t in texts.values():  # a white halo keeps labels legible over edges and nodes
        import matplotlib.patheffects as pe

        t.set_path_effects([pe.withStroke(linewidth=2.5, foreground="white")])
    ax.set_title(title or f"{len(concepts)} concepts, {len(chunks)} chunks "
                 f"(labels: {len(shown)} most central)")
    return ax


# ---------------------------------------------------------------- interactive view


def _chapter_options(G: nx.Graph, chapters: Sequence[Any] | None) -> list[tuple[str, Any]]:
    titles = {c.chapter_index: c for c in chapters or ()}
    opts: list[tuple[str, Any]] = [("all chapters", ALL)]
    for i in chapters_of(G):
        c = titles.get(i)
        opts.append((f"{i} · {c.title} ({format_range(c.start_time, c.end_time)})" if c
                     else f"chapter {i}", i))
    return opts


def _community_options(G: nx.Graph) -> list[tuple[str, Any]]:
    opts: list[tuple[str, Any]] = [("all communities", ALL)]
    for k in communities_of(G):
        members = sorted((n for n, d in G.nodes(data=True)
                          if d.get("kind") == "concept" and d.get("community") == k),
                         key=lambda n: -float(G.nodes[n].get("pagerank", 0.0)))
        top = ", ".join(str(G.nodes[n].get("label", n)) for n in members[:3])
        opts.append((f"{k} · {top}", k))
    return opts


def legend_html(G: nx.Graph, chapters: Sequence[Any] | None = None) -> str:
    """Colour swatches of the communities and chapters (the colours every view uses)."""
    def sw(color: str, text: str, radius: str) -> str:
        return (f'<span style="white-space:nowrap;margin-right:10px">'
                f'<span style="display:inline-block;width:10px;height:10px;background:{color};'
                f'border-radius:{radius};margin-right:3px"></span>{html.escape(text)}</span>')
    titles = {c.chapter_index: c.title for c in chapters or ()}
    comm = "".join(sw(community_color(k), str(k), "50%") for k in communities_of(G))
    chap = "".join(sw(chapter_color(i), f"{i} {titles.get(i, '')}".strip(), "0")
                   for i in chapters_of(G))
    out = f"<div style='font-size:11px'><b>communities</b> {comm}"
    if chap:
        out += f"<br><b>chapters</b> (chunk squares) {chap}"
    return out + "</div>"


@dataclass
class GraphView:
    """The interactive concept graph: search, chapter and community filters, and the
    chunks (with times, and ▶ controls when ``audio`` is given) of a clicked node."""

    G: nx.Graph
    audio: Any = None
    chapters: Sequence[Any] | None = None
    height: int = 520
    pos: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import ipywidgets as W

        if not self.pos:
            self.pos = positions(self.G)
        self.search = W.Text(description="concept", placeholder="search a concept…",
                             continuous_update=True)
        self.chapter = W.Dropdown(description="chapter",
                                  options=_chapter_options(self.G, self.chapters),
                                  layout=W.Layout(width="420px"))
        self.community = W.Dropdown(description="community",
                                    options=_community_options(self.G),
                                    layout=W.Layout(width="420px"))
        n_concepts = sum(1 for _, k in self.G.nodes(data="kind") if k == "concept")
        self.top = W.IntSlider(value=min(DEFAULT_TOP, max(n_concepts, 1)), min=1,
                               max=max(n_concepts, 1), description="concepts",
                               tooltip="the most central concepts shown (search shows all)",
                               continuous_update=False)
        self.hits: set[str] = set()
        self.matches = W.HTML()
        self.legend = W.HTML(legend_html(self.G, self.chapters))
        self.canvas = W.Box(layout=W.Layout(width="100%"))
        self.canvas.add_class("pk-graph")
        self.chunk_list = W.HTML("<i>click a concept to list its chunks</i>")
        self.chunk_list.add_class("pk-chunk-list")
        for w in (self.search, self.chapter, self.community, self.top):
            w.observe(self.refresh, names="value")
        self.refresh()

    def current(self) -> nx.Graph:
        """The graph as the filters and the search box cut it."""
        H = filter_graph(self.G, None if self.chapter.value == ALL else self.chapter.value,
                         None if self.community.value == ALL else self.community.value)
        hits, close = search_concepts(H, self.search.value)
        self.hits = set()
        if not self.search.value.strip():
            shown = top_concepts(H, self.top.value)
            self.matches.value = (f"<span style='color:#666'>the {len(shown)} most central of "
                                  f"{len(hits)} concepts</span>")
            return with_their_chunks(H, shown)
        if not hits:
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            self.matches.value = (f"<i>no concept matches "
                                  f"{html.escape(self.search.value)!r}{hint}</i>")
            return H.subgraph([])
        labels = ", ".join(html.escape(str(H.nodes[n].get("label", n))) for n in hits[:15])
        self.matches.value = f"{len(hits)} match: {labels}"
        self.hits = set(hits)
        return H.subgraph(set(hits) | {u for n in hits for u in H[n]})

    def sigma(self, H: nx.Graph):  # -> ipysigma.Sigma
        """An ipysigma view of ``H`` with fixed colours and positions."""
        from ipysigma import Sigma

        K, options = sigma_inputs(H, self.pos, self.hits)
        return Sigma(K, height=self.height, **options)

    def refresh(self, _change: Any = None) -> None:
        """Redraw for the current filters and search (also the first drawing)."""
        H = self.current()
        if H.number_of_nodes() == 0:
            import ipywidgets as W

            self.canvas.children = [W.HTML("<i>nothing to show for these filters</i>")]
            return
        view = self.sigma(H)
        view.observe(self.on_select, names="selected_node")
        self.canvas.children = [view]

    def on_select(self, change: dict[str, Any]) -> None:
        """List the chunks of the clicked node, with their times and ▶ controls."""
        node = change.get("new")
        if not node or node not in self.G:
            return
        df = concept_chunks(self.G, node)
        df["text"] = df["text"].str.slice(0, 160)
        d = self.G.nodes[node]
        head = (f"<b>{html.escape(str(d.get('label', node)))}</b>: {len(df)} chunk"
                f"{'s' if len(df) != 1 else ''}")
        body = table_html(df) if self.audio is not None else _times_table(df)
        self.chunk_list.value = listen_html(f"{head}{body}")

    def parts(self) -> list[Any]:
        """The widgets of the view, without an audio element (a caller's box holds it)."""
        import ipywidgets as W

        return [W.HBox([self.search, self.matches]),
                W.HBox([self.chapter, self.community, self.top]),
                self.legend, self.canvas, self.chunk_list]

    def widget(self):  # -> ipywidgets.VBox
        """The whole view; inside a listen box when the audio is known."""
        import ipywidgets as W

        if self.audio is not None:
            return listen_box(self.audio, self.parts())
        return W.VBox(self.parts())


def top_concepts(G: nx.Graph, k: int) -> list[str]:
    """The ``k`` most central concepts of ``G`` (by PageRank), most central first."""
    concepts = [n for n, kind in G.nodes(data="kind") if kind == "concept"]
    return sorted(concepts, key=lambda n: -float(G.nodes[n].get("pagerank", 0.0)))[:k]


def with_their_chunks(G: nx.Graph, concepts: Sequence[str]) -> nx.Graph:
    """The concepts and the chunks (and other non-concept nodes) they link to: what the
    view draws of a filtered graph; a chunk no shown concept mentions is left out."""
    return G.subgraph(set(concepts) | {u for n in concepts for u in G[n]
                                       if G.nodes[u].get("kind") != "concept"})


def sigma_inputs(H: nx.Graph, pos: dict[str, tuple[float, float]],
                 hits: AbstractSet[str] = frozenset()) -> tuple[nx.Graph, dict[str, Any]]:
    """The graph and options of the ipysigma view of ``H``: every node labelled, chunks
    with a dark border (their chapter's colour is dark too), search matches haloed."""
    K = nx.Graph()
    top = max((float(d.get("pagerank", 0.0)) for _, d in H.nodes(data=True)), default=0.0)
    for n, d in H.nodes(data=True):
        concept = d.get("kind") == "concept"
        label = str(d.get("label", n)) if concept else (
            f"{n} {format_range(d.get('start_time'), d.get('end_time'))}")
        size = 4 + 12 * float(d.get("pagerank", 0.0)) / top if concept and top else 5
        K.add_node(n, label=label, kind=str(d.get("kind")), color=node_color(d), size=size,
                   border="#ffffff" if concept else "#000000",
                   halo=12 if n in hits else 0)
    for u, v, d in H.edges(data=True):
        kind = str(d.get("kind"))
        K.add_edge(u, v, weight=float(d.get("weight", 1.0)), kind=kind,
                   color=EDGE_COLORS.get(kind, NO_GROUP_COLOR))
    layout = {n: {"x": pos[n][0], "y": pos[n][1]} for n in K if n in pos}
    # Raw sizes and colours (pixels, hex): the same in every filtered view. Our own
    # legend, search and filters replace sigma's panel, which covered the graph.
    options = dict(layout=layout, raw_node_size="size", raw_node_color="color",
                   raw_edge_color="color", node_label="label", hide_search=True,
                   hide_info_panel=True, start_layout=False, show_all_labels=True,
                   raw_node_border_color="border", default_node_border_size=1,
                   raw_node_halo_size="halo", default_node_halo_color=MATCH_HALO)
    return K, options


def _times_table(df: pd.DataFrame) -> str:
    rows = "".join(f"<tr><td>{format_range(r.start_time, r.end_time)}</td>"
                   f"<td>{html.escape(str(r.chunk_id))}</td><td>{html.escape(r.text)}</td></tr>"
                   for r in df.itertuples())
    return f'<table class="pk-table">{rows}</table>'


@dataclass
class GraphDisplay:
    """What :func:`graph_view` returns: the live widget in JupyterLab, a drawing elsewhere."""

    G: nx.Graph
    audio: Any = None
    chapters: Sequence[Any] | None = None

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if has_live_frontend():
            display(GraphView(self.G, self.audio, self.chapters).widget())
        else:
            import matplotlib.pyplot as plt

            draw_graph(self.G)
            plt.show()


def graph_view(G: nx.Graph, audio: Any = None, chapters: Sequence[Any] | None = None
               ) -> GraphDisplay:
    """The concept graph ``G`` as an interactive view (JupyterLab) or a static drawing.

    ``audio`` (a path or run result) adds ▶ controls to a clicked concept's chunk list;
    ``chapters`` (records) name the chapter filter's entries.
    """
    if not isinstance(G, nx.Graph):
        raise TypeError(f"graph_view needs a networkx graph, got {type(G).__name__}")
    if audio is not None:
        from pipeline_kit.notebook._listen import audio_path

        audio_path(audio)
    return GraphDisplay(G, audio, chapters)

