"""Relative time expressions placed on the timeline's year axis, when they can be.

Two kinds of relative marker resolve, each against its own anchor:

* anaphoric ones ("ten years later", "two centuries earlier", "the following decade",
  "the day before") count from the nearest preceding absolute marker of the same run
  (a year, decade, date, century or era that resolved), since that is the time the
  speaker is talking about;
* deictic ones ("last year", "next week", "N years ago", "yesterday", "the past ten
  years", "in five years' time") count from the recording's date (the run record's
  creation time), since they are said from the moment of speaking.

A resolved marker lands at the start of the unit it names and spans that unit ("ten
years later" after 1455: 1465, one year; "the following decade": 1465, ten years). A
range of amounts spans its spread ("15 or 20 years later" after 1462: 1477-1482; "the
next 15 or 20 years": 1462-1482, as far as the longer). Centuries and decades narrow by
the qualifier said before them (:func:`narrow`: "the middle of the 15th century" is
1425-1475, "the second half of the 19th century" 1850-1900).
Vague ones stay unresolved: unknown amounts ("a few years later", "several decades
ago", "two or three years"), no direction ("within ten years", "in recent years",
"the other day", a bare weekday), and anaphoric ones with no absolute marker before
them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from pipeline_kit.stages._temporal import words_to_int

DAY = 1 / 365.25
# Length in years of each unit a relative marker can name.
UNIT_YEARS: dict[str, float] = {
    "second": DAY / 86400, "minute": DAY / 1440, "hour": DAY / 24,
    "day": DAY, "night": DAY, "morning": DAY, "afternoon": DAY, "evening": DAY,
    "week": 7 * DAY, "weekend": 7 * DAY, "month": 1 / 12, "semester": 0.5,
    "season": 0.25, "summer": 1.0, "winter": 1.0, "spring": 1.0, "fall": 1.0, "autumn": 1.0,
    "year": 1.0, "decade": 10.0, "century": 100.0,
}
# Units counted on the calendar when said from now ("last year" is the previous calendar
# year, not the twelve months before the recording).
CALENDAR = {"year": 1, "decade": 10, "century": 100}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FORWARD = {"later": 1, "after": 1, "afterwards": 1, "afterward": 1, "hence": 1,
           "earlier": -1, "before": -1, "previously": -1, "ago": -1}
DEICTIC_WORDS = {"ago", "hence"}
DAY_WORDS = {"yesterday": -1, "today": 0, "tonight": 0, "tomorrow": 1}
ANCHOR_DATE = "recording date"

_UNIT = rf"(?P<unit>{'|'.join(sorted(UNIT_YEARS, key=len, reverse=True))}|centurie)s?"
_AMOUNT = (r"(?P<n>\d{1,3}|an?|a couple of|(?:[a-z]+[- ])?[a-z]+)"
           r"(?: (?:or|to) (?P<n2>\d{1,3}|(?:[a-z]+[- ])?[a-z]+))?")
_N_LATER = re.compile(rf"{_AMOUNT} {_UNIT} (?P<dir>{'|'.join(FORWARD)})")
_THE_NEXT_N = re.compile(rf"the (?P<rel>next|following|previous|preceding|past|last|coming) "
                         rf"{_AMOUNT} {_UNIT}")
_THE_NEXT = re.compile(rf"the (?P<rel>next|following|previous|preceding|past|last|coming) "
                       rf"{_UNIT}")
_THE_UNIT_AFTER = re.compile(rf"the {_UNIT} (?P<rel>following|after|before)")
_IN_N_TIME = re.compile(rf"in {_AMOUNT} {_UNIT}['’]? time")
_LAST_X = re.compile(rf"(?P<rel>last|next|this|coming) (?:{_UNIT}|(?P<wd>{'|'.join(WEEKDAYS)}))")
_DAY_WORD = re.compile(rf"(?P<w>{'|'.join(DAY_WORDS)})(?: (?:morning|afternoon|evening|night))?")
_DAY_AROUND = re.compile(r"the day (?P<rel>before|after)(?: (?P<w>yesterday|tomorrow))?")
_STEP = {"next": 1, "following": 1, "coming": 1, "after": 1, "previous": -1, "preceding": -1,
         "past": -1, "last": -1, "before": -1, "this": 0}


@dataclass(frozen=True)
class Relative:
    """What a relative marker says: ``count`` units from ``base`` ("anchor": the
    preceding absolute marker; "now": the recording date), spanning ``span`` units."""

    base: str
    count: float
    unit: str
    span: float = 1.0  # in units; a range ("15 or 20 years later") spans its spread
    weekday: int | None = None  # "next Monday": the weekday, counted from ``count``'s sign


def amount(text: str) -> int | None:
    """A marker's count: digits, number words, "a"/"an" (1), "a couple of" (2); None
    for vague amounts ("a few", "several") and ranges."""
    t = text.lower().strip()
    if t in ("a", "an"):
        return 1
    if t == "a couple of":
        return 2
    return words_to_int(t)


def parse_relative(text: str) -> Relative | None:
    """The offset a relative marker names, or None when it is vague."""
    t = " ".join(text.lower().replace("’", "'").split())
    for parse in (_counted, _stretch, _the_next, _the_unit_after, _in_time, _last_x,
                  _day_around, _day_word):
        rel = parse(t)
        if rel is not None:
            return rel
    return None


def _range(m: re.Match[str]) -> tuple[int, int] | None:
    """The amount of a match as (low, high): "ten" -> (10, 10), "15 or 20" -> (15, 20);
    None when vague or backwards."""
    n = amount(m["n"])
    n2 = amount(m["n2"]) if m["n2"] else n
    if n is None or n2 is None or n2 < n:
        return None
    return n, n2


def _counted(t: str) -> Relative | None:
    """"ten years later", "two centuries earlier" (anchor); "three years ago" (now);
    "15 or 20 years later": from the 15th to the end of the 20th year."""
    m = _N_LATER.fullmatch(t)
    found = _range(m) if m else None
    if m is None or found is None:
        return None
    lo, hi = found
    base = "now" if m["dir"] in DEICTIC_WORDS else "anchor"
    step = FORWARD[m["dir"]]
    return Relative(base, step * (lo if step > 0 else hi), _unit(m), span=hi - lo + 1)


def _stretch(t: str) -> Relative | None:
    """"the next ten years" (anchor), "the past two years" (now): n units beside the base;
    "the next 15 or 20 years": as far as the longer."""
    m = _THE_NEXT_N.fullmatch(t)
    found = _range(m) if m else None
    if m is None or found is None:
        return None
    n = found[1]
    base = "now" if m["rel"] in ("past", "last", "coming") else "anchor"
    return Relative(base, 0 if _STEP[m["rel"]] > 0 else -n, _unit(m), span=n)


def _the_next(t: str) -> Relative | None:
    """"the following decade" (anchor), "the past year" (now)."""
    m = _THE_NEXT.fullmatch(t)
    if m is None:
        return None
    base = "now" if m["rel"] in ("past", "last", "coming") else "anchor"
    return Relative(base, _STEP[m["rel"]], _unit(m))


def _the_unit_after(t: str) -> Relative | None:
    """"the year after", "the day before" (anchor)."""
    m = _THE_UNIT_AFTER.fullmatch(t)
    return Relative("anchor", _STEP[m["rel"]], _unit(m)) if m else None


def _in_time(t: str) -> Relative | None:
    """"in five years' time" (now)."""
    m = _IN_N_TIME.fullmatch(t)
    n = amount(m["n"]) if m else None
    return None if m is None or n is None else Relative("now", n, _unit(m))


def _last_x(t: str) -> Relative | None:
    """"last year", "next week", "this month", "next Monday" (now)."""
    m = _LAST_X.fullmatch(t)
    if m is None:
        return None
    if m["wd"]:
        return Relative("now", _STEP[m["rel"]], "day", weekday=WEEKDAYS.index(m["wd"]))
    return Relative("now", _STEP[m["rel"]], _unit(m))


def _day_around(t: str) -> Relative | None:
    """"the day before yesterday" (now); "the day after" (anchor)."""
    m = _DAY_AROUND.fullmatch(t)
    if m is None:
        return None
    if m["w"]:
        return Relative("now", DAY_WORDS[m["w"]] + _STEP[m["rel"]], "day")
    return Relative("anchor", _STEP[m["rel"]], "day")


def _day_word(t: str) -> Relative | None:
    """"yesterday", "tomorrow morning" (now)."""
    m = _DAY_WORD.fullmatch(t)
    return Relative("now", DAY_WORDS[m["w"]], "day") if m else None


def _unit(m: re.Match[str]) -> str:
    u = m["unit"]
    return "century" if u == "centurie" else u


# Where in a century or decade a qualifier places a time, as (start, end) fractions:
# "the middle of the 15th century" is 1425-1475, "the early 1900s" 1900-1903.
PARTS: dict[str, tuple[float, float]] = {
    "early": (0.0, 1 / 3), "beginning": (0.0, 1 / 3), "start": (0.0, 1 / 3),
    "mid": (0.25, 0.75), "middle": (0.25, 0.75),
    "late": (2 / 3, 1.0), "end": (2 / 3, 1.0), "close": (2 / 3, 1.0),
    "first half": (0.0, 0.5), "second half": (0.5, 1.0), "latter half": (0.5, 1.0),
}
_PART_BEFORE = re.compile(rf"\b(?P<part>{'|'.join(sorted(PARTS, key=len, reverse=True))})"
                          r"(?: of)?(?: the)?\s*$")


def narrow(year: float, span: float, before: str) -> tuple[float, float]:
    """(year, span) of a century or decade narrowed by the qualifier said just before it
    (``before``: the words up to its number, e.g. "in the second half of the ")."""
    m = _PART_BEFORE.search(" ".join(before.lower().replace("-", " ").split()) + " ")
    if m is None or span < 10:
        return year, span
    lo, hi = PARTS[m["part"]]
    return year + lo * span, (hi - lo) * span


def year_fraction(year: int, month: int = 1, day: int = 1) -> float:
    """A day on the timeline's year axis (year + month/12 + day/365): absolute dates and
    the dates relative markers resolve to are placed alike."""
    return year + (month - 1) / 12 + (day - 1) / 365


def fractional_year(d: date) -> float:
    """:func:`year_fraction` of a date."""
    return year_fraction(d.year, d.month, d.day)


def from_anchor(rel: Relative, anchor_year: float) -> tuple[float, float]:
    """(year, span) of an anaphoric marker counted from an absolute marker's year."""
    unit = UNIT_YEARS[rel.unit]
    return anchor_year + rel.count * unit, rel.span * unit


