"""A real ``pipeline-kit serve`` process for tests: start it, wait for /health, stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running ``pipeline-kit serve`` process."""

    def __init__(self, home: Path, port: int, proc: subprocess.Popen, log: Path,
                 token: str | None) -> None:
        self.home, self.port, self.proc, self.log, self.token = home, port, proc, log, token
        self.url = f"http://127.0.0.1:{port}"

    def client(self, token: str | None = "") -> httpx.Client:
        """A client sending ``token`` (default: the server's own)."""
        token = self.token if token == "" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """Terminate (SIGTERM, then SIGKILL after 15 s) and wait."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(home: Path, *args: str, token: str | None = None,
                 env: dict[str, str] | None = None, log: Path | None = None) -> Server:
    """``pipeline-kit serve --home home *args`` on a free port, token from the environment.

    Fails the test (with the server's log) when /health does not answer within 60 s.
    """
    log = log or home.parent / f"server-{home.name}.log"
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PIPELINE_KIT_API_TOKEN": token or "",
           **(env or {})}
    cmd = [sys.executable, "-m", "pipeline_kit.faces.cli", "serve", "--host", "127.0.0.1",
           "--port", str(port), "--home", str(home), "--log-level", "warning", *args]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    srv = Server(home, port, proc, log, token)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{srv.url}/health", timeout=2).status_code == 200:
                return srv
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
