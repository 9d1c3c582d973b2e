"""Every preset builds; build(model.spec) rebuilds an identical model (hypothesis over presets and overrides)."""
from __future__ import annotations

import gc
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import posediff
from posediff.presets import _builtin

BUILTIN = sorted(_builtin())  # plugin presets are tested by their own packages



@pytest.mark.parametrize("name", BUILTIN)
def test_every_preset_builds_at_full_size(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lifter = posediff.build(name)
    assert lifter.spec["meta"]["name"] == name
    # the spec is assembled from what the parts report, and equals the resolved preset key for key
    assert lifter.spec == posediff.resolve_spec(name) and list(lifter.spec) == list(posediff.resolve_spec(name))
    lifter.fast_sampling("bf16")
    assert lifter.spec["lifter"]["precision"] == "bf16"  # run-time changes show in the spec
    assert isinstance(lifter, torch.nn.Module) and not lifter.training
    text = repr(lifter)
    assert "PoseLifter" in text
    del lifter
    gc.collect()


def _small(name: str) -> dict:
    """Overrides that keep a preset's structure but make it cheap to build and run on CPU."""
    spec = posediff.resolve_spec(name)
    o = {"lifter.frames": 9, "lifter.dim": 32, "backbone.depth": 1, "backbone.heads": 2}
    cond = spec["conditioner"]
    if "adapter_layers" in cond:
        o.update({"conditioner.adapter_layers": 1, "conditioner.adapter_heads": 2, "conditioner.adapter_ff": 32})
    if "text_encoder" in cond:
        o["conditioner.text_encoder"] = {"name": "offline", "width": 32, "layers": 1, "heads": 2}
    for i, site in enumerate(spec["fusion"]):
        for j, block in enumerate(site["blocks"]):
            if "heads" in block:
                o[f"fusion[{i}].blocks[{j}].heads"] = 2
    o["sampler.hypotheses"] = 2
    o["sampler.steps"] = 2
    return o


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(BUILTIN),
       steps=st.integers(1, 4), hypotheses=st.integers(1, 3), flip=st.booleans(),
       aggregator=st.sampled_from(["mean", "jpma"]))
def test_build_spec_roundtrip_identical(name, steps, hypotheses, flip, aggregator):
    overrides = {**_small(name), "sampler.steps": steps, "sampler.hypotheses": hypotheses, "sampler.flip": flip,
                 "aggregator.name": aggregator}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        a = posediff.build(name, overrides=overrides)
        torch.manual_seed(0)
        b = posediff.build(a.spec)
    assert a.spec == b.spec
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    x2d = torch.randn(1, 9, a.skeleton.num_joints, 2) * 0.1
    ya = a.sample(x2d, generator=torch.Generator().manual_seed(1))
    yb = b.sample(x2d, generator=torch.Generator().manual_seed(1))
    assert ya.shape == (1, steps, hypotheses, 9, a.skeleton.num_joints, 3)
    assert torch.equal(ya, yb)
