"""Questions about a transcript: wh-, cloze and clarifying questions, plus user hooks.

Answer first, and no model: answer spans are picked by type with patterns (dates and
years, counts, capitalised names judged place / person / thing, key noun phrases);
the question is built from the one sentence holding the span, with the wh-word of its
type (When, How many, Who, Where, What), by moving the clause's auxiliary ("was",
"had", ...) or a past-tense verb ("began" -> "did ... begin"). Items whose stem is cut
(a list tail, an open "both ..."), whose cloze has more than one blank, or whose answer
is not a whole noun phrase are dropped; the rest are ranked by how much of the stem
the source sentence holds. No question-answering model ships inside a PyPI wheel
here, so that rule stands in for a model's answer check.
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
_NUM_WORD = (rf"(?:(?:{_TENS_RE})(?:-(?:{_UNITS_RE}))?|{_TEENS_RE}|{'|'.join(_UNITS[1:])}"
             r"|hundred|thousand|a dozen|dozens|hundreds|thousands)")
_YEAR_SPELLED = (
    r"(?:eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty)"
    rf"[ -](?:hundred(?: and [a-z-]+)?|(?:{_TENS_RE})(?:-(?:{_UNITS_RE}))?|{_TEENS_RE}"
    rf"|oh[ -](?:{_UNITS_RE}))"
)
_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|"
          r"December)")
_ORDINAL = (r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|"
            r"twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|"
            r"nineteenth|twentieth|twenty-first)")
_TIME_RE = re.compile(
    rf"\b(?:{_MONTH} \d{{1,2}}(?:st|nd|rd|th)?(?:,? \d{{4}})?|\d{{1,2}} {_MONTH}(?:,? \d{{4}})?"
    rf"|{_MONTH},? \d{{4}}|(?:1[0-9]|20)\d\d(?!\d|,\d)|{_YEAR_SPELLED}"
    rf"|the (?:early |late |middle of the )?(?:{_ORDINAL}|\d{{1,2}}(?:st|nd|rd|th)) century"
    r"|(?<=\bin )[1-9]\d\d(?![\d,.]\d)(?!\s+[a-z]+s\b))\b",
    re.IGNORECASE,
)
_TIME_PREP = re.compile(
    r"(?:\b(?:in|during|by|since|until|till|around|about|circa|before|after|from|of|on|"
    r"at)(?: the year| about| around)?\s+)$", re.IGNORECASE)
_COUNT_RE = re.compile(
    rf"\b((?:\d[\d,]*(?:\.\d+)?|{_NUM_WORD})(?: or (?:\d[\d,]*|{_NUM_WORD}))?)"
    r" ((?:[a-z]+-)?(?:[a-z]+s|[a-z]*men|people|children|feet|teeth|geese|mice))\b",
    re.IGNORECASE)
_NAME_RE = re.compile(r"\b[A-Z][a-z]+(?:[- ](?:of |de |van |von )?[A-Z][a-z]+)*\b")
_PLACE_PREP = re.compile(r"\b(?:in|at|near|from|to)\s+$")

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
_LEADING = frozenset("and but so then yet or now also still thus".split())
# Time adverbs that may open a clause before its subject; a question moves them after it
# ("Later they moved" -> "did they later move", not "did later they move").
_OPENING_ADVERBS = frozenset(
    "later afterwards afterward eventually finally meanwhile soon subsequently first next "
    "earlier today".split())
_CLAUSE_START_BAD = frozenset(
    "which who whom whose that when where while if because although though as since unless "
    "whether for to than what how why".split())
_SUBORDINATE = frozenset("for although though while when because the".split())
_THING_NAMES = frozenset("Ages Age Era Period Century War Empire Church Bank Company Corporation "
                         "University College River Mountains Street Society League Association "
                         "Assn Council Committee Government Party Department Bible Times "
                         "Exhibition Report Act Court".split())
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


def _tidy(s: str) -> str:
    s = " ".join(t for t in s.split() if t not in {"``", "''", '"'})
    s = re.sub(r"\s+([,;:.!?])", r"\1", s)
    return s.strip(" ,;:-")


def _lower_first(s: str, keep_case: bool) -> str:
    if keep_case or not s or s.split()[0] == "I":
        return s
    return s[0].lower() + s[1:]


def clause_around(sentence: str, start: int, end: int) -> tuple[int, int]:
    """Character range of the clause (between , ; : ( ) and sentence edges) holding a span."""
    a = max((m.end() for m in re.finditer(r"[,;:()\"“”]|\s--\s", sentence[:start])), default=0)
    m = re.search(r"[,;:()\"“”]|\s--\s|[.!?]\s*$", sentence[end:])
    b = end + m.start() if m else len(sentence)
    return a, b


def _verb_index(tokens: list[str]) -> int | None:
    for i, t in enumerate(tokens[:10]):
        low = t.lower()
        prev = tokens[i - 1].lower() if i else ""
        if prev in {"it", "he", "she", "this", "that"} and low.endswith("s") and low not in AUX:
            return None  # present tense ("it consists"): not inverted here
        if low in AUX or low in _IRREGULAR:
            return i
        if lemma(low) is not None and t.islower():
            if prev in _DETERMINERS or prev in {"and", "or"}:
                continue  # "the related acts", "supplementary and related acts"
            return i
        if not re.fullmatch(r"[A-Za-z][A-Za-z'-]*", t):
            return None
    return None


def _split_subject(clause: str) -> tuple[list[str], int, list[str]] | None:
    """(subject tokens, verb index, all tokens) when the clause reads subject + verb + rest."""
    toks = _words(clause)
    while toks and toks[0].lower() in _LEADING:
        toks = toks[1:]
    if not toks or toks[0].lower() in _CLAUSE_START_BAD:
        return None
    v = _verb_index(toks)
    if not v:  # None or 0: no subject before the verb
        return None
    subj = toks[:v]
    head = subj[0]
    if not (head[0].isupper() or head.lower() in _DETERMINERS or head.lower() in
            {"he", "she", "they", "it", "we", "i"}):
        return None
    return subj, v, toks


def invert(clause: str, wh: str, names: frozenset[str] = frozenset()) -> str | None:
    """Turn a declarative clause into a wh-question: "X was Y" -> "<wh> was X Y?",
    "X began Y" -> "<wh> did X begin Y?"; None when the clause has no clear subject/verb."""
    parsed = _split_subject(clause)
    if parsed is None:
        return None
    subj, v, toks = parsed
    verb, rest = toks[v], toks[v + 1:]
    adverbs = []
    while len(subj) > 1 and subj[0].lower() in _OPENING_ADVERBS:
        adverbs.append(subj[0].lower())
        subj = subj[1:]
    subject = _lower_first(" ".join(subj), subj[0] in names or is_content_word(subj[0]))
    low = verb.lower()
    if low in AUX:
        body = [low, subject, *adverbs, *rest]
    else:
        base = lemma(low)
        if base is None:
            return None
        body = ["did", subject, *adverbs, base, *rest]
    q = _tidy(" ".join(body))
    return f"{wh} {q}?" if q else None


_PREPS = frozenset("of in on at by for with from to into during near about than as".split())
_DANGLING = _PREPS | _DETERMINERS | frozenset("and or but not only also very".split())


def well_formed(question: str) -> bool:
    """Cheap checks that removing the answer left no broken grammar behind."""
    toks = re.findall(r"[A-Za-z'-]+|[^\sA-Za-z]", question)
    words = [t.lower() for t in toks if t[0].isalpha()]
    if len(words) < 5 or words[-1] in _DANGLING:
        return False
    for a, b in zip(words, words[1:], strict=False):
        if a in _PREPS and (b in AUX or b in {"be", "been", "being"} or
                            b in _PREPS - {"about"}):
            return False
    return not re.search(r"\b[A-Z]\.?[A-Z]?\?$|\.\s*\?$", question)


def time_spans(sentence: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _TIME_RE.finditer(sentence)]


def count_spans(sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, noun) of "fifteen or twenty years"-like counts; the span is the number."""
    out = []
    for m in _COUNT_RE.finditer(sentence):
        num = m.group(1)
        if num.lower() in {"one"} or _TIME_RE.fullmatch(num):
            continue
        out.append((m.start(1), m.end(1), m.group(2)))
    return out


