"""How a task is written down so another process can run it again — without pickle.

A function becomes an importable ``"module:qualname"`` reference and its arguments
a JSON document. Anything that cannot be written that way (lambdas, closures,
bound methods, arbitrary objects) is reported with a reason instead; the task still
runs, it just cannot be retried from the store.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import sys
from pathlib import Path, PurePath
from typing import Any

_PATH_TAG = "__path__"


class NotStorableError(ValueError):
    """A callable or argument that cannot be stored as a reference or JSON."""


def callable_ref(fn: Any) -> str:
    """``"module:qualname"`` that imports back to ``fn``, or :class:`NotStorableError`."""
    name = getattr(fn, "__qualname__", None)
    module = getattr(fn, "__module__", None)
    if isinstance(fn, functools.partial):
        raise NotStorableError("its function is a functools.partial; pass the arguments instead")
    if inspect.ismethod(fn):
        raise NotStorableError(
            f"its function {name} is a bound method; use a module-level function"
        )
    if not name or not module:
        raise NotStorableError(f"its function {fn!r} has no module and qualified name")
    if "<lambda>" in name:
        raise NotStorableError(
            f"its function is a lambda ({module}:{name}); a lambda cannot be stored as an "
            "importable 'module:qualname' reference — define a module-level function instead"
        )
    if "<locals>" in name:
        raise NotStorableError(
            f"its function {name} is a local function or closure; it cannot be stored as an "
            "importable 'module:qualname' reference — define it at module level instead"
        )
    ref = f"{module}:{name}"
    try:
        found = resolve_ref(ref)
    except Exception as e:
        raise NotStorableError(f"its function reference {ref!r} does not import back: {e}") from e
    if found is not fn and getattr(found, "__wrapped__", None) is not fn:
        raise NotStorableError(f"{ref!r} imports to a different object than the function given")
    return ref


def resolve_ref(ref: str) -> Any:
    """Import ``"module:qualname"`` and return the object it names."""
    module_name, _, qualname = ref.partition(":")
    if not module_name or not qualname:
        raise ValueError(f"not a 'module:qualname' reference: {ref!r}")
    if module_name == "__main__" and "__main__" in sys.modules:
        obj: Any = sys.modules["__main__"]
    else:
        obj = importlib.import_module(module_name)
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportError(f"module {module_name!r} has no attribute {qualname!r}") from None
    return obj


def _check_json(value: Any, where: str) -> Any:
    """Return a JSON-native copy of ``value``; paths become tagged dicts."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, PurePath):
        return {_PATH_TAG: str(value)}
    if isinstance(value, list):
        return [_check_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise NotStorableError(f"{where} has a non-string key {k!r} (JSON needs str)")
            if k == _PATH_TAG:
                raise NotStorableError(f"{where} uses the reserved key {_PATH_TAG!r}")
            out[k] = _check_json(v, f"{where}[{k!r}]")
        return out
    raise NotStorableError(
        f"{where} is a {type(value).__name__}, which is not stored as JSON "
        "(use None, bool, numbers, str, list, dict or pathlib.Path)"
    )


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and _PATH_TAG in value:
            return Path(value[_PATH_TAG])
        return {k: _decode(v) for k, v in value.items()}
    return value


def encode_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """JSON text of positional and keyword arguments, or :class:`NotStorableError`."""
    doc = {
        "args": [_check_json(a, f"argument {i + 1}") for i, a in enumerate(args)],
        "kwargs": {k: _check_json(v, f"argument {k!r}") for k, v in kwargs.items()},
    }
    return json.dumps(doc, allow_nan=True)


def decode_args(text: str) -> tuple[list[Any], dict[str, Any]]:
    """Inverse of :func:`encode_args`."""
    doc = json.loads(text)
    return _decode(doc["args"]), _decode(doc["kwargs"])


@functools.lru_cache(maxsize=512)
def wants_progress(fn: Any) -> bool:
    """True when ``fn`` has a parameter named ``progress`` (the manager then passes one)."""
    try:
        return "progress" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def is_async(fn: Any) -> bool:
    """True for ``async def`` functions (run on the manager's loop, not in a thread)."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


def _json_default(obj: Any) -> Any:
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    tolist = getattr(obj, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return tolist()
    isoformat = getattr(obj, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def to_result_data(result: Any) -> Any:
    """JSON-native form of a task's return value (``to_dict()`` is used when present).

    Values that cannot be represented become a small marker naming their type, so
    the store never holds a pickle and never fails a finished task.
    """
    if isinstance(result, (str, int, float, bool, type(None))):
        return result
    converted = False

    def default(obj: Any) -> Any:
        nonlocal converted
        converted = True
        return _json_default(obj)

    try:
        text = json.dumps(result, default=default)
    except (TypeError, ValueError) as e:
        kind = f"{type(result).__module__}.{type(result).__qualname__}"
        return {"__unserialisable__": kind, "reason": str(e)}
    # Plain containers are already JSON-native; others come back from the text.
    return result if isinstance(result, (dict, list)) and not converted else json.loads(text)


def exception_ref(exc: BaseException) -> str:
    """``"module:qualname"`` of an exception's class (builtins keep just the name)."""
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}:{cls.__qualname__}"


class RemoteTaskError(RuntimeError):
    """An exception raised in a worker process whose class could not be rebuilt here."""

    def __init__(self, error_type: str, message: str) -> None:
        self.error_type = error_type
        super().__init__(f"{error_type}: {message}")


def rebuild_exception(error_type: str, message: str) -> BaseException:
    """Recreate an exception reported by a worker process from its type name and message."""
    ref = error_type if ":" in error_type else f"builtins:{error_type}"
    try:
        cls = resolve_ref(ref)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            return cls(message)
    except Exception:
        pass
    return RemoteTaskError(error_type, message)
