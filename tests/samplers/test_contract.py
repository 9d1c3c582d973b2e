"""The sampler contract: a sampler is its timesteps plus a step rule; the loop is shared."""
from __future__ import annotations

import math

import pytest
import torch

from posediff.errors import InputError, SpecError
from posediff.interfaces import Sampler
from posediff.samplers import DDIMSampler
from posediff.sampling import reverse_process
from posediff.schedules import CosineSchedule

PERM = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]


class ProbeSampler(Sampler):
    """Deterministic DDIM (η = 0) written as a rule only, recording what the loop hands it."""

    def __init__(self, schedule, steps: int = 3, hypotheses: int = 2, flip: bool = True,
                 clamp: float = 1.1, scale: float = 1.0) -> None:
        super().__init__(schedule, steps, hypotheses, flip, clamp, scale)
        self.calls: list[tuple[int, int]] = []

    def step_times(self, steps=None):
        m = self.check_steps(self.steps if steps is None else steps)
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


def test_a_rule_only_sampler_gets_the_whole_loop():
    s = ProbeSampler(CosineSchedule(), steps=3, hypotheses=2, flip=True)
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
    ddim = DDIMSampler(sched, steps=3, hypotheses=2, eta=0.0, flip=False, spacing="linspace")
    probe = ProbeSampler(sched, steps=3, hypotheses=2, flip=False)
    assert ddim.step_times() == probe.step_times()

    def denoise(x2d_k, y_k, t_k):
        return 0.5 * y_k + 0.01 * t_k[..., None, None, None].float() / 1000

    x_t = torch.randn(2, 2, 5, 17, 3, generator=torch.Generator().manual_seed(3))
    draws = [x_t, torch.randn_like(x_t), torch.randn_like(x_t)]  # DDIM draws (σ = 0 ignores them)
    a = ddim.sample(denoise, _x2d(), flip_permutation=None, draws=draws)
    b = probe.sample(denoise, _x2d(), flip_permutation=None, draws=draws[:1])
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_sampler_without_its_rule_is_refused():
    class NoRule(Sampler):
        def step_times(self, steps=None):
            return [999, -1]

    with pytest.raises(TypeError, match="does not implement step"):
        NoRule(CosineSchedule(), steps=1, hypotheses=1)


def test_rule_that_stops_early_or_draws_undeclared_noise_gets_a_clear_error():
    class Stops(ProbeSampler):
        def step(self, x_t, x0, t, t_next, *, noise, memory):
            return None, {}

    with pytest.raises(InputError, match="returned no state"):
        Stops(CosineSchedule(), flip=False).sample(lambda x, y, t: y, _x2d(), flip_permutation=None)

    class Greedy(ProbeSampler):
        def step(self, x_t, x0, t, t_next, *, noise, memory):
            return (noise() if t_next >= 0 else None), {}

    shape = (2, 2, 5, 17, 3)
    with pytest.raises(InputError, match="asked for draw 1"):
        Greedy(CosineSchedule(), flip=False).sample(lambda x, y, t: y, _x2d(), flip_permutation=None,
                                                    draws=[torch.zeros(shape)])


def test_shared_arguments_are_validated_once_for_every_sampler():
    with pytest.raises(SpecError, match="sampler.hypotheses"):
        ProbeSampler(CosineSchedule(), hypotheses=0)
    with pytest.raises(SpecError, match="sampler.clamp"):
        DDIMSampler(CosineSchedule(), clamp=-1.0)
    with pytest.raises(SpecError, match="sampler.steps"):
        ProbeSampler(CosineSchedule(), steps=5000)


def test_reverse_process_checks_inputs_for_every_sampler():
    s = ProbeSampler(CosineSchedule())
    with pytest.raises(InputError, match="flip_permutation is required"):
        reverse_process(s, lambda x, y, t: y, _x2d(), flip_permutation=None)
    with pytest.raises(InputError, match=r"shape \(B, T, J, 2\)"):
        reverse_process(s, lambda x, y, t: y, torch.zeros(5, 17, 2), flip_permutation=PERM)
    with pytest.raises(InputError, match="denoise must return x0"):
        reverse_process(s, lambda x, y, t: y[..., :2], _x2d(), flip_permutation=PERM)
