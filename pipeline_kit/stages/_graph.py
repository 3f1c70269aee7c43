"""Concept graph of a transcript: chunks and key-phrase concepts joined by typed edges.

Nodes: ``kind="chunk"`` (id = chunk_id) and ``kind="concept"`` (id ``"concept:<key>"``).
Edges (undirected ``nx.Graph``, attribute ``kind``):

* ``mention``      chunk – concept, ``weight`` = TF-IDF, ``count`` = occurrences
* ``next``         chunk – following chunk in time (``from_chunk``/``to_chunk`` give the order)
* ``similar``      chunk – chunk among each other's ``k_similar`` nearest above a threshold
* ``cooccurrence`` concept – concept mentioned in the same or neighbouring chunks

A concept node's ``entity_type`` is its spaCy entity label (PERSON, GPE, ORG, DATE, ...)
or "" for a common noun phrase, so a view can colour people, places and dates.

A chunk pair that is both ``next`` and ``similar`` keeps one edge: ``kind="next"``,
``kinds="next|similar"`` and a ``similarity``. Every attribute is a str, int, float
or bool, so GraphML and GEXF export work as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from pipeline_kit.base._params import Param
from pipeline_kit.base._progress import Progress, ensure_progress
from pipeline_kit.stages._concept_merge import merge_concepts
from pipeline_kit.stages._embeddings import Embedder, encode_cached, get_embedder, normalize_rows
from pipeline_kit.stages._keyphrases import PhraseStats, phrase_stats
from pipeline_kit.stages._types import Chapter, Chunk

if TYPE_CHECKING:
    from scipy import sparse

CONCEPT_PREFIX = "concept:"
TOP_CONCEPTS = Param("top_concepts", int, 40, "concepts kept in the graph",
                     minimum=1, maximum=10_000)
_NEXT_WEIGHT = 0.5


def concept_id(key: str) -> str:
    """Node id of a concept key ("printing" -> "concept:printing")."""
    return CONCEPT_PREFIX + key


def concept_kind(st: PhraseStats, key: str) -> str:
    """What part of speech a concept's head is: "PROPN" for a name, else "NOUN".

    Every candidate ends on a noun, so verbs never reach the merge; names and common
    nouns stay apart ("United States" and "state"). Entity types are not compared: the
    small English model labels one name differently in two places ("Middle Ages" LOC,
    "early Middle Ages" DATE).
    """
    return "PROPN" if key in st.proper else "NOUN"


def _chapter_of(chunks: Sequence[Chunk], chapters: Sequence[Chapter] | None) -> dict[str, int]:
    """chunk_id -> chapter index, from chunk_ids or else from the chunk's mid time."""
    if not chapters:
        return {}
    out: dict[str, int] = {}
    for ch in chapters:
        for cid in ch.chunk_ids:
            out.setdefault(cid, ch.chapter_index)
    for c in chunks:
        if c.chunk_id in out:
            continue
        mid = (c.start_time + c.end_time) / 2
        best = min(chapters, key=lambda ch: (0 if ch.start_time <= mid < ch.end_time else 1,
                                             abs((ch.start_time + ch.end_time) / 2 - mid)))
        out[c.chunk_id] = best.chapter_index
    return out


def _sparse(matrix: object) -> sparse.csr_matrix:
    """A ``PhraseStats`` matrix (typed ``object`` there) as the scipy sparse matrix it is."""
    from scipy import sparse  # late, as in _keyphrases: `import pipeline_kit` stays light

    if not sparse.issparse(matrix):
        raise TypeError(f"expected a scipy sparse matrix, got {type(matrix).__name__}")
    return matrix


def _phrase_scores(st: PhraseStats) -> np.ndarray:
    """Per phrase column: TF-IDF summed over the chunks, times the phrase's quality."""
    return np.asarray(_sparse(st.tfidf).sum(axis=0)).ravel() * st.quality


