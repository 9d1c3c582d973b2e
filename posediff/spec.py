"""Specs: load TOML/YAML/JSON/dict, apply overrides, validate against constructor signatures, dump TOML.

A spec is plain data. Its top level holds ``spec_version``, ``[meta]`` (free text), ``[lifter]``
(context and run-time settings) and one entry per slot: ``[backbone]``, ``[conditioner]``,
``[[fusion]]`` (a list of sites), ``[sampler]`` and ``[aggregator]``. A component table is
``name = "<registered name>"`` plus that component's constructor arguments; nested components
(a sampler's ``schedule``, a conditioner's ``text_encoder``) are inline tables with their own
``name``. Nothing in a spec is ever imported by dotted path: names resolve only through the registry.

:func:`resolve_spec` validates the whole tree before anything is constructed and collects every
problem into one :class:`~posediff.errors.SpecError`; the result has every default filled in, so
``resolve_spec(resolve_spec(s)) == resolve_spec(s)``.
"""
from __future__ import annotations

import copy
import difflib
import inspect
import json
import re
import sys
import tomllib

import tomli_w
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Union, get_args, get_origin

from . import registry
from .errors import Problem, SpecError, UnknownComponentError

__all__ = [
    "SPEC_VERSION",
    "SLOTS",
    "CONTEXT_KEYS",
    "LIFTER_KEYS",
    "load_spec",
    "resolve_spec",
    "apply_overrides",
    "dump_spec",
    "parse_override",
    "component_parameters",
]

SPEC_VERSION = 1
SLOTS: tuple[str, ...] = ("backbone", "conditioner", "fusion", "sampler", "aggregator")
TOP_KEYS: tuple[str, ...] = ("spec_version", "meta", "lifter") + SLOTS

CONTEXT_KEYS: tuple[str, ...] = ("skeleton", "frames", "dim")
"""Keys set once in ``[lifter]`` and passed to every constructor with a parameter of that name."""
DERIVED_CONTEXT: tuple[str, ...] = ("joints", "cond_dim")
"""Context the builder derives (``joints`` from the skeleton, ``cond_dim`` from the conditioner)."""

LIFTER_KEYS: dict[str, tuple[Any, Any]] = {
    # key: (annotation, default)
    "skeleton": (str, "h36m-17"),
    "frames": (int, 243),
    "dim": (int, 512),
    "precision": (Literal["fp32", "bf16"], "fp32"),
    "max_rows": (int, 0),
}
"""``[lifter]`` keys: the context keys plus run-time settings. ``precision``: autocast dtype of
sampling on CPU/GPU; ``max_rows``: largest denoiser batch (clips × hypotheses) per call, 0 = no
chunking (bounds peak memory)."""

FUSION_SITE_KEYS = ("at", "residual", "blocks")
_PRESET_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
def load_spec(source: Any, overrides: Mapping[str, Any] | Iterable[str] | None = None) -> tuple[dict, str]:
    """Read a spec from a preset name, a file path or a dict, then apply overrides.

    Args:
        source: Preset name (``"finepose-h36m"``), path to ``.toml``/``.yaml``/``.yml``/``.json``,
            or a mapping (copied, never modified).
        overrides: ``{"sampler.steps": 5}`` or ``["sampler.steps=5"]``.

    Returns:
        ``(tree, origin)``: the raw (unvalidated) tree and a label for error messages.

    Raises:
        SpecError: unreadable file, unknown preset, bad override path.
    """
    if isinstance(source, Mapping):
        tree, origin = _plain_copy(source, "spec"), "spec"
    elif isinstance(source, (str, Path)):
        text = str(source)
        if isinstance(source, Path) or "/" in text or "\\" in text or text.endswith(
            (".toml", ".yaml", ".yml", ".json")
        ):
            tree, origin = _read_file(Path(text)), Path(text).name
        elif _PRESET_RE.match(text):
            from .presets import read_preset

            tree, origin = read_preset(text), text
        else:
            raise SpecError(
                [Problem("", f"{text!r} is neither a preset name (kebab-case, e.g. 'finepose-h36m') "
                             "nor a spec file path (containing '/' or ending in .toml/.yaml/.json)")]
            )
    else:
        raise SpecError([Problem("", f"expected a preset name, a file path or a dict; got {type(source).__name__}")])
    if not isinstance(tree, dict):
        raise SpecError([Problem("", f"a spec must be a table at the top level; got {type(tree).__name__}")], origin)
    if overrides:
        tree = apply_overrides(tree, overrides, origin=origin)
    return tree, origin


