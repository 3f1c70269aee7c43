"""Build ``temporal_labels.jsonl``: real sentences with hand-labelled time expressions.

Selection (independent of the detector): all 32 LJ Speech lines LJ001-0001..0032, then
from the Choi dev set (Brown corpus text, every distinct sentence of all 200 files,
sorted by file and line) a seeded random sample of 70 sentences, plus a seeded sample
of 70 sentences that contain a digit or one of a broad list of time-ish words (so
there are enough positives; the list is wider than what the detector handles), plus
(added for issue 18) a seeded sample of 60 further sentences that contain a word of the
kinds the issue found mishandled (life stages such as "childhood", "college", "school";
elections, months, holidays; "decades", "within", "coming", "past"; or a four-digit number).

Labels (``LABELS`` below) were written by reading each sentence, before the detector
was run on it. Guidelines: a span is a reference to a point or period in time —
years, decades, dates, days of the week and months when they locate an event,
centuries and named historical periods (kind "era"), ages, life stages, and relative
expressions (ago/later/earlier, next/last/this + unit, yesterday/today/tomorrow,
"recent years"). Not labelled: pure durations ("for three hours", "two weeks long"),
clock times, numbers that are not years, frequency words ("always", "often").
Run: python tests/data/build_temporal_labels.py  (needs ../shared/data).
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data"
OUT = HERE / "temporal_labels.jsonl"
TIMEISH = re.compile(
    r"\d|\b(year|years|month|week|day|days|today|yesterday|tomorrow|ago|later|earlier|"
    r"century|centuries|decade|age|aged|old|young|when|since|during|until|before|after|"
    r"then|now|war|college|school|child|boy|girl|january|february|march|april|may|june|"
    r"july|august|september|october|november|december|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|spring|summer|autumn|winter|season|era|period|morning|night|"
    r"recent|recently|next|last|first|former|once|past|future)\b", re.I)
TARGETED = re.compile(
    r"\b(childhood|college|school|university|youth|election|elections|decades?|within|"
    r"November|October|December|Christmas|Easter|coming|past|century|centuries|[12]\d\d\d)\b")


def candidates() -> list[tuple[str, str]]:
    """(source, sentence) in selection order."""
    out = []
    psv = SHARED / "speech/ljspeech_LJ001/transcripts_LJ001-0001-0032.psv"
    for line in psv.read_text(encoding="utf-8").splitlines():
        ident, text = line.split("|", 1)
        out.append((f"ljspeech:{ident}", text.strip()))
    seen: set[str] = set()
    pool = []
    root = SHARED / "textseg/choi_dev"
    for f in sorted(root.glob("*/*.ref"), key=lambda p: (p.parent.name, int(p.stem))):
        for i, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines()):
            s = line.strip()
            if s and s != "==========" and s not in seen and 6 <= len(s.split()) <= 60:
                seen.add(s)
                pool.append((f"choi_dev/{f.parent.name}/{f.name}:{i + 1}", s))
    rnd = random.Random(20240501)
    plain = rnd.sample(pool, 70)
    rest = [p for p in pool if p not in plain and TIMEISH.search(p[1])]
    timeish = random.Random(7).sample(rest, 70)
    chosen = {src for src, _ in out + plain + timeish}
    targeted = [p for p in pool if p[0] not in chosen and TARGETED.search(p[1])]
    return out + plain + timeish + random.Random(18).sample(targeted, 60)


def _spans(text: str, labels: list[tuple[str, str]]) -> list[dict]:
    spans, cursor = [], {}
    for phrase, kind in labels:
        start = text.find(phrase, cursor.get(phrase, 0))
        if start < 0:
            raise ValueError(f"label {phrase!r} not in {text!r}")
        cursor[phrase] = start + len(phrase)
        spans.append({"start": start, "end": start + len(phrase), "text": phrase, "kind": kind})
    return spans


def main() -> None:
    from temporal_labels_hand import LABELS  # the hand labels, keyed by source

    rows = candidates()
    if "--list" in sys.argv:
        for src, text in rows:
            print(f"{src}\t{text}")
        return
    with OUT.open("w", encoding="utf-8") as fh:
        for src, text in rows:
            labels = LABELS.get(src, [])
            fh.write(json.dumps({"source": src, "text": text, "spans": _spans(text, labels)},
                                ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} sentences to {OUT}")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
