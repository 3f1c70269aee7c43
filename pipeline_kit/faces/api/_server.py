"""Run the API with uvicorn (``pipeline-kit serve``), warning when it is open to a network."""

from __future__ import annotations

import ipaddress
import logging
import os

from pipeline_kit.faces.api._config import TOKEN_ENV, ApiLimits, resolve_token

log = logging.getLogger("pipeline_kit.faces.api")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def open_warning(host: str, token: str | None) -> str | None:
    """The warning to log when serving beyond this machine without a token, else None."""
    if token or is_loopback(host):
        return None
    return (f"serving on {host} without a token: anyone who can reach this address can "
            f"upload audio and start work; set ${TOKEN_ENV} or pass --token-file")


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    home: str | os.PathLike[str] | None = None,
    token: str | None = None,
    limits: ApiLimits | None = None,
    log_level: str = "info",
    store: str | os.PathLike[str] | None = None,
) -> None:
    """Serve :func:`~pipeline_kit.faces.api._app.create_app` until interrupted."""
    import uvicorn

    from pipeline_kit.faces.api._app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    token = resolve_token(token)
    warning = open_warning(host, token)
    if warning:
        log.warning(warning)
    app = create_app(home, token, limits, store)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
