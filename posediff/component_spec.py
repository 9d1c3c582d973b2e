"""Components know their config: the spec table a built component reports, and the lifter's spec from its parts.

Every component stores each constructor argument under its own name (the convention of
:doc:`plugins`); :func:`component_spec` reads them back, so ``build_component(kind, component_spec(c))``
rebuilds ``c`` and :meth:`posediff.lifter.PoseLifter.to_spec` assembles the whole spec from the parts the
model really holds (not from the dict it was built from). Context arguments (``skeleton``, ``frames``,
``dim``, ``joints``, ``cond_dim``) are the lifter's, not the component's, and are left out; a ``None``
value of an optional argument is left out, as in a resolved spec.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from . import registry
from .errors import PluginError
from .spec import CONTEXT_KEYS, DERIVED_CONTEXT, kind_of_annotation, component_parameters

__all__ = ["component_spec", "kind_of"]


def kind_of(component: Any) -> str:
    """The kind of a built component (from its base class's ``__posediff_kind__``)."""
    kind = getattr(type(component), "__posediff_kind__", None)
    if not isinstance(kind, str):
        raise PluginError(f"{type(component).__name__} is not a posediff component (it subclasses none of the kind "
                          "base classes of posediff.interfaces)")
    return kind


def _plain(value: Any, where: str) -> Any:
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, where) for k, v in value.items()}
    raise PluginError(f"{where}: the stored value {type(value).__name__} is not plain data (a spec holds bools, "
                      "numbers, strings, lists and tables); store the constructor argument unchanged")


def component_spec(component: nn.Module) -> dict:
    """The spec table ``{"name": ..., <argument>: <value>, ...}`` a built component reports.

    Args:
        component: A component built by posediff (or constructed directly from a registered class).

    Returns:
        A plain dict; nested components (a sampler's ``schedule``, a conditioner's ``text_encoder``) are
        nested tables.

    Raises:
        PluginError: not a registered component, or a constructor argument it did not store.

    Example:
        >>> from posediff.samplers import DDIMSampler
        >>> from posediff.schedules import CosineSchedule
        >>> component_spec(DDIMSampler(CosineSchedule(), eta=0.5))["eta"]
        0.5
    """
    kind = kind_of(component)
    name = component.registered_name() if hasattr(component, "registered_name") else registry.name_of(kind, component)
    if name is None:
        raise PluginError(f"{type(component).__name__} is not registered as a {kind}: it cannot report its spec")
    table: dict[str, Any] = {"name": name}
    for pname, ann, _default in component_parameters(registry.get(kind, name)):
        if pname in CONTEXT_KEYS or pname in DERIVED_CONTEXT:
            continue
        where = f"{kind} {name!r}, argument {pname!r}"
        if not hasattr(component, pname):
            raise PluginError(f"{where}: the component does not store it as an attribute of the same name, so it "
                              "cannot report the spec it was built from")
        value = getattr(component, pname)
        if value is None:
            continue
        if kind_of_annotation(ann) is not None and isinstance(value, nn.Module):
            table[pname] = component_spec(value)
        else:
            table[pname] = _plain(value, where)
    return table
