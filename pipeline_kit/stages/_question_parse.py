"""Wh- and cloze questions built from a sentence's dependency parse (spaCy).

Answer first: the answer is a noun chunk or entity of the sentence's main clause, and
its type picks the wh-word: a PERSON (or a noun naming people) asks Who, a place
(GPE, LOC, FAC) in a prepositional phrase asks Where, a DATE in one asks When, a
counted noun asks How many, anything else asks What. The question keeps only the
main clause (subject, auxiliaries, verb, objects and their prepositional phrases;
no subordinate, relative or coordinated clause), so it is shorter than its source:

* subject question: the subject is replaced by the wh-word ("Who printed the Bible?");
* object / adjunct question: the auxiliary, or "do" for a plain verb, moves before
  the subject and the answer leaves the clause ("Where did Gutenberg print the Bible?").

Spoken fillers ("um", "you know", "I mean") and repeated words (false starts) are
removed before parsing; a sentence whose main subject is "I" or "you", or that is
too short once cleaned, gets no question. What makes a clause unaskable or an answer
uncheckable is read off the parse in :mod:`pipeline_kit.stages._question_checks`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline_kit.stages._lexicon import in_dictionary, is_collective, names_people
from pipeline_kit.stages._question_checks import (
    DEMONSTRATIVES,
    GENERIC,
    NAMES,
    OBJECTS,
    SUBJECTS,
    asserted,
    cut_short,
    head_of,
    in_order,
    incomplete,
    misparsed,
    repeated_role,
    split_noun,
    undefined,
    verb_complement_inside,
    verb_in,
)

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

MAX_WH_WORDS = 16  # a longer question copies too much of its sentence
MAX_CLOZE_WORDS = 25
MIN_WORDS = 6  # cleaned sentence words below which nothing is asked
SHORT_SENTENCE = 12  # words up to which a question may be as long as its sentence
MIN_CLUES = 2  # content words a cloze sentence keeps outside its blank
_FILLER_RE = re.compile(
    r",?\s*\b(?:u+m+|u+h+|e+r+m*|a+h+|h+m+|m+h*m+|you know|i mean|sort of|kind of)\b[,.]?\s*",
    re.IGNORECASE)
_REPEAT_RE = re.compile(r"\b(\w+(?:'\w+)?)(?:,?\s+\1\b)+", re.IGNORECASE)
_CUT_WORD_RE = re.compile(r"\b\w+-(?=\s|$)")  # "th- the": a cut-off word
_PLACE = frozenset({"GPE", "LOC", "FAC"})
_FINITE = frozenset("is are was were am has have had will would can could may might shall "
                    "should must do does did".split())
_NEEDS_COMPLEMENT = frozenset({"ccomp", "csubj"})  # dropped from the main clause
_ASIDE = frozenset({"prep", "punct", "npadvmod", "advmod", "aux", "auxpass", "neg"})
_CLAUSES = frozenset({"conj", "advcl", "ccomp"})  # clauses asked like a main clause
_ORDER = {"when": 0, "how_many": 1, "where": 2, "who": 3, "what": 4}
_SET_PHRASES = frozenset({("of", "course"), ("in", "fact"), ("in", "addition"),
                          ("in", "particular"), ("in", "general"), ("at", "least"),
                          ("in", "short"), ("in", "turn"), ("for", "example"),
                          ("for", "instance"), ("in", "effect")})
_SINCE_UNTIL = {"since": "Since when", "until": "Until when", "till": "Until when"}
_DATE = frozenset({"DATE"})
# heads of a time phrase in a prepositional phrase ("in the Middle Ages")
_ERAS = frozenset({"age", "ages", "century", "centuries", "era", "epoch", "period", "reign",
                   "dynasty", "decade", "millennium"})
_NEGATIVE = frozenset({"no", "none", "nothing", "nobody", "neither", "never"})
# sentence connectives that read badly inside a question ("What did X however show?")
_CONNECTIVES = frozenset("however therefore thus moreover furthermore nevertheless "
                         "nonetheless consequently hence accordingly besides".split())
# an answer led by a sentence or focus adverb ("certainly less time") or by anaphoric
# "such" ("such a tradition") names nothing a reader can check
_LEAD_ADVERBS = frozenset("elsewhere meanwhile also however then still certainly probably "
                          "perhaps possibly surely clearly obviously apparently indeed actually "
                          "really even such".split())
# verbs with two objects ("gave Norm Van Brocklin permission"): the small parser reads
# the person as a compound of the thing, and the object question loses the person
_DITRANSITIVE = frozenset("give grant offer award send show tell teach lend hand pay owe "
                          "promise allow deny bring buy sell".split())
_OBJECT_PRONOUNS = frozenset("it them him her".split())
# verbs whose content is what was said: without an object or clause they ask nothing
_SAYING = frozenset("say tell report claim state argue add explain note write announce "
                    "reply answer remark observe declare suggest insist admit".split())
# verbs that tell someone something: their object is who hears it, the content follows
_TELLING = frozenset("remind warn inform assure advise urge notify brief".split())
# a light verb and its object make one verb ("the cuts will take effect"): the object
# asks nothing ("What will the cuts take?")
_LIGHT_OBJECTS = frozenset({("take", "effect"), ("take", "place"), ("take", "part"),
                            ("make", "way"), ("take", "care"), ("pay", "attention"),
                            ("make", "sense"), ("take", "advantage"), ("take", "hold"),
                            ("take", "note"), ("take", "notice"), ("make", "progress")})
# verbs of seeming: "What does assonance seem?" needs a "like" the clause does not have
_SEEMING = frozenset({"seem", "appear"})
_PERSONAL = frozenset("i you we me us my our your yours mine ours".split())
_REFLEXIVE_PEOPLE = frozenset({"himself", "herself", "themselves"})
# A subject that says, thinks, wants or tries is a someone ("Swadesh was trying to
# develop a list", "A respondent may want ..."): small NER models miss single surnames
# and call some of them ORG, so the verb tells who acts.
_ANIMATE_VERBS = frozenset(
    "say tell ask answer reply think believe know want wish hope try decide agree refuse "
    "intend plan promise argue claim insist complain admit deny suggest explain describe "
    "remember forget learn feel fear love hate like prefer expect marry serve succeed "
    "resign retire die smile laugh weep cry speak talk write read sing pray vote "
    "testify confess recall realize realise wonder doubt imagine suppose guess "
    "point".split())
_CLAUSE_DEPS = frozenset({"advcl", "ccomp", "conj", "cc", "parataxis", "mark", "relcl",
                          "acl", "appos", "csubj", "discourse", "intj", "meta", "dep",
                          "preconj", "punct"})
_LEAD_DEPS = frozenset({"cc", "advmod", "discourse", "intj", "mark", "punct", "npadvmod"})


@dataclass(frozen=True)
class Asked:
    """One question from one sentence: its text, answer, type and answer type."""

    text: str
    answer: str
    qtype: str  # "who", "what", "where", "when", "how_many", "cloze"
    answer_type: str  # "person", "place", "date", "number", "thing", "phrase"


def clean_spoken(text: str) -> str:
    """The sentence without fillers, cut-off words and immediate word repeats."""
    out = _FILLER_RE.sub(" ", text)
    out = _CUT_WORD_RE.sub("", out)
    out = _REPEAT_RE.sub(r"\1", out)
    out = re.sub(r"\s+([,.?!;:])", r"\1", re.sub(r"\s{2,}", " ", out)).strip(" ,")
    return out[:1].upper() + out[1:] if out else out


def _phrase(tok: Token) -> list[Token]:
    """A noun's phrase without its relative, appositive or coordinated clauses."""
    out = [tok]
    for child in tok.children:
        joined = child.dep_ in ("conj", "cc", "preconj") and tok.pos_ not in ("VERB", "AUX")
        # "more or less closely" stays whole, and so does "bake-offs"
        if _set_phrase(child):
            continue
        listed = child.text == "," and any(c.dep_ == "conj" and c.i > child.i
                                           for c in tok.children)
        if _set_off(child):
            continue  # "Manager Hemus, eager to end a slump, moved ...": an aside
        if child.dep_ not in _CLAUSE_DEPS or joined or listed or child.tag_ == "HYPH":
            out += _phrase(child)
    return in_order(out)


