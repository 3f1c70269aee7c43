"""Time expressions in text: years, decades, dates, centuries/eras, ages, life stages, relatives.

Two sources, combined: the parser's DATE entities (spaCy, :mod:`._nlp`; durations,
frequencies and clock times are dropped, as in the labelled set's guidelines) and the
patterns below, which know what the small English model misses (spelled-out years,
ages, life stages). Case does not matter: Whisper often writes "in the middle ages",
so calendar and era names are matched in any case (:func:`recased`; "may" and "march"
only beside a day number). Dates the patterns do not normalise are resolved with
``dateparser`` where it can ("April 19, 1962" -> "1962-04-19"). Where both sources
find one expression, the pattern's marker is kept (it knows the kind: era, age, ...);
a bare number or month name is left to the patterns, which check its context.

The patterns are deterministic. Handles spoken-style text (numbers spelled out, as
ASR and LJ Speech produce: "fourteen fifty-five", "the fifteenth century") and
tokenised text ("January , 1946"). False positives are avoided by context: a bare
four-digit number is a year only with a time cue before it ("in", "since", a month)
or nothing count-like after it ("1500 copies" is not a year); "May"/"March" are
months only next to a day, a year or a time preposition.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Sequence
from typing import Any

from pipeline_kit.stages._types import TemporalInfo, TemporalMarker

# ------------------------------------------------------------------ number words

_UNITS = "zero one two three four five six seven eight nine".split()
_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORD_UNITS = "first second third fourth fifth sixth seventh eighth ninth".split()
_ORD_TEENS = ("tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth "
              "eighteenth nineteenth").split()
_ORD_TENS = {"twentieth": 20, "thirtieth": 30}
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december"]
_MONTH_ABBR = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8,
               "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12}
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()


def _alt(words: list[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_UNIT_RE = _alt(_UNITS[1:])
_NUM99 = rf"(?:(?:{_alt(_TENS)})(?:[- ](?:{_UNIT_RE}))?|{_alt(_TEENS)}|{_UNIT_RE})"
_NUM = rf"(?:\d{{1,3}}|{_NUM99})"
_ORDINAL = (rf"(?:(?:twenty|thirty)[- ](?:{_alt(_ORD_UNITS)})|{_alt(list(_ORD_TENS))}|"
            rf"{_alt(_ORD_TEENS)}|{_alt(_ORD_UNITS)}|\d{{1,2}}(?:st|nd|rd|th))")


def words_to_int(text: str) -> int | None:
    """Value of a number in digits or words up to 99 ("fifty-five" → 55), else None."""
    t = text.lower().replace("-", " ").split()
    if len(t) == 1 and t[0].isdigit():
        return int(t[0])
    total = 0
    for w in t:
        if w in _UNITS:
            total += _UNITS.index(w)
        elif w in _TEENS:
            total += 10 + _TEENS.index(w)
        elif w in _TENS:
            total += 20 + 10 * _TENS.index(w)
        else:
            return None
    return total if t else None


def ordinal_to_int(text: str) -> int | None:
    """Value of an ordinal ("fifteenth", "15th", "twenty-first") or None."""
    t = text.lower().replace("-", " ").split()
    if len(t) == 1 and re.fullmatch(r"\d+(st|nd|rd|th)", t[0]):
        return int(t[0][:-2])
    total = 0
    for w in t:
        if w in _ORD_UNITS:
            total += 1 + _ORD_UNITS.index(w)
        elif w in _ORD_TEENS:
            total += 10 + _ORD_TEENS.index(w)
        elif w in _ORD_TENS:
            total += _ORD_TENS[w]
        elif w in ("twenty", "thirty"):
            total += 20 if w == "twenty" else 30
        else:
            return None
    return total or None


def _spelled_year(text: str) -> int | None:
    """ "fourteen fifty-five" → 1455, "eighteen hundred" → 1800, "nineteen oh five" → 1905."""
    m = _SPELLED_YEAR_RE.fullmatch(text.lower())
    if not m:
        return None
    hi = words_to_int(m["hi"])
    lo_text = m["lo"]
    if lo_text.startswith("hundred"):
        rest = lo_text[len("hundred"):].replace("and", "").strip()
        lo = words_to_int(rest) if rest else 0
    elif lo_text.startswith(("oh ", "o ")):
        lo = words_to_int(lo_text.split(" ", 1)[1])
    else:
        lo = words_to_int(lo_text)
    if hi is None or lo is None:
        return None
    return hi * 100 + lo


# ------------------------------------------------------------------ patterns

_SPELLED_YEAR_RE = re.compile(
    rf"(?P<hi>{_alt(_TEENS[1:])}|twenty) "
    rf"(?P<lo>hundred(?: and {_NUM99})?|o h? ?(?:{_UNIT_RE})|oh (?:{_UNIT_RE})|"
    rf"(?:{_alt(_TENS)})(?:[- ](?:{_UNIT_RE}))?|{_alt(_TEENS)})",
    re.I)
_B = r"(?<![\w'’-])"  # word start
_E = r"(?![\w-])"  # word end
_MONTH_RE = (rf"(?:{_alt([m.capitalize() for m in _MONTHS])}|"
             rf"(?:{_alt([a.capitalize() for a in _MONTH_ABBR])})\.?)")
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR4 = r"(?:1[0-9]\d\d|20\d\d)"
_SEP = r"\s*,?\s*"
_UNIT_NOUNS = ("second minute hour day night week weekend month year decade century "
               "morning afternoon evening summer winter spring fall autumn season semester").split()
_UNIT_RE_T = rf"(?:{_alt(_UNIT_NOUNS)})"
_UNITS_PL = rf"(?:{_alt([u + 's' for u in _UNIT_NOUNS if u != 'century'] + ['centuries'])})"
_COUNT = rf"(?:{_NUM}|a|an|a few|a couple of|several|many|some)"
_PRONOUN = r"(?:I|he|she|we|they|you|it)"
_POSS = r"(?:(?:my|his|her|their|our|your|the)\s+)"
_SCHOOL = (r"college|high\s+school|grade\s+school|elementary\s+school|middle\s+school|"
           r"junior\s+high|kindergarten|graduate\s+school|grad\s+school|university")
_PERSONAL_STAGE = (r"(?:early\s+)?childhood|infancy|adolescence|youth|boyhood|girlhood|teens|"
                   r"retirement|(?:early|later|last|final|declining|old)\s+years|old\s+age")
# Nouns after a stage word that make it a modifier ("childhood obesity", "college tuition").
_STAGE_AS_MODIFIER = ("obesity|education|poverty|hunger|vaccines?|diseases?|cancers?|tuition|"
                      "loans?|debt|students?|graduates?|degrees?|campus(?:es)?|programs?|"
                      "care|services?|development|teachers?|athletes?|sports?|costs?|fees?|"
                      "enrollment|completion|access|funding|aid")
_PLAIN_MONTHS = _alt([m.capitalize() for m in _MONTHS if m not in ("may", "march")])
_MONTH_EVENT = ("elections?|primary|primaries|ballot|vote|poll|referendum|budget|"
                "statement|meeting|conference|convention|summit|session|deadline|issue|report|"
                "agreement|attacks?|crash|storm|floods?|offensive|uprising|revolution|"
                "campaign|announcement|speech|decision|ruling|strike|figures|numbers|data")

# Words after a four-digit number that show it counts something (so it is not a year).
_COUNT_FOLLOW_OK = frozenset(
    "and or to the a in on at by was were is are when while with through until as after "
    "before saw had has have he she it they we i his her their its which that who elections "
    "election census edition season campaign olympics act war model".split())
_COUNT_NOUNS = frozenset("men people copies feet miles pounds dollars points words pages".split())
_YEAR_CUES = re.compile(
    r"(?:\b(?:in|of|since|from|to|until|till|by|during|before|after|about|around|circa|"
    r"c\.|early|late|mid|year|years|spring|summer|autumn|fall|winter|and|or|between|"
    r"through|than|nor)|[,(–-])\s*$", re.I)
_EVENT_PLURALS = frozenset(
    "olympics games talks midterms primaries caucuses riots protests floods attacks accords "
    "negotiations hearings results figures statistics accounts estimates forecasts budgets "
    "reforms cuts guidelines standards rules regulations amendments".split())
_STRONG_YEAR_CUE = re.compile(r"\b(?:in|since|during|until|year)\s*$", re.I)
_DETERMINER_BEFORE = re.compile(r"(?:\b(?:the|this|that|its|their|our|his|her|whose)|['’]s)"
                                r"(?:\s+(?:first|last|next|new|own|same|whole))?\s*$", re.I)
_NOT_YEAR_BEFORE = re.compile(
    r"(?:[$£€#]\s*|\b(?:pages?|p\.|pp\.|nos?\.|numbers?|sections?|chapters?|chap\.|"
    r"figures?|figs?\.|tables?|rooms?|route|highway|volumes?|vol\.|items?|parts?|lines?|"
    r"code|model|flight|box|rules?|articles?|paragraphs?|exhibit|sec\.)"
    r"(?:\s*\d+\s*[-–,]|\s*\d+\s*,?\s*(?:and|to))?\s*)$", re.I)


def _pattern(kind: str, regex: str, flags: int = re.I):
    return kind, re.compile(regex, flags)


_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    _pattern("date", rf"{_B}(?P<y>{_YEAR4})-(?P<m>[01]\d)-(?P<d>[0-3]\d){_E}"),
    _pattern("date", rf"{_B}(?P<mon>{_MONTH_RE})\s+(?P<d>{_DAY}){_SEP}(?P<y>{_YEAR4}){_E}", 0),
    _pattern("date", rf"{_B}(?P<d>{_DAY})\s+(?:of\s+)?(?P<mon>{_MONTH_RE}){_SEP}"
                     rf"(?P<y>{_YEAR4}){_E}", 0),
    _pattern("date", rf"{_B}(?P<mon>{_MONTH_RE}){_SEP}(?P<y>{_YEAR4}){_E}", 0),
    _pattern("date", rf"{_B}(?P<mon>{_MONTH_RE})\s+(?P<d>{_DAY}){_E}(?!\s*(?:%|percent))", 0),
    _pattern("date", rf"{_B}(?:the\s+)?(?P<d>{_DAY})\s+of\s+(?P<mon>{_MONTH_RE}){_E}", 0),
    _pattern("date", rf"\b(?:[Ii]n|[Ss]ince|[Uu]ntil|[Dd]uring|early|late|mid|last|next|this|"
                     rf"of|by)\s+(?P<span>(?P<mon>{_MONTH_RE})){_E}", 0),
    # A month naming an event: "the November election"; May and March (also verbs and
    # nouns) only before an event noun.
    _pattern("date", rf"\b[Tt]he\s+(?P<span>(?P<mon>{_alt([m.capitalize() for m in _MONTHS])}))"
                     rf"(?=\s+(?:[a-z]+\s+){{0,2}}(?:{_MONTH_EVENT})\b)", 0),
    _pattern("date", rf"\b[Tt]he\s+(?P<span>(?P<mon>{_PLAIN_MONTHS}))(?=\s+[a-z])", 0),
    _pattern("date", rf"{_B}(?P<hol>(?:Election|Inauguration|Independence|Memorial|Labor|"
                     rf"Labour|Veterans|Armistice|Remembrance|Boxing|Christmas|New\s+Year's|"
                     rf"Thanksgiving|Columbus|Presidents|Mother's|Father's|Valentine's)\s+Day|"
                     rf"Christmas\s+Eve|New\s+Year's\s+Eve){_E}", 0),
    # Bare feast names are often modifiers ("Christmas gift"): only after a time preposition.
    _pattern("date", rf"\b(?:at|on|by|before|after|since|until|over|during|for)\s+"
                     rf"(?P<span>(?P<hol>Christmas|Easter|Thanksgiving)){_E}"
                     rf"(?!\s+[a-z]+(?<!and)(?<!or)\b)", 0),
    _pattern("decade", rf"{_B}(?:the\s+)?(?:mid-|early\s+|late\s+)?(?P<y>1[0-9]\d0|20[0-9]0)"
                       rf"\s?'?s{_E}"),
    _pattern("decade", rf"(?:{_B}the\s+(?:mid-|early\s+|late\s+)?)?['’](?P<yy>\d0)\s?s{_E}"),
    _pattern("decade", rf"{_B}the\s+(?:mid-|early\s+|late\s+)?(?:nineteen[- ]|eighteen[- ])?"
                       rf"(?P<w>twenties|thirties|forties|fifties|sixties|seventies|eighties|"
                       rf"nineties){_E}"),
    _pattern("era", rf"{_B}(?:the\s+)?(?:(?:early|late|mid|middle\s+of\s+the)\s*-?\s*)?"
                    rf"(?P<o>{_ORDINAL})(?:\s+and\s+{_ORDINAL})?[- ]centur(?:y|ies){_E}"),
    _pattern("era", rf"{_B}(?:the\s+)?(?:early\s+|late\s+|high\s+)?(?:Middle|Dark)\s+Ages{_E}"
                    rf"|{_B}the\s+(?:Renaissance|Reformation|Enlightenment|Stone\s+Age|"
                    rf"Bronze\s+Age|Iron\s+Age|Industrial\s+Revolution|Great\s+Depression|"
                    rf"Depression|(?:Victorian|Elizabethan|Napoleonic|Edwardian)\s+era){_E}", 0),
    _pattern("age", rf"{_B}(?:when|since|before|after|until)\s+{_PRONOUN}\s+(?:was|were|am|is|"
                    rf"turned|turn|reached)\s+(?:about\s+|only\s+|just\s+)?(?P<n>{_NUM})"
                    rf"(?:\s+years?\s+old)?{_E}(?!\s+(?:feet|foot|inches|miles|pounds|percent))"),
    _pattern("age", rf"{_B}(?:turned|turns|turning)\s+(?P<n>{_NUM}){_E}"
                    rf"(?!\s+(?:feet|foot|inches|miles|pounds|percent|degrees|times))"),
    _pattern("age", rf"{_B}at\s+(?:the\s+)?age\s+(?:of\s+)?(?P<n>{_NUM}){_E}"),
    _pattern("age", rf"{_B}(?:aged|age)\s+(?P<n>{_NUM}){_E}"),
    _pattern("age", rf"{_B}(?P<n>{_NUM})[- ]years?[- ]old{_E}"),
    _pattern("age", rf"{_B}in\s+(?:his|her|my|their|our|your)\s+(?:early\s+|late\s+|mid-)?"
                    rf"(?P<w>teens|twenties|thirties|forties|fifties|sixties|seventies|eighties|"
                    rf"nineties){_E}"),
    # News style "John Pezza, 69, of Providence": a capitalised name, then the age.
    _pattern("age", r"\b[A-Z][a-z]+\s?,\s(?P<span>(?P<n>[1-9]\d?))(?=\s?,)", 0),
    # A life stage is a time only in a temporal frame: "during college", "in his youth",
    # "when she was in college"; "students in college" and "childhood obesity" are not.
    _pattern("life_stage",
             rf"{_B}(?:during|after|before|through|throughout|since)\s+{_POSS}?"
             rf"(?:{_SCHOOL}|{_PERSONAL_STAGE}|the\s+war|the\s+army|the\s+navy|the\s+service|"
             rf"graduation){_E}(?!\s+(?:{_STAGE_AS_MODIFIER})\b)"),
    _pattern("life_stage", rf"{_B}in\s+{_POSS}(?:{_PERSONAL_STAGE}|college\s+years|"
                           rf"school\s+days){_E}"),
    _pattern("life_stage", rf"{_B}(?:(?:when|while)\s+{_PRONOUN}\s+(?:was|were)|while|"
                           rf"{_PRONOUN}\s+(?:was|were)(?:\s+still)?)\s+"
                           rf"(?:in|at)\s+(?:the\s+)?(?:{_SCHOOL}|army|navy|service|"
                           rf"military){_E}"),
    _pattern("life_stage", rf"{_B}as\s+(?:a|an)\s+(?:young\s+|little\s+|small\s+)?(?:child|kid|"
                           rf"boy|girl|teenager|teen|baby|toddler|student|youngster|adult|"
                           rf"young\s+(?:man|woman))\b"),
    _pattern("life_stage", rf"{_B}when\s+{_PRONOUN}\s+(?:was|were)\s+(?:a\s+)?(?:young|little|"
                           rf"small|child|kid|boy|girl|teenager|baby|student){_E}"),
    _pattern("life_stage", rf"{_B}(?:post|pre)-?war{_E}"),
    _pattern("relative", rf"{_B}(?:{_COUNT})(?:\s+or\s+{_NUM})?\s+(?:{_UNITS_PL}|{_UNIT_RE_T})"
                         rf"\s+(?:later|ago|earlier|before|after|afterwards?|hence|previously)"
                         rf"{_E}"),
    _pattern("relative", rf"{_B}(?:{_UNITS_PL})\s+(?:later|ago|earlier|afterwards?){_E}"),
    _pattern("relative", rf"{_B}the\s+(?:next|following|previous|preceding|past|last|coming|"
                         rf"first)\s+(?:{_COUNT}|few|couple\s+of)(?:\s+or\s+{_NUM})?\s+"
                         rf"{_UNITS_PL}{_E}"),
    _pattern("relative", rf"{_B}the\s+(?:next|following|previous|preceding|past|last|coming)\s+"
                         rf"{_UNIT_RE_T}{_E}"),
    # Anchored spans: "within ten years", "in ten years' time", "in the coming decades".
    _pattern("relative", rf"{_B}within\s+(?:the\s+next\s+)?(?:{_COUNT}|few)"
                         rf"(?:\s+or\s+{_NUM})?\s+(?:{_UNITS_PL}|{_UNIT_RE_T}){_E}"),
    _pattern("relative", rf"{_B}in\s+(?:{_COUNT})\s+(?:{_UNITS_PL}|{_UNIT_RE_T})['’]?\s+time"
                         rf"{_E}"),
    _pattern("relative", rf"{_B}the\s+{_UNIT_RE_T}\s+(?:following|after|before){_E}"),
    _pattern("relative", rf"{_B}in\s+(?:the\s+)?(?:coming\s+{_UNITS_PL}|{_UNITS_PL}\s+"
                         rf"(?:ahead|to\s+come))|{_B}(?:at|by|before|until|from)\s+the\s+(?:end|start|"
                         rf"beginning|middle|turn)\s+of\s+(?:the|this|next|last)\s+"
                         rf"{_UNIT_RE_T}{_E}"),
    _pattern("relative", rf"(?<!the\s)(?<!The\s){_B}(?:last|next|this|coming)\s+"
                         rf"(?:{_UNIT_RE_T}|{_alt([w.capitalize() for w in _WEEKDAYS])}|"
                         rf"{_alt([w for w in _WEEKDAYS])})(?!\s+(?:of|'s))\b"),
    _pattern("relative", rf"{_B}(?:yesterday|today|tomorrow|tonight)(?:\s+(?:morning|afternoon|"
                         rf"evening|night))?{_E}|{_B}the\s+other\s+day{_E}|"
                         rf"{_B}the\s+day\s+(?:before|after)(?:\s+(?:yesterday|tomorrow))?{_E}|"
                         rf"{_B}in\s+recent\s+{_UNITS_PL}{_E}"),
    _pattern("relative", rf"{_B}(?:{_alt([w.capitalize() for w in _WEEKDAYS])})(?:\s+(?:morning|"
                         rf"afternoon|evening|night))?{_E}", 0),
]
_SPELLED_YEAR_IN_TEXT = re.compile(rf"{_B}{_SPELLED_YEAR_RE.pattern}{_E}", re.I)
_YEAR_IN_TEXT = re.compile(rf"{_B}(?:['’](?P<yy>\d\d)|(?P<y>{_YEAR4}))(?![\w,.]\d|-\d|\s?'?s\b|%)")
_SHORT_YEAR_CUE = re.compile(r"\b(?:in|of|since|from|until|by|class\s+of|summer\s+of|"
                             r"spring\s+of|fall\s+of|winter\s+of)\s*$", re.I)

_CONF = {"date": 0.95, "decade": 0.9, "era": 0.9, "age": 0.85, "life_stage": 0.75,
         "relative": 0.75, "year": 0.85}


# ------------------------------------------------------------------ normalizers


def _month_number(name: str) -> int:
    key = name.lower().rstrip(".")
    return _MONTHS.index(key) + 1 if key in _MONTHS else _MONTH_ABBR[key[:4] if key == "sept"
                                                                      else key[:3]]


def _norm_date(m: re.Match[str]) -> str | None:
    g = m.groupdict()
    if g.get("hol"):
        return "holiday:" + re.sub(r"\s+", " ", g["hol"])
    mon = int(g["m"]) if g.get("m") else _month_number(g["mon"])
    day = int(re.sub(r"\D", "", g["d"])) if g.get("d") else None
    if not 1 <= mon <= 12 or (day is not None and not 1 <= day <= 31):
        return None
    if g.get("y"):
        return f"{g['y']}-{mon:02d}" + (f"-{day:02d}" if day else "")
    return f"--{mon:02d}" + (f"-{day:02d}" if day else "")


_DECADE_WORDS = {w: 20 + 10 * i for i, w in enumerate(
    "twenties thirties forties fifties sixties seventies eighties nineties".split())}


def _norm_decade(m: re.Match[str]) -> str | None:
    g = m.groupdict()
    if g.get("y"):
        return f"{g['y']}s"
    if g.get("yy"):
        return f"19{g['yy']}s"
    century = "18" if "eighteen" in m.group(0).lower() else "19"
    return f"{century}{_DECADE_WORDS[g['w'].lower()]}s"


def _norm_era(m: re.Match[str]) -> str | None:
    o = m.groupdict().get("o")
    if not o:
        return re.sub(r"\s+", " ", m.group(0)).removeprefix("the ").removeprefix("The ")
    n = ordinal_to_int(o)
    if n is None:
        return None
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix} century"


def _norm_age(m: re.Match[str]) -> str | None:
    g = m.groupdict()
    if g.get("w"):
        return f"age:{_DECADE_WORDS.get(g['w'].lower(), 10 if g['w'] == 'teens' else 0)}s"
    n = words_to_int(g["n"])
    return f"age:{n}" if n is not None and 0 < n < 120 else None


def _norm_stage(m: re.Match[str]) -> str | None:
    words = re.sub(r"[^a-z ]", " ", m.group(0).lower()).split()
    drop = {"in", "during", "through", "since", "my", "his", "her", "the",
            "as", "a", "an", "when", "i", "he", "she", "we", "they", "you", "it", "was", "were"}
    return "life_stage:" + "_".join(w for w in words if w not in drop)


_NORMALIZERS: dict[str, Callable[[re.Match[str]], str | None]] = {
    "date": _norm_date, "decade": _norm_decade, "era": _norm_era, "age": _norm_age,
    "life_stage": _norm_stage, "relative": lambda m: None,
}


# ------------------------------------------------------------------ detection


def _countish(word: str) -> bool:
    """A plural or unit noun, as after a count ("copies", "feet"), not an event ("elections")."""
    return word in _COUNT_NOUNS or (word.endswith("s") and not word.endswith(("ss", "us", "is"))
                                    and word not in _COUNT_FOLLOW_OK and word not in _EVENT_PLURALS)


def _counts_something(before: str, after: str, cued: bool) -> bool:
    """Whether a four-digit number counts things ("1500 copies") rather than naming a year.

    Judged by the next one or two lowercase words: a plural noun there means a count, unless
    a strong time preposition comes first ("in 2012 voters chose"); any other lowercase word
    ("2012 demonstrated", "the 2012 presidential election") needs a cue or a determiner.
    """
    nxt = re.match(r"\s*([a-z]+)(?:\s+([a-z]+))?", after)
    if nxt is None or nxt.group(1) in _COUNT_FOLLOW_OK:
        return False
    determined = bool(_DETERMINER_BEFORE.search(before))
    # "1500 printed copies" counts; "their 1961 tax assessments" is a year before a compound.
    if _countish(nxt.group(1)) or (not determined and nxt.group(2) and _countish(nxt.group(2))):
        return not _STRONG_YEAR_CUE.search(before)
    return not (cued or determined)


def _year_markers(text: str) -> list[TemporalMarker]:
    out = []
    for m in _YEAR_IN_TEXT.finditer(text):
        before = text[max(0, m.start() - 30):m.start()]
        after = text[m.end():m.end() + 30]
        if _NOT_YEAR_BEFORE.search(before):
            continue
        if m["yy"]:  # '85: only after a strong cue ("in '85")
            if _SHORT_YEAR_CUE.search(before):
                out.append(TemporalMarker(m.group(0), "year", m.start(), m.end(),
                                          f"19{m['yy']}", 0.7))
            continue
        cued = bool(_YEAR_CUES.search(before))
        if _counts_something(before, after, cued):
            continue
        conf = 0.9 if cued else 0.7
        out.append(TemporalMarker(m.group(0), "year", m.start(), m.end(), m["y"], conf))
    for m in _SPELLED_YEAR_IN_TEXT.finditer(text):
        y = _spelled_year(m.group(0))
        after = text[m.end():m.end() + 20]
        if y is None or re.match(r"\s*(?:-|years?|feet|foot|miles|pounds|dollars|percent|"
                                 r"men|people|times)\b", after, re.I):
            continue
        cued = bool(re.search(r"\b(?:in|of|year|since|about|around|until|by)\s*$",
                              text[:m.start()], re.I))
        out.append(TemporalMarker(m.group(0), "year", m.start(), m.end(), str(y),
                                  0.85 if cued else 0.65))
    return out


_RECASE = re.compile(
    r"\b(?:" + "|".join(m for m in _MONTHS if m not in ("may", "march")) + "|"
    + "|".join(_WEEKDAYS) + r"|christmas|easter|thanksgiving|new year's|"
    r"(?:middle|dark) ages|renaissance|reformation|enlightenment|(?:stone|bronze|iron) age|"
    r"industrial revolution|great depression|"
    r"(?:victorian|elizabethan|napoleonic|edwardian)(?= era)|"
    r"(?:election|inauguration|independence|memorial|labor|labour|veterans|armistice|"
    r"remembrance|boxing) day)\b"
    r"|\b(?:may|march)(?=\s+(?:[0-3]?\d(?:st|nd|rd|th)?\b|[12]\d\d\d\b))"
    r"|(?<=\d\s)(?:may|march)\b"
    r"|\b(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)(?=\.?\s+[0-3]?\d\b)")


def recased(text: str) -> str:
    """``text`` with lowercase calendar and era names capitalised (same length, same
    offsets): "in the middle ages" -> "in the Middle Ages"; "may" and "march" only
    next to a day number or a year."""
    return _RECASE.sub(lambda m: m.group(0).title().replace("'S", "'s"), text)


def _pattern_markers(text: str) -> list[TemporalMarker]:
    found = _year_markers(text)
    for kind, rx in _PATTERNS:
        for m in rx.finditer(text):
            norm = _NORMALIZERS[kind](m)
            if norm is None and kind not in ("relative",):
                continue
            g = "span" if "span" in rx.groupindex else 0
            found.append(TemporalMarker(m.group(g), kind, m.start(g), m.end(g), norm,
                                        _CONF[kind]))
    return found


Entity = tuple[int, int, str]  # start char, end char, spaCy label


def find_temporal_markers(text: str, entities: Sequence[Entity] | None = None
                          ) -> list[TemporalMarker]:
    """All time expressions in ``text``, in order, without overlaps (longest span wins).

    ``entities``: the parser's entities of ``text`` as ``(start, end, label)`` when the
    caller has them (a chunk of an already parsed transcript); None parses ``text``.
    """
    cased = recased(text)
    found = [dataclasses.replace(m, text=text[m.start_char:m.end_char])
             for m in _pattern_markers(cased)]
    if entities is None:
        entities = parser_entities(text)
    found += [e for e in _entity_markers(text, entities)  # the patterns know kinds better
              if all(e.end_char <= m.start_char or e.start_char >= m.end_char for m in found)]
    found.sort(key=lambda t: (-(t.end_char - t.start_char), t.start_char))
    kept: list[TemporalMarker] = []
    for t in found:
        if all(t.end_char <= k.start_char or t.start_char >= k.end_char for k in kept):
            kept.append(t)
    return sorted(kept, key=lambda t: t.start_char)


def temporal_info(text: str, entities: Sequence[Entity] | None = None) -> TemporalInfo:
    """The markers of ``text`` as a :class:`TemporalInfo` (clarification needed when none)."""
    return TemporalInfo(tuple(find_temporal_markers(text, entities)))


# ------------------------------------------------------------------ parser entities


def parser_entities(text: str) -> list[Entity]:
    """The DATE and TIME entities spaCy finds in ``text``."""
    from pipeline_kit.stages._nlp import parse

    return [(e.start_char, e.end_char, e.label_) for e in parse(text).ents
            if e.label_ in _ENTITY_LABELS]


_ENTITY_LABELS = ("DATE", "TIME")
_NUMBERISH = rf"(?:{_NUM}|a|an|one|a\s+few|few|several|many|some|the|those|these|\d+(?:\.\d+)?)"
# A DATE that measures a stretch or a rate, not a point: "three weeks", "annual".
_DURATION = re.compile(
    rf"^(?:(?:about|almost|nearly|some|over|more\s+than|less\s+than|at\s+least|only|just|"
    rf"the\s+(?:first|last|past|next)|all|a\s+full|another|each|every)\s+)*"
    rf"(?:{_NUMBERISH}[\s-]+)?(?:(?:or|to|and)\s+{_NUMBERISH}\s+)?(?:[a-z]+[\s-]+)?"
    rf"(?:{_UNITS_PL}|{_UNIT_RE_T})(?:[\s-]+(?:long|old))?$"
    r"|^(?:annual|annually|daily|weekly|monthly|yearly|nightly|hourly|quarterly|seasonal|"
    r"biennial|centennial|semester|overnight|age|ages|the\s+age|the\s+day|the\s+year|"
    r"the\s+time|the\s+years|that\s+time|this\s+time|the\s+period|a\s+day|"
    r"the\s+season|the\s+future|the\s+past|the\s+present)$", re.I)
_POINT_WORDS = re.compile(
    rf"\b(?:{_alt(_MONTHS)}|{_alt(_WEEKDAYS)}|yesterday|today|tomorrow|tonight|ago|later|"
    rf"earlier|last|next|this|recent|century|centuries|ages|era|[12]\d\d\d|\d0s|"
    rf"twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties)\b", re.I)


# A bare number or month name: whether it is a year or a date depends on context the
# patterns check ("page 1985", "The March on Washington"), so they decide.
_BARE = re.compile(rf"^(?:[\d\s–-]+|(?:the\s+)?(?:{_alt(_MONTHS)}))$", re.I)


def _entity_markers(text: str, entities: Sequence[Entity]) -> list[TemporalMarker]:
    """Markers from the parser's DATE entities that name a point or period in time."""
    out = []
    for a, b, label in entities:
        span = text[a:b]
        if (label != "DATE" or _DURATION.match(span.strip()) or not _POINT_WORDS.search(span)
                or _BARE.match(span.strip())):
            continue
        out.append(TemporalMarker(span, "date", a, b, resolve_date(span), 0.7))
    return out


