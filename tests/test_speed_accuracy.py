"""benchmarks/speed_accuracy.py: the choice of the best equal-accuracy configuration, the Pareto front, the page
section, and (with the licensed data) a smoke run end to end."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import speed_accuracy as sa  # noqa: E402



def point(H, M, flip, agg, mm, s, sampler="ddim"):
    return {"sampler": sampler, "hypotheses": H, "steps": M, "flip": flip, "aggregator": agg,
            "oracle": agg == "oracle", "mpjpe_mm": mm, "s_per_clip": None if agg == "oracle" else s,
            "sample_s_per_clip": s, "denoiser_calls_per_clip": H * M * (2 if flip else 1)}


def result(points, paper_mm):
    return {"paper": {"official_pattern_s_per_clip": 10.0, "mpjpe_mm": paper_mm}, "points": points}


def test_best_equal_accuracy_is_the_fastest_point_within_half_a_millimetre_of_the_stricter_aggregator():
    pts = [point(20, 10, True, "jpma", 50.0, 2.0), point(20, 10, True, "mean", 45.0, 1.9),
           point(1, 1, False, "mean", 45.6, 0.01),   # 0.6 mm worse than the best paper aggregator: out
           point(5, 1, False, "mean", 45.4, 0.05),   # within 0.5 mm: in
           point(2, 1, False, "mean", 45.5, 0.02),   # exactly +0.5: in, and faster
           point(1, 1, False, "oracle", 30.0, 0.0)]  # oracle: never a candidate
    best = sa.best_equal_accuracy(result(pts, {"jpma": 50.0, "mean": 45.0, "oracle": 30.0}))
    assert best["reference_mpjpe_mm"] == 45.0
    assert best["config"] == {"sampler": "ddim", "hypotheses": 2, "steps": 1, "flip": False, "aggregator": "mean"}
    assert best["ratio"] == pytest.approx(10.0 / 0.02)
    assert best["mpjpe_delta_mm"] == pytest.approx(0.5)
    assert best["paper_fast_path_s_per_clip"] == 1.9


def test_best_equal_accuracy_says_none_when_nothing_is_close_enough():
    best = sa.best_equal_accuracy(result([point(1, 1, False, "mean", 60.0, 0.01)], {"mean": 45.0}))
    assert best["config"] is None and "ratio" not in best


def test_pareto_front_keeps_only_undominated_points_fastest_first():
    pts = [point(1, 1, False, "mean", 50.0, 0.01), point(2, 1, False, "mean", 51.0, 0.02),  # dominated
           point(5, 1, False, "mean", 47.0, 0.05), point(5, 2, False, "mean", 47.0, 0.10),  # tie: slower one out
           point(20, 10, True, "jpma", 46.0, 2.0), point(1, 1, False, "oracle", 10.0, 0.0)]
    front = sa.pareto(pts)
    assert [(p["hypotheses"], p["steps"], p["aggregator"]) for p in front] == [(1, 1, "mean"), (5, 1, "mean"),
                                                                              (20, 10, "jpma")]


def test_page_section_without_results_says_so():
    assert "not measured yet" in sa.markdown({}, None)


@pytest.mark.slow
def test_smoke_run_writes_every_point(tmp_path, h36m_dir):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "speed_accuracy.py"), "--smoke", "--streaming",
                           "--device", "auto",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "POSEDIFF_SHARED": str(h36m_dir.parents[1])})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    res = json.loads((tmp_path / "speed_accuracy.json").read_text())
    model = res["speed_accuracy"]["models"]["finepose-small-h36m"]
    # smoke grid: 2 samplers x 2 M x 2 flip x 2 H, each with every aggregator
    combos = {(p["sampler"], p["steps"], p["flip"], p["hypotheses"]) for p in model["points"]}
    assert len(combos) == 16
    assert all(p["mpjpe_mm"] > 0 and (p["oracle"] or p["s_per_clip"] > 0) for p in model["points"])
    assert model["best_equal_accuracy"]["reference_mpjpe_mm"] > 0
    if not __import__("torch").cuda.is_available():
        assert res["speed_accuracy"]["device"] == "cpu" and "CUDA is not available" in res["speed_accuracy"]["device_notes"][0]
    st = res["streaming"]
    assert st["runs"][0]["fps"] > 0 and st["frames"] == 40
    multi = st["multi_track"]
    assert [r["tracks"] for r in multi] == [1, 2] and all(r["fps_per_track"] > 0 for r in multi)
    # one track through the multi-track path scores like the single-track run (same frames, same model)
    assert multi[0]["mpjpe_mm"] == pytest.approx(st["runs"][0]["mpjpe_stream_mm"], abs=0.5)
    text = sa.markdown(res["speed_accuracy"], st)
    assert "Pareto front" in text and "Streaming" in text and "Several people at once" in text


def test_device_auto_falls_back_to_the_cpu_and_says_so(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    dev, notes = sa.select_device("auto")
    assert dev.type == "cpu" and "CUDA is not available here" in notes[0]
    assert sa.select_device("cpu") == (torch.device("cpu"), [])
    with pytest.raises(SystemExit, match="speed_accuracy: device 'cuda' asked for, but CUDA is not available"):
        sa.select_device("cuda")
