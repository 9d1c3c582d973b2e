"""Fixtures for the data tests: locations of the real data inside the shared folder (skip when absent).

``h36m_dir`` lives in ``tests/conftest.py`` (other test folders use it too)."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mpi_test_dir(shared_dir: Path) -> Path:
    """``<shared>/data/mpi_inf_3dhp_test`` with TS5/TS6 ``annot_data.mat``, or skip."""
    path = shared_dir / "data" / "mpi_inf_3dhp_test"
    if not (path / "TS5" / "annot_data.mat").is_file() or not (path / "TS6" / "annot_data.mat").is_file():
        pytest.skip(f"3DHP TS5/TS6 annotations not found in {path}")
    return path
