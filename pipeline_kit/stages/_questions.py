"""Questions about a transcript: wh-, cloze and clarifying questions, plus user hooks.

Wh- and cloze items come from each sentence's dependency parse (see
:mod:`pipeline_kit.stages._question_parse`): the answer is a noun chunk or entity of
the main clause, its type picks the wh-word, and the question keeps the main clause
only. A sentence that gives no wh-question may give a cloze item (at most 25 words);
cloze items are at most a third of the set (one when no sentence gives a wh-question).
Each item keeps its sentence's time range (words placed evenly over the chunk) and its
text as ``context``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from pipeline_kit.base._params import Param
from pipeline_kit.base._progress import Progress, ensure_progress
from pipeline_kit.stages._keyphrases import is_content_word, phrase_stats
from pipeline_kit.stages._sentences import ends_sentence, split_sentences
from pipeline_kit.stages._types import Chapter, Chunk, Question

MAX_QUESTIONS = Param("max_questions", int, None, "most questions kept (None: all)",
                      minimum=0, maximum=100_000, optional=True)

_UNITS = "one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_TENS_RE, _UNITS_RE, _TEENS_RE = ("|".join(x) for x in (_TENS, _UNITS, _TEENS))
_ORDINAL = (r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|"
            r"twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|"
            r"nineteenth|twentieth|twenty-first)")

AUX = frozenset("was were is are has have had will would can could may might should must "
                "did does do shall".split())
_IRREGULAR = {
    "began": "begin", "brought": "bring", "built": "build", "bought": "buy", "came": "come",
    "caught": "catch", "chose": "choose", "did": "do", "drew": "draw", "drove": "drive",
    "fell": "fall", "felt": "feel", "found": "find", "fought": "fight", "gave": "give",
    "got": "get", "grew": "grow", "had": "have", "held": "hold", "kept": "keep",
    "knew": "know", "led": "lead", "left": "leave", "lost": "lose", "made": "make",
    "meant": "mean", "met": "meet", "paid": "pay", "ran": "run", "rode": "ride", "rose": "rise",
    "said": "say", "sat": "sit", "saw": "see", "sent": "send", "set": "set", "shot": "shoot",
    "sold": "sell", "spent": "spend", "spoke": "speak", "stood": "stand", "stole": "steal",
    "swore": "swear", "taught": "teach", "thought": "think", "threw": "throw", "told": "tell",
    "took": "take", "understood": "understand", "went": "go", "won": "win", "wrote": "write",
    "became": "become", "broke": "break", "forgot": "forget", "hit": "hit", "put": "put",
    "read": "read", "saw fit": "see fit", "struck": "strike", "wore": "wear", "woke": "wake",
}
_NOT_VERB_ED = frozenset("bed red need seed speed feed shed hundred indeed creed breed greed "
                         "deed weed sacred kindred naked wicked ragged rugged".split())
_DETERMINERS = frozenset("the a an this that these those his her their its our my your some "
                         "many several".split())


@dataclass(frozen=True)
class Span:
    """A sentence of a chunk: ``text`` is ``chunk.text[start:end]``."""

    text: str
    start: int
    end: int
    complete: bool  # starts like a sentence and ends with final punctuation


def sentence_spans(text: str, max_words: int = 80) -> list[Span]:
    """Sentences of ``text`` with character offsets (exact substrings of ``text``)."""
    toks = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    out: list[Span] = []
    for s in split_sentences(text, max_words=max_words):
        a, b = toks[s.start_word][0], toks[s.end_word - 1][1]
        body = text[a:b]
        first = body.lstrip("\"'“‘(`")[:1]
        complete = bool(first) and (first.isupper() or first.isdigit()) and bool(
            re.search(r"[.!?][\"'”’)]*$", body))
        out.append(Span(body, a, b, complete))
    return out


def lemma(verb: str) -> str | None:
    """Base form of a past-tense verb ("began" -> "begin", "printed" -> "print"), or None."""
    w = verb.lower()
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if not w.endswith("ed") or len(w) < 5 or w in _NOT_VERB_ED or not w.isalpha():
        return None
    if w.endswith("ied"):
        return w[:-3] + "y"
    base = w[:-2]
    if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsfz":
        return base[:-1]  # stopped -> stop
    if base.endswith(("c", "v", "z", "u", "at", "iz", "is", "ag", "eg", "g")) and not \
            base.endswith(("eat", "oat", "ng")):
        return base + "e"  # produced, engraved, created, used
    if re.search(r"[^aeiou][uo][dkst]$", base) and len(base) <= 7:
        return base + "e"  # concluded, invoked, closed
    if base.endswith(("l", "r")) and len(base) > 2 and base[-2] not in "aeiour":
        return base + "e"  # settled
    return base


def _words(s: str) -> list[str]:
    return s.split()


_PREPS = frozenset("of in on at by for with from to into during near about than as".split())
_DANGLING = _PREPS | _DETERMINERS | frozenset("and or but not only also very".split())


# --------------------------------------------------------------------------- generation

class QuestionGeneratorError(ValueError):
    """A user-supplied generator returned something that is not a valid question."""


_OPTIONS = {
    "builtin": True,  # run the built-in generators
    "clarifying": True,
    "cloze": True,
    "wh": True,
    "relation": False,  # "How are X and Y related?": shallow (issue 18), opt-in only
    "cloze_per_chunk": 4,
    "phrases_per_chunk": 8,
    "min_sentence_words": 6,
    "max_sentence_words": 45,
    "max_relations": None,  # default: max(3, number of chunks // 2)
    "near_duplicate": 0.7,  # token Jaccard at or above which two questions are duplicates
}
_EVENT_WORDS = frozenset(
    "war battle meeting session election discovery birth death trip visit game match "
    "conference revolution flood fire crisis invention introduction creation foundation "
    "founding construction destruction publication printing invasion conquest isolation "
    "establishment appointment announcement arrival departure settlement signing adoption "
    "passage opening closing marriage collapse launch release sale purchase merger "
    "acquisition strike riot trial arrest murder attack siege treaty reform expansion "
    "outbreak discovery inauguration coronation abolition independence transfer "
    "introduction execution resignation retirement".split())


def normalize(text: str) -> str:
    """Lower case, letters and digits only, single spaces (for duplicate checks)."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


