"""The WordNet noun table shipped with the package (issue 28): which nouns ask Who,
which are units or general English."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from pipeline_kit.stages._lexicon import NOUN_TABLE, is_collective, names_people

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("lemma, plural", [
    ("swimmer", False), ("trustee", False), ("guide", True), ("conservationist", True),
    ("person", False), ("police", True), ("crowd", True), ("authority", True),
])
def test_nouns_for_people_name_people(lemma, plural):
    assert names_people(lemma, plural)


@pytest.mark.parametrize("lemma, plural", [
    ("memorandum", False), ("report", True), ("snake", True), ("hand", True),
    ("star", True), ("authority", False), ("police", False), ("economy", False),
])
def test_things_and_singular_groups_do_not(lemma, plural):
    """Second senses count only after an abstract first one ("authorities" are people,
    "snakes" and "hands" are not); a group counts only in the plural."""
    assert not names_people(lemma, plural)


def test_a_collective_noun_defers_to_its_of_phrase():
    assert is_collective("group") and is_collective("dozen") and not is_collective("swimmer")


def test_the_table_is_the_one_provenance_describes():
    """data/PROVENANCE.md gives the table's sha256 and how to make it again."""
    text = (REPO / "data" / "PROVENANCE.md").read_text(encoding="utf-8")
    stated = re.search(r"wordnet_nouns\.tsv\.gz` \(sha256\s+`([0-9a-f]{64})`", text)
    assert stated, "PROVENANCE.md does not state the table's sha256"
    assert hashlib.sha256(NOUN_TABLE.read_bytes()).hexdigest() == stated.group(1)


def test_general_english_nouns_are_no_concepts_alone():
    """SemCor's most tagged abstract nouns ("area", "idea", "group") are general English;
    a thing, a person or a topic word is not ("water", "government", "wicket")."""
    from pipeline_kit.stages._keyphrases import candidates
    from pipeline_kit.stages._lexicon import is_general

    assert is_general("area") and is_general("idea") and is_general("group")
    assert not is_general("government") and not is_general("wicket")
    keys = {k for k, _, _ in candidates(
        "Crews cleared the areas. Natural disaster areas were declared in the west.")}
    assert "area" not in keys and "natural disaster area" in keys, keys