def _set_off(tok: Token) -> bool:
    """An adjective after its noun behind a comma: an aside, not part of the name."""
    return (tok.dep_ == "amod" and tok.i > tok.head.i and tok.i > 0
            and tok.nbor(-1).text == "," and tok.head.pos_ in ("NOUN", "PROPN"))


def _set_phrase(tok: Token) -> bool:
    """A preposition opening an aside such as "of course", "in short" or "for example"."""
    return tok.dep_ == "prep" and any((tok.lower_, c.lower_) in _SET_PHRASES
                                      for c in tok.children)


def _text(tokens: Sequence[Token], swap: dict[Token, str] | None = None) -> str:
    """The tokens as written, with a space wherever words were left out between them;
    ``swap`` gives some tokens another form ("spelled" -> "spell" after "did")."""
    out: list[str] = []
    for i, t in enumerate(tokens):
        if i and (t.i != tokens[i - 1].i + 1 or tokens[i - 1].whitespace_):
            out.append(" ")
        out.append(swap.get(t, t.text) if swap else t.text)
    return "".join(out).strip()


def _is_content_phrase(tokens: Sequence[Token]) -> bool:
    head = head_of(tokens)
    return (head.pos_ in ("NOUN", "PROPN") and not head.is_stop
            and any(t.pos_ in ("NOUN", "PROPN", "NUM") and not t.is_stop for t in tokens))


