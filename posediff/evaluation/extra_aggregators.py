"""Registered aggregators scored by evaluation beside the four standard rows (``aggregators=``, CLI
``--aggregators``): built through the registry, so plugin aggregators are first-class in reports."""
from __future__ import annotations

from typing import Any, Sequence

from ..errors import InputError
from .protocols import ORACLE_LABEL

__all__ = ["BUILT_IN_ROWS", "registered_aggregators", "lacking_inputs"]


BUILT_IN_ROWS = {"jpma": "J-Agg", "mean": "P-Agg"}
"""Registered aggregators that are standard rows of every report already."""


def registered_aggregators(lifter, names: Sequence[str]) -> tuple[dict[str, Any], dict[str, dict]]:
    """Build the extra aggregators by name through the registry (with the lifter's skeleton, frames and
    width); returns ``({name: module}, {name: {"label", "oracle", "description", "registered"}})``. Names of
    standard rows (:data:`BUILT_IN_ROWS`) and repeats are skipped; a comma-separated string is accepted.

    Raises:
        SpecError: an unknown name (the message lists the registered ones). InputError: a name that is not a
            non-empty string.
    """
    from ..build import build_component
    from ..registry import describe

    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    extras: dict[str, Any] = {}
    info: dict[str, dict] = {}
    for name in names:
        if not isinstance(name, str) or not name:
            raise InputError(f"aggregators must be registered aggregator names; got {name!r}")
        if name in BUILT_IN_ROWS or name in extras:
            continue
        agg = build_component("aggregator", {"name": name}, skeleton=lifter.skeleton.name, frames=lifter.frames,
                              dim=lifter.dim, joints=lifter.skeleton.num_joints)
        extras[name] = agg
        oracle = "target" in agg.needs
        summary = describe("aggregator", name).summary
        info[name] = {"label": f"{name}, {ORACLE_LABEL}" if oracle else name, "oracle": oracle,
                      "description": summary, "registered": True}
    return extras, info


def lacking_inputs(agg, protocol: str, has_camera: bool, has_root: bool) -> list[str]:
    """The inputs an extra aggregator needs that a protocol cannot give it (target is always given)."""
    out = []
    if "camera" in agg.needs and not has_camera:
        out.append("camera intrinsics")
    if "root" in agg.needs and not (protocol == "paper" and has_root):
        out.append("the ground-truth root")
    return out
