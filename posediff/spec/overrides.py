"""Overrides: ``path=value`` strings or dicts applied to a spec tree (``sampler.steps=5``, ``fusion[0].at``)."""
from __future__ import annotations

import copy
import re
import tomllib
from typing import Any, Iterable, Mapping

from ..errors import Problem, SpecError


_PATH_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for chunk in path.split("."):
        if not chunk:
            raise ValueError(f"empty component in key path {path!r}")
        pos = 0
        for m in _PATH_TOKEN.finditer(chunk):
            if m.start() != pos:
                raise ValueError(f"cannot parse key path {path!r}")
            parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
            pos = m.end()
        if pos != len(chunk):
            raise ValueError(f"cannot parse key path {path!r}")
    return parts


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``"path=value"``; the value is read as a TOML value, else taken as a bare string."""
    if "=" not in text:
        raise SpecError([Problem("", f"override {text!r} must look like path=value, e.g. sampler.steps=5")])
    path, raw = text.split("=", 1)
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path.strip(), value


def apply_overrides(tree: dict, overrides: Mapping[str, Any] | Iterable[str], origin: str = "spec") -> dict:
    """Return a copy of ``tree`` with overrides applied.

    Setting a table's ``name`` to another component drops that table's other keys taken from the
    base spec (they belonged to the old component); keys set by other overrides stay.
    """
    tree = copy.deepcopy(tree)
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = [parse_override(o) if isinstance(o, str) else tuple(o) for o in overrides]
    # name changes first, so later keys of the same table survive the reset
    items.sort(key=lambda kv: 0 if str(kv[0]).split(".")[-1] == "name" else 1)
    problems = []
    for path, value in items:
        try:
            parts = _split_path(str(path))
        except ValueError as exc:
            problems.append(Problem(str(path), str(exc)))
            continue
        node: Any = tree
        ok = True
        for i, key in enumerate(parts[:-1]):
            nxt = parts[i + 1]
            if isinstance(key, int):
                if not isinstance(node, list) or key >= len(node):
                    problems.append(Problem(str(path), f"index [{key}] out of range"))
                    ok = False
                    break
                node = node[key]
            else:
                if not isinstance(node, dict):
                    problems.append(Problem(str(path), f"{key!r} is not inside a table"))
                    ok = False
                    break
                if key not in node:
                    node[key] = [] if isinstance(nxt, int) else {}
                node = node[key]
        if not ok:
            continue
        last = parts[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                problems.append(Problem(str(path), f"index [{last}] out of range"))
                continue
            node[last] = copy.deepcopy(value)
        elif not isinstance(node, dict):
            problems.append(Problem(str(path), "the parent of this key is not a table"))
        else:
            if last == "name" and node.get("name") != value:
                node.clear()
            node[last] = copy.deepcopy(value)
    if problems:
        raise SpecError(problems, origin)
    return tree
