"""scripts/package_weights.py: provenance of a model trained in stages (warm restarts)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("package_weights", REPO / "scripts" / "package_weights.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _stage(cmd, steps, wall, cpu):
    return {"command": cmd, "commit": "c-" + cmd, "steps": steps, "wall_minutes": wall, "cpu_minutes": cpu,
            "threads": 1, "train_config": {"max_steps": steps}, "sha256": "x" + cmd}


def test_stages_are_listed_and_totals_summed():
    P = _script()
    two = P.with_previous_stage(_stage("b", 8000, 90.0, 88.5), _stage("a", 5000, 97.1, 57.2))
    assert [s["command"] for s in two["stages"]] == ["a", "b"]
    assert (two["steps"], two["cpu_minutes"], two["wall_minutes"]) == (13000, 145.7, 187.1)
    assert two["sha256"] == "xb"  # the file is the last stage's
    three = P.with_previous_stage(_stage("c", 1000, 10.0, None), two)
    assert [s["command"] for s in three["stages"]] == ["a", "b", "c"]
    assert three["steps"] == 14000 and three["cpu_minutes"] is None  # unknown when one stage is unknown