def name_spans(sentence: str, weak: frozenset[str]) -> list[tuple[int, int]]:
    """Capitalised names; at the sentence start only when two or more words long ("Aldus
    Manutius founded ..."), since any first word is capitalised."""
    out: list[tuple[int, int]] = []
    for m in _NAME_RE.finditer(sentence):
        start, words = m.start(), m.group(0).split()
        while words and words[0].lower() in weak and len(words) > 1:
            start += len(words[0]) + 1
            words = words[1:]
        at_start = start == 0 or sentence[:m.start()].rstrip().endswith((".", "!", "?", "\"", "“"))
        if at_start and (len(words) < 2 or words[0].lower() in weak
                         or words[-1] in _THING_NAMES):
            continue
        if len(words) == 1 and (words[0].lower() in weak or re.fullmatch(_MONTH, words[0])
                                or not is_content_word(words[0])):
            continue
        if out and re.fullmatch(r",? and ", sentence[out[-1][1]:start]):
            start = out.pop()[0]  # "Sweynheim and Pannartz" is one answer
        out.append((start, m.end()))
    return out


def when_question(sentence: str, start: int, end: int) -> str | None:
    """Question about the time expression ``sentence[start:end]``."""
    a, b = clause_around(sentence, start, end)
    prep = _TIME_PREP.search(sentence[a:start])
    cut = a + prep.start() if prep else start
    clause = sentence[a:cut] + " " + sentence[end:b]
    if not clause.strip() and sentence[b:b + 1] == ",":
        # "In 1066, Duke William conquered England": the time is an opening phrase, so the
        # question is about the main clause after the comma
        _, b2 = clause_around(sentence, b + 1, b + 1)
        clause = sentence[b + 1:b2]
    word = prep.group(0).split()[0].lower() if prep else ""
    # "Since 1917 the acts have extended ..." asks "Since when ...?", not "When ...?"
    wh = {"since": "Since when", "until": "Until when", "till": "Until when"}.get(word, "When")
    return invert(_tidy(clause), wh)


