"""CLIP text encoder with weights from a local OpenAI-CLIP / open_clip checkpoint (never downloads)."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ..errors import CheckpointError, InputError, SpecError
from ..registry import register
from .clip_tower import TEXT_KEY_PREFIXES, TowerTextEncoder, bpe_tokenizer, require_open_clip, warn_once
from .state import copy_state

__all__ = ["OpenCLIPTextEncoder", "load_clip_state_dict"]

_RANDOM_SEED = 20240517  # fixed: the "random CLIP" stand-in is the same in every process


def load_clip_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Read a CLIP checkpoint (``.pt``/``.pth``/``.bin`` state dict, or ``.safetensors``) from disk.

    Accepts a plain state dict, ``{"state_dict": ...}`` (open_clip training checkpoints) and
    ``module.``-prefixed keys. Loading uses ``weights_only=True``.

    Raises:
        CheckpointError: missing file, TorchScript archive (OpenAI's original ``ViT-B-32.pt``), or
            not a state dict.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"weights: CLIP checkpoint not found: {str(path)!r}")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as exc:  # pragma: no cover
            raise CheckpointError("weights: reading .safetensors needs: pip install safetensors") from exc
        sd = load_file(str(path), device="cpu")
    else:
        try:
            sd = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise CheckpointError(
                f"weights: cannot read {path.name} as a state dict with weights_only=True "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). OpenAI's original "
                "ViT-B-32.pt is a TorchScript archive; convert it once with "
                "torch.save(torch.jit.load(path, map_location='cpu').state_dict(), 'clip_state.pt')"
            ) from exc
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise CheckpointError(f"weights: {path.name} holds a {type(sd).__name__}, expected a state dict")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()}


@register("text_encoder", "open_clip")
class OpenCLIPTextEncoder(TowerTextEncoder):
    """Frozen CLIP text tower (OpenAI CLIP / open_clip weights) with open_clip's BPE tokenizer.

    FinePOSE uses OpenAI CLIP ViT-B/32's text tower, frozen, without ``text_projection``
    (reference §3.3). The weights come from a local file; nothing is ever downloaded. With
    ``weights=""`` the tower gets a deterministic seeded random initialisation (CLIP's own scheme,
    fixed seed, independent of the global RNG) and a warning says it is not pretrained CLIP — the
    right choice when an official FinePOSE checkpoint (which contains the CLIP weights) is loaded
    afterwards.

    Args:
        model: open_clip model name; selects the tokenizer (the bundled CLIP BPE). The tower shape
            is given by ``layers``/``width``/``heads``, not by this name.
        weights: Path to a local checkpoint (state dict ``.pt``/``.pth``/``.bin``/``.safetensors``)
            whose text keys (``token_embedding.weight``, ``positional_embedding``,
            ``transformer.resblocks.*``, ``ln_final.*``) fill the tower; ``""`` = random init.
        layers: Transformer blocks (12 for ViT-B/32).
        width: Width W (512 for ViT-B/32).
        heads: Attention heads (8 for ViT-B/32).
        frozen: No gradients to the tower's weights, always in eval mode (official).

    Shape:
        tokenize: N strings → (N, 77) long; embed: (N, 77) → (N, 77, W); encode: (N, 77, W) → (N, 77, W).
    """

    def __init__(
        self,
        model: str = "ViT-B-32",
        weights: str = "",
        layers: int = 12,
        width: int = 512,
        heads: int = 8,
        frozen: bool = True,
    ) -> None:
        super().__init__()
        require_open_clip()
        try:
            bpe_tokenizer(model)  # validates the name now (cached; imports open_clip lazily)
        except InputError as exc:
            raise SpecError(str(exc), origin="text_encoder 'open_clip'") from exc
        problems = self.check_params(dict(width=width, layers=layers, heads=heads))
        if problems:
            raise SpecError("; ".join(problems), origin="text_encoder 'open_clip'")
        self.model = model
        self.weights = weights
        self.layers = layers
        self.width = width
        self.heads = heads
        self.frozen = frozen
        self.tokenizer_model = model
        with torch.random.fork_rng(devices=[]):  # building the modules must not touch the global RNG
            self._setup_tower(width, layers, heads, frozen)
        if weights:
            self.load_weights(weights)
        else:
            gen = torch.Generator().manual_seed(_RANDOM_SEED)
            self.tower.init_weights(gen)
            warn_once(
                "open_clip-random",
                "text_encoder 'open_clip' has weights=\"\": the CLIP text tower is randomly initialised "
                "(seeded), NOT pretrained CLIP. Set weights to a local CLIP checkpoint, or load an "
                "official FinePOSE checkpoint (posediff.convert.from_official), for real text features.",
            )

    def load_weights(self, source: str | Path | dict) -> None:
        """Copy the text-tower tensors of a CLIP checkpoint (path or state dict) into the tower.

        Raises:
            CheckpointError: text keys missing, extra transformer layers, or shape mismatches.
        """
        sd = load_clip_state_dict(source) if not isinstance(source, dict) else dict(source)
        text = {k: v for k, v in sd.items() if k.startswith(TEXT_KEY_PREFIXES)}
        own = self.tower.state_dict()
        missing = sorted(k for k in own if k not in text)
        unexpected = sorted(k for k in text if k not in own)
        where = source if not isinstance(source, dict) else "state dict"
        if missing:
            shown = ", ".join(missing[:8]) + (f", … ({len(missing)} in all)" if len(missing) > 8 else "")
            raise CheckpointError(f"weights: {where} lacks CLIP text keys: {shown}")
        if unexpected:
            shown = ", ".join(unexpected[:8]) + (f", … ({len(unexpected)} in all)" if len(unexpected) > 8 else "")
            raise CheckpointError(
                f"weights: {where} has text keys this {self.layers}-layer tower does not have: {shown} "
                "(set layers/width/heads to the checkpoint's architecture)"
            )
        copy_state(self.tower, text, "checkpoint vs encoder")