def _kind(tokens: Sequence[Token], verb: Token | None = None,
          people: frozenset[str] = frozenset()) -> str:
    """What a noun phrase names: person, place, date, number or thing.

    ``verb``: the verb when the phrase is its subject; a verb of saying, thinking or
    wanting makes an untyped or ORG-tagged subject a person. ``people``: lower-case
    names the recording's other sentences tag as PERSON ("Bellows" alone is a noun).
    """
    head = head_of(tokens)
    of = next((c for c in head.children if c.lower_ == "of"), None)
    counted = next((c for c in of.children if c.dep_ == "pobj"), None) if of else None
    if counted is not None and head.pos_ == "NOUN" and is_collective(head.lemma_):
        head = counted  # "the group of Sri Lankan men" is who the men are
    if head.ent_type_ == "PERSON" or names_people(head.lemma_, head.tag_ in ("NNS", "NNPS")) or (
            head.text[:1].isupper() and head.lower_ in people) or (
            head.ent_type_ == "NORP" and head.tag_ in ("NNS", "NNPS")):
        return "person"
    if (verb is not None and verb.lemma_.lower() in _ANIMATE_VERBS
            and head.ent_type_ in ("", "ORG") and _is_name(head)):
        return "person"
    if head.ent_type_ in _DATE:  # "Thursday's attack" is an event, "31" an age
        return "date"
    if head.ent_type_ in _PLACE:  # "Southwest Conference scoring" is no place
        return "place"
    return "thing"


def _untyped_name(tok: Token) -> bool:
    """A proper name without an article that the recognizer gives no type or calls an
    organisation (small models call many surnames ORG: "Braque began to paint"): a
    person, a place or a team, and so who or what, is unknown. "The Congress of
    Vienna" and "the Daily Post" are no one's names."""
    return (tok.pos_ == "PROPN" and tok.ent_type_ in ("", "ORG", "NORP")
            and not any(c.dep_ == "det" for c in tok.children))


def _is_name(tok: Token) -> bool:
    """A proper noun, or a capitalised word no dictionary list knows ("Swadesh")."""
    return tok.pos_ == "PROPN" or (tok.pos_ == "NOUN" and not _dictionary_word(tok))


def _main_clause(root: Token) -> list[Token]:
    """The root's clause: its dependents except subordinate, relative and joined clauses."""
    out = [root]
    for child in root.children:
        if child.dep_ in _CLAUSE_DEPS:
            continue
        if _set_phrase(child):
            continue  # "of course", "in fact": asides, no adjunct
        out += [child] if child.dep_ in ("aux", "auxpass", "neg") else _phrase(child)
    return in_order(out)


