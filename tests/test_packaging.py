"""The dependency files agree: pyproject, the lock and environment.yml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_names() -> set[str]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in ("dev", "dask", "api", "postgres"):
        reqs += meta["optional-dependencies"][extra]
    return {_name(r) for r in reqs}


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements" / "lock.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"lock line is not an exact pin: {line!r}"
            pins[_name(name)] = version
    return pins


def test_environment_yml_names_the_same_packages_as_pyproject():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-c requirements/lock.txt" in pip_section
    assert "-e ." in pip_section
    names = {_name(x) for x in pip_section if not x.startswith("-")}
    assert names == _pyproject_names()


def test_every_dependency_is_pinned_in_the_lock():
    pins = _lock()
    missing = _pyproject_names() - set(pins)
    assert not missing, f"not in requirements/lock.txt: {sorted(missing)}"
    assert pins["whisperx"].startswith("3.8.")
    major = int(pins["huggingface-hub"].split(".")[0])
    assert major < 1, "whisperx 3.8 needs huggingface-hub < 1.0"


def test_installed_versions_match_the_lock():
    from importlib.metadata import version

    pins = _lock()
    for name in ("whisperx", "sentence-transformers", "huggingface-hub", "torch", "networkx"):
        assert version(name) == pins[name], name
