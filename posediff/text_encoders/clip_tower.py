"""Our own CLIP text transformer: the module that OpenAI CLIP / open_clip text weights load into.

Parameter names follow OpenAI CLIP (``token_embedding``, ``positional_embedding``,
``transformer.resblocks.{i}.{ln_1, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj, ln_2,
mlp.c_fc, mlp.c_proj}``, ``ln_final``), so a CLIP state dict's text keys map one to one. No
``text_projection``: FinePOSE uses the per-token hidden states (reference §3.3).
"""
from __future__ import annotations

import functools
import importlib.util
import math
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import torch
from torch import Tensor, nn

from ..errors import InputError
from ..interfaces import TextEncoder
from ..nn import PackedSelfAttention, QuickGELU
from ..validation import below_minimum

__all__ = [
    "CLIPTextTower",
    "TEXT_KEY_PREFIXES",
    "TowerTextEncoder",
    "require_open_clip",
    "bpe_tokenizer",
    "expect_external_weights",
]

TEXT_KEY_PREFIXES = ("token_embedding.", "positional_embedding", "transformer.", "ln_final.")
"""Prefixes of the state-dict keys of a CLIP checkpoint that belong to the text tower."""


class _CLIPMlp(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width)
        self.gelu = QuickGELU()  # Official: OpenAI CLIP uses QuickGELU, not GELU (reference §3.3)
        self.c_proj = nn.Linear(4 * width, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.c_proj(self.gelu(self.c_fc(x)))


class _ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, eps=1e-5)
        self.attn = PackedSelfAttention(width, heads, causal=True)
        self.ln_2 = nn.LayerNorm(width, eps=1e-5)
        self.mlp = _CLIPMlp(width)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class _Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int) -> None:
        super().__init__()
        self.resblocks = nn.ModuleList(_ResidualAttentionBlock(width, heads) for _ in range(layers))

    def forward(self, x: Tensor) -> Tensor:
        for block in self.resblocks:
            x = block(x)
        return x


class CLIPTextTower(nn.Module):
    """CLIP text transformer: token embedding, positional embedding, pre-LN causal blocks with
    QuickGELU MLPs (4·W), final LayerNorm. All LayerNorms use eps 1e-5.

    Args:
        width: Width W (512 for ViT-B/32).
        layers: Number of residual blocks (12 for ViT-B/32).
        heads: Attention heads (8 for ViT-B/32).
        vocab_size: BPE vocabulary size (49408).
        context_length: Token positions (77).

    Shape:
        ids (..., L) → :meth:`embed` → (..., L, W); (N, 77, W) → :meth:`encode` → (N, 77, W).
    """

    def __init__(self, width: int = 512, layers: int = 12, heads: int = 8, vocab_size: int = 49408,
                 context_length: int = 77) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"text width {width} is not divisible by heads {heads}")
        self.width = width
        self.layers = layers
        self.heads = heads
        self.vocab_size = vocab_size
        self.context_length = context_length
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, width))
        self.transformer = _Transformer(width, layers, heads)
        self.ln_final = nn.LayerNorm(width, eps=1e-5)

    @torch.no_grad()
    def init_weights(self, generator: torch.Generator) -> None:
        """CLIP's own initialisation (``CLIP.initialize_parameters``) drawn from ``generator`` only,
        so the result is independent of (and does not advance) the global RNG."""
        w, n = self.width, self.layers
        attn_std = w ** -0.5
        proj_std = attn_std * (2 * max(n, 1)) ** -0.5
        fc_std = (2 * w) ** -0.5
        nn.init.normal_(self.token_embedding.weight, std=0.02, generator=generator)
        nn.init.normal_(self.positional_embedding, std=0.01, generator=generator)
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=attn_std, generator=generator)
            nn.init.zeros_(block.attn.in_proj_bias)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std, generator=generator)
            nn.init.zeros_(block.attn.out_proj.bias)
            nn.init.normal_(block.mlp.c_fc.weight, std=fc_std, generator=generator)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std, generator=generator)
            # Linear biases: CLIP leaves PyTorch's default uniform init; draw them from the generator
            for lin in (block.mlp.c_fc, block.mlp.c_proj):
                bound = 1.0 / math.sqrt(lin.weight.shape[1])
                nn.init.uniform_(lin.bias, -bound, bound, generator=generator)
            for ln in (block.ln_1, block.ln_2):
                nn.init.ones_(ln.weight)
                nn.init.zeros_(ln.bias)
        nn.init.ones_(self.ln_final.weight)
        nn.init.zeros_(self.ln_final.bias)

    def embed(self, ids: Tensor) -> Tensor:
        """Input token embeddings of ``ids`` (any shape ``(..., L)``) → ``(..., L, W)``."""
        return self.token_embedding(ids.to(self.token_embedding.weight.device))

    def encode(self, emb: Tensor) -> Tensor:
        """Per-token hidden states: ``ln_final(transformer(emb + positional_embedding))`` with the
        causal mask; ``(N, 77, W)`` → ``(N, 77, W)``."""
        x = emb + self.positional_embedding.to(emb.dtype)
        return self.ln_final(self.transformer(x))


# ----------------------------------------------------------------------------------------------
# shared encoder machinery (tokenizer, freezing, one-time warnings)
# ----------------------------------------------------------------------------------------------
_OPEN_CLIP_HINT = (
    "the CLIP BPE tokenizer comes from open_clip, which is not installed: "
    "pip install open_clip_torch (no model download is needed; the vocabulary ships with the package)"
)
_warned: set[str] = set()
_state = threading.local()