def _lower(tokens: Sequence[Token], people: frozenset[str] = frozenset()) -> str:
    """The phrase as it reads mid-sentence: its first word lower case unless a name."""
    s = _text(tokens)
    first = tokens[0]
    article = first.pos_ == "DET" and first.ent_type_ != "WORK_OF_ART"  # "the Congress"
    if article or (first.pos_ != "PROPN" and first.ent_type_ not in NAMES and first.text != "I"
                   and first.lower_ not in people and _dictionary_word(first)):
        s = s[:1].lower() + s[1:]
    return s


def _dictionary_word(tok: Token) -> bool:
    """Whether the word is a stop word or in the lemmatizer's word lists: a capital
    on any other sentence-initial word ("Speer and coworkers") is a name's."""
    return tok.is_stop or not tok.text[:1].isupper() or in_dictionary(tok.text, tok.lemma_)


def _finish(words: list[str]) -> str:
    s = " ".join(w for w in words if w).strip()
    s = re.sub(r"\s+([,;:])", r"\1", s).rstrip(" ,;:.!?")
    return s[:1].upper() + s[1:] + "?"


def third_person(verb: Token) -> str:
    """The verb's present singular form ("include" -> "includes"), for "What includes ...?"."""
    base = verb.lemma_.lower()
    if base == "have":
        return "has"
    if base.endswith(("s", "sh", "ch", "x", "z", "o")):
        return base + "es"
    if base.endswith("y") and base[-2:-1] not in "aeiou":
        return base[:-1] + "ies"
    return base + "s"


def _do_form(verb: Token, subj: Sequence[Token]) -> str:
    """"did", or "does"/"do" by the subject's number (the tagger's verb tag disagrees
    with it now and then: "the two endpoints possesses")."""
    form = {"VBD": "did", "VBZ": "does", "VBP": "do"}.get(verb.tag_, "")
    if form in ("does", "do"):
        head = head_of(subj)
        plural = head.tag_ in ("NNS", "NNPS") or any(
            c.dep_ == "cc" and c.lower_ == "and" for c in head.children)
        form = "do" if plural else "does"
    return form


def _subject_question(clause: list[Token], subj: list[Token],
                      people: frozenset[str]) -> Asked | None:
    """Wh-word in place of the subject: "Who printed the Bible in Mainz?"."""
    verb = head_of(clause)
    kind = _kind(subj, verb, people)
    if kind == "thing" and any(t.lower_ in _REFLEXIVE_PEOPLE and t.head == verb for t in clause):
        kind = "person"  # "two suicide bombers blew themselves up": someone, not a plane
    if kind == "date" or not _is_content_phrase(subj) or cut_short(subj) or undefined(subj):
        return None
    if subj[0].tag_ == "PRP$" and kind != "person":
        return None  # "What will be going into the final day?" -> "his team": whose?
    rest = [t for t in clause if t not in subj and t.i > subj[-1].i]
    if verb not in rest:
        return None
    root = verb
    if root.lemma_ == "be" and not any(c.dep_ in ("attr", "acomp") for c in root.children):
        return None  # "What is toward putting ...?": the copula needs a noun or adjective
    if root.lemma_ == "be" and any(
            c.dep_ == "attr" and (c.tag_ in ("NNS", "NNPS") or any(
                d.dep_ == "cc" and d.lower_ == "and" for d in c.children))
            for c in root.children):
        return None  # "What is new elements?", "What has been X and Y?": a plural answer
    if root.lemma_ == "be" and any(c.dep_ == "attr" and (c.pos_ in ("PROPN", "NUM")
                                                           or c.ent_type_ in NAMES)
                                   for c in root.children) and not _is_name(head_of(subj)):
        return None  # "Who was King Leopold?" -> "The man": the name is what is told
    verb = rest[0]  # the finite verb or auxiliary agrees with "What"/"Who" (singular)
    if (verb.lemma_ == "do" and verb.dep_ == "aux" and verb.lower_ != "do"
            and not any(t.dep_ == "neg" for t in rest)):
        return None  # "What does perform ...?", "What did fail ...?": an emphatic do
    if kind == "thing" and _untyped_name(head_of(subj)):
        return None  # "What ranks fourth?" -> "Austin": a person, a team or a town?
    if verb.tag_ == "VBP" and (verb.lower_ in ("been", "being") or verb.lower_.endswith("ing")
                               or (verb.lower_ != verb.lemma_.lower()
                                   and verb.lower_ not in ("are", "have", "do"))):
        return None  # a participle tagged as present ("efforts been"): a misparse
    if verb.tag_ not in ("VBD", "VBZ", "VBP", "MD") or any(t.dep_ == "neg" for t in subj):
        return None  # "What to agree ...?", "What has ...?" from "not even X has ..."
    body = _text(rest)
    fix = {"are": "is", "were": "was", "have": "has", "do": "does"}.get(verb.lower_)
    if fix:
        body = fix + body[len(verb.text):]
    elif verb.tag_ == "VBP":
        body = third_person(verb) + body[len(verb.text):]
    if verb.text[:1].isupper() and verb.pos_ != "PROPN":  # a verse line's capital
        body = body[:1].lower() + body[1:]
    words = ["Who" if kind == "person" else "What", body]
    return Asked(_finish(words), _text(subj), "who" if kind == "person" else "what",
                 "person" if kind == "person" else "thing")


