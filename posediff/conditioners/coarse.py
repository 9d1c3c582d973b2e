"""C-Prompt: the coarse blocks person + action + speed only (FinePOSE Table 4; reference §9)."""
from __future__ import annotations

from typing import Literal

from ..interfaces import TextEncoder
from ..registry import register
from .fpp import H36M_ACTIONS, FPPConditioner

__all__ = ["CoarsePromptConditioner"]


@register("conditioner", "coarse")
class CoarsePromptConditioner(FPPConditioner):
    """C-Prompt: ``[r_person ; "A person"] [r_action ; action] [r_speed ; "speed"]`` with the FPP
    lengths 7, 12 and 10; the remaining 48 positions hold the embedding of token id 0 (CLIP's
    padding). The paper gives no lengths; this keeps the FPP block sizes (reference §9).

    Same arguments and behaviour as :class:`~posediff.conditioners.fpp.FPPConditioner`; only the
    defaults of ``parts`` and ``lengths`` differ.

    Shape:
        output tokens: (B, 77, W); vector: (B, dim).
    """

    def __init__(
        self,
        text_encoder: TextEncoder,
        dim: int,
        parts: list[str] = ["A person", "{action}", "speed"],  # noqa: B006
        lengths: list[int] = [7, 12, 10],  # noqa: B006
        pool: Literal["action_eot", "last", "fixed"] = "action_eot",
        pool_index: int = 76,
        adapter_layers: int = 4,
        adapter_heads: int = 8,
        adapter_ff: int = 2048,
        train_modifiers: bool = True,
        cache: bool = True,
        neutral_action: str = "",
        actions: list[str] = H36M_ACTIONS,  # noqa: B006
    ) -> None:
        super().__init__(
            text_encoder=text_encoder, dim=dim, parts=parts, lengths=lengths, pool=pool, pool_index=pool_index,
            adapter_layers=adapter_layers, adapter_heads=adapter_heads, adapter_ff=adapter_ff,
            train_modifiers=train_modifiers, cache=cache, neutral_action=neutral_action, actions=actions,
        )
