"""Samplers (kind ``sampler``): the reverse diffusion process producing H hypotheses over M steps."""
from __future__ import annotations

from . import ddim  # noqa: F401  (built-ins register on import)
from .ddim import DDIMSampler

__all__ = ["DDIMSampler"]
