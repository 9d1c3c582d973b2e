"""Fixtures of the reliability tests: tiny lifters built once, one thread, quiet offline-encoder warnings.

Counters: tests that run many generated cases (fuzzing, the validation table) report how many they ran
through ``reliability_helpers.record``; ``scripts/reliability_report.py`` collects them from ``$POSEDIFF_RELIABILITY_LOG``.
"""
from __future__ import annotations

import warnings

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread_quiet():
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*offline.*NOT CLIP.*")
        yield


def _quiet_build(*args, **kwargs):
    import posediff

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*offline.*NOT CLIP.*")
        return posediff.build(*args, **kwargs)


@pytest.fixture(scope="session")
def fine_lifter():
    """finepose-tiny (FPP prompts, JPMA) with H=2, M=1: needs a camera and knows the H36M actions."""
    torch.manual_seed(0)
    return _quiet_build("finepose-tiny", overrides={"sampler.steps": 1, "sampler.hypotheses": 2})


@pytest.fixture(scope="session")
def d3dp_lifter():
    """d3dp-tiny (no prompts) with H=2, M=1."""
    torch.manual_seed(0)
    return _quiet_build("d3dp-tiny", overrides={"sampler.steps": 1, "sampler.hypotheses": 2})


@pytest.fixture(scope="session")
def synth_dataset():
    """One subject, one motion, one camera, 40 frames of synthetic data with 3D."""
    from posediff.data import make_synthetic

    return make_synthetic(subjects=1, motions=["walking"], cameras=1, frames=40)
