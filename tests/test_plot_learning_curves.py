"""scripts/plot_learning_curves.py: item 6's runs get their own figure and stay out of the main one."""
from __future__ import annotations

import json

import pytest

from script_loader import load_script

pytest.importorskip("matplotlib")


def _record(name: str) -> dict:
    return {"name": name, "cpu_model": "test CPU", "curve": [
        {"step": 200, "cpu_minutes": 3.0, "s8_val_mpjpe_mm": 150.0, "val_windows": 256},
        {"step": 400, "cpu_minutes": 6.0, "s8_val_mpjpe_mm": 120.0, "val_windows": 256}]}


def test_prompt_runs_get_their_own_figure(tmp_path, monkeypatch):
    plot = load_script("scripts/plot_learning_curves.py")
    (tmp_path / "training").mkdir()
    for name in ("finepose-base-h36m", "prompts27-d3dp-s1", "prompts27-finepose-offline-s2"):
        (tmp_path / "training" / f"{name}.json").write_text(json.dumps(_record(name)))
    monkeypatch.setattr(plot, "RESULTS", tmp_path)
    labels = []
    real_plot = plot.plt.Axes.plot

    def spy(self, *a, **kw):
        labels.append(kw.get("label"))
        return real_plot(self, *a, **kw)

    monkeypatch.setattr(plot.plt.Axes, "plot", spy)
    out = tmp_path / "img" / "curves.png"
    assert plot.main(["--out", str(out)]) == 0
    assert out.is_file() and (tmp_path / "img" / "prompt_question.png").is_file()
    main_labels = [lb for lb in labels if lb and lb.startswith("finepose-base-h36m")]
    assert len(main_labels) == 2  # the two panels of the main figure
    assert "test CPU" in main_labels[0]
    assert not any(lb and lb.startswith("prompts27") for lb in labels)
    assert {"d3dp, seed 1", "finepose-offline, seed 2"} <= set(labels)


def test_no_prompt_figure_without_its_runs(tmp_path, monkeypatch):
    plot = load_script("scripts/plot_learning_curves.py")
    (tmp_path / "training").mkdir()
    monkeypatch.setattr(plot, "RESULTS", tmp_path)
    assert plot.plot_prompt_runs(tmp_path / "p.png") is False and not (tmp_path / "p.png").exists()
