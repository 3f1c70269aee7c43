"""Validation of client-supplied ids (uploads, audio, later HTTP resources).

An id becomes a folder name, so it must never be able to name anything outside
its parent folder: only ``[A-Za-z0-9._-]``, at most 128 characters, not ``.`` or
``..``, no path separators, no absolute or drive paths.
"""

from __future__ import annotations

import re
import uuid

MAX_ID_LENGTH = 128
ALLOWED_ID_CHARS = "A-Z a-z 0-9 . _ -"
_ID_RE = re.compile(r"[A-Za-z0-9._-]+")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


class InvalidIdError(ValueError):
    """An id that is not safe to use as a file or folder name.

    ``kind`` says which id (``"upload id"``), ``value`` is what was given and
    ``reason`` says what is wrong with it.
    """

    def __init__(self, kind: str, value: object, reason: str) -> None:
        self.kind, self.value, self.reason = kind, value, reason
        super().__init__(f"invalid {kind} {shorten_repr(value)}: {reason}")


def shorten_repr(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters with ``...`` when longer."""
    r = repr(value)
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _problem(value: object) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, not {type(value).__name__}"
    if not value:
        return "must not be empty"
    if len(value) > MAX_ID_LENGTH:
        return f"is {len(value)} characters long (at most {MAX_ID_LENGTH})"
    if value in (".", ".."):
        return "must not be '.' or '..'"
    if value.startswith(("/", "\\")) or _DRIVE_RE.match(value):
        return "must not be an absolute path"
    if "/" in value or "\\" in value:
        return "must not contain a path separator"
    if not _ID_RE.fullmatch(value):
        bad = sorted({c for c in value if not _ID_RE.fullmatch(c)})
        shown = "".join(bad[:8])
        return f"contains {shown!r}; only {ALLOWED_ID_CHARS} are allowed"
    return None


def validate_id(value: object, kind: str = "id") -> str:
    """Return ``value`` when it is a safe id, else raise :class:`InvalidIdError`."""
    problem = _problem(value)
    if problem is not None:
        raise InvalidIdError(kind, value, problem)
    assert isinstance(value, str)
    return value


def is_valid_id(value: object) -> bool:
    """True when :func:`validate_id` would accept ``value``."""
    return _problem(value) is None


def new_id() -> str:
    """A fresh random id (32 hex digits) that always passes :func:`validate_id`."""
    return uuid.uuid4().hex


def id_from_name(name: str, fallback: str = "audio") -> str:
    """Turn a file name stem into a valid id: unsafe characters become ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:MAX_ID_LENGTH]
    return cleaned if is_valid_id(cleaned) else fallback