def _select_concepts(
    st: PhraseStats,
    top: int,
    mmr_diversity: float,
    phrase_emb: np.ndarray | None,
    doc_emb: np.ndarray | None,
    pool_idx: np.ndarray,
) -> list[int]:
    """Column indices of the chosen concepts: by score, or by MMR when embeddings are given."""
    scores = _phrase_scores(st)
    pool = list(pool_idx)
    if phrase_emb is None or doc_emb is None or not pool:
        return pool[:top]
    rel_tfidf = scores[pool] / max(scores[pool].max(), 1e-9)
    rel = 0.5 * rel_tfidf + 0.5 * (phrase_emb @ doc_emb)
    sims = phrase_emb @ phrase_emb.T
    chosen: list[int] = []
    best_sim = np.full(len(pool), -np.inf)
    left = np.ones(len(pool), dtype=bool)
    for _ in range(min(top, len(pool))):
        penalty = np.where(np.isfinite(best_sim), best_sim, 0.0)
        mmr = (1 - mmr_diversity) * rel - mmr_diversity * penalty
        mmr[~left] = -np.inf
        j = int(np.argmax(mmr))
        chosen.append(j)
        left[j] = False
        best_sim = np.maximum(best_sim, sims[j])
    return [pool[j] for j in chosen]


def _candidate_pool(st: PhraseStats, size: int) -> np.ndarray:
    """Best-scoring phrase columns, dropping a phrase found only inside a longer one."""
    scores = _phrase_scores(st)
    df = st.document_frequency
    total = np.asarray(_sparse(st.counts).sum(axis=0)).ravel()
    order = np.lexsort((np.arange(len(scores)), -scores))
    chosen: list[int] = []
    for j in order:
        key = st.phrases[j]
        padded = f" {key} "
        # "gutenberg" adds nothing when every mention of it is in "gutenberg bible"
        if any(padded in f" {st.phrases[c]} " and total[c] >= total[j] and df[c] >= df[j]
               for c in chosen):
            continue
        chosen.append(int(j))
        if len(chosen) >= size:
            break
    return np.array(chosen, dtype=int)


def _strongest_pairs(co: dict[tuple[int, int], float], min_weight: float,
                     k: int) -> dict[tuple[int, int], float]:
    """Pairs of at least ``min_weight`` that are among the ``k`` strongest of either end."""
    per: dict[int, list[tuple[float, tuple[int, int]]]] = {}
    for pair, w in co.items():
        if w >= min_weight:
            for end in pair:
                per.setdefault(end, []).append((w, pair))
    keep: set[tuple[int, int]] = set()
    for lst in per.values():
        lst.sort(key=lambda x: (-x[0], x[1]))
        keep.update(p for _, p in lst[:k])
    return {p: co[p] for p in keep}


def _similar_pairs(emb: np.ndarray, k: int, threshold: float) -> dict[tuple[int, int], float]:
    """(i, j) with i < j -> cosine, for each row's ``k`` nearest rows above ``threshold``."""
    n = emb.shape[0]
    if n < 2 or k < 1:
        return {}
    sims = emb @ emb.T
    np.fill_diagonal(sims, -np.inf)
    out: dict[tuple[int, int], float] = {}
    kk = min(k, n - 1)
    nearest = np.argsort(-sims, axis=1, kind="stable")[:, :kk]
    for i in range(n):
        for j in nearest[i]:
            s = float(sims[i, j])
            if s >= threshold:
                out[(min(i, int(j)), max(i, int(j)))] = s
    return out


def _add_centralities(G: nx.Graph, seed: int, betweenness_k: int,
                      betweenness_exact_max: int) -> None:
    """PageRank (weighted), betweenness (sampled with ``k`` on large graphs), degree."""
    if G.number_of_nodes() == 0:
        return
    pr = nx.pagerank(G, weight="weight")
    n = G.number_of_nodes()
    sampled = n > betweenness_exact_max
    k = min(betweenness_k, n) if sampled else None
    bc = nx.betweenness_centrality(G, k=k, seed=seed if sampled else None, normalized=True)
    for v in G.nodes:
        G.nodes[v]["pagerank"] = float(pr.get(v, 0.0))
        G.nodes[v]["betweenness"] = float(bc.get(v, 0.0))
        G.nodes[v]["degree"] = int(G.degree(v))
    G.graph["betweenness_sampled"] = sampled
    G.graph["betweenness_k"] = int(k or n)


def _add_communities(G: nx.Graph, seed: int, resolution: float) -> None:
    """Louvain communities with a fixed seed; numbered by size, then by smallest node id."""
    if G.number_of_nodes() == 0:
        G.graph["n_communities"] = 0
        return
    comms = nx.community.louvain_communities(G, weight="weight", seed=seed,
                                             resolution=resolution)
    comms = sorted((sorted(c) for c in comms), key=lambda c: (-len(c), c[0]))
    for i, members in enumerate(comms):
        for v in members:
            G.nodes[v]["community"] = i
    G.graph["n_communities"] = len(comms)


