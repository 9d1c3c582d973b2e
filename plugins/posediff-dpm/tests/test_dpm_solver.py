"""Tests of the posediff-dpm plugin, run against the *installed* distribution (entry points only)."""
from __future__ import annotations

import importlib.metadata as md
import math

import pytest
import torch

import posediff
from posediff import registry
from posediff.errors import InputError, SpecError
from posediff.samplers import DDIMSampler
from posediff.schedules import CosineSchedule, LinearSchedule
from posediff.testing import BoundSampler, check_component

pytestmark = pytest.mark.plugins
torch.set_num_threads(1)

TINY = {"sampler.name": "dpm_solver", "sampler.schedule.name": "cosine", "sampler.steps": 2,
        "sampler.hypotheses": 2}


def _sampler(**kwargs) -> BoundSampler:
    """The plugin's sampler class, obtained through the registry (i.e. its entry point), with the loop's settings
    (steps, hypotheses, flip, clamp, scale) beside it."""
    own = {k: kwargs.pop(k) for k in ("order", "spacing") if k in kwargs}
    cls = registry.get("sampler", "dpm_solver")
    return BoundSampler(cls(schedule=kwargs.pop("schedule", CosineSchedule()), **own), **{"steps": 5, **kwargs})


# --------------------------------------------------------------------------- discovery
def test_installed_distribution():
    try:
        dist = md.distribution("posediff-dpm")
    except md.PackageNotFoundError:  # pragma: no cover - the failure message is the point
        pytest.fail("posediff-dpm is not installed: pip install -e plugins/posediff-dpm")
    groups = {ep.group for ep in dist.entry_points}
    assert {"posediff.sampler", "posediff.preset"} <= groups


def test_discovered_through_entry_points():
    assert "dpm_solver" in posediff.list_components("sampler")
    assert registry.provider("sampler", "dpm_solver").startswith("posediff-dpm ")
    info = posediff.describe("sampler", "dpm_solver")
    assert info.target == "posediff_dpm.sampler:DPMSolverSampler"
    assert {p.name for p in info.parameters} >= {"schedule", "order", "spacing"}
    assert posediff.resolve_spec("d3dp-tiny", overrides={"sampler.name": "dpm_solver", "sampler.schedule.name": "cosine"}
                                 )["sampler"]["steps"] == 5  # its loop_defaults: a spec that leaves steps out gets 5


def test_blocking_the_distribution_hides_it(monkeypatch):
    monkeypatch.setenv("POSEDIFF_BLOCK_PLUGINS", "posediff-dpm")
    registry.refresh_plugins()
    try:
        assert "dpm_solver" not in posediff.list_components("sampler")
        assert "finepose-tiny-dpm" not in posediff.list_presets()
        with pytest.raises(SpecError, match="unknown sampler 'dpm_solver'"):
            posediff.resolve_spec("d3dp-tiny", overrides=TINY)
    finally:
        monkeypatch.delenv("POSEDIFF_BLOCK_PLUGINS")
        registry.refresh_plugins()
    assert "dpm_solver" in posediff.list_components("sampler")


def test_contract_check():
    sampler = check_component("sampler", "dpm_solver")
    assert type(sampler).__name__ == "DPMSolverSampler"


# --------------------------------------------------------------------------- building
def test_build_finepose_tiny_with_override():
    lifter = posediff.build("finepose-tiny", overrides=TINY)
    assert type(lifter.sampler).__name__ == "DPMSolverSampler"
    assert lifter.spec["sampler"]["name"] == "dpm_solver"
    assert lifter.spec["sampler"]["order"] == 2  # defaults filled in
    x2d = torch.randn(2, lifter.frames, 17, 2, generator=torch.Generator().manual_seed(0)) * 0.3
    out = lifter.sample(x2d, generator=torch.Generator().manual_seed(1))
    assert out.shape == (2, 2, 2, lifter.frames, 17, 3)
    assert torch.isfinite(out).all()
    assert torch.equal(out[..., lifter.skeleton.root, :], torch.zeros_like(out[..., 0, :]))
    again = posediff.build(lifter.spec)  # the resolved spec rebuilds the same sampler
    assert again.spec == lifter.spec


def test_plugin_presets_resolve():
    assert {"finepose-tiny-dpm", "finepose-h36m-dpm"} <= set(posediff.list_presets("*-dpm"))
    spec = posediff.resolve_spec("finepose-tiny-dpm")  # the TOML file shipped in the package
    assert spec["meta"]["name"] == "finepose-tiny-dpm"
    assert spec["sampler"]["name"] == "dpm_solver" and spec["sampler"]["steps"] == 3
    assert spec["lifter"]["frames"] == 27 and spec["backbone"]["name"] == "mixste"
    # the derived preset: finepose-h36m with only the sampler (and meta) replaced
    big, base = posediff.resolve_spec("finepose-h36m-dpm"), posediff.resolve_spec("finepose-h36m")
    assert big["meta"]["name"] == "finepose-h36m-dpm"
    assert big["sampler"]["name"] == "dpm_solver" and big["sampler"]["hypotheses"] == 20
    for slot in ("lifter", "backbone", "conditioner", "fusion", "aggregator"):
        assert big[slot] == base[slot], slot


