"""Inference-only CPU fusions for a reduced-precision denoiser copy (posediff's fast sampling path).

oneDNN (PyTorch's ``mkldnn`` ops) runs a Linear on a *pre-packed* weight and fuses the bias, an
activation (exact GELU) or a residual add into the matmul's epilogue, so none of them costs an extra
pass over the activations. :func:`fuse_for_inference` swaps these kernels into a module tree in place:

* every pre-LN transformer :class:`~posediff.nn.attention.Block` becomes a :class:`FusedBlock`
  (qkv with bias, ``proj`` + residual, ``fc1`` + GELU, ``fc2`` + residual);
* every other ``nn.Linear`` whose weight is bf16 becomes a :class:`FusedLinear` (bias fused).

Same function as the unfused modules in eval mode (stochastic depth and dropout inactive), up to
rounding: a fused epilogue adds in fp32 and rounds once. Never used for training. Without oneDNN (other
devices, builds without mkldnn) :func:`fused_kernels_available` is ``False`` and nothing is swapped.
"""
from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from .attention import Block, merge_heads, split_heads, attention

__all__ = ["fused_kernels_available", "FusedLinear", "FusedBlock", "fuse_for_inference"]


@functools.lru_cache(maxsize=None)
def fused_kernels_available() -> bool:
    """True when oneDNN's packed Linear with fused epilogues works on this machine (CPU, bf16)."""
    try:
        if not torch.backends.mkldnn.is_available():
            return False
        ops = torch.ops.mkldnn
        w = torch.randn(8, 16).bfloat16()
        b = torch.randn(8).bfloat16()
        x = torch.randn(3, 5, 16).bfloat16()
        packed = ops._reorder_linear_weight(w, 15)
        y = ops._linear_pointwise(x, packed, b, "gelu", [], "none")
        z = ops._linear_pointwise.binary(x, y, packed, b, "add")
        ref = torch.nn.functional.gelu(torch.nn.functional.linear(x.float(), w.float(), b.float()))
        return y.shape == (3, 5, 8) and z.shape == (3, 5, 8) and bool((y.float() - ref).abs().max() < 0.1)
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return False


class FusedLinear(nn.Module):
    """``y = act(x·Wᵀ + b) [+ residual]`` on a pre-packed oneDNN weight (inference only).

    Args:
        linear: The Linear to take weight and bias from (its dtype is kept).
        activation: ``"none"`` or ``"gelu"`` (exact, erf-based GELU like ``nn.GELU()``).
        rows_hint: Typical number of input rows (only tunes the packed layout).

    Shape:
        x: (..., C_in) contiguous in the last dim; residual: (..., C_out); output (..., C_out).
    """

    def __init__(self, linear: nn.Linear, activation: str = "none", rows_hint: int = 4096) -> None:
        super().__init__()
        if activation not in ("none", "gelu"):
            raise ValueError(f"activation must be 'none' or 'gelu'; got {activation!r}")
        self.activation = activation
        self.in_features, self.out_features = linear.in_features, linear.out_features
        w = linear.weight.detach()
        bias = linear.bias.detach() if linear.bias is not None else torch.zeros(w.shape[0], dtype=w.dtype)
        # packed (opaque oneDNN layout) tensors are plain attributes: this module is never saved
        self.packed = torch.ops.mkldnn._reorder_linear_weight(w, int(rows_hint))
        self.bias = bias.clone()

    def forward(self, x: Tensor, residual: Tensor | None = None) -> Tensor:
        """Apply the Linear (with the fused activation), adding ``residual`` in the same kernel if given."""
        if residual is not None:
            if self.activation != "none":
                raise ValueError("a residual add cannot follow a fused activation")
            return torch.ops.mkldnn._linear_pointwise.binary(x, residual, self.packed, self.bias, "add")
        if self.activation == "gelu":
            return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "gelu", [], "none")
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, activation={self.activation!r}"


class FusedBlock(nn.Module):
    """Inference form of the pre-LN :class:`~posediff.nn.attention.Block` with fused epilogues.

    ``x ← proj(attn(LN1(x))) + x`` (residual in ``proj``'s kernel), ``x ← fc2(GELU(fc1(LN2(x)))) + x``
    (GELU in ``fc1``'s, residual in ``fc2``'s). Equals ``Block`` in eval mode.

    Shape:
        x: (B, L, C) → (B, L, C).
    """

    def __init__(self, block: Block, rows_hint: int = 4096) -> None:
        super().__init__()
        self.norm1 = block.norm1
        self.norm2 = block.norm2
        self.heads = block.attn.heads
        self.scale = block.attn.scale
        self.qkv = FusedLinear(block.attn.qkv, rows_hint=rows_hint)
        self.proj = FusedLinear(block.attn.proj, rows_hint=rows_hint)
        self.fc1 = FusedLinear(block.mlp.fc1, "gelu", rows_hint=rows_hint)
        self.fc2 = FusedLinear(block.mlp.fc2, rows_hint=rows_hint)

    def forward(self, x: Tensor) -> Tensor:
        """One block; see the class docstring."""
        x = x.contiguous()
        q, k, v = split_heads(self.qkv(self.norm1(x)), self.heads)
        x = self.proj(merge_heads(attention(q, k, v, scale=self.scale)), residual=x)
        return self.fc2(self.fc1(self.norm2(x)), residual=x)


def fuse_for_inference(module: nn.Module, rows_hint: int = 4096) -> int:
    """Swap fused kernels into ``module`` in place (see the module docstring); returns how many swaps.

    Only bf16 parts are touched (fp32 parts such as a kept-fp32 input stage and head stay as they are).
    Does nothing when :func:`fused_kernels_available` is ``False``. The module must be in eval mode and
    is inference-only afterwards.
    """
    if not fused_kernels_available():
        return 0
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, Block) and type(child.mlp.act) is nn.GELU and child.mlp.act.approximate == "none" \
                and child.attn.qkv.weight.dtype == torch.bfloat16 and child.attn.qkv.weight.device.type == "cpu":
            setattr(module, name, FusedBlock(child, rows_hint))
            count += 1
        elif type(child) is nn.Linear and child.weight.dtype == torch.bfloat16 and child.weight.device.type == "cpu":
            setattr(module, name, FusedLinear(child, rows_hint=rows_hint))
            count += 1
        else:
            count += fuse_for_inference(child, rows_hint)
    return count
