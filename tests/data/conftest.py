"""Fixtures for the data tests: locations of the real data inside the shared folder (skip when absent)."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def h36m_dir(shared_dir: Path) -> Path:
    """``<shared>/data/h36m`` with ``data_3d_h36m.npz`` and ``cameras.h5``, or skip."""
    path = shared_dir / "data" / "h36m"
    if not (path / "data_3d_h36m.npz").is_file() or not (path / "cameras.h5").is_file():
        pytest.skip(f"H36M files not found in {path}")
    return path


@pytest.fixture(scope="session")
def mpi_test_dir(shared_dir: Path) -> Path:
    """``<shared>/data/mpi_inf_3dhp_test`` with TS5/TS6 ``annot_data.mat``, or skip."""
    path = shared_dir / "data" / "mpi_inf_3dhp_test"
    if not (path / "TS5" / "annot_data.mat").is_file() or not (path / "TS6" / "annot_data.mat").is_file():
        pytest.skip(f"3DHP TS5/TS6 annotations not found in {path}")
    return path
