"""Question generation on real text: answer rules, de-duplication, clarifying questions, hooks."""

from __future__ import annotations

import pytest
from conftest import shared_path
from textdata import LJ, choi_text, make_chunks

from pipeline_kit.stages._chunking import create_semantic_chunks
from pipeline_kit.stages._graph import build_graph
from pipeline_kit.stages._questions import (
    QuestionGeneratorError,
    contains_answer,
    generate_questions,
    lemma,
    normalize,
    question_words,
)
from pipeline_kit.stages._types import Chunk, Question, TemporalInfo, TemporalMarker

COMPREHENSION = {"cloze", "when", "how_many", "who", "what", "where", "relation"}


@pytest.fixture(scope="module")
def lj_chunks() -> list[Chunk]:
    return make_chunks(shared_path(LJ).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def choi_chunks() -> list[Chunk]:
    return make_chunks(choi_text(3), size=150, overlap=25)


def check_rules(questions: list[Question], chunks: list[Chunk]) -> None:
    by_id = {c.chunk_id: c for c in chunks}
    assert questions
    assert [q.score for q in questions] == sorted((q.score for q in questions), reverse=True)
    seen: dict[str, list[set[str]]] = {}
    for q in questions:
        chunk = by_id[q.chunk_id]
        assert (q.start_time, q.end_time) == (chunk.start_time, chunk.end_time)
        assert q.text.strip().endswith("?") or q.type == "cloze"
        if q.type in COMPREHENSION:
            assert q.answer and " ".join(q.answer.split()).lower() in " ".join(
                chunk.text.split()).lower(), q
            assert not contains_answer(q.text, q.answer), q
        words = question_words(q.text)  # near-duplicates: same type, shared distinctive words
        same = seen.setdefault(q.type, [])
        assert all(len(words & s) / len(words | s) < 0.7 for s in same), q.text
        same.append(words)
    assert len({normalize(q.text) for q in questions}) == len(questions)


@pytest.mark.parametrize("which", ["lj", "choi"])
def test_rules_on_real_text(which, lj_chunks, choi_chunks):
    chunks = lj_chunks if which == "lj" else choi_chunks
    qs = generate_questions(chunks, graph=build_graph(chunks))
    check_rules(qs, chunks)
    types = {q.type for q in qs}
    assert {"clarifying", "cloze", "relation"} <= types
    assert types & {"when", "who", "what", "how_many", "where"}
    assert all(q.source == "builtin" for q in qs)


def test_lj_specific_questions(lj_chunks):
    qs = generate_questions(lj_chunks)
    texts = {q.text: q for q in qs}
    when = texts["When did Sweynheim and Pannartz begin printing in the monastery of Subiaco "
                 "near Rome?"]
    assert when.answer == "fourteen sixty-five" and when.type == "when"
    assert any(q.type == "cloze" and q.answer == "movable types" for q in qs)


def test_clarifying_names_topic(lj_chunks):
    qs = [q for q in generate_questions(lj_chunks) if q.type == "clarifying"]
    assert len(qs) == len(lj_chunks)  # no chunk has time markers here
    by_id = {c.chunk_id: c for c in lj_chunks}
    for q in qs:
        assert q.text.startswith("When did ") and q.answer is None
        assert "this happen" not in q.text.lower()
        topic = q.text.removeprefix("When did ").removesuffix(" take place?")
        content = [w for w in normalize(topic).split()
                   if w not in {"the", "events", "involving", "and", "of"}]
        assert content and all(w in normalize(by_id[q.chunk_id].text) for w in content), q.text
    assert any("invention of movable metal letters" in q.text for q in qs)


def test_no_clarifying_when_time_is_known(lj_chunks):
    marker = TemporalMarker("fourteen fifty-five", "year", 0, 5, "1455", 0.9)
    dated = [Chunk(c.chunk_index, c.text, c.start_word_index, c.end_word_index, c.start_time,
                   c.end_time, temporal_info=TemporalInfo((marker,))) for c in lj_chunks]
    assert not [q for q in generate_questions(dated) if q.type == "clarifying"]


def test_deterministic_and_limits(lj_chunks):
    a = generate_questions(lj_chunks)
    assert a == generate_questions(lj_chunks)
    assert generate_questions(lj_chunks, max_questions=5) == a[:5]
    assert all(q.type != "cloze" for q in generate_questions(lj_chunks, cloze=False))
    with pytest.raises(TypeError, match="unknown option"):
        generate_questions(lj_chunks, clozes=False)
    assert generate_questions([]) == []


def test_user_generators(lj_chunks):
    first = lj_chunks[0]

    def my_gen(chunks, chapters, graph):
        return [
            {"text": "Who wrote this essay?", "type": "open", "chunk_id": first.chunk_id,
             "score": 2.0},
            Question("What is typography?", "open", None, None, None, None, 0.1),
            {"text": "Who wrote this essay ?", "score": 1.0},  # duplicate after normalising
        ]

    qs = generate_questions(lj_chunks, generators=[my_gen])
    top = qs[0]
    assert top.text == "Who wrote this essay?" and top.source == "my_gen"
    assert (top.start_time, top.end_time) == (first.start_time, first.end_time)
    assert sum(normalize(q.text) == "who wrote this essay" for q in qs) == 1
    assert any(q.text == "What is typography?" and q.source == "my_gen" for q in qs)
    only = generate_questions(lj_chunks, generators=[my_gen], builtin=False)
    assert {q.source for q in only} == {"my_gen"}

    for bad, msg in [
        (lambda c, ch, g: None, "iterable"),
        (lambda c, ch, g: [42], "Question or dict"),
        (lambda c, ch, g: [{"text": ""}], "non-empty"),
        (lambda c, ch, g: [{"text": "Q?", "chunk_id": "nope"}], "unknown chunk_id"),
        (lambda c, ch, g: [{"text": "Q?", "score": "high"}], "score"),
        (lambda c, ch, g: [{"text": "Q?", "colour": "red"}], "unknown field"),
    ]:
        with pytest.raises(QuestionGeneratorError, match=msg):
            generate_questions(lj_chunks, generators=[bad], builtin=False)
    with pytest.raises(TypeError, match="callable"):
        generate_questions(lj_chunks, generators=["not callable"])


def test_on_the_chunkers_output():
    text = shared_path(LJ).read_text(encoding="utf-8")
    chunks = create_semantic_chunks(text, chunk_size=120, overlap=20, method="tfidf")
    check_rules(generate_questions(chunks, graph=build_graph(chunks)), chunks)


@pytest.mark.parametrize("past,base", [("began", "begin"), ("printed", "print"),
                                        ("produced", "produce"), ("stopped", "stop"),
                                        ("carried", "carry"), ("concluded", "conclude"),
                                        ("indeed", None), ("letters", None)])
def test_lemma(past, base):
    assert lemma(past) == base
