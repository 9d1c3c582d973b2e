"""Presets: complete spec files shipped as package data, plus presets from plugins.

A preset is a flat, complete TOML file in this folder (``finepose-h36m.toml``). Plugins add presets
through the entry-point group ``posediff.preset``; the entry point may point at a dict, at a path
or at an ``importlib.resources`` traversable of a TOML file.
"""
from __future__ import annotations

import difflib
import fnmatch
import importlib.metadata as md
import importlib.resources as resources
import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

from ..errors import PluginError, Problem, SpecError

__all__ = ["list_presets", "read_preset", "preset_text"]

_GROUP = "posediff.preset"


def _builtin() -> dict[str, Any]:
    root = resources.files(__name__)
    return {p.name[: -len(".toml")]: p for p in root.iterdir() if p.name.endswith(".toml")}


def _plugin_presets() -> dict[str, md.EntryPoint]:
    if os.environ.get("POSEDIFF_DISABLE_PLUGINS", "").strip() not in ("", "0"):
        return {}
    blocked = {b.strip() for b in os.environ.get("POSEDIFF_BLOCK_PLUGINS", "").split(",") if b.strip()}
    out = {}
    for ep in md.entry_points(group=_GROUP):
        dist = ep.dist.name if getattr(ep, "dist", None) is not None else ""
        if dist not in blocked:
            out[ep.name] = ep
    return out


def list_presets(pattern: str = "*") -> list[str]:
    """Names of all presets (built-in and plugin) matching an fnmatch ``pattern``, sorted.

    Example:
        >>> import posediff
        >>> "finepose-h36m" in posediff.list_presets("finepose-*")
        True
    """
    names = set(_builtin()) | set(_plugin_presets())
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


def preset_text(name: str) -> str:
    """The TOML text of a built-in preset, comments included (for docs and ``posediff show``)."""
    builtin = _builtin()
    if name not in builtin:
        raise _unknown(name)
    return builtin[name].read_text()


def _unknown(name: str) -> SpecError:
    names = list_presets()
    close = difflib.get_close_matches(name, names, n=1)
    msg = f"unknown preset {name!r}" + (f"; did you mean {close[0]!r}?" if close else "")
    return SpecError([Problem("", msg, f"available presets: {', '.join(names)}")], origin="preset")


def read_preset(name: str) -> dict:
    """Parse preset ``name`` into a plain dict.

    Raises:
        SpecError: unknown name (with close matches), or a plugin's preset that cannot be read.
    """
    builtin = _builtin()
    plugins = _plugin_presets()
    if name in builtin and name in plugins:
        raise SpecError([Problem("", f"preset {name!r} is provided twice: posediff and "
                                     f"{plugins[name].dist.name if plugins[name].dist else 'a plugin'}")], "preset")
    if name in builtin:
        return tomllib.loads(builtin[name].read_text())
    if name in plugins:
        ep = plugins[name]
        try:
            obj = ep.load()
            if isinstance(obj, Mapping):
                return dict(obj)
            if callable(obj) and not hasattr(obj, "read_text"):
                obj = obj()
                if isinstance(obj, Mapping):
                    return dict(obj)
            text = obj.read_text() if hasattr(obj, "read_text") else Path(str(obj)).read_text()
            return tomllib.loads(text)
        except Exception as exc:
            raise PluginError(
                f"preset {name!r} from entry point {_GROUP}: {ep.name} = {ep.value} could not be read: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    raise _unknown(name)