def _inverted(clause: list[Token], subj: list[Token], drop: list[Token],
              wh: str, people: frozenset[str] = frozenset()) -> str | None:
    """wh + auxiliary (or do) + subject + the rest of the clause without ``drop``."""
    root = head_of(clause)
    auxes = [t for t in clause if t.dep_ in ("aux", "auxpass") and t.head == root
             and t.i < root.i]
    rest = [t for t in clause if t not in subj and t not in drop and t not in auxes[:1]
            and t.i > subj[0].i]  # a fronted phrase ("In 1953, ...") is left out
    if auxes:
        lead = auxes[0].lower_
        if lead not in _FINITE:
            return None
    elif root.lemma_ == "be" or root.pos_ == "AUX":
        lead = root.lower_
        if lead not in _FINITE:
            return None
        rest = [t for t in rest if t != root]
    else:
        lead = _do_form(root, subj)
        if not lead or any(t.dep_ == "neg" and t.head == root for t in rest):
            return None  # "What does Moritz n't have?": do-support would move the negation
        # joined as written: "solar-corpuscular-radiation" keeps its hyphens
        return _finish([wh, lead, _lower(subj, people), _text(rest, {root: root.lemma_})])
    return _finish([wh, lead, _lower(subj, people), _text(rest)])


def _object_question(clause: list[Token], subj: list[Token], obj: list[Token],
                     people: frozenset[str]) -> Asked | None:
    head = head_of(obj)
    if cut_short(obj) or undefined(obj) or head.head.lemma_.lower() in _SEEMING:
        return None  # "What did Parry defend?" -> "the observation (that ...)"
    if verb_complement_inside(obj) or split_noun(clause, obj):
        return None
    if (head.head.lemma_.lower(), head.lemma_.lower()) in _LIGHT_OBJECTS:
        return None  # "What will the cuts take?" -> "effect"
    if head.dep_ == "attr" and any(t.tag_ in ("JJS", "RBS") for t in obj):
        return None  # "What was gambling?" -> "the biggest money winner": a ranking
    if (head.head.lemma_.lower() in _DITRANSITIVE and head.pos_ == "NOUN"
            and any(t.dep_ == "compound" and t.pos_ == "PROPN" for t in obj)):
        return None  # "What did the club give?" -> "Norm Van Brocklin permission"
    kind = _kind(obj, people=people)
    if kind in ("date", "place") or not _is_content_phrase(obj):
        return None
    if head.dep_ == "attr" and head.ent_type_ != "PERSON" and not _is_name(head):
        kind = "thing"  # "What has Mr. Hawksley been?" -> "a part-time director"
    q = _inverted(clause, subj, obj, "Who" if kind == "person" else "What", people)
    if q is None:
        return None
    return Asked(q, _text(obj), "who" if kind == "person" else "what",
                 "person" if kind == "person" else "thing")


