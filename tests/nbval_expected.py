"""Expected outputs of the notebooks' key-result cells, kept beside them, not in them.

The committed notebooks hold no outputs, but nbval can only compare a cell's output
with one stored in the notebook. ``make test-notebooks`` therefore copies the
notebooks to a temporary folder and runs ``python tests/nbval_expected.py insert DIR``
there: every cell tagged ``nbval-check-output`` gets its expected output from
``notebooks/expected_outputs.json`` (per notebook, one text per tagged cell, in order),
and nbval (with ``notebooks/sanitize.cfg`` for paths and times) compares it with what
the cell prints.

``python tests/nbval_expected.py record DIR`` reads notebooks executed in ``DIR``
(papermill output) and writes their key-result outputs to the JSON file, after a
deliberate change of results.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

TAG = "nbval-check-output"
EXPECTED = Path(__file__).resolve().parents[1] / "notebooks" / "expected_outputs.json"


def _tagged(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code" and TAG in c.metadata.get("tags", [])]


def insert(folder: Path) -> None:
    """Give each tagged cell of the notebooks in ``folder`` its expected output."""
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells = _tagged(nb)
        texts = expected.get(path.stem, [])
        if len(texts) != len(cells):
            raise SystemExit(f"{path.name}: {len(cells)} cells tagged {TAG}, "
                             f"{len(texts)} expected outputs in {EXPECTED.name}")
        for cell, text in zip(cells, texts, strict=True):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
            cell.execution_count = 1  # nbval refuses outputs of a cell never run
        nbformat.write(nb, path)


def record(folder: Path) -> None:
    """Write the tagged cells' printed output of executed notebooks in ``folder``."""
    out: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.ipynb")):
        cells = _tagged(nbformat.read(path, as_version=4))
        if cells:
            out[path.stem] = ["".join(o.get("text", "") for o in c.outputs
                                      if o.get("output_type") == "stream") for c in cells]
    EXPECTED.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("insert", "record"):
        raise SystemExit("usage: nbval_expected.py insert|record FOLDER")
    {"insert": insert, "record": record}[sys.argv[1]](Path(sys.argv[2]))
