"""FPP: fine-grained prompts (FinePOSE §3.1; reference §3), and the prompt machinery the M/S/C/AL
prompt variants reuse.

Size: one component family — the FPP prompt layout, its adapter and the shared prompt machinery that the
M/S/C/AL variants subclass; splitting it would scatter one algorithm.
"""
from __future__ import annotations

import re
from typing import Any, Literal, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

from ..errors import InputError, SpecError
from ..interfaces import Conditioner, Conditioning, TextEncoder
from ..nn import PostNormEncoderLayer
from ..registry import register
from ..validation import below_minimum

__all__ = ["H36M_ACTIONS", "PromptConditioner", "FPPConditioner", "TextAdapter"]

H36M_ACTIONS: list[str] = [
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
    "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether",
]
"""The 15 Human3.6M base action names (VideoPose3D canonical spelling; reference §1.1)."""

TEXT_TOKENS = 4
"""Each text block contributes the input embeddings of the first 4 ids of its text (reference §3.2)."""

_TAKE_SUFFIX = re.compile(r"\s+\d+$")
_ADAPTER_LIMITS = {"adapter_layers": 0, "adapter_heads": 1, "adapter_ff": 1}
_MAX_CACHE = 4096


class TextAdapter(nn.Module):
    """The trainable text transformer after the frozen CLIP tower (official ``textTransEncoder``):
    ``layers`` post-norm encoder layers (GELU, eps 1e-5, no dropout), batch first.

    Shape:
        x: (B, L, W) → (B, L, W).
    """

    def __init__(self, width: int, layers: int = 4, heads: int = 8, ff: int = 2048) -> None:
        super().__init__()
        self.layers = nn.ModuleList(PostNormEncoderLayer(width, heads, ff) for _ in range(layers))

    def forward(self, x: Tensor) -> Tensor:
        """Run the adapter layers: (B, L, W) → (B, L, W)."""
        for layer in self.layers:
            x = layer(x)
        return x