def _plain_copy(obj: Any, path: str) -> Any:
    if isinstance(obj, Mapping):
        return {str(k) if not isinstance(k, str) else k: _plain_copy(v, path) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain_copy(v, path) for v in obj]
    return obj


def _read_file(path: Path) -> dict:
    if not path.exists():
        raise SpecError([Problem("", f"spec file not found: {str(path)!r}")], origin=path.name)
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            with path.open("rb") as fh:
                return tomllib.load(fh)
        if suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError as exc:  # pragma: no cover - pyyaml is a dependency
                raise SpecError([Problem("", "YAML specs need PyYAML: pip install pyyaml")], path.name) from exc
            data = yaml.safe_load(path.read_text())
            return data if data is not None else {}
        if suffix == ".json":
            return json.loads(path.read_text())
    except SpecError:
        raise
    except Exception as exc:  # tomllib/yaml/json parse errors
        raise SpecError([Problem("", f"cannot parse {path.name}: {type(exc).__name__}: {exc}")], path.name) from exc
    raise SpecError([Problem("", f"unknown spec file type {suffix!r}; expected .toml, .yaml, .yml or .json")], path.name)


# --------------------------------------------------------------------------------------------
# overrides
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def _kind_of_annotation(ann: Any) -> str | None:
    for arg in (ann, *get_args(ann)):
        kind = getattr(arg, "__posediff_kind__", None)
        if isinstance(kind, str):
            return kind
    return None