_COUNT_TAIL_OK = frozenset("of in on at by for with from to into during near about than as "
                           "and but which that who when where while last this next all each "
                           "before after since until".split())


def how_many_question(sentence: str, start: int, end: int, noun: str) -> str | None:
    """Question about a count ("fifteen or twenty years" -> "How many years ...?")."""
    a, b = clause_around(sentence, start, end)
    before = sentence[a:start]
    if re.search(r"\bby\s+(?:the\s+|some\s+|about\s+|nearly\s+)*$", before, re.IGNORECASE):
        return None  # "greeted ... by 500 women": removing the agent breaks the passive
    m = re.search(r"(?:\b(?:in|during|for|of|by|with|about|over|after|within)\s+)?"
                  r"(?:\b(?:the|a|an|some|about|nearly|almost|over|only|just|next|last|first|"
                  r"more than|fewer than|less than|at least|up to)\s+)*$",
                  before, re.IGNORECASE)
    cut = a + (m.start() if m else len(before))
    after = sentence[end:b].lstrip()
    after = after[len(noun):] if after.lower().startswith(noun.lower()) else after
    if not sentence[a:cut].strip():  # the count is the subject
        return None
    tail = after.lstrip()
    if _split_subject(sentence[a:cut]) is None or re.match(r"(?:or|and|nor)\b", tail) or (
            tail[:1].isalpha() and tail.split()[0].lower() not in _COUNT_TAIL_OK):
        return None  # the count sits in a fronted phrase, or its removal leaves "or ..."
    return invert(_tidy(sentence[a:cut] + " " + after), f"How many {noun.lower()}")


def name_kind(sentence: str, start: int, end: int) -> str:
    """"place", "person" or "thing" for the capitalised name ``sentence[start:end]``."""
    name = sentence[start:end].split()
    before = sentence[:start]
    if _PLACE_CUE.search(before) or all(w in _PLACES for w in name if w not in {"and", "of"}):
        return "place"
    if _TITLE_BEFORE.search(before) or _TITLE_BEFORE.search(name[-1] + " "):
        return "person"
    if name[-1] in _THING_NAMES or (before.rstrip().lower().endswith("the")
                                    and not name[-1].endswith(("s", "ese"))):
        return "thing"
    return "person"


def subject_question(sentence: str, start: int, end: int, wh: str) -> str | None:
    """"X began printing ..." -> "<wh> began printing ...?" when the span is the subject."""
    a, b = clause_around(sentence, start, end)
    if not _opens_sentence(sentence, a):
        return None
    lead = sentence[a:start]
    lead = re.sub(r"\b(?:In|On|By|During|After|Before)\s+\S+(?:\s+\S+){0,3}$", "",
                  lead.strip()) if _TIME_RE.search(lead) else lead
    if _words(lead) and not all(w.lower() in _LEADING or w.lower() in _SUBORDINATE
                                 for w in _words(lead)):
        return None
    toks = _words(sentence[end:b])
    if not toks:
        return None
    low = toks[0].lower()
    if not (low in AUX or lemma(low) is not None):
        return None  # a present "-s" verb looks like a plural noun ("Subjects differences")
    if low in {"is", "are", "was", "were"} and (len(toks) < 3 or not _complement(toks[1])):
        return None  # "What is toward putting stress at the end?"
    return f"{wh} {_tidy(' '.join(toks))}?"


# Prepositions beyond _PREPS that open a phrase, and adverbs that open a predicate.
_MORE_PREPS = frozenset("toward towards upon within without through throughout among amongst "
                        "between after before under over across against along around behind "
                        "beyond despite until via per like unlike".split())
_ANY_PREP = _PREPS | _MORE_PREPS
_ADVERBS = frozenset("not also still more less much only then now there here so too very quite "
                     "rather often never always usually even just already perhaps".split())