_TEMPLATE_WORDS = frozenset(
    "when did the events involving and take place how are related in this passage what who "
    "where is was were a an of to many much".split())


def question_words(text: str) -> set[str]:
    """Words of a question that tell it apart: normalised, without template/function words."""
    words = set(normalize(text).split())
    return (words - _TEMPLATE_WORDS) or words


def contains_answer(question: str, answer: str | None) -> bool:
    """True when the normalised answer occurs as whole words in the normalised question."""
    if not answer:
        return False
    na = normalize(answer)
    return bool(na) and f" {na} " in f" {normalize(question)} "


@dataclass
class _Phrase:
    key: str
    label: str
    forms: tuple[str, ...]
    score: float
    proper: bool

    def pattern(self) -> re.Pattern[str]:
        return _phrase_re(self.label, self.forms)


@lru_cache(maxsize=4096)
def _phrase_re(label: str, forms: tuple[str, ...]) -> re.Pattern[str]:
    """Whole-word, case-insensitive pattern for any written form of a phrase."""
    alts = sorted({*forms, label}, key=len, reverse=True)
    body = "|".join(r"\s+".join(map(re.escape, f.split())) for f in alts)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)


def _chunk_phrases(chunks: Sequence[Chunk], per_chunk: int) -> list[list[_Phrase]]:
    """Each chunk's best key phrases (TF-IDF × quality over all chunks), scores in 0..1."""
    st = phrase_stats([c.text for c in chunks])
    out: list[list[_Phrase]] = []
    top = 0.0
    for i in range(len(chunks)):
        row = st.tfidf.getrow(i)
        scores = row.data * st.quality[row.indices]
        order = np.lexsort((row.indices, -scores))[: 3 * per_chunk]
        picked: list[_Phrase] = []
        for j in order:
            key = st.phrases[row.indices[j]]
            if any(f" {key} " in f" {p.key} " or f" {p.key} " in f" {key} " for p in picked):
                continue
            picked.append(_Phrase(key, st.surface[key], st.variants.get(key, ()),
                                  float(scores[j]), key in st.proper))
            top = max(top, float(scores[j]))
            if len(picked) >= per_chunk:
                break
        out.append(picked)
    for picked in out:
        for p in picked:
            p.score = p.score / top if top else 0.0
    return out


def _bare(p: _Phrase) -> str:
    return p.label