def component_parameters(obj: Any) -> list[tuple[str, Any, Any]]:
    """``(name, annotation, default)`` of a component constructor (``inspect.Parameter.empty`` when
    required). Annotations are resolved to real types."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    sig = inspect.signature(obj)
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # noqa: BLE001 - fall back to raw annotations
        hints = {}
    out = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        out.append((p.name, hints.get(p.name, p.annotation), p.default))
    return out


def _type_name(ann: Any) -> str:
    if ann is inspect.Parameter.empty:
        return "any"
    origin = get_origin(ann)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(ann))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(ann))
    if origin in (list, tuple):
        args = [a for a in get_args(ann) if a is not Ellipsis]
        return f"list of {_type_name(args[0])}" if args else "list"
    if ann is type(None):
        return "none"
    return getattr(ann, "__name__", str(ann))


def _check_value(value: Any, ann: Any) -> tuple[bool, Any]:
    """Check ``value`` against annotation ``ann``; return (ok, normalised value)."""
    if ann is inspect.Parameter.empty or ann is Any:
        return True, value
    origin = get_origin(ann)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in get_args(ann)), value
    if origin in (Union, types.UnionType):
        for arg in get_args(ann):
            ok, norm = _check_value(value, arg)
            if ok:
                return True, norm
        return False, value
    if ann is type(None):
        return value is None, value
    if origin in (list, tuple, typing.Sequence) or ann in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False, value
        args = get_args(ann)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                return False, value
            pairs = list(zip(value, args))
        else:
            elem = args[0] if args else Any
            pairs = [(v, elem) for v in value]
        out = []
        for v, a in pairs:
            ok, n = _check_value(v, a)
            if not ok:
                return False, value
            out.append(n)
        return True, out
    if ann is bool:
        return isinstance(value, bool), value
    if ann is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if ann is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False, value
        return True, float(value)
    if ann is str:
        return isinstance(value, str), value
    if inspect.isclass(ann):
        return isinstance(value, ann), value
    return True, value


class _Validator:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.problems: list[Problem] = []

    def add(self, path: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(path, message, hint))

    def component(self, kind: str, table: Any, path: str, context: Mapping[str, Any]) -> dict | None:
        if not isinstance(table, Mapping):
            self.add(path, f"expected a {kind} table with a 'name' key; got {_describe(table)}")
            return None
        name = table.get("name")
        if name is None:
            names = registry.list_components(kind)
            self.add(f"{path}.name", f"missing the {kind} name", f"available {kind}s: {', '.join(names)}")
            return None
        if not isinstance(name, str):
            self.add(f"{path}.name", f"expected a string; got {_describe(name)}")
            return None
        try:
            obj = registry.get(kind, name)
        except UnknownComponentError as exc:
            p = exc.problems[0]
            self.add(f"{path}.name", p.message, p.hint)
            return None
        except Exception as exc:  # PluginError / RegistryError: report, keep validating
            self.add(f"{path}.name", str(exc).splitlines()[0])
            return None
        before = len(self.problems)
        params = component_parameters(obj)
        known = {p[0] for p in params}
        resolved: dict[str, Any] = {"name": name}
        for key in table:
            if key == "name":
                continue
            if key in CONTEXT_KEYS or key in DERIVED_CONTEXT:
                if key in known:
                    where = "[lifter]" if key in CONTEXT_KEYS else "the builder (derived)"
                    self.add(f"{path}.{key}", f"{key!r} is a context key, set once by {where}; remove it here")
                    continue
            if key not in known:
                choices = sorted(k for k in known if k not in CONTEXT_KEYS and k not in DERIVED_CONTEXT)
                close = difflib.get_close_matches(str(key), choices, n=1)
                msg = f"{kind} {name!r} has no parameter {key!r}"
                if close:
                    msg += f"; did you mean {close[0]!r}?"
                self.add(f"{path}.{key}", msg, f"accepted: {', '.join(choices) or '(none)'}")
        for pname, ann, default in params:
            if pname in CONTEXT_KEYS or pname in DERIVED_CONTEXT:
                if pname not in context and default is inspect.Parameter.empty:
                    self.add(path, f"{kind} {name!r} needs context {pname!r}, which is not available here")
                continue
            sub_kind = _kind_of_annotation(ann)
            if pname in table:
                value = table[pname]
                if sub_kind is not None and isinstance(value, Mapping):
                    sub = self.component(sub_kind, value, f"{path}.{pname}", context)
                    if sub is not None:
                        resolved[pname] = sub
                    continue
                if sub_kind is not None and value is not None:
                    self.add(f"{path}.{pname}", f"expected a {sub_kind} table with a 'name'; got {_describe(value)}")
                    continue
                ok, norm = _check_value(value, ann)
                if not ok:
                    self.add(f"{path}.{pname}", f"expected {_type_name(ann)}; got {_describe(value)}")
                    continue
                resolved[pname] = norm
            elif default is inspect.Parameter.empty:
                what = f"a {sub_kind} table" if sub_kind else _type_name(ann)
                self.add(f"{path}.{pname}", f"missing required parameter ({what})")
            elif default is not None:
                resolved[pname] = copy.deepcopy(list(default) if isinstance(default, tuple) else default)
        # component-specific checks that need no tensors
        checker = getattr(obj, "check_params", None)
        if callable(checker) and len(self.problems) == before:
            try:
                for message in checker({**context, **resolved}) or ():
                    self.add(path, message)
            except Exception as exc:  # noqa: BLE001
                self.add(path, f"{type(exc).__name__}: {exc}")
        return resolved


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def resolve_spec(source: Any, overrides: Mapping[str, Any] | Iterable[str] | None = None) -> dict:
    """Load and validate a spec; return the resolved tree with every default filled in.

    Args:
        source: Preset name, file path, or dict (see :func:`load_spec`).
        overrides: Optional overrides (see :func:`apply_overrides`).

    Returns:
        A plain dict (TOML-serialisable) in canonical key order.

    Raises:
        SpecError: listing every problem found, each with its key path.
    """
    tree, origin = load_spec(source, overrides)
    v = _Validator(origin)
    out: dict[str, Any] = {"spec_version": SPEC_VERSION}

    version = tree.get("spec_version", SPEC_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        v.add("spec_version", f"expected an integer; got {_describe(version)}")
    elif version > SPEC_VERSION:
        v.add("spec_version", f"spec_version {version} is newer than this posediff understands ({SPEC_VERSION}); upgrade posediff")
    elif version < 1:
        v.add("spec_version", f"spec_version must be >= 1; got {version}")

    for key in tree:
        if key not in TOP_KEYS:
            close = difflib.get_close_matches(str(key), TOP_KEYS, n=1)
            v.add(str(key), "unknown top-level key" + (f"; did you mean {close[0]!r}?" if close else ""),
                  f"accepted: {', '.join(TOP_KEYS)}")

    meta = tree.get("meta", {})
    if not isinstance(meta, Mapping) or not all(isinstance(x, (str, int, float, bool)) for x in meta.values()):
        v.add("meta", "expected a table of plain values (name, summary, ...)")
        meta = {}
    out["meta"] = dict(meta)

    lifter = tree.get("lifter", {})
    lifter_out: dict[str, Any] = {}
    if not isinstance(lifter, Mapping):
        v.add("lifter", f"expected a table; got {_describe(lifter)}")
        lifter = {}
    for key in lifter:
        if key not in LIFTER_KEYS:
            close = difflib.get_close_matches(str(key), LIFTER_KEYS, n=1)
            v.add(f"lifter.{key}", "unknown key" + (f"; did you mean {close[0]!r}?" if close else ""),
                  f"accepted: {', '.join(LIFTER_KEYS)}")
    for key, (ann, default) in LIFTER_KEYS.items():
        value = lifter.get(key, default)
        ok, norm = _check_value(value, ann)
        if not ok:
            v.add(f"lifter.{key}", f"expected {_type_name(ann)}; got {_describe(value)}")
            norm = default
        lifter_out[key] = norm
    for key in ("frames", "dim"):
        if isinstance(lifter_out[key], int) and lifter_out[key] < 1:
            v.add(f"lifter.{key}", f"expected a positive integer; got {lifter_out[key]}")
    if lifter_out["max_rows"] < 0:
        v.add("lifter.max_rows", f"expected >= 0; got {lifter_out['max_rows']}")
    from .geometry.skeletons import SKELETONS

    if lifter_out["skeleton"] not in SKELETONS:
        v.add("lifter.skeleton", f"unknown skeleton {lifter_out['skeleton']!r}",
              f"available: {', '.join(sorted(SKELETONS))}")
        joints = 17
    else:
        joints = SKELETONS[lifter_out["skeleton"]].num_joints
    out["lifter"] = lifter_out
    context = {"skeleton": lifter_out["skeleton"], "frames": lifter_out["frames"], "dim": lifter_out["dim"],
               "joints": joints, "cond_dim": 0}

    for slot in ("backbone", "conditioner", "sampler", "aggregator"):
        if slot not in tree:
            v.add(slot, f"missing the [{slot}] table", f"available {slot}s: {', '.join(registry.list_components(slot))}")
            continue
        resolved = v.component(slot, tree[slot], slot, context)
        if resolved is not None:
            out[slot] = resolved
            if slot == "conditioner":
                context["cond_dim"] = _token_dim(resolved, context)

    fusion = tree.get("fusion", [])
    sites_out = []
    if not isinstance(fusion, list):
        v.add("fusion", f"expected a list of fusion sites ([[fusion]] tables); got {_describe(fusion)}")
        fusion = []
    hook_points = _hook_points(out.get("backbone"), context)
    seen_at: set[str] = set()
    for i, site in enumerate(fusion):
        path = f"fusion[{i}]"
        if not isinstance(site, Mapping):
            v.add(path, f"expected a table with 'at' and 'blocks'; got {_describe(site)}")
            continue
        for key in site:
            if key not in FUSION_SITE_KEYS:
                close = difflib.get_close_matches(str(key), FUSION_SITE_KEYS, n=1)
                v.add(f"{path}.{key}", "unknown key" + (f"; did you mean {close[0]!r}?" if close else ""),
                      f"accepted: {', '.join(FUSION_SITE_KEYS)}")
        at = site.get("at")
        if not isinstance(at, str):
            v.add(f"{path}.at", f"expected a hook point name such as 'spatial.0'; got {_describe(at)}")
        elif hook_points is not None and at not in hook_points:
            close = difflib.get_close_matches(at, hook_points, n=1)
            v.add(f"{path}.at", f"unknown hook point {at!r}" + (f"; did you mean {close[0]!r}?" if close else ""),
                  f"valid: {', '.join(hook_points)}")
        elif at in seen_at:
            v.add(f"{path}.at", f"hook point {at!r} is used by two fusion sites; put both blocks in one site")
        seen_at.add(at if isinstance(at, str) else "")
        residual = site.get("residual", True)
        if not isinstance(residual, bool):
            v.add(f"{path}.residual", f"expected true or false; got {_describe(residual)}")
        blocks = site.get("blocks", [])
        if not isinstance(blocks, list) or not blocks:
            v.add(f"{path}.blocks", f"expected a non-empty list of fusion tables; got {_describe(blocks)}")
            blocks = []
        blocks_out = []
        for j, block in enumerate(blocks):
            resolved = v.component("fusion", block, f"{path}.blocks[{j}]", context)
            if resolved is not None:
                blocks_out.append(resolved)
        sites_out.append({"at": at, "residual": residual, "blocks": blocks_out})
    out["fusion"] = sites_out

    if v.problems:
        raise SpecError(v.problems, origin)
    return out


def _token_dim(conditioner: dict, context: Mapping[str, Any]) -> int:
    """Width of the conditioner's prompt tokens, known before construction: the class's
    ``token_dim_for(params)`` if it has one, else its text encoder's ``width``, else 0."""
    cls = registry.get("conditioner", conditioner["name"])
    fn = getattr(cls, "token_dim_for", None)
    if callable(fn):
        try:
            return int(fn({**context, **conditioner}))
        except Exception:  # noqa: BLE001 - the constructor will complain precisely
            return 0
    encoder = conditioner.get("text_encoder")
    if isinstance(encoder, Mapping) and isinstance(encoder.get("width"), int):
        return encoder["width"]
    return 0