def require_open_clip() -> None:
    """Fail early, with an install hint, when open_clip is missing."""
    if importlib.util.find_spec("open_clip") is None:
        raise ImportError(_OPEN_CLIP_HINT)


_PLAIN_BPE_MODELS = frozenset({"ViT-B-32"})
"""open_clip architectures whose tokenizer is the plain bundled CLIP BPE (``SimpleTokenizer()``, 77 tokens)."""


def _plain_bpe_tokenizer() -> Any:
    """open_clip's ``SimpleTokenizer`` loaded from its own file without importing the whole open_clip package
    (whose import pulls in timm and torchvision: most of the time of a first ``posediff lift``). The module
    imports only the standard library, ftfy, regex, numpy and torch; None when it cannot be loaded so (then
    the package is imported as usual)."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "tokenizer.py"
    if not path.is_file():
        return None
    try:
        mod_spec = importlib.util.spec_from_file_location("posediff._open_clip_tokenizer", path)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
        return module.SimpleTokenizer(context_length=77)
    except Exception:  # a future open_clip whose tokenizer module needs its package: import it as usual
        return None


@functools.lru_cache(maxsize=None)
def bpe_tokenizer(model: str = "ViT-B-32"):
    """open_clip's offline BPE tokenizer for ``model`` (cached per process).

    Only models whose config uses the bundled CLIP BPE vocabulary are accepted; tokenizers that
    would be fetched from a model hub are refused (posediff never downloads). For ``ViT-B-32`` (the
    tokenizer of every built-in encoder) the tokenizer module is loaded on its own, without the rest of
    open_clip (the same ids: ``tests/text_encoders``).
    """
    if model in _PLAIN_BPE_MODELS:
        plain = _plain_bpe_tokenizer()
        if plain is not None:
            return plain
    try:
        import open_clip
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(_OPEN_CLIP_HINT) from exc
    cfg = open_clip.get_model_config(model) if ":" not in model else None
    if cfg is None:
        raise InputError(
            f"model: {model!r} is not a built-in open_clip architecture; expected a name such as 'ViT-B-32' "
            "(hub and local-dir names are refused: posediff never downloads)"
        )
    if cfg.get("text_cfg", {}).get("hf_tokenizer_name"):
        raise InputError(
            f"model: {model!r} uses a Hugging Face tokenizer that would be downloaded; "
            "expected an open_clip model with the bundled CLIP BPE tokenizer (e.g. 'ViT-B-32')"
        )
    return open_clip.get_tokenizer(model)


@contextmanager
def expect_external_weights() -> Iterator[None]:
    """Within this block, encoders built with random weights do not warn: the caller (e.g. the
    official-checkpoint converter) loads real weights right after construction."""
    old = getattr(_state, "quiet", False)
    _state.quiet = True
    try:
        yield
    finally:
        _state.quiet = old


def warn_once(key: str, message: str) -> None:
    """``warnings.warn(message)`` at most once per process and ``key``."""
    if getattr(_state, "quiet", False) or key in _warned:
        return
    _warned.add(key)
    warnings.warn(message, UserWarning, stacklevel=3)


class TowerTextEncoder(TextEncoder):
    """Base of the built-in text encoders: CLIP BPE tokenizer + :class:`CLIPTextTower`.

    A frozen encoder has ``requires_grad=False`` everywhere and stays in eval mode even when the
    lifter is put in training mode; gradients still flow *through* it to its inputs (learnable
    prompt modifiers).
    """

    tokenizer_model: str = "ViT-B-32"

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """Tower size checks that need no tensors (``width >= 1``, ``layers >= 0``, ``heads >= 1`` dividing
        ``width``); returns one message per problem."""
        out = below_minimum(params, {"width": 1, "layers": 0, "heads": 1})
        width, heads = params.get("width"), params.get("heads")
        if not out and isinstance(width, int) and isinstance(heads, int) and width % heads:
            out.append(f"width {width} must be divisible by heads {heads}")
        return out

    def _setup_tower(self, width: int, layers: int, heads: int, frozen: bool) -> None:
        self.tower = CLIPTextTower(width=width, layers=layers, heads=heads)
        self.context_length = self.tower.context_length
        self._frozen = frozen
        if frozen:
            self.tower.requires_grad_(False)
        self.train(False)

    def train(self, mode: bool = True) -> "TowerTextEncoder":
        """Switch mode; a frozen tower stays in eval mode whatever ``mode`` is."""
        return super().train(False if getattr(self, "_frozen", False) else mode)

    def tokenize(self, texts: Sequence[str]) -> Tensor:
        """CLIP BPE ids ``(N, 77)`` long: [SOT, tokens…, EOT, 0 …], truncated to 77 (CPU).

        Args:
            texts: N strings (lower-cased by the tokenizer).
        """
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InputError(f"texts: expected a list of strings; got {type(texts).__name__}")
        if len(texts) == 0:
            return torch.zeros(0, self.context_length, dtype=torch.long)
        ids = bpe_tokenizer(self.tokenizer_model)(list(texts), context_length=self.context_length)
        return ids.to(torch.long)

    def embed(self, ids: Tensor) -> Tensor:
        """Input token embeddings ``(..., L)`` → ``(..., L, W)``."""
        return self.tower.embed(ids)

    def encode(self, emb: Tensor) -> Tensor:
        """Per-token hidden states ``(N, 77, W)`` → ``(N, 77, W)`` (positional embedding, causal
        transformer, ``ln_final``; no projection)."""
        if emb.ndim != 3 or emb.shape[1] != self.context_length or emb.shape[2] != self.width:
            raise InputError(
                f"emb: expected (N, {self.context_length}, {self.width}); got {tuple(emb.shape)}"
            )
        return self.tower.encode(emb)