# Words in -ly that are not adverbs.
_LY_WORDS = frozenset("only early daily holy likely elderly friendly family italy july supply "
                      "assembly reply ally rally monopoly anomaly sicily lily belly jelly fly "
                      "ply butterfly apply imply comply rely multiply".split())


def _adverb(word: str) -> bool:
    w = word.lower()
    return w in _ADVERBS or (w.endswith("ly") and len(w) > 4 and w not in _LY_WORDS)


def _complement(word: str) -> bool:
    """Whether a word can open what follows "What is …": a noun phrase, adjective or
    participle, not a prepositional phrase ("is toward …", "is of course …")."""
    w = word.lower()
    return w not in _ANY_PREP


def object_question(sentence: str, start: int, end: int, wh: str) -> tuple[str, int] | None:
    """"Schoeffer printed the Bible at Maintz" -> ("What did Schoeffer print at Maintz?",
    start of "the Bible"): the span is the object right after the clause's verb."""
    a, b = clause_around(sentence, start, end)
    if not _opens_sentence(sentence, a):
        return None
    det = re.search(r"\b(?:the|a|an|his|her|their|its|our|this|these|those)\s+$",
                    sentence[a:start], re.IGNORECASE)
    ans_start = a + det.start() if det else start
    pre = sentence[a:ans_start]
    parsed = _split_subject(pre)
    if parsed is None or parsed[1] != len(parsed[2]) - 1:
        return None  # the verb must come right before the object
    rest = sentence[end:b].split()
    if rest and rest[0][:1].isalpha() and rest[0].lower() not in _PREPS - {"of"}:
        return None  # the noun phrase goes on past the span
    q = invert(_tidy(pre + " " + " ".join(rest)), wh)
    return (q, ans_start) if q else None


def _opens_sentence(sentence: str, a: int) -> bool:
    """Whether a clause starting at ``a`` is the main clause, not the tail of a list or an
    aside ("X, Y and Z are noted ..." must not give "Who are noted ...?")."""
    if a == 0:
        return True
    first = sentence.split(None, 1)[0].lower().strip("\"'“(")
    return first in _INTRODUCERS and sentence[:a].count(",") <= 1


def _clause_end(sentence: str, start: int, end: int) -> int:
    """End of the clause a question about ``sentence[start:end]`` is built from: past an
    opening phrase ("In 1066, ...") it is the end of the main clause."""
    a, b = clause_around(sentence, start, end)
    opening = re.fullmatch(r"\s*(?:\w+\s+){0,2}", sentence[a:start]) and not sentence[end:b].strip()
    if opening and sentence[b:b + 1] == ",":
        return clause_around(sentence, b + 1, b + 1)[1]
    return b


def _closes(sentence: str, b: int) -> bool:
    """Whether the clause ending at ``b`` is complete: the sentence ends there, or what
    follows is a new clause, not the rest of a list or an apposition."""
    rest = sentence[b:].strip()
    if not rest or re.fullmatch(r"[.!?\"'”’)]+", rest) or rest[0] in ";(":
        return True
    return bool(re.match(rf",\s+(?:{'|'.join(sorted(_CLAUSE_LINKS))})\b", rest, re.IGNORECASE))


_SECOND_CLAUSE = re.compile(
    r"\b(?:and|but|or)\s+(?:the|a|an|his|her|their|its|this|these|those|he|she|it|they|we|i)"
    r"(?:\s+[\w-]+){0,3}?\s+(?:is|are|was|were|has|have|had|will|would|did)\b", re.IGNORECASE)


def _truncated(stem: str) -> bool:
    """A correlative left open ("both for their culture"), or a second clause with its own
    subject glued on ("What has fine letters and the letters are large?")."""
    if _SECOND_CLAUSE.search(stem):
        return True
    low = f" {stem.lower()} "
    return any(a in low and b not in low.split(a, 1)[1] for a, b in
               ((" both ", " and "), (" either ", " or "), (" neither ", " nor "),
                (" between ", " and "), (" not only ", " but ")))


def where_question(sentence: str, start: int, end: int) -> str | None:
    """"X began printing near Rome" -> "Where did X begin printing?" (answer: the place)."""
    a, b = clause_around(sentence, start, end)
    if not _opens_sentence(sentence, a):
        return None
    prep = _PLACE_PREP.search(sentence[a:start])
    if prep is None:
        return None
    if sentence[end:b].strip():  # the place should close its clause
        return None
    clause = sentence[a:a + prep.start()]
    lead = re.match(r"\s*(?:In|On|By|During)\s+(?:the year\s+)?", clause)
    when = _TIME_RE.match(clause[lead.end():]) if lead else None
    if lead and when:
        clause = clause[lead.end() + when.end():]
    return invert(_tidy(clause), "Where")


