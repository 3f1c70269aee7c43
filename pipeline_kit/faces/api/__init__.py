"""HTTP API (optional extra ``api``): the seed's routes over the task manager.

:func:`create_app` builds the FastAPI app, :func:`serve` runs it with uvicorn
(``pipeline-kit serve``). This package imports FastAPI only when those are used,
so :mod:`pipeline_kit.faces.api._jobs` (task functions a retry may import in any
process) works without the extra.
"""

from __future__ import annotations

import importlib.util
from typing import Any

EXTRA_HINT = "install the optional extra 'api': pip install 'pipeline_kit[api]'"
_NEEDED = ("fastapi", "uvicorn", "multipart")


class ApiNotInstalledError(ImportError):
    """FastAPI, uvicorn or python-multipart is missing (the ``api`` extra)."""


def require_api() -> None:
    """Raise :class:`ApiNotInstalledError` naming the extra when a dependency is missing."""
    missing = [m for m in _NEEDED if importlib.util.find_spec(m) is None]
    if missing:
        names = ", ".join("python-multipart" if m == "multipart" else m for m in missing)
        raise ApiNotInstalledError(f"the HTTP API needs {names}: {EXTRA_HINT}")


def __getattr__(name: str) -> Any:
    if name == "create_app":
        require_api()
        from pipeline_kit.faces.api._app import create_app

        return create_app
    if name == "serve":
        require_api()
        from pipeline_kit.faces.api._server import serve

        return serve
    if name == "ApiLimits":
        from pipeline_kit.faces.api._config import ApiLimits

        return ApiLimits
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EXTRA_HINT", "ApiLimits", "ApiNotInstalledError", "create_app", "require_api",
           "serve"]
