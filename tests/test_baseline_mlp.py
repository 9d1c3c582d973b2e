"""Fast checks of ``benchmarks/baseline_mlp.py`` (the issue-10 MLP baseline): model, one training step,
the evaluation table, the flip and the public command. No data needed."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from posediff.geometry.skeletons import flip_pose, get_skeleton

REPO = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("baseline_mlp", REPO / "benchmarks" / "baseline_mlp.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bm = _load()


def _poses(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x2d = torch.randn(n, 17, 2, generator=g) * 0.3
    x3d = torch.randn(n, 17, 3, generator=g) * 0.2
    x3d[:, 0] = 0
    return x2d, x3d


def test_model_shapes_and_root():
    model = bm.MLPLifter(width=64)
    assert len(model.blocks) == 2
    x2d, x3d = _poses()
    model.set_stats(x2d, x3d)
    y = model(x2d)
    assert y.shape == (64, 17, 3)
    assert torch.all(y[:, 0] == 0)
    full = bm.MLPLifter()
    assert full.inp[0].in_features == 34 and full.out.out_features == 51 and full.out.in_features == 1024


def test_one_training_step_changes_weights_and_is_finite():
    torch.manual_seed(0)
    model = bm.MLPLifter(width=64)
    x2d, x3d = _poses()
    model.set_stats(x2d, x3d)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = model.out.weight.detach().clone()
    loss = bm.train_step(model, opt, x2d, x3d, lr=1e-3, max_norm=1.0)
    assert loss > 0 and torch.isfinite(torch.tensor(loss))
    assert not torch.equal(before, model.out.weight)
    assert model.inp[0].weight.norm(dim=1).max() <= 1.0 + 1e-5
    # several steps on a fixed batch reduce the loss
    losses = [bm.train_step(model, opt, x2d, x3d, lr=1e-3) for _ in range(30)]
    assert losses[-1] < loss


def test_learning_rate_decay():
    assert bm.learning_rate(1e-3, 0, 0.96, 100_000) == pytest.approx(1e-3)
    assert bm.learning_rate(1e-3, 200_000, 0.96, 100_000) == pytest.approx(1e-3 * 0.96 ** 2)


def test_error_table_offset_is_10_mm():
    _, gt = _poses(n=6)
    pred = gt.clone()
    pred[..., 1] += 0.01  # 1 cm on one axis, every joint (root included)
    actions = ["Walking"] * 4 + ["Sitting"] * 2
    res = bm.error_table(pred, gt, actions)
    assert res["mpjpe_mm"] == pytest.approx(10.0, abs=1e-4)
    assert res["mpjpe_action_mean_mm"] == pytest.approx(10.0, abs=1e-4)
    assert res["p_mpjpe_mm"] == pytest.approx(0.0, abs=1e-3)  # a translation is removed by Procrustes
    assert res["per_action"]["Walking"]["frames"] == 4 and res["per_action"]["Sitting"]["frames"] == 2
    assert res["frames"] == 6


def test_error_table_action_mean_is_unweighted():
    _, gt = _poses(n=4)
    pred = gt.clone()
    pred[:3, :, 0] += 0.01  # "A": 3 frames at 10 mm
    pred[3:, :, 0] += 0.04  # "B": 1 frame at 40 mm
    res = bm.error_table(pred, gt, ["A", "A", "A", "B"], procrustes=False)
    assert res["mpjpe_mm"] == pytest.approx((3 * 10 + 40) / 4, abs=1e-4)
    assert res["mpjpe_action_mean_mm"] == pytest.approx(25.0, abs=1e-4)
    assert "p_mpjpe_mm" not in res


def test_flip_matches_posediff_flip_pose():
    x2d, x3d = _poses(n=8)
    mask = torch.tensor([True, False] * 4)
    f2, f3 = bm.flip_batch(x2d, x3d, mask, get_skeleton("h36m-17").flip_permutation)
    assert torch.allclose(f2[mask], flip_pose(x2d[mask], "h36m-17"))
    assert torch.allclose(f3[mask], flip_pose(x3d[mask], "h36m-17"))
    assert torch.equal(f2[~mask], x2d[~mask]) and torch.equal(f3[~mask], x3d[~mask])


def test_public_command_hides_data_path():
    cmd = bm.public_command(["--data", "/some/machine/shared/data/h36m", "--cpu-minutes", "2",
                             "--out", str(REPO / "benchmarks" / "results" / "x.json")], "/some/machine/shared/data/h36m")
    assert "/some/machine" not in cmd and "$POSEDIFF_SHARED/data/h36m" in cmd
    assert "benchmarks/results/x.json" in cmd and str(REPO) not in cmd


def test_from_log_rebuilds_a_stopped_run(tmp_path):
    import json

    log = tmp_path / "run.log"
    points = [{"cpu_minutes": 10.0, "wall_s": 600.0, "train_wall_s": 590.0, "samples_seen": 1000, "steps": 10,
               "lr": 1e-3, "train_loss_mm": 80.0, "s8_mpjpe_mm": 60.0, "s8_mpjpe_action_mean_mm": 61.0},
              {"cpu_minutes": 20.0, "wall_s": 1200.0, "train_wall_s": 1180.0, "samples_seen": 2000, "steps": 20,
               "lr": 9e-4, "train_loss_mm": 70.0, "s8_mpjpe_mm": 55.0, "s8_mpjpe_action_mean_mm": 56.0}]
    log.write_text("data: 1205688 train frames (464 sequences), 258712 S8 frames (120 sequences); loaded in 9 s\n"
                   + "\n".join(json.dumps(p) for p in points) + "\n")
    out = tmp_path / "mlp.json"
    res = bm.main(["--data", str(tmp_path), "--cpu-minutes", "140", "--out", str(out), "--from-log", str(log)])
    assert res["complete"] is False and res["budget"]["stopped_at_cpu_minutes"] == 20.0
    assert res["final"]["mpjpe_action_mean_mm"] == 56.0 and res["final"]["p_mpjpe_action_mean_mm"] is None
    assert res["learning_curve"] == points and res["data"]["eval_sequences"] == 120
    assert "--from-log" not in res["command"] and "$POSEDIFF_SHARED" in res["command"]
    assert json.loads(out.read_text())["complete"] is False
    with pytest.raises(SystemExit, match="no learning-curve line"):
        (tmp_path / "empty.log").write_text("nothing\n")
        bm.main(["--data", str(tmp_path), "--out", str(out), "--from-log", str(tmp_path / "empty.log")])
