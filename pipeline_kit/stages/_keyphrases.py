"""Key phrases of texts from scikit-learn n-gram TF-IDF (shared by graph, chapters, questions).

Candidates are runs of content words between stop words and punctuation (so a
phrase never spans "century may justly"), plus "X of Y" phrases such as "art of
printing". Each candidate gets a quality factor: multiword noun-like phrases and
proper names ("Gutenberg Bible") are preferred, verb- and adverb-like single words
("had", "closely") are dropped. No NLTK data or online model is needed.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred thousand million billion first second third fourth fifth sixth "
    "seventh eighth ninth tenth twelfth half dozen".split()
)
NUMBER_WORDS = _NUMBER_WORDS  # public: chapters read spoken section numbers with it
# Common verbs (all forms), modals, adverbs and vague nouns that are never concepts.
_WEAK = frozenset(
    """
    a about above across after again against all almost alone along already also although
    always am among amongst an and another any anyhow anyone anything anyway anywhere are
    around as at be became because become becomes becoming been before beforehand behind
    being below beside besides between beyond both but by can cannot could do does did
    done doing down due during each either else elsewhere enough etc even ever every
    everyone everything everywhere except few for former formerly from further had has
    have having he hence her here hers herself him himself his how however i ie if in
    indeed into is it its itself just last latter least less many may me meanwhile might
    mine more moreover most mostly much must my myself namely neither never nevertheless
    next no nobody none noone nor not nothing now nowhere of off often on once only onto
    or other others otherwise our ours ourselves out over own per perhaps quite rather re
    same several she should since so some somehow someone something sometime sometimes
    somewhere still such than that the their theirs them themselves then thence there
    thereafter thereby therefore therein thereupon these they this those though through
    throughout thru thus to together too toward towards under until up upon us very via
    was we well were what whatever when whence whenever where whereas whereby wherein
    whether which while whither who whoever whom whose why will with within without would
    yet you your yours yourself yourselves ought shall let lets like unlike among
    near beside inside outside past amid beneath whilst unless upon onto according
    oh yes yeah okay ok mr mrs ms dr st jr sr vs worth sooner rather
    say says said saying tell tells told telling ask asks asked go goes went gone going
    get gets got gotten getting make makes made making take takes took taken taking
    come comes came coming give gives gave given giving know knows knew known think
    thinks thought see sees saw seen seem seems seemed look looks looked want wants wanted
    use uses used using find finds found put puts keep keeps kept let begin began begun
    show shows showed shown call calls called try tries tried feel feels felt become leave
    left bring brings brought hold holds held stand stood hear heard mean means meant set
    meet met run ran pay paid sit sat speak spoke lie lay lead led read grow grew lose
    lost fall fell send sent build built understand understood draw drew break broke
    spend spent cut rise rose drive drove buy bought wear wore choose chose seek sought
    throw threw catch caught deal dealt win won follow follows followed need needs needed
    consider considered regard regarded obtain obtained become remain remained
    really actually certainly especially principally particularly generally usually simply
    merely nearly hardly closely quickly slowly fully completely entirely justly exactly
    already soon later earlier ago today tomorrow yesterday tonight
    thing things stuff way ways lot lots kind kinds sort sorts matter fact course sense
    case cases purpose means instance example point points part parts side whole
    one ones someone somebody everybody anybody nobody man men people person
    time times day days year years week weeks month months hour hours minute minutes
    able various certain sure true new old good great little big large small long short
    high low early late much many mere own such else great greater greatest best better
    """.split()
) | _NUMBER_WORDS
_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)
_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]|[0-9][0-9.,:]*|[^\sA-Za-z0-9]")
_SENT_END = frozenset(".!?;:")
_ADJ_SUFFIXES = ("ous", "ful", "ive", "able", "ible", "less", "ical", "ish")
# Adjectives that may modify a noun ("fine typography") but are no concept alone.
_ADJECTIVES = frozenset(
    "fine ugly worth beautiful pretty nice bad poor rich easy hard free open full real main "
    "clear close common special simple strong possible likely important different similar "
    "present modern ancient formal exact whole natural early far near recent major minor "
    "general final total best worst higher lower wide broad deep dark light young".split()
)
_LY_NOUNS = frozenset("family assembly supply italy july reply ally monopoly anomaly rally "
                      "butterfly jelly belly holly lily bully melancholy".split())


@dataclass(frozen=True)
class PhraseStats:
    """Candidate phrases of a set of texts, with counts, TF-IDF and quality factors."""

    phrases: tuple[str, ...]  # phrase keys (see phrase_key), column order of the matrices
    counts: Any  # scipy.sparse csr (texts × phrases) raw counts (scipy has no type stubs)
    tfidf: Any  # scipy.sparse csr (texts × phrases), rows L2-normalised
    quality: np.ndarray  # per phrase multiplicative preference (multiword, proper name)
    surface: dict[str, str]  # lower-case phrase -> how it is best written ("Gutenberg Bible")
    proper: frozenset[str]  # phrases written capitalised mid-sentence
    variants: dict[str, tuple[str, ...]]  # key -> every written form ("letter", "letters")

    @property
    def document_frequency(self) -> np.ndarray:
        return np.asarray((self.counts > 0).sum(axis=0)).ravel()


def _is_content(tok: str) -> bool:
    low = tok.lower()
    if len(low) < 2 or not low[0].isalpha() or low in _WEAK or low in _MONTHS:
        return False
    parts = [p for p in low.replace("’", "'").split("-") if p]
    if all(p in _NUMBER_WORDS for p in parts):  # "forty-two", "fifty-five"
        return False
    if "'" in low:  # contractions and possessive forms: "don't", "printer's"
        return False
    cap = tok[0].isupper()
    if not cap and low.endswith("ly") and len(low) > 4 and low not in _LY_NOUNS:
        return False  # adverbs
    return cap or len(low) > 2


def is_content_word(token: str) -> bool:
    """True for a word that may be part of a key phrase (not a stop, number or verb-like word)."""
    return _is_content(token)


def _tokens(text: str) -> list[tuple[str, bool, bool]]:
    """(token, is_content, sentence_initial) for each token; punctuation is a boundary."""
    out: list[tuple[str, bool, bool]] = []
    initial = True
    for m in _TOKEN_RE.finditer(text):
        tok = m.group(0)
        if not tok[0].isalpha():
            out.append((tok, False, False))
            if tok in _SENT_END or tok.endswith((".", "!", "?")):
                initial = True
            continue
        out.append((tok, _is_content(tok), initial))
        initial = False
    return out


def _ok_phrase(words: Sequence[str]) -> bool:
    """A phrase should end in a noun-like word: no -ed / -ing / adjective-like last word."""
    if not words:
        return False
    last = words[-1]
    if last[0].isupper():
        return True
    low = last.lower()
    if low in _ADJECTIVES or (low.endswith("est") and len(low) > 5):
        return False
    if low.endswith("ed") and len(words) == 1:
        return False
    if len(words) > 1 and low.endswith(("ed", "ing", *_ADJ_SUFFIXES)):
        return False
    return True


def singular(word: str) -> str:
    """A crude singular of an English noun ("letters" -> "letter", "bodies" -> "body")."""
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "'s")):
        return w[:-1]
    return w


def phrase_key(surface: str) -> str:
    """Key under which written forms of a phrase are merged: lower case, last word singular."""
    words = surface.lower().split()
    return " ".join([*words[:-1], singular(words[-1])]) if words else ""


def candidates(text: str, max_words: int = 3) -> list[tuple[str, str, bool]]:
    """Candidate phrases of ``text`` as (key, as written, sentence-initial).

    N-grams of 1..``max_words`` content words inside each run of content words, and
    "X of Y" phrases where a run's last word and the whole next run are joined by "of"
    ("art of printing", "forms of printed letters").
    """
    toks = _tokens(text)
    runs: list[tuple[int, int]] = []  # token index ranges of content runs
    i = 0
    while i < len(toks):
        if toks[i][1]:
            j = i
            while j < len(toks) and toks[j][1]:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    out: list[tuple[str, str, bool]] = []
    for r, (a, b) in enumerate(runs):
        words = [t[0] for t in toks[a:b]]
        cap = [w[0].isupper() for w in words]
        for n in range(1, max_words + 1):
            for k in range(len(words) - n + 1):
                gram = words[k : k + n]
                if all(cap[k : k + n]):  # part of a name: the whole name or its last word
                    ends = k + n == len(words) or not cap[k + n]
                    starts = k == 0 or not cap[k - 1]
                    if not ends or not (starts or n == 1):
                        continue
                if _ok_phrase(gram):
                    surface = " ".join(gram)
                    out.append((phrase_key(surface), surface, toks[a + k][2]))
        if r + 1 < len(runs) and runs[r + 1][0] == b + 1 and toks[b][0].lower() == "of":
            c, d = runs[r + 1]
            tail = [t[0] for t in toks[c:d]]
            if 1 + len(tail) <= max_words and _ok_phrase(tail) and words[-1][0].islower():
                surface = " ".join([words[-1], toks[b][0], *tail])
                out.append((phrase_key(surface), surface, toks[b - 1][2] and len(words) == 1))
    return out


def _quality(phrase: str, is_proper: bool) -> float:
    words = [w for w in phrase.split() if w != "of"]
    q = {1: 1.0, 2: 1.4}.get(len(words), 1.55)
    if is_proper:
        q *= 1.3
    elif len(words) == 1:
        w = words[0]
        if w.endswith(_ADJ_SUFFIXES) or w.endswith("al"):
            q *= 0.5
        if w.endswith("ing"):
            q *= 0.8
        if len(w) <= 3:
            q *= 0.7
    return q


def phrase_stats(
    texts: Sequence[str], ngram_range: tuple[int, int] = (1, 3), min_df: int = 1
) -> PhraseStats:
    """Count candidate phrases in every text and weight them by TF-IDF (sublinear tf).

    Written forms that differ only in case or a plural last word share one key; a
    key is a proper name when its words are mostly capitalised where no sentence
    starts ("Gutenberg Bible", "Middle Ages").
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    lo, hi = ngram_range
    if lo < 1 or hi < lo:
        raise ValueError(f"ngram_range must be (lo, hi) with 1 <= lo <= hi, got {ngram_range}")
    written: dict[str, Counter[str]] = defaultdict(Counter)
    inside: dict[str, Counter[str]] = defaultdict(Counter)  # forms seen mid-sentence
    docs: list[list[str]] = []
    for text in texts:
        doc = []
        for key, form, initial in candidates(text, max_words=hi):
            if len([w for w in key.split() if w != "of"]) < lo:
                continue
            doc.append(key)
            written[key][form] += 1
            if not initial:
                inside[key][form] += 1
        docs.append(doc)
    surface: dict[str, str] = {}
    proper: set[str] = set()
    for key, forms in written.items():
        mid = inside.get(key)
        if mid:
            capital = {f for f in mid if all(w[0].isupper() for w in f.split() if w != "of")}
            if sum(mid[f] for f in capital) * 2 >= sum(mid.values()):
                proper.add(key)
                best = mid.most_common(1)[0][0]
            else:  # a common noun: prefer a form not written as a name
                best = max(mid, key=lambda f: (f not in capital, mid[f], f))
        else:  # only ever seen at a sentence start: lower-case its first letter
            best = forms.most_common(1)[0][0]
            best = best[0].lower() + best[1:]
        surface[key] = best
    variants = {k: tuple(sorted(f.keys())) for k, f in written.items()}
    vec = CountVectorizer(analyzer=lambda d: d, min_df=min_df, lowercase=False)
    try:
        counts = vec.fit_transform(docs).tocsr()
    except ValueError:  # no candidate at all
        empty = sparse.csr_matrix((len(texts), 0))
        return PhraseStats((), empty, empty, np.zeros(0), {}, frozenset(), {})
    phrases = tuple(str(p) for p in vec.get_feature_names_out())
    tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(counts).tocsr()
    quality = np.array([_quality(p, p in proper) for p in phrases], dtype=float)
    return PhraseStats(phrases, counts, tfidf, quality, surface, frozenset(proper), variants)


