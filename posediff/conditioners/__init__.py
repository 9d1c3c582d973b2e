"""Conditioners: action labels → :class:`~posediff.interfaces.Conditioning` (prompt tokens + vector)."""
from . import coarse, fpp, learnable, manual, none, single  # noqa: F401  (register the conditioners)
from .fpp import H36M_ACTIONS, FPPConditioner, PromptConditioner

__all__ = ["H36M_ACTIONS", "FPPConditioner", "PromptConditioner"]