def _event_phrase(text: str, p: _Phrase) -> str | None:
    """"invention" -> "the invention of movable metal letters" as the text has it."""
    m = re.search(rf"\b((?:[A-Za-z-]+\s+)?){re.escape(p.label)}\s+of\s+((?:the\s+)?)", text,
                  re.IGNORECASE)
    if m is None:
        return None
    words = []
    for tok in text[m.end():].split()[:4]:
        bare = tok.rstrip(",.;:!?)\"'”")
        if not is_content_word(bare) and bare.lower() not in {"and"}:
            break
        words.append(bare)
        if bare != tok:
            break
    while words and not is_content_word(words[-1]):
        words.pop()
    if not words:
        return None
    adj = m.group(1).strip()
    pre = f"{adj} " if adj and is_content_word(adj) and adj[0].isupper() else ""
    return f"the {pre}{p.label} of {m.group(2)}{' '.join(words)}"


def _is_event(p: _Phrase) -> bool:
    """A phrase naming a happening ("invention", "election"), which has a time to ask for."""
    head = p.key.split(" of ")[0].split()[-1] if " of " in p.key else p.key.split()[-1]
    return not p.proper and head in _EVENT_WORDS


def _specific(event: str) -> bool:
    """"the invention of movable metal letters": the complement names something particular
    (two content words or a name), not "the change of view"."""
    rest = event.split(" of ", 1)[1] if " of " in event else ""
    words = [w for w in rest.split() if is_content_word(w)]
    return len(words) >= 2 or any(w[:1].isupper() for w in words)


def _clarifying(chunk: Chunk, phrases: list[_Phrase]) -> Question | None:
    """"When did <an event the passage names> take place?" for a chunk without time markers.

    Only for a specific event written in the text ("the invention of movable metal
    letters"); a passage about no nameable event gets no clarifying question, since a pair
    of unrelated key phrases ("fairest creatures and beautiful type") asks nothing real.
    """
    if not chunk.temporal_info.requires_user_clarification or not phrases:
        return None
    for p in phrases[:5]:
        if not _is_event(p):
            continue
        event = _event_phrase(chunk.text, p) if " of " not in p.key else f"the {p.label}"
        if event and _specific(event):
            return _question(f"When did {event} take place?", "clarifying", None, chunk,
                             0.45 + 0.25 * p.score, answer_type="date")
    return None


def _question(text: str, qtype: str, answer: str | None, chunk: Chunk, score: float,
              context: str | None = None, answer_type: str | None = None) -> Question:
    return Question(text=text, type=qtype, answer=answer, chunk_id=chunk.chunk_id,
                    start_time=float(chunk.start_time), end_time=float(chunk.end_time),
                    score=round(float(score), 6), source="builtin", context=context,
                    answer_type=answer_type)


BLANK = "_____"


def _relations(chunks: Sequence[Chunk], sentences: list[list[Span]],
               phrases: list[list[_Phrase]], graph, limit: int,
               max_words: int) -> list[Question]:
    """"How are X and Y related in this passage?" for co-occurring concepts; answer: the
    sentence naming both."""
    pairs: list[tuple[float, _Phrase, _Phrase]] = []
    if graph is not None:
        nodes = graph.nodes
        def as_phrase(n: str) -> _Phrase:
            d = nodes[n]
            forms = tuple(f for f in str(d.get("variants", "")).split("|") if f)
            return _Phrase(str(d.get("key", n)), str(d.get("label", n)), forms,
                           float(d.get("weight", 0.0)), bool(d.get("proper_name", False)))
        for u, v, d in graph.edges(data=True):
            if d.get("kind") == "cooccurrence":
                a, b = sorted((u, v))
                pairs.append((float(d.get("weight", 0.0)), as_phrase(a), as_phrase(b)))
    else:
        seen: dict[tuple[str, str], tuple[float, _Phrase, _Phrase]] = {}
        for ps in phrases:
            for i, a in enumerate(ps[:5]):
                for b in ps[i + 1:5]:
                    lo, hi = sorted((a.key, b.key))
                    k = (lo, hi)
                    w = a.score * b.score + (seen[k][0] if k in seen else 0.0)
                    seen[k] = (w, a, b)
        pairs = list(seen.values())
    pairs.sort(key=lambda x: (-x[0], x[1].key, x[2].key))
    top = max((w for w, _, _ in pairs), default=1.0) or 1.0
    out: list[Question] = []
    used: dict[str, int] = {}
    answered: set[str] = set()
    for w, a, b in pairs:
        if len(out) >= limit:
            break
        if f" {a.key} " in f" {b.key} " or f" {b.key} " in f" {a.key} ":
            continue
        if used.get(a.key, 0) >= 2 or used.get(b.key, 0) >= 2:
            continue
        pa, pb = a.pattern(), b.pattern()
        hit = next(((c, s) for c, ss in zip(chunks, sentences, strict=True) for s in ss
                    if len(s.text.split()) <= max_words and pa.search(s.text)
                    and pb.search(s.text)), None)
        if hit is None or hit[1].text in answered:
            continue  # one relation question per linking sentence
        c, s = hit
        answered.add(s.text)
        q = f"How are {_bare(a)} and {_bare(b)} related in this passage?"
        out.append(_question(q, "relation", s.text, c, 0.4 + 0.3 * w / top, s.text))
        used[a.key] = used.get(a.key, 0) + 1
        used[b.key] = used.get(b.key, 0) + 1
    return out


