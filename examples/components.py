"""One small, complete component of each kind, written the way a plugin author writes them.

Each class follows its kind's contract in :mod:`posediff.interfaces` and passes
:func:`posediff.testing.check_component` (``tests/test_example_components.py`` runs it, builds a lifter
from all five and trains it for a few steps). Importing this module registers them under ``example_*``
names; a plugin package would list the same classes as entry points instead (see docs/plugins.md).

Run it::

    python examples/components.py          # contract-checks the five, then builds and samples a lifter
    python examples/components.py --quick  # the same (it is quick already; the flag is for the test runner)
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

import posediff
from posediff.errors import InputError
from posediff.interfaces import (Aggregator, Backbone, Conditioner, Conditioning, FusionBlock, NoiseSchedule,
                                 Sampler, expand_rows)

__all__ = ["TrimmedMean", "DeterministicDDIM", "FrameMLP", "ActionEmbedding", "GatedFiLM", "register_all"]


class TrimmedMean(Aggregator):
    """Aggregator: per joint, the mean of the hypotheses closest to their mean (drops the farthest ones).

    Args:
        keep: Fraction of the H hypotheses kept per joint, in (0, 1].
    """

    def __init__(self, keep: float = 0.75) -> None:
        super().__init__()
        self.store_config(locals())

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """``keep`` must lie in (0, 1]."""
        keep = params.get("keep", 0.75)
        return [] if isinstance(keep, (int, float)) and 0 < keep <= 1 else [f"keep must be in (0, 1]; got {keep!r}"]

    def aggregate(self, hyps: Tensor, **_: Optional[Tensor]) -> Tensor:
        """``(B, H, T, J, 3)`` → ``(B, T, J, 3)``; the base class has checked ``hyps`` already."""
        h = hyps.shape[1]
        dist = (hyps - hyps.mean(dim=1, keepdim=True)).norm(dim=-1)              # (B, H, T, J)
        idx = dist.argsort(dim=1)[:, : max(1, math.ceil(h * self.keep))]        # (B, k, T, J)
        return hyps.gather(1, idx[..., None].expand(-1, -1, -1, -1, 3)).mean(dim=1)


class DeterministicDDIM(Sampler):
    """Sampler: DDIM with η = 0 and evenly spaced timesteps — a step rule, nothing else.

    The shared loop (:func:`posediff.sampling.reverse_process`) supplies hypotheses, flip test-time
    augmentation, clamping and noise; this class only says where the denoiser is called and how the state
    moves from ``t`` to ``t'``: ``x_{t'} = √ᾱ_{t'}·x̂0 + √(1 − ᾱ_{t'})·ε̂``.
    """

    loop_defaults = {"steps": 5, "hypotheses": 10}
    """What a spec that leaves them out gets (the loop's settings are not the sampler's own arguments)."""

    def __init__(self, schedule: NoiseSchedule) -> None:
        super().__init__(schedule)

    def step_times(self, steps: int) -> list[int]:
        """M evenly spaced timesteps from T − 1 down to 0, then −1."""
        m = self.check_steps(steps)
        total = int(self.schedule.timesteps)
        return [round((total - 1) * (m - 1 - i) / max(m - 1, 1)) for i in range(m)] + [-1]

    def step(self, x_t: Tensor, x0: Tensor, t: int, t_next: int, *, noise: Callable[[], Tensor],
             memory: dict) -> tuple[Optional[Tensor], dict]:
        """The deterministic DDIM update (no fresh noise)."""
        if t_next < 0:
            return None, {}
        ac = self.schedule.alphas_cumprod()
        a, a_next = float(ac[t]), float(ac[t_next])
        eps = (x_t / math.sqrt(a) - x0) / math.sqrt(1.0 / a - 1.0)
        return math.sqrt(a_next) * x0 + math.sqrt(1.0 - a_next) * math.sqrt(a) * eps, {}


class FrameMLP(Backbone):
    """Backbone: a per-frame MLP over all joints, with one hook point after each residual block.

    Shapes as in :class:`posediff.interfaces.Backbone`: any number of frames (no temporal mixing, so a
    single-frame lifter); the hook sites see tokens ``(N·J, T, C)``.

    Args:
        dim, frames, joints: Context (set in the spec's ``[lifter]``).
        depth: Residual blocks (= hook points ``block.0`` …).
    """

    spec_example = {"depth": 2}

    def __init__(self, dim: int, frames: int, joints: int, depth: int = 2, in_channels: int = 5) -> None:
        super().__init__()
        self.store_config(locals())
        self.hook_points = self.hook_points_for({"depth": depth})
        self.embed = nn.Linear(in_channels, dim)
        self.time = nn.Sequential(nn.Linear(1, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(),
                                                  nn.Linear(2 * dim, dim)) for _ in range(depth))
        self.head = nn.Linear(dim, 3)

    @staticmethod
    def hook_points_for(params: Mapping[str, Any]) -> tuple[str, ...]:
        """``("block.0", …)``: known from the spec before anything is built."""
        return tuple(f"block.{i}" for i in range(int(params.get("depth", 2))))

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """``depth >= 1``."""
        depth = params.get("depth", 2)
        return [] if isinstance(depth, int) and depth >= 1 else [f"depth must be >= 1; got {depth!r}"]

    def forward(self, x2d: Tensor, y_t: Tensor, t: Tensor, cond: Optional[Conditioning] = None,
                sites: Optional[Mapping[str, Any]] = None) -> Tensor:
        """x0 ``(N, T, J, 3)`` from x2d ``(N, T, J, 2)``, y_t ``(N, T, J, 3)`` and t ``(N,)``."""
        self.check_inputs(x2d, y_t, t)
        n, frames, joints, _ = x2d.shape
        cond = cond if cond is not None else Conditioning()
        v = self.time(t.float()[:, None] / 1000.0)                                    # (N, C)
        if cond.vector is not None:
            v = v + expand_rows(cond.vector.to(v.dtype), n)
        x = self.embed(torch.cat((x2d, y_t.to(x2d.dtype)), dim=-1)) + v[:, None, None]  # (N, T, J, C)
        x = x.transpose(1, 2).reshape(n * joints, frames, self.dim)                      # (N·J, T, C)
        for i, block in enumerate(self.blocks):
            x = x + block(x)
            site = (sites or {}).get(f"block.{i}")
            if site is not None:
                x = site(x, cond, v)
        out = self.head(x).reshape(n, joints, frames, 3).transpose(1, 2)
        return out.contiguous()


class ActionEmbedding(Conditioner):
    """Conditioner: one learned vector per action label (no text), and a learned neutral vector.

    Args:
        dim: Context (the backbone width): the pooled vector's width.
        actions: The accepted labels; any other label is refused (training maps it to the neutral prompt).
    """

    token_dim: int = 0

    def __init__(self, dim: int, actions: Sequence[str] = ("Walking", "Sitting", "Eating")) -> None:
        super().__init__()
        self.store_config(locals())
        self.actions = list(actions)
        self.table = nn.Embedding(len(self.actions) + 1, dim)  # row 0: the neutral prompt

    def prompt_key(self, label: Optional[str]) -> int:
        """Row of ``label`` (0 for None); InputError for a label outside :attr:`actions`."""
        if label is None:
            return 0
        if label not in self.actions:
            raise InputError(f"action {label!r} is not one of {self.actions}")
        return 1 + self.actions.index(label)

    def forward(self, actions: Sequence[Optional[str]] | None, batch: int) -> Conditioning:
        """``Conditioning(vector=(batch, dim))``; ``actions`` None means the neutral prompt for all."""
        labels = [None] * batch if actions is None else list(actions)
        if len(labels) != batch:
            raise InputError(f"actions: expected {batch} labels; got {len(labels)}")
        rows = torch.tensor([self.prompt_key(a) for a in labels], device=self.table.weight.device)
        return Conditioning(tokens=None, vector=self.table(rows))


class GatedFiLM(FusionBlock):
    """Fusion block: feature-wise scale and shift from the conditioning vector ``v``, gated (starts as identity).

    ``x ← x·(1 + g·γ(v)) + g·β(v)`` with a learned gate ``g`` initialised at 0.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.store_config(locals())
        self.film = nn.Linear(dim, 2 * dim)
        self.gate = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor, cond: Conditioning, v: Tensor) -> Tensor:
        """x ``(N·J, T, C)``; v ``(N, C)`` (broadcast over the J joints of each row)."""
        n = v.shape[0]
        gamma, beta = self.film(v).chunk(2, dim=-1)                                  # (N, C) each
        rows = x.shape[0] // n
        gamma = gamma.repeat_interleave(rows, dim=0)[:, None]
        beta = beta.repeat_interleave(rows, dim=0)[:, None]
        return x * (1 + self.gate * gamma) + self.gate * beta


