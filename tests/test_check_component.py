"""check_component is a real contract test: each breach of a kind's contract is caught and named."""
from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

from posediff import registry
from posediff.aggregators.mean import MeanAggregator
from posediff.errors import ContractError
from posediff.interfaces import Aggregator, Backbone, FusionBlock
from posediff.samplers import DDIMSampler
from posediff.testing import check_component


@contextlib.contextmanager
def registered(kind: str, name: str, obj):
    registry.register(kind, name)(obj)
    try:
        yield
    finally:
        registry._table.pop((kind, name), None)


class GoodFusion(FusionBlock):
    def __init__(self, dim: int, gain: float = 0.5) -> None:
        super().__init__()
        self.dim = dim
        self.gain = gain
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, cond, v):
        return self.gain * self.proj(x)


def test_a_correct_component_passes():
    with registered("fusion", "zz_good", GoodFusion):
        comp = check_component("fusion", "zz_good", overrides={"gain": 0.25})
    assert comp.gain == 0.25 and not comp.training


def test_a_parameter_that_never_learns_is_caught():
    class DeadWeight(GoodFusion):
        def __init__(self, dim: int, gain: float = 0.5) -> None:
            super().__init__(dim, gain)
            self.unused = nn.Parameter(torch.zeros(3))

    with registered("fusion", "zz_dead", DeadWeight), pytest.raises(ContractError, match=r"no gradient: \['unused'\]"):
        check_component("fusion", "zz_dead")


def test_an_argument_that_is_not_stored_breaks_the_round_trip():
    class Forgetful(GoodFusion):
        def __init__(self, dim: int, gain: float = 0.5) -> None:
            super().__init__(dim, gain)
            self.gain = 1.0  # stores something else than it was given

    with registered("fusion", "zz_forget", Forgetful), pytest.raises(ContractError, match="reports other arguments"):
        check_component("fusion", "zz_forget", overrides={"gain": 0.25})


def test_a_backbone_that_skips_a_hook_point_is_caught():
    class Skips(Backbone):
        hook_points = ("a", "b")

        def __init__(self, dim: int, joints: int) -> None:
            super().__init__()
            self.dim, self.joints = dim, joints
            self.inp = nn.Linear(5, dim)
            self.out = nn.Linear(dim, 3)

        def forward(self, x2d, y_t, t, cond, sites):
            n, f, j, _ = y_t.shape
            h = self.inp(torch.cat([x2d, y_t], -1)).permute(0, 2, 1, 3).reshape(n * j, f, -1)
            v = cond.vector if cond.vector is not None else torch.zeros(n, h.shape[-1])
            if "a" in sites:
                h = sites["a"](h, cond, v)  # "b" is never called
            return self.out(h.reshape(n, j, f, -1).permute(0, 2, 1, 3))

    with registered("backbone", "zz_skip", Skips), pytest.raises(ContractError, match="'b' was called 0 time"):
        check_component("backbone", "zz_skip")


def test_an_aggregator_that_ignores_what_it_needs_is_caught():
    class Pretends(MeanAggregator):
        needs = frozenset({"camera"})  # declares camera ...

        def forward(self, hyps, *, x2d=None, camera=None, root=None, target=None):
            return self.aggregate(hyps)  # ... but overrides the base's forward, which would ask for it

    with registered("aggregator", "zz_pretend", Pretends), pytest.raises(ContractError, match="ran without it"):
        check_component("aggregator", "zz_pretend")

    class Crashes(Aggregator):
        needs = frozenset({"camera"})

        def aggregate(self, hyps, **_):
            return hyps.mean(1)

        def forward(self, hyps, *, x2d=None, camera=None, root=None, target=None):  # bypasses the base's checks
            return hyps.mean(1) * camera[0, 0]  # TypeError deep inside when camera is None

    with registered("aggregator", "zz_crash", Crashes), pytest.raises(ContractError, match="must raise InputError"):
        check_component("aggregator", "zz_crash")


def test_a_sampler_that_draws_undeclared_noise_is_caught():
    class Sneaky(DDIMSampler):
        def draws_noise(self, t, t_next):
            return False  # but step() still calls noise()

    with registered("sampler", "zz_sneaky", Sneaky), pytest.raises(ContractError, match="draws_noise"):
        check_component("sampler", "zz_sneaky")


def test_check_component_runs_the_bf16_weight_cast_copy(monkeypatch):
    """check_component tested bf16 only under autocast, never the weight-cast copy precision='bf16' samples
    with (issue 20): a fusion block that breaks only in that copy is now caught."""
    import torch
    from torch import nn

    import posediff
    from posediff import registry
    from posediff.errors import ContractError
    from posediff.interfaces import FusionBlock
    from posediff.testing import check_component

    class FragileInBf16(FusionBlock):
        """Adds a projection; returns NaN when its own weights are bf16 (as a hand-written kernel might)."""

        def __init__(self, dim: int) -> None:
            super().__init__()
            self.store_config(locals())
            self.proj = nn.Linear(dim, dim)

        def forward(self, x, cond, v):
            out = x + self.proj(x)
            return out * float("nan") if self.proj.weight.dtype == torch.bfloat16 else out

    monkeypatch.setattr(registry, "_table", dict(registry._table))
    registry.register("fusion", "zz_fragile")(FragileInBf16)
    with pytest.raises(ContractError, match="bf16 weight-cast copy"):
        check_component("fusion", "zz_fragile")
