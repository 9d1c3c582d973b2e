"""Determinism on CPU: the same seed gives bit-identical samples, lifts, models and training steps.

GPU kernels are not covered here (no GPU in CI); docs/reliability.md lists where CUDA is non-deterministic
(atomic-add reductions in attention/LayerNorm backward, cuBLAS workspaces, TF32) and how to turn it off.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import posediff


def _x(lifter, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, lifter.frames, 17, 2, generator=g) * 0.6 - 0.3


@pytest.mark.parametrize("which", ["fine_lifter", "d3dp_lifter"])
def test_same_seed_same_samples(which, request):
    lifter = request.getfixturevalue(which)
    x = _x(lifter)
    actions = ["Walking", None] if which == "fine_lifter" else None
    a = lifter.sample(x, actions=actions, generator=torch.Generator().manual_seed(7))
    b = lifter.sample(x, actions=actions, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    c = lifter.sample(x, actions=actions, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(a, c)  # the seed matters: the test above can fail


def test_sampling_does_not_touch_the_global_rng(d3dp_lifter):
    """With an explicit generator, sampling leaves torch's global RNG alone (reproducible pipelines)."""
    torch.manual_seed(123)
    before = torch.get_rng_state()
    d3dp_lifter.sample(_x(d3dp_lifter), generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.get_rng_state(), before)


def test_same_seed_same_lift_and_posediff_lift(fine_lifter):
    cam = [1.15, 1.15, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    x = _x(fine_lifter)
    a = fine_lifter.lift(x, camera=cam, generator=torch.Generator().manual_seed(5))
    b = fine_lifter.lift(x, camera=cam, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    kp = np.random.default_rng(0).uniform(0, 640, (60, 17, 3))
    kp[..., 2] = 1.0
    r1 = posediff.lift(kp, lifter=fine_lifter, image_size=(640, 480), camera=cam, camera_units="normalized", seed=3)
    r2 = posediff.lift(kp, lifter=fine_lifter, image_size=(640, 480), camera=cam, camera_units="normalized", seed=3)
    assert np.array_equal(r1.poses3d, r2.poses3d)


def test_same_seed_same_model():
    torch.manual_seed(11)
    a = posediff.build("d3dp-tiny").state_dict()
    torch.manual_seed(11)
    b = posediff.build("d3dp-tiny").state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_training_loss(d3dp_lifter):
    x = _x(d3dp_lifter)
    y = torch.randn(2, d3dp_lifter.frames, 17, 3, generator=torch.Generator().manual_seed(2)) * 0.2
    la = d3dp_lifter.training_loss(x, y, generator=torch.Generator().manual_seed(4))
    lb = d3dp_lifter.training_loss(x, y, generator=torch.Generator().manual_seed(4))
    assert torch.equal(la, lb)


def test_batch_composition_does_not_change_a_clip_under_a_fixed_noise(d3dp_lifter):
    """Replaying recorded noise: a clip's samples do not depend on what else is in the batch (up to float
    reduction order, so compared with a tolerance)."""
    x = _x(d3dp_lifter)
    h, m = d3dp_lifter.sampling.hypotheses, d3dp_lifter.sampling.steps
    shape = (2, h, d3dp_lifter.frames, 17, 3)
    g = torch.Generator().manual_seed(9)
    draws = [torch.randn(shape, generator=g) for _ in range(m)]
    both = d3dp_lifter.sample(x, draws=draws)
    first = d3dp_lifter.sample(x[:1], draws=[d[:1] for d in draws])
    torch.testing.assert_close(both[:1], first, rtol=1e-5, atol=1e-5)