_INTRODUCERS = frozenset(
    "in on at by during after before since for from with when while although though because "
    "as if however then thus yet but and so now moreover also still once later".split())
_CLAUSE_LINKS = frozenset("which who whom whose where when while although though because since "
                          "as if and but so for yet".split())
_TITLE_BEFORE = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Sir|Lord|Lady|King|Queen|Pope|President|Senator|"
                           r"Governor|Judge|Mayor|Rev|Father|Saint|St|General|Captain|"
                           r"Professor|Prince|Princess|Emperor)\.?\s+$")
_PLACE_CUE = re.compile(r"\b(?:near|city of|town of|village of|province of|county of|state of|"
                        r"kingdom of|capital of|(?:born|died|lived|settled|buried|located|"
                        r"situated|arrived|stationed|headquartered|raised)\s+(?:in|at|near))"
                        r"\s+$", re.IGNORECASE)
# A small gazetteer (continents, countries, states, large and historic cities): a "Where"
# question needs evidence that its answer is a place, which a capital letter is not.
_PLACES = frozenset("""
Africa America Asia Europe Australia Antarctica Britain England Scotland Wales Ireland France
Germany Italy Spain Portugal Holland Netherlands Belgium Switzerland Austria Hungary Poland
Russia Sweden Norway Denmark Finland Greece Turkey Egypt China Japan India Korea Vietnam
Canada Mexico Brazil Argentina Chile Peru Cuba Israel Iran Iraq Syria Arabia Africa Congo
Kenya Nigeria Ethiopia Pakistan Afghanistan Indonesia Philippines Ukraine Czechoslovakia
Yugoslavia Prussia Bavaria Saxony Venice Rome Florence Milan Naples Genoa Paris Lyons Lyon
London Oxford Cambridge Edinburgh Dublin Berlin Vienna Prague Munich Mainz Maintz Mentz
Cologne Strasburg Strassburg Nuremberg Basel Basle Geneva Amsterdam Antwerp Bruges Brussels
Madrid Lisbon Moscow Athens Constantinople Jerusalem Cairo Peking Tokyo Subiaco Washington
Boston Chicago Philadelphia Baltimore Atlanta Dallas Houston Detroit Cleveland Pittsburgh
Denver Miami Seattle Providence Hartford Richmond Memphis Nashville Louisville Orleans
Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia
Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts
Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada Hampshire Jersey York Mexico
Carolina Dakota Ohio Oklahoma Oregon Pennsylvania Rhode Island Tennessee Texas Utah Vermont
Virginia Wisconsin Wyoming New North South East West United States Kingdom San Los Angeles
Francisco St Louis
""".split())

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
_WEAK_NAMES = frozenset(w.title() for w in _LEADING | _CLAUSE_START_BAD | _DETERMINERS | AUX) | {
    "I", "He", "She", "It", "We", "They", "There", "Here", "Mr", "Mrs", "Dr", "Now", "Then"}


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


def _with_article(p: _Phrase) -> str:
    return p.label if p.proper else f"the {p.label}"


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


def contains_words(text: str, phrase: str) -> bool:
    return f" {normalize(phrase)} " in f" {normalize(text)} "


def _question(text: str, qtype: str, answer: str | None, chunk: Chunk, score: float,
              context: str | None = None, answer_type: str | None = None) -> Question:
    return Question(text=text, type=qtype, answer=answer, chunk_id=chunk.chunk_id,
                    start_time=float(chunk.start_time), end_time=float(chunk.end_time),
                    score=round(float(score), 6), source="builtin", context=context,
                    answer_type=answer_type)


BLANK = "_____"


_PRONOUNS = frozenset("i you he she it we they me him us them there here who".split())


def _phrase_goes_on(text: str, end: int) -> bool:
    """Whether the noun phrase continues after ``end`` ("ill-disposed young | man")."""
    nxt = re.match(r"\s+([a-z][a-z-]*)\b", text[end:])
    if nxt is None:
        return False
    w = nxt.group(1)
    function = (_PREPS | AUX | _CLAUSE_LINKS | _DETERMINERS | _LEADING | _PRONOUNS
                | {"not", "to", "be"})
    return (w not in function and lemma(w) is None and w not in _IRREGULAR
            and not w.endswith("ly"))


def _cut_at_abbreviation(sentence: str) -> bool:
    """A sentence that the splitter ended at a title or initial ("… and Sen.")."""
    return bool(re.search(r"\b[A-Z][a-z]{0,3}\.$", sentence.strip()))


_LINKING = frozenset("'m am is are was were be been being seem seems seemed look looks looked "
                     "feel feels felt become became remain remained".split())


