"""scripts/package_weights.py: provenance of a model trained in stages (warm restarts)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

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


def test_previous_stages_can_be_picked_from_several_records(tmp_path):
    P = _script()
    shipped = P.with_previous_stage(_stage("b", 7000, 84.8, 82.8), _stage("a", 5000, 97.1, 57.2))
    campaign = {"stages": [dict(_stage(c, 1, 1.0, 1.0), name=c, cpu_model="cpu-" + c) for c in "abcd"]}
    (tmp_path / "shipped.json").write_text(json.dumps(shipped))
    (tmp_path / "campaign.json").write_text(json.dumps(campaign))
    picked = P.previous_stages(str(tmp_path / "shipped.json")) + P.previous_stages(f"{tmp_path / 'campaign.json'}:3:3")
    assert [s["command"] for s in picked] == ["a", "b", "c"] and picked[2]["cpu_model"] == "cpu-c"
    assert [s["command"] for s in P.previous_stages(f"{tmp_path / 'campaign.json'}:2")] == ["a", "b"]
    out = P.with_previous_stage(_stage("e", 1600, 109.1, 102.3), picked)
    assert [s["command"] for s in out["stages"]] == ["a", "b", "c", "e"] and out["steps"] == 12000 + 1 + 1600
    with pytest.raises(SystemExit, match="stages 5..5 asked of a record with 4"):
        P.previous_stages(f"{tmp_path / 'campaign.json'}:5:5")


def test_learning_curves_of_stages_are_joined():
    spec = importlib.util.spec_from_file_location("collect_run", REPO / "scripts" / "collect_run.py")
    C = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(C)
    first = {"name": "m", "steps": 5000, "wall_minutes_total": 97.1, "cpu_minutes_total": 57.2,
             "curve": [{"step": 5000, "wall_minutes": 97.1, "cpu_minutes": 57.2, "s8_val_mpjpe_mm": 52.6}],
             "loss": [{"step": 5000, "loss_m": 0.04, "lr": 1e-5}]}
    second = {"name": "m-stage2", "steps": 8000, "wall_minutes_total": 100.0, "cpu_minutes_total": 95.0,
              "curve": [{"step": 500, "wall_minutes": 7.0, "cpu_minutes": 6.5, "s8_val_mpjpe_mm": 56.3}],
              "loss": [{"step": 50, "loss_m": 0.05, "lr": 1e-4}]}
    joined = C.with_previous(second, first)
    assert [p["step"] for p in joined["curve"]] == [5000, 5500]
    assert joined["curve"][1]["cpu_minutes"] == 63.7 and joined["curve"][1]["wall_minutes"] == 104.1
    assert joined["loss"][-1]["step"] == 5050
    assert (joined["steps"], joined["cpu_minutes_total"]) == (13000, 152.2)
    assert [s["name"] for s in joined["stages"]] == ["m", "m-stage2"]
    assert [s["name"] for s in C.with_previous(second, first, "m, stage 2")["stages"]] == ["m", "m, stage 2"]
    # a first stage recorded without stages keeps its command, commit, CPU and precision in the joined record
    first.update(command="posediff train m", commit="abc1234", cpu_model="test CPU", amp_used="bf16")
    stage0 = C.with_previous(second, first)["stages"][0]
    assert (stage0["command"], stage0["commit"], stage0["cpu_model"], stage0["amp_used"]) == (
        "posediff train m", "abc1234", "test CPU", "bf16")


def test_cpu_minutes_read_the_loggers_decimal_seconds(tmp_path):
    # scripts/log_cpu_seconds.py writes "6109.4"; the reader parsed int() and failed on every line
    log = tmp_path / "cpu.log"
    log.write_text("1796680074 19489 stage2 2.0\n1796680104 19489 stage2 6109.4\n1796680104 7 other 9999.0\n")
    assert _script().cpu_minutes(log, "stage2") == round(6109.4 / 60, 1)
