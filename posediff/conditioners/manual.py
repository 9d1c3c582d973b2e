"""M-Prompt: one hand-written sentence per action (FinePOSE Table 4; reference §9)."""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import torch
from torch import Tensor

from ..errors import InputError, SpecError
from ..interfaces import TextEncoder
from ..registry import register
from .fpp import H36M_ACTIONS, PromptConditioner

__all__ = ["ManualConditioner", "H36M_SENTENCES"]

H36M_SENTENCES: list[str] = [
    "a person is pointing directions with hands",                       # Directions (the paper's example)
    "a person is talking and gesturing with both hands",                # Discussion
    "a person is sitting at a table and eating with hands",             # Eating
    "a person is waving a hand to greet someone",                       # Greeting
    "a person is talking on a phone held to the ear",                   # Phoning
    "a person is holding a camera up to take a photo",                  # Photo
    "a person is standing still and posing with arms and legs",         # Posing
    "a person is picking up items and carrying a bag",                  # Purchases
    "a person is sitting on a chair and moving the upper body",         # Sitting
    "a person is sitting down on the floor and getting up again",       # SittingDown
    "a person is smoking and lifting a hand to the mouth",              # Smoking
    "a person is standing and waiting while shifting weight",           # Waiting
    "a person is walking a dog on a leash",                             # WalkDog
    "a person is walking forward at a steady pace",                     # Walking
    "a person is walking side by side with another person",             # WalkTogether
]
"""One sentence per entry of :data:`~posediff.conditioners.fpp.H36M_ACTIONS`, in the same order."""


@register("conditioner", "manual")
class ManualConditioner(PromptConditioner):
    """M-Prompt: a hand-written sentence per action, encoded by the frozen CLIP tower.

    ``tokenize(sentence)`` (77 ids, zero-padded) → token embeddings → CLIP tower → adapter →
    LayerNorm = P; ``P[L]`` at the sentence's own EOT index (argmax of its ids), which is the
    correct EOT pooling here (reference §9). Nothing before the adapter is learnable.

    Labels are cut at the first space and matched case-insensitively against ``actions``;
    unknown labels raise :class:`~posediff.errors.InputError`; ``None`` labels use
    ``neutral_sentence``.

    Args:
        text_encoder: Built text encoder; its width W is ``token_dim``.
        dim: Model width C (context key).
        sentences: One sentence per action, aligned with ``actions``.
        neutral_sentence: Sentence of the neutral prompt (``None`` labels).
        actions: Action names.
        adapter_layers: Post-norm encoder layers after CLIP.
        adapter_heads: Their heads.
        adapter_ff: Their feed-forward width.
        cache: Compute prompt features once per distinct sentence.

    Shape:
        output tokens: (B, 77, W); vector: (B, dim).
    """

    def __init__(
        self,
        text_encoder: TextEncoder,
        dim: int,
        sentences: list[str] = H36M_SENTENCES,  # noqa: B006
        neutral_sentence: str = "a person is moving",
        actions: list[str] = H36M_ACTIONS,  # noqa: B006
        adapter_layers: int = 4,
        adapter_heads: int = 8,
        adapter_ff: int = 2048,
        cache: bool = True,
    ) -> None:
        super().__init__()
        problems = self.check_params(dict(sentences=sentences, actions=actions))
        if problems:
            raise SpecError("; ".join(problems), origin="conditioner 'manual'")
        self.text_encoder = text_encoder
        self.dim = dim
        self.sentences = sentences
        self.neutral_sentence = neutral_sentence
        self.actions = actions
        self.adapter_layers = adapter_layers
        self.adapter_heads = adapter_heads
        self.adapter_ff = adapter_ff
        self.cache = cache
        self._setup_head(text_encoder, dim, adapter_layers, adapter_heads, adapter_ff)
        self._sentence = dict(zip(actions, sentences))
        self._lookup = {a.lower(): a for a in actions}

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """Value checks that need no tensors; returns one message per problem."""
        out = PromptConditioner.adapter_problems(params)
        sentences, actions = params.get("sentences"), params.get("actions")
        if isinstance(sentences, list) and isinstance(actions, list) and len(sentences) != len(actions):
            out.append(f"sentences and actions must align one to one; got {len(sentences)} and {len(actions)}")
        return out

    def prompt_key(self, label: Optional[str]) -> Any:
        if label is None:
            return None
        if not isinstance(label, str):
            raise InputError(f"actions: expected strings or None; got {type(label).__name__}")
        name = self._lookup.get(label.strip().split(" ")[0].lower())
        if name is None:
            raise InputError(
                f"actions: unknown action {label!r}; expected one of {', '.join(self.actions)} "
                "(optionally followed by a take number), or None for the neutral prompt"
            )
        return name

    def sentence(self, key: Any) -> str:
        """The sentence of a prompt key."""
        return self.neutral_sentence if key is None else self._sentence[key]

    def prompt_embeddings(self, keys: Sequence[Any]) -> Tensor:
        ids = torch.stack([self.token_ids(self.sentence(k)) for k in keys])
        return self.text_encoder.embed(ids.to(self.pool_proj.weight.device))

    def pool_indices(self, keys: Sequence[Any]) -> Tensor:
        return torch.stack([self.text_encoder.end_index(self.token_ids(self.sentence(k))) for k in keys])
