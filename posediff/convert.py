"""Official FinePOSE / D3DP checkpoints → posediff lifters.

The official checkpoints (``best_epoch_20_10.bin``) hold ``{"model_pos": state_dict}`` of
``nn.DataParallel(FinePOSE(...))``: keys ``module.pose_estimator.<MixSTE2 name>`` plus the 12
diffusion buffers at ``module.<name>`` (reference §2, fixture README). This module maps those names
onto posediff's components (state-dict layout in :data:`KEY_RULES`), checks every key both ways, and
verifies the diffusion buffers against the lifter's noise schedule.

Size: one job (official checkpoints in, posediff lifters out); the key mapping and the buffer checks it needs
are specific to it.

"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

import numpy as np
import torch
from torch import Tensor, nn

from .errors import CheckpointError

__all__ = [
    "from_official",
    "read_official",
    "inspect_official",
    "load_official_components",
    "official_schedule_buffers",
    "to_official",
    "KEY_RULES",
]

DIFFUSION_BUFFERS = (
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
    "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
)
"""The 12 float64 buffers of the official diffusion wrapper (computed, not learned)."""

IGNORED_PREFIXES = ("clip_text.visual.",)
IGNORED_KEYS = frozenset({
    "clip_text.text_projection", "clip_text.logit_scale",
    # present in OpenAI's TorchScript CLIP, never in a state dict of the FinePOSE module; harmless
    "clip_text.input_resolution", "clip_text.context_length", "clip_text.vocab_size",
})
"""Official keys that the forward never uses: CLIP's vision tower, text projection, logit scale."""

CTX_ORDER = ("subject", "verb", "speed", "head", "body", "arm", "leg")
"""Order of the official ``ctx_*`` prompt modifiers in the fused prompt (reference §3.2)."""

KEY_RULES: tuple[tuple[str, str, str], ...] = (
    # (official prefix, role, posediff prefix); role = which posediff module receives the tensor
    ("Spatial_patch_to_embedding.", "backbone", "embed."),
    ("Spatial_pos_embed", "backbone", "spatial_pos"),
    ("Temporal_pos_embed", "backbone", "temporal_pos"),
    ("time_mlp.1.", "backbone", "time_embed.fc1."),
    ("time_mlp.3.", "backbone", "time_embed.fc2."),
    ("STEblocks.", "backbone", "spatial_blocks."),
    ("TTEblocks.", "backbone", "temporal_blocks."),
    ("Spatial_norm.", "backbone", "spatial_norm."),
    ("Temporal_norm.", "backbone", "temporal_norm."),
    ("head.0.", "backbone", "head_norm."),
    ("head.1.", "backbone", "head."),
    ("temporal_cross_attn.norm.", "fpc", "norm."),
    ("temporal_cross_attn.text_norm.", "fpc", "cond_norm."),
    ("temporal_cross_attn.query.", "fpc", "query."),
    ("temporal_cross_attn.key.", "fpc", "key."),
    ("temporal_cross_attn.value.", "fpc", "value."),
    ("temporal_cross_attn.proj_out.emb_layers.1.", "pts", "emb."),
    ("temporal_cross_attn.proj_out.norm.", "pts", "norm."),
    ("temporal_cross_attn.proj_out.out_layers.2.", "pts", "out."),
    ("textTransEncoder.layers.", "conditioner", "adapter.layers."),
    ("text_ln.", "conditioner", "text_norm."),
    ("text_proj.0.", "conditioner", "pool_proj."),
    ("clip_text.token_embedding.", "conditioner", "text_encoder.tower.token_embedding."),
    ("clip_text.positional_embedding", "conditioner", "text_encoder.tower.positional_embedding"),
    ("clip_text.transformer.", "conditioner", "text_encoder.tower.transformer."),
    ("clip_text.ln_final.", "conditioner", "text_encoder.tower.ln_final."),
)
"""Official MixSTE2 name prefix → (posediff module, name prefix). Inner names are unchanged
(``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2`` in the blocks; CLIP and
``nn.TransformerEncoderLayer`` names in the text branch). ``ctx_<part>`` → ``conditioner.modifiers.<k>``
in :data:`CTX_ORDER` order (only the parts present)."""


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------
def _to_tensor(value: Any, key: str) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach().cpu()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise CheckpointError(f"checkpoint: {key!r} holds {value.dtype} data, expected a numeric array")
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, (int, float)):
        return torch.tensor(value)
    raise CheckpointError(f"checkpoint: {key!r} is a {type(value).__name__}, expected a tensor or array")


