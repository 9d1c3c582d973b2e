"""MixSTE spatial–temporal transformer trunk, as used by D3DP and FinePOSE (reference §2)."""
from __future__ import annotations

from typing import Any, Mapping, Optional

import torch
from torch import Tensor, nn

from ..errors import InputError
from ..interfaces import Backbone, Conditioning, expand_rows
from ..nn import Block, TimestepEmbedding
from ..registry import register
from ..validation import below_minimum

__all__ = ["MixSTEBackbone"]

MAX_DEPTH = 1024
"""Largest accepted ``depth`` (spec validation lists the hook points, two per block)."""


@register("backbone", "mixste")
class MixSTEBackbone(Backbone):
    """MixSTE denoiser trunk: alternating spatial (over joints) and temporal (over frames) blocks.

    Matches the official ``MixSTE2`` of FinePOSE/D3DP (reference §2.1–§2.3): input
    Linear over ``[u, v, x, y, z]`` plus a spatial positional embedding plus the conditioning vector
    ``v = F(t) + P[L]``; spatial block 0, its LayerNorm, the temporal positional embedding, temporal
    block 0, its LayerNorm, then ``depth − 1`` spatial/temporal pairs (the two LayerNorms are reused
    after every block); head LayerNorm + Linear(C→3). Fusion blocks plug into the hook points
    ``"spatial.i"`` (after spatial block i and its norm) and ``"temporal.i"`` (after temporal block i
    and its norm); tokens there are ``(N·J, T, C)``, rows ordered (sample, joint).

    Args:
        dim: Width C (context key, from ``[lifter]``).
        frames: Receptive field T (context key); the input must have exactly T frames.
        joints: Joint count J (context key, from the skeleton).
        depth: Number of spatial (and of temporal) blocks; official 8.
        heads: Attention heads; official 8 (head width 64).
        mlp_ratio: MLP hidden width over C; official 2.
        qkv_bias: Bias on the qkv projections; official true.
        drop_path: Largest stochastic-depth rate; block i uses ``linspace(0, drop_path, depth)[i]``
            (official 0.1 in training; inactive in eval mode).
        in_channels: Input channels, 2D (2) plus noisy 3D (3); official 5.
        norm_eps: LayerNorm eps of the blocks and of the spatial/temporal norms; official 1e-6.
        head_norm_eps: LayerNorm eps of the output head; official 1e-5.
        pos_init_std: Standard deviation of a normal initialisation of the two positional embeddings;
            official 0 (zeros). Zeros make every joint token identical up to its input coordinates, and a
            small model then spends its first few hundred steps on a plateau (measured in
            ``docs/training.md``); the CPU presets use 0.5. Initialisation only: a loaded checkpoint
            overwrites it.

    Shape:
        x2d: (N, T, J, 2) normalised screen coordinates; y_t: (N, T, J, 3) noisy root-relative pose
        (metres × scale); t: (N,) integer steps; cond: :class:`Conditioning` of Bc clips (N = Bc·K);
        output: (N, T, J, 3) predicted x0.

    Example:
        >>> import torch
        >>> from posediff.interfaces import Conditioning
        >>> net = MixSTEBackbone(dim=32, frames=9, joints=17, depth=2, heads=4).eval()
        >>> x0 = net(torch.zeros(2, 9, 17, 2), torch.zeros(2, 9, 17, 3), torch.tensor([5, 7]), Conditioning(), {})
        >>> tuple(x0.shape)
        (2, 9, 17, 3)
    """

    def __init__(
        self,
        dim: int,
        frames: int,
        joints: int,
        depth: int = 8,
        heads: int = 8,
        mlp_ratio: float = 2.0,
        qkv_bias: bool = True,
        drop_path: float = 0.1,
        in_channels: int = 5,
        norm_eps: float = 1e-6,
        head_norm_eps: float = 1e-5,
        pos_init_std: float = 0.0,
    ) -> None:
        super().__init__()
        self.store_config(locals())  # check_params, then every argument stored under its name
        self.hook_points = self.hook_points_for({"depth": depth})
        self.stream_dtype: Optional[torch.dtype] = None
        """dtype of the token stream between the input stage and the head; ``None``: that of the input
        embedding. A bf16 inference copy (``PoseLifter`` precision ``"bf16"``) sets ``torch.bfloat16``."""

        self.embed = nn.Linear(in_channels, dim)
        # Official: both positional embeddings are zero-initialised learnable parameters (§2.7).
        self.spatial_pos = nn.Parameter(torch.zeros(1, joints, dim))
        self.temporal_pos = nn.Parameter(torch.zeros(1, frames, dim))
        if pos_init_std > 0:
            with torch.no_grad():
                self.spatial_pos.normal_(0.0, pos_init_std)
                self.temporal_pos.normal_(0.0, pos_init_std)
        self.time_embed = TimestepEmbedding(dim, 2 * dim)
        rates = torch.linspace(0.0, drop_path, depth).tolist()
        self.spatial_blocks = nn.ModuleList(
            Block(dim, heads, mlp_ratio, qkv_bias, rates[i], norm_eps) for i in range(depth)
        )
        self.temporal_blocks = nn.ModuleList(
            Block(dim, heads, mlp_ratio, qkv_bias, rates[i], norm_eps) for i in range(depth)
        )
        self.spatial_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.temporal_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.head_norm = nn.LayerNorm(dim, eps=head_norm_eps)
        self.head = nn.Linear(dim, 3)

    frame_parameters: tuple[str, ...] = ("temporal_pos",)
    """The temporal positional embedding ``(1, T, C)`` is the only parameter sized by the receptive field."""

    keep_fp32: tuple[str, ...] = ("embed", "spatial_pos", "time_embed", "head_norm", "head")
    """Parts that a reduced-precision inference copy keeps in fp32 (input stage and output head: cheap,
    and they set the precision of the noisy input and of x̂0); see ``PoseLifter`` precision ``"bf16"``.
    The copy also keeps every LayerNorm's parameters in fp32 (see ``PoseLifter.sampling_runner``)."""

    # ------------------------------------------------------------------ spec helpers
    @staticmethod
    def hook_points_for(params: Mapping[str, Any]) -> tuple[str, ...]:
        """Hook point names for a parameter table (used by spec validation before construction)."""
        # bounded: a typo such as depth = 10**9 must give a spec error, not build a billion names
        depth = min(int(params.get("depth", 8)), MAX_DEPTH)
        return tuple(f"spatial.{i}" for i in range(depth)) + tuple(f"temporal.{i}" for i in range(depth))

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """Value checks that need no tensors; returns one message per problem."""
        out = []
        dim, heads = params.get("dim", 512), params.get("heads", 8)
        if isinstance(dim, int) and isinstance(heads, int):
            if heads < 1 or dim % heads:
                out.append(f"dim {dim} must be divisible by heads {heads}")
            if dim % 2:
                out.append(f"dim must be even (sinusoidal timestep embedding); got {dim}")
        out += below_minimum(params, {"depth": 1, "frames": 1, "joints": 1, "in_channels": 1})
        depth = params.get("depth", 8)
        if isinstance(depth, int) and depth > MAX_DEPTH:
            out.append(f"depth must be <= {MAX_DEPTH}; got {depth}")
        rate = params.get("drop_path", 0.0)
        if isinstance(rate, (int, float)) and not 0.0 <= rate < 1.0:
            out.append(f"drop_path must be in [0, 1); got {rate}")
        ratio = params.get("mlp_ratio", 2.0)
        if isinstance(ratio, (int, float)) and not 0 < ratio < float("inf"):
            out.append(f"mlp_ratio must be a finite number > 0; got {ratio}")
        elif isinstance(ratio, (int, float)) and isinstance(dim, int) and dim > 0 and int(dim * ratio) < 1:
            # a zero-width MLP has no weights to learn and crashes oneDNN's bf16 kernels
            out.append(f"mlp_ratio must give at least one hidden unit (int(dim * mlp_ratio) >= 1, i.e. mlp_ratio >= "
                       f"{1 / dim:.3g} for dim {dim}); got {ratio}")
        std = params.get("pos_init_std", 0.0)
        if isinstance(std, (int, float)) and not 0.0 <= std < float("inf"):
            out.append(f"pos_init_std must be a finite number >= 0; got {std}")
        for key in ("norm_eps", "head_norm_eps"):  # a negative LayerNorm eps gives NaN poses
            eps = params.get(key, 1e-6)
            if isinstance(eps, (int, float)) and not (0 < eps < 1):
                out.append(f"{key} must be in (0, 1); got {eps}")
        return out

    # ------------------------------------------------------------------ forward
    def conditioning_vector(self, t: Tensor, cond: Optional[Conditioning], rows: int) -> Tensor:
        """``v = F(t) + cond.vector`` broadcast to ``rows`` sample-major; ``(N, C)``."""
        v = self.time_embed(t)
        if cond is not None and cond.vector is not None:
            vec = cond.vector
            if vec.ndim != 2 or vec.shape[1] != self.dim or rows % vec.shape[0]:
                raise InputError(
                    f"cond.vector: expected (Bc, {self.dim}) with Bc dividing the {rows} rows; got {tuple(vec.shape)}"
                )
            v = v + expand_rows(vec.to(v.dtype), rows)
        return v

    def forward(
        self,
        x2d: Tensor,
        y_t: Tensor,
        t: Tensor,
        cond: Optional[Conditioning] = None,
        sites: Optional[Mapping[str, Any]] = None,
    ) -> Tensor:
        """Predict x0 from the 2D input and the noisy pose; see the class docstring for shapes."""
        self.check_inputs(x2d, y_t, t, frames=self.frames)
        n, frames, joints, _ = x2d.shape
        c = self.dim
        sites = sites if sites is not None else {}
        cond = cond if cond is not None else Conditioning()

        v = self.conditioning_vector(t, cond, n)                              # (N, C)
        x = self.embed(torch.cat((x2d, y_t.to(x2d.dtype)), dim=-1))           # (N, T, J, C)
        # Official: Lin([X, Y_t]) + E_sp, then + v (= F(t) + P[L]) on every token (§2.2 steps 2-3).
        x = (x + self.spatial_pos) + v[:, None, None, :].to(x.dtype)
        # bf16 inference copy (PoseLifter, precision "bf16"): input stage and head stay fp32, the
        # blocks run in the dtype of their weights; both casts are no-ops for a uniform-dtype model.
        x = x.reshape(n * frames, joints, c)                                  # ((N·T), J, C)
        if self.stream_dtype is not None:
            x = x.to(self.stream_dtype)

        for i in range(self.depth):
            # spatial block over the J joints of every frame
            x = self.spatial_blocks[i](x)
            # Spatial_norm applied to the transposed view: the norm writes the ((N·J), T, C)
            # layout directly, so the rearrange costs no extra pass.
            x = self.spatial_norm(x.view(n, frames, joints, c).transpose(1, 2)).reshape(n * joints, frames, c)
            name = f"spatial.{i}"
            if name in sites:
                x = sites[name](x, cond, v)
            if i == 0:
                # Official: Temporal_pos_embed is added once, before temporal block 0 (§2.2 step 7).
                x = x + self.temporal_pos
            # temporal block over the T frames of every joint
            x = self.temporal_blocks[i](x)
            name = f"temporal.{i}"
            last = i == self.depth - 1
            if name in sites:
                x = sites[name](self.temporal_norm(x), cond, v)
                if not last:
                    x = x.view(n, joints, frames, c).transpose(1, 2).reshape(n * frames, joints, c)
            elif not last:
                x = self.temporal_norm(x.view(n, joints, frames, c).transpose(1, 2)).reshape(n * frames, joints, c)
            else:
                x = self.temporal_norm(x)
        # x: ((N·J), T, C) after the last temporal norm; the head is per token.
        out = self.head(self.head_norm(x.to(self.head_norm.weight.dtype)))    # ((N·J), T, 3)
        return out.view(n, joints, frames, 3).transpose(1, 2).contiguous()    # (N, T, J, 3)