def _adjunct_questions(clause: list[Token], subj: list[Token],
                       people: frozenset[str]) -> Iterable[Asked]:
    """Where / When for a place or date in a prepositional phrase of the main clause."""
    root = head_of(clause)
    for prep in root.children:
        if prep.dep_ not in ("prep", "npadvmod") or prep not in clause:
            continue
        pobj = (prep if prep.dep_ == "npadvmod"
                else next((c for c in prep.children if c.dep_ == "pobj"), None))
        if pobj is None:
            continue
        phrase = _phrase(prep)
        kind = _kind(_phrase(pobj))
        if pobj.lemma_.lower() in _ERAS or pobj.lower_ in _ERAS:
            kind = "date"  # "in the Middle Ages" is a time, whatever the NER says of it
        if kind == "place" and prep.lower_ in ("in", "at", "near", "to", "from", "into"):
            wh, qtype = "Where", "where"
        elif kind == "date" and prep.lower_ in ("in", "on", "during", "by", "until", "since",
                                                 "before", "after", "at", "from"):
            wh, qtype = "When", "when"
        else:
            continue
        if qtype == "when":
            if not _names_a_time(_phrase(pobj)):
                continue  # "31" after a name is an age; "the wake of" no time
            wh = _SINCE_UNTIL.get(prep.lower_, wh)
        q = _inverted(clause, subj, phrase, wh, people)
        if q is not None and prep.lower_ == "from" and qtype == "where":
            q = q[:-1] + " from?"  # "Where is Ella Fitzgerald coming from?"
        if q is not None:
            yield Asked(q, _text(_phrase(pobj)), qtype, kind)


def _names_a_time(phrase: Sequence[Token]) -> bool:
    """Whether a phrase tagged DATE reads as a time: a time word ("Monday", "the next
    100 years", "the Middle Ages") or a year, not a bare number ("31")."""
    return any(t.pos_ != "NUM" or (t.like_num and len(t.text) == 4) for t in phrase
               if not t.is_punct and t.dep_ != "det")


def _how_many(clause: list[Token], subj: list[Token],
              people: frozenset[str]) -> Iterable[Asked]:
    """How many for a counted object: "How many books did they print?"."""
    root = head_of(clause)
    for obj in root.children:
        if obj.dep_ != "dobj" or obj not in clause or obj.tag_ not in ("NNS", "NNPS"):
            continue
        nums = [c for c in obj.children if c.dep_ == "nummod" and c.like_num
                and c.ent_type_ != "ORDINAL"]
        if len(nums) != 1:
            continue
        rest_np = [t for t in _phrase(obj) if t not in _phrase(nums[0])]
        if any(t.dep_ in ("det", "poss") for t in rest_np):
            continue
        q = _inverted(clause, subj, _phrase(obj), f"How many {_text(rest_np)}", people)
        if q is not None:
            yield Asked(q, _text(_phrase(nums[0])), "how_many", "number")


def ask_sentence(sent: Span, people: frozenset[str] = frozenset()) -> list[Asked]:
    """Every wh-question its clauses support (the main clause, and each coordinated or
    subordinate clause with a subject of its own, asked without its own subordinate
    clauses or its conjunction): typed answers (when, how many, where, who) before "what",
    then shortest first. ``people``: see :func:`person_names`."""
    root = sent.root
    if root.pos_ not in ("VERB", "AUX") or sent.text.rstrip().endswith("?"):
        return []
    roots = [root, *(t for t in sent if t.dep_ in _CLAUSES and t.pos_ in ("VERB", "AUX")
                     and any(c.dep_ in SUBJECTS and c.pos_ != "PRON" for c in t.children))]
    out = [a for r in roots if asserted(r) for a in _ask_clause(sent, r, people)]
    return sorted(out, key=lambda a: (_ORDER[a.qtype], len(a.text.split())))


