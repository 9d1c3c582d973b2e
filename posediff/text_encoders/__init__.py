"""Text encoders: frozen CLIP-style towers with the CLIP BPE tokenizer (``open_clip``, ``offline``) and the
pretrained all-MiniLM-L6-v2 BERT with its WordPiece tokenizer (``minilm``)."""
from . import minilm, offline, open_clip  # noqa: F401  (register "minilm", "offline", "open_clip")
from .clip_tower import CLIPTextTower, TowerTextEncoder

__all__ = ["CLIPTextTower", "TowerTextEncoder"]
