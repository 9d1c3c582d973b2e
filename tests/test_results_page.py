"""docs/results.md is rendered from the committed result files, and the run-curve helper interpolates."""
from __future__ import annotations

import importlib.util
import json
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


def _curve(end_mm: float, end_minutes: float) -> dict:
    return {"steps": 1200, "cpu_model": "test CPU", "curve": [
        {"step": 600, "cpu_minutes": end_minutes / 2, "s8_val_mpjpe_mm": end_mm + 20.0},
        {"step": 1200, "cpu_minutes": end_minutes, "s8_val_mpjpe_mm": end_mm}]}


@pytest.mark.parametrize("offline, minilm, expect_offline, expect_minilm", [
    ((70.0, 72.0), (60.0, 61.0), "no measurable effect", "**help**"),
    ((80.0, 81.0), (69.0, 73.0), "**hurt**", "no measurable effect"),
])
def test_prompt_question_verdict_follows_the_numbers(tmp_path, monkeypatch, offline, minilm, expect_offline,
                                                     expect_minilm):
    """Item 6's verdict: a difference counts only where it exceeds the sum of the two seed spreads."""
    page = _script("results_page")
    (tmp_path / "training").mkdir()
    values = {"finepose-offline": offline, "finepose-minilm": minilm, "d3dp": (70.0, 71.0)}
    for variant, (a, b) in values.items():
        for seed, mm in zip((1, 2), (a, b)):
            minutes = 20.0 if variant == "d3dp" else 24.0
            (tmp_path / "training" / f"prompts27-{variant}-s{seed}.json").write_text(
                __import__("json").dumps(_curve(mm, minutes)))
    monkeypatch.setattr(page, "RESULTS", tmp_path)
    text = "\n".join(page.prompts_context_section())
    lines = {ln.split(" against ")[0]: ln for ln in text.splitlines() if ln.startswith("- FinePOSE with")}
    assert expect_offline in lines["- FinePOSE with offline prompts"]
    assert expect_minilm in lines["- FinePOSE with prompts with language (MiniLM)"]
    assert "at 20 CPU-min" in text  # the budget is the cheapest run's
    # D3DP's mean and spread: 70.5 ± 0.5
    assert "| 70.0 | 71.0 | 70.5 ± 0.5 |" in text
    diff = (sum(offline) - 141.0) / 2
    assert f"offline {diff:+.1f} mm, MiniLM" in page.prompts_context_row()
    (tmp_path / "training" / "prompts27-d3dp-s2.json").unlink()
    assert page.prompts_context_section() == []
    assert page.prompts_context_row().endswith("not measured yet |")


def test_step_value_interpolates_between_validation_points():
    page = _script("results_page")
    curve = [{"step": 500, "s8_val_mpjpe_mm": 100.0}, {"step": 1000, "s8_val_mpjpe_mm": 80.0}]
    assert page.step_value(curve, 750) == pytest.approx(90.0)
    assert page.step_value(curve, 1000) == 80.0
    assert page.step_value(curve, 400) is None and page.step_value(curve, 1200) is None


def test_width_section_compares_parts_at_equal_steps_and_equal_cost(tmp_path, monkeypatch):
    page = _script("results_page")
    (tmp_path / "training").mkdir()
    (tmp_path / "sizes").mkdir()
    narrow = [{"step": s, "s8_val_mpjpe_mm": 200.0 - s / 100} for s in range(500, 12001, 500)] + \
        [{"step": 12000 + s, "s8_val_mpjpe_mm": 50.0 - s / 100} for s in (250, 500, 750, 1000, 1250)]
    wide = [{"step": s, "s8_val_mpjpe_mm": 100.0} for s in (500, 1000, 1500, 2000, 2500, 3000)] + \
        [{"step": 3000 + s, "s8_val_mpjpe_mm": 40.0} for s in (200, 400, 600)]
    for name, curve, steps in (("finepose-base-h36m", narrow, 13250), ("finepose-w256-h36m", wide, 3600)):
        (tmp_path / "training" / f"{name}.json").write_text(json.dumps({"name": name, "steps": steps, "curve": curve}))
    for width, fps in ((128, 1000.0), (256, 500.0)):  # a wide step costs 2x
        rows = [{"frames": f, "precision": "bf16", "frames_per_s": fps} for f in (9, 81)]
        (tmp_path / "sizes" / f"training_throughput-9f-81f-w{width}-d4-xeon-amx.json").write_text(
            json.dumps({"rows": rows, "machine": {"cpu": "test CPU"}}))
    monkeypatch.setattr(page, "RESULTS", tmp_path)
    text = "\n".join(page.width_section())
    # 9-frame part, step 1,000: narrow 190.0, wide 100.0, narrow at twice the steps (2,000) 180.0
    assert "| 9 frames | 1,000 | 190.0 | 100.0 | 180.0 (2,000) |" in text
    # 81-frame part: the narrow curve is read only on its own 81-frame points (step 200 is before its first)
    assert "| 81 frames | 200 |  | 40.0 | 46.0 (400) |" in text
    assert "| 81 frames | 600 | 44.0 | 40.0 | 38.0 (1,200) |" in text
    assert "costs 2.00× one of width 128 at 9 frames" in text
    # the verdict reads the narrow curve's best within the same cost (6,000 steps: 140.0 mm)
    assert "width 256 reached 100.0 mm, width 128 140.0 mm at its best within the same cost" in text
    assert "the wider model learned faster" in text
    (tmp_path / "training" / "finepose-w256-h36m.json").unlink()
    assert page.width_section() == []
