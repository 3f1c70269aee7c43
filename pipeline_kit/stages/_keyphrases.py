"""Key phrases of texts: spaCy noun chunks and named entities, weighted by TF-IDF.

Shared by the graph, chapters and questions. Each text is parsed with the shared
pipeline (:mod:`pipeline_kit.stages._nlp`). A candidate is a noun chunk or an
entity without determiners, pronouns, possessors, numbers or stop words in front
("thy unused beauty" -> "unused beauty", "the world's fresh ornament" -> "fresh
ornament"), ending on a noun; its key is lower case with the head noun lemmatised
("movable types" -> "movable type", "men" -> "man"). No pronoun, determiner, stop
word or archaic function word (thy, thou, thee, thine, art after thou, doth, hath)
is ever a candidate. Entities keep their type (PERSON, GPE, ORG, DATE, ...).
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline_kit.stages._lexicon import in_dictionary, is_general, is_unit

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

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
# Early-modern function words the English model reads as nouns ("thou" NN, "Thyself" NNP).
ARCHAIC = frozenset("thy thou thee thine thyself ye yea art doth hath dost hast shalt wilt "
                    "canst couldst wouldst shouldst art wert thereof whereof".split())
# Nouns that name nothing, even modified ("ugly ones", "the same thing", "thy sweet self").
_EMPTY = frozenset("""
    one ones thing things stuff way ways lot lots kind kinds sort sorts bit bits self selves
    someone somebody everybody anybody nobody something anything everything nothing whatever
    """.split())
# Nouns too general to name a concept alone ("a matter", "the time", "men").
_VAGUE = _EMPTY | frozenset("""
    matter fact course sense case cases purpose means instance example point points part
    parts side whole middle man men people person time times day days year years week weeks
    month months hour hours minute minutes second seconds moment moments
    number numbers amount amounts total majority rest
    """.split())
# Leading words that qualify a mention without changing what it names ("aforesaid Bible").
_QUALIFIERS = frozenset("of the aforesaid said such same above following foregoing so-called "
                        "whole entire very".split())
# Entity types that name a concept; counts, money, percentages and clock times do not.
CONCEPT_ENTITIES = frozenset("PERSON NORP FAC ORG GPE LOC PRODUCT EVENT WORK_OF_ART LAW "
                             "LANGUAGE DATE".split())
_NOMINAL = frozenset({"NOUN", "PROPN"})
_DROP_POS = frozenset({"DET", "PRON", "NUM", "ADV", "CCONJ", "SCONJ", "PART", "PUNCT", "ADP",
                       "AUX", "INTJ", "SYM", "X", "SPACE"})
_DATE_WORDS = re.compile(r"\d|centur|\bages?\b|\bera\b|" + "|".join(_MONTHS), re.I)
MAX_WORDS = 3  # words of a common-noun phrase kept, nearest its head
MAX_ENTITY_WORDS = 5


@dataclass(frozen=True)
class Candidate:
    """One mention of a phrase: its key, how it is written and what it is."""

    key: str  # lower case, head noun lemmatised ("movable type")
    surface: str  # as written ("movable types")
    initial: bool  # starts a sentence (its capital says nothing)
    entity: str | None  # spaCy entity label, None for a common noun chunk
    start: int  # character offsets in the parsed text
    end: int


@dataclass(frozen=True)
class PhraseStats:
    """Candidate phrases of a set of texts, with counts, TF-IDF and quality factors."""

    phrases: tuple[str, ...]  # phrase keys (see phrase_key), column order of the matrices
    counts: Any  # scipy.sparse csr (texts × phrases) raw counts (scipy has no type stubs)
    tfidf: Any  # scipy.sparse csr (texts × phrases), rows L2-normalised
    quality: np.ndarray  # per phrase multiplicative preference (multiword, proper name)
    surface: dict[str, str]  # lower-case phrase -> how it is best written ("Gutenberg Bible")
    proper: frozenset[str]  # named entities and phrases written capitalised mid-sentence
    variants: dict[str, tuple[str, ...]]  # key -> every written form ("letter", "letters")
    entity_type: dict[str, str] = field(default_factory=dict)  # key -> its usual entity label

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
    if not cap and low.endswith("ly") and len(low) > 4 and low not in ("family", "italy"):
        return False  # adverbs
    return cap or len(low) > 2


def is_content_word(token: str) -> bool:
    """True for a word that may be part of a key phrase (not a stop, number or verb-like word)."""
    return _is_content(token)


def singular(word: str) -> str:
    """A crude singular of an English noun ("letters" -> "letter", "bodies" -> "body")."""
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "'s")):
        return w[:-1]
    return w


def phrase_key(surface: str) -> str:
    """Key of a written phrase without its parse: lower case, last word singular."""
    words = surface.lower().split()
    return " ".join([*words[:-1], singular(words[-1])]) if words else ""


def _dictionary_word(word: str) -> bool:
    """Whether a dictionary knows the word (or its singular): else it is a name,
    whatever position it has in the sentence."""
    return word.lower() in _WEAK or in_dictionary(word, singular(word))


def _archaic(tok: Token) -> bool:
    """An early-modern function word; "art" only as the verb after or before "thou"."""
    low = tok.lower_
    if low != "art":
        return low in ARCHAIC
    doc = tok.doc
    near = [doc[i].lower_ for i in (tok.i - 2, tok.i - 1, tok.i + 1) if 0 <= i < len(doc)]
    return "thou" in near or (tok.i > 0 and doc[tok.i - 1].pos_ in ("PRON", "DET")
                              and doc[tok.i - 1].lower_ in ("that", "who", "which"))


def _bad_word(tok: Token) -> bool:
    """A token that never belongs in a concept: function, archaic or contracted words."""
    t = tok.text
    return (tok.pos_ in _DROP_POS or tok.is_stop or _archaic(tok) or "'" in t or "’" in t
            or not t[:1].isalpha() and t != "-" or tok.lower_ in _NUMBER_WORDS)


def _trim(tokens: list[Token], entity: str | None) -> list[Token]:
    """The phrase's tokens after its last function word, possessor or archaic word."""
    cut = 0
    for i, tok in enumerate(tokens):
        if tok.text == "-" and 0 < i < len(tokens) - 1:
            continue  # "self-substantial": the hyphen joins two words
        if tok.tag_ == "POS" or (_bad_word(tok) and not (entity and tok.lower_ in ("of", "the")
                                                         and i > 0)):
            cut = i + 1
    kept, dropped = tokens[cut:], tokens[:cut]
    inner = {t.i for t in kept[:-1]}
    for t in dropped:  # "forty-two line Bible": a dropped number's head goes too ("Bible")
        if t.pos_ == "NUM" and t.head.i in inner:
            cut = max(cut, t.head.i - tokens[0].i + 1)
    tokens = tokens[cut:]
    while tokens and (tokens[0].text == "-" or tokens[0].lower_ in _QUALIFIERS):
        tokens = tokens[1:]
    limit = MAX_ENTITY_WORDS if entity else MAX_WORDS
    words = [t for t in tokens if t.text != "-"]
    if len(words) > limit:
        cut = tokens.index(words[-limit])
        while 0 < cut < len(tokens) - 1 and tokens[cut].pos_ == "PROPN" and (
                tokens[cut - 1].pos_ == "PROPN"):
            cut += 1  # "(New South) Wales health authorities": no piece of a name
        tokens = tokens[cut:]
    return tokens


