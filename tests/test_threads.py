"""Engine threads come from the cores this process may use and its number of siblings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from wavdata import write_scaled_wav

from pipeline_kit.base import _threads
from pipeline_kit.base._threads import (
    available_cores,
    cgroup_cpu_limit,
    engine_threads,
    one_torch_thread,
    share_env,
    share_of,
    siblings,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv(_threads.ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def test_affinity_mask_limits_the_cores():
    code = "from pipeline_kit.base._threads import available_cores as a; print(a())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO, preexec_fn=lambda: os.sched_setaffinity(0, {0}))
    assert out.stdout.strip() == "1"
    assert available_cores() == min(len(os.sched_getaffinity(0)),
                                    int(cgroup_cpu_limit() or 10**6))


@pytest.mark.parametrize("files, expected", [
    ({"cpu.max": "150000 100000\n"}, 1.5),
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3.0),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({}, None),
])
def test_cgroup_quota_v2_and_v1(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_limit(tmp_path) == expected


def test_share_for_sibling_workers():
    assert share_of(2, cores=2) == 1
    assert share_of(3, cores=8) == 2
    assert share_of(4, cores=2) == 1  # never 0
    with pytest.raises(ValueError, match="workers"):
        share_of(0)


def test_precedence_argument_env_siblings_omp(monkeypatch):
    cores = available_cores()
    assert engine_threads() == cores
    with siblings(cores):
        assert engine_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert engine_threads() == 1
    monkeypatch.setenv(_threads.ENV, "3")
    assert engine_threads() == 3  # explicit for pipeline-kit beats OMP's
    assert engine_threads(5) == 5
    monkeypatch.setenv(_threads.ENV, "zero")
    with pytest.raises(ValueError, match="PIPELINE_KIT_THREADS"):
        engine_threads()
    with pytest.raises(ValueError, match="threads"):
        engine_threads(0)


def test_share_env_sets_and_restores():
    with share_env(available_cores()) as n:
        assert n == 1 and os.environ[_threads.ENV] == "1"
        assert engine_threads() == 1
    assert _threads.ENV not in os.environ


@pytest.mark.slow
def test_threads_argument_reaches_the_engine_and_metadata(sample_dir):
    from pipeline_kit.stages._transcription import transcribe

    t = transcribe(sample_dir / "sense_and_sensibility_01_austen_64kb-0880.wav", threads=1)
    assert t.metadata["threads"] == {"ctranslate2": 1, "vad_onnxruntime": 1}
    assert t.metadata["vad_engine"] == "silero-vad-onnx" and t.words
    assert t.model.threads == 1 and t.model.vad == "silero-vad-onnx"


@pytest.mark.slow
def test_batch_with_2_jobs_gives_each_process_its_share(sample_dir, tmp_path):
    """``pipeline-kit batch --jobs 2`` (a kernel per file): each engine used <= cores // 2."""
    src = sample_dir / "sense_and_sensibility_01_austen_64kb-0880.wav"
    files = [write_scaled_wav(src, tmp_path / f"f{i}.wav", 1.0 - 0.01 * i) for i in range(2)]
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline_kit.faces.cli",
         "batch", *map(str, files), "--stages", "transcription", "--jobs", "2", "--quiet",
         "--out", str(out)],
        capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    share = share_of(2)
    for f in files:
        saved = json.loads((out / f.stem / "transcript.json").read_text())
        meta = saved["metadata"]
        assert saved["model"]["threads"] == meta["threads"]["ctranslate2"]
        assert meta["threads"]["ctranslate2"] <= share, meta
        assert meta["threads"]["vad_onnxruntime"] <= share
        assert meta["vad_engine"] == "silero-vad-onnx"


def test_one_torch_thread_holds_torch_to_one_thread_and_restores_it():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with one_torch_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), one_torch_thread():
            raise RuntimeError("restored on errors too")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
