"""Presets: named, complete specs — TOML data only, built-in or from plugins, found once and cached.

A built-in preset is a TOML file in this folder (``finepose-h36m.toml``). A plugin adds presets through
the entry-point group ``posediff.preset``, discovered with the component registry's entry-point reader
(:func:`posediff.registry.entry_points`: read once per process, no plugin imported until a preset is
read, ``POSEDIFF_DISABLE_PLUGINS`` / ``POSEDIFF_BLOCK_PLUGINS`` honoured). The entry point names a TOML
file — an ``importlib.resources`` file of the plugin package or a path — never code: a dict or a callable
is refused with a :class:`~posediff.errors.PluginError`.

**Inheritance by data**: a preset may start with ``extends = "<another preset>"``; it is then that
preset's tree with this file's tables merged in key by key (a table merges, any other value — a list, a
string, a number — replaces; a table that names another component, ``name = ...``, replaces the base's
table whole). ``meta`` is never inherited. A cycle of ``extends`` is an error.

A name provided twice (two plugins, or a plugin and posediff) is an error that names both providers, as
for components. Parsed presets are cached; :func:`read_preset` returns a fresh copy every time.
"""
from __future__ import annotations

import copy
import difflib
import fnmatch
import functools
import importlib.metadata as md
import importlib.resources as resources
import tomllib
from pathlib import Path
from typing import Any, Mapping

from ..errors import PluginError, Problem, SpecError
from ..registry import describe_entry_point, entry_points, refresh_plugins

__all__ = ["list_presets", "read_preset", "preset_text", "preset_provider", "EXTENDS_KEY"]

_KIND = "preset"
EXTENDS_KEY = "extends"
"""Top-level key of a preset TOML naming the preset it builds on."""


@functools.lru_cache(maxsize=None)
def _builtin() -> dict[str, Any]:
    root = resources.files(__name__)
    return {p.name[: -len(".toml")]: p for p in root.iterdir() if p.name.endswith(".toml")}


def _plugin_presets() -> dict[str, tuple[md.EntryPoint, ...]]:
    """Plugin presets by name (each a tuple: more than one entry point means the name is provided twice)."""
    return entry_points(_KIND)


def list_presets(pattern: str = "*") -> list[str]:
    """Names of all presets (built-in and plugin) matching an fnmatch ``pattern``, sorted.

    Example:
        >>> import posediff
        >>> "finepose-h36m" in posediff.list_presets("finepose-*")
        True
    """
    names = set(_builtin()) | set(_plugin_presets())
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


def preset_provider(name: str) -> str:
    """``"posediff"`` for a built-in preset, else the plugin distribution and version that provides it.

    Raises:
        SpecError: unknown name, or a name provided twice.
    """
    _check_unique(name)
    if name in _builtin():
        return "posediff"
    if name in _plugin_presets():
        ep = _plugin_presets()[name][0]
        dist = getattr(ep, "dist", None)
        return f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
    raise _unknown(name)


def preset_text(name: str) -> str:
    """The TOML text of a preset, comments included (for docs and ``posediff show``)."""
    return _text(name)


def _unknown(name: str) -> SpecError:
    names = list_presets()
    close = difflib.get_close_matches(name, names, n=1)
    msg = f"unknown preset {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
    return SpecError([Problem("", msg, f"available presets: {', '.join(names)}")], origin="preset")


def _check_unique(name: str) -> None:
    providers = (["posediff"] if name in _builtin() else []) + [
        describe_entry_point(_KIND, ep) for ep in _plugin_presets().get(name, ())]
    if len(providers) > 1:
        raise SpecError([Problem("", f"preset {name!r} is provided twice: {'; '.join(providers)}")], "preset")


@functools.lru_cache(maxsize=None)
def _text(name: str) -> str:
    _check_unique(name)
    builtin = _builtin()
    if name in builtin:
        return builtin[name].read_text()
    eps = _plugin_presets().get(name)
    if not eps:
        raise _unknown(name)
    ep = eps[0]
    try:
        obj = ep.load()
    except Exception as exc:
        raise PluginError(f"preset {name!r} from {describe_entry_point(_KIND, ep)} could not be imported: "
                          f"{type(exc).__name__}: {exc}") from exc
    if isinstance(obj, Mapping) or (callable(obj) and not hasattr(obj, "read_text")):
        raise PluginError(
            f"preset {name!r} from {describe_entry_point(_KIND, ep)} is {type(obj).__name__}, not data: a preset "
            "entry point names a TOML file (an importlib.resources file of the package, or a path); build on "
            f"another preset with `{EXTENDS_KEY} = \"<name>\"` in that file"
        )
    try:
        return obj.read_text() if hasattr(obj, "read_text") else Path(str(obj)).read_text()
    except Exception as exc:
        raise PluginError(f"preset {name!r} from {describe_entry_point(_KIND, ep)} could not be read: "
                          f"{type(exc).__name__}: {exc}") from exc


def _merge(base: dict, top: Mapping[str, Any]) -> dict:
    out = dict(base)
    for key, value in top.items():
        old = out.get(key)
        same_component = not (isinstance(value, Mapping) and isinstance(old, Mapping)
                              and "name" in value and value.get("name") != old.get("name"))
        if isinstance(value, Mapping) and isinstance(old, Mapping) and same_component:
            out[key] = _merge(dict(old), value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@functools.lru_cache(maxsize=None)
def _parsed(name: str, chain: tuple[str, ...] = ()) -> dict:
    if name in chain:
        raise SpecError([Problem(EXTENDS_KEY, f"presets extend each other in a cycle: {' -> '.join(chain + (name,))}")],
                        "preset")
    try:
        tree = tomllib.loads(_text(name))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError([Problem("", f"preset {name!r} is not valid TOML: {exc}")], "preset") from exc
    base_name = tree.pop(EXTENDS_KEY, None)
    if base_name is None:
        return tree
    if not isinstance(base_name, str):
        raise SpecError([Problem(EXTENDS_KEY, f"expected a preset name; got {base_name!r}")], f"preset {name}")
    base = copy.deepcopy(_parsed(base_name, chain + (name,)))
    base.pop("meta", None)
    return _merge(base, tree)


def read_preset(name: str) -> dict:
    """Parse preset ``name`` into a plain dict (``extends`` resolved); a fresh copy on every call.

    Raises:
        SpecError: unknown name (with close matches), a name provided twice, invalid TOML, a cycle of
            ``extends``. PluginError: a plugin's preset that is not a readable TOML file.
    """
    if name not in _builtin() and name not in _plugin_presets():
        raise _unknown(name)
    return copy.deepcopy(_parsed(name))


def forget_presets() -> None:
    """Drop the cached presets (with :func:`posediff.registry.refresh_plugins`, after installing a plugin)."""
    _builtin.cache_clear()
    _text.cache_clear()
    _parsed.cache_clear()


refresh_plugins.hooks.append(forget_presets)