def test_spec_errors_are_collected():
    with pytest.raises(SpecError) as info:
        posediff.resolve_spec("d3dp-tiny", overrides={**TINY, "sampler.order": 3, "sampler.spacing": "cosine"})
    paths = {p.path for p in info.value.problems}
    assert {"sampler.order", "sampler.spacing"} <= paths


@pytest.mark.parametrize("kwargs", [{"order": 3}, {"spacing": "uniform"}])
def test_constructor_rejects(kwargs):
    with pytest.raises(SpecError):
        registry.get("sampler", "dpm_solver")(CosineSchedule(), **kwargs)


@pytest.mark.parametrize("key,value", [("steps", 0), ("steps", 1001), ("hypotheses", 0), ("clamp", -1.0),
                                       ("scale", 0.0), ("flip", 1)])
def test_spec_rejects_bad_loop_settings(key, value):
    with pytest.raises(SpecError, match=rf"sampler\.{key}"):
        posediff.resolve_spec("d3dp-tiny", overrides={**TINY, f"sampler.{key}": value})


# --------------------------------------------------------------------------- behaviour
def _smooth_denoiser(seed: int = 0):
    """A fixed nonlinear x0-predictor that depends on x2d, y_t and t (for determinism/equivalence)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(5, 3, generator=g, dtype=torch.float64) * 0.3

    def denoise(x2d, y, t):
        feats = torch.cat((x2d, y), dim=-1).double()
        scale = (t.double() / 1000.0)[..., None, None, None]
        return (torch.tanh(feats @ w) * (1 - 0.5 * scale)).to(y.dtype)

    return denoise


def test_shapes_flip_batching_and_determinism():
    sampler = _sampler(steps=3, hypotheses=4, flip=True)
    seen = []

    def denoise(x2d, y, t):
        seen.append((tuple(x2d.shape), tuple(y.shape), tuple(t.shape), t.unique().tolist()))
        return _smooth_denoiser()(x2d, y, t)

    x2d = torch.randn(2, 5, 17, 2, generator=torch.Generator().manual_seed(0))
    perm = posediff.geometry.skeletons.get_skeleton("h36m-17").flip_permutation
    a = sampler.sample(denoise, x2d, flip_permutation=perm, generator=torch.Generator().manual_seed(7))
    b = sampler.sample(denoise, x2d, flip_permutation=perm, generator=torch.Generator().manual_seed(7))
    c = sampler.sample(denoise, x2d, flip_permutation=perm, generator=torch.Generator().manual_seed(8))
    assert a.shape == (2, 3, 4, 5, 17, 3)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    # one denoiser call per step (3 runs of 3 steps), K = 2H rows (H original + H mirrored), one t per step
    assert len(seen) == 9
    assert seen[0][:3] == ((2, 8, 5, 17, 2), (2, 8, 5, 17, 3), (2, 8))
    assert [s[3] for s in seen[:3]] == [[t] for t in sampler.step_times()[:-1]]
    # call-time overrides of H and M
    d = sampler.sample(denoise, x2d, flip_permutation=perm, hypotheses=1, steps=2)
    assert d.shape == (2, 2, 1, 5, 17, 3)


def test_flip_is_averaged_like_ddim():
    """order=1 is DDIM with eta=0: identical outputs, flip averaging and clamping included."""
    perm = posediff.geometry.skeletons.get_skeleton("h36m-17").flip_permutation
    x2d = torch.randn(1, 4, 17, 2, generator=torch.Generator().manual_seed(3)) * 0.5
    x_t = torch.randn(1, 3, 4, 17, 3, generator=torch.Generator().manual_seed(4))
    den = _smooth_denoiser(1)
    for spacing in ("official", "linspace"):
        dpm = _sampler(steps=4, hypotheses=3, order=1, spacing=spacing)
        ddim = BoundSampler(DDIMSampler(CosineSchedule(), eta=0.0, spacing=spacing), steps=4, hypotheses=3)
        assert dpm.step_times() == ddim.step_times()
        out_dpm = dpm.sample(den, x2d, flip_permutation=perm, draws=[x_t])
        out_ddim = ddim.sample(den, x2d, flip_permutation=perm, draws=[x_t] + [torch.zeros_like(x_t)] * 3)
        torch.testing.assert_close(out_dpm, out_ddim, rtol=1e-5, atol=1e-5)


def test_order_two_differs_from_order_one():
    x2d = torch.zeros(1, 4, 17, 2)
    x_t = torch.randn(1, 2, 4, 17, 3, generator=torch.Generator().manual_seed(0))
    den = _smooth_denoiser(2)
    one = _sampler(steps=4, hypotheses=2, order=1, flip=False).sample(den, x2d, flip_permutation=None, draws=[x_t])
    two = _sampler(steps=4, hypotheses=2, order=2, flip=False).sample(den, x2d, flip_permutation=None, draws=[x_t])
    torch.testing.assert_close(one[:, :2], two[:, :2])  # identical until the first multistep update is used
    assert not torch.allclose(one[:, 2:], two[:, 2:])


def test_true_x0_denoiser_is_solved_exactly():
    """With x̂0 ≡ x0 the ODE solution is x_t = α_t·x0 + σ_t·ξ: every state and the output are exact."""
    g = torch.Generator().manual_seed(0)
    x0 = (torch.rand(2, 6, 17, 3, generator=g, dtype=torch.float64) - 0.5)
    x_t = torch.randn(2, 3, 6, 17, 3, generator=g, dtype=torch.float64)
    ac = CosineSchedule().alphas_cumprod()
    xi = (x_t - ac[-1].sqrt() * x0[:, None]) / (1 - ac[-1]).sqrt()
    for order in (1, 2):
        sampler = _sampler(steps=6, hypotheses=3, order=order, flip=False, clamp=10.0)
        trace: list = []
        out = sampler.sample(lambda x2d, y, t: x0[:, None].expand_as(y), torch.zeros(2, 6, 17, 2, dtype=torch.float64),
                             flip_permutation=None, draws=[x_t], trace=trace)
        torch.testing.assert_close(out[:, -1], x0[:, None].expand(2, 3, 6, 17, 3), rtol=0, atol=1e-12)
        for step in trace:
            a = ac[step["t"]]
            torch.testing.assert_close(step["x_t"], a.sqrt() * x0[:, None] + (1 - a).sqrt() * xi, rtol=0, atol=1e-9)
        assert [s["order"] for s in trace] == ([1] * 5 if order == 1 else [1, 2, 2, 2, 2]) + [0]


class _Gaussian:
    """Data x0 ~ N(μ, diag(s²)): the exact x0-predictor and the exact probability-flow ODE solution."""

    def __init__(self, frames: int = 4, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.mu = torch.rand(frames, 17, 3, generator=g, dtype=torch.float64) - 0.5
        self.s = 0.05 + 0.25 * torch.rand(frames, 17, 3, generator=g, dtype=torch.float64)
        self.ac = CosineSchedule().alphas_cumprod()

    def denoise(self, x2d, y, t):
        a = self.ac[t].reshape(*t.shape, 1, 1, 1)
        return self.mu + a.sqrt() * self.s**2 / (a * self.s**2 + 1 - a) * (y - a.sqrt() * self.mu)

    def exact_x0(self, x_T, t_final: int):
        a_T, a = self.ac[-1], self.ac[t_final]
        xi = (x_T - a_T.sqrt() * self.mu) / (a_T * self.s**2 + 1 - a_T).sqrt()
        return self.mu + a.sqrt() * self.s**2 * xi / (a * self.s**2 + 1 - a).sqrt()


def _ode_error_mm(sampler, data: _Gaussian, x_T, steps: int) -> float:
    x2d = torch.zeros(x_T.shape[0], *x_T.shape[2:4], 2, dtype=torch.float64)
    draws = [x_T] + [torch.zeros_like(x_T)] * steps
    out = sampler.sample(data.denoise, x2d, flip_permutation=None, steps=steps, draws=draws)
    t_final = sampler.time_pairs(steps)[-1][0]
    return float((out[:, -1] - data.exact_x0(x_T, t_final)).norm(dim=-1).mean()) * 1000


def test_second_order_converges_faster_on_a_gaussian():
    data = _Gaussian()
    x_T = torch.randn(2, 3, 4, 17, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    dpm2 = _sampler(order=2, hypotheses=3, flip=False, clamp=1e3)
    dpm1 = _sampler(order=1, hypotheses=3, flip=False, clamp=1e3)
    errors2 = [_ode_error_mm(dpm2, data, x_T, m) for m in (10, 20, 50)]
    errors1 = [_ode_error_mm(dpm1, data, x_T, m) for m in (10, 20, 50)]
    assert errors2[0] > errors2[2] and errors1[0] > errors1[1] > errors1[2]  # both converge
    assert all(e2 < e1 / 2 for e2, e1 in zip(errors2, errors1))
    assert errors2[2] < 3.0  # millimetres


def test_fewer_steps_than_ddim_at_equal_accuracy():
    """DPM-Solver++(2M) with 10 steps beats deterministic DDIM with 50 steps on the exact ODE."""
    data = _Gaussian(seed=3)
    x_T = torch.randn(2, 3, 4, 17, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    dpm = _sampler(hypotheses=3, flip=False, clamp=1e3)
    ddim = BoundSampler(DDIMSampler(CosineSchedule(), eta=0.0, spacing="linspace"), hypotheses=3, flip=False,
                        clamp=1e3)
    assert _ode_error_mm(dpm, data, x_T, 10) < _ode_error_mm(ddim, data, x_T, 50)


# --------------------------------------------------------------------------- timesteps and noise
def test_step_times():
    s = _sampler(steps=10, spacing="official")
    assert s.step_times() == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99, -1]
    assert _sampler(steps=3, spacing="linspace").step_times() == [999, 500, 0, -1]
    times = _sampler(steps=7).step_times()
    assert times[0] == 999 and times[-2:] == [0, -1] and times == sorted(times, reverse=True)
    lam = [_sampler().log_snr(t) for t in times[:-1]]
    gaps = [b - a for a, b in zip(lam, lam[1:])]
    assert max(gaps) - min(gaps) < 0.75 * (sum(gaps) / len(gaps))  # roughly uniform in log-SNR
    # a short schedule with as many steps as timesteps: every timestep once
    short = _sampler(schedule=LinearSchedule(timesteps=12), steps=12)
    assert short.step_times() == list(range(11, -1, -1)) + [-1]
    with pytest.raises(InputError):
        short.step_times(13)


def test_coefficients_match_the_closed_form():
    s = _sampler()
    ac = s.schedule.alphas_cumprod()
    ratio, b, w, h = s.coefficients(500, 200)
    lam = lambda t: math.log(math.sqrt(ac[t]) / math.sqrt(1 - ac[t]))  # noqa: E731
    assert h == pytest.approx(lam(200) - lam(500))
    assert ratio == pytest.approx(math.sqrt(1 - ac[200]) / math.sqrt(1 - ac[500]))
    assert b == pytest.approx(math.sqrt(ac[200]) * (1 - math.exp(-h)))
    assert w == 1.0
    assert s.coefficients(500, 200, h_prev=h)[2] == pytest.approx(1.5)  # r = 1 → w = 1 + 1/2


def test_add_noise_matches_ddim():
    x0 = torch.rand(3, 4, 17, 3) - 0.5
    noise = torch.randn(3, 4, 17, 3, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0, 500, 999])
    ddim = BoundSampler(DDIMSampler(CosineSchedule()))
    torch.testing.assert_close(_sampler().add_noise(x0, t, noise), ddim.add_noise(x0, t, noise))
    assert _sampler().add_noise(x0, t, noise * 10).abs().max() <= 1.1 + 1e-6


def test_training_loss_through_the_lifter():
    lifter = posediff.build("d3dp-tiny", overrides=TINY)
    lifter.train()
    g = torch.Generator().manual_seed(0)
    loss = lifter.training_loss(torch.randn(2, 27, 17, 2, generator=g), torch.randn(2, 27, 17, 3, generator=g) * 0.2,
                                generator=g)
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0


@pytest.mark.parametrize("bad,match", [
    (dict(x2d=torch.zeros(2, 5, 17)), "x2d must have shape"),
    (dict(x2d=torch.full((1, 5, 17, 2), float("nan"))), "NaN"),
    (dict(hypotheses=0), "sampler.hypotheses: expected an int >= 1"),
    (dict(steps=0), "sampler.steps: expected an int"),
    (dict(draws=[torch.zeros(1, 1, 5, 17, 3)]), r"draws\[0\] must have shape"),
    (dict(draws=[]), r"draws must hold 1 tensor\(s\)"),
    (dict(flip_permutation=None), "flip_permutation is required"),
    (dict(flip_permutation=[0] * 17), "permutation of range"),
])
def test_input_errors(bad, match):
    s = _sampler(steps=2, hypotheses=2)
    kwargs = dict(x2d=torch.zeros(1, 5, 17, 2), flip_permutation=list(range(17)))
    kwargs.update(bad)
    x2d = kwargs.pop("x2d")
    with pytest.raises(InputError, match=match):
        s.sample(lambda a, y, t: y, x2d, **kwargs)


def test_denoiser_output_shape_is_checked():
    s = _sampler(steps=2, hypotheses=2, flip=False)
    with pytest.raises(InputError, match="denoise must return"):
        s.sample(lambda a, y, t: y[..., :2], torch.zeros(1, 5, 17, 2), flip_permutation=None)