def _predicative(text: str, start: int) -> bool:
    """A one-word span after a linking verb ("I 'm afraid") is an adjective, not a thing."""
    before = text[:start].split()[-1:]
    return bool(before) and before[0].lower() in _LINKING and " " not in text[start:].split(
        None, 1)[0]


def _cuts_name(text: str, start: int, end: int) -> bool:
    """Whether a span starts or ends inside a name ("the New _____", "Women 's _____",
    "_____ 4")."""
    before = text[:start].split()[-2:] if start else []
    after = text[end:].split()[:1]
    if after and after[0][:1].isdigit():
        return True
    if len(before) == 2 and before[1] in {"'s", "’s"} and before[0][:1].isupper() \
            and text[start].isupper():
        return True
    before = before[-1:]
    return bool((before and before[0][:1].isupper() and text[start].isupper()
                 and not re.search(r"[.!?]$", before[0]) and before[0] not in _WEAK_NAMES) or
                (after and after[0][:1].isupper() and text[end - 1].isalpha()
                 and text[start].isupper()))


_MODALS = frozenset("will would can could may might shall should must do does did".split())
_NOUN_SUFFIX = re.compile(r"(?:tion|sion|ment|ness|ity|ance|ence|ism|ure|age|ship|hood|ing|"
                          r"[^s']s)$")
_ADJECTIVE_SUFFIX = re.compile(r"(?:al|ic|ous|ive|ful|less|able|ible|ary|ern|ish)$")
_SUBCLAUSE = re.compile(r"\b(?:until|when|while|because|although|though|if|since|unless|"
                        r"whereas|which|who|that)\b|[;:]")


_NOT_PRESENT_VERB = _ANY_PREP | _DETERMINERS | _LEADING | _CLAUSE_LINKS | _PRONOUNS
_INTENSIFIERS = frozenset("very quite too rather so more less much".split())


def _may_hold_verb(clause: str) -> bool:
    """Whether a clause may hold a finite verb: an auxiliary, a past form, or a word that
    could be a present verb (not its first word, not after an article or preposition:
    "we investigate", "control remain")."""
    words = re.findall(r"[A-Za-z][a-z'-]*", clause)
    for i, w in enumerate(words):
        low = w.lower()
        if low in AUX or low in {"am", "be", "been", "being"} or lemma(low) is not None:
            return True
        prev = words[i - 1].lower() if i else ""
        if (i and w.islower() and low not in _NOT_PRESENT_VERB and not _adverb(low)
                and prev not in _NOT_PRESENT_VERB and not _adverb(prev)):
            return True
    return False


