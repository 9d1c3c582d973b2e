"""Fusion blocks (plugged into backbone hook points) and the :class:`FusionSite` that chains them."""
from . import fpc, linear, pts  # noqa: F401  (register "fpc", "linear", "pts")
from .site import FusionSite

__all__ = ["FusionSite"]
