"""The component registry: one flat table keyed by ``(kind, name)``, plus plugin entry points.

Built-in components register with :func:`register` next to their code. Third-party packages
declare entry points in one group per kind, ``posediff.<kind>`` (for example
``posediff.sampler``); the entry point's name is the component's name and its value points at the
class or factory. Entry-point names are read from package metadata once per process without
importing anything; a plugin is imported only when one of its names is asked for. A plugin that
fails to import raises :class:`~posediff.errors.PluginError` for that name only. A name provided
twice (two plugins, or a plugin and a built-in) is a :class:`~posediff.errors.RegistryError`
naming both providers. ``POSEDIFF_DISABLE_PLUGINS=1`` turns discovery off and
``POSEDIFF_BLOCK_PLUGINS=dist-a,dist-b`` hides chosen distributions.

This module imports nothing of posediff except :mod:`posediff.errors`.
"""
from __future__ import annotations

import difflib
import fnmatch
import functools
import importlib.metadata as md
import inspect
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

from .errors import PluginError, Problem, RegistryError, UnknownComponentError

__all__ = [
    "KINDS",
    "entry_points",
    "describe_entry_point",
    "entry_point_provider",
    "name_of",
    "ComponentInfo",
    "register",
    "get",
    "list_components",
    "describe",
    "load_plugins",
    "refresh_plugins",
]

KINDS: tuple[str, ...] = (
    "backbone",
    "conditioner",
    "text_encoder",
    "fusion",
    "schedule",
    "sampler",
    "aggregator",
    "detector",
)
"""The component kinds. The same singular word names the spec slot (the first seven, the parts of a model)
and the entry-point group. A ``detector`` (2D keypoints from video frames) is not part of a model spec."""

ENTRY_POINT_PREFIX = "posediff."
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_BUILTIN_PROVIDER = "posediff"

T = TypeVar("T")

# (kind, name) -> (object, provider)
_table: dict[tuple[str, str], tuple[Any, str]] = {}
# (kind, name) -> loaded plugin object (cache of entry-point loads)
_loaded: dict[tuple[str, str], Any] = {}