def _hook_points(backbone: dict | None, context: Mapping[str, Any]) -> list[str] | None:
    if backbone is None:
        return None
    cls = registry.get("backbone", backbone["name"])
    fn = getattr(cls, "hook_points_for", None)
    if not callable(fn):
        return None
    try:
        return list(fn({**context, **backbone}))
    except Exception:  # noqa: BLE001 - the constructor will complain precisely
        return None


# --------------------------------------------------------------------------------------------
# dumping (a small TOML writer for the spec subset: scalars, lists, inline tables)
# --------------------------------------------------------------------------------------------
def _without_none(value: Any, path: str) -> Any:
    """``value`` with None entries of tables dropped (TOML has no null); lone surrogates refused."""
    if isinstance(value, Mapping):
        return {str(k): _without_none(v, f"{path}.{k}" if path else str(k)) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_none(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str) and any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        code = next(ord(ch) for ch in value if 0xD800 <= ord(ch) <= 0xDFFF)
        raise SpecError([Problem(path, f"cannot write {value!r} to TOML: it holds a lone surrogate (U+{code:04X})")])
    if value is not None and not isinstance(value, (bool, int, float, str)):
        raise SpecError([Problem(path, f"cannot write {type(value).__name__} to TOML")])
    return value


def dump_spec(spec: Mapping[str, Any], path: str | Path | None = None) -> str:
    """Write a spec as TOML (with ``tomli_w``); return the text and optionally save it to ``path``.

    ``None`` values are left out (TOML has no null). Reading the text back (:func:`load_spec`) gives the
    same spec.

    Raises:
        SpecError: a value TOML cannot hold (a lone surrogate, an object that is not plain data).
    """
    text = tomli_w.dumps(_without_none(spec, ""))
    if path is not None:
        Path(path).write_text(text)
    return text
