"""Fixtures of the training tests (helpers live in training_helpers.py)."""
from __future__ import annotations

import warnings

import pytest
import torch


@pytest.fixture(autouse=True)
def _quiet_and_single_thread():
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*offline.*NOT CLIP.*")
        yield
