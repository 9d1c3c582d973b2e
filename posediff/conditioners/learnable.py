"""AL-Prompt: all prompt positions learnable, no text (FinePOSE Table 4; reference §9)."""
from __future__ import annotations

from typing import Any, Literal, Mapping, Optional

from torch import nn

from ..errors import SpecError
from ..interfaces import TextEncoder
from ..registry import register
from .fpp import FPPConditioner, PromptConditioner

__all__ = ["LearnablePromptConditioner"]


@register("conditioner", "learnable")
class LearnablePromptConditioner(FPPConditioner):
    """AL-Prompt: ``length`` learnable vectors (77: the whole CLIP context), no text at all.

    The prompt is the same for every clip (action labels are ignored). Under the official
    ``no_grad`` behaviour (``train_modifiers = false``) these are 77 *fixed random* vectors, so any
    gain comes from the trainable adapter / fusion capacity, not from language (reference §9).

    Args:
        text_encoder: Built text encoder (only its tower is used).
        dim: Model width C (context key).
        length: Learnable prompt tokens (at most 77; the rest is token-id-0 padding).
        pool: ``"fixed"`` (L = ``pool_index``) or ``"last"`` (L = ``length − 1``).
        pool_index: L for ``pool = "fixed"``.
        adapter_layers: Post-norm encoder layers after CLIP.
        adapter_heads: Their heads.
        adapter_ff: Their feed-forward width.
        train_modifiers: Let gradients reach the learnable tokens through the frozen tower.
        cache: Compute prompt features once (see :class:`~posediff.conditioners.fpp.PromptConditioner`).

    Shape:
        output tokens: (B, 77, W); vector: (B, dim).
    """

    def __init__(
        self,
        text_encoder: TextEncoder,
        dim: int,
        length: int = 77,
        pool: Literal["last", "fixed"] = "fixed",
        pool_index: int = 76,
        adapter_layers: int = 4,
        adapter_heads: int = 8,
        adapter_ff: int = 2048,
        train_modifiers: bool = True,
        cache: bool = True,
    ) -> None:
        PromptConditioner.__init__(self)
        problems = self.check_params(dict(length=length, pool=pool, pool_index=pool_index))
        if problems:
            raise SpecError("; ".join(problems), origin="conditioner 'learnable'")
        self.text_encoder = text_encoder
        self.dim = dim
        self.length = length
        self.pool = pool
        self.pool_index = pool_index
        self.adapter_layers = adapter_layers
        self.adapter_heads = adapter_heads
        self.adapter_ff = adapter_ff
        self.train_modifiers = train_modifiers
        self.cache = cache
        self.neutral_action = ""
        self._setup_prompt([(None, length, 0)], text_encoder, dim, pool, pool_index, adapter_layers,
                           adapter_heads, adapter_ff, train_modifiers, [])

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """Value checks that need no tensors; returns one message per problem."""
        out = PromptConditioner.adapter_problems(params)
        length = params.get("length", 77)
        if isinstance(length, int) and not 1 <= length <= 77:
            out.append(f"length must be in [1, 77]; got {length}")
        index = params.get("pool_index", 76)
        if isinstance(index, int) and not 0 <= index < 77:
            out.append(f"pool_index must be in [0, 77); got {index}")
        return out

    def prompt_key(self, label: Optional[str]) -> Any:
        return ""  # one prompt for every clip