def _key(tokens: Sequence[Token]) -> str:
    """Lower-case words, the head noun as its lemma; hyphenated words stay joined."""
    parts: list[str] = []
    for i, tok in enumerate(tokens):
        w = tok.lower_
        if i == len(tokens) - 1:
            w = tok.lemma_.lower() if tok.pos_ == "NOUN" else singular(w)
        if parts and (tok.text == "-" or tokens[i - 1].text == "-"):
            parts[-1] += w
        else:
            parts.append(w)
    return " ".join(parts)


def _surface(tokens: Sequence[Token]) -> str:
    doc = tokens[0].doc
    return doc.text[tokens[0].idx:tokens[-1].idx + len(tokens[-1])]


def _nominal_head(tokens: Sequence[Token], entity: str | None) -> bool:
    """Ends on a noun that is not vague, archaic or a lone short word."""
    head = tokens[-1]
    if head.pos_ not in _NOMINAL and not entity:
        return False
    low = head.lower_
    if _bad_word(head) or low in _EMPTY or low in _MONTHS and not entity:
        return False
    if len(tokens) == 1 and (low in _VAGUE or len(low) < 3 or low in _WEAK
                             or is_unit(head.lemma_)
                             or head.pos_ == "NOUN" and is_general(head.lemma_)):
        return False  # "the time", "cent" (of "per cent"), "metres", "areas": not alone
    return not (entity == "DATE" and not _DATE_WORDS.search(_surface(tokens)))


