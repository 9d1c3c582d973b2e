"""A small, seeded, randomly initialised CLIP-shaped text encoder for tests, demos and CPU runs."""
from __future__ import annotations

import torch

from ..errors import SpecError
from ..registry import register
from .clip_tower import TowerTextEncoder, require_open_clip, warn_once

__all__ = ["OfflineTextEncoder"]


@register("text_encoder", "offline")
class OfflineTextEncoder(TowerTextEncoder):
    """Small CLIP-shaped text tower with a seeded random initialisation — **not CLIP**.

    Same tokenizer (CLIP BPE, 49408 ids, 77 positions) and the same architecture as
    ``open_clip`` (causal pre-LN blocks, QuickGELU, ``ln_final``), but narrow and shallow and never
    pretrained; always frozen. The weights depend only on ``seed``, not on the global RNG. Use it
    for tests, demos and CPU experiments where language semantics do not matter.

    Args:
        width: Width W.
        layers: Transformer blocks.
        heads: Attention heads.
        seed: Seed of the initialisation.

    Shape:
        tokenize: N strings → (N, 77) long; embed: (N, 77) → (N, 77, W); encode: (N, 77, W) → (N, 77, W).

    Example:
        >>> enc = OfflineTextEncoder(width=32, layers=1, heads=2)
        >>> ids = enc.tokenize(["A person"])
        >>> ids[0, :5].tolist()
        [49406, 320, 2533, 49407, 0]
        >>> tuple(enc.encode(enc.embed(ids)).shape)
        (1, 77, 32)
    """

    def __init__(self, width: int = 128, layers: int = 2, heads: int = 4, seed: int = 0) -> None:
        super().__init__()
        require_open_clip()
        problems = self.check_params(dict(width=width, layers=layers, heads=heads))
        if problems:
            raise SpecError("; ".join(problems), origin="text_encoder 'offline'")
        self.width = width
        self.layers = layers
        self.heads = heads
        self.seed = seed
        with torch.random.fork_rng(devices=[]):
            self._setup_tower(width, layers, heads, frozen=True)
        self.tower.init_weights(torch.Generator().manual_seed(seed))
        warn_once(
            "offline-random",
            "text_encoder 'offline' is a small seeded random tower, NOT CLIP: prompts carry no pretrained "
            "language (a model trained with it learns to use it as it is; docs/training.md).",
        )
