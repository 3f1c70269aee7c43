"""Compare two runs of the same recording: what a change of parameters or model changed.

:func:`compare_runs` lines up two :class:`~pipeline_kit.PipelineResult` objects: the
parameters that differ, both runs' chunk boundaries and chapters on one timeline,
the questions only one run asked, and the word-level transcript diff (empty when
both runs used the same model and so heard the same words).
"""

from __future__ import annotations

import difflib
import html
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pipeline_kit.base._reprs import span
from pipeline_kit.stages._text import join_words

_IGNORED_PARAMS = ("executor",)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _sha(result: Any) -> str | None:
    inputs = result.run_record.get("inputs") or [{}]
    return inputs[0].get("sha256")


def param_diff(a: Any, b: Any) -> pd.DataFrame:
    """Parameters (and the model) whose values differ between the runs."""
    pa = {**a.run_record.get("parameters", {}), "model": a.run_record.get("model")}
    pb = {**b.run_record.get("parameters", {}), "model": b.run_record.get("model")}
    rows = [{"parameter": k, "a": pa.get(k), "b": pb.get(k)}
            for k in sorted(set(pa) | set(pb))
            if k not in _IGNORED_PARAMS and pa.get(k) != pb.get(k)]
    return pd.DataFrame(rows, columns=["parameter", "a", "b"])


def _spans(records: Any, run: str, key: str) -> list[dict[str, Any]]:
    return [{"run": run, key: getattr(r, key), "start_time": float(r.start_time),
             "end_time": float(r.end_time),
             **({"title": r.title} if hasattr(r, "title") else {})} for r in records or []]


def question_diff(a: Any, b: Any) -> pd.DataFrame:
    """Questions asked by only one run (``run`` is "a" or "b"), compared by their text."""
    qa = {_norm(q.text): q for q in a.questions or []}
    qb = {_norm(q.text): q for q in b.questions or []}
    rows = [{"run": run, "text": q.text, "type": q.type, "answer": q.answer,
             "start_time": q.start_time, "end_time": q.end_time}
            for run, mine, other in (("a", qa, qb), ("b", qb, qa))
            for k, q in mine.items() if k not in other]
    return pd.DataFrame(rows, columns=["run", "text", "type", "answer", "start_time",
                                       "end_time"])


def transcript_diff(a: Any, b: Any) -> pd.DataFrame:
    """Word-level differences of the two transcripts: one row per replaced, deleted or
    inserted stretch, with its time in run a (or b for an insertion)."""
    wa = list(a.transcript.words) if a.transcript is not None else []
    wb = list(b.transcript.words) if b.transcript is not None else []
    sm = difflib.SequenceMatcher(None, [_norm(w.text) for w in wa], [_norm(w.text) for w in wb],
                                 autojunk=False)
    rows = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            continue
        at = wa[i1:i2] or wb[j1:j2]
        rows.append({"op": op, "a": join_words(wa[i1:i2]),
                     "b": join_words(wb[j1:j2]),
                     "start_time": at[0].start, "end_time": at[-1].end})
    return pd.DataFrame(rows, columns=["op", "a", "b", "start_time", "end_time"])


