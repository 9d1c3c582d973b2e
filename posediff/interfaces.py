"""The contracts of the seven component kinds, and the :class:`Conditioning` record.

Shapes use one alphabet everywhere: B batch (clips), H hypotheses, M sampling steps, T frames,
J joints, C channels, L prompt tokens. A "row" batch N is B clips times K copies (hypotheses, and
the flipped copies when flip test-time augmentation is batched), ordered sample-major: row
``n`` belongs to clip ``n // K``.

Each base class carries ``__posediff_kind__``; the spec builder uses it to know the kind of a
nested component from a constructor annotation (e.g. ``schedule: NoiseSchedule``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "Conditioning",
    "Backbone",
    "Conditioner",
    "TextEncoder",
    "FusionBlock",
    "NoiseSchedule",
    "Sampler",
    "Aggregator",
    "DenoiseFn",
]


@dataclass
class Conditioning:
    """What a conditioner hands to the denoiser.

    Attributes:
        tokens: Prompt tokens ``(Bc, L, Ct)`` (FinePOSE's P_tokens), or ``None`` (no prompt).
        vector: Pooled prompt vector ``(Bc, C)`` (FinePOSE's P[L]), added to the timestep
            embedding, or ``None``.

    ``Bc`` is the number of clips; the denoiser's row batch ``N`` is a multiple of it and row
    ``n`` uses conditioning row ``n // (N // Bc)``. Broadcasting is done by the consumer (with
    ``expand``, never a copy), so a cached conditioning serves any number of hypotheses.
    """

    tokens: Optional[Tensor] = None
    vector: Optional[Tensor] = None

    @property
    def batch(self) -> Optional[int]:
        """Number of clips ``Bc`` (``None`` when the conditioning is empty)."""
        for t in (self.tokens, self.vector):
            if t is not None:
                return t.shape[0]
        return None

    def index(self, idx: Tensor | Sequence[int]) -> "Conditioning":
        """Rows ``idx`` of both tensors (used to gather per-clip prompts from a cache)."""
        idx_t = torch.as_tensor(idx, dtype=torch.long)
        return Conditioning(
            None if self.tokens is None else self.tokens.index_select(0, idx_t.to(self.tokens.device)),
            None if self.vector is None else self.vector.index_select(0, idx_t.to(self.vector.device)),
        )

    def to(self, *args, **kwargs) -> "Conditioning":
        """Move/cast both tensors like :meth:`torch.Tensor.to`."""
        return Conditioning(
            None if self.tokens is None else self.tokens.to(*args, **kwargs),
            None if self.vector is None else self.vector.to(*args, **kwargs),
        )


def expand_rows(x: Tensor, rows: int) -> Tensor:
    """Broadcast a per-clip tensor ``(Bc, ...)`` to ``(rows, ...)`` sample-major, without copying
    when possible (``rows`` must be a multiple of ``Bc``)."""
    bc = x.shape[0]
    if rows == bc:
        return x
    if rows % bc:
        raise ValueError(f"row batch {rows} is not a multiple of the conditioning batch {bc}")
    k = rows // bc
    return x.unsqueeze(1).expand(bc, k, *x.shape[1:]).reshape(rows, *x.shape[1:])


class Backbone(nn.Module):
    """Denoiser trunk: ``forward(x2d, y_t, t, cond, sites) -> x0``.

    Shapes: x2d ``(N, T, J, 2)`` normalised screen coordinates; y_t ``(N, T, J, 3)`` noisy
    root-relative pose (metres × scale); t ``(N,)`` integer steps; output ``(N, T, J, 3)``.
    ``sites`` maps a hook point name (one of ``hook_points``) to a callable
    ``site(x, cond, v) -> x`` on tokens ``(N·J, T, C)``; ``v`` is the conditioning vector
    ``F(t) + P[L]`` of shape ``(N, C)``.
    """

    __posediff_kind__ = "backbone"
    hook_points: tuple[str, ...] = ()


class TextEncoder(nn.Module):
    """Tokenizer plus frozen text tower.

    ``tokenize(texts) -> (N, 77) long``; ``embed(ids) -> (N, 77, W)`` input token embeddings;
    ``encode(emb) -> (N, 77, W)`` per-token hidden states (positional embedding, transformer with
    causal mask, final LayerNorm; no projection). Attribute ``width`` = W, ``context_length`` = 77.
    """

    __posediff_kind__ = "text_encoder"
    width: int = 512
    context_length: int = 77


class Conditioner(nn.Module):
    """Turns action labels into a :class:`Conditioning`.

    ``forward(actions, batch) -> Conditioning``: ``actions`` is a sequence of ``batch`` labels
    (``None`` entries mean "unknown action": a neutral prompt) or ``None`` for all unknown.
    Attribute ``token_dim`` (width of ``tokens``; 0 when the conditioner makes no tokens) and
    ``vector_dim`` (0 when no vector).
    """

    __posediff_kind__ = "conditioner"
    token_dim: int = 0


class FusionBlock(nn.Module):
    """One block applied at a backbone hook point: ``forward(x, cond, v) -> x``.

    x ``(N·J, T, C)`` pose tokens (rows ordered (sample, joint)); ``cond`` the
    :class:`Conditioning` of ``Bc`` clips; v ``(N, C)``. Blocks at one site are chained and the
    site adds one residual around the chain.
    """

    __posediff_kind__ = "fusion"


class NoiseSchedule(nn.Module):
    """Noise schedule: ``alphas_cumprod()`` → ``(timesteps,)`` float64 ᾱ_t; attribute ``timesteps``."""

    __posediff_kind__ = "schedule"
    timesteps: int = 1000


DenoiseFn = Callable[[Tensor, Tensor, Tensor], Tensor]
"""``denoise(x2d (B,K,T,J,2), y_t (B,K,T,J,3), t (B,K) long) -> x0 (B,K,T,J,3)``; the lifter
binds the conditioning of the B clips and broadcasts it over the K copies."""


class Sampler(nn.Module):
    """Reverse process: ``sample(denoise, x2d, *, flip_permutation, hypotheses, steps, generator, draws)``.

    Returns the x̂0 of every step, ``(B, M, H, T, J, 3)``.
    """

    __posediff_kind__ = "sampler"


class Aggregator(nn.Module):
    """Hypotheses → one pose: ``forward(hyps, *, x2d, camera=None, root=None, target=None)``.

    hyps ``(B, H, T, J, 3)`` root-relative metres; x2d ``(B, T, J, 2)``; camera ``(B, 9)`` or
    ``(9,)`` intrinsics in the 2D's units; root ``(B, T, 1, 3)`` camera-space metres; target
    ``(B, T, J, 3)`` ground truth (oracles only). Output ``(B, T, J, 3)``.
    Attribute ``needs``: subset of {"camera", "root", "target"} the aggregator requires.
    """

    __posediff_kind__ = "aggregator"
    needs: frozenset = frozenset()
