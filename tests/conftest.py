"""Shared test fixtures: the ../shared folder (skips cleanly when absent), small thread counts."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import settings

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
settings.register_profile("ci", deadline=None, max_examples=50)
settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]


def shared_path() -> Path | None:
    """Location of the shared reference folder: $POSEDIFF_SHARED, else <repo>/../shared."""
    env = os.environ.get("POSEDIFF_SHARED")
    path = Path(env) if env else REPO.parent / "shared"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder, or skip the test with a clear reason."""
    path = shared_path()
    if path is None:
        pytest.skip("../shared (or $POSEDIFF_SHARED) is absent: real data / official fixture not available")
    return path


@pytest.fixture(scope="session")
def h36m_dir(shared_dir: Path) -> Path:
    """``<shared>/data/h36m`` with ``data_3d_h36m.npz`` and ``cameras.h5``, or skip."""
    path = shared_dir / "data" / "h36m"
    if not (path / "data_3d_h36m.npz").is_file() or not (path / "cameras.h5").is_file():
        pytest.skip(f"H36M files not found in {path}")
    return path


@pytest.fixture(scope="session")
def fixture_dir(shared_dir: Path) -> Path:
    """The official FinePOSE parity fixture folder, or skip."""
    path = shared_dir / "fixtures" / "official_finepose"
    if not (path / "denoiser.npz").is_file():
        pytest.skip(f"official parity fixture not found in {path}")
    return path