@dataclass(frozen=True)
class RunComparison:
    """Two runs side by side (see :func:`compare_runs`); tables have a ``run`` column."""

    a: Any
    b: Any
    params: pd.DataFrame
    boundaries: pd.DataFrame  # chunks of both runs: run, chunk_id, start_time, end_time
    chapters: pd.DataFrame  # chapters of both runs: run, chapter_index, title, times
    questions: pd.DataFrame  # questions only one run asked
    transcript: pd.DataFrame  # word-level differences (empty for identical transcripts)

    def shared_boundaries(self, tolerance: float = 1.0) -> int:
        """How many of run a's chunk starts lie within ``tolerance`` s of one of run b's."""
        sa = self.boundaries.loc[self.boundaries["run"] == "a", "start_time"]
        sb = self.boundaries.loc[self.boundaries["run"] == "b", "start_time"].to_numpy()
        return int(sum(bool(len(sb)) and abs(sb - t).min() <= tolerance for t in sa))

    def summary(self) -> str:
        """A few lines: what differs, and how much of the result it changed."""
        n = self.boundaries["run"].value_counts()
        c = self.chapters["run"].value_counts()
        q = self.questions["run"].value_counts()
        changed = ", ".join(f"{r.parameter} {r.a!r} → {r.b!r}" for r in self.params.itertuples())
        return "\n".join([
            f"runs       a={self.a.run_id}  b={self.b.run_id}",
            f"changed    {changed or 'nothing'}",
            f"chunks     a {n.get('a', 0)}, b {n.get('b', 0)} "
            f"({self.shared_boundaries()} of a's starts within 1 s of b's)",
            f"chapters   a {c.get('a', 0)}, b {c.get('b', 0)}",
            f"questions  only in a {q.get('a', 0)}, only in b {q.get('b', 0)}",
            f"transcript {len(self.transcript)} differing stretches",
        ])

    def plot(self, ax: Any = None) -> TimelinePlot:
        """Chunk boundaries and chapters of both runs on one timeline (m:ss).

        Shows as the picture in a notebook (not as ``<Axes ...>``); ``.ax`` and
        ``.figure`` are matplotlib's. Without ``ax`` the figure is left out of pyplot's
        list, so the notebook shows it once.
        """
        import matplotlib.pyplot as plt

        from pipeline_kit.notebook._speaker_views import mss_axis

        own = ax is None
        if ax is None:
            _, ax = plt.subplots(figsize=(11, 2.6))
        rows = {("a", "chapters"): 3, ("a", "chunks"): 2, ("b", "chunks"): 1,
                ("b", "chapters"): 0}
        shades = {"chunks": ("#4e79a7", "#a0cbe8"), "chapters": ("#59a14f", "#8cd17d")}
        for kind, df in (("chunks", self.boundaries), ("chapters", self.chapters)):
            for run in ("a", "b"):
                part = df[df["run"] == run].sort_values("start_time").reset_index(drop=True)
                y = rows[(run, kind)]
                for i, r in part.iterrows():
                    ax.broken_barh([(r["start_time"], r["end_time"] - r["start_time"])],
                                   (y - 0.4, 0.8), facecolors=shades[kind][i % 2],
                                   edgecolors="white")
        ax.set_yticks(list(rows.values()), [f"{run} {kind}" for run, kind in rows])
        mss_axis(ax)
        ax.set_title("chunk boundaries and chapters: run a above, run b below")
        if own:
            plt.close(ax.figure)  # shown by the returned object, not again by the backend
        return TimelinePlot(ax.figure, ax)

    def __repr__(self) -> str:
        return f"RunComparison(\n{self.summary()}\n)"

    def _repr_html_(self) -> str:
        """What changed, the timeline of both runs and the questions only one asked."""
        import base64

        png = base64.b64encode(self.plot()._repr_png_()).decode("ascii")
        questions = self.questions.assign(
            time=[span(s, e) for s, e in zip(self.questions["start_time"],
                                             self.questions["end_time"], strict=True)]
        )[["run", "time", "type", "text"]]
        return "".join([
            f"<div><b>Comparison of run a {html.escape(self.a.run_id[:8])} and run b "
            f"{html.escape(self.b.run_id[:8])}</b>",
            f"<pre style='margin:4px 0'>{html.escape(self.summary())}</pre>",
            "<div><b>parameters that differ</b></div>",
            self.params.to_html(index=False, escape=True) if len(self.params)
            else "<p>none</p>",
            f"<div><img style='max-width:100%' src='data:image/png;base64,{png}' "
            "alt='chunk boundaries and chapters of runs a and b'></div>",
            "<div><b>questions only one run asked</b></div>",
            questions.to_html(index=False, escape=True) if len(questions) else "<p>none</p>",
            "</div>"])


@dataclass(frozen=True)
class TimelinePlot:
    """The picture :meth:`RunComparison.plot` drew: a figure that shows itself once."""

    figure: Any
    ax: Any

    def _repr_png_(self) -> bytes:
        import io

        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", bbox_inches="tight", dpi=80)
        return buf.getvalue()

    def __repr__(self) -> str:
        return "TimelinePlot(chunk boundaries and chapters of runs a and b)"


def compare_runs(a: Any, b: Any) -> RunComparison:
    """Compare two runs of the same recording (ValueError when the audio differs)."""
    for name, r in (("a", a), ("b", b)):
        if getattr(r, "run_record", None) is None:
            raise TypeError(f"run {name} is not a PipelineResult: {type(r).__name__}")
    if _sha(a) != _sha(b):
        raise ValueError(f"the runs are of different recordings (sha256 {_sha(a)} and "
                         f"{_sha(b)}); compare_runs compares runs of the same audio")
    boundaries = pd.DataFrame(_spans(a.chunks, "a", "chunk_id") + _spans(b.chunks, "b", "chunk_id"),
                              columns=["run", "chunk_id", "start_time", "end_time"])
    chapters = pd.DataFrame(_spans(a.chapters, "a", "chapter_index")
                            + _spans(b.chapters, "b", "chapter_index"),
                            columns=["run", "chapter_index", "start_time", "end_time", "title"])
    return RunComparison(a, b, param_diff(a, b), boundaries, chapters, question_diff(a, b),
                         transcript_diff(a, b))