def _pick(row_scores: list[tuple[str, float]], top_n: int) -> list[tuple[str, float]]:
    """Best first, dropping a phrase contained in a better one already chosen."""
    chosen: list[tuple[str, float]] = []
    for phrase, score in row_scores:
        padded = f" {phrase} "
        if any(padded in f" {c} " or f" {c} " in padded for c, _ in chosen):
            continue
        chosen.append((phrase, score))
        if len(chosen) >= top_n:
            break
    return chosen


def key_phrases(
    texts: Sequence[str],
    top_n: int = 5,
    ngram_range: tuple[int, int] = (1, 3),
    min_df: int = 1,
) -> list[list[tuple[str, float]]]:
    """For each text, its ``top_n`` phrases by TF-IDF × quality over ``texts``, best first.

    Phrases are written as in the text for proper names ("Gutenberg Bible") and in
    lower case otherwise. A phrase overlapping a better one of the same text as whole
    words is dropped, so "john dashwood" does not also yield "dashwood".
    """
    if top_n < 1:
        raise ValueError(f"top_n must be at least 1, got {top_n}")
    if not texts:
        return []
    st = phrase_stats(texts, ngram_range, min_df)
    out: list[list[tuple[str, float]]] = []
    for i in range(len(texts)):
        row = st.tfidf.getrow(i)
        scores = row.data * st.quality[row.indices]
        order = np.lexsort((row.indices, -scores))
        ranked = [(st.surface[st.phrases[row.indices[j]]], float(scores[j])) for j in order]
        out.append(_pick(ranked, top_n))
    return out


def document_key_phrases(
    texts: Sequence[str],
    top_n: int = 20,
    ngram_range: tuple[int, int] = (1, 3),
    min_df: int = 1,
    stats: PhraseStats | None = None,
) -> list[tuple[str, float]]:
    """The ``top_n`` phrases of ``texts`` taken together (summed TF-IDF × quality), best first."""
    if top_n < 1:
        raise ValueError(f"top_n must be at least 1, got {top_n}")
    st = stats if stats is not None else phrase_stats(texts, ngram_range, min_df)
    if not st.phrases:
        return []
    scores = np.asarray(st.tfidf.sum(axis=0)).ravel() * st.quality
    order = np.lexsort((np.arange(len(scores)), -scores))
    return _pick([(st.surface[st.phrases[j]], float(scores[j])) for j in order], top_n)