def _ask_clause(sent: Span, root: Token, people: frozenset[str]) -> list[Asked]:
    """The questions of the clause headed by ``root``."""
    clause = _main_clause(root)
    subj_tok = next((t for t in root.children if t.dep_ in SUBJECTS), None)
    if subj_tok is None or subj_tok.lower_ in ("i", "you", "we", "it", "this", "that", "there"):
        return []
    subj = _phrase(subj_tok)
    if subj[0].lower_ in DEMONSTRATIVES:
        return []  # "this push", "these same polyphosphates": which, the question can't say
    if subj_tok.pos_ not in ("NOUN", "PROPN", "PRON") or any(
            t.lower_ in _PERSONAL and t.pos_ == "PRON" for t in [*subj, *clause]):
        return []  # "two ruin Titans"; "quite a number of you", "tell me": not asked
    if subj[-1].i > root.i or any(c.dep_ in ("aux", "auxpass") and c.i < subj[0].i
                                  for c in root.children):
        return []  # "will rest the final success", "had our efforts been": inverted
    if any(t.tag_ in ("WDT", "WP", "WP$", "WRB") and root in (t.head, t.head.head)
           for t in [*subj, *clause]) or any(
            c.dep_ == "mark" and c.lower_ in ("whether", "if") for c in root.children):
        return []  # "ask not what your country can do": an indirect question or a condition
    if any(c.dep_ in _NEEDS_COMPLEMENT for c in root.children):
        return []  # "Cook reported (that ...)": the content is in the dropped clause
    if root.lemma_.lower() in _SAYING and not any(
            c.dep_ in ("dobj", "xcomp", "ccomp", "attr") for c in root.children):
        return []  # "as M.D. Zabel has said of Dickens": what was said is elsewhere
    if verb_in(root, _SAYING | _TELLING) and any(
            c.dep_ == "dobj" and any(d.dep_ in ("acl", "relcl") for d in c.children)
            for c in root.children):
        return []  # "told the radio station (she had gone ...)": the content went with it
    between = [t for t in clause if subj[-1].i < t.i < root.i]
    if any(t.head == root and t.dep_ not in _ASIDE for t in between):
        return []  # the subject does not lead straight into its verb: a misparse
    aside = [t for t in between if t.dep_ not in ("aux", "auxpass", "neg", "advmod")
             or t.head != root]
    clause = [t for t in clause if t not in aside  # "Printing, then, for our purpose, may"
              and not (t.head == root and t.lower_ in _CONNECTIVES)]
    if not any(t.i > root.i for t in clause if not t.is_punct):
        return []  # "Who knew?": a bare verb asks nothing
    if misparsed(sent, clause, root):
        return []
    if incomplete(clause, root):
        return []  # "answered by stating?", "was ordered for?": a word lost its complement
    if any(not (t.text.replace(".", "").replace("'", "").isalpha() or t.like_num
                or t.is_punct or t.text in ("-", "$", "%")) for t in clause):
        return []  # formulas and symbols read badly as questions
    if len(clause) >= len([t for t in sent if not t.is_punct]) and len(clause) > 12:
        return []  # nothing to drop: not a paraphrase
    if any((t.lower_ in _OBJECT_PRONOUNS or (t.lower_ in DEMONSTRATIVES and t.pos_ == "PRON"))
           and t.dep_ in ("pobj", "dobj", "dative", "attr") for t in clause):
        return []  # "commented on ... among them?", "can not handle them": who or what?
    if repeated_role(clause, root):
        return []  # "What is a condition a condition?"
    out: list[Asked] = []
    pronoun_subject = subj_tok.pos_ == "PRON"
    negated = any(c.dep_ == "neg" for c in root.children)
    if not pronoun_subject:
        q = _subject_question(clause, subj, people)
        if q is not None:
            out.append(q)
    if not pronoun_subject and not negated:  # "What are the garages not?": what they aren't
        for obj in root.children:
            if obj.dep_ in OBJECTS and obj in clause:
                q = _object_question(clause, subj, _phrase(obj), people)
                if q is not None:
                    out.append(q)
        out += _adjunct_questions(clause, subj, people)
        out += _how_many(clause, subj, people)
    source = len([t for t in sent if not t.is_punct])
    # A short sentence has nothing to drop: the wh-word and "did" may add two words.
    longest = min(MAX_WH_WORDS, source + 2 if source <= SHORT_SENTENCE else source - 1)
    return [a for a in out if len(a.text.split()) <= longest and _informative(a)]


_COPULA_RE = re.compile(r"^What (?:is|are|was|were) (.+)\?$")