def _numpy_array_globals() -> list:
    """The numpy functions/classes that rebuild plain arrays and scalars, under numpy 1.x and 2.x names.

    They only create arrays from bytes; any object inside an object array still goes through the
    ``weights_only`` unpickler's allow-list, so allowing them runs no foreign code.
    """
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    out: list = [np.ndarray, np.dtype]
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out += [(_reconstruct, f"{module}._reconstruct"), (scalar, f"{module}.scalar")]
    dtypes = getattr(np, "dtypes", None)  # numpy >= 1.25 may pickle dtypes by class
    if dtypes is not None:
        out += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType") and n != "ObjectDType"]
    return out


def read_official(source: str | Path | Mapping[str, Any]) -> dict[str, Tensor]:
    """Load an official checkpoint and return its tensors under official ``MixSTE2`` names.

    Args:
        source: Path to ``.bin``/``.pth``/``.pt`` (``torch.load(weights_only=True)``; a dict with
            ``"model_pos"`` is unwrapped), to ``.npz`` (like the parity fixture's
            ``denoiser.npz``), or a mapping of name → tensor/array.

    Returns:
        Name → CPU tensor, with ``module.`` and ``pose_estimator.`` stripped (diffusion buffers keep
        their bare names, e.g. ``"betas"``).

    Raises:
        CheckpointError: unreadable file, not a state dict, or non-tensor entries.
    """
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise CheckpointError(f"checkpoint: file not found: {str(path)!r}")
        if path.suffix == ".npz":
            try:
                with np.load(path, allow_pickle=False) as data:
                    raw: Mapping[str, Any] = {k: data[k] for k in data.files}
            except Exception as exc:
                raise CheckpointError(f"checkpoint: cannot read {path.name} as .npz: {exc}") from exc
        else:
            try:
                # The official training loop also stores the numpy RandomState of its data generator; the
                # numpy globals that rebuild plain arrays are allowed, nothing else (still weights_only).
                with torch.serialization.safe_globals(_numpy_array_globals()):
                    raw = torch.load(str(path), map_location="cpu", weights_only=True)
            except Exception as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise CheckpointError(
                    f"checkpoint: cannot load {path.name} with torch.load(weights_only=True): "
                    f"{type(exc).__name__}: {first}. posediff never unpickles arbitrary objects; if this is "
                    "an official checkpoint that stores extra Python objects, re-save its 'model_pos' state "
                    "dict in a trusted environment: torch.save(torch.load(p, weights_only=False)['model_pos'], "
                    "'model_pos.pth')"
                ) from exc
    elif isinstance(source, Mapping):
        raw = source
    else:
        raise CheckpointError(
            f"state_dict_or_path: expected a path or a mapping of tensors; got {type(source).__name__}"
        )
    if isinstance(raw, Mapping) and "model_pos" in raw and isinstance(raw["model_pos"], Mapping):
        raw = raw["model_pos"]
    if not isinstance(raw, Mapping):
        raise CheckpointError(f"checkpoint: expected a state dict; got {type(raw).__name__}")
    out: dict[str, Tensor] = {}
    for key, value in raw.items():
        name = str(key)
        for prefix in ("module.", "pose_estimator."):
            if name.startswith(prefix):
                name = name[len(prefix):]
        out[name] = _to_tensor(value, str(key))
    return out


def _indices(sd: Mapping[str, Tensor], prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in sd for m in [pat.match(k)] if m})


