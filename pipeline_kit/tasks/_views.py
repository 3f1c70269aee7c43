"""Where a manager's live views come from, without the tasks package knowing any view.

The display module registers itself here when it is imported (``import
pipeline_kit`` does that); ``TaskManager.display()``, ``.panel()`` and a handle shown
in Jupyter ask this hook. Like dask.distributed's progress bars, the renderers
live outside the core and only subscribe to the manager's feed.
"""

from __future__ import annotations

from typing import Any, Protocol


class Views(Protocol):
    """What a display module offers the task manager."""

    def show(self, manager: Any, *, mode: str | None = None, select: Any = None,
             **kwargs: Any) -> Any:
        """Display a live view of ``manager``'s tasks (or of ``select``)."""

    def panel(self, manager: Any, **kwargs: Any) -> Any:
        """A widget panel of ``manager``'s tasks, not yet displayed."""

    def follow(self, manager: Any, handle: Any) -> Any:
        """Show ``handle``'s progress the default way; the view has a ``finish()``."""


_views: Views | None = None


def register_views(views: Views) -> None:
    """Make ``views`` the renderer of every manager (the display module calls this)."""
    global _views
    _views = views


def views() -> Views:
    """The registered views; a clear error when no display module was loaded."""
    if _views is None:
        raise RuntimeError("no task display is registered: import pipeline_kit (its display "
                           "module registers itself) before asking a manager to display")
    return _views
