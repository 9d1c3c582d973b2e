"""Backbones (denoiser trunks with named hook points for fusion blocks)."""
from . import mixste  # noqa: F401  (registers "mixste")
