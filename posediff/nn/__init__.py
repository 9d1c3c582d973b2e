"""Shared neural-network layers (used by more than one component kind)."""
from .attention import Attention, Block, DropPath, PackedSelfAttention, PostNormEncoderLayer
from .embeddings import TimestepEmbedding, sinusoidal_embedding
from .mlp import Mlp, QuickGELU

__all__ = [
    "Attention",
    "Block",
    "DropPath",
    "PackedSelfAttention",
    "PostNormEncoderLayer",
    "TimestepEmbedding",
    "sinusoidal_embedding",
    "Mlp",
    "QuickGELU",
]