class PromptConditioner(Conditioner):
    """Shared machinery of the prompt conditioners (not registered).

    Pipeline per distinct prompt: prompt input embeddings ``(77, W)`` (subclass) → frozen text
    tower (``text_encoder.encode``) → :class:`TextAdapter` → LayerNorm = P_tokens ``(77, W)``;
    ``P[L] = Linear(W→dim)(P_tokens[L])`` with L chosen by the subclass.

    Caching: prompt features are computed once per distinct prompt key and reused whenever the
    module is in eval mode or gradients are disabled; in training with gradients they are
    recomputed (the adapter trains). The frozen text-tower output is also cached per key whenever
    nothing before the adapter is trainable, so training steps only run the adapter. Caches are
    invalidated when any parameter changes in place (optimizer steps, ``load_state_dict``) and
    when the module is moved or cast.
    """

    token_dim: int = 0
    vector_dim: int = 0

    # ------------------------------------------------------------------ setup
    @staticmethod
    def adapter_problems(params: Mapping[str, Any]) -> list[str]:
        """Checks of the adapter sizes (``adapter_layers >= 0``, ``adapter_heads >= 1``, ``adapter_ff >= 1``)
        that every prompt conditioner's ``check_params`` includes; one message per problem."""
        return below_minimum(params, _ADAPTER_LIMITS)

    def _setup_head(self, text_encoder: TextEncoder, dim: int, adapter_layers: int, adapter_heads: int,
                    adapter_ff: int) -> None:
        problems = self.adapter_problems(dict(adapter_layers=adapter_layers, adapter_heads=adapter_heads,
                                              adapter_ff=adapter_ff))
        if problems:
            raise SpecError("; ".join(problems), origin=f"conditioner {type(self).__name__}")
        width = int(text_encoder.width)
        if width % adapter_heads:
            raise SpecError(f"text width {width} must be divisible by adapter_heads {adapter_heads}",
                            origin=f"conditioner {type(self).__name__}")
        self.text_encoder = text_encoder
        self.adapter = TextAdapter(width, adapter_layers, adapter_heads, adapter_ff)
        self.text_norm = nn.LayerNorm(width)   # official `text_ln` (eps 1e-5)
        self.pool_proj = nn.Linear(width, dim)  # official `text_proj.0`
        self.token_dim = width
        self.vector_dim = dim
        self._cache: dict[Any, tuple[Tensor, Tensor]] = {}
        self._cache_stamp: Optional[int] = None
        self._text_cache: dict[Any, Tensor] = {}
        self._text_stamp: Optional[int] = None
        self._ids: dict[str, Tensor] = {}

    # ------------------------------------------------------------------ subclass hooks
    def prompt_key(self, label: Optional[str]) -> Any:
        """Validate one label and return the hashable key of its prompt."""
        raise NotImplementedError

    def prompt_embeddings(self, keys: Sequence[Any]) -> Tensor:
        """Input embeddings ``(U, 77, W)`` of the prompts of ``keys`` (before the positional embedding)."""
        raise NotImplementedError

    def pool_indices(self, keys: Sequence[Any]) -> Tensor:
        """Index L of P[L] per key, ``(U,)`` long."""
        raise NotImplementedError

    def _prompt_parameters(self) -> list[nn.Parameter]:
        """Parameters used before the text tower (learnable modifiers)."""
        return []

    # ------------------------------------------------------------------ helpers
    def token_ids(self, text: str) -> Tensor:
        """CLIP ids ``(77,)`` of ``text`` (cached per text)."""
        ids = self._ids.get(text)
        if ids is None:
            ids = self.text_encoder.tokenize([text])[0]
            self._ids[text] = ids
        return ids

    def _text_parameters(self) -> list[nn.Parameter]:
        return list(self.text_encoder.parameters()) + self._prompt_parameters()

    @staticmethod
    def _stamp(params: Sequence[Tensor]) -> int:
        return sum(p._version for p in params)

    def _apply(self, fn, *args, **kwargs):  # noqa: D401 - nn.Module hook
        self._clear_caches()
        return super()._apply(fn, *args, **kwargs)

    def _clear_caches(self) -> None:
        self._cache = {}
        self._text_cache = {}
        self._cache_stamp = self._text_stamp = None

    def clear_cache(self) -> None:
        """Forget all cached prompt features (they are recomputed on the next call)."""
        self._clear_caches()

    def keys_for(self, actions: Sequence[Optional[str]] | str | None, batch: int) -> list[Any]:
        """Normalise ``actions`` to ``batch`` prompt keys (``None`` = neutral prompt).

        A single string is used for the whole batch.
        """
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 0:
            raise InputError(f"batch: expected a non-negative integer; got {batch!r}")
        if actions is None:
            labels: list[Optional[str]] = [None] * batch
        elif isinstance(actions, str):
            labels = [actions] * batch
        else:
            labels = list(actions)
            if len(labels) != batch:
                raise InputError(f"actions: expected {batch} labels (one per clip); got {len(labels)}")
        return [self.prompt_key(label) for label in labels]

    # ------------------------------------------------------------------ computation
    def _text_states(self, keys: list[Any]) -> Tensor:
        """Frozen-tower outputs ``(U, 77, W)`` of ``keys``, with gradients only when needed."""
        needs_grad = self.training and torch.is_grad_enabled() and any(
            p.requires_grad for p in self._text_parameters()
        )
        if needs_grad:
            return self.text_encoder.encode(self.prompt_embeddings(keys))
        if not self.cache:
            with torch.no_grad():
                return self.text_encoder.encode(self.prompt_embeddings(keys))
        stamp = self._stamp(self._text_parameters())
        if stamp != self._text_stamp or len(self._text_cache) > _MAX_CACHE:
            self._text_cache, self._text_stamp = {}, stamp
        inference = torch.is_inference_mode_enabled()
        device = self.pool_proj.weight.device
        missing = [k for k in keys if k not in self._text_cache or self._text_cache[k].device != device
                   or (self._text_cache[k].is_inference() and not inference)]
        if missing:
            with torch.no_grad():
                out = self.text_encoder.encode(self.prompt_embeddings(missing))
            for i, k in enumerate(missing):
                self._text_cache[k] = out[i]
        return torch.stack([self._text_cache[k] for k in keys])

    def compute(self, keys: Sequence[Any]) -> tuple[Tensor, Tensor]:
        """P_tokens ``(U, 77, W)`` and P[L] ``(U, dim)`` of distinct prompt ``keys`` (no cache)."""
        keys = list(keys)
        device = self.pool_proj.weight.device
        with torch.autocast(device.type, enabled=False):  # prompt features in full precision
            states = self._text_states(keys)
            tokens = self.text_norm(self.adapter(states))
            index = self.pool_indices(keys).to(device)
            vector = self.pool_proj(tokens[torch.arange(len(keys), device=device), index])
        return tokens, vector

    def forward(self, actions: Sequence[Optional[str]] | str | None, batch: int) -> Conditioning:
        """Prompt tokens and pooled vector per clip.

        Args:
            actions: ``batch`` action labels such as ``"Walking 1"`` (``None`` entries, or ``None``
                for all, give the neutral prompt), or one string for the whole batch.
            batch: Number of clips B.

        Returns:
            ``Conditioning(tokens=(B, 77, W), vector=(B, dim))``.
        """
        keys = self.keys_for(actions, batch)
        if batch == 0:
            dev = self.pool_proj.weight.device
            return Conditioning(torch.zeros(0, self.text_encoder.context_length, self.token_dim, device=dev),
                                torch.zeros(0, self.vector_dim, device=dev))
        unique = list(dict.fromkeys(keys))
        if self.cache and (not self.training or not torch.is_grad_enabled()):
            stamp = self._stamp(list(self.parameters()))
            if stamp != self._cache_stamp or len(self._cache) > _MAX_CACHE:
                self._cache, self._cache_stamp = {}, stamp
            inference = torch.is_inference_mode_enabled()
            device = self.pool_proj.weight.device
            missing = [k for k in unique if k not in self._cache or self._cache[k][0].device != device
                       or (self._cache[k][0].is_inference() and not inference)]
            if missing:
                with torch.no_grad():
                    tokens, vector = self.compute(missing)
                for i, k in enumerate(missing):
                    self._cache[k] = (tokens[i], vector[i])
            if len(unique) == 1:
                tok, vec = self._cache[unique[0]]
                return Conditioning(tok.unsqueeze(0).expand(batch, *tok.shape),
                                    vec.unsqueeze(0).expand(batch, *vec.shape))
            return Conditioning(torch.stack([self._cache[k][0] for k in keys]),
                                torch.stack([self._cache[k][1] for k in keys]))
        tokens, vector = self.compute(unique)
        if len(unique) == batch and unique == keys:
            return Conditioning(tokens, vector)
        where = {k: i for i, k in enumerate(unique)}
        idx = torch.tensor([where[k] for k in keys], device=tokens.device)
        return Conditioning(tokens.index_select(0, idx), vector.index_select(0, idx))


