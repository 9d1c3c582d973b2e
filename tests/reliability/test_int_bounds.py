"""Every integer and float field of the tiny presets, pushed to its boundary values, either builds a lifter that
samples finite poses or is refused with a :class:`~posediff.errors.SpecError` naming the field.

The slow fuzz run found ``conditioner.adapter_ff = -1`` (a RuntimeError deep inside ``nn.Linear``) and
``conditioner.adapter_heads = -1`` (accepted, then a crash in the first forward). This test walks every numeric
leaf deterministically, so no field's lower bound is left to chance.
"""
from __future__ import annotations

import math
import warnings

import pytest
import torch

import posediff
from posediff.errors import PosediffError, SpecError
from posediff.spec import resolve_spec

from reliability_helpers import record


def _tiny_with_conditioner(name: str) -> dict:
    """finepose-tiny with its conditioner swapped for conditioner ``name`` (same text encoder and adapter)."""
    spec = resolve_spec("finepose-tiny")
    cond = spec["conditioner"]
    spec["conditioner"] = {"name": name, "text_encoder": cond["text_encoder"],
                           **{k: cond[k] for k in ("adapter_layers", "adapter_heads", "adapter_ff")}}
    return resolve_spec(spec)


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    BASES = {name: resolve_spec(name) for name in ("finepose-tiny", "d3dp-tiny")}
    BASES.update({f"finepose-tiny/{c}": _tiny_with_conditioner(c) for c in ("learnable", "manual", "single",
                                                                             "coarse")})

SKIP_PREFIXES = ("meta", "spec_version", "conditioner.actions", "conditioner.parts")
INT_EDGES = (-1, 0)
FLOAT_EDGES = (-1.0, 0.0, math.inf, math.nan)


def _numeric_leaves(tree, prefix=""):
    """``(override path, value)`` of every int/float leaf (bools excluded)."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _numeric_leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from _numeric_leaves(v, f"{prefix}[{i}]")
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield prefix, tree


def _cases():
    for base, spec in BASES.items():
        for path, value in _numeric_leaves(spec):
            if path.startswith(SKIP_PREFIXES):
                continue
            for edge in INT_EDGES if isinstance(value, int) else FLOAT_EDGES:
                yield pytest.param(base, path, edge, id=f"{base}:{path}={edge}")


@pytest.mark.parametrize("base, path, value", list(_cases()))
def test_numeric_edge_builds_or_is_refused(base, path, value):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lifter = posediff.build(BASES[base], {path: value})
    except SpecError as exc:
        assert exc.problems, "a SpecError must list its problems"
        field = path.rsplit(".", 1)[-1].split("[")[0]
        assert field in str(exc), f"the error for {path} = {value} does not name {field!r}: {exc}"
        record("numeric_bounds", cases=1, refused=1)
        return
    x = torch.zeros(1, lifter.frames, lifter.skeleton.num_joints, 2)
    try:
        out = lifter.sample(x, generator=torch.Generator().manual_seed(0), hypotheses=1, steps=1)
    except PosediffError:
        record("numeric_bounds", cases=1, refused_at_run_time=1)
        return  # refused at run time with a posediff error (e.g. a run-time argument check)
    assert torch.isfinite(out).all(), f"{path} = {value} built a lifter that samples non-finite poses"
    record("numeric_bounds", cases=1, sampled_finite=1)