def from_date(rel: Relative, today: date) -> tuple[float, float]:
    """(year, span) of a deictic marker said on ``today``."""
    unit = UNIT_YEARS[rel.unit]
    if rel.weekday is not None:
        ahead = (rel.weekday - today.weekday()) % 7
        if rel.count > 0:
            day = today + timedelta(days=ahead or 7)
        elif rel.count < 0:
            day = today - timedelta(days=(7 - ahead) % 7 or 7)
        else:
            day = today + timedelta(days=ahead)
        return fractional_year(day), DAY
    if rel.unit in CALENDAR:  # whole calendar years, decades, centuries
        size = CALENDAR[rel.unit]
        start = math.floor(today.year / size) * size
        return float(start + rel.count * size), rel.span * unit
    if rel.unit == "month":
        month = today.year * 12 + today.month - 1 + int(rel.count)
        return month // 12 + (month % 12) / 12, rel.span * unit
    return fractional_year(today + timedelta(days=rel.count * unit / DAY)), rel.span * unit


def recording_date(started_at: str | None) -> date | None:
    """The day a run was recorded (its record's creation time), or None."""
    if not started_at:
        return None
    try:
        return date.fromisoformat(started_at[:10])
    except ValueError:
        return None


def resolve_relative_markers(markers: pd.DataFrame, started_at: str | None) -> pd.DataFrame:
    """``markers`` of one run with relative ones given a ``year``/``span_years`` when they
    resolve, and an ``anchor`` column naming what each was resolved against
    (``"1455"``, the absolute marker's text, or ``"recording date 2026-11-30"``)."""
    out = markers.assign(anchor=pd.Series([None] * len(markers), dtype=object,
                                          index=markers.index))
    today = recording_date(started_at)
    last: tuple[str, float] | None = None  # the preceding absolute marker: (text, year)
    for i in out.sort_values("word_index", kind="stable").index:
        row = out.loc[i]
        if row["kind"] != "relative":
            if pd.notna(row["year"]):
                last = (str(row["text"]), float(row["year"]))
            continue
        rel = parse_relative(str(row["text"]))
        if rel is None:
            continue
        if rel.base == "anchor" and last is not None:
            year, span = from_anchor(rel, last[1])
            out.loc[i, ["year", "span_years", "anchor"]] = [year, span, last[0]]
        elif rel.base == "now" and today is not None:
            year, span = from_date(rel, today)
            out.loc[i, ["year", "span_years", "anchor"]] = [year, span,
                                                           f"{ANCHOR_DATE} {today.isoformat()}"]
    return out