@register("conditioner", "fpp")
class FPPConditioner(PromptConditioner):
    """Fine-grained prompts: learnable modifiers + CLIP token embeddings per body-part text block.

    FinePOSE §3.1 as the official ``encode_text`` computes it (reference §3.2–§3.3). For each block
    k, ``p̃_k`` = the CLIP *input token embeddings* of the first 4 ids of ``text_k`` (SOT, …, EOT,
    0-padding); ``r_k`` = ``lengths[k] − 4`` learnable modifiers, initialised N(0, 0.02²). The
    blocks ``[r_k ; p̃_k]`` are concatenated in order into the 77-token prompt (if the lengths sum
    to less than 77, the rest is filled with the embedding of token id 0, CLIP's padding), encoded
    by the frozen CLIP text tower (positional embedding, causal transformer, ``ln_final``), then by
    the trainable :class:`TextAdapter` and a LayerNorm: these are the prompt tokens P (B, 77, W).
    The pooled vector ``P[L] = Linear(W→dim)(P[L])``.

    Actions: a label is cut at its first space (``"Walking 1"`` → ``"Walking"``, as the official
    loop does) and must be one of ``actions`` (case-insensitive match); an unknown label raises
    :class:`~posediff.errors.InputError` naming the valid ones. ``actions = []`` accepts free text
    instead (only a trailing take number such as ``" 2"`` is removed). ``None`` labels, or
    ``actions=None`` at call time, give the **neutral prompt**: the action block is built from
    ``neutral_action`` (default ``""``, i.e. the tokens [SOT, EOT, 0, 0]); the model has never
    seen it in training unless you train with dropped labels.

    Args:
        text_encoder: Built text encoder (tokenizer + frozen tower); its width W is ``token_dim``.
        dim: Model width C (context key); width of the pooled vector.
        parts: Text of each block; ``"{action}"`` is replaced by the action label. Official
            ``["A person", "{action}", "speed", "head", "body", "arm", "leg"]``.
        lengths: Tokens per block (modifiers + 4 text tokens); official ``[7, 12, 10, 10, 10, 14, 14]``.
        pool: Where P[L] is read. ``"action_eot"`` (official): L = index of EOT in the action's own
            tokenisation (2, 3 or 4), applied to the fused sequence — a quirk (reference §3.3, §8.7);
            ``"last"``: the last prompt position (``sum(lengths) − 1``); ``"fixed"``: ``pool_index``.
        pool_index: L for ``pool = "fixed"`` (official 3DHP: 76).
        adapter_layers: Post-norm encoder layers after CLIP (official 4).
        adapter_heads: Their heads (official 8).
        adapter_ff: Their feed-forward width (official 2048).
        train_modifiers: Let gradients flow through the frozen tower into the modifiers (the
            paper's intent). Official behaviour is ``False``: a ``no_grad`` cuts the graph, so the
            modifiers keep their random initialisation (reference §3.4).
        cache: Compute prompt features once per distinct prompt (see :class:`PromptConditioner`).
        neutral_action: Action text of the neutral prompt (``None`` labels).
        actions: Accepted action names; ``[]`` = free text.

    The 3DHP prompt (reference §3.5) is ``parts = ["A person", "speed", "head", "body", "arm",
    "leg"]``, ``lengths = [9, 12, 12, 12, 16, 16]``, ``pool = "fixed"``, ``pool_index = 76``.

    Shape:
        output tokens: (B, 77, W); vector: (B, dim).

    Example:
        >>> from posediff.text_encoders.offline import OfflineTextEncoder
        >>> enc = OfflineTextEncoder(width=32, layers=1, heads=2)
        >>> fpp = FPPConditioner(enc, dim=16, adapter_layers=1, adapter_heads=2, adapter_ff=64).eval()
        >>> cond = fpp(["Walking 1", "SittingDown", None], 3)
        >>> tuple(cond.tokens.shape), tuple(cond.vector.shape)
        ((3, 77, 32), (3, 16))
    """

    def __init__(
        self,
        text_encoder: TextEncoder,
        dim: int,
        parts: list[str] = ["A person", "{action}", "speed", "head", "body", "arm", "leg"],  # noqa: B006
        lengths: list[int] = [7, 12, 10, 10, 10, 14, 14],  # noqa: B006
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
        super().__init__()
        self.text_encoder = text_encoder
        self.dim = dim
        self.parts = parts
        self.lengths = lengths
        self.pool = pool
        self.pool_index = pool_index
        self.adapter_layers = adapter_layers
        self.adapter_heads = adapter_heads
        self.adapter_ff = adapter_ff
        self.train_modifiers = train_modifiers
        self.cache = cache
        self.neutral_action = neutral_action
        self.actions = actions
        problems = self.check_params(dict(parts=parts, lengths=lengths, pool=pool, pool_index=pool_index))
        if problems:
            raise SpecError("; ".join(problems), origin=f"conditioner {type(self).__name__}")
        self._setup_prompt(
            [(p, n - TEXT_TOKENS, TEXT_TOKENS) for p, n in zip(parts, lengths)],
            text_encoder, dim, pool, pool_index, adapter_layers, adapter_heads, adapter_ff,
            train_modifiers, actions,
        )

    @staticmethod
    def check_params(params: Mapping[str, Any]) -> list[str]:
        """Value checks that need no tensors; returns one message per problem."""
        out = PromptConditioner.adapter_problems(params)
        parts, lengths = params.get("parts"), params.get("lengths")
        if isinstance(parts, list) and isinstance(lengths, list):
            if len(parts) != len(lengths):
                out.append(f"parts and lengths must have the same length; got {len(parts)} and {len(lengths)}")
            short = [n for n in lengths if isinstance(n, int) and n < TEXT_TOKENS]
            if short:
                out.append(f"lengths: every entry must be >= {TEXT_TOKENS} (the text tokens of its block); got {short}")
            if sum(n for n in lengths if isinstance(n, int)) > 77:
                out.append(f"lengths must sum to at most 77 (CLIP's context); got {sum(lengths)}")
            n_action = sum("{action}" in p for p in parts if isinstance(p, str))
            if n_action > 1:
                out.append("at most one part may contain '{action}'")
            if params.get("pool", "action_eot") == "action_eot" and n_action == 0:
                out.append("pool 'action_eot' needs a part with '{action}'; use pool 'fixed' or 'last'")
        index = params.get("pool_index", 76)
        if isinstance(index, int) and not 0 <= index < 77:
            out.append(f"pool_index must be in [0, 77); got {index}")
        return out

    def _setup_prompt(self, layout: list[tuple[Optional[str], int, int]], text_encoder: TextEncoder, dim: int,
                      pool: str, pool_index: int, adapter_layers: int, adapter_heads: int, adapter_ff: int,
                      train_modifiers: bool, actions: Optional[list[str]]) -> None:
        """Build the modules for a block ``layout`` of ``(template or None, modifiers, text tokens)``."""
        self._setup_head(text_encoder, dim, adapter_layers, adapter_heads, adapter_ff)
        width = self.token_dim
        total = sum(m + t for _, m, t in layout)
        if total > text_encoder.context_length:
            raise SpecError(f"the prompt has {total} tokens; the text encoder takes {text_encoder.context_length}",
                            origin=f"conditioner {type(self).__name__}")
        self._layout = layout
        self._length = total
        self._has_action = any(t is not None and "{action}" in t for t, _, _ in layout)
        self._pool_mode = pool
        self._pool_at = total - 1 if pool == "last" else pool_index
        self._actions_closed = list(actions) if actions else []
        self._lookup = {a.lower(): a for a in self._actions_closed}
        # Official: ctx_* ~ N(0, 0.02²) (reference §2.7); the official code never trains them (§3.4).
        self.modifiers = nn.ParameterList(
            nn.Parameter(torch.randn(m, width) * 0.02, requires_grad=train_modifiers) for _, m, _ in layout
        )

    def _prompt_parameters(self) -> list[nn.Parameter]:
        return list(self.modifiers)

    # ------------------------------------------------------------------ keys
    def prompt_key(self, label: Optional[str]) -> Any:
        if not self._has_action:
            return ""
        if label is None:
            return None
        if not isinstance(label, str):
            raise InputError(f"actions: expected strings or None; got {type(label).__name__}")
        if not self._actions_closed:
            return _TAKE_SUFFIX.sub("", label.strip())
        base = label.strip().split(" ")[0]
        name = self._lookup.get(base.lower())
        if name is None:
            raise InputError(
                f"actions: unknown action {label!r}; expected one of {', '.join(self._actions_closed)} "
                "(optionally followed by a take number), or None for the neutral prompt"
            )
        return name

    def action_text(self, key: Any) -> str:
        """Text of the action block for a prompt key."""
        return self.neutral_action if key is None else str(key)

    # ------------------------------------------------------------------ prompt
    def prompt_embeddings(self, keys: Sequence[Any]) -> Tensor:
        keys = list(keys)
        u, enc = len(keys), self.text_encoder
        device = self.modifiers[0].device if len(self.modifiers) else self.pool_proj.weight.device
        pieces: list[Tensor] = []
        for (template, n_mod, n_text), mod in zip(self._layout, self.modifiers):
            if n_mod:
                pieces.append(mod.unsqueeze(0).expand(u, -1, -1))
            if template is None or n_text == 0:
                continue
            if "{action}" in template:
                ids = torch.stack([self.token_ids(template.replace("{action}", self.action_text(k)))
                                   for k in keys])
                pieces.append(enc.embed(ids.to(device))[:, :n_text])
            else:
                ids = self.token_ids(template).unsqueeze(0)
                pieces.append(enc.embed(ids.to(device))[:, :n_text].expand(u, -1, -1))
        pad = enc.context_length - self._length
        if pad:
            # CLIP pads with token id 0; its input embedding fills the rest of the sequence.
            zero = torch.zeros(1, pad, dtype=torch.long, device=device)
            pieces.append(enc.embed(zero).expand(u, -1, -1))
        return torch.cat([p.to(pieces[0].dtype) for p in pieces], dim=1)

    def pool_indices(self, keys: Sequence[Any]) -> Tensor:
        if self._pool_mode == "action_eot":
            # Official: L = argmax of the action's own ids (its EOT index, 2-4), used as an index into
            # the fused 77-token prompt (reference §3.3, §8.7).
            return torch.stack([self.text_encoder.end_index(self.token_ids(self.action_text(k))) for k in keys])
        return torch.full((len(keys),), self._pool_at, dtype=torch.long)
