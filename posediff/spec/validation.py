"""Validating a spec against the registered constructors: :func:`resolve_spec`, every problem at once."""
from __future__ import annotations

import copy
import difflib
import inspect
from typing import Any, Iterable, Mapping

from .. import registry
from ..errors import PluginError, Problem, SpecError, UnknownComponentError
from ..interfaces import TextEncoder, contract_of
from ..sampling import SamplingSettings, loop_parameters
from ..validation import is_int
from .io import load_spec
from .schema import (
    CONTEXT_KEYS,
    DERIVED_CONTEXT,
    FUSION_SITE_KEYS,
    LIFTER_KEYS,
    SPEC_VERSION,
    TOP_KEYS,
    check_value,
    kind_of_annotation,
    type_name,
    component_parameters,
)


class SpecValidator:
    """Collects every problem of one spec (each with its key path) while it is resolved; used by spec validation and by the builder and contract tests that validate a single component table."""
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.problems: list[Problem] = []
        self.plugin_failed = False

    def add(self, path: str, message: str, hint: str = "") -> None:
        """Record one problem at ``path``."""
        self.problems.append(Problem(path, message, hint))

    def component(self, kind: str, table: Any, path: str, context: Mapping[str, Any]) -> dict | None:
        """Resolve one component table (name, parameters with defaults, nested components, the component's ``check_params``); the resolved table, or None with problems recorded."""
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
            self.plugin_failed = self.plugin_failed or isinstance(exc, PluginError)
            self.add(f"{path}.name", str(exc).splitlines()[0])
            return None
        before = len(self.problems)
        params = component_parameters(obj)
        if kind == "sampler":  # the loop's settings live in the [sampler] table too (SamplingSettings)
            own = {p[0] for p in params}
            loop = loop_parameters(contract_of(kind, obj).loop_defaults)
            params = params + [p for p in loop if p[0] not in own]
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
            sub_kind = kind_of_annotation(ann)
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
                ok, norm = check_value(value, ann)
                if not ok:
                    self.add(f"{path}.{pname}", f"expected {type_name(ann)}; got {_describe(value)}")
                    continue
                resolved[pname] = norm
            elif default is inspect.Parameter.empty:
                what = f"a {sub_kind} table" if sub_kind else type_name(ann)
                self.add(f"{path}.{pname}", f"missing required parameter ({what})")
            elif default is not None:
                resolved[pname] = copy.deepcopy(list(default) if isinstance(default, tuple) else default)
        # component-specific checks that need no tensors, given the constructor's arguments by name
        if len(self.problems) == before:
            given = {**context, **resolved}
            try:
                for message in contract_of(kind, obj).check_params({k: given[k] for k in known if k in given}) or ():
                    self.add(path, message)
            except Exception as exc:  # noqa: BLE001
                self.add(path, f"{type(exc).__name__}: {exc}")
            if kind == "sampler":
                schedule = resolved.get("schedule")
                timesteps = schedule.get("timesteps") if isinstance(schedule, Mapping) else None
                for message in SamplingSettings.problems(resolved, timesteps if is_int(timesteps) else None):
                    key, _, text = message.partition(": ")
                    self.add(f"{path}.{key.split('.')[-1]}", text)
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
    v = SpecValidator(origin)
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
        ok, norm = check_value(value, ann)
        if not ok:
            v.add(f"lifter.{key}", f"expected {type_name(ann)}; got {_describe(value)}")
            norm = default
        lifter_out[key] = norm
    for key in ("frames", "dim"):
        if isinstance(lifter_out[key], int) and lifter_out[key] < 1:
            v.add(f"lifter.{key}", f"expected a positive integer; got {lifter_out[key]}")
    if lifter_out["max_rows"] < 0:
        v.add("lifter.max_rows", f"expected >= 0; got {lifter_out['max_rows']}")
    from ..geometry.skeletons import SKELETONS

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
        raise SpecError(v.problems, origin, plugin_failed=v.plugin_failed)
    return out


def _token_dim(conditioner: dict, context: Mapping[str, Any]) -> int:
    """Width of the conditioner's prompt tokens, known before construction: the class's
    ``token_dim_for(params)`` hook when it gives one, else its text encoder's ``width_for(params)`` hook (by
    default the table's ``width``), else 0."""
    hooks = contract_of("conditioner", registry.get("conditioner", conditioner["name"]))
    try:
        width = hooks.token_dim_for({**context, **conditioner})
    except Exception:  # noqa: BLE001 - the constructor will complain precisely
        return 0
    if width is not None:
        return int(width)
    encoder = conditioner.get("text_encoder")
    if not isinstance(encoder, Mapping):
        return 0
    name = encoder.get("name")
    known = isinstance(name, str) and name in registry.list_components("text_encoder")
    encoder_hooks = contract_of("text_encoder", registry.get("text_encoder", name)) if known else TextEncoder
    try:
        return int(encoder_hooks.width_for(dict(encoder)))
    except Exception:  # noqa: BLE001 - the constructor will complain precisely
        return 0


def _hook_points(backbone: dict | None, context: Mapping[str, Any]) -> list[str] | None:
    if backbone is None:
        return None
    hooks = contract_of("backbone", registry.get("backbone", backbone["name"]))
    try:
        points = hooks.hook_points_for({**context, **backbone})
    except Exception:  # noqa: BLE001 - the constructor will complain precisely
        return None
    return None if points is None else list(points)
