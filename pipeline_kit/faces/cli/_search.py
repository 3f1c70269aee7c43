"""``pipeline-kit search``: the best chunks for a query, searched here or by a running server.

Here (``search HOME QUERY``): the collection index of HOME is opened in this process;
the query is embedded with ONNX Runtime once the model has been exported on this
machine (see :mod:`pipeline_kit.stages._onnx_embedder`), so no torch loads.
By a server (``search QUERY --server URL``): a running ``pipeline-kit serve`` answers
from the index and model it keeps loaded (its ``GET /search``); this process imports
nothing but the standard library.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

TOKEN_ENV = "PIPELINE_KIT_API_TOKEN"


class SearchServerError(RuntimeError):
    """The server could not be reached or refused the query."""


def local_hits(home: str, query: str, k: int, mode: str) -> list[dict[str, Any]]:
    """The hits of ``query`` in the collection of ``home``, searched in this process."""
    from pipeline_kit.collection._collection import Collection

    hits = Collection(home).search(query, k=k, mode=mode)
    return hits.to_dict(orient="records")


def server_hits(url: str, query: str, k: int, mode: str, token: str | None,
                timeout: float = 120.0) -> list[dict[str, Any]]:
    """The hits of ``query`` from the ``GET /search`` of the server at ``url``."""
    base = check_server_url(url)
    params = urllib.parse.urlencode({"q": query, "k": k, "mode": mode})
    request = urllib.request.Request(f"{base}/search?{params}",
                                     headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        raise SearchServerError(f"{base}/search answered {e.code}: {_detail(e)}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise SearchServerError(f"cannot reach {base} ({reason}): is 'pipeline-kit serve' "
                                "running there?") from None
    except ValueError as e:
        raise SearchServerError(f"{base}/search did not answer JSON ({e})") from None
    hits = body.get("hits") if isinstance(body, dict) else None
    if not isinstance(hits, list):
        raise SearchServerError(f"{base}/search answered without a list of hits")
    return hits


def check_server_url(url: str) -> str:
    """``url`` without its trailing slash; ValueError unless it is an http(s) URL."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--server {url!r}: give an http:// or https:// URL")
    return url.rstrip("/")


def _detail(error: urllib.error.HTTPError) -> str:
    """The ``detail`` of an API error body, else its first line."""
    text = error.read().decode("utf-8", errors="replace")
    try:
        detail = json.loads(text).get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else (text.strip().splitlines() or [error.reason])[0]


def server_token(token_file: str | None) -> str | None:
    """The bearer token: ``--token-file``'s content, else ``$PIPELINE_KIT_API_TOKEN``."""
    if token_file is None:
        return os.environ.get(TOKEN_ENV) or None
    try:
        token = Path(token_file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"--token-file {token_file}: cannot read it ({e})") from None
    if not token:
        raise ValueError(f"--token-file {token_file} is empty")
    return token


def print_hits(hits: list[dict[str, Any]], as_json: bool) -> None:
    """One line per hit (score, recording, time range, chunk, snippet), or JSON lines."""
    if as_json:
        for row in hits:
            print(json.dumps(row, ensure_ascii=False, default=str))
        return
    if not hits:
        print("no hits")
    from pipeline_kit.base._reprs import marks_to_terminal, span

    tty = sys.stdout.isatty()
    for h in hits:
        print(f"{h['score']:.4f}  {h['recording']}  {_span(h, span):>11}  "
              f"{h['chunk_id']}  {marks_to_terminal(h['snippet'], tty)}")


def _span(hit: dict[str, Any], span: Any) -> str:
    """The hit's time range in the one time format (m:ss), '?' where a time is missing."""
    a, b = hit.get("start_time"), hit.get("end_time")
    ok = all(isinstance(v, (int, float)) for v in (a, b))
    return span(a, b) if ok else "?"