def _informative(a: Asked) -> bool:
    """Whether the question asks something its answer tells: not its own answer, not a
    negation ("No single explanation"), not "What is a term?" or "What is the style?"
    answered by "the style of another poet"."""
    answer = a.answer.lower()
    words = answer.split()
    asked_words = re.findall(r"[\w.']+", a.text.lower())
    if answer in a.text.lower() or (words and words[0] in _NEGATIVE | _LEAD_ADVERBS) or any(
            w in _NEGATIVE for w in asked_words):
        return False  # "What had nothing?"
    if _bare_noun(answer) in GENERIC:
        return False  # "What does one such disagreement concern?" -> "the question"
    if any(x.isdigit() and y.isdigit() for x, y in itertools.pairwise(asked_words)):
        return False  # "follow 8 22": figure or reference numbers left in the clause
    m = _COPULA_RE.match(a.text)
    if m:
        asked = m.group(1).lower()
        if asked in answer or _bare_noun(asked) in GENERIC:  # the answer's was checked above
            return False
    return True


def _bare_noun(phrase: str) -> str:
    """The phrase without its articles ("a term" -> "term")."""
    return " ".join(w for w in phrase.split() if w not in ("a", "an", "the"))


def person_names(docs: Iterable[Doc]) -> frozenset[str]:
    """Lower-case proper names that any of ``docs`` tags as part of a PERSON: a name the
    parser misses in one sentence ("Bellows made the request") is known from another
    ("Defense Attorney Charles Bellows")."""
    return frozenset(t.lower_ for doc in docs for ent in doc.ents if ent.label_ == "PERSON"
                     for t in ent if t.pos_ == "PROPN" and t.text[:1].isupper())


def answer_phrases(sent: Span) -> list[str]:
    """The sentence's noun chunks without determiners or possessors: what a blank covers."""
    out = []
    for nc in sent.noun_chunks:
        toks = [t for t in nc if t.dep_ not in ("det", "poss") and t.pos_ != "PRON"]
        if toks and _is_content_phrase(toks):
            out.append(_text(toks))
    return out


def _unbalanced(text: str) -> bool:
    """Whether brackets or double quotes open and close unevenly: a piece of a sentence."""
    return (text.count("(") != text.count(")") or text.count('"') % 2 == 1
            or text.count("\u201c") != text.count("\u201d"))


def _run_together(sent: Span) -> bool:
    """Whether a capitalised function word stands mid-sentence after a word, not after
    punctuation: two sentences run together ("Choice was expected The selection ...")."""
    return any(t.is_stop and t.text[:1].isupper() and t.text != "I" and t.i > sent.start
               and not t.nbor(-1).is_punct for t in sent)


def _clues(sent: Span, start: int, end: int) -> int:
    """Content words of the sentence outside the characters ``start:end`` (the blank)."""
    return sum(1 for t in sent if t.is_alpha and not t.is_stop
               and not start <= t.idx - sent.start_char < end)


def cloze_sentence(sent: Span, keys: set[str], key_of: dict[str, str]) -> Asked | None:
    """The sentence with one key noun chunk blanked, when it is at most 25 words."""
    words = [t for t in sent if not t.is_punct]
    if len(words) > MAX_CLOZE_WORDS or len(words) < MIN_WORDS or "?" in sent.text:
        return None  # a blank in a sentence that asks or quotes a question reads badly
    if _unbalanced(sent.text) or _run_together(sent):
        return None  # "Los Angeles in 1957 finally bowed to the skyscraper.)": a piece
    for surface in answer_phrases(sent):
        if key_of.get(surface.lower()) not in keys:
            continue
        if sent.text.lower().count(surface.lower()) > 1:
            continue
        a = sent.text.index(surface)
        if _clues(sent, a, a + len(surface)) < MIN_CLUES:
            continue  # "This is a bit of a _____.": nothing around the blank to go on
        before = sent.text[:a].split()[-1:]
        if before and before[0][:1].isupper() and a > len(before[0]) + 1:
            continue  # "The _____": the blank would cut a title or name in two
        blanked = sent.text[:a] + "_____" + sent.text[a + len(surface):]
        if not re.search(r"[.!?][\"'”’)]*$", blanked.strip()):
            blanked = blanked.rstrip() + "."
        return Asked(blanked.strip(), surface, "cloze", "phrase")
    return None
