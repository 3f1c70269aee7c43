"""The main job on the bundled sample: what `make demo` runs.

Executes the four notebooks headless with papermill on the bundled sample —
01 runs the whole pipeline, 02 explores its graph, 03 sweeps chunking settings on
its transcript and compares two runs, 04 indexes the run into a collection and
searches it — renders each to HTML, and reports the transcript's word error rate
against the bundled reference.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline_kit.base._fs import default_home
from pipeline_kit.stages._evaluation import word_error_rate

REPO = Path(__file__).resolve().parents[3]
NOTEBOOKS = REPO / "notebooks"
SAMPLE = REPO / "data" / "sample" / "voices_sample.wav"


def _execute(name: str, out_dir: Path, parameters: dict) -> tuple[Path, Path]:
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    out = out_dir / name
    papermill.execute_notebook(
        str(NOTEBOOKS / name), str(out), parameters=parameters, kernel_name="python3",
        cwd=str(NOTEBOOKS), progress_bar=False, log_output=False,
    )
    html, _ = HTMLExporter().from_notebook_node(nbformat.read(out, as_version=4))
    html_path = out.with_suffix(".html")
    html_path.write_text(html, encoding="utf-8")
    return out, html_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--audio", type=Path, default=SAMPLE)
    ap.add_argument("--out", type=Path, default=Path("out"))
    args = ap.parse_args(argv)
    out = args.out.resolve()
    nb_dir = out / "notebooks"
    nb_dir.mkdir(parents=True, exist_ok=True)
    run_dir = out / "run"
    audio = str(args.audio.resolve())
    home = default_home()  # shared with the CLI: `pipeline-kit runs` lists the demo's run
    executed = [
        _execute("01_run_pipeline.ipynb", nb_dir,
                 {"audio_path": audio, "output_dir": str(run_dir), "diarize": True}),
        _execute("02_explore_graph.ipynb", nb_dir, {"run_dir": str(run_dir)}),
        _execute("03_chunking_experiments.ipynb", nb_dir,
                 {"transcript_path": str(run_dir / "transcript.json"),
                  "output_dir": str(out / "experiments")}),
        _execute("04_collection.ipynb", nb_dir, {"homes": [str(home)]}),
    ]
    transcript = json.loads((run_dir / "transcript.json").read_text(encoding="utf-8"))
    print(f"transcribed {args.audio.name}: {transcript['audio_duration_seconds']:.1f} s of "
          f"audio, {len(transcript['words'])} words, model {transcript['model']['name']}")
    ref = args.audio.with_suffix(".txt")
    if ref.exists():
        wer = word_error_rate(ref.read_text(encoding="utf-8"), transcript["text"])
        print(f"word error rate against {ref.name}: {wer:.1%}")
    print(f"pipeline results: {run_dir} (home {home}: task store, cache, run records)")
    for nb, html in executed:
        print(f"executed notebook: {nb}\n              html: {html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
