"""A small temporal-convolution denoiser: dilated depthwise convolutions over frames, joint mixing."""
from __future__ import annotations

from typing import Any, Mapping, Optional

import torch
from torch import Tensor, nn

from posediff.interfaces import Backbone, Conditioning, expand_rows
from posediff.nn.embeddings import TimestepEmbedding

__all__ = ["TCNBackbone", "TCNBlock"]


class TCNBlock(nn.Module):
    """One block on tokens ``(N, J, T, C)``: temporal conv, joint mixing, channel MLP (each residual).

    1. LayerNorm → depthwise ``Conv1d`` over T (kernel k, dilation d, zero "same" padding) → GELU →
       Linear(C→C), added to the input;
    2. LayerNorm → Linear over the J joints (J→J, initialised to the identity), added;
    3. LayerNorm → Linear(C→r·C) → GELU → Linear(r·C→C), added.

    Args:
        dim: Width C.
        joints: Joint count J.
        kernel: Odd temporal kernel size k.
        dilation: Temporal dilation d.
        mlp_ratio: Hidden width of the channel MLP over C.
        dropout: Dropout after each residual branch (training only).
    """

    def __init__(self, dim: int, joints: int, kernel: int, dilation: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm_t = nn.LayerNorm(dim)
        self.conv = nn.Conv1d(dim, dim, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation, groups=dim)
        self.proj_t = nn.Linear(dim, dim)
        self.norm_j = nn.LayerNorm(dim)
        self.mix_j = nn.Linear(joints, joints)
        with torch.no_grad():
            self.mix_j.weight.copy_(torch.eye(joints))
            self.mix_j.bias.zero_()
        self.norm_c = nn.LayerNorm(dim)
        hidden = max(1, int(round(dim * mlp_ratio)))
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, J, T, C) -> (N, J, T, C)``."""
        n, j, t, c = x.shape
        h = self.norm_t(x).reshape(n * j, t, c).transpose(1, 2)             # ((N·J), C, T)
        h = self.conv(h).transpose(1, 2).reshape(n, j, t, c)
        x = x + self.drop(self.proj_t(nn.functional.gelu(h)))
        h = self.mix_j(self.norm_j(x).transpose(1, 3)).transpose(1, 3)     # mix over J
        x = x + self.drop(h)
        return x + self.drop(self.mlp(self.norm_c(x)))


class TCNBackbone(Backbone):
    """Temporal-convolution denoiser with ``block.i`` hook points; a light alternative to ``mixste``.

    Input Linear over ``[u, v, x, y, z]`` plus a learned per-joint embedding plus the conditioning
    vector ``v = F(t) + cond.vector`` (``F(t)`` alone when the conditioning has no vector), as in
    MixSTE. Then ``depth`` :class:`TCNBlock` s with dilations ``growth**i`` (receptive field
    ``1 + (k − 1)·Σ growth**i`` frames), and a LayerNorm + Linear(C→3) head predicting x0.
    After block i the tokens are handed to the fusion site at hook point ``"block.i"`` in the
    contract layout ``(N·J, T, C)``, rows ordered (sample, joint). Any frame count T works (the
    ``frames`` context is only recorded). Uses no attention: cost is linear in T.

    Args:
        dim: Width C (context key).
        frames: Receptive field T of the lifter (context key; recorded, any T is accepted).
        joints: Joint count J (context key).
        depth: Number of blocks.
        kernel: Odd temporal kernel size.
        growth: Dilation growth factor per block (1 = no dilation).
        mlp_ratio: Channel-MLP hidden width over C.
        dropout: Dropout rate in training.
        in_channels: 2D (2) plus noisy 3D (3) channels.

    Shape:
        x2d ``(N, T, J, 2)``; y_t ``(N, T, J, 3)``; t ``(N,)`` long; output x0 ``(N, T, J, 3)``.

    Example:
        >>> net = TCNBackbone(dim=32, frames=9, joints=17, depth=2).eval()
        >>> net(torch.zeros(2, 9, 17, 2), torch.zeros(2, 9, 17, 3), torch.tensor([5, 7]), Conditioning(), {}).shape
        torch.Size([2, 9, 17, 3])
    """

    spec_example = {"depth": 2}
    """Small arguments for :func:`posediff.testing.check_component`."""

    def __init__(self, dim: int, frames: int, joints: int, depth: int = 4, kernel: int = 3, growth: int = 2,
                 mlp_ratio: float = 2.0, dropout: float = 0.0, in_channels: int = 5) -> None:
        super().__init__()
        self.store_config(locals())  # check_params, then every argument stored under its name
        self.hook_points = self.hook_points_for({"depth": depth})
        self.embed = nn.Linear(in_channels, dim)
        self.joint_embed = nn.Parameter(torch.zeros(joints, dim))
        nn.init.trunc_normal_(self.joint_embed, std=0.02)
        self.time_embed = TimestepEmbedding(dim, 2 * dim)
        self.blocks = nn.ModuleList(
            TCNBlock(dim, joints, kernel, growth**i, mlp_ratio, dropout) for i in range(depth)
        )
        self.head_norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 3)

    @staticmethod
    def hook_points_for(params: Mapping[str, Any]) -> tuple[str, ...]:
        """Hook point names ``("block.0", …, "block.{depth−1}")`` for a parameter table."""
        return tuple(f"block.{i}" for i in range(int(params.get("depth", 4))))

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """Value checks that need no tensors (used by spec validation); one message per problem."""
        out = []
        dim = params.get("dim", 2)
        if isinstance(dim, int) and (dim < 4 or dim % 2):
            out.append(f"dim must be even and >= 4 (sinusoidal timestep embedding); got {dim}")
        for key in ("depth", "frames", "joints", "in_channels", "growth"):
            value = params.get(key, 1)
            if isinstance(value, int) and value < 1:
                out.append(f"{key} must be >= 1; got {value}")
        kernel = params.get("kernel", 3)
        if isinstance(kernel, int) and (kernel < 1 or kernel % 2 == 0):
            out.append(f"kernel must be odd and >= 1; got {kernel}")
        ratio = params.get("mlp_ratio", 2.0)
        if isinstance(ratio, (int, float)) and ratio <= 0:
            out.append(f"mlp_ratio must be > 0; got {ratio}")
        rate = params.get("dropout", 0.0)
        if isinstance(rate, (int, float)) and not 0.0 <= rate < 1.0:
            out.append(f"dropout must be in [0, 1); got {rate}")
        return out

    def receptive_field(self) -> int:
        """Frames seen by one output frame: ``1 + (kernel − 1)·Σ_i growth**i``."""
        return 1 + (self.kernel - 1) * sum(self.growth**i for i in range(self.depth))

    def forward(self, x2d: Tensor, y_t: Tensor, t: Tensor, cond: Optional[Conditioning] = None,
                sites: Optional[Mapping[str, Any]] = None) -> Tensor:
        """Predict x0 ``(N, T, J, 3)`` from x2d ``(N, T, J, 2)``, y_t ``(N, T, J, 3)`` and t ``(N,)`` (any T)."""
        self.check_inputs(x2d, y_t, t)
        n, frames, joints, _ = x2d.shape
        sites = sites if sites is not None else {}
        cond = cond if cond is not None else Conditioning()
        c = self.dim
        v = self.time_embed(t)
        if cond.vector is not None:
            v = v + expand_rows(cond.vector.to(v.dtype), n)
        x = self.embed(torch.cat((x2d, y_t.to(x2d.dtype)), dim=-1)) + self.joint_embed  # (N, T, J, C)
        x = (x + v[:, None, None, :].to(x.dtype)).transpose(1, 2)                       # (N, J, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x)
            name = f"block.{i}"
            if name in sites:
                x = sites[name](x.reshape(n * joints, frames, c), cond, v).reshape(n, joints, frames, c)
        out = self.head(self.head_norm(x))                                               # (N, J, T, 3)
        return out.transpose(1, 2).contiguous()

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, joints={self.joints}, depth={self.depth}, kernel={self.kernel}, "
                f"growth={self.growth}, receptive_field={self.receptive_field()}")