def inspect_official(sd: Mapping[str, Tensor]) -> dict[str, Any]:
    """Hyper-parameters implied by an official state dict (names as :func:`read_official` returns).

    Returns:
        ``depth``, ``frames``, ``joints``, ``dim``, ``in_channels``, ``mlp_ratio``, ``has_text``,
        ``has_action``, ``lengths`` (modifiers + 4 per present ``ctx_*``), ``clip_layers``,
        ``clip_width``, ``adapter_layers``, ``adapter_ff``, ``has_fusion``.

    Raises:
        CheckpointError: the core MixSTE keys are missing.
    """
    need = ("Spatial_patch_to_embedding.weight", "Spatial_pos_embed", "Temporal_pos_embed")
    absent = [k for k in need if k not in sd]
    if absent:
        raise CheckpointError(
            f"checkpoint: not an official FinePOSE/D3DP MixSTE2 state dict (missing {', '.join(absent)}; "
            f"first keys: {', '.join(list(sd)[:5])})"
        )
    emb = sd["Spatial_patch_to_embedding.weight"]
    dim, in_channels = int(emb.shape[0]), int(emb.shape[1])
    depth = len(_indices(sd, "STEblocks."))
    info: dict[str, Any] = {
        "depth": depth,
        "frames": int(sd["Temporal_pos_embed"].shape[1]),
        "joints": int(sd["Spatial_pos_embed"].shape[1]),
        "dim": dim,
        "in_channels": in_channels,
        "mlp_ratio": float(sd["STEblocks.0.mlp.fc1.weight"].shape[0]) / dim if depth else 2.0,
        "has_fusion": any(k.startswith("temporal_cross_attn.") for k in sd),
        "has_text": any(k.startswith(("clip_text.", "textTransEncoder.", "ctx_")) for k in sd),
    }
    ctx = [name for name in CTX_ORDER if f"ctx_{name}" in sd]
    info["ctx_parts"] = ctx
    info["has_action"] = "verb" in ctx
    info["lengths"] = [int(sd[f"ctx_{name}"].shape[0]) + 4 for name in ctx]
    info["clip_layers"] = len(_indices(sd, "clip_text.transformer.resblocks."))
    tok = sd.get("clip_text.token_embedding.weight")
    info["clip_width"] = int(tok.shape[1]) if tok is not None else 0
    info["adapter_layers"] = len(_indices(sd, "textTransEncoder.layers."))
    lin = sd.get("textTransEncoder.layers.0.linear1.weight")
    info["adapter_ff"] = int(lin.shape[0]) if lin is not None else 0
    return info


# ----------------------------------------------------------------------------------------------
# diffusion buffers
# ----------------------------------------------------------------------------------------------
def _cosine_alphas_cumprod(timesteps: int, s: float = 0.008) -> Tensor:
    x = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)
    f = torch.cos(((x / timesteps) + s) / (1 + s) * math.pi * 0.5) ** 2
    f = f / f[0]
    betas = (1 - f[1:] / f[:-1]).clamp(0, 0.999)
    return torch.cumprod(1 - betas, dim=0)


def official_schedule_buffers(alphas_cumprod: Tensor) -> dict[str, Tensor]:
    """The 12 official diffusion buffers derived from ᾱ (float64), as the official wrapper
    registers them (reference §4.1)."""
    ac = alphas_cumprod.to(torch.float64)
    ac_prev = torch.cat((ac.new_ones(1), ac[:-1]))
    betas = 1 - ac / ac_prev
    alphas = 1 - betas
    post_var = betas * (1 - ac_prev) / (1 - ac)
    return {
        "betas": betas,
        "alphas_cumprod": ac,
        "alphas_cumprod_prev": ac_prev,
        "sqrt_alphas_cumprod": ac.sqrt(),
        "sqrt_one_minus_alphas_cumprod": (1 - ac).sqrt(),
        "log_one_minus_alphas_cumprod": (1 - ac).log(),
        "sqrt_recip_alphas_cumprod": (1 / ac).sqrt(),
        "sqrt_recipm1_alphas_cumprod": (1 / ac - 1).sqrt(),
        "posterior_variance": post_var,
        "posterior_log_variance_clipped": post_var.clamp(min=1e-20).log(),
        "posterior_mean_coef1": betas * ac_prev.sqrt() / (1 - ac),
        "posterior_mean_coef2": (1 - ac_prev) * alphas.sqrt() / (1 - ac),
    }


def _verify_buffers(sd: Mapping[str, Tensor], alphas_cumprod: Optional[Tensor]) -> None:
    present = [k for k in DIFFUSION_BUFFERS if k in sd]
    if not present:
        return
    if alphas_cumprod is None:
        alphas_cumprod = _cosine_alphas_cumprod(int(sd[present[0]].shape[0]))
    expected = official_schedule_buffers(alphas_cumprod)
    for key in present:
        got, want = sd[key].to(torch.float64).reshape(-1), expected[key]
        if got.shape != want.shape:
            raise CheckpointError(
                f"checkpoint: diffusion buffer {key!r} has {got.numel()} steps; the lifter's schedule has "
                f"{want.numel()} (set sampler.schedule.timesteps)"
            )
        if not torch.allclose(got, want, rtol=1e-6, atol=1e-10):
            worst = (got - want).abs().max().item()
            raise CheckpointError(
                f"checkpoint: diffusion buffer {key!r} differs from the lifter's noise schedule "
                f"(max abs diff {worst:.3g}); the checkpoint was trained with another schedule"
            )