def _formula(tok: Token) -> bool:
    """A noun standing as a sentence on its own, beside an interjection at most: a
    reply or a formula ("Thanks.", "Alright, thanks."), not something talked about."""
    words = [t for t in tok.sent if not t.is_punct and t.dep_ != "intj"]
    return tok.dep_ == "ROOT" and words == [tok]


def _candidate(tokens: list[Token], entity: str | None) -> Candidate | None:
    tokens = _trim(tokens, entity)
    if not tokens or not _nominal_head(tokens, entity):
        return None
    if len(tokens) == 1 and not entity and _formula(tokens[0]):
        return None
    if any(a.lower_ == b.lower_ for a, b in itertools.pairwise(tokens)):
        return None  # "the view view": a speaker's repeat, not a name
    if not entity and any(t.pos_ not in ("ADJ", "NOUN", "PROPN", "VERB") and t.text != "-"
                          for t in tokens):
        return None
    first = tokens[0]
    return Candidate(_key(tokens), _surface(tokens), bool(first.is_sent_start), entity,
                     first.idx, tokens[-1].idx + len(tokens[-1]))


def doc_candidates(doc: Doc) -> list[Candidate]:
    """Concept mentions of a parsed text, in order: noun chunks, the entities in them, and
    a modified common noun's head alone ("beautiful letters" also counts as "letter")."""
    ents: dict[tuple[int, int], str] = {(e.start, e.end): e.label_ for e in doc.ents
                                        if e.label_ in CONCEPT_ENTITIES}
    spans: list[tuple[Span | list[Token], str | None]] = []
    seen: set[tuple[int, int]] = set()
    chunk_of: dict[int, tuple[int, int]] = {}  # token index -> its noun chunk
    for nc in doc.noun_chunks:
        label = next((lab for (a, b), lab in ents.items() if a <= nc.start < b
                      or a < nc.end <= b), None)
        spans.append((nc, label if label and nc.root.pos_ == "PROPN" else None))
        seen.add((nc.start, nc.end))
        chunk_of.update(dict.fromkeys(range(nc.start, nc.end), (nc.start, nc.end)))
    spans += [(doc[a:b], lab) for (a, b), lab in ents.items() if (a, b) not in seen
              and not _cut_name(doc, a, b, chunk_of)]
    out: dict[tuple[int, int], Candidate] = {}
    for span, label in spans:
        c = _candidate(list(span), label)
        if c is None:
            continue
        out.setdefault((c.start, c.end), c)
        head = span[-1]  # trimming only drops words in front of the head
        if label is None and " " in c.key and head.pos_ == "NOUN":
            h = _candidate([head], None)
            if h is not None:
                out.setdefault((h.start, h.end), h)
    for c in _of_phrases(doc):
        out.setdefault((c.start, c.end), c)
    return sorted(out.values(), key=lambda c: (c.start, -c.end))


def _cut_name(doc: Doc, start: int, end: int, chunk_of: dict[int, tuple[int, int]]) -> bool:
    """Whether an entity stops inside a noun chunk, before a proper noun of it: the
    recognizer cut a name ("Guides Simon" | "Wiget")."""
    return (end < len(doc) and chunk_of.get(end - 1) is not None
            and chunk_of.get(end - 1) == chunk_of.get(end) and doc[end].pos_ == "PROPN")


def _of_phrases(doc: Doc) -> Iterable[Candidate]:
    """"X of Y" for bare common nouns X and Y on either side of "of" ("art of printing")."""
    for prep in doc[1:-1]:
        head, obj = doc[prep.i - 1], doc[prep.i + 1]
        if (prep.lower_ != "of" or prep.dep_ != "prep" or prep.head.i != head.i
                or obj.head.i != prep.i or obj.dep_ != "pobj"):
            continue
        if head.pos_ != "NOUN" or head.lower_ in _VAGUE or _bad_word(head):
            continue
        if obj.pos_ != "NOUN" or not _nominal_head([obj], None):
            continue
        key = f"{head.lemma_.lower()} of {_key([obj])}"
        yield Candidate(key, _surface([head, obj]), bool(head.is_sent_start), None, head.idx,
                        obj.idx + len(obj))


_PARSED: OrderedDict[str, Doc] = OrderedDict()  # text -> parse, most recent last
_PARSED_MAX = 4096  # texts kept: the graph and the questions parse the same chunks
_parsed_lock = threading.Lock()


