"""Text encoders: CLIP BPE tokenizer + frozen CLIP-style text tower (``open_clip``, ``offline``)."""
from . import offline, open_clip  # noqa: F401  (register "offline", "open_clip")
from .clip_tower import CLIPTextTower, TowerTextEncoder

__all__ = ["CLIPTextTower", "TowerTextEncoder"]