KINDS_AND_NAMES = (("aggregator", "example_trimmed_mean", TrimmedMean),
                   ("sampler", "example_ddim0", DeterministicDDIM),
                   ("backbone", "example_frame_mlp", FrameMLP),
                   ("conditioner", "example_actions", ActionEmbedding),
                   ("fusion", "example_film", GatedFiLM))
"""``(kind, name, class)`` of the five examples."""


def register_all() -> None:
    """Register the five under their ``example_*`` names (once per process)."""
    for kind, name, cls in KINDS_AND_NAMES:
        if name not in posediff.list_components(kind):
            posediff.register(kind, name)(cls)


EXAMPLE_SPEC = {
    "meta": {"name": "example-lifter", "summary": "every slot filled by an example component"},
    "lifter": {"skeleton": "h36m-17", "frames": 9, "dim": 32},
    "backbone": {"name": "example_frame_mlp", "depth": 2},
    "conditioner": {"name": "example_actions"},
    "fusion": [{"at": "block.0", "blocks": [{"name": "example_film"}]}],
    "sampler": {"name": "example_ddim0", "steps": 3, "hypotheses": 4, "schedule": {"name": "cosine"}},
    "aggregator": {"name": "example_trimmed_mean", "keep": 0.5},
}
"""A spec that uses all five."""


if __name__ == "__main__":
    import argparse

    from posediff.testing import check_component

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="accepted for the test runner (always quick)")
    parser.parse_args()
    register_all()
    for kind, name, _ in KINDS_AND_NAMES:
        check_component(kind, name)
        print(f"{kind:<12} {name:<22} passes check_component")
    lifter = posediff.build(EXAMPLE_SPEC)
    poses = lifter.lift(torch.randn(2, 9, 17, 2) * 0.2, actions=["Walking", None])
    print("lifted", tuple(poses.shape))
    print("ok")
