"""Contract checks for components, used by posediff's own tests and by plugin authors.

``check_component(kind, name)`` builds the registered component with small arguments (its class
attribute ``spec_example`` if present, else its defaults), runs it on random inputs of the kind's
contract shapes and checks shapes, dtypes, finiteness and determinism. A plugin package calls it in
its tests to get the same guarantees as a built-in::

    from posediff.testing import check_component
    def test_contract():
        check_component("sampler", "dpm_solver")
"""
from __future__ import annotations

from typing import Any, Mapping

import torch

from . import registry
from .build import build_component
from .errors import PosediffError
from .interfaces import Conditioning

__all__ = ["check_component", "SMALL_CONTEXT"]

SMALL_CONTEXT: dict[str, Any] = {"skeleton": "h36m-17", "frames": 9, "dim": 32, "joints": 17, "cond_dim": 16}
"""Context used by the checks: 9 frames, width 32, 17 joints, prompt tokens of width 16."""

_NESTED_EXAMPLES: dict[str, dict] = {
    "schedule": {"name": "cosine", "timesteps": 1000},
    "text_encoder": {"name": "offline", "width": 32, "layers": 1, "heads": 2},
}


def _table(kind: str, name: str, overrides: Mapping[str, Any] | None) -> dict:
    from .spec import _kind_of_annotation, component_parameters
    import inspect

    obj = registry.get(kind, name)
    table: dict[str, Any] = {"name": name}
    table.update(getattr(obj, "spec_example", {}) or {})
    for pname, ann, default in component_parameters(obj):
        sub = _kind_of_annotation(ann)
        if sub and pname not in table and default is inspect.Parameter.empty:
            table[pname] = dict(_NESTED_EXAMPLES[sub])
    table.update(overrides or {})
    return table


def _random(shape, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g)


def check_component(kind: str, name: str, overrides: Mapping[str, Any] | None = None,
                    context: Mapping[str, Any] | None = None) -> Any:
    """Build ``(kind, name)`` with small arguments and check it honours its kind's contract.

    Args:
        kind: Component kind.
        name: Registered name (built-in or plugin).
        overrides: Extra constructor arguments.
        context: Context keys (defaults: :data:`SMALL_CONTEXT`).

    Returns:
        The built component.

    Raises:
        AssertionError: the contract is violated (message says how).
    """
    ctx = {**SMALL_CONTEXT, **(context or {})}
    comp = build_component(kind, _table(kind, name, overrides), **ctx)
    if isinstance(comp, torch.nn.Module):
        comp.eval()
    b, t, j, c = 2, ctx["frames"], ctx["joints"], ctx["dim"]
    with torch.no_grad():
        if kind == "backbone":
            x2d, y = _random((b, t, j, 2), 0), _random((b, t, j, 3), 1)
            steps = torch.tensor([0, 999])
            cond = Conditioning(None, _random((b, c), 2))
            out = comp(x2d, y, steps, cond, {})
            assert out.shape == (b, t, j, 3), f"backbone output {tuple(out.shape)} != {(b, t, j, 3)}"
            assert torch.isfinite(out).all(), "backbone output has NaN/Inf"
            assert torch.equal(out, comp(x2d, y, steps, cond, {})), "backbone not deterministic in eval mode"
            assert all(isinstance(h, str) for h in comp.hook_points), "hook_points must be strings"
        elif kind == "conditioner":
            cond = comp(None, b)
            assert isinstance(cond, Conditioning), "conditioner must return a Conditioning"
            for tensor, what in ((cond.tokens, "tokens"), (cond.vector, "vector")):
                if tensor is not None:
                    assert tensor.shape[0] == b, f"conditioning {what} batch {tensor.shape[0]} != {b}"
                    assert torch.isfinite(tensor).all(), f"conditioning {what} has NaN/Inf"
            if cond.tokens is not None:
                assert cond.tokens.shape[-1] == comp.token_dim, "tokens width != token_dim"
        elif kind == "fusion":
            k = 3
            x = _random((b * k * j, t, c), 0)
            cond = Conditioning(_random((b, 5, ctx["cond_dim"]), 1), _random((b, c), 2))
            v = _random((b * k, c), 3)
            out = comp(x, cond, v)
            assert out.shape == x.shape, f"fusion output {tuple(out.shape)} != {tuple(x.shape)}"
            assert torch.isfinite(out).all(), "fusion output has NaN/Inf"
        elif kind == "schedule":
            ac = comp.alphas_cumprod()
            assert ac.shape == (comp.timesteps,), f"alphas_cumprod shape {tuple(ac.shape)} != ({comp.timesteps},)"
            assert ac.dtype == torch.float64, "alphas_cumprod must be float64"
            assert bool((ac > 0).all() and (ac <= 1).all()), "alphas_cumprod must lie in (0, 1]"
            assert bool((ac[1:] <= ac[:-1]).all()), "alphas_cumprod must not increase"
        elif kind == "sampler":
            x2d = _random((b, t, j, 2), 0)

            def denoise(x2d_k, y_k, t_k):
                assert x2d_k.shape[:2] == y_k.shape[:2] == t_k.shape, "denoise inputs disagree on (B, K)"
                return 0.5 * y_k

            perm = list(range(j))
            outs = [comp.sample(denoise, x2d, flip_permutation=perm, hypotheses=3, steps=2,
                                generator=torch.Generator().manual_seed(0)) for _ in range(2)]
            assert outs[0].shape == (b, 2, 3, t, j, 3), f"sampler output {tuple(outs[0].shape)} != {(b, 2, 3, t, j, 3)}"
            assert torch.equal(outs[0], outs[1]), "sampler not reproducible with a seeded generator"
            assert torch.isfinite(outs[0]).all(), "sampler output has NaN/Inf"
        elif kind == "aggregator":
            h = 4
            hyps = _random((b, h, t, j, 3), 0) * 0.2
            hyps[..., 0, :] = 0
            root = torch.tensor([0.0, 0.0, 4.0]).expand(b, t, 1, 3)
            camera = torch.tensor([1.1, 1.1, 0.0, 0.0, 0, 0, 0, 0, 0]).expand(b, 9)
            from .geometry.cameras import project_to_2d

            x2d = project_to_2d(hyps[:, 0] + root, camera[:, None, None, :])
            kwargs: dict[str, Any] = {"x2d": x2d, "camera": camera, "root": root, "target": hyps[:, 0]}
            try:
                out = comp(hyps, **kwargs)
            except PosediffError as exc:  # e.g. a root policy that needs other inputs
                raise AssertionError(f"aggregator refused contract inputs: {exc}") from exc
            assert out.shape == (b, t, j, 3), f"aggregator output {tuple(out.shape)} != {(b, t, j, 3)}"
            assert torch.isfinite(out).all(), "aggregator output has NaN/Inf"
        elif kind == "text_encoder":
            ids = comp.tokenize(["a person", "walking"])
            assert ids.shape == (2, comp.context_length), "tokenize must give (N, context_length)"
            emb = comp.embed(ids)
            out = comp.encode(emb)
            assert out.shape == (2, comp.context_length, comp.width), "encode must give (N, L, width)"
        else:  # pragma: no cover
            raise AssertionError(f"no contract check for kind {kind!r}")
    return comp
