"""docs/results.md is rendered from the committed result files, and the run-curve helper interpolates."""
from __future__ import annotations

import importlib.util
import sys

import pytest

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _script(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_results_page_is_up_to_date():
    page = _script("results_page")
    assert (REPO / "docs" / "results.md").read_text() == page.render(), \
        "docs/results.md is stale: run .venv/bin/python scripts/results_page.py"


def test_results_page_has_no_machine_paths():
    text = (REPO / "docs" / "results.md").read_text()
    assert "/work/" not in text and "/home/" not in text


def test_cpu_interpolation():
    collect = _script("collect_run")
    pts = [(0.0, 0.0), (30.0, 15.0), (60.0, 45.0)]
    assert collect.cpu_at(pts, 45.0) == pytest.approx(30.0)
    assert collect.cpu_at(pts, 90.0) == 45.0


def test_committed_results_hold_no_machine_paths():
    """Every figure comes from a committed command with repo-relative paths or placeholders (the eval reports
    of one run once recorded this machine's data folder)."""
    bad = []
    for path in list((REPO / "benchmarks" / "results").rglob("*")) + list((REPO / "docs").rglob("*.md")) + \
            list((REPO / "posediff" / "assets" / "weights").glob("*.json")):
        if path.is_file() and path.suffix in (".json", ".md"):
            text = path.read_text(errors="ignore")
            for marker in ("/work/", "/home/", "/root/", "/Users/"):
                if marker in text:
                    bad.append(f"{path.relative_to(REPO)}: {marker}")
    assert not bad, bad
