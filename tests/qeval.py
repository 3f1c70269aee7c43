"""Rule-based judge for generated questions, and a SQuAD-style evaluation on real text.

The judge is independent of the generator's own filters: it re-reads each item against the
source text. Run ``python tests/qeval.py`` for the figures and a sample to read (needs
../shared/data, or PIPELINE_KIT_SHARED_DATA).

- grammatical: a question ends with "?", starts with a wh-word, ends on no dangling
  preposition/article, repeats no word twice in a row, has a verb, 4-30 words, no "…";
  a cloze item is a sentence with exactly one blank.
- answer correct: the answer occurs in the source sentence (``Question.context``, itself in
  the chunk) and has the type the wh-word asks for (When: a time expression; How many: a
  number; Who: a capitalised name or people by WordNet's noun.person and noun.group
  files (the lexicon the generator types with: this judge checks its filters, not its
  lexicon); Where: a capitalised name after a place preposition;
  What / cloze: a noun phrase).
- answerable: the content words of the question (without the wh-word) all occur in the
  source sentence, so the sentence answers it.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from pipeline_kit.stages._lexicon import names_people
from pipeline_kit.stages._questions import generate_questions, lemma
from pipeline_kit.stages._temporal import find_temporal_markers
from pipeline_kit.stages._types import Chunk, Question

BLANK = "_____"
WH = ("When", "Since when", "Until when", "Who", "Whom", "Where", "What", "Which", "How many",
      "How much")
_DANGLING = frozenset("of in on at by for with from to into the a an and or but than as".split())
_VERBISH = re.compile(r"\b(?:did|do|does|was|were|is|are|has|have|had|will|would|can|could|"
                      r"may|might|must|should|shall|[a-z]+ed|[a-z]+s)\b")
_NUMBER = re.compile(r"^(?:about |nearly |some )?(?:\d[\d,.]*|(?:one|two|three|four|five|six|"
                     r"seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
                     r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
                     r"eighty|ninety|hundred|thousand|million|dozen|a dozen|dozens|hundreds|"
                     r"thousands)(?:[- ](?:or|and|one|two|three|four|five|six|seven|eight|nine|"
                     r"ten|fifteen|twenty|hundred|thousand|million))*)$", re.I)
_PEOPLE = re.compile(r"(?:er|or|ist|ian|men|people|children|patients?|person|family)s?$")
_STOP = frozenset("the a an of in on at by for with from to into and or but is was were are "
                  "did do does has have had be been being it its this that these those as "
                  "than not".split())


def _norm(s: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", s.lower()))


def grammatical(q: Question) -> bool:
    """The form rules above."""
    text = q.text.strip()
    if q.type == "cloze":
        return text.count(BLANK) == 1 and bool(re.search(r"[.!?…]$", text))
    words = re.findall(r"[A-Za-z'-]+", text)
    if not text.endswith("?") or "…" in text or BLANK in text:
        return False
    if not text.startswith(WH) or not 4 <= len(words) <= 30:
        return False
    low = [w.lower() for w in words]
    if low[-1] in _DANGLING or any(a == b for a, b in zip(low, low[1:], strict=False)):
        return False
    return bool(_VERBISH.search(" ".join(low[1:]))) or any(lemma(w) for w in low[1:])


def answer_type_ok(q: Question, context: str) -> bool:
    """The answer is the kind of thing its wh-word asks for."""
    a = (q.answer or "").strip()
    if q.text.startswith(("When", "Since when", "Until when")):
        return bool(find_temporal_markers(a)) or bool(re.fullmatch(r"\d{3,4}", a))
    if q.text.startswith("How many"):
        return bool(_NUMBER.match(a))
    if q.text.startswith(("Who", "Whom")):
        return (_names_someone(a)) and not _NUMBER.match(a)
    if q.text.startswith("Where"):
        i = context.find(a)
        return a[:1].isupper() and bool(re.search(r"\b(?:in|at|near|from|to)\s+(?:the\s+)?$",
                                                   context[:max(i, 0)]))
    return bool(a) and not _NUMBER.match(a) and len(a.split()) <= 8


def _names_someone(answer: str) -> bool:
    """A name (capitalised after any article) or a phrase whose head noun, the word
    before any "of"/"in" phrase, names people: by the suffix rule above or WordNet's
    noun.person and noun.group files ("the police", "members of this population")."""
    words = re.sub(r"^(?:the|a|an|some|most|many|all|both|two|three)\s+", "", answer,
                   flags=re.I).split()
    if not words:
        return False
    head = re.split(r"\s+(?:of|in|from|at|on|with)\s+", " ".join(words))[0].split()[-1]
    low = head.lower()
    return (words[0][:1].isupper() or bool(_PEOPLE.search(head))
            or names_people(low, True) or names_people(low.rstrip("s"), True))


def answer_correct(q: Question, chunk: Chunk) -> bool:
    """The answer is in the source sentence, which is in the chunk, and has the right type."""
    ctx = q.context or ""
    if not q.answer or not ctx or _norm(ctx) not in _norm(chunk.text):
        return False
    if f" {_norm(q.answer)} " not in f" {_norm(ctx)} ":
        return False
    return answer_type_ok(q, ctx)


def answerable(q: Question) -> bool:
    """Every content word of the question stem occurs in the source sentence."""
    ctx = set(_norm(q.context or "").split())
    ctx |= {b for w in ctx if (b := lemma(w))}
    stem = q.text.replace(BLANK, " ")
    for w in WH:
        stem = stem.removeprefix(w)
    words = [w for w in _norm(stem).split() if w not in _STOP]
    return bool(ctx) and all(w in ctx or w.rstrip("s") in ctx or any(
        c.startswith(w[:4]) for c in ctx if len(w) > 4) for w in words)


def judge(q: Question, chunk: Chunk) -> dict[str, bool]:
    return {"grammatical": grammatical(q), "answerable": answerable(q),
            "correct": answer_correct(q, chunk), "multi_blank": q.text.count(BLANK) > 1}


def sources(shared: Path, sample: Path) -> dict[str, str]:
    """The texts evaluated: LJ Speech (printing history), five Choi documents, the Austen sample."""
    lj = shared / "speech_long/ljspeech_LJ001-0001-0032_concat_16k.ref.txt"
    folder = shared / "textseg/choi_dev/3-11"
    files = sorted(folder.glob("*.ref"), key=lambda p: int(p.stem))[:5]
    choi = " ".join(line.strip() for f in files for line in f.read_text().splitlines()
                    if line.strip() and not line.startswith("=========="))
    return {"lj": lj.read_text(encoding="utf-8"), "choi": choi,
            "austen": (sample / "austen_sample.txt").read_text(encoding="utf-8")}


def evaluate(texts: dict[str, str]) -> tuple[dict[str, float], list[tuple[str, Question, dict]]]:
    from pipeline_kit.stages._chunking import create_semantic_chunks

    rows = []
    for name, text in texts.items():
        chunks = create_semantic_chunks(text, 110, 15, method="fixed", with_temporal=False)
        by_id = {c.chunk_id: c for c in chunks}
        for q in generate_questions(chunks):
            rows.append((name, q, judge(q, by_id[q.chunk_id])))
    items = [r for r in rows if r[1].answer is not None]
    n = len(items) or 1
    figures = {
        "items": len(items),
        "clarifying": sum(r[1].answer is None for r in rows),
        "grammatical": sum(r[2]["grammatical"] for r in items) / n,
        "answerable_and_correct": sum(r[2]["answerable"] and r[2]["correct"]
                                      for r in items) / n,
        "multi_blank": sum(r[2]["multi_blank"] for r in rows),
    }
    return figures, rows


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    shared = Path(os.environ.get("PIPELINE_KIT_SHARED_DATA", repo.parent / "shared" / "data"))
    figures, rows = evaluate(sources(shared, repo / "data" / "sample"))
    for name, q, j in rows:
        flags = "".join(k[0].upper() if v else "." for k, v in j.items() if k != "multi_blank")
        print(f"{name:6} {flags} {q.score:.2f} {q.type:10} {q.text}  -> {q.answer!r}")
    print(figures)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
