"""DDIM sampler: step lists, coefficients, flip batching, noise handling, add_noise, errors."""
from __future__ import annotations

import pytest
import torch

from posediff.errors import InputError, SpecError
from posediff.geometry.skeletons import get_skeleton
from posediff.registry import get
from posediff.samplers import DDIMSampler
from posediff.schedules import CosineSchedule

from posediff.testing import BoundSampler as Bound

PERM = get_skeleton("h36m-17").flip_permutation
B, T, J = 2, 3, 17


def _sampler(**kw) -> Bound:
    """DDIM with its own arguments (eta, spacing) and the loop's (steps, hypotheses, flip, clamp, scale)."""
    own = {k: kw.pop(k) for k in ("eta", "spacing") if k in kw}
    return Bound(DDIMSampler(CosineSchedule(), **own), **kw)


def _x2d(seed: int = 0) -> torch.Tensor:
    return torch.randn(B, T, J, 2, generator=torch.Generator().manual_seed(seed)) * 0.3


def _flip(x: torch.Tensor) -> torch.Tensor:
    sign = torch.ones(x.shape[-1])
    sign[0] = -1
    return x[..., PERM, :] * sign


def test_registered_and_stores_arguments():
    assert get("sampler", "ddim") is DDIMSampler
    sch = CosineSchedule()
    s = DDIMSampler(sch, eta=0.5, spacing="linspace")
    assert s.schedule is sch
    assert (s.eta, s.spacing) == (0.5, "linspace")
    for loop_key in ("steps", "hypotheses", "flip", "clamp", "scale"):  # the loop's settings are not the sampler's
        assert not hasattr(s, loop_key), loop_key
    with pytest.raises(TypeError):
        DDIMSampler(sch, steps=4)


def test_official_step_lists():
    s = _sampler()
    assert s.step_times(10) == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99, -1]
    assert s.step_times(5) == [999, 799, 599, 399, 199, -1]
    assert s.step_times(1) == [999, -1]
    assert s.step_times(4) == [999, 749, 499, 249, -1]
    assert s.time_pairs(2) == [(999, 499), (499, -1)]


def test_linspace_step_list_ends_at_zero():
    s = _sampler(spacing="linspace")
    times = s.step_times(10)
    assert times[0] == 999 and times[-2] == 0 and times[-1] == -1 and len(times) == 11
    assert times == sorted(times, reverse=True)
    assert s.step_times(1) == [999, -1]


def test_coefficients_reference_values():
    # reference §4.3: (σ, c) per step for M = 10, η = 1
    want = [(0.988, 0.0003), (0.831, 0.464), (0.687, 0.570), (0.578, 0.570), (0.488, 0.518), (0.407, 0.433),
            (0.327, 0.326), (0.243, 0.205), (0.144, 0.084)]
    s = _sampler()
    got = [s.coefficients(t, tn) for t, tn in s.time_pairs(10)[:-1]]
    for (sg, c), (ws, wc) in zip(got, want):
        assert sg == pytest.approx(ws, abs=6e-4)
        assert c == pytest.approx(wc, abs=6e-4)
    assert _sampler(eta=0.0).coefficients(999, 899)[0] == 0.0


def test_flip_batched_into_one_call():
    s = _sampler(steps=3, hypotheses=2)
    x2d = _x2d()
    calls = []

    def denoise(x, y, t):
        calls.append((x.clone(), y.clone(), t.clone()))
        return torch.zeros_like(y)

    out = s.sample(denoise, x2d, flip_permutation=PERM, generator=torch.Generator().manual_seed(0))
    assert out.shape == (B, 3, 2, T, J, 3)
    assert len(calls) == 3  # one denoiser call per step
    for (x, y, t), step in zip(calls, (999, 665, 332)):  # float32 linspace truncated, as officially
        assert x.shape == (B, 4, T, J, 2) and y.shape == (B, 4, T, J, 3) and t.shape == (B, 4)
        assert t.dtype == torch.long and bool((t == step).all())
        torch.testing.assert_close(x[:, :2], x2d[:, None].expand(B, 2, T, J, 2), rtol=0, atol=0)
        torch.testing.assert_close(x[:, 2:], _flip(x2d)[:, None].expand(B, 2, T, J, 2), rtol=0, atol=0)
        torch.testing.assert_close(y[:, 2:], _flip(y[:, :2]), rtol=0, atol=0)
        assert float(y.abs().max()) <= 1.1 + 1e-6


