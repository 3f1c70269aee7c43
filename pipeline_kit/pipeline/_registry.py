"""The stage registry: one :class:`StageSpec` per stage, and everything derived from it.

A spec says what a stage needs (``depends``), how it is called (``run``), which
parameters it takes (with bounds), how its result is stored as an artifact
(``codec``), which source files form its code version, its share of a run's
progress and its speed for estimates. The pipeline's schedule, cache keys, run
records and results, the CLI flags, the API's routes, request schema and estimates
all read the registry; adding a stage is one :func:`register` call beside its code.

Stages come from the loaders added with :meth:`Registry.add_loader` (the
``pipeline`` package adds the built-in stages' module), from modules named in
``$PIPELINE_KIT_PLUGINS`` (comma-separated; imported in every process that loads
the registry, Dask workers included) and from the ``pipeline_kit.stages`` entry
point group.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline_kit.base._params import Param
from pipeline_kit.base._progress import Progress

PLUGINS_ENV = "PIPELINE_KIT_PLUGINS"
ENTRY_POINT_GROUP = "pipeline_kit.stages"


@dataclass(frozen=True)
class Codec:
    """How a stage result becomes a JSON artifact and back (never pickle)."""

    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


@dataclass(frozen=True)
class StageCall:
    """What a stage's ``run`` receives: its inputs, its own parameters, where to work."""

    audio: str
    inputs: Mapping[str, Any]
    params: Mapping[str, Any]
    home: Path
    progress: Progress


@dataclass(frozen=True)
class ExportCall:
    """What an export's ``write`` receives: the run's results by stage name, the folder
    to write into, the base name of its files, the run's audio and the caller's options."""

    values: Mapping[str, Any]
    out: Path
    stem: str
    audio: Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Export:
    """A file format a stage's result can be written in (``pk.export(result, format=)``).

    Several stages may declare the same ``format`` (``csv``: each writes its own
    tables); ``write`` returns the files it wrote. ``options`` names the caller's options
    it reads (``highlight_words``, ...).
    """

    format: str
    write: Callable[[ExportCall], list[Path]]
    description: str = ""
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.format.isidentifier() or self.format != self.format.lower():
            raise TypeError(f"export format must be a lowercase identifier, got {self.format!r}")


@dataclass(frozen=True)
class StageSpec:
    """Everything the toolkit knows about one stage (see the module docstring).

    ``result_attr`` names the result on :class:`~pipeline_kit.PipelineResult`, its
    export file (``<result_attr>.json``) and its API route
    (``GET /audio/{id}/<result_attr>``). ``reads_audio``: the audio's hash is one of
    its cache-key inputs. ``identity`` adds what a parameter stands for to the cache
    key (a model name → its weights' hash). ``check`` is a rule across parameters.
    ``export`` writes extra files into a run's output folder; ``exports`` are the formats
    :func:`~pipeline_kit.export` can write it in on request. ``audio_path`` gives, from
    this stage's result, the audio file later stages read (the upload's stored copy).
    ``route=False`` leaves it out of the generic API result routes. ``summary`` says
    what the run record keeps of the result (counts, engine settings, notes).
    ``seconds_per_audio_second`` is the estimate used before any run of the stage was
    measured. ``uses`` are optional inputs: stages whose result this one takes (and
    whose key joins its own) when they run in the same run, without pulling them in.
    ``on_request``: the stage is left out of the default run and runs only when named
    in ``stages`` or when one of its ``requested_by`` parameters is given a value
    (diarization: ``num_speakers``), since it costs time and is not always wanted.
    """

    name: str
    task_type: str
    run: Callable[[StageCall], Any]
    codec: Codec
    sources: tuple[str, ...]
    result_attr: str
    weight: float
    seconds_per_audio_second: float
    depends: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    reads_audio: bool = False
    identity: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    check: Callable[[dict[str, Any]], None] | None = None
    export: Callable[[Any, Path], None] | None = None
    export_json: bool = True
    exports: tuple[Export, ...] = ()
    audio_path: Callable[[Any, Path], str | None] | None = None
    summary: Callable[[Any], dict[str, Any]] | None = None
    route: bool = True
    description: str = ""
    uses: tuple[str, ...] = ()
    on_request: bool = False
    requested_by: tuple[str, ...] = ()

    def inputs(self, stages: Iterable[str]) -> tuple[str, ...]:
        """The stages whose results this one gets in a run of ``stages``."""
        chosen = set(stages)
        return (*self.depends, *(u for u in self.uses if u in chosen))

    def __post_init__(self) -> None:
        for what in ("name", "result_attr"):
            value = getattr(self, what)
            if not isinstance(value, str) or not value.isidentifier():
                raise TypeError(f"stage {self.name!r}: {what} must be an identifier, got {value!r}")
        if not self.task_type:
            raise TypeError(f"stage {self.name!r}: task_type is empty")
        if not self.sources:
            raise TypeError(f"stage {self.name!r}: sources (its code version) is empty")
        for module in self.sources:
            source_file(module)  # fails at declaration when a module does not exist
        if not self.weight > 0 or not self.seconds_per_audio_second >= 0:
            raise TypeError(f"stage {self.name!r}: weight must be > 0 and "
                            "seconds_per_audio_second >= 0")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise TypeError(f"stage {self.name!r}: a parameter is declared twice")
        formats = [e.format for e in self.exports]
        if len(set(formats)) != len(formats):
            raise TypeError(f"stage {self.name!r}: an export format is declared twice")


