"""posediff: diffusion-based 3D human pose lifting (2D keypoint sequences → 3D joint sequences).

The whole public face is re-exported here::

    import posediff
    lifter = posediff.build("finepose-h36m")            # a preset, a spec file or a dict
    posediff.list_components("sampler")                 # ['ddim', ...]
    poses = lifter.lift(x2d, camera=cam)                # (B, T, J, 3) metres, root-relative
"""
from __future__ import annotations

from ._version import __version__

from . import errors
from .errors import PosediffError
from .registry import KINDS, describe, get, list_components, register
from .spec import dump_spec, load_spec, resolve_spec

# Built-in components register on import (an explicit, visible list).
from . import backbones, conditioners, text_encoders, fusion, schedules, samplers, aggregators, detectors  # noqa: E402,F401

from .build import build, build_component  # noqa: E402
from .lifter import PoseLifter  # noqa: E402
from .presets import list_presets  # noqa: E402
from .loading import load  # noqa: E402

__all__ = [
    "__version__",
    "KINDS",
    "PoseLifter",
    "PosediffError",
    "build",
    "build_component",
    "describe",
    "dump_spec",
    "errors",
    "get",
    "list_components",
    "list_presets",
    "load",
    "load_spec",
    "register",
    "resolve_spec",
]


def __getattr__(name: str):
    # posediff.lift (the high-level keypoint lifting function) lives in posediff.inference; import lazily.
    if name == "lift":
        from .inference import lift

        return lift
    raise AttributeError(f"module 'posediff' has no attribute {name!r}")