def test_flip_averages_unflipped_second_half():
    s = _sampler(steps=1, hypotheses=1)
    a = torch.full((B, 1, T, J, 3), 0.2)
    bflip = torch.randn(B, 1, T, J, 3, generator=torch.Generator().manual_seed(1)) * 0.1

    def denoise(x, y, t):
        return torch.cat([a, bflip], dim=1)

    out = s.sample(denoise, _x2d(), flip_permutation=PERM, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out[:, 0], (a + _flip(bflip)) / 2)


def test_flip_equivariant_denoiser_matches_plain_path():
    # a denoiser that commutes with flipping gives the same result with and without flip TTA
    def denoise(x, y, t):
        return 0.5 * y

    draws = [torch.randn(B, 2, T, J, 3, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    with_flip = _sampler(steps=3, hypotheses=2).sample(denoise, _x2d(), flip_permutation=PERM, draws=draws)
    plain = _sampler(steps=3, hypotheses=2, flip=False).sample(denoise, _x2d(), flip_permutation=None, draws=draws)
    torch.testing.assert_close(with_flip, plain)


def test_plain_path_calls_with_h_rows():
    s = _sampler(steps=2, hypotheses=3, flip=False)
    seen = []

    def denoise(x, y, t):
        seen.append(y.shape[1])
        return y

    s.sample(denoise, _x2d(), flip_permutation=None)
    assert seen == [3, 3]


def test_generator_reproducible_and_draws_replay():
    s = _sampler(steps=3, hypotheses=2)
    x2d = _x2d()
    den = lambda x, y, t: torch.tanh(y + x.mean())  # noqa: E731
    a = s.sample(den, x2d, flip_permutation=PERM, generator=torch.Generator().manual_seed(7))
    b = s.sample(den, x2d, flip_permutation=PERM, generator=torch.Generator().manual_seed(7))
    c = s.sample(den, x2d, flip_permutation=PERM, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)
    # the generator draws x_T then one tensor per re-noising step, in that order
    g = torch.Generator().manual_seed(7)
    draws = [torch.randn(B, 2, T, J, 3, generator=g) for _ in range(3)]
    torch.testing.assert_close(s.sample(den, x2d, flip_permutation=PERM, draws=draws), a, rtol=0, atol=0)


def test_no_draw_after_last_step_and_too_few_draws():
    s = _sampler(steps=3, hypotheses=2)
    den = lambda x, y, t: y  # noqa: E731
    draws = [torch.randn(B, 2, T, J, 3) for _ in range(3)]
    s.sample(den, _x2d(), flip_permutation=PERM, draws=draws)  # exactly M draws suffice
    with pytest.raises(InputError, match="draws must hold 3"):
        s.sample(den, _x2d(), flip_permutation=PERM, draws=draws[:2])
    with pytest.raises(InputError, match=r"draws\[1\] must have shape"):
        s.sample(den, _x2d(), flip_permutation=PERM, draws=[draws[0], torch.zeros(1), draws[2]])


def test_eta_zero_ignores_renoising_draws():
    s = _sampler(steps=3, hypotheses=2, eta=0.0)
    den = lambda x, y, t: 0.8 * y  # noqa: E731
    x_t = torch.randn(B, 2, T, J, 3)
    a = s.sample(den, _x2d(), flip_permutation=PERM, draws=[x_t, torch.randn_like(x_t), torch.randn_like(x_t)])
    b = s.sample(den, _x2d(), flip_permutation=PERM, draws=[x_t, torch.randn_like(x_t), torch.randn_like(x_t)])
    torch.testing.assert_close(a, b)


def test_update_rule_and_trace():
    s = _sampler(steps=2, hypotheses=1, flip=False)
    x0 = torch.full((B, 1, T, J, 3), 0.3)
    draws = [torch.randn(B, 1, T, J, 3, generator=torch.Generator().manual_seed(i)) for i in range(2)]
    trace: list = []
    out = s.sample(lambda x, y, t: torch.full_like(y, 0.3), _x2d(), flip_permutation=None, draws=draws, trace=trace)
    torch.testing.assert_close(out, x0[:, None].expand(B, 2, 1, T, J, 3))
    ac = s.schedule.alphas_cumprod()
    a, an = float(ac[999]), float(ac[499])
    eps = (draws[0].double() / a**0.5 - 0.3) / (1 / a - 1) ** 0.5
    torch.testing.assert_close(trace[0]["eps"], eps.float())
    sigma, c = s.coefficients(999, 499)
    torch.testing.assert_close(trace[1]["x_t"], x0 * an**0.5 + c * eps.float() + sigma * draws[1])
    assert [st["t"] for st in trace] == [999, 499] and trace[1]["t_next"] == -1


def test_prediction_is_clamped():
    s = _sampler(steps=2, hypotheses=2)
    out = s.sample(lambda x, y, t: torch.full_like(y, 5.0), _x2d(), flip_permutation=PERM)
    assert float(out.max()) == pytest.approx(1.1)


def test_call_time_overrides():
    s = _sampler(steps=10, hypotheses=20, flip=False)
    out = s.sample(lambda x, y, t: y, _x2d(), flip_permutation=None, hypotheses=2, steps=3)
    assert out.shape == (B, 3, 2, T, J, 3)
    with pytest.raises(InputError, match="sampler.steps: expected an int"):
        s.sample(lambda x, y, t: y, _x2d(), flip_permutation=None, steps=0)
    with pytest.raises(InputError, match="sampler.hypotheses: expected an int >= 1"):
        s.sample(lambda x, y, t: y, _x2d(), flip_permutation=None, hypotheses=0)


def test_input_errors():
    s = _sampler(steps=2, hypotheses=2)
    with pytest.raises(InputError, match="flip_permutation is required"):
        s.sample(lambda x, y, t: y, _x2d(), flip_permutation=None)
    with pytest.raises(InputError, match="permutation of range"):
        s.sample(lambda x, y, t: y, _x2d(), flip_permutation=[0] * J)
    with pytest.raises(InputError, match="x2d must have shape"):
        s.sample(lambda x, y, t: y, torch.zeros(2, 3, 17), flip_permutation=PERM)
    with pytest.raises(InputError, match="denoise must return"):
        s.sample(lambda x, y, t: y[:, :1], _x2d(), flip_permutation=PERM)
    nan = _x2d()
    nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        s.sample(lambda x, y, t: y, nan, flip_permutation=PERM)


@pytest.mark.parametrize("kwargs", [{"eta": -0.1}, {"eta": 2.0}, {"spacing": "quadratic"}])
def test_bad_constructor_arguments(kwargs):
    with pytest.raises(SpecError):
        DDIMSampler(CosineSchedule(), **kwargs)


@pytest.mark.parametrize("key,value", [("steps", 0), ("steps", 1001), ("hypotheses", 0), ("clamp", 0.0),
                                       ("scale", -1.0), ("flip", 1)])
def test_bad_loop_settings_name_their_spec_key(key, value):
    import posediff
    from posediff.sampling import SamplingSettings

    with pytest.raises(SpecError, match=rf"sampler\.{key}"):
        posediff.build("d3dp-tiny", overrides={f"sampler.{key}": value})
    if (key, value) != ("steps", 1001):  # above the schedule's timesteps: only a spec (or a call) knows the schedule
        with pytest.raises(InputError, match=rf"sampler\.{key}"):
            SamplingSettings(**{key: value})


def test_add_noise():
    s = _sampler()
    x0 = torch.randn(4, T, J, 3) * 0.2
    noise = torch.randn(4, T, J, 3)
    t = torch.tensor([0, 10, 500, 999])
    y = s.add_noise(x0, t, noise)
    assert y.shape == x0.shape and y.dtype == x0.dtype
    ac = s.schedule.alphas_cumprod()
    for i in range(4):
        a = float(ac[int(t[i])])
        want = (a**0.5 * x0[i].double() + (1 - a) ** 0.5 * noise[i].double()).clamp(-1.1, 1.1).float()
        torch.testing.assert_close(y[i], want)
    assert float(y.abs().max()) <= 1.1 + 1e-6
    torch.testing.assert_close(s.add_noise(x0, torch.tensor(0), noise)[0], y[0])
    with pytest.raises(InputError, match="lie in"):
        s.add_noise(x0, torch.tensor([0, 1, 2, 1000]), noise)
    with pytest.raises(InputError, match="integer"):
        s.add_noise(x0, torch.zeros(4), noise)
    with pytest.raises(InputError, match="shape of x0"):
        s.add_noise(x0, t, noise[:2])


def test_scale_keeps_metres_at_the_interface():
    s = _sampler(steps=2, hypotheses=2, flip=False, scale=2.0)
    seen = []

    def denoise(x, y, t):
        seen.append(float(y.abs().max()))
        return torch.full_like(y, 0.3)

    out = s.sample(denoise, _x2d(), flip_permutation=None, draws=[torch.randn(B, 2, T, J, 3) * 5 for _ in range(2)])
    torch.testing.assert_close(out, torch.full_like(out, 0.3))
    assert max(seen) <= 1.1 + 1e-6