@dataclass(frozen=True)
class _Embedded:
    """Unit-length embeddings of the chunks and the candidate phrases, and the text's mean.

    ``name`` is what the graph records as its embedder: ``"tfidf"`` when none was used.
    """

    chunks: np.ndarray | None = None
    phrases: np.ndarray | None = None
    doc: np.ndarray | None = None
    name: str = "tfidf"


def _check_arguments(chunks: Sequence[Chunk], top_concepts: int, mmr_diversity: float,
                     k_similar: int, cooccurrence_window: int) -> int:
    """Refuse bad settings and duplicate chunk ids before any work; the checked ``top_concepts``."""
    top_concepts = TOP_CONCEPTS.check(top_concepts)
    if not 0.0 <= mmr_diversity <= 1.0:
        raise ValueError(f"mmr_diversity must be in [0, 1], got {mmr_diversity}")
    if k_similar < 0 or cooccurrence_window < 0:
        raise ValueError("k_similar and cooccurrence_window must be non-negative")
    ids = [c.chunk_id for c in chunks]
    if len(set(ids)) != len(ids):
        raise ValueError("chunk ids must be unique")
    return top_concepts


def _embed(st: PhraseStats, pool: np.ndarray, texts: list[str],
           embedder: Embedder | str | None,
           chunk_embeddings: np.ndarray | None) -> _Embedded:
    """Embed the chunks (or take ``chunk_embeddings``) and the pool's phrases.

    The phrases only count when they live in the chunks' space (same width): MMR
    compares them with the mean chunk, so given embeddings from another model leave
    concept selection to TF-IDF.
    """
    phrases = [st.surface[st.phrases[j]] for j in pool]
    if chunk_embeddings is not None:
        chunk_emb = normalize_rows(np.asarray(chunk_embeddings))
        if chunk_emb.shape[0] != len(texts):
            raise ValueError(f"chunk_embeddings has {chunk_emb.shape[0]} rows for "
                             f"{len(texts)} chunks")
        phrase_emb = encode_cached(get_embedder(embedder), phrases) if phrases else None
        name = "given"
    else:
        model = get_embedder(embedder)
        both = encode_cached(model, texts + phrases)  # one batch
        chunk_emb, phrase_emb = both[: len(texts)], both[len(texts):]
        name = str(getattr(model, "name", "embedder"))
    if phrase_emb is None or phrase_emb.shape[1] != chunk_emb.shape[1]:
        return _Embedded(chunk_emb, None, None, name)
    doc_emb = normalize_rows(chunk_emb.mean(axis=0, keepdims=True))[0]
    return _Embedded(chunk_emb, phrase_emb, doc_emb, name)


def _add_chunk_nodes(G: nx.Graph, chunks: Sequence[Chunk]) -> None:
    """One ``kind="chunk"`` node per chunk, carrying its text, position and times."""
    for c in chunks:
        G.add_node(c.chunk_id, kind="chunk", label=c.chunk_id, text=c.text,
                   chunk_index=c.chunk_index, start_time=float(c.start_time),
                   end_time=float(c.end_time), start_word_index=c.start_word_index,
                   end_word_index=c.end_word_index)


def _attach_chapters(G: nx.Graph, chunks: Sequence[Chunk],
                     chapters: Sequence[Chapter] | None) -> dict[str, int]:
    """Give each chunk node its ``chapter`` (when chapters are given); chunk_id -> chapter."""
    chapter_of = _chapter_of(chunks, chapters)
    for c in chunks:
        if c.chunk_id in chapter_of:
            G.nodes[c.chunk_id]["chapter"] = int(chapter_of[c.chunk_id])
    G.graph["has_chapters"] = bool(chapter_of)
    return chapter_of