_WH_BASE = {"when": 0.85, "who": 0.8, "how_many": 0.75, "where": 0.75, "what": 0.7}


def _sentence_times(chunk: Chunk, s: Span) -> tuple[float, float]:
    """The sentence's time range, its words placed evenly over the chunk's time."""
    n = max(chunk.word_count, 1)
    first = len(chunk.text[:s.start].split())
    last = first + len(s.text.split())
    step = (chunk.end_time - chunk.start_time) / n
    return chunk.start_time + first * step, chunk.start_time + min(last, n) * step


def _parsed_questions(chunks: Sequence[Chunk], sentences: list[list[Span]],
                      phrases: list[list[_Phrase]], opt: dict[str, Any],
                      max_words: int) -> list[Question]:
    """Wh-questions from each sentence's parse; a cloze item for a sentence that gives
    none, at most half as many cloze items as wh-questions (a third of the set)."""
    from pipeline_kit.stages._keyphrases import parse_texts
    from pipeline_kit.stages._question_parse import (
        MIN_WORDS,
        ask_sentence,
        clean_spoken,
        cloze_sentence,
        person_names,
    )

    items = [(ci, s, clean_spoken(s.text)) for ci, ss in enumerate(sentences) for s in ss
             if len(s.text.split()) <= max_words + 20]
    docs = parse_texts([clean for _, _, clean in items])
    people = person_names(docs)
    wh: list[Question] = []
    cloze: list[Question] = []
    for (ci, s, clean), doc in zip(items, docs, strict=True):
        if len(clean.split()) < MIN_WORDS:
            continue
        chunk = chunks[ci]
        start, end = _sentence_times(chunk, s)
        asked = ([a for sent in doc.sents for a in ask_sentence(sent, people)]
                 if opt["wh"] else [])
        answers: set[str] = set()
        for a in asked[:3]:
            if normalize(a.answer) in answers:
                continue
            answers.add(normalize(a.answer))
            brevity = 1.0 if len(a.text.split()) <= 12 else 0.85
            wh.append(dataclasses.replace(
                _question(a.text, a.qtype, a.answer, chunk, _WH_BASE[a.qtype] * brevity, s.text,
                          a.answer_type), start_time=start, end_time=end))
        if asked or not opt["cloze"] or _was_disfluent(s.text, clean):
            continue
        ps = phrases[ci]
        key_of = {f.lower(): p.key for p in ps for f in (*p.forms, p.label)}
        score = {p.key: p.score for p in ps}
        for sent in doc.sents:
            c = cloze_sentence(sent, set(score), key_of)
            if c is not None:
                q = _question(c.text, "cloze", c.answer, chunk,
                              0.35 + 0.45 * score[key_of[c.answer.lower()]], s.text, c.answer_type)
                cloze.append(dataclasses.replace(q, start_time=start, end_time=end))
                break
    cloze.sort(key=lambda q: (-q.score, q.start_time or 0.0))
    return wh + cloze[:cloze_limit(len(wh))]


def _was_disfluent(said: str, clean: str) -> bool:
    """Whether cleaning took fillers, repeats or cut-off words out of ``said``. A cloze
    item shows its sentence whole, and a cleaned false start reads broken ("We're just,
    you know, there's some speech errors" -> "We're just there's some _____"): such a
    sentence gets a wh-question from its cleaned stem, or nothing."""
    def plain(text: str) -> str:
        return " ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split())

    return plain(said) != plain(clean)


def cloze_limit(wh: int) -> int:
    """How many cloze items may join ``wh`` wh-questions: half as many (a third of the
    set), and one when there is no wh-question at all, so that a short recording whose
    sentences give none still gets a question."""
    return wh // 2 if wh else 1


