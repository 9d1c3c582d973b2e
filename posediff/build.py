"""From spec to objects: validate the whole spec, then construct bottom-up and compose a lifter.

Only the last step creates tensors. Components receive built objects, never dicts; no constructor
calls the registry.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterable, Mapping

from . import interfaces, registry
from .errors import InputError, Problem, SpecError
from .sampling import LOOP_KEYS, SamplingSettings
from .spec import CONTEXT_KEYS, DERIVED_CONTEXT, component_parameters, resolve_spec, kind_of_annotation

__all__ = ["build", "build_component", "construct"]


def construct(kind: str, table: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
    """Construct one component from a *resolved* table (see :func:`posediff.spec.resolve_spec`).

    Nested component tables are constructed first; context keys are injected by parameter name.
    """
    cls = registry.get(kind, table["name"])
    if kind == "sampler":
        old = [p for p, _, _ in component_parameters(cls) if p in LOOP_KEYS]
        if old:
            from .errors import ContractError

            raise ContractError(
                f"sampler {table['name']!r} ({registry.provider(kind, table['name'])}) takes the loop's settings "
                f"{old} in its constructor: since posediff 0.2 a sampler is its schedule, timesteps and step rule, "
                "and steps, hypotheses, flip, clamp and scale are a posediff.sampling.SamplingSettings given to the "
                "loop (the spec keeps these keys in [sampler]); drop them from the constructor and call "
                "super().__init__(schedule)")
    kwargs: dict[str, Any] = {}
    for pname, ann, default in component_parameters(cls):
        if pname in CONTEXT_KEYS or pname in DERIVED_CONTEXT:
            if pname in context:
                kwargs[pname] = context[pname]
            continue
        if pname not in table:
            continue
        value = table[pname]
        sub_kind = kind_of_annotation(ann)
        if sub_kind is not None and isinstance(value, Mapping):
            value = construct(sub_kind, value, context)
        else:
            value = copy.deepcopy(value)
        kwargs[pname] = value
    try:
        obj = cls(**kwargs)
    except (SpecError,):
        raise
    except (TypeError, ValueError, ArithmeticError) as exc:  # ArithmeticError: e.g. int(inf) of a size
        raise SpecError([Problem(kind, f"{kind} {table['name']!r} rejected its arguments: {exc}")]) from exc
    base = interfaces.KIND_BASES[kind]
    if not isinstance(obj, base):  # e.g. a plugin factory that returns something else
        from .errors import PluginError

        raise PluginError(
            f"{kind} {table['name']!r} from {registry.provider(kind, table['name'])} must build a subclass of "
            f"posediff.interfaces.{base.__name__} (the {kind} contract); got {type(obj).__name__}"
        )
    suspects = interfaces.misspelt_hooks(kind, type(obj))
    if suspects:
        from .errors import ContractError

        raise ContractError(f"{kind} {table['name']!r}: " + "; ".join(suspects))
    # the registered name travels with the component, so that it can report its own spec
    obj.__dict__["_posediff_name"] = table["name"]
    return obj


def build_component(kind: str, table: Mapping[str, Any], **context: Any) -> Any:
    """Validate and build one component from a table, e.g.
    ``build_component("fusion", {"name": "pts"}, dim=64)``.

    Context keys (``dim``, ``frames``, ``skeleton``, ``joints``, ``cond_dim``) are keyword arguments.
    """
    from .spec import SpecValidator

    v = SpecValidator(f"{kind} table")
    ctx = {"skeleton": "h36m-17", "frames": 243, "dim": 512, "joints": 17, "cond_dim": 0}
    ctx.update(context)
    resolved = v.component(kind, table, kind, ctx)
    if v.problems or resolved is None:
        raise SpecError(v.problems, f"{kind} table")
    return construct(kind, resolved, ctx)


def build(
    source: Any,
    overrides: Mapping[str, Any] | Iterable[str] | None = None,
    *,
    weights: str | Path | None = None,
):
    """Build a :class:`~posediff.lifter.PoseLifter` from a preset name, a spec file or a dict.

    Args:
        source: ``"finepose-h36m"``, ``"path/to/spec.toml"``, a spec dict, or a lifter's ``.spec``.
        overrides: ``{"sampler.steps": 5}`` or ``["sampler.steps=5"]``.
        weights: Not accepted: ``build`` only builds (random weights). Loading has one entry point,
            :func:`posediff.load`: ``posediff.load(weights)`` for a model with the spec its checkpoint
            carries, ``posediff.load(weights, spec=source)`` to load weights into this spec.

    Returns:
        The lifter, in eval mode, with ``.spec`` the resolved spec (a plain dict).

    Raises:
        SpecError: every problem of the spec, found before any tensor is allocated.
        InputError: ``weights=`` given (the message shows the ``posediff.load`` call to use).

    Example:
        >>> import posediff
        >>> lifter = posediff.build("finepose-tiny", overrides={"sampler.steps": 2})
        >>> lifter.spec["sampler"]["steps"]
        2
    """
    if weights is not None:
        raise InputError(
            f"posediff.build makes a model with random weights and takes no weights= (got {str(weights)!r}); "
            f"load weights with posediff.load({str(weights)!r}) (the spec the checkpoint carries) or "
            f"posediff.load({str(weights)!r}, spec=...) (weights loaded into the spec you give)")
    from .geometry.skeletons import get_skeleton
    from .lifter import PoseLifter

    spec = resolve_spec(source, overrides)
    lifter_cfg = spec["lifter"]
    skeleton = get_skeleton(lifter_cfg["skeleton"])
    context: dict[str, Any] = {
        "skeleton": skeleton.name,
        "frames": lifter_cfg["frames"],
        "dim": lifter_cfg["dim"],
        "joints": skeleton.num_joints,
    }
    conditioner = construct("conditioner", spec["conditioner"], {**context, "cond_dim": 0})
    context["cond_dim"] = int(conditioner.token_dim)  # a declared hook (Conditioner.token_dim)
    backbone = construct("backbone", spec["backbone"], context)
    bad = [s["at"] for s in spec["fusion"] if s["at"] not in backbone.hook_points]
    if bad:
        raise SpecError([Problem("fusion", f"unknown hook point(s) {bad} for backbone {spec['backbone']['name']!r}",
                                 f"valid: {', '.join(backbone.hook_points)}")])
    from .fusion.site import FusionSite

    sites = {}
    for site in spec["fusion"]:
        blocks = [construct("fusion", b, context) for b in site["blocks"]]
        sites[site["at"]] = FusionSite(blocks=blocks, residual=site["residual"])
    sampler = construct("sampler", spec["sampler"], context)
    sampling = SamplingSettings.from_table(spec["sampler"])
    aggregator = construct("aggregator", spec["aggregator"], context)
    lifter = PoseLifter(
        backbone=backbone,
        conditioner=conditioner,
        sites=sites,
        sampler=sampler,
        sampling=sampling,
        aggregator=aggregator,
        skeleton=skeleton,
        frames=lifter_cfg["frames"],
        spec=spec,
        precision=lifter_cfg["precision"],
        max_rows=lifter_cfg["max_rows"],
    )
    lifter.eval()
    return lifter