@dataclass(frozen=True)
class ComponentInfo:
    """What :func:`describe` tells about one registered component.

    Attributes:
        kind: The component kind, e.g. ``"sampler"``.
        name: The registered name, e.g. ``"ddim"``.
        target: ``"module:qualname"`` of the class or factory.
        provider: ``"posediff"`` for built-ins, else ``"<distribution> <version>"``.
        summary: First sentence of the docstring, plain text (:func:`doc_summary`).
        parameters: Constructor parameters (the keys a spec table may set).
    """

    kind: str
    name: str
    target: str
    provider: str
    summary: str
    parameters: tuple[inspect.Parameter, ...]


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        close = difflib.get_close_matches(str(kind), KINDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise RegistryError(f"unknown component kind {kind!r}{hint} (kinds: {', '.join(KINDS)})")


def register(kind: str, name: str, *, replace: bool = False) -> Callable[[T], T]:
    """Register a class or factory under ``(kind, name)``; use as a decorator.

    Args:
        kind: One of :data:`KINDS`.
        name: Lower-case identifier (``[a-z][a-z0-9_]*``).
        replace: Allow overwriting an existing registration (tests, notebooks).

    Returns:
        A decorator that records the object and returns it unchanged.

    Raises:
        RegistryError: Unknown kind, invalid name, or the name is taken by another object.

    Example:
        >>> from posediff.registry import register
        >>> @register("aggregator", "my_median", replace=True)
        ... class MedianAggregator: ...
    """
    _check_kind(kind)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise RegistryError(f"invalid {kind} name {name!r}: expected [a-z][a-z0-9_]*")

    def decorator(obj: T) -> T:
        key = (kind, name)
        if key in _table and not replace and _table[key][0] is not obj:
            other = _target(_table[key][0])
            raise RegistryError(
                f"{kind} {name!r} is already registered by {other} ({_table[key][1]}); "
                f"cannot register {_target(obj)} under the same name (pass replace=True to override)"
            )
        provider = _BUILTIN_PROVIDER
        module = getattr(obj, "__module__", "") or ""
        if not module.startswith("posediff.") and module != "posediff":
            provider = _provider_of_module(module)
        _table[key] = (obj, provider)
        return obj

    return decorator


def _provider_of_module(module: str) -> str:
    top = module.split(".")[0]
    try:
        dists = md.packages_distributions().get(top, [])
    except Exception:  # pragma: no cover - metadata problems must not break registration
        dists = []
    if dists:
        try:
            return f"{dists[0]} {md.version(dists[0])}"
        except md.PackageNotFoundError:  # pragma: no cover
            return dists[0]
    return top or "unknown"


def _target(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"


def entry_points(kind: str) -> dict[str, tuple[md.EntryPoint, ...]]:
    """Entry points of group ``posediff.<kind>`` by name, read once per process; imports nothing.

    ``kind`` is a component kind or ``"preset"``. A name with more than one entry point is provided twice
    (the caller reports it). Plugins are skipped when ``POSEDIFF_DISABLE_PLUGINS`` is set, and the
    distributions listed in ``POSEDIFF_BLOCK_PLUGINS`` are hidden.
    """
    return _entry_points(kind)


@functools.lru_cache(maxsize=None)
def _entry_points(kind: str) -> dict[str, tuple[md.EntryPoint, ...]]:
    """Entry points of group ``posediff.<kind>``, by name. Imports nothing."""
    if os.environ.get("POSEDIFF_DISABLE_PLUGINS", "").strip() not in ("", "0"):
        return {}
    blocked = {b.strip() for b in os.environ.get("POSEDIFF_BLOCK_PLUGINS", "").split(",") if b.strip()}
    found: dict[str, list[md.EntryPoint]] = defaultdict(list)
    seen: set[tuple[str, str, str]] = set()
    for ep in md.entry_points(group=ENTRY_POINT_PREFIX + kind):
        dist = _dist_name(ep)
        if dist in blocked:
            continue
        key = (ep.name, ep.value, dist)
        if key in seen:  # the same distribution visible twice on sys.path
            continue
        seen.add(key)
        found[ep.name].append(ep)
    return {name: tuple(eps) for name, eps in found.items()}


def _dist_name(ep: md.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None else "unknown"


def entry_point_provider(ep: md.EntryPoint) -> str:
    """The distribution that provides an entry point, as ``"name version"`` (``posediff plugins`` lists it)."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown distribution"
    return f"{dist.name} {dist.version}"


def refresh_plugins() -> None:
    """Forget cached entry points, loaded plugins and cached presets (after installing a package at run time)."""
    _entry_points.cache_clear()
    _loaded.clear()
    for hook in refresh_plugins.hooks:
        hook()


refresh_plugins.hooks = []  # type: ignore[attr-defined]  # callables run by refresh_plugins (e.g. the preset cache)


def describe_entry_point(kind: str, ep: md.EntryPoint) -> str:
    """``"<distribution> <version> (entry point posediff.<kind>: name = value)"`` for messages."""
    return _describe_ep(kind, ep)


def _describe_ep(kind: str, ep: md.EntryPoint) -> str:
    return f"{entry_point_provider(ep)} (entry point {ENTRY_POINT_PREFIX}{kind}: {ep.name} = {ep.value})"


def _load_ep(kind: str, name: str, ep: md.EntryPoint) -> Any:
    key = (kind, name)
    if key in _loaded:
        return _loaded[key]
    try:
        obj = ep.load()
    except (Exception, SystemExit) as exc:  # a plugin calling sys.exit() at import must not end the program
        raise PluginError(
            f"{kind} {name!r} comes from {_describe_ep(kind, ep)}, and importing it failed: "
            f"{type(exc).__name__}: {exc}\n  hint: reinstall that package, or set "
            f"POSEDIFF_DISABLE_PLUGINS=1 to run without plugins."
        ) from exc
    if not callable(obj):
        raise PluginError(
            f"{kind} {name!r} from {_describe_ep(kind, ep)} is not a class or factory "
            f"(got {type(obj).__name__}); an entry point must point at a component"
        )
    _loaded[key] = obj
    return obj


def _all_names(kind: str) -> list[str]:
    names = {n for (k, n) in _table if k == kind}
    names.update(_entry_points(kind))
    return sorted(names)


def get(kind: str, name: str) -> Any:
    """Return the class or factory registered as ``(kind, name)``.

    Built-ins are looked up in the in-process table; plugins are imported now, on first use.

    Raises:
        RegistryError: Unknown kind, or the name is provided twice.
        UnknownComponentError: No provider has that name (the message lists close matches).
        PluginError: The plugin providing the name failed to import.
    """
    _check_kind(kind)
    local = _table.get((kind, name))
    eps = _entry_points(kind).get(name, ())
    if len(eps) > 1:
        providers = "; ".join(_describe_ep(kind, ep) for ep in eps)
        raise RegistryError(f"{kind} {name!r} is provided twice: {providers}")
    if eps:
        ep = eps[0]
        if local is not None:
            # A plugin may also register itself in-process; the same object is not a clash.
            obj = _load_ep(kind, name, ep)
            if obj is local[0]:
                return obj
            raise RegistryError(
                f"{kind} {name!r} is provided twice: {local[1]} ({_target(local[0])}) and "
                f"{_describe_ep(kind, ep)}"
            )
        return _load_ep(kind, name, ep)
    if local is not None:
        return local[0]
    raise unknown_component_error(kind, name)


def name_of(kind: str, obj: Any) -> Optional[str]:
    """The name a class (or the class of a component instance) is registered under, or None.

    Looks at the in-process table and at the plugin components loaded so far (a component that was built
    through the registry always is). A class registered under two names gives the first, sorted.
    """
    _check_kind(kind)
    cls = obj if inspect.isclass(obj) or inspect.isfunction(obj) else type(obj)
    found = sorted(n for (k, n), (o, _) in _table.items() if k == kind and o is cls)
    found += sorted(n for (k, n), o in _loaded.items() if k == kind and o is cls)
    return found[0] if found else None


def unknown_component_error(kind: str, name: Any, path: str = "") -> UnknownComponentError:
    """Build the error for an unknown ``(kind, name)`` with close matches and the valid names."""
    names = _all_names(kind)
    close = difflib.get_close_matches(str(name), names, n=3)
    message = f"unknown {kind} {name!r}"
    if close:
        message += f"; did you mean {close[0]!r}?"
    if len(names) <= 20:
        hint = f"available {kind}s: {', '.join(names) or '(none)'}"
    else:
        hint = f"`posediff list {kind}` shows all {len(names)} {kind}s"
    return UnknownComponentError([Problem(path or f"{kind}.name", message, hint)], origin="registry")


def list_components(kind: str, pattern: str = "*") -> list[str]:
    """Names of all components of ``kind`` (built-ins and plugins), sorted, matching ``pattern``.

    Listing never imports a plugin: entry-point names come from package metadata.

    Example:
        >>> import posediff
        >>> "ddim" in posediff.list_components("sampler")
        True
    """
    _check_kind(kind)
    return [n for n in _all_names(kind) if fnmatch.fnmatchcase(n, pattern)]


def provider(kind: str, name: str) -> str:
    """Who provides ``(kind, name)`` without importing it: ``"posediff"`` or ``"<dist> <version>"``."""
    _check_kind(kind)
    eps = _entry_points(kind).get(name, ())
    if eps:
        return ", ".join(entry_point_provider(ep) for ep in eps)
    if (kind, name) in _table:
        return _table[(kind, name)][1]
    raise unknown_component_error(kind, name)


def describe(kind: str, name: str) -> ComponentInfo:
    """Everything known about one component (imports a plugin if needed)."""
    obj = get(kind, name)
    doc = inspect.getdoc(obj) or ""
    try:
        params = tuple(
            p for p in inspect.signature(obj).parameters.values() if p.name not in ("self",)
        )
    except (TypeError, ValueError):  # pragma: no cover
        params = ()
    return ComponentInfo(
        kind=kind,
        name=name,
        target=_target(obj),
        provider=provider(kind, name),
        summary=doc_summary(doc),
        parameters=params,
    )


def doc_summary(doc: str) -> str:
    r"""The first sentence of a docstring as plain text: its first paragraph joined into one line and cut after
    the first full stop followed by a space (not inside a number such as "§3.3" or "0.5"); reStructuredText
    double backticks become single ones and ``**strong**`` emphasis plain text.

    Example:
        >>> doc_summary("Plain output projection ``W_o·x``; with a residual\nsite it gives FPC. More here.")
        'Plain output projection `W_o·x`; with a residual site it gives FPC.'
        >>> doc_summary("A seeded tower — **not CLIP**.")
        'A seeded tower — not CLIP.'
    """
    para = " ".join(line.strip() for line in doc.strip().split("\n\n", 1)[0].splitlines()).strip()
    para = re.sub(r"\*\*(.+?)\*\*", r"\1", para.replace("``", "`"))
    match = re.search(r"\.(\s|$)", para)
    return para[:match.start() + 1] if match else para


@dataclass(frozen=True)
class PluginReport:
    """Outcome of loading one plugin entry point (see :func:`load_plugins`)."""

    kind: str
    name: str
    provider: str
    ok: bool
    error: str = ""


def load_plugins(kinds: tuple[str, ...] = KINDS) -> list[PluginReport]:
    """Import every plugin entry point now and report each outcome (``posediff plugins --check``).

    Never raises for a broken plugin; the failure is in the report.
    """
    reports = []
    for kind in kinds:
        for name, eps in _entry_points(kind).items():
            prov = ", ".join(entry_point_provider(ep) for ep in eps)
            try:
                get(kind, name)
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                reports.append(PluginReport(kind, name, prov, False, str(exc).splitlines()[0]))
            else:
                reports.append(PluginReport(kind, name, prov, True))
    return reports