def _at_most_a_third_cloze(questions: list[Question]) -> list[Question]:
    """The ranked questions with built-in cloze items beyond half the wh-questions left out."""
    wh = sum(q.type in _WH_BASE for q in questions)
    kept, cloze = [], 0
    for q in questions:
        if q.type == "cloze" and q.source == "builtin":
            cloze += 1
            if cloze > cloze_limit(wh):
                continue
        kept.append(q)
    return kept


def _owned_sentences(chunks: Sequence[Chunk], min_words: int) -> list[list[Span]]:
    """Complete sentences of each chunk; a sentence repeated by chunk overlap goes to the
    first chunk that holds it whole. A chunk's first sentence counts only when the word
    before the chunk (known from earlier chunks) ends a sentence."""
    seen: set[str] = set()
    word_at: dict[int, str] = {}
    out: list[list[Span]] = []
    for ci, c in enumerate(chunks):
        tokens = c.text.split()
        mine = []
        spans = sentence_spans(c.text)
        for si, s in enumerate(spans):
            key = normalize(s.text)
            last = ci == len(chunks) - 1 and si == len(spans) - 1 and s.text[:1].isupper()
            ok = s.complete or last
            if si == 0 and c.start_word_index > 0 and s.start == 0:
                before = word_at.get(c.start_word_index - 1)
                ok = ok and before is not None and ends_sentence(before)
            if not ok or key in seen or len(s.text.split()) < min_words:
                continue
            seen.add(key)
            mine.append(s)
        if len(tokens) == c.word_count:
            word_at.update(zip(range(c.start_word_index, c.end_word_index), tokens,
                               strict=True))
        out.append(mine)
    return out


def _generator_name(gen: Callable) -> str:
    return str(getattr(gen, "__name__", None) or type(gen).__name__)


def _from_user(gen: Callable, items: Any, by_id: dict[str, Chunk]) -> list[Question]:
    """Validate what a user generator returned and turn it into Questions."""
    name = _generator_name(gen)
    if items is None or isinstance(items, (str, bytes, dict, Question)):
        raise QuestionGeneratorError(
            f"generator {name!r} must return an iterable of Question objects or dicts, got "
            f"{type(items).__name__}")
    fields = {f.name for f in dataclasses.fields(Question)}
    out: list[Question] = []
    for i, item in enumerate(items):
        where = f"generator {name!r}, item {i}"
        if isinstance(item, Question):
            d = item.to_dict()
        elif isinstance(item, dict):
            unknown = set(item) - fields
            if unknown:
                raise QuestionGeneratorError(f"{where}: unknown field(s) {sorted(unknown)}; "
                                             f"expected some of {sorted(fields)}")
            d = dict(item)
        else:
            raise QuestionGeneratorError(f"{where}: expected a Question or dict, got "
                                         f"{type(item).__name__}")
        text = d.get("text")
        if not isinstance(text, str) or not text.strip():
            raise QuestionGeneratorError(f"{where}: 'text' must be a non-empty string")
        cid = d.get("chunk_id")
        if cid is not None and cid not in by_id:
            raise QuestionGeneratorError(f"{where}: unknown chunk_id {cid!r}")
        score = d.get("score", 0.5)
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(
                score):
            raise QuestionGeneratorError(f"{where}: 'score' must be a finite number, got "
                                         f"{score!r}")
        answer = d.get("answer")
        if answer is not None and not isinstance(answer, str):
            raise QuestionGeneratorError(f"{where}: 'answer' must be a string or None")
        qtype = d.get("type", "custom")
        if not isinstance(qtype, str) or not qtype:
            raise QuestionGeneratorError(f"{where}: 'type' must be a non-empty string")
        chunk = by_id.get(cid) if cid is not None else None
        start = d.get("start_time", chunk.start_time if chunk else None)
        end = d.get("end_time", chunk.end_time if chunk else None)
        out.append(Question(text=text.strip(), type=qtype, answer=answer, chunk_id=cid,
                            start_time=start, end_time=end, score=float(score), source=name))
    return out


