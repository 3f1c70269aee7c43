"""Group near-duplicate concept labels: one concept for "Ages" and "Middle Ages".

Used by the concept graph (one recording) and by the collection (across recordings).
Three tests, applied in order, join labels into groups (union-find):

1. **lemma**: the same words once lower-cased and singular ("Printers", "printer");
2. **containment**: a label that is the tail of a longer label's head noun phrase
   ("Ages" in "Middle Ages", "Gutenberg Bible" in "aforesaid Gutenberg Bible"), when
   every longer label it is the tail of lies in one group, or one of those groups
   weighs at least twice any other (so "War" stays apart from an equally weighted
   "Civil War" and "World War");
3. **embedding**: MiniLM cosine of the labels at least ``similarity`` (0.88 keeps
   "elections"/"election" and "childhood obesity"/"obesity in children" together
   and "printing"/"printing press" (0.82) or "car"/"automobile" (0.87) apart).

With ``kinds`` (per label its part of speech or entity type, e.g. "NOUN", "PERSON",
"DATE"), no test joins two labels of different kinds: "arts" the noun never joins
"art" the verb, a date never joins a person.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline_kit.stages._embeddings import Embedder, encode_cached, get_embedder, normalize_rows
from pipeline_kit.stages._keyphrases import singular

SIMILARITY = 0.88
# Words that qualify a mention without changing what it names.
_FILLERS = frozenset("aforesaid said such same above following foregoing so-called whole "
                     "entire very the a an this that these those".split())
_PREPOSITIONS = frozenset("of in on at for from with by about to into over under".split())
_WORD_RE = re.compile(r"[\w'’-]+")


def lemma_key(label: str) -> str:
    """Lower-case words, each singular, without leading fillers ("The Printers" -> "printer")."""
    words = [singular(w) if w not in _PREPOSITIONS else w
             for w in _WORD_RE.findall(label.lower())]
    while len(words) > 1 and words[0] in _FILLERS:
        words = words[1:]
    return " ".join(words)


def _head(key: str) -> tuple[str, ...]:
    """The words before the first preposition: "art of printing" -> ("art",)."""
    out: list[str] = []
    for w in key.split():
        if w in _PREPOSITIONS:
            break
        out.append(w)
    return tuple(out)


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass(frozen=True)
class ConceptGroups:
    """Which group each label fell into, and each group's canonical label."""

    labels: tuple[str, ...]
    group: tuple[int, ...]  # per label: its group number (0 = the group of the first label)
    canonical: tuple[str, ...]  # per group: the label that names it

    def members(self, g: int) -> list[str]:
        return [lab for lab, k in zip(self.labels, self.group, strict=True) if k == g]

    def mapping(self) -> dict[str, str]:
        """label -> canonical label of its group."""
        return {lab: self.canonical[k] for lab, k in zip(self.labels, self.group, strict=True)}


def _join_lemmas(keys: list[str], kinds: Sequence[str], u: _Union) -> None:
    first: dict[tuple[str, str], int] = {}
    for i, k in enumerate(keys):
        if (k, kinds[i]) in first:
            u.join(first[(k, kinds[i])], i)
        else:
            first[(k, kinds[i])] = i


def _join_contained(keys: list[str], weights: Sequence[float], kinds: Sequence[str],
                    u: _Union) -> None:
    """Join each label to the longer labels whose head ends with it, when unambiguous:
    they all lie in one group, or one group weighs at least twice any other."""
    heads = [_head(k) for k in keys]
    order = sorted(range(len(keys)), key=lambda i: -len(keys[i].split()))
    for i in order:
        words = tuple(keys[i].split())
        if not words or words != heads[i]:
            continue  # "art of printing" is never the tail of another phrase
        parents = [j for j in range(len(keys)) if kinds[j] == kinds[i]
                   and len(heads[j]) > len(words) and heads[j][-len(words):] == words]
        weight: dict[int, float] = {}
        for j in parents:
            weight[u.find(j)] = weight.get(u.find(j), 0.0) + weights[j]
        ranked = sorted(weight.values(), reverse=True)
        if ranked and (len(ranked) == 1 or ranked[0] >= 2 * ranked[1]):
            u.join(i, max(weight, key=lambda g: weight[g]))


def _join_similar(labels: Sequence[str], kinds: Sequence[str], u: _Union,
                  embedder: Embedder | str | None, similarity: float) -> None:
    model = get_embedder(embedder)
    emb = normalize_rows(encode_cached(model, list(labels)))
    sims = emb @ emb.T
    rows, cols = np.nonzero(np.triu(sims >= similarity, k=1))
    for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
        if kinds[a] == kinds[b]:
            u.join(a, b)


def _canonical(members: list[int], labels: Sequence[str], weights: Sequence[float]) -> str:
    """The heaviest label that starts with no filler word, preferring two words or more."""
    def rank(i: int) -> tuple[bool, bool, float, int, str]:
        words = labels[i].lower().split()
        return (words[0] not in _FILLERS if words else False, len(words) > 1, weights[i],
                -len(labels[i]), labels[i])

    return labels[max(members, key=rank)]


def merge_concepts(labels: Sequence[str], weights: Sequence[float] | None = None, *,
                   embedder: Embedder | str | None | bool = None,
                   similarity: float = SIMILARITY,
                   kinds: Sequence[str] | None = None) -> ConceptGroups:
    """Group near-duplicate ``labels`` by lemma, containment and embedding similarity.

    ``weights`` (e.g. mention counts) choose each group's canonical label; ``kinds``
    (part of speech or entity type per label) keep labels of different kinds apart.
    ``embedder=False`` skips the embedding test; None is the bundled MiniLM.
    """
    if not 0.0 < similarity <= 1.0:
        raise ValueError(f"similarity must be in (0, 1], got {similarity}")
    labels = [str(x) for x in labels]
    w = [1.0] * len(labels) if weights is None else [float(x) for x in weights]
    if len(w) != len(labels):
        raise ValueError(f"{len(w)} weights for {len(labels)} labels")
    kind = [""] * len(labels) if kinds is None else [str(k) for k in kinds]
    if len(kind) != len(labels):
        raise ValueError(f"{len(kind)} kinds for {len(labels)} labels")
    keys = [lemma_key(x) for x in labels]
    u = _Union(len(labels))
    _join_lemmas(keys, kind, u)
    _join_contained(keys, w, kind, u)
    if embedder is not False and len(labels) > 1:
        _join_similar(labels, kind, u, None if embedder is True else embedder, similarity)
    roots: dict[int, int] = {}
    group = [roots.setdefault(u.find(i), len(roots)) for i in range(len(labels))]
    canonical = tuple(_canonical([i for i, g in enumerate(group) if g == k], labels, w)
                      for k in range(len(roots)))
    return ConceptGroups(tuple(labels), tuple(group), canonical)