def _add_concepts(G: nx.Graph, st: PhraseStats, cols: list[int], chunks: Sequence[Chunk],
                  chapter_of: dict[str, int],
                  members: dict[int, list[int]] | None = None) -> list[set[int]]:
    """Concept nodes for the chosen ``cols`` and their ``mention`` edges to chunks.

    ``members[c]`` lists the phrase columns merged into concept ``c`` (itself first):
    their counts and TF-IDF add up. Returns, per chunk, the positions (in ``cols``)
    of the concepts it mentions.
    """
    scores = _phrase_scores(st)
    members = members or {}
    present: list[set[int]] = [set() for _ in chunks]
    for pos, j in enumerate(cols):
        group = members.get(j, [j])
        key = st.phrases[j]
        cid = concept_id(key)
        col_tf = np.asarray(_sparse(st.tfidf)[:, group].sum(axis=1)).ravel()
        col_cnt = np.asarray(_sparse(st.counts)[:, group].sum(axis=1)).ravel()
        rows = np.flatnonzero(col_cnt).tolist()
        chs = sorted({chapter_of[ids_i] for ids_i in (chunks[r].chunk_id for r in rows)
                      if ids_i in chapter_of})
        forms = sorted({v for m in group for v in st.variants.get(st.phrases[m], ())})
        G.add_node(cid, kind="concept", label=st.surface[key], key=key,
                   weight=float(scores[group].sum()), document_frequency=int(len(rows)),
                   count=int(col_cnt.sum()), proper_name=key in st.proper,
                   variants="|".join(forms),
                   merged="|".join(st.surface[st.phrases[m]] for m in group[1:]),
                   chapters=",".join(map(str, chs)), rank=pos,
                   entity_type=st.entity_type.get(key, ""))
        for r in rows:
            G.add_edge(chunks[r].chunk_id, cid, kind="mention", kinds="mention",
                       weight=float(col_tf[r]), count=int(col_cnt[r]))
            present[r].add(pos)
    return present


def _chapter_rows(chunks: Sequence[Chunk], chapter_of: dict[str, int]) -> list[np.ndarray]:
    """Per chapter (in index order): the positions of its chunks."""
    by: dict[int, list[int]] = {}
    for r, c in enumerate(chunks):
        if c.chunk_id in chapter_of:
            by.setdefault(chapter_of[c.chunk_id], []).append(r)
    return [np.array(by[k], dtype=int) for k in sorted(by)]


def _chapter_scores(st: PhraseStats, rows: np.ndarray) -> np.ndarray:
    """Per phrase column: TF-IDF summed over the chunks ``rows``, times its quality."""
    return np.asarray(_sparse(st.tfidf)[rows].sum(axis=0)).ravel() * st.quality


def _chapter_candidates(st: PhraseStats, chapter_rows: list[np.ndarray], k: int) -> list[int]:
    """The ``k`` best phrase columns of each chapter, so a short chapter has candidates."""
    out: list[int] = []
    for rows in chapter_rows:
        sc = _chapter_scores(st, rows)
        out += [int(j) for j in np.argsort(-sc, kind="stable")[:k] if sc[j] > 0]
    return out


def _merge_pool(st: PhraseStats, pool: list[int],
                embedder: Embedder | str | None | bool) -> tuple[list[int], dict[int, list[int]]]:
    """Near-duplicate phrases of ``pool`` merged: representatives (pool order) and members.

    A group's representative is its canonical label's column (see ``merge_concepts``).
    """
    if not pool:
        return [], {}
    scores = _phrase_scores(st)
    labels = [st.surface[st.phrases[j]] for j in pool]
    kinds = [concept_kind(st, st.phrases[j]) for j in pool]
    groups = merge_concepts(labels, [float(scores[j]) for j in pool], embedder=embedder,
                            kinds=kinds)
    members: dict[int, list[int]] = {}
    rep_of: dict[int, int] = {}
    for g, name in enumerate(groups.canonical):
        cols = [j for j, k in zip(pool, groups.group, strict=True) if k == g]
        rep = next(j for j in cols if st.surface[st.phrases[j]] == name)
        members[rep] = [rep, *(j for j in cols if j != rep)]
        for j in cols:
            rep_of[j] = rep
    reps = list(dict.fromkeys(rep_of[j] for j in pool))
    return reps, members


