"""Signs that a clause cannot be asked or an answer cannot be checked, read off the
dependency parse (spaCy): a clause the sentence does not assert (under a condition, a
belief, a denial), a parse that shows itself wrong (a finite verb as a noun, a clause
across brackets), a word that lost what completes it, an answer cut short or without
the clause that says which one. Used by :mod:`pipeline_kit.stages._question_parse`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Span, Token

NAMES = frozenset("PERSON NORP FAC ORG GPE LOC PRODUCT EVENT WORK_OF_ART LAW LANGUAGE".split())
# "What is a term?": a copula's answer that names nothing in particular
GENERIC = frozenset("term thing matter one way kind sort case example question point part "
                     "fact idea something word name result".split())
# complements a kept word cannot lose: a question keeping "by" without "stating that ..."
_COMPLEMENTS = frozenset({"pobj", "pcomp", "dobj", "ccomp", "xcomp", "attr", "acomp", "oprd"})
DEMONSTRATIVES = frozenset("this that these those".split())
# words that do not assert the clause they govern ("I was thinking the fire would melt
# ...", "hopes the decision will help", "it is likely that ..."): it is no fact to ask
_UNASSERTED = frozenset("think believe hope expect fear wish doubt suspect guess suppose "
                        "imagine assume reckon predict worry pray want insist feel "
                        "likely unlikely possible impossible probable unclear uncertain "
                        "hopeful confident doubtful let claim allege deny".split())
# nouns that do not assert the clause they govern ("there is a risk consumers will ...")
_UNASSERTED_NOUNS = frozenset("risk chance possibility danger hope fear likelihood prospect "
                              "threat belief view claim allegation suggestion faith confidence "
                              "expectation assumption suspicion impression".split())
_CONDITIONS = frozenset({"if", "unless"})
# verbs whose "of"/"with" phrase is the charge, not part of the object's name
_CHARGING = frozenset("accuse suspect convict acquit charge warn inform remind rob clear "
                      "assure notify".split())
# nominal roles: a finite verb in one ("the gyro output axis decreases" as an object of
# "to") is a misparse
_NOMINAL = frozenset({"nsubj", "nsubjpass", "dobj", "pobj", "attr", "compound", "appos"})
# nouns whose meaning is the clause that follows ("at the time the board meets")
_CLAUSE_NOUNS = frozenset("time moment way point extent degree fact place reason case "
                          "manner sense day year role thing one kind sort".split())
SUBJECTS = frozenset({"nsubj", "nsubjpass"})
OBJECTS = frozenset({"dobj", "attr"})


def in_order(tokens: Iterable[Token]) -> list[Token]:
    """The tokens in sentence order."""
    return sorted(tokens, key=lambda t: t.i)


def cut_short(phrase: Sequence[Token]) -> bool:
    """Whether an answer phrase lost what completes it: it ends on punctuation ("the
    means of inducing,"), a preposition lost its object, a noun its infinitive ("the very
    attempt (to ...)", "the team (to beat)"), or it points elsewhere ("This push",
    "the following items")."""
    kept = set(phrase)
    if any(t.tag_ in ("NNP", "NNPS") and t.text[:1].islower() and t.is_alpha for t in phrase):
        return True  # "home McAuliffe": a verb's particle read as part of a name
    if misordered(head_of(phrase)):
        return True
    if phrase[0].pos_ == "ADP" and phrase[0].dep_ == "prep":
        return True  # "in this case even a 5 per cent chance": an aside came along
    if phrase[-1].is_punct or phrase[0].lower_ in DEMONSTRATIVES or (
            len(phrase) > 1 and phrase[1].lower_ == "following"):
        return True  # "the following items" point ahead, as "this" points back
    for t in phrase:
        for c in t.children:
            if c in kept:
                continue
            if t.dep_ == "prep" and c.dep_ in ("pobj", "pcomp"):
                return True
            if c.dep_ in ("acl", "relcl") and _infinitive(c):
                return True
    return False


def misordered(head: Token) -> bool:
    """Whether an article or possessor follows an adjective of the same noun: a word
    order no noun phrase has ("extremely conservative his estimate")."""
    return any(c.dep_ in ("det", "poss") and any(m.i < c.i for m in head.children
                                                 if m.dep_ in ("amod", "nummod"))
               for c in head.children)


def undefined(phrase: Sequence[Token]) -> bool:
    """Whether an answer is a bare noun ("the observation", "pieces") whose clause, which
    says which one, was left out ("the observation that the poems are formulaic")."""
    head = head_of(phrase)
    bare = [t for t in phrase if t.dep_ not in ("det", "punct")] == [head] and all(
        t.lower_ == "the" for t in phrase if t.dep_ == "det")  # "a report" is any report
    return bare and head.pos_ == "NOUN" and any(
        c.dep_ in ("acl", "relcl") and c not in phrase for c in head.children)


def verb_complement_inside(obj: Sequence[Token]) -> bool:
    """Whether the object took in a phrase that completes its verb: "as" ("praised New
    York's diversity as the source of strength"), the charge of a verb of charging
    ("accuses Pakistan of masterminding"), or "of"/"about" after a name or a court
    ("told the court of their sorrow")."""
    head = head_of(obj)
    named = head.pos_ == "PROPN" or head.ent_type_ in NAMES
    charging = head.head.lemma_.lower() in _CHARGING
    for prep in (t for t in obj if t.dep_ == "prep" and t.head == head):
        if prep.lower_ == "as" or (charging and prep.lower_ in ("of", "with")):
            return True
        if prep.lower_ in ("of", "about") and (named or head.lemma_.lower() == "court"
                                               or head.ent_type_ == "ORG"):
            return True
    return False


def split_noun(clause: list[Token], obj: Sequence[Token]) -> bool:
    """Whether a noun the clause keeps stands right after the object: one phrase the
    parser cut in two ("won the 50 metres | butterfly")."""
    nxt = obj[-1].i + 1
    return any(t.i == nxt and t.pos_ in ("NOUN", "PROPN") and t.dep_ != "npadvmod"
               and t.ent_type_ not in ("DATE", "TIME") for t in clause)  # not "yesterday"


def head_of(tokens: Sequence[Token]) -> Token:
    """The one token whose head lies outside ``tokens``: a phrase's head noun, a
    clause's verb."""
    return next(t for t in tokens if t.head == t or t.head not in tokens)


def asserted(verb: Token) -> bool:
    """Whether the sentence states the clause of ``verb`` as a fact: not under a condition
    ("if that happens, sea levels would rise"), a belief, hope, claim, denial or
    likelihood ("thinks the fire would melt ...", "there is a risk consumers will ..."),
    a negated verb ("cannot say conclusively that ..."), or an imperative "let"."""
    if any(c.dep_ == "parataxis" and verb_in(c, _UNASSERTED) for c in verb.children):
        return False  # "a jail sentence is appropriate, I think"
    subjects = [c.i for c in verb.children if c.dep_ in SUBJECTS]
    if subjects and any(c.dep_ == "advmod" and c.lower_ in _UNASSERTED and c.i < subjects[0]
                        for c in verb.children):
        return False  # "(it is) likely more raids will be launched": the question drops it
    tok = verb
    while True:
        if any(m.dep_ == "mark" and m.lower_ in _CONDITIONS and m.head.dep_ == "advcl"
               for m in tok.subtree):
            return False
        if tok.dep_ not in ("ccomp", "conj") or tok.head == tok:
            return True
        tok = tok.head
        if any(c.dep_ == "neg" for c in tok.children):
            return False  # "cannot say conclusively (that Saddam has ...)"
        if tok.dep_ != "conj" and (verb_in(tok, _UNASSERTED) or any(
                c.dep_ == "acomp" and c.lower_ in _UNASSERTED
                or c.dep_ in ("attr", "dobj", "nsubj") and c.lemma_.lower() in _UNASSERTED_NOUNS
                for c in tok.children)):
            return False  # the clause is what someone thinks, hopes, claims or fears


def verb_in(tok: Token, verbs: frozenset[str]) -> bool:
    """Whether the word is a form of one of ``verbs``; the small model's lemmatizer
    misses some ("hopes" -> "hop")."""
    low = tok.lower_
    stems = {tok.lemma_.lower(), low, low[:-1], low[:-2], low[:-3], low[:-3] + "e"}
    return bool(stems & verbs) and (low in verbs or low.endswith(("s", "ed", "ing"))
                                    or tok.lemma_.lower() in verbs)


def misparsed(sent: Span, clause: list[Token], root: Token) -> bool:
    """Whether the parse the clause rests on shows itself wrong: a finite verb in a noun's
    role ("applied to the gyro output axis decreases"), a lower-case word in a name
    ("home McAuliffe"), a phrase attached across a clause the question drops ("relieved
    Hyde ... and gave up ... into center"), an object shifted or out of order ("termed
    extremely conservative his estimate"), or a clause that reaches into or out of
    brackets ("five elements exist (1) surface, (2) air")."""
    if any(t.tag_ in ("VBZ", "VBP", "VBD") and t.dep_ in _NOMINAL for t in clause):
        return True
    if any(c.dep_ in OBJECTS and misordered(c) for c in root.children) or any(
            c.dep_ == "oprd" and any(o.dep_ == "dobj" and o.i > c.i for o in root.children)
            for c in root.children):
        return True
    dropped = [c.i for c in root.children if c.dep_ in ("conj", "parataxis") and c not in clause]
    if dropped and any(t.i > min(dropped) and t.head == root for t in clause):
        return True
    depth = _bracket_depths(sent)
    return len({depth[t.i] for t in [*clause, root]}) > 1 or any(
        t.text in "()[]" for t in clause)


def _bracket_depths(sent: Span) -> dict[int, int]:
    """Each token's depth inside round or square brackets."""
    out, depth = {}, 0
    for t in sent:
        if t.text in ")]":
            depth = max(0, depth - 1)
        out[t.i] = depth
        if t.text in "([":
            depth += 1
    return out


def repeated_role(clause: list[Token], root: Token) -> bool:
    """Whether the verb keeps two objects or two complements of one kind: a list or an
    appositive the parser attached as a second object ("is a condition ..., a condition"),
    or a copula with two complements ("is not much greater, ...: 24")."""
    roles = [c.dep_ for c in root.children if c in clause and c.dep_ in ("attr", "dobj")]
    complements = [c for c in root.children if c in clause and c.dep_ in ("attr", "acomp")]
    return len(roles) != len(set(roles)) or len(complements) > 1


def incomplete(clause: list[Token], root: Token) -> bool:
    """Whether a kept word lost what completes it: a complement ("by stating"), the
    clause of "as far (as ...)", of "at the time (the board meets)" or of "the question
    (whether ...)", an infinitive ("the first (to feel its teeth)"), or a last word that
    is a preposition or conjunction."""
    kept = set(clause)
    last = [t for t in clause if not t.is_punct][-1]
    if last.pos_ in ("CCONJ", "SCONJ") or last.tag_ == "IN":
        return True
    for t in clause:
        if t == root:
            continue
        for c in t.children:
            if c in kept:
                continue
            if c.dep_ in _COMPLEMENTS:
                return True
            if c.dep_ in ("advcl", "relcl", "acl") and (
                    t.pos_ == "ADV" or t.lemma_.lower() in _CLAUSE_NOUNS):
                return True
            if c.dep_ in ("acl", "ccomp") and t.lemma_.lower() in GENERIC:
                return True
            if c.dep_ in ("acl", "relcl") and _infinitive(c):
                return True  # "Who was the first (to feel its teeth)?"
            if c.dep_ == "acl" and _restricted(t, kept):
                return True  # "the first swimmer (eliminated)"
            if c.dep_ == "acl" and undefined([m for m in t.subtree if m in kept]):
                return True  # "rejected claims (that 950 detainees are to be relocated)"
            if t.dep_ == "attr" and c.dep_ in ("acl", "ccomp"):
                return True  # "is a sign (the Government would not ...)"
    return _lost_correlate(clause)


def _restricted(noun: Token, kept: set[Token]) -> bool:
    """Whether a noun reads as incomplete without its clause: ranked ("the first
    swimmer (eliminated)", "the biggest (ever recorded)")."""
    mods = [c for c in noun.children if c in kept and c.dep_ != "det"]
    return noun.pos_ == "NOUN" and any(c.tag_ in ("JJS", "RBS") or c.ent_type_ == "ORDINAL"
                                       for c in mods)


def _lost_correlate(clause: list[Token]) -> bool:
    """Whether "such" or "so" lost the "as" or "that" it announces ("rotates in such a
    direction (as to reduce ...)", "so heavy (that ...)")."""
    kept = set(clause)
    for t in clause:
        if t.lower_ not in ("such", "so") or t.dep_ not in ("amod", "predet", "advmod", "det"):
            continue
        after = [w for w in t.doc[t.i + 1:t.sent.end] if w.lower_ in ("as", "that")]
        if after and after[0] not in kept:
            return True
    return False


def _infinitive(verb: Token) -> bool:
    """Whether ``verb`` heads a to-infinitive ("to beat", "to feel its teeth")."""
    return any(a.dep_ == "aux" and a.lower_ == "to" for a in verb.children)
