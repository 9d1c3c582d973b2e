"""S-Prompt: one learnable modifier plus the action's tokens (FinePOSE Table 4; reference §9)."""
from __future__ import annotations

from typing import Literal

from ..errors import SpecError
from ..interfaces import TextEncoder
from ..registry import register
from .fpp import H36M_ACTIONS, TEXT_TOKENS, FPPConditioner

__all__ = ["SinglePromptConditioner"]


@register("conditioner", "single")
class SinglePromptConditioner(FPPConditioner):
    """S-Prompt: ``[r ; token_emb(action)[:4]]`` with one learnable modifier r of
    ``modifier_length`` tokens (73, so the prompt fills CLIP's 77 positions).

    The paper gives no length; 73 + 4 = 77 is the natural choice (reference §9). Everything else
    (tower, adapter, pooling, caching, labels) is :class:`~posediff.conditioners.fpp.FPPConditioner`'s.

    Args:
        text_encoder: Built text encoder.
        dim: Model width C (context key).
        modifier_length: Learnable tokens before the action's 4 tokens.
        pool: ``"action_eot"`` (as the main model), ``"last"`` or ``"fixed"``.
        pool_index: L for ``pool = "fixed"``.
        adapter_layers: Post-norm encoder layers after CLIP.
        adapter_heads: Their heads.
        adapter_ff: Their feed-forward width.
        train_modifiers: Let gradients reach the modifier through the frozen tower.
        cache: Compute prompt features once per distinct prompt.
        neutral_action: Action text of the neutral prompt (``None`` labels).
        actions: Accepted action names; ``[]`` = free text.

    Shape:
        output tokens: (B, 77, W); vector: (B, dim).
    """

    def __init__(
        self,
        text_encoder: TextEncoder,
        dim: int,
        modifier_length: int = 73,
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
        if modifier_length < 0:
            raise SpecError(f"modifier_length must be >= 0; got {modifier_length}", origin="conditioner 'single'")
        super().__init__(
            text_encoder=text_encoder, dim=dim, parts=["{action}"], lengths=[modifier_length + TEXT_TOKENS],
            pool=pool, pool_index=pool_index, adapter_layers=adapter_layers, adapter_heads=adapter_heads,
            adapter_ff=adapter_ff, train_modifiers=train_modifiers, cache=cache,
            neutral_action=neutral_action, actions=actions,
        )
        self.modifier_length = modifier_length