def deduplicate(questions: Sequence[Question], near: float = 0.7) -> list[Question]:
    """Best first; drop a question equal to a kept one after normalising, or sharing at least
    ``near`` of its distinctive words (Jaccard over :func:`question_words`) with a kept
    question of the same type; keep one cloze per answer."""
    ranked = sorted(questions, key=lambda q: (-q.score, q.start_time or 0.0, q.text))
    kept: list[Question] = []
    sets: list[set[str]] = []
    index: dict[tuple[str, str], list[int]] = {}  # (type, word) -> kept questions with it
    texts: set[str] = set()
    answers: set[str] = set()
    for q in ranked:
        n = normalize(q.text)
        answer = normalize(q.answer) if q.type == "cloze" and q.answer else None
        if not n or n in texts or (answer is not None and answer in answers):
            continue  # equal text, or a second cloze with the same answer
        words = question_words(n)
        shared: dict[int, int] = {}
        for w in words:
            for k in index.get((q.type, w), ()):
                shared[k] = shared.get(k, 0) + 1
        if any(c / (len(words) + len(sets[k]) - c) >= near for k, c in shared.items()):
            continue
        for w in words:
            index.setdefault((q.type, w), []).append(len(kept))
        kept.append(q)
        sets.append(words)
        texts.add(n)
        if answer is not None:
            answers.add(answer)
    return kept


def _valid(q: Question, by_id: dict[str, Chunk]) -> bool:
    """Built-in rule: the answer is in the source chunk and not in the question."""
    if q.answer is None:
        return True
    chunk = by_id.get(q.chunk_id or "")
    text = " ".join(chunk.text.split()).lower() if chunk else ""
    return " ".join(q.answer.split()).lower() in text and not contains_answer(q.text, q.answer)


def generate_questions(
    chunks: Sequence[Chunk],
    chapters: Sequence[Chapter] | None = None,
    graph: Any = None,
    *,
    max_questions: int | None = None,
    generators: Sequence[Callable] | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> list[Question]:
    """Questions about ``chunks``, best first (by score, then time).

    Built in, without any model: ``when``/``how_many``/``who``/``where``/``what``
    (answer first: a typed span of one sentence, asked with its wh-word; the sentence
    is kept in ``Question.context``, the span's kind in ``answer_type``); ``cloze``
    (one key phrase blanked as "_____", only in sentences with no wh-question);
    ``clarifying`` ("When did the invention of movable metal letters take place?") only
    for a chunk without time markers that names a specific event; ``relation`` ("How
    are X and Y related?", graph edges when a ``graph`` is given) only with
    ``relation=True``.

    ``generators``: callables ``(chunks, chapters, graph) -> iterable of Question or
    dict``; their questions (``source`` = the callable's name) are validated, merged,
    de-duplicated and ranked with the built-in ones. Options (keyword): see ``_OPTIONS``
    (e.g. ``cloze=False``, ``cloze_per_chunk=2``, ``builtin=False``).
    """
    unknown = set(options) - set(_OPTIONS)
    if unknown:
        raise TypeError(f"unknown option(s) {sorted(unknown)}; known: {sorted(_OPTIONS)}")
    opt = {**_OPTIONS, **options}
    max_questions = MAX_QUESTIONS.check(max_questions)
    gens = list(generators or [])
    for g in gens:
        if not callable(g):
            raise TypeError(f"generators must be callables, got {type(g).__name__}")
    prog = ensure_progress(progress)
    prog.update(0, step="Generating questions")
    chunks = sorted(chunks, key=lambda c: (c.start_time, c.chunk_index))
    by_id = {c.chunk_id: c for c in chunks}
    found: list[Question] = []
    if opt["builtin"] and chunks:
        phrases = _chunk_phrases(chunks, int(opt["phrases_per_chunk"]))
        sentences = _owned_sentences(chunks, int(opt["min_sentence_words"]))
        max_words = int(opt["max_sentence_words"])
        for i, c in enumerate(chunks):
            if opt["clarifying"]:
                q = _clarifying(c, phrases[i])
                if q is not None:
                    found.append(q)
        prog.check_cancelled()
        found += _parsed_questions(chunks, sentences, phrases, opt, max_words)
        prog.update(90, step="Generating questions: ranking")
        if opt["relation"]:
            limit = opt["max_relations"]
            limit = max(3, len(chunks) // 2) if limit is None else int(limit)
            found += _relations(chunks, sentences, phrases, graph, limit, max_words + 20)
        found = [q for q in found if _valid(q, by_id)]
    for g in gens:
        prog.check_cancelled()
        found += _from_user(g, g(chunks, chapters, graph), by_id)
    out = _at_most_a_third_cloze(deduplicate(found, float(opt["near_duplicate"])))
    prog.update(100, step="Generating questions: done")
    return out if max_questions is None else out[:max_questions]