# ----------------------------------------------------------------------------------------------
# mapping and loading
# ----------------------------------------------------------------------------------------------
def _map_keys(sd: Mapping[str, Tensor]) -> tuple[dict[str, dict[str, Tensor]], list[str]]:
    """Split official tensors by receiving module; returns ``({role: {key: tensor}}, unknown keys)``."""
    per_role: dict[str, dict[str, Tensor]] = {"backbone": {}, "conditioner": {}, "fpc": {}, "pts": {}}
    unknown: list[str] = []
    ctx = [name for name in CTX_ORDER if f"ctx_{name}" in sd]
    for key, value in sd.items():
        if key in DIFFUSION_BUFFERS or key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES):
            continue
        if key.startswith("ctx_") and key[4:] in ctx:
            per_role["conditioner"][f"modifiers.{ctx.index(key[4:])}"] = value
            continue
        for prefix, role, ours in KEY_RULES:
            if key.startswith(prefix):
                per_role[role][ours + key[len(prefix):]] = value
                break
        else:
            unknown.append(key)
    return per_role, unknown


def _load_module(module: nn.Module, tensors: Mapping[str, Tensor], role: str) -> None:
    own = module.state_dict()
    missing = sorted(k for k in own if k not in tensors)
    unexpected = sorted(k for k in tensors if k not in own)

    def _show(keys: list[str]) -> str:
        return ", ".join(keys[:8]) + (f", … ({len(keys)} in all)" if len(keys) > 8 else "")

    if missing:
        raise CheckpointError(f"checkpoint: the {role} ({type(module).__name__}) needs keys the checkpoint "
                              f"lacks: {_show(missing)}")
    if unexpected:
        raise CheckpointError(f"checkpoint: keys for the {role} ({type(module).__name__}) that it does not "
                              f"have: {_show(unexpected)}")
    bad = [f"{k}: checkpoint {tuple(tensors[k].shape)} vs model {tuple(v.shape)}"
           for k, v in own.items() if tuple(tensors[k].shape) != tuple(v.shape)]
    if bad:
        raise CheckpointError(f"checkpoint: shape mismatch in the {role}: {'; '.join(bad[:4])}")
    module.load_state_dict({k: tensors[k].to(own[k].dtype) for k in own}, strict=True)


def load_official_components(
    source: str | Path | Mapping[str, Any],
    *,
    backbone: nn.Module,
    conditioner: Optional[nn.Module] = None,
    fpc: Optional[nn.Module] = None,
    pts: Optional[nn.Module] = None,
    alphas_cumprod: Optional[Tensor] = None,
) -> dict[str, Any]:
    """Load an official checkpoint into already-built components (every key checked both ways).

    Args:
        source: Path or state dict (see :func:`read_official`).
        backbone: A ``MixSTEBackbone``.
        conditioner: An ``FPPConditioner`` (required when the checkpoint has a text branch).
        fpc: The ``FPCFusion`` block (required when the checkpoint has ``temporal_cross_attn``).
        pts: The ``PTSFusion`` block (idem).
        alphas_cumprod: ᾱ of the lifter's schedule for the buffer check; ``None`` = the official
            cosine schedule with as many steps as the buffers.

    Returns:
        The :func:`inspect_official` summary.

    Raises:
        CheckpointError: unknown, missing or unexpected keys, shape mismatches, or diffusion buffers
            that differ from the schedule.
    """
    sd = read_official(source)
    info = inspect_official(sd)
    _verify_buffers(sd, alphas_cumprod)
    per_role, unknown = _map_keys(sd)
    if unknown:
        shown = ", ".join(sorted(unknown)[:8]) + (f", … ({len(unknown)} in all)" if len(unknown) > 8 else "")
        raise CheckpointError(f"checkpoint: keys that match no posediff component: {shown}")
    modules = {"backbone": backbone, "conditioner": conditioner, "fpc": fpc, "pts": pts}
    for role, tensors in per_role.items():
        module = modules[role]
        if module is None:
            if tensors:
                raise CheckpointError(
                    f"checkpoint: has {len(tensors)} tensors for a {role} (e.g. {next(iter(tensors))}) "
                    f"but the model has no {role}; use a spec with one (e.g. 'finepose-h36m')"
                )
            continue
        _load_module(module, tensors, role)
    return info


# ----------------------------------------------------------------------------------------------
# from_official
# ----------------------------------------------------------------------------------------------
def _accepts(kind: str, name: str, param: str) -> bool:
    from . import registry
    from .spec import component_parameters

    try:
        return any(p[0] == param for p in component_parameters(registry.get(kind, name)))
    except Exception:  # noqa: BLE001 - unknown component: resolve_spec will report it
        return False