@functools.lru_cache(maxsize=1)
def _date_parser() -> Any:
    from dateparser.date import DateDataParser

    return DateDataParser(languages=["en"], settings={"PREFER_DAY_OF_MONTH": "first",
                                                      "RETURN_TIME_AS_PERIOD": True})


_CALENDAR_CORE = re.compile(
    rf"(?:\b[0-3]?\d(?:st|nd|rd|th)?\s+(?:of\s+)?)?\b(?:{_alt(_MONTHS)})\b"
    rf"(?:\s+[0-3]?\d(?:st|nd|rd|th)?\b)?(?:,?\s*[12]\d\d\d\b)?|\b[12]\d\d\d\b", re.I)


def resolve_date(span: str) -> str | None:
    """ISO form of a calendar date dateparser can read ("1962-04", "--04-19"), else None.

    Relative expressions ("last week") are not resolved: they depend on when the
    recording was made, which the text does not say.
    """
    if not re.search(rf"\b(?:{_alt(_MONTHS)}|[12]\d\d\d)\b", span, re.I):
        return None
    span = re.sub(r"\s+,", ",", span)
    data = _date_parser().get_date_data(span)
    core = _CALENDAR_CORE.search(span)
    if data.date_obj is None and core:  # "the first week of April 1962": read "April 1962"
        span = core.group(0)
        data = _date_parser().get_date_data(span)
    d, period = data.date_obj, data.period
    if d is None:
        return None
    has_year = bool(re.search(r"\b[12]\d\d\d\b", span))
    day = f"-{d.day:02d}" if period == "day" else ""
    if period == "year":
        return f"{d.year}" if has_year else None
    return f"{d.year}-{d.month:02d}{day}" if has_year else f"--{d.month:02d}{day}"