def whole_noun_phrase(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is a whole noun phrase where it stands, so a cloze
    blank there asks for a thing: not a verb phrase ("would _____", "to _____ ."), not a
    prepositional phrase ("_____ to obtain", answer "Despite extensive attempts"), not
    the tail of a phrase begun outside it ("a seemingly _____", "a pleasant or _____"),
    and not holding the clause's only verb ("the _____ from …", answer "climate ranges")."""
    words = text[start:end].split()
    before = text[:start].split()
    prev = before[-1].lower() if before else ""
    if (words[0].lower() in _ANY_PREP or prev in _MODALS or prev in _INTENSIFIERS
            or (prev.endswith("ly") and _adverb(prev))):
        return False
    if prev == "to" and words[0].islower() and not (  # "to local markets" passes
            words[0] in _DETERMINERS or _NOUN_SUFFIX.search(words[0])
            or (len(words) > 1 and _ADJECTIVE_SUFFIX.search(words[0]))):
        return False  # "to rotate", "to slash farm output": an infinitive
    if len(words) > 1 and re.search(r"\b(?:a|an|the|this|that|these|those|his|her|their|its|"
                                    r"our|my|your)\s+[a-z][\w-]*\s+(?:and|or)\s*$",
                                    text[:start], re.IGNORECASE):
        return False  # "a pleasant or _____": the blank splits "easy position" off its article
    if re.search(r"[^s']s$", words[-1]):  # "ranges", "begins": may be the clause's verb
        cuts = [0, *(m.end() for m in _SUBCLAUSE.finditer(text[:start]))]
        nxt = _SUBCLAUSE.search(text, end)
        clause = text[cuts[-1]:start] + " " + text[end:nxt.start() if nxt else len(text)]
        if not _may_hold_verb(clause):
            return False
    return True


def _clip_cloze(sentence: str, start: int, end: int, max_words: int) -> str:
    """The sentence, or the comma-clauses around the blank when it is longer than max_words."""
    if len(sentence.split()) <= max_words:
        return sentence
    cuts = [0, *(m.end() for m in re.finditer(r"[,;:]\s", sentence)), len(sentence)]
    lo = max(c for c in cuts if c <= start)
    hi = min(c for c in cuts if c >= end)
    while len(sentence[lo:hi].split()) < 12:
        lower = [c for c in cuts if c < lo]
        higher = [c for c in cuts if c > hi]
        if not lower and not higher:
            break
        if higher:
            hi = higher[0]
        if len(sentence[lo:hi].split()) < 12 and lower:
            lo = lower[-1]
    part = sentence[lo:hi].strip().rstrip(",;:")
    return ("… " if lo > 0 else "") + part + (" …" if hi < len(sentence) else "")


def _cloze(chunk: Chunk, sentences: list[Span], phrases: list[_Phrase], per_chunk: int,
           max_words: int) -> list[Question]:
    out: list[tuple[float, Question]] = []
    for s in sentences:
        best = None
        for p in phrases:
            m = p.pattern().search(s.text)
            if m and (best is None or p.score > best[0].score):
                best = (p, m)
        if best is None:
            continue
        p, m = best
        if (not _noun_like(m.group(0)) or _cuts_name(s.text, m.start(), m.end())
                or _phrase_goes_on(s.text, m.end()) or _cut_at_abbreviation(s.text)
                or re.fullmatch(r"[A-Za-z][a-z]{0,2}", m.group(0))
                or _predicative(s.text, m.start())):
            continue  # "an _____ man", "… and Sen.", "Afj", "40 lbs", "I 'm afraid"
        if not whole_noun_phrase(s.text, m.start(), m.end()):
            continue  # "efforts to _____", "a seemingly _____", "the _____ from … ."
        if len(p.pattern().findall(s.text)) > 1 or not re.search(r"[.!?][\"'”’)]*$", s.text):
            continue  # a second mention would give the answer away; a cut stem reads badly
        blanked = s.text[:m.start()] + BLANK + s.text[m.end():]
        q = _clip_cloze(blanked, m.start(), m.start() + len(BLANK), max_words)
        n = len(s.text.split())
        length_q = 1.0 if 8 <= n <= 30 else 0.8
        out.append((p.score, _question(q, "cloze", m.group(0), chunk,
                                       0.35 + 0.45 * p.score * length_q, s.text)))
    out.sort(key=lambda x: -x[0])
    return [q for _, q in out[:per_chunk]]


_WH = {"date": "When", "number": "How many", "person": "Who", "place": "Where",
       "thing": "What", "phrase": "What"}
_BASE = {"date": 0.85, "person": 0.8, "number": 0.75, "place": 0.75, "thing": 0.7,
         "phrase": 0.65}
_QTYPE = {"date": "when", "number": "how_many", "person": "who", "place": "where",
          "thing": "what", "phrase": "what"}


@dataclass(frozen=True)
class AnswerSpan:
    """A candidate answer in a sentence, with the kind of thing it is."""

    start: int
    end: int
    kind: str  # a key of _WH
    noun: str = ""  # the counted noun, for numbers


def answer_spans(sentence: str, weak: frozenset[str],
                 phrases: Sequence[_Phrase] = ()) -> list[AnswerSpan]:
    """Answers first: times, counts, names (place / person / thing) and key noun phrases,
    without overlaps (earlier kinds win)."""
    out = [AnswerSpan(a, b, "date") for a, b in time_spans(sentence)]
    out += [AnswerSpan(a, b, "number", noun) for a, b, noun in count_spans(sentence)]
    out += [AnswerSpan(a, b, name_kind(sentence, a, b)) for a, b in name_spans(sentence, weak)]
    for p in phrases:
        m = p.pattern().search(sentence)
        if (m and not p.proper and _noun_like(m.group(0))
                and whole_noun_phrase(sentence, m.start(), m.end())):
            kind = "person" if _names_people(m.group(0)) else "phrase"
            out.append(AnswerSpan(m.start(), m.end(), kind))
    kept: list[AnswerSpan] = []
    for span in out:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return kept


def _noun_like(phrase: str) -> bool:
    """A key phrase that can be an answer noun phrase ("movable types", not "died away")."""
    words = phrase.lower().split()
    verb_inside = any(lemma(w) is not None and words[i - 1] not in _PREPS | _DETERMINERS | {"and"}
                      for i, w in enumerate(words) if i)  # "therapy included digitalization"
    return not (any(w in _IRREGULAR for w in words) or lemma(words[-1]) is not None or verb_inside
                or words[-1].endswith("ly") or words[-1] in _PARTICLES
                or not is_content_word(words[-1]))


_PERSON_NOUNS = frozenset(
    "people person persons man men woman women child children boy boys girl girls family "
    "families workman workmen craftsman craftsmen scholar scholars scribe scribes monk monks "
    "priest priests bishop bishops king kings queen queens soldier soldiers citizen citizens "
    "patient patients doctor doctors lawyer lawyers judge judges official officials member "
    "members staff crowd audience public students student friends friend parents parent "
    "wife husband brother sister son daughter mother father".split())
_NOT_PEOPLE = frozenset("letters papers numbers matters orders waters centers centres quarters "
                        "characters colors colours factors errors motors sectors corners "
                        "borders chapters meters metres layers filters members' others".split())


def _names_people(phrase: str) -> bool:
    """Whether a noun phrase names people ("the printers", "twelve workmen"): ask Who."""
    head = phrase.lower().split()[-1]
    return head in _PERSON_NOUNS or (head not in _NOT_PEOPLE and bool(
        re.search(r"(?:[^e]er|[^aeiou]or|ist|ian)s?$", head)) and len(head) > 4)


_PARTICLES = frozenset("away out up down off over back around about along".split())


def _ask(sentence: str, span: AnswerSpan) -> tuple[str, int] | None:
    """The question whose wh-word fits the span's kind, and where its answer starts."""
    a, b, wh = span.start, span.end, _WH[span.kind]
    if span.kind == "date":
        q = when_question(sentence, a, b)
    elif span.kind == "number":
        q = how_many_question(sentence, a, b, span.noun)
    elif span.kind == "place":
        q = where_question(sentence, a, b)
    else:
        q = subject_question(sentence, a, b, wh)
        if q is None:
            return object_question(sentence, a, b, wh)
        det = re.search(r"(?:^|\s)(?:the|a|an|his|her|their|its)\s+$", sentence[:a],
                        re.IGNORECASE)
        if det:  # "The tendency is ..." -> the answer is "The tendency"
            a = det.start() + (1 if sentence[det.start()].isspace() else 0)
    return (q, a) if q else None


def answerability(question: str, context: str) -> float:
    """Share of the question's content words that the source sentence holds (verbs matched
    by their base form), i.e. how well the sentence alone answers it."""
    ctx = set(normalize(context).split())
    ctx |= {b for w in ctx if (b := lemma(w))}
    words = [w for w in question_words(question) if w not in _PREPS and w not in AUX
             and w not in {"did", "who", "when", "where", "what", "how", "many"}]
    if not words:
        return 0.0
    return sum(w in ctx or w.rstrip("s") in ctx for w in words) / len(words)


def _wh(chunk: Chunk, sentences: list[Span], max_words: int,
        phrases: Sequence[_Phrase] = ()) -> list[Question]:
    """Answer-first wh-questions: each typed answer span, asked with its own wh-word from
    the sentence that holds it; one question per answer, ranked by answerability."""
    out: list[Question] = []
    weak = frozenset(w.lower() for w in _WEAK_NAMES)
    for s in sentences:
        text = s.text
        if len(text.split()) > max_words + 20:
            continue
        seen: set[str] = set()
        for span in answer_spans(text, weak, phrases):
            asked = _ask(text, span)
            if asked is None:
                continue
            q, ans_start = asked
            ans = text[ans_start:span.end]
            b = _clause_end(text, span.start, span.end)
            if (not well_formed(q) or contains_answer(q, ans) or _truncated(q)
                    or not _closes(text, b) or normalize(ans) in seen):
                continue
            seen.add(normalize(ans))
            fit = answerability(q, text)
            length_q = 1.0 if len(q.split()) <= 25 else 0.85
            out.append(_question(q, _QTYPE[span.kind], ans, chunk,
                                 _BASE[span.kind] * fit * length_q, text, span.kind))
    return out


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
            prog.check_cancelled()
            if opt["clarifying"]:
                q = _clarifying(c, phrases[i])
                if q is not None:
                    found.append(q)
            if opt["cloze"]:
                found += _cloze(c, sentences[i], phrases[i], int(opt["cloze_per_chunk"]),
                                max_words)
            if opt["wh"]:
                found += _wh(c, sentences[i], max_words, phrases[i])
            prog.update(i + 1, len(chunks) + 1)
        if opt["relation"]:
            limit = opt["max_relations"]
            limit = max(3, len(chunks) // 2) if limit is None else int(limit)
            found += _relations(chunks, sentences, phrases, graph, limit, max_words + 20)
        found = [q for q in found if _valid(q, by_id)]
        asked = {q.context for q in found if q.type in _QTYPE.values()}
        found = [q for q in found if q.type != "cloze" or q.context not in asked]
    for g in gens:
        prog.check_cancelled()
        found += _from_user(g, g(chunks, chapters, graph), by_id)
    out = deduplicate(found, float(opt["near_duplicate"]))
    prog.update(100, step="Generating questions: done")
    return out if max_questions is None else out[:max_questions]
