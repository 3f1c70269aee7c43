"""Key phrases of texts from scikit-learn n-gram TF-IDF (shared by graph, chapters, questions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Phrases that begin or end with these are rarely concepts.
_EDGE_STOP = frozenset(
    "a an the and or but of to in on at by for with from as is was were be been are it its "
    "this that these those he she they we you i his her their our your my me him them us "
    "said says say very much many more most some any all no not so then than there here".split()
)


def _is_phrase(p: str) -> bool:
    toks = p.split()
    return (
        bool(toks)
        and toks[0] not in _EDGE_STOP
        and toks[-1] not in _EDGE_STOP
        and not any(t.isdigit() for t in toks)
        and all(len(t) > 1 for t in toks)
    )


def key_phrases(
    texts: Sequence[str],
    top_n: int = 5,
    ngram_range: tuple[int, int] = (1, 3),
    min_df: int = 1,
) -> list[list[tuple[str, float]]]:
    """For each text, its ``top_n`` phrases by TF-IDF over ``texts``, best first.

    A phrase contained in a better-scoring phrase of the same text is dropped, so
    "john dashwood" does not also yield "dashwood".
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    if top_n < 1:
        raise ValueError(f"top_n must be at least 1, got {top_n}")
    if not texts:
        return []
    vec = TfidfVectorizer(ngram_range=ngram_range, min_df=min_df, sublinear_tf=True,
                          token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z'-]+\b")
    try:
        x = vec.fit_transform(texts)
    except ValueError:
        return [[] for _ in texts]
    vocab = np.asarray(vec.get_feature_names_out())
    keep = np.fromiter((_is_phrase(p) for p in vocab), dtype=bool, count=len(vocab))
    out: list[list[tuple[str, float]]] = []
    for i in range(x.shape[0]):
        row = x.getrow(i)
        order = np.argsort(-row.data, kind="stable")
        chosen: list[tuple[str, float]] = []
        for j in order:
            col = row.indices[j]
            if not keep[col]:
                continue
            phrase = str(vocab[col])
            if any(phrase in c for c, _ in chosen):
                continue
            chosen = [(c, s) for c, s in chosen if c not in phrase or len(c) >= len(phrase)]
            chosen.append((phrase, float(row.data[j])))
            if len(chosen) >= top_n:
                break
        out.append(chosen)
    return out
