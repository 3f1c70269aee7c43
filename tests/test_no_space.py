"""A full disk names the folder and what was being written (issue 32). The fault is
injected at the write system call: os.write raising ENOSPC, as a full disk does."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from pipeline_kit.base._fs import atomic_write_bytes
from pipeline_kit.ingest._upload import AudioLibrary


class Disk:
    """The test's folder as a disk that fills up: once ``full``, os.write of any file
    in it fails with ENOSPC, as the kernel's write does on a full disk."""

    def __init__(self, root: Path) -> None:
        self.root, self.full, self.refused = root, False, 0


@pytest.fixture
def disk(monkeypatch, tmp_path) -> Disk:
    d = Disk(tmp_path)
    real = os.write

    def write(fd: int, data) -> int:
        if d.full and Path(os.readlink(f"/proc/self/fd/{fd}")).is_relative_to(d.root):
            d.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, data)

    monkeypatch.setattr(os, "write", write)
    return d


def test_an_atomic_write_on_a_full_disk_names_the_folder_and_the_file(tmp_path, disk):
    target = tmp_path / "records" / "record.json"
    disk.full = True
    with pytest.raises(OSError) as e:  # was: "[Errno 28] No space left on device" alone
        atomic_write_bytes(target, b"{}")
    assert e.value.errno == errno.ENOSPC
    assert "writing record.json in " + str(target.parent) in str(e.value)
    assert disk.refused and list(target.parent.iterdir()) == []  # no temp file left


def test_a_chunk_on_a_full_disk_names_the_upload_and_its_folder(tmp_path, disk):
    lib = AudioLibrary(tmp_path / "audio")
    lib.start_upload("u1", expected_chunks=2, filename="a.wav")
    disk.full = True
    with pytest.raises(OSError) as e:
        lib.receive_chunk("u1", 0, b"x" * 1000)
    chunks = tmp_path / "audio" / "uploads" / "u1" / "chunks"
    assert f"writing chunk 0 of upload u1 in {chunks}" in str(e.value)
    assert disk.refused and list(chunks.iterdir()) == []
