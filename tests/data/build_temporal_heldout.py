"""Build ``temporal_heldout.jsonl``: a held-out scoring set for the temporal markers (issue 28).

The tuning set is ``temporal_labels.jsonl`` (issue 18; the patterns and the entity
filter of issue 28 were developed on it, cased and lowercased). This set was drawn
afterwards from sentences that are NOT in it and scored only: from the Choi dev set
(Brown corpus text, distinct sentences of 6-45 words of all 200 files), a seeded sample
of 45 sentences matching the time-ish word list of ``build_temporal_labels.py`` and 15
that do not (seed 2028), then 30 sentences matching its targeted list or a relative
time word (seed 2029). Labels (``LABELS``, by sentence number) were written by reading
each sentence, with the guidelines of ``build_temporal_labels.py``, before the new
detector was run on it; one omission was corrected after the first scoring run
(sentence 27, "last Wednesday": last + weekday is a relative time by the guidelines).
Scoring uses each sentence as written and lowercased (Whisper often lowercases names of
eras and months).
Run: python tests/data/build_temporal_heldout.py  (needs ../shared/data).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from build_temporal_labels import SHARED, TARGETED, TIMEISH

HERE = Path(__file__).resolve().parent
OUT = HERE / "temporal_heldout.jsonl"
RELATIVE = re.compile(r"\b(ago|later|earlier|yesterday|today|tomorrow|decade|century|week|"
                      r"month)\b")
LABELS: dict[int, list[str]] = {
    0: ["last year", "1964"], 1: ["Wednesday night"], 3: ["1815"], 4: ["this season"],
    5: ["1916", "1919"], 12: ["Tuesday"], 15: ["1931"], 25: ["1885"],
    27: ["last Wednesday"], 30: ["the last nine years"], 36: ["Jan. 23", "today"],
    38: ["last season"],
    39: ["1875"], 40: ["this year"], 60: ["yesterday"], 62: ["today"], 64: ["1958-60"],
    65: ["yesterday"], 69: ["1958"], 70: ["the Christmas holidays"], 71: ["two weeks ago"],
    72: ["today"], 74: ["1927"], 75: ["November 22"], 77: ["1961", "Tuesday and Wednesday"],
    78: ["1960"], 79: ["today"], 82: ["Three weeks later"], 83: ["March 26", "today"],
    86: ["this year", "the first quarter of 1961"], 87: ["1815", "1914"],
    88: ["the summer of 1960"], 89: ["last week"],
}


def candidates() -> list[tuple[str, str]]:
    used = {json.loads(line)["text"] for line in
            (HERE / "temporal_labels.jsonl").read_text(encoding="utf-8").splitlines() if line}
    root = SHARED / "textseg/choi_dev"
    seen: set[str] = set()
    pool = []
    for f in sorted(root.glob("*/*.ref"), key=lambda p: (p.parent.name, int(p.stem))):
        for i, line in enumerate(f.read_text(errors="replace").splitlines()):
            s = line.strip()
            if (s and s != "==========" and s not in seen and s not in used
                    and 6 <= len(s.split()) <= 45):
                seen.add(s)
                pool.append((f"choi_dev/{f.parent.name}/{f.name}:{i + 1}", s))
    rnd = random.Random(2028)
    timeish = [x for x in pool if TIMEISH.search(x[1])]
    pick = rnd.sample(timeish, 45) + rnd.sample([x for x in pool if x not in timeish], 15)
    rest = [x for x in pool if x not in pick and (TARGETED.search(x[1]) or RELATIVE.search(x[1]))]
    return pick + random.Random(2029).sample(rest, 30)


def main() -> None:
    rows = []
    for k, (source, text) in enumerate(candidates()):
        spans = []
        for want in LABELS.get(k, []):
            start = text.index(want)
            spans.append({"start": start, "end": start + len(want), "text": want})
        rows.append({"source": source, "text": text, "spans": spans})
    OUT.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} sentences, {sum(len(r['spans']) for r in rows)} spans -> {OUT}")


if __name__ == "__main__":
    main()
