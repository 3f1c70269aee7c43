"""Declared parameters: a name, a type, a default and bounds, checked by one rule.

A stage declares its parameters once (beside its code); the stage function, the
pipeline's :class:`~pipeline_kit.pipeline._registry.RunParams`, the CLI flags, the notebook
and the HTTP API's request schema all read the same declaration.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

_KINDS = (int, float, str, bool)


@dataclass(frozen=True)
class Param:
    """One parameter: ``check`` returns the normalised value or raises ValueError.

    ``kind`` is ``int``, ``float``, ``str`` or ``bool``. ``optional`` admits None.
    ``minimum``/``maximum`` bound numbers (inclusive); ``choices`` lists allowed
    strings; ``pattern`` is a regular expression a string must match in full.
    ``flags`` are extra CLI spellings (``--method`` besides ``--chunking-method``).
    """

    name: str
    kind: type
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    optional: bool = False
    pattern: str | None = None
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise TypeError(f"parameter name must be an identifier, got {self.name!r}")
        if self.kind not in _KINDS:
            raise TypeError(f"{self.name}: kind must be one of int, float, str, bool")
        if not self.help:
            raise TypeError(f"{self.name}: every parameter needs a help text")
        if self.kind in (int, float) and self.maximum is None:
            raise TypeError(f"{self.name}: a number parameter needs an upper bound")
        self.check(self.default)  # a default outside its own bounds is a declaration bug

    def check(self, value: Any) -> Any:
        """``value`` normalised (numpy ints become int), or ValueError naming the rule."""
        if value is None:
            if self.optional:
                return None
            raise ValueError(f"{self.name} must be {self.describe()}, got None")
        if self.kind is int:
            return self._check_number(_as_int(value, self))
        if self.kind is float:
            return self._check_number(_as_float(value, self))
        if self.kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"{self.name} must be True or False, got {value!r}")
            return value
        return self._check_str(value)

    def _check_number(self, value: float) -> Any:
        low, high = self.minimum, self.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"{self.name} must be {self.describe()}, got {value!r}")
        return value

    def _check_str(self, value: Any) -> str:
        import re

        if not isinstance(value, str):
            raise ValueError(f"{self.name} must be {self.describe()}, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"unknown {self.name} {value!r}; allowed: {', '.join(self.choices)}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ValueError(f"{self.name} must be {self.describe()}, got {value!r}")
        return value

    def describe(self) -> str:
        """The rule in words, for error messages and help texts."""
        if self.kind in (int, float):
            noun = "an integer" if self.kind is int else "a number"
            rule = f"{noun} from {_fmt(self.minimum)} to {_fmt(self.maximum)}"
        elif self.kind is bool:
            rule = "True or False"
        elif self.choices is not None:
            rule = "one of " + ", ".join(self.choices)
        elif self.pattern is not None:
            rule = f"a string matching {self.pattern}"
        else:
            rule = "a string"
        return rule + (" or None" if self.optional else "")

    @property
    def flag(self) -> str:
        """The CLI flag: ``chunk_size`` → ``--chunk-size``."""
        return "--" + self.name.replace("_", "-")


def _as_int(value: Any, p: Param) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{p.name} must be {p.describe()}, got {value!r}")
    return int(value)


def check_int(name: str, value: Any, minimum: int) -> int:
    """The one integer rule for options that are not declared parameters.

    Python and numpy integers pass (as int); bools, floats and strings do not.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return int(value)


def _as_float(value: Any, p: Param) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{p.name} must be {p.describe()}, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{p.name} must be {p.describe()}, got {value!r}")
    return out


def _fmt(bound: float | None) -> str:
    if bound is None:
        return "any"
    return str(int(bound)) if float(bound).is_integer() else str(bound)

