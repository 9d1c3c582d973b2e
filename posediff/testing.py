"""The contract test a component must pass, used by posediff's own tests and by plugin authors.

``check_component(kind, name)`` builds the registered component with small arguments (its class
attribute ``spec_example`` if present, else its defaults) and checks, raising
:class:`~posediff.errors.ContractError` with what is wrong:

- **type**: it is an instance of its kind's base class in :mod:`posediff.interfaces`;
- **spec round trip**: :func:`posediff.component_spec.component_spec` reports exactly the resolved table it
  was built from, and building that table again (same seed) gives the same weights;
- **forward**: the kind's shapes, finite values, determinism in eval mode, float32 output;
- **backward** (components with trainable parameters): in train mode every trainable parameter receives a
  finite gradient (a parameter that never learns — like the official FinePOSE's untrained modifiers — fails);
- **bf16**: the forward under bf16 autocast, and the bf16 weight-cast copy that ``precision="bf16"`` samples
  with (backbones with ``keep_fp32``, fusion blocks), keep the shapes and stay finite;
- kind specifics: every backbone hook point is called once per forward with the documented shapes;
  conditioners are run with real action labels as well as ``None``; an aggregator refuses to run without
  each input it ``needs`` (with an :class:`~posediff.errors.InputError`) and runs with only those; samplers
  give descending timesteps ending in -1, reproduce a seeded run, replay recorded draws, and their
  ``add_noise`` keeps shape and dtype.

Keypoint detectors (kind ``detector``, not part of a model) have a check of their own, :func:`check_detector`,
which ``check_component("detector", name)`` calls.

Size: one module because it is one page for a plugin author — every kind's contract check, the detector check
and :class:`BoundSampler` (a sampler with loop settings, for tests of step rules) — each check short and
self-contained.

A plugin package calls it in its tests to get the same guarantees as a built-in::

    from posediff.testing import check_component
    def test_contract():
        check_component("sampler", "dpm_solver")
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping

import torch
from torch import nn

from . import registry
from .build import build_component
from .component_spec import component_spec
from .errors import ContractError, InputError, PosediffError
from .interfaces import KIND_BASES, Conditioning, contract_of
from .sampling import LOOP_KEYS, SamplingSettings
from .lifter import bf16_inference_copy
from .spec import kind_of_annotation, component_parameters

__all__ = ["check_component", "check_detector", "BoundSampler", "SMALL_CONTEXT"]

SMALL_CONTEXT: dict[str, Any] = {"skeleton": "h36m-17", "frames": 9, "dim": 32, "joints": 17, "cond_dim": 16}
"""Context used by the checks: 9 frames, width 32, 17 joints, prompt tokens of width 16."""

_NESTED_EXAMPLES: dict[str, dict] = {
    "schedule": {"name": "cosine", "timesteps": 1000},
    "text_encoder": {"name": "offline", "width": 32, "layers": 1, "heads": 2},
}


def _table(kind: str, name: str, overrides: Mapping[str, Any] | None) -> dict:
    obj = registry.get(kind, name)
    table: dict[str, Any] = {"name": name}
    table.update(contract_of(kind, obj).spec_example)
    for pname, ann, default in component_parameters(obj):
        sub = kind_of_annotation(ann)
        if sub and pname not in table and default is inspect.Parameter.empty:
            table[pname] = dict(_NESTED_EXAMPLES[sub])
    table.update(overrides or {})
    return table


def _random(shape, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g)


def _require(ok: Any, what: str, kind: str, name: str) -> None:
    if not ok:
        raise ContractError(f"{kind} {name!r}: {what}")


def _build(kind: str, table: Mapping[str, Any], ctx: Mapping[str, Any], seed: int = 0):
    torch.manual_seed(seed)
    return build_component(kind, dict(table), **ctx)


def _resolved_table(kind: str, table: Mapping[str, Any], ctx: Mapping[str, Any]) -> dict:
    from .spec import SpecValidator

    v = SpecValidator(f"{kind} table")
    resolved = v.component(kind, dict(table), kind, dict(ctx))
    return resolved or {}


def _check_round_trip(comp: nn.Module, kind: str, name: str, table: Mapping[str, Any],
                      ctx: Mapping[str, Any]) -> None:
    try:
        reported = component_spec(comp)
    except PosediffError as exc:
        raise ContractError(f"{kind} {name!r}: cannot report its spec: {exc}") from exc
    want = _resolved_table(kind, table, ctx)
    if kind == "sampler":  # the loop's keys of a [sampler] table are the model's SamplingSettings, not the sampler's
        want = {k: v for k, v in want.items() if k not in LOOP_KEYS}
    if reported != want:
        diff = {k: (reported.get(k), want.get(k)) for k in set(reported) | set(want) if reported.get(k) != want.get(k)}
        raise ContractError(f"{kind} {name!r}: component_spec() reports other arguments than it was built with "
                            f"(reported, built): {diff}; store every constructor argument unchanged under its name")
    again = _build(kind, reported, ctx)
    a, b = comp.state_dict(), again.state_dict()
    _require(list(a) == list(b), "rebuilding from its reported spec gives other parameter names", kind, name)
    for key in a:
        _require(torch.equal(a[key], b[key]), f"rebuilding from its reported spec (same seed) changes {key!r}",
                 kind, name)


def _check_backward(comp: nn.Module, kind: str, name: str, run: Callable[[], Any]) -> None:
    trainable = [(n, p) for n, p in comp.named_parameters() if p.requires_grad]
    if not trainable:
        return
    comp.train()
    comp.zero_grad(set_to_none=True)
    out = run()
    tensors = [t for t in (out if isinstance(out, (tuple, list)) else (out,)) if isinstance(t, torch.Tensor)]
    _require(tensors and all(t.requires_grad for t in tensors),
             "its output carries no gradient in train mode", kind, name)
    sum((t.float() ** 2).mean() for t in tensors).backward()
    none = [n for n, p in trainable if p.grad is None]
    _require(not none, f"trainable parameters receive no gradient: {none[:6]}"
             f"{' …' if len(none) > 6 else ''} (freeze them, or make them take part in the forward)", kind, name)
    bad = [n for n, p in trainable if not torch.isfinite(p.grad).all()]
    _require(not bad, f"non-finite gradients in {bad[:6]}", kind, name)
    comp.zero_grad(set_to_none=True)
    comp.eval()


def _cond_tensors(cond: Conditioning) -> tuple:
    return tuple(t for t in (cond.tokens, cond.vector) if t is not None)


def _labels(comp: nn.Module, b: int) -> list:
    actions = list(comp.actions)
    first = actions[0] if actions else "Walking"
    return [first] + [None] * (b - 1)


def _check_backbone(comp, kind, name, ctx):
    b, t, j, c = 2, ctx["frames"], ctx["joints"], ctx["dim"]
    x2d, y = _random((b, t, j, 2), 0), _random((b, t, j, 3), 1)
    steps = torch.tensor([0, 999])
    cond = Conditioning(None, _random((b, c), 2))
    with torch.no_grad():
        out = comp(x2d, y, steps, cond, {})
        _require(tuple(out.shape) == (b, t, j, 3), f"output {tuple(out.shape)} != {(b, t, j, 3)}", kind, name)
        _require(out.dtype == torch.float32, f"output dtype {out.dtype} != float32", kind, name)
        _require(torch.isfinite(out).all(), "output has NaN/Inf", kind, name)
        _require(torch.equal(out, comp(x2d, y, steps, cond, {})), "not deterministic in eval mode", kind, name)
    hooks = tuple(comp.hook_points)
    _require(all(isinstance(h, str) for h in hooks), "hook_points must be strings", kind, name)
    calls: dict[str, list] = {h: [] for h in hooks}

    def probe(at: str):
        def site(x, cond_, v):
            calls[at].append((tuple(x.shape), tuple(v.shape), cond_))
            return x + 0.01 * torch.tanh(x)  # a visible change the output must feel
        return site

    with torch.no_grad():
        hooked = comp(x2d, y, steps, cond, {h: probe(h) for h in hooks})
    for at, seen in calls.items():
        _require(len(seen) == 1, f"hook point {at!r} was called {len(seen)} time(s) in one forward (expected 1)",
                 kind, name)
        xs, vs, cond_seen = seen[0]
        _require(len(xs) == 3 and xs[0] == b * j and xs[1] == t,
                 f"hook point {at!r} got tokens {xs}; expected (N·J, T, C) = ({b * j}, {t}, C)", kind, name)
        _require(vs == (b, c), f"hook point {at!r} got v {vs}; expected (N, C) = {(b, c)}", kind, name)
        _require(cond_seen is cond, f"hook point {at!r} did not receive the Conditioning given", kind, name)
    if hooks:
        _require(not torch.equal(hooked, out), "the hook sites' outputs do not reach the backbone's output",
                 kind, name)
    _check_backward(comp, kind, name, lambda: comp(x2d, y, steps, cond, {}))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        low = comp(x2d, y, steps, cond, {})
    _require(tuple(low.shape) == (b, t, j, 3) and torch.isfinite(low.float()).all(),
             "bf16 autocast forward changes the shape or gives NaN/Inf", kind, name)
    if comp.keep_fp32 is not None:  # the weight-cast copy that precision "bf16" samples with
        cast = bf16_inference_copy(comp, comp.keep_fp32)
        with torch.no_grad():
            low = cast(x2d, y, steps, cond, {})
        _require(tuple(low.shape) == (b, t, j, 3) and torch.isfinite(low.float()).all(),
                 "the bf16 weight-cast copy (keep_fp32; precision 'bf16') changes the shape or gives NaN/Inf",
                 kind, name)


def _check_conditioner(comp, kind, name, ctx):
    b = 2
    for labels in (None, _labels(comp, b)):
        with torch.no_grad():
            cond = comp(labels, b)
        _require(isinstance(cond, Conditioning), "must return a Conditioning", kind, name)
        for tensor, what in ((cond.tokens, "tokens"), (cond.vector, "vector")):
            if tensor is not None:
                _require(tensor.shape[0] == b, f"conditioning {what} batch {tensor.shape[0]} != {b}", kind, name)
                _require(torch.isfinite(tensor).all(), f"conditioning {what} has NaN/Inf", kind, name)
        if cond.tokens is not None:
            _require(cond.tokens.shape[-1] == comp.token_dim,
                     f"tokens width {cond.tokens.shape[-1]} != token_dim {comp.token_dim}", kind, name)
    labelled = _labels(comp, b)

    def run():
        return _cond_tensors(comp(labelled, b))

    if any(p.requires_grad for p in comp.parameters()):
        _check_backward(comp, kind, name, run)


def _check_fusion(comp, kind, name, ctx):
    b, t, j, c, k = 2, ctx["frames"], ctx["joints"], ctx["dim"], 3
    x = _random((b * k * j, t, c), 0)
    cond = Conditioning(_random((b, 5, ctx["cond_dim"]), 1), _random((b, c), 2))
    v = _random((b * k, c), 3)
    with torch.no_grad():
        out = comp(x, cond, v)
    _require(tuple(out.shape) == tuple(x.shape), f"output {tuple(out.shape)} != {tuple(x.shape)}", kind, name)
    _require(torch.isfinite(out).all(), "output has NaN/Inf", kind, name)
    _check_backward(comp, kind, name, lambda: comp(x, cond, v))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        low = comp(x, cond, v)
    _require(tuple(low.shape) == tuple(x.shape) and torch.isfinite(low.float()).all(),
             "bf16 autocast forward changes the shape or gives NaN/Inf", kind, name)
    # a bf16 sampling copy runs a fusion site in bf16 on the bf16 stream, the prompt tokens staying fp32
    with torch.no_grad():
        low = bf16_inference_copy(comp)(x.to(torch.bfloat16), cond, v.to(torch.bfloat16))
    _require(tuple(low.shape) == tuple(x.shape) and torch.isfinite(low.float()).all(),
             "the bf16 weight-cast copy (precision 'bf16') changes the shape or gives NaN/Inf", kind, name)


def _check_schedule(comp, kind, name, ctx):
    ac = comp.alphas_cumprod()
    _require(tuple(ac.shape) == (comp.timesteps,), f"alphas_cumprod shape {tuple(ac.shape)} != ({comp.timesteps},)",
             kind, name)
    _require(ac.dtype == torch.float64, "alphas_cumprod must be float64", kind, name)
    _require(bool((ac > 0).all() and (ac <= 1).all()), "alphas_cumprod must lie in (0, 1]", kind, name)
    _require(bool((ac[1:] <= ac[:-1]).all()), "alphas_cumprod must not increase", kind, name)


def _check_sampler(comp, kind, name, ctx):
    b, t, j = 2, ctx["frames"], ctx["joints"]
    x2d = _random((b, t, j, 2), 0)
    times = comp.step_times(2)
    _require(len(times) == 3 and times[-1] == -1 and all(x > y for x, y in zip(times, times[1:])),
             f"step_times(2) must give 2 descending timesteps then -1; got {times}", kind, name)

    def denoise(x2d_k, y_k, t_k):
        if not (x2d_k.shape[:2] == y_k.shape[:2] == t_k.shape):
            raise ContractError(f"{kind} {name!r}: denoise inputs disagree on (B, K)")
        return 0.5 * y_k

    perm = list(range(j))
    trace: list = []
    loop = SamplingSettings(hypotheses=3, steps=2)
    outs = [comp.sample(denoise, x2d, settings=loop, flip_permutation=perm,
                        generator=torch.Generator().manual_seed(0), trace=trace if i == 0 else None) for i in range(2)]
    _require(tuple(outs[0].shape) == (b, 2, 3, t, j, 3), f"output {tuple(outs[0].shape)} != {(b, 2, 3, t, j, 3)}",
             kind, name)
    _require(torch.equal(outs[0], outs[1]), "not reproducible with a seeded generator", kind, name)
    _require(torch.isfinite(outs[0]).all(), "output has NaN/Inf", kind, name)
    n_draws = 1 + sum(1 for a, c in comp.time_pairs(2) if c >= 0 and comp.draws_noise(a, c))
    g = torch.Generator().manual_seed(0)
    draws = [torch.randn((b, 3, t, j, 3), generator=g) for _ in range(n_draws)]
    try:
        replay = comp.sample(denoise, x2d, settings=loop, flip_permutation=perm, draws=draws)
    except InputError as exc:
        raise ContractError(f"{kind} {name!r}: replaying {n_draws} recorded draw(s) failed ({exc}); step() must "
                            "call noise() exactly when draws_noise() says so") from exc
    _require(torch.equal(replay, outs[0]), "replaying the generator's draws gives another result (does step() "
             "call noise() exactly when draws_noise() says?)", kind, name)
    x0 = _random((b, t, j, 3), 4) * 0.2
    noisy = comp.add_noise(x0, torch.tensor([0, 999]), torch.randn_like(x0))
    _require(noisy.shape == x0.shape and noisy.dtype == x0.dtype, "add_noise must keep shape and dtype", kind, name)


def _check_aggregator(comp, kind, name, ctx):
    b, t, j, h = 2, ctx["frames"], ctx["joints"], 4
    hyps = _random((b, h, t, j, 3), 0) * 0.2
    hyps[..., 0, :] = 0
    root = torch.tensor([0.0, 0.0, 4.0]).expand(b, t, 1, 3)
    camera = torch.tensor([1.1, 1.1, 0.0, 0.0, 0, 0, 0, 0, 0]).expand(b, 9)
    from .geometry.cameras import project_to_2d

    x2d = project_to_2d(hyps[:, 0] + root, camera[:, None, None, :])
    everything: dict[str, Any] = {"camera": camera, "root": root, "target": hyps[:, 0]}
    needs = set(comp.needs)
    _require(needs <= set(everything), f"needs {sorted(needs)} names inputs outside camera/root/target", kind, name)
    only = {k: v for k, v in everything.items() if k in needs}
    try:
        out = comp(hyps, x2d=x2d, **only)
    except PosediffError as exc:
        raise ContractError(f"{kind} {name!r}: refused the inputs it needs ({sorted(needs)}): {exc}") from exc
    _require(tuple(out.shape) == (b, t, j, 3), f"output {tuple(out.shape)} != {(b, t, j, 3)}", kind, name)
    _require(torch.isfinite(out).all(), "output has NaN/Inf", kind, name)
    full = comp(hyps, x2d=x2d, **everything)
    _require(tuple(full.shape) == (b, t, j, 3), "output shape changes when every input is given", kind, name)
    for missing in sorted(needs):
        given = {k: v for k, v in only.items() if k != missing}
        try:
            comp(hyps, x2d=x2d, **given)
        except InputError:
            continue
        except Exception as exc:  # noqa: BLE001 - anything else is a contract breach
            raise ContractError(f"{kind} {name!r}: without {missing!r} (which it needs) it must raise InputError; "
                                f"got {type(exc).__name__}: {exc}") from exc
        raise ContractError(f"{kind} {name!r}: declares it needs {missing!r} but ran without it")
    _check_backward(comp, kind, name, lambda: comp(hyps.requires_grad_(True), x2d=x2d, **only))


def _check_text_encoder(comp, kind, name, ctx):
    ids = comp.tokenize(["a person", "walking"])
    _require(tuple(ids.shape) == (2, comp.context_length), "tokenize must give (N, context_length)", kind, name)
    with torch.no_grad():
        out = comp.encode(comp.embed(ids))
    _require(tuple(out.shape) == (2, comp.context_length, comp.width), "encode must give (N, L, width)", kind, name)
    _require(torch.isfinite(out).all(), "encode output has NaN/Inf", kind, name)


_CHECKS = {"backbone": _check_backbone, "conditioner": _check_conditioner, "fusion": _check_fusion,
           "schedule": _check_schedule, "sampler": _check_sampler, "aggregator": _check_aggregator,
           "text_encoder": _check_text_encoder}


class BoundSampler:
    """A sampler with loop settings beside it, for tests of a step rule: ``BoundSampler(DDIMSampler(...),
    steps=3, hypotheses=2).sample(denoise, x2d, flip_permutation=perm)``.

    A sampler holds no H, M, flip, clamp or scale (a :class:`~posediff.sampling.SamplingSettings` is given with
    each call, as ``PoseLifter`` does); tests of a rule read better with the settings written where the
    sampler is made. Reading ``hypotheses``, ``steps``, ``flip``, ``clamp`` or ``scale`` gives the settings';
    anything else is the sampler's.

    Args:
        sampler: A built sampler.
        **loop: :class:`~posediff.sampling.SamplingSettings` fields.
    """

    def __init__(self, sampler: Any, **loop: Any) -> None:
        self.sampler = sampler
        self.settings = SamplingSettings(**loop)

    def __getattr__(self, name: str) -> Any:
        if name in LOOP_KEYS:
            return getattr(self.__dict__["settings"], name)
        return getattr(self.__dict__["sampler"], name)

    def sample(self, denoise: Callable, x2d: torch.Tensor, *, hypotheses: int | None = None,
               steps: int | None = None, **kwargs: Any) -> torch.Tensor:
        """``sampler.sample`` with the bound settings (``hypotheses``, ``steps``: this call's)."""
        settings = self.settings.replace(hypotheses=hypotheses, steps=steps)
        return self.sampler.sample(denoise, x2d, settings=settings, **kwargs)

    def step_times(self, steps: int | None = None) -> list[int]:
        """``sampler.step_times`` for ``steps`` (default: the bound M)."""
        return self.sampler.step_times(self.settings.steps if steps is None else steps)

    def time_pairs(self, steps: int | None = None) -> list[tuple[int, int]]:
        """``sampler.time_pairs`` for ``steps`` (default: the bound M)."""
        return self.sampler.time_pairs(self.settings.steps if steps is None else steps)

    def add_noise(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``sampler.add_noise`` with the bound clamp and scale."""
        return self.sampler.add_noise(x0, t, noise, clamp=self.settings.clamp, scale=self.settings.scale)


def check_detector(name: str, params: Mapping[str, Any] | None = None) -> Any:
    """Build the keypoint detector ``name`` and check it honours :class:`~posediff.interfaces.KeypointDetector`.

    It must be a KeypointDetector whose ``keypoint_format`` posediff knows, return ``(P, J, 3)`` finite
    numbers for frames of two sizes (a black frame and a noise frame; ``P`` may be 0), with confidences in
    [0, 1] and no more people than ``max_people``, and survive ``reset`` and ``close`` followed by more frames.

    Returns:
        The detector (closed).

    Raises:
        ContractError: the contract is violated (the message says how).
        DependencyError: the detector's optional package is missing.
    """
    import numpy as np

    from .data.formats import get_format
    from .detectors import build_detector
    from .interfaces import KeypointDetector

    kind = "detector"
    det = build_detector(name, **dict(params or {}))
    _require(isinstance(det, KeypointDetector), "must be a posediff.interfaces.KeypointDetector", kind, name)
    try:
        joints = get_format(det.keypoint_format).num_joints
    except InputError as exc:
        raise ContractError(f"{kind} {name!r}: keypoint_format {det.keypoint_format!r} is not a known layout "
                            f"({exc})") from None
    rng = np.random.default_rng(0)
    frames = [np.zeros((48, 64, 3), np.uint8), rng.integers(0, 256, (96, 80, 3), dtype=np.uint8)]
    for round_ in range(2):
        for image in frames:
            out = np.asarray(det.detect(image))
            _require(out.ndim == 3 and out.shape[1:] == (joints, 3), f"detect must return (P, {joints}, 3) for "
                     f"its {det.keypoint_format} joints; got {out.shape}", kind, name)
            _require(np.isfinite(out).all(), "detect returned NaN/Inf", kind, name)
            _require(((out[..., 2] >= 0) & (out[..., 2] <= 1)).all(), "confidences must be in [0, 1]", kind, name)
            _require(det.max_people is None or out.shape[0] <= det.max_people,
                     f"returned {out.shape[0]} people but max_people is {det.max_people}", kind, name)
        det.reset() if round_ == 0 else det.close()
    return det


def check_component(kind: str, name: str, overrides: Mapping[str, Any] | None = None,
                    context: Mapping[str, Any] | None = None) -> Any:
    """Build ``(kind, name)`` with small arguments and check it honours its kind's contract (see the module).

    Args:
        kind: Component kind.
        name: Registered name (built-in or plugin).
        overrides: Extra constructor arguments.
        context: Context keys (defaults: :data:`SMALL_CONTEXT`).

    Returns:
        The built component (in eval mode).

    Raises:
        ContractError: the contract is violated (the message says how).

    Example:
        >>> check_component("aggregator", "mean").needs
        frozenset()
    """
    ctx = {**SMALL_CONTEXT, **(context or {})}
    if kind == "detector":  # not an nn.Module part of a model: frames in, keypoints out
        return check_detector(name, overrides)
    if kind not in _CHECKS:
        raise ContractError(f"no contract check for kind {kind!r}; expected one of {sorted(_CHECKS)}")
    table = _table(kind, name, overrides)
    comp = _build(kind, table, ctx)
    _require(isinstance(comp, KIND_BASES[kind]), f"builds a {type(comp).__name__}, not a subclass of "
             f"posediff.interfaces.{KIND_BASES[kind].__name__}", kind, name)
    comp.eval()
    _check_round_trip(comp, kind, name, table, ctx)
    _CHECKS[kind](comp, kind, name, ctx)
    comp.eval()
    return comp