def parse_texts(texts: Sequence[str]) -> list[Doc]:
    """The texts parsed by the shared pipeline, in one batch for those not parsed lately.

    Stand-in until the transcript's parse is cached with its artifacts: within one
    process the graph, chapter and question stages parse each chunk text once.
    """
    from pipeline_kit.stages._nlp import nlp

    with _parsed_lock:
        todo = list(dict.fromkeys(t for t in texts if t not in _PARSED))
    fresh = dict(zip(todo, nlp().pipe(todo, batch_size=32), strict=True))
    with _parsed_lock:
        out = [fresh[t] if t in fresh else _PARSED[t] for t in texts]
        for t, d in zip(texts, out, strict=True):
            _PARSED[t] = d
            _PARSED.move_to_end(t)
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return out


def candidates(text: str, max_words: int = MAX_WORDS) -> list[tuple[str, str, bool]]:
    """Candidate phrases of ``text`` as (key, as written, sentence-initial)."""
    from pipeline_kit.stages._nlp import parse

    return [(c.key, c.surface, c.initial) for c in doc_candidates(parse(text))
            if c.entity or len(c.key.split()) <= max_words]


def _quality(phrase: str, is_proper: bool) -> float:
    """Preference for multiword phrases and names over single, short common nouns."""
    words = [w for w in phrase.split() if w != "of"]
    q = {1: 1.0, 2: 1.4}.get(len(words), 1.55)
    if is_proper:
        q *= 1.3
    elif len(words) == 1 and len(words[0]) <= 3:
        q *= 0.7
    return q


def phrase_stats(
    texts: Sequence[str], ngram_range: tuple[int, int] = (1, 3), min_df: int = 1,
    docs: Iterable[Doc] | None = None,
) -> PhraseStats:
    """Count candidate phrases in every text and weight them by TF-IDF (sublinear tf).

    Written forms with one key ("letter", "letters") are counted together. A key is a
    proper name when it is a named entity or its words are mostly capitalised where no
    sentence starts. ``docs``: the texts already parsed (else they are parsed here).
    ``ngram_range`` bounds the words of a common-noun phrase; entities may be longer.
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    lo, hi = ngram_range
    if lo < 1 or hi < lo:
        raise ValueError(f"ngram_range must be (lo, hi) with 1 <= lo <= hi, got {ngram_range}")
    written: dict[str, Counter[str]] = defaultdict(Counter)
    inside: dict[str, Counter[str]] = defaultdict(Counter)  # forms seen mid-sentence
    labels: dict[str, Counter[str]] = defaultdict(Counter)
    rows: list[list[str]] = []
    for doc in (docs if docs is not None else parse_texts(texts)):
        row = []
        for c in doc_candidates(doc):
            n = len(c.key.split())
            if n < lo or (n > hi and not c.entity):
                continue
            row.append(c.key)
            written[c.key][c.surface] += 1
            if c.entity:
                labels[c.key][c.entity] += 1
            if not c.initial:
                inside[c.key][c.surface] += 1
        rows.append(row)
    if len(rows) != len(texts):
        raise ValueError(f"{len(rows)} parsed docs for {len(texts)} texts")
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
        else:  # only ever seen at a sentence start: lower-case a dictionary word's capital
            best = forms.most_common(1)[0][0]
            if key not in labels and _dictionary_word(best.split()[0]):
                best = best[0].lower() + best[1:]  # else a name: "Hayden scored 131"
        surface[key] = best
    entity_type = {k: lab.most_common(1)[0][0] for k, lab in labels.items()
                   if sum(lab.values()) * 2 >= sum(written[k].values())}
    proper |= set(entity_type)
    variants = {k: tuple(sorted(f.keys())) for k, f in written.items()}
    vec = CountVectorizer(analyzer=lambda d: d, min_df=min_df, lowercase=False)
    try:
        counts = vec.fit_transform(rows).tocsr()
    except ValueError:  # no candidate at all
        empty = sparse.csr_matrix((len(texts), 0))
        return PhraseStats((), empty, empty, np.zeros(0), {}, frozenset(), {})
    phrases = tuple(str(p) for p in vec.get_feature_names_out())
    tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(counts).tocsr()
    quality = np.array([_quality(p, p in proper) for p in phrases], dtype=float)
    return PhraseStats(phrases, counts, tfidf, quality, surface, frozenset(proper), variants,
                       entity_type)


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
