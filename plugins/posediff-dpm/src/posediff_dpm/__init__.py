"""posediff-dpm: a DPM-Solver++ (2M) sampler plugin for posediff.

Installing this distribution adds, through entry points only (posediff never imports it until one of
its names is used):

* the sampler ``dpm_solver`` (:class:`posediff_dpm.sampler.DPMSolverSampler`), group ``posediff.sampler``;
* the presets ``finepose-tiny-dpm`` (a complete TOML file shipped in the package) and
  ``finepose-h36m-dpm`` (a TOML file that ``extends`` posediff's ``finepose-h36m``), group ``posediff.preset``.

Example:
    >>> import posediff
    >>> lifter = posediff.build("finepose-tiny-dpm")          # doctest: +SKIP
    >>> lifter.spec["sampler"]["name"]                       # doctest: +SKIP
    'dpm_solver'
"""
from __future__ import annotations

import importlib.resources as _resources

__version__ = "0.1.0"
__all__ = ["TINY_PRESET", "H36M_PRESET", "__version__"]

TINY_PRESET = _resources.files(__name__) / "presets" / "finepose-tiny-dpm.toml"
"""The ``finepose-tiny-dpm`` preset: a complete TOML spec shipped as package data."""

H36M_PRESET = _resources.files(__name__) / "presets" / "finepose-h36m-dpm.toml"
"""The ``finepose-h36m-dpm`` preset: ``extends = "finepose-h36m"`` with a DPM-Solver++ ``[sampler]`` table."""
