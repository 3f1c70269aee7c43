"""The collection's DuckDB file: telling a damaged file from other errors, and setting
one aside so the index (derived data) can be rebuilt from the runs' artifacts."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger("pipeline_kit.collection")

# What DuckDB 1.x/2.x says about a file it cannot trust; a lock held by another
# process ("Could not set lock on file") is an IOException too, and is not one of these.
_DAMAGE = ("Corrupt database file", "not a valid DuckDB database file",
           "Could not read enough bytes from file", "Serialization Error")


def is_damaged(error: BaseException) -> bool:
    """True when ``error`` is DuckDB refusing a corrupt, truncated or foreign file."""
    import duckdb

    return isinstance(error, duckdb.Error) and any(s in str(error) for s in _DAMAGE)


def set_aside(db_path: Path) -> Path:
    """Rename ``db_path`` (and its write-ahead log) to ``<name>.corrupt-<UTC time>``;
    the new path. Kept, not deleted: the file may matter to whoever investigates."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    aside = db_path.with_name(f"{db_path.name}.corrupt-{stamp}")
    db_path.rename(aside)
    wal = db_path.with_name(db_path.name + ".wal")
    if wal.exists():
        wal.rename(aside.with_name(aside.name + ".wal"))
    return aside
