"""Numerics: bf16 paths stay finite on extreme but valid inputs, and the sampler clamps as the paper does.

Extreme inputs: 2D far from the image centre (people at the border, pixels passed as normalised
coordinates), people far from the camera (tiny 2D, root depth up to 100 km), collapsed poses, the
first reverse step t = T−1 where ᾱ is tiny (the cosine schedule's ᾱ_{T−1} ≈ 2.4e-9).
"""
from __future__ import annotations

import math

import pytest
import torch

import posediff
from posediff import metrics
from posediff.aggregators.jpma import JPMAAggregator
from posediff.geometry.cameras import estimate_root, project_to_2d

CAM = torch.tensor([1.15, 1.15, 0.01, -0.02, -0.2, 0.25, -0.003, -0.001, 0.001])  # H36M-like, normalised
DTYPES = [torch.float32, torch.bfloat16]


def _x2d(kind: str, frames: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    base = torch.rand(1, frames, 17, 2, generator=g) * 0.4 - 0.2
    return {
        "centre": base,
        "border": base + torch.tensor([0.95, -0.55]),
        "far-off-image": base + torch.tensor([50.0, -50.0]),
        "pixels-as-normalised": base * 2000 + 1000,
        "huge": base * 1e6,
        "collapsed": torch.full((1, frames, 17, 2), 0.3),
        "tiny-far-person": base * 1e-4,
    }[kind]


KINDS = ["centre", "border", "far-off-image", "pixels-as-normalised", "huge", "collapsed", "tiny-far-person"]


@pytest.fixture(scope="module")
def bf16_lifter():
    torch.manual_seed(0)
    return posediff.build("finepose-tiny", overrides={"lifter.precision": "bf16", "sampler.steps": 2,
                                                      "sampler.hypotheses": 2})


@pytest.mark.parametrize("kind", KINDS)
def test_bf16_sampling_and_lifting_stay_finite(kind, bf16_lifter):
    x = _x2d(kind, bf16_lifter.frames)
    out = bf16_lifter.sample(x, actions=["Walking"], generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out).all()
    bound = bf16_lifter.sampling.clamp  # x̂0 is clamped to ±clamp (scale 1)
    assert out.abs().max() <= bound + 1e-6
    pose = bf16_lifter.lift(x, camera=CAM, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(pose).all()


@pytest.mark.parametrize("kind", ["centre", "far-off-image", "huge"])
def test_bf16_denoiser_at_last_timestep(kind, bf16_lifter):
    x = _x2d(kind, bf16_lifter.frames)
    T = bf16_lifter.sampler.schedule.timesteps
    y = torch.full((1, bf16_lifter.frames, 17, 3), bf16_lifter.sampling.clamp)  # on the clamp bound
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = bf16_lifter.denoise(x, y, torch.tensor([T - 1]))
    assert torch.isfinite(out).all()


def test_schedules_alpha_bar_tiny_but_usable():
    for name in posediff.list_components("schedule"):
        sched = posediff.build_component("schedule", {"name": name})
        ac = sched.alphas_cumprod()
        assert ac.dtype == torch.float64 and torch.isfinite(ac).all()
        assert (ac > 0).all() and (ac <= 1).all() and (ac[1:] <= ac[:-1]).all()
        a = float(ac[-1])
        assert math.isfinite(math.sqrt(1 / a - 1)), (name, a)  # ε̂'s denominator at t = T−1


# ------------------------------------------------------------------------------------- the paper's clamps
@pytest.mark.parametrize("dtype", DTYPES)
def test_sampler_clamps_inputs_and_predictions(dtype):
    """x_t is clamped to ±clamp·scale before the denoiser, x̂0 after it; ε̂ uses the unclamped x_t."""
    from posediff.sampling import SamplingSettings

    sampler = posediff.build_component("sampler", {"name": "ddim", "schedule": {"name": "cosine"}})
    loop = SamplingSettings(steps=3, hypotheses=4, flip=False)
    seen = []

    def wild(x2d, y, t):
        seen.append(y.detach().clone())
        return torch.full_like(y, 1e6) * torch.sign(torch.randn_like(y))  # a diverging denoiser

    trace: list = []
    out = sampler.sample(wild, torch.zeros(2, 9, 17, 2, dtype=dtype), settings=loop, flip_permutation=None,
                         generator=torch.Generator().manual_seed(0), trace=trace)
    bound = loop.clamp * loop.scale
    assert out.dtype == dtype and torch.isfinite(out).all()
    assert out.abs().max() <= bound
    assert all(y.abs().max() <= bound for y in seen)
    assert trace[0]["x_t"].abs().max() > bound  # the raw x_T exceeded the bound: the clamp was exercised
    ac = sampler.schedule.alphas_cumprod()
    for step in trace:
        a = float(ac[step["t"]])
        want = (math.sqrt(1 / a) * step["x_t"].double() - step["x0"].double()) / math.sqrt(1 / a - 1)
        assert torch.isfinite(step["eps"]).all()
        torch.testing.assert_close(step["eps"].double(), want.to(dtype).double(), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("t", [0, 500, 999])
def test_add_noise_is_clamped_at_every_step(dtype, t):
    sampler = posediff.build_component("sampler", {"name": "ddim", "schedule": {"name": "cosine"}})
    x0 = torch.full((2, 5, 17, 3), 1e4, dtype=dtype)
    noise = torch.full_like(x0, -1e4)
    y = sampler.add_noise(x0, torch.tensor([t, t]), noise, clamp=1.1)
    assert y.dtype == dtype and torch.isfinite(y).all() and y.abs().max() <= 1.1


# ------------------------------------------------------------------------------------- JPMA root estimation
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("root", [(0.5, -0.3, 2.0), (20.0, -8.0, 5.0), (0.5, -0.3, 50.0), (3.0, 1.0, 1e3),
                                  (0.5, -0.3, 1e5), (0.0, 0.0, 0.15)],
                         ids=["near", "off-image", "50m", "1km", "100km", "touching-lens"])
def test_jpma_root_estimation_finite_far_from_camera(dtype, root):
    g = torch.Generator().manual_seed(1)
    hyps = torch.randn(2, 3, 5, 17, 3, generator=g) * 0.3
    hyps[..., 0, :] = 0.0
    tau = torch.tensor(root).view(1, 1, 1, 3)
    x2d = project_to_2d(hyps.mean(1) + tau, CAM)
    assert torch.isfinite(x2d).all()
    est = estimate_root(hyps.mean(1).to(dtype), x2d.to(dtype), CAM.to(dtype))
    assert est.dtype == dtype and torch.isfinite(est).all() and (est[..., 2] > 0).all()
    out = JPMAAggregator()(hyps.to(dtype), x2d=x2d.to(dtype), camera=CAM.to(dtype))
    assert torch.isfinite(out).all()
    # every output joint is one of the hypotheses' joints
    match = (out[:, None] == hyps.to(dtype)).all(-1).any(1)
    assert match.all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_jpma_on_collapsed_hypotheses(dtype):
    hyps = torch.zeros(1, 2, 4, 17, 3, dtype=dtype)
    x2d = torch.full((1, 4, 17, 2), 0.3, dtype=dtype)
    assert torch.isfinite(JPMAAggregator()(hyps, x2d=x2d, camera=CAM.to(dtype))).all()
    assert torch.isfinite(estimate_root(hyps[:, 0], x2d, CAM.to(dtype))).all()


# ------------------------------------------------------------------------------------- metrics
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["offset-1km", "collapsed-pred", "collapsed-target", "identical"])
def test_metrics_finite_in_bf16(dtype, case):
    g = torch.Generator().manual_seed(2)
    p = torch.randn(2, 3, 6, 17, 3, generator=g)  # (B, H, T, J, 3)
    y = torch.randn(2, 6, 17, 3, generator=g)
    if case == "offset-1km":
        p, y = p + 1e3, y + 1e3
    elif case == "collapsed-pred":
        p = torch.zeros_like(p)
    elif case == "collapsed-target":
        y = torch.zeros_like(y)
    else:
        p = y[:, None].expand_as(p).clone()
    p, y = p.to(dtype), y.to(dtype)
    single = p[:, 0]
    values = [metrics.mpjpe(single, y), metrics.p_mpjpe(single, y), metrics.n_mpjpe(single, y),
              metrics.mpjve(single, y), metrics.pck(single, y, skeleton="h36m-17"),
              metrics.auc(single, y, skeleton="h36m-17")]
    for protocol in (1, 2):
        values += [metrics.j_best(p, y, protocol=protocol), metrics.p_best(p, y, protocol=protocol),
                   metrics.p_agg(p, y, protocol=protocol)]
    root = torch.tensor([0.0, 0.0, 5.0]).view(1, 1, 1, 3).expand(2, 6, 1, 3).to(dtype)
    idx = metrics.reprojection_indices(p, torch.zeros(2, 6, 17, 2, dtype=dtype), CAM.to(dtype), root)
    values.append(metrics.j_agg(p, y, idx, protocol=1))
    values.append(metrics.j_agg(p, y, idx, protocol=2))
    for v in values:
        assert torch.isfinite(torch.as_tensor(v)).all(), (case, dtype, values)