def source_file(module: str) -> Path:
    """The file of ``module`` (without importing it); TypeError when there is none."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not Path(spec.origin).is_file():
        raise TypeError(f"stage source module {module!r} not found")
    return Path(spec.origin)


class Registry:
    """Registered stages in registration order (dependencies always come first)."""

    def __init__(self) -> None:
        self._specs: dict[str, StageSpec] = {}
        self._lock = threading.RLock()
        self._loaded = False
        self._loaders: list[Callable[[], object]] = []

    # -- registration

    def register(self, spec: StageSpec, *, replace_existing: bool = False) -> StageSpec:
        """Add ``spec``; TypeError on unknown dependencies or clashing names."""
        with self._lock:
            if spec.name in self._specs and not replace_existing:
                raise TypeError(f"stage {spec.name!r} is registered already")
            missing = [d for d in (*spec.depends, *spec.uses) if d not in self._specs]
            if missing:
                raise TypeError(f"stage {spec.name!r} depends on unregistered stage(s) "
                                f"{', '.join(missing)} (register those first)")
            self._check_clashes(spec)
            self._specs[spec.name] = spec
            return spec

    def _check_clashes(self, spec: StageSpec) -> None:
        others = [s for s in self._specs.values() if s.name != spec.name]
        taken = {n for s in others for n in (s.name, *s.aliases)}
        clash = taken & {spec.name, *spec.aliases}
        if clash:
            raise TypeError(f"stage {spec.name!r}: name or alias {sorted(clash)} is taken")
        if spec.result_attr in {s.result_attr for s in others}:
            raise TypeError(f"stage {spec.name!r}: result_attr {spec.result_attr!r} is taken")
        params = {p.name: s.name for s in others for p in s.params}
        for p in spec.params:
            if p.name in params:
                raise TypeError(f"stage {spec.name!r}: parameter {p.name!r} is declared by "
                                f"stage {params[p.name]!r} already")

    def unregister(self, name: str) -> None:
        """Remove a stage no other stage depends on (tests and plug-ins that undo)."""
        with self._lock:
            users = [s.name for s in self._specs.values() if name in (*s.depends, *s.uses)]
            if users:
                raise TypeError(f"cannot unregister {name!r}: {', '.join(users)} depend on it")
            self._specs.pop(name, None)

    def override(self, name: str, **changes: Any) -> StageSpec:
        """Replace fields of a registered stage (e.g. wrap its ``run`` for fault injection)."""
        with self._lock:
            return self.register(replace(self.get(name), **changes), replace_existing=True)

    # -- lookup

    def __contains__(self, name: object) -> bool:
        """True when ``name`` is registered now; loads nothing, so a stage being declared
        can ask whether an optional input stage was declared before it."""
        return name in self._specs

    def add_loader(self, load: Callable[[], object]) -> None:
        """Call ``load`` (which registers stages) before the registry is first read."""
        self._loaders.append(load)

    def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            for load in self._loaders:
                load()
            _load_plugins()

    def specs(self) -> list[StageSpec]:
        self._ensure_loaded()
        return list(self._specs.values())

    def names(self) -> list[str]:
        return [s.name for s in self.specs()]

    def get(self, name: str) -> StageSpec:
        self._ensure_loaded()
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f"unknown stage {name!r}; registered: {', '.join(self._specs)}"
                           ) from None

    def aliases(self) -> dict[str, str]:
        return {a: s.name for s in self.specs() for a in s.aliases}

    def exports(self) -> dict[str, list[tuple[StageSpec, Export]]]:
        """Every declared export format, with the stages that write it, in stage order."""
        out: dict[str, list[tuple[StageSpec, Export]]] = {}
        for s in self.specs():
            for e in s.exports:
                out.setdefault(e.format, []).append((s, e))
        return out

    def params(self) -> list[Param]:
        """Every declared parameter of every stage, in stage order."""
        return [p for s in self.specs() for p in s.params]

    def param_owner(self) -> dict[str, StageSpec]:
        return {p.name: s for s in self.specs() for p in s.params}

    def default_names(self) -> list[str]:
        """The stages a run without ``stages`` runs: all but the on-request ones."""
        return [s.name for s in self.specs() if not s.on_request]

    def requested(self, params: Mapping[str, Any] | None) -> list[str]:
        """On-request stages asked for by a parameter given a value (not None) in ``params``."""
        given = {k for k, v in (params or {}).items() if v is not None}
        return [s.name for s in self.specs() if s.on_request and given & set(s.requested_by)]

    def resolve(self, stages: str | Iterable[str] | None,
                params: Mapping[str, Any] | None = None) -> list[str]:
        """Canonical stage names in run order, with every stage a chosen one needs.

        ``None``: the default stages (:meth:`default_names`). Either way on-request
        stages whose parameters ``params`` sets join (:meth:`requested`).
        """
        extra = self.requested(params)
        if stages is None:
            return self.resolve([*self.default_names(), *extra]) if extra else self.default_names()
        if extra:
            names = stages.split(",") if isinstance(stages, str) else list(stages)
            stages = [*names, *extra]
        names = stages.split(",") if isinstance(stages, str) else list(stages)
        aliases = self.aliases()
        known = set(self.names())
        chosen: set[str] = set()
        bad = []
        for raw in names:
            name = str(raw).strip().lower()
            if not name:
                continue
            canon = aliases.get(name, name)
            if canon in known:
                chosen.add(canon)
            else:
                bad.append(str(raw))
        if bad or not chosen:
            allowed = ", ".join([*self.names(), *aliases])
            what = (f"unknown stage name(s): {', '.join(map(repr, bad))}" if bad
                    else "no stages given")
            raise ValueError(f"{what}; allowed: {allowed}")
        todo = list(chosen)
        while todo:
            for dep in self.get(todo.pop()).depends:
                if dep not in chosen:
                    chosen.add(dep)
                    todo.append(dep)
        return [s for s in self.names() if s in chosen]

    def waves(self, stages: list[str]) -> list[list[str]]:
        """``stages`` grouped into rounds whose members only need earlier rounds."""
        done: set[str] = set()
        left = list(stages)
        out: list[list[str]] = []
        while left:
            ready = [s for s in left if all(d in done or d not in stages
                                            for d in self.get(s).inputs(stages))]
            out.append(ready)
            done.update(ready)
            left = [s for s in left if s not in done]
        return out

    def dependents(self, name: str) -> list[str]:
        """Every stage that needs ``name``, directly or not, in run order."""
        hit = {name}
        for s in self.specs():
            if hit & {*s.depends, *s.uses}:
                hit.add(s.name)
        return [s for s in self.names() if s in hit and s != name]


def _load_plugins() -> None:
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        importlib.import_module(module)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        ep.load()


REGISTRY = Registry()
register = REGISTRY.register


class RunParams(Mapping[str, Any]):
    """Every stage parameter of a run, each checked against its declaration once.

    ``RunParams(chunk_size=200)`` fills the others with their defaults; unknown names
    and values outside their bounds raise ValueError naming the allowed ones.
    """

    _values: dict[str, Any]

    def __init__(self, values: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        given = {**(values or {}), **kwargs}
        declared = REGISTRY.params()
        unknown = sorted(set(given) - {p.name for p in declared})
        if unknown:
            raise ValueError(f"unknown parameter(s): {', '.join(unknown)}; allowed: "
                             f"{', '.join(p.name for p in declared)}")
        checked = {p.name: p.check(given.get(p.name, p.default)) for p in declared}
        for spec in REGISTRY.specs():
            if spec.check is not None:
                spec.check(checked)
        self._values = checked

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def for_stage(self, name: str) -> dict[str, Any]:
        """The parameters stage ``name`` declares, with their values."""
        return {p.name: self._values[p.name] for p in REGISTRY.get(name).params}

    def to_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def __repr__(self) -> str:
        return f"RunParams({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"