def _cover_chapters(chosen: list[int], st: PhraseStats, chapter_rows: list[np.ndarray],
                    members: dict[int, list[int]], reps: list[int], top: int) -> list[int]:
    """``chosen`` changed so every chapter contributes its best concepts.

    Each chapter's best ``per`` representatives (by chapter-local score, merged
    members summed) are kept; at most half the budget is reserved this way, the
    rest keeps ``chosen``'s order.
    """
    if not chapter_rows or not reps:
        return chosen
    per = max(1, min(3, top // (2 * len(chapter_rows))))
    must: list[int] = []
    for rows in chapter_rows:
        sc = _chapter_scores(st, rows)
        group_sc = np.array([sc[members.get(r, [r])].sum() for r in reps])
        best = [reps[i] for i in np.argsort(-group_sc, kind="stable")[:per] if group_sc[i] > 0]
        must += [b for b in best if b not in must]
    must = must[:top]
    room = top - len(must)
    others = [c for c in chosen if c not in must][:max(room, 0)]
    keep = set(must) | set(others)
    return [c for c in chosen if c in keep] + [m for m in must if m not in chosen]


def _cooccurrence(present: list[set[int]], window: int) -> dict[tuple[int, int], float]:
    """(a, b) with a < b -> summed weight: 1 in the same chunk, 1/(1+d) chunks d apart."""
    co: dict[tuple[int, int], float] = {}
    for i in range(len(present)):
        for d in range(0, window + 1):
            if i + d >= len(present):
                break
            w = 1.0 / (1 + d)
            for a in present[i]:
                for b in present[i + d]:
                    if a != b and (d > 0 or a < b):
                        pair = (min(a, b), max(a, b))
                        co[pair] = co.get(pair, 0.0) + w
    return co


def _add_cooccurrence_edges(G: nx.Graph, st: PhraseStats, cols: list[int],
                            co: dict[tuple[int, int], float]) -> None:
    """``cooccurrence`` edges between concepts, weighted relative to the strongest pair."""
    top_co = max(co.values(), default=1.0)
    for (a, b), w in sorted(co.items()):
        G.add_edge(concept_id(st.phrases[cols[a]]), concept_id(st.phrases[cols[b]]),
                   kind="cooccurrence", kinds="cooccurrence", weight=w / top_co,
                   strength=float(w))


def _add_next_edges(G: nx.Graph, chunks: Sequence[Chunk]) -> None:
    """``next`` edges from each chunk to the one following it in time."""
    for a, b in zip(chunks, chunks[1:], strict=False):
        G.add_edge(a.chunk_id, b.chunk_id, kind="next", kinds="next", weight=_NEXT_WEIGHT,
                   from_chunk=a.chunk_id, to_chunk=b.chunk_id,
                   gap_seconds=float(b.start_time - a.end_time))


def _similarity_space(emb: _Embedded, st: PhraseStats | None) -> np.ndarray | None:
    """Rows compared for chunk similarity: the embeddings, else the TF-IDF phrase rows."""
    if emb.chunks is None and st is not None and len(st.phrases):
        return normalize_rows(_sparse(st.tfidf).toarray())
    return emb.chunks


def _add_similarity_edges(G: nx.Graph, chunks: Sequence[Chunk], rows: np.ndarray, k: int,
                          threshold: float) -> None:
    """``similar`` edges between nearest chunks; a ``next`` edge there gains ``|similar``."""
    for (i, j), s in sorted(_similar_pairs(rows, k, threshold).items()):
        u, v = chunks[i].chunk_id, chunks[j].chunk_id
        if G.has_edge(u, v):
            e = G.edges[u, v]
            e["kinds"] = e["kinds"] + "|similar"
            e["similarity"] = s
            e["weight"] = max(float(e["weight"]), s)
        else:
            G.add_edge(u, v, kind="similar", kinds="similar", weight=s, similarity=s)


def build_graph(
    chunks: Sequence[Chunk],
    *,
    chapters: Sequence[Chapter] | None = None,
    embedder: Embedder | str | None = None,
    top_concepts: int = TOP_CONCEPTS.default,
    use_embeddings: bool | None = None,
    chunk_embeddings: np.ndarray | None = None,
    mmr_diversity: float = 0.3,
    k_similar: int = 3,
    similarity_threshold: float | None = None,
    cooccurrence_window: int = 1,
    min_cooccurrence: float = 1.0,
    k_cooccurrence: int = 8,
    ngram_range: tuple[int, int] = (1, 3),
    resolution: float = 1.0,
    betweenness_k: int = 200,
    betweenness_exact_max: int = 600,
    seed: int = 42,
    merge_embedder: Embedder | str | None | bool = False,
    progress: Progress | None = None,
) -> nx.Graph:
    """Build the chunk/concept graph of ``chunks`` (see the module docstring for its shape).

    Concepts are the ``top_concepts`` key phrases by summed n-gram TF-IDF. With
    embeddings they are re-ranked by MMR (relevance to the whole text against
    similarity to concepts already chosen, traded off by ``mmr_diversity`` in [0, 1])
    and chunk similarity is the embedding cosine; without them chunk similarity is the
    TF-IDF cosine of the phrase counts. ``similarity_threshold`` defaults to 0.3 for
    embeddings and 0.1 for TF-IDF (whose cosines run lower). ``use_embeddings=None``
    means: only when ``embedder`` or ``chunk_embeddings`` is given (the bundled MiniLM
    costs about a second per few chunks on a small CPU; TF-IDF costs milliseconds).
    ``embedder=None`` with ``use_embeddings=True`` is the bundled MiniLM (loaded once).

    ``cooccurrence_window``: concepts co-occur in the same chunk (weight 1) or in
    chunks up to this many apart (weight 1/(1+distance)); a pair is kept when its summed
    weight is at least ``min_cooccurrence`` and it is among the ``k_cooccurrence``
    strongest pairs of one of its two concepts. Betweenness is exact up to
    ``betweenness_exact_max`` nodes and sampled from ``betweenness_k`` sources above.

    Near-duplicate concepts ("Ages" and "Middle Ages") become one node (its
    ``merged`` attribute lists the others) by lemma and containment, and by embedding
    similarity with ``merge_embedder`` (True: the bundled MiniLM; False: not at all).
    With chapters, every chapter contributes its best concepts, so short chapters
    are covered.
    """
    top_concepts = _check_arguments(chunks, top_concepts, mmr_diversity, k_similar,
                                    cooccurrence_window)
    prog = ensure_progress(progress)
    prog.update(0, step="Building graph: key phrases")
    chunks = sorted(chunks, key=lambda c: (c.start_time, c.chunk_index))
    texts = [c.text for c in chunks]
    st = phrase_stats(texts, ngram_range) if texts else None
    if use_embeddings is None:
        use_embeddings = embedder is not None or chunk_embeddings is not None
    prog.check_cancelled()

    G = nx.Graph(name="pipeline_kit concept graph", seed=seed, n_chunks=len(chunks))
    _add_chunk_nodes(G, chunks)
    chapter_of = _attach_chapters(G, chunks, chapters)
    chapter_rows = _chapter_rows(chunks, chapter_of)
    pool: list[int] = []
    members: dict[int, list[int]] = {}
    if st is not None:
        pool = list(dict.fromkeys([*_candidate_pool(st, 3 * top_concepts).tolist(),
                                   *_chapter_candidates(st, chapter_rows, 3)]))
        pool, members = _merge_pool(st, pool, merge_embedder)
    emb = _Embedded()
    if use_embeddings and st is not None:
        prog.update(15, step="Building graph: embeddings")
        emb = _embed(st, np.array(pool, dtype=int), texts, embedder, chunk_embeddings)
    G.graph["embedder"] = emb.name
    prog.check_cancelled()
    cols: list[int] = []
    if st is not None:
        cols = _select_concepts(st, top_concepts, mmr_diversity, emb.phrases, emb.doc,
                                np.array(pool, dtype=int))
        cols = _cover_chapters(cols, st, chapter_rows, members, pool, top_concepts)

    prog.update(40, step="Building graph: nodes and edges")
    if st is not None and cols:
        present = _add_concepts(G, st, cols, chunks, chapter_of, members)
        co = _strongest_pairs(_cooccurrence(present, cooccurrence_window), min_cooccurrence,
                              k_cooccurrence)
        _add_cooccurrence_edges(G, st, cols, co)
    prog.check_cancelled()

    _add_next_edges(G, chunks)
    rows = _similarity_space(emb, st)
    if similarity_threshold is None:
        similarity_threshold = 0.3 if emb.name != "tfidf" else 0.1
    if rows is not None and len(chunks) > 1:
        _add_similarity_edges(G, chunks, rows, k_similar, similarity_threshold)
    prog.update(70, step="Building graph: communities and centralities")
    prog.check_cancelled()
    _add_communities(G, seed, resolution)
    _add_centralities(G, seed, betweenness_k, betweenness_exact_max)
    prog.update(100, step="Building graph: done")
    return G
