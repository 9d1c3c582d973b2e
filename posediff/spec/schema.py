"""The spec schema: top-level keys, lifter settings, context keys, and the value types a constructor accepts."""
from __future__ import annotations

import inspect
import re
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

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
    "precision": (Literal["fp32", "bf16", "auto"], "fp32"),
    "max_rows": (int, 0),
}
"""``[lifter]`` keys: the context keys plus run-time settings. ``precision``: dtype of sampling on
CPU/GPU (``"auto"``: bf16 where this machine runs it faster, see :mod:`posediff.precision`); ``max_rows``: largest denoiser batch (clips × hypotheses) per call, 0 = no
chunking (bounds peak memory)."""

FUSION_SITE_KEYS = ("at", "residual", "blocks")
PRESET_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def kind_of_annotation(ann: Any) -> str | None:
    """The component kind a constructor annotation names (e.g. ``NoiseSchedule`` → ``"schedule"``, also inside ``Optional``), else None."""
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


def type_name(ann: Any) -> str:
    """How an annotation reads in a message (``int``, ``"a" or "b"``, ``list of str`` …)."""
    if ann is inspect.Parameter.empty:
        return "any"
    origin = get_origin(ann)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(ann))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in get_args(ann))
    if origin in (list, tuple):
        args = [a for a in get_args(ann) if a is not Ellipsis]
        return f"list of {type_name(args[0])}" if args else "list"
    if ann is type(None):
        return "none"
    return getattr(ann, "__name__", str(ann))


def check_value(value: Any, ann: Any) -> tuple[bool, Any]:
    """Check ``value`` against annotation ``ann``; return (ok, normalised value)."""
    if ann is inspect.Parameter.empty or ann is Any:
        return True, value
    origin = get_origin(ann)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in get_args(ann)), value
    if origin in (Union, types.UnionType):
        for arg in get_args(ann):
            ok, norm = check_value(value, arg)
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
            ok, n = check_value(v, a)
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