def _find_blocks(lifter: nn.Module) -> tuple[Optional[nn.Module], Optional[nn.Module]]:
    from .fusion.fpc import FPCFusion
    from .fusion.pts import PTSFusion

    fpc = [m for m in lifter.modules() if isinstance(m, FPCFusion)]
    pts = [m for m in lifter.modules() if isinstance(m, PTSFusion)]
    if len(fpc) > 1 or len(pts) > 1:
        raise CheckpointError(
            f"spec: an official checkpoint has one FPC and one PTS block; this spec has {len(fpc)} and {len(pts)}"
        )
    return (fpc[0] if fpc else None), (pts[0] if pts else None)


def from_official(
    state_dict_or_path: str | Path | Mapping[str, Any],
    spec: Any = "finepose-h36m",
    *,
    pairing: Optional[Literal["sample", "official"]] = "sample",
):
    """Build a :class:`~posediff.lifter.PoseLifter` from an official FinePOSE (or D3DP) checkpoint.

    The architecture is inferred from the tensors (depth = number of ``STEblocks``, frames =
    ``Temporal_pos_embed.shape[1]``, width, CLIP text layers and width, adapter size, prompt
    lengths) and applied as overrides to ``spec``, together with the official-compatibility
    settings: ``conditioner.train_modifiers = false`` (the official modifiers are never trained) and
    the FPC ``pairing``. Then every tensor is loaded and checked: missing or unexpected keys, shape
    mismatches and diffusion buffers that differ from the lifter's schedule are errors. The CLIP
    vision tower, ``text_projection`` and ``logit_scale`` are ignored.

    Args:
        state_dict_or_path: Path to the released ``best_epoch_20_10.bin`` (a dict whose
            ``"model_pos"`` holds the DataParallel state dict), a ``.pth``/``.npz`` state dict, or a
            mapping of tensors/arrays.
        spec: Base spec: preset name, spec file or dict; ``"finepose-h36m"`` for FinePOSE H36M,
            ``"finepose-3dhp"`` for 3DHP, ``"d3dp-h36m"`` for D3DP checkpoints (no text branch).
        pairing: FPC query/prompt pairing: ``"sample"`` (correct) or ``"official"`` (the official
            batch mis-pairing, for bug-compatible parity; reference §2.5); ``None`` keeps the
            spec's own value (e.g. ``"official"`` in ``finepose-h36m-official``).

    Returns:
        The lifter in eval mode.

    Raises:
        CheckpointError: unreadable checkpoint, wrong spec for the checkpoint, key or shape
            problems, or mismatching diffusion buffers.

    Example:
        >>> lifter = from_official("best_epoch_20_10.bin")  # doctest: +SKIP
    """
    from .build import build
    from .spec import resolve_spec
    from .text_encoders.clip_tower import expect_external_weights

    if pairing not in ("sample", "official", None):
        raise CheckpointError(f"pairing: expected 'sample', 'official' or None; got {pairing!r}")
    sd = read_official(state_dict_or_path)
    info = inspect_official(sd)
    base = resolve_spec(spec)
    cond = base["conditioner"]
    has_tokens_cond = cond["name"] != "none"
    if info["has_text"] and not has_tokens_cond:
        raise CheckpointError(
            "checkpoint: has a text branch (FinePOSE) but the spec's conditioner is 'none'; "
            "use spec='finepose-h36m' (or 'finepose-3dhp')"
        )
    if not info["has_text"] and has_tokens_cond:
        raise CheckpointError(
            f"checkpoint: has no text branch (looks like D3DP) but the spec's conditioner is {cond['name']!r}; "
            "use spec='d3dp-h36m'"
        )
    if info["has_text"] and "parts" in cond:
        spec_action = any("{action}" in p for p in cond["parts"])
        if spec_action != info["has_action"] or len(cond["parts"]) != len(info["lengths"]):
            hint = "finepose-h36m" if info["has_action"] else "finepose-3dhp"
            raise CheckpointError(
                f"checkpoint: its prompt has blocks {info['ctx_parts']} but the spec's conditioner has parts "
                f"{cond['parts']}; use spec={hint!r}"
            )

    overrides: dict[str, Any] = {
        "lifter.frames": info["frames"],
        "lifter.dim": info["dim"],
        "backbone.depth": info["depth"],
    }
    bname = base["backbone"]["name"]
    for key in ("mlp_ratio", "in_channels"):
        if _accepts("backbone", bname, key):
            overrides[f"backbone.{key}"] = info[key]
    if info["has_text"]:
        cname = cond["name"]
        for key, value in (("train_modifiers", False), ("lengths", info["lengths"]),
                           ("adapter_layers", info["adapter_layers"]), ("adapter_ff", info["adapter_ff"])):
            if _accepts("conditioner", cname, key):
                overrides[f"conditioner.{key}"] = value
        te = cond.get("text_encoder")
        if isinstance(te, Mapping):
            settings = [("layers", info["clip_layers"]), ("width", info["clip_width"]), ("weights", "")]
            if te.get("width") != info["clip_width"]:
                # heads are not visible in a state dict; CLIP towers use 64-wide heads
                settings.append(("heads", max(1, info["clip_width"] // 64)))
            for key, value in settings:
                if _accepts("text_encoder", te["name"], key):
                    overrides[f"conditioner.text_encoder.{key}"] = value
    for i, site in enumerate(base["fusion"]):
        for j, block in enumerate(site["blocks"]):
            if block["name"] == "fpc" and pairing is not None:
                overrides[f"fusion[{i}].blocks[{j}].pairing"] = pairing

    with expect_external_weights():
        lifter = build(base, overrides=overrides)
    skeleton = lifter.skeleton
    if skeleton.num_joints != info["joints"]:
        raise CheckpointError(
            f"checkpoint: has {info['joints']} joints; the spec's skeleton {skeleton.name!r} has {skeleton.num_joints}"
        )
    fpc, pts = _find_blocks(lifter)
    ac = lifter.sampler.schedule.alphas_cumprod()  # a required hook of every schedule
    load_official_components(
        sd,
        backbone=lifter.backbone,
        conditioner=lifter.conditioner if info["has_text"] else None,
        fpc=fpc,
        pts=pts,
        alphas_cumprod=ac,
    )
    if info["has_text"] and hasattr(lifter.conditioner, "clear_cache"):
        lifter.conditioner.clear_cache()
    lifter.eval()
    return lifter


# ----------------------------------------------------------------------------------------------
# the way back (posediff → official names), for the official code and for round-trip tests
# ----------------------------------------------------------------------------------------------
def to_official(
    *,
    backbone: nn.Module,
    conditioner: Optional[nn.Module] = None,
    fpc: Optional[nn.Module] = None,
    pts: Optional[nn.Module] = None,
    alphas_cumprod: Optional[Tensor] = None,
    prefix: str = "module.pose_estimator.",
) -> dict[str, Tensor]:
    """State dict of posediff components under the official FinePOSE/D3DP names.

    The inverse of :func:`load_official_components`: ``prefix`` + MixSTE2 names, the diffusion
    buffers at ``module.<name>`` when ``alphas_cumprod`` is given, ``ctx_*`` from the conditioner's
    modifiers (FPP layouts with 6 or 7 blocks). The CLIP vision tower, ``text_projection`` and
    ``logit_scale`` are not produced (load it into the official model with ``strict=False``).

    Raises:
        CheckpointError: a component has a tensor with no official name.
    """
    roles = {"backbone": backbone, "conditioner": conditioner, "fpc": fpc, "pts": pts}
    out: dict[str, Tensor] = {}
    for role, module in roles.items():
        if module is None:
            continue
        rules = sorted(((ours, off) for off, r, ours in KEY_RULES if r == role), key=lambda p: -len(p[0]))
        sd = module.state_dict()
        n_mod = len([k for k in sd if k.startswith("modifiers.")])
        ctx = list(CTX_ORDER) if n_mod == 7 else [c for c in CTX_ORDER if c != "verb"] if n_mod == 6 else None
        for key, value in sd.items():
            if key.startswith("modifiers."):
                if ctx is None:
                    raise CheckpointError(f"to_official: {n_mod} prompt modifiers have no official names (6 or 7)")
                out[f"{prefix}ctx_{ctx[int(key.split('.')[1])]}"] = value
                continue
            for ours, off in rules:
                if key.startswith(ours):
                    out[prefix + off + key[len(ours):]] = value
                    break
            else:
                raise CheckpointError(f"to_official: {role} tensor {key!r} has no official name")
    if alphas_cumprod is not None:
        top = prefix.split(".")[0] + "." if prefix.startswith("module.") else ""
        for key, value in official_schedule_buffers(alphas_cumprod).items():
            out[top + key] = value
    return out
