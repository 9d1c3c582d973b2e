"""The sampler contract: a sampler is its timesteps plus a step rule; the loop is shared."""
from __future__ import annotations

import math

import pytest
import torch

from posediff.errors import InputError, SpecError
from posediff.interfaces import NoiseSchedule, Sampler
from posediff.samplers import DDIMSampler
from posediff.sampling import SamplingSettings, reverse_process
from posediff.schedules import CosineSchedule

from posediff.testing import BoundSampler as Bound

PERM = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]


class ProbeSampler(Sampler):
    """Deterministic DDIM (η = 0) written as a rule only, recording what the loop hands it."""

    def __init__(self, schedule) -> None:
        super().__init__(schedule)
        self.calls: list[tuple[int, int]] = []

    def step_times(self, steps):
        m = self.check_steps(steps)
        return [int(v) for v in torch.linspace(self.schedule.timesteps - 1, 0, m).round().tolist()] + [-1]

    def step(self, x_t, x0, t, t_next, *, noise, memory):
        self.calls.append((t, t_next))
        memory["n"] = memory.get("n", 0) + 1
        if t_next < 0:
            return None, {"n": memory["n"]}
        ac = self.schedule.alphas_cumprod()
        a, an = float(ac[t]), float(ac[t_next])
        eps = (x_t / math.sqrt(a) - x0) / math.sqrt(1 / a - 1)
        return math.sqrt(an) * x0 + math.sqrt(1 - an) * eps, {"n": memory["n"]}


def _x2d(b: int = 2, t: int = 5) -> torch.Tensor:
    return torch.randn(b, t, 17, 2, generator=torch.Generator().manual_seed(1)) * 0.3


def probe(**loop) -> Bound:
    return Bound(ProbeSampler(CosineSchedule()), **{"steps": 3, "hypotheses": 2, **loop})


def test_a_rule_only_sampler_gets_the_whole_loop():
    s = probe(flip=True)
    seen = []

    def denoise(x2d_k, y_k, t_k):
        seen.append((x2d_k.shape, y_k.abs().max().item()))
        return torch.full_like(y_k, 5.0)  # out of bounds: the loop must clamp x̂0

    trace: list = []
    out = s.sample(denoise, _x2d(), flip_permutation=PERM, generator=torch.Generator().manual_seed(0), trace=trace)
    assert out.shape == (2, 3, 2, 5, 17, 3)
    assert [sh[1] for sh, _ in seen] == [4, 4, 4]  # K = 2H copies per clip: flip batched with hypotheses
    assert all(m <= s.clamp + 1e-6 for _, m in seen)  # the denoiser only ever sees clamped input
    assert float(out.abs().max()) <= s.clamp + 1e-6  # x̂0 clamped
    assert s.calls == [(999, 500), (500, 0), (0, -1)]
    assert [st["n"] for st in trace] == [1, 2, 3]  # memory persists within a call; info lands in the trace
    s.calls.clear()
    again = s.sample(denoise, _x2d(), flip_permutation=PERM, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again, out, rtol=0, atol=0)


def test_ddim_and_probe_agree_at_eta_zero():
    sched = CosineSchedule()
    loop = {"steps": 3, "hypotheses": 2, "flip": False}
    ddim = Bound(DDIMSampler(sched, eta=0.0, spacing="linspace"), **loop)
    probe_ = Bound(ProbeSampler(sched), **loop)
    assert ddim.step_times() == probe_.step_times()

    def denoise(x2d_k, y_k, t_k):
        return 0.5 * y_k + 0.01 * t_k[..., None, None, None].float() / 1000

    x_t = torch.randn(2, 2, 5, 17, 3, generator=torch.Generator().manual_seed(3))
    draws = [x_t, torch.randn_like(x_t), torch.randn_like(x_t)]  # DDIM draws (σ = 0 ignores them)
    a = ddim.sample(denoise, _x2d(), flip_permutation=None, draws=draws)
    b = probe_.sample(denoise, _x2d(), flip_permutation=None, draws=draws[:1])
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_sampler_without_its_rule_is_refused():
    class NoRule(Sampler):
        def step_times(self, steps):
            return [999, -1]

    with pytest.raises(TypeError, match="does not implement step"):
        NoRule(CosineSchedule())


def test_rule_that_stops_early_or_draws_undeclared_noise_gets_a_clear_error():
    class Stops(ProbeSampler):
        def step(self, x_t, x0, t, t_next, *, noise, memory):
            return None, {}

    with pytest.raises(InputError, match="returned no state"):
        Bound(Stops(CosineSchedule()), steps=3, hypotheses=2, flip=False).sample(lambda x, y, t: y, _x2d(),
                                                                                 flip_permutation=None)

    class Greedy(ProbeSampler):
        def step(self, x_t, x0, t, t_next, *, noise, memory):
            return (noise() if t_next >= 0 else None), {}

    shape = (2, 2, 5, 17, 3)
    with pytest.raises(InputError, match="asked for draw 1"):
        Bound(Greedy(CosineSchedule()), steps=3, hypotheses=2, flip=False).sample(
            lambda x, y, t: y, _x2d(), flip_permutation=None, draws=[torch.zeros(shape)])


def test_loop_settings_are_validated_once_for_every_sampler():
    with pytest.raises(InputError, match="sampler.hypotheses"):
        SamplingSettings(hypotheses=0)
    with pytest.raises(InputError, match="sampler.clamp"):
        SamplingSettings(clamp=-1.0)
    with pytest.raises(InputError, match="steps must be an int in"):
        probe(steps=5000).sample(lambda x, y, t: y, _x2d(), flip_permutation=PERM)
    with pytest.raises(SpecError, match="sampler.schedule"):
        ProbeSampler("cosine")


def test_a_sampler_written_for_the_old_constructor_gets_a_clear_error():
    """Samplers used to take steps, hypotheses, flip, clamp and scale; such a plugin must be told what changed."""
    import posediff
    from posediff.errors import ContractError
    from posediff.registry import register

    @register("sampler", "zz_old_style", replace=True)
    class OldStyle(ProbeSampler):
        def __init__(self, schedule: NoiseSchedule, steps: int = 3, hypotheses: int = 2) -> None:
            super().__init__(schedule)

    with pytest.raises(ContractError, match=r"takes the loop's settings \['steps', 'hypotheses'\] in its constructor"):
        spec = posediff.resolve_spec("d3dp-tiny")
        spec["sampler"] = {"name": "zz_old_style", "schedule": spec["sampler"]["schedule"], "steps": 3}
        posediff.build(spec)


def test_reverse_process_checks_inputs_for_every_sampler():
    s = ProbeSampler(CosineSchedule())
    loop = SamplingSettings(steps=3, hypotheses=2)
    with pytest.raises(InputError, match="flip_permutation is required"):
        reverse_process(s, lambda x, y, t: y, _x2d(), settings=loop, flip_permutation=None)
    with pytest.raises(InputError, match=r"shape \(B, T, J, 2\)"):
        reverse_process(s, lambda x, y, t: y, torch.zeros(5, 17, 2), settings=loop, flip_permutation=PERM)
    with pytest.raises(InputError, match="denoise must return x0"):
        reverse_process(s, lambda x, y, t: y[..., :2], _x2d(), settings=loop, flip_permutation=PERM)
    with pytest.raises(InputError, match="settings must be a posediff.sampling.SamplingSettings"):
        reverse_process(s, lambda x, y, t: y, _x2d(), settings={"steps": 3}, flip_permutation=PERM)
