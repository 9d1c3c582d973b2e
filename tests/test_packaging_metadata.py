"""Package metadata that installs without warnings: setuptools deprecates `project.license` as a TOML table
(every install printed that warning before the license became an SPDX string)."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECTS = [REPO / "pyproject.toml", *sorted((REPO / "plugins").glob("*/pyproject.toml"))]


@pytest.mark.parametrize("path", PROJECTS, ids=[str(p.relative_to(REPO)) for p in PROJECTS])
def test_license_is_an_spdx_expression(path):
    data = tomllib.loads(path.read_text())
    assert isinstance(data["project"]["license"], str), "project.license must be an SPDX string, e.g. \"MIT\""
    assert not any(c.startswith("License ::") for c in data["project"].get("classifiers", []))
    requires = " ".join(data["build-system"]["requires"])
    assert "setuptools>=77" in requires  # the first setuptools that reads an SPDX license string
