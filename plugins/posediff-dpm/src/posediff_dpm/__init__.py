"""posediff-dpm: a DPM-Solver++ (2M) sampler plugin for posediff.

Installing this distribution adds, through entry points only (posediff never imports it until one of
its names is used):

* the sampler ``dpm_solver`` (:class:`posediff_dpm.sampler.DPMSolverSampler`), group ``posediff.sampler``;
* the presets ``finepose-tiny-dpm`` (a TOML file shipped in the package) and ``finepose-h36m-dpm``
  (derived at load time from posediff's ``finepose-h36m``), group ``posediff.preset``.

Example:
    >>> import posediff
    >>> lifter = posediff.build("finepose-tiny-dpm")          # doctest: +SKIP
    >>> lifter.spec["sampler"]["name"]                       # doctest: +SKIP
    'dpm_solver'
"""
from __future__ import annotations

import importlib.resources as _resources

__version__ = "0.1.0"
__all__ = ["TINY_PRESET", "h36m_preset", "DPM_SAMPLER", "__version__"]

TINY_PRESET = _resources.files(__name__) / "presets" / "finepose-tiny-dpm.toml"
"""The ``finepose-tiny-dpm`` preset: a complete TOML spec shipped as package data."""

DPM_SAMPLER: dict = {
    "name": "dpm_solver",
    "steps": 5,
    "hypotheses": 20,
    "order": 2,
    "flip": True,
    "clamp": 1.1,
    "spacing": "logsnr",
    "schedule": {"name": "cosine", "timesteps": 1000, "offset": 0.008},
}
"""The ``[sampler]`` table of ``finepose-h36m-dpm``: 5 DPM-Solver++(2M) steps instead of 10 DDIM steps."""


def h36m_preset() -> dict:
    """The ``finepose-h36m-dpm`` preset: posediff's ``finepose-h36m`` with :data:`DPM_SAMPLER`.

    A preset entry point may name a callable returning a dict; deriving the spec at load time keeps
    it in step with the base preset (same network, prompts and aggregator), so checkpoints trained
    for ``finepose-h36m`` load unchanged: a sampler has no weights.
    """
    from posediff.presets import read_preset

    spec = read_preset("finepose-h36m")
    spec["meta"] = {
        "name": "finepose-h36m-dpm",
        "summary": "finepose-h36m with the DPM-Solver++ (2M) sampler of posediff-dpm (5 steps, H=20, flip), JPMA",
    }
    spec["sampler"] = {**DPM_SAMPLER, "schedule": dict(DPM_SAMPLER["schedule"])}
    return spec
