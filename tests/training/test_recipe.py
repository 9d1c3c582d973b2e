"""The CPU-budget training recipe: augmentation, cosine schedule, EMA, recipes, resume with all of them."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from posediff.data.formats import interpolate_missing
from posediff.errors import InputError
from posediff.training import train
from posediff.training.augment import add_keypoint_noise, drop_joints, fill_missing_in_time
from posediff.training.config import RECIPES, TrainConfig, recipe_settings
from posediff.training.ema import WeightEMA
from posediff.training.schedule import cosine_lr


# ------------------------------------------------------------------------------------------ augmentation
def test_fill_missing_matches_inference_interpolation():
    """Training fills dropped joints exactly as inference fills missing detections."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 11, 5, 2))
    obs = rng.random((3, 11, 5)) > 0.4
    obs[:, 0, 0] = True  # joint 0 observed somewhere in every clip
    obs[1, :, 3] = False  # joint 3 of clip 1 never observed: left as it was
    got = fill_missing_in_time(torch.from_numpy(x), torch.from_numpy(obs)).numpy()
    for b in range(3):
        seen = obs[b].any(axis=0)
        want = x[b].copy()
        want[:, seen] = interpolate_missing(x[b][:, seen], obs[b][:, seen])
        np.testing.assert_allclose(got[b], want, atol=1e-12)
    np.testing.assert_array_equal(got[1, :, 3], x[1, :, 3])


def test_drop_joints_changes_only_dropped_entries_and_is_seeded():
    x = torch.randn(4, 9, 17, 2)
    a = drop_joints(x, 0.3, torch.Generator().manual_seed(1))
    b = drop_joints(x, 0.3, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    changed = (a != x).any(-1)
    assert 0.1 < changed.float().mean() < 0.35
    assert drop_joints(x, 0.0, None) is x


def test_keypoint_noise_scale():
    x = torch.zeros(4000, 1, 1, 2)
    y = add_keypoint_noise(x, 0.01, torch.Generator().manual_seed(0))
    # σ ~ U[0, s]: E[σ²] = s²/3
    assert math.isclose(float(y.pow(2).mean()), 0.01 ** 2 / 3, rel_tol=0.1)
    assert add_keypoint_noise(x, 0.0) is x


# ------------------------------------------------------------------------------------------ schedule and EMA
def test_cosine_schedule_shape():
    lrs = [cosine_lr(s, 1e-3, 100, warmup_steps=10, final_ratio=0.1) for s in range(120)]
    assert lrs[0] == pytest.approx(1e-4)
    assert lrs[9] == pytest.approx(1e-3)
    assert max(lrs) == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[100] == pytest.approx(1e-4) and lrs[119] == pytest.approx(1e-4)


def test_ema_tracks_weights_and_copies_buffers():
    m = nn.BatchNorm1d(3)
    ema = WeightEMA(m, 0.5)
    with torch.no_grad():
        m.weight.fill_(3.0)
        m.running_mean.fill_(7.0)
    ema.update(m)  # warmed-up decay: min(0.5, 1/10) = 0.1 → 0.1·1 + 0.9·3
    assert torch.allclose(ema.shadow["weight"], torch.full((3,), 2.8))
    assert torch.equal(ema.shadow["running_mean"], torch.full((3,), 7.0))
    own = ema.swap_into(m)
    assert torch.allclose(m.weight, torch.full((3,), 2.8)) and torch.equal(own["weight"], torch.full((3,), 3.0))
    with pytest.raises(ValueError, match="decay"):
        WeightEMA(m, 1.0)


# ------------------------------------------------------------------------------------------ config
def test_recipes_are_valid_configs():
    for name in RECIPES:
        cfg = TrainConfig(**recipe_settings(name))
        assert cfg.recipe == name
    assert TrainConfig().recipe == "official" and TrainConfig().lr_schedule == "exponential"
    with pytest.raises(InputError, match="unknown training recipe"):
        recipe_settings("fastest")


@pytest.mark.parametrize("field,value", [("lr_schedule", "linear"), ("ema_decay", 1.0), ("noise_2d", -0.1),
                                         ("joint_dropout", 0.9), ("warmup_steps", -1), ("recipe", "x")])
def test_bad_recipe_settings_are_named(field, value):
    with pytest.raises(InputError, match=field):
        TrainConfig(**{field: value})


def test_cli_recipe_auto_is_cpu_without_cuda(monkeypatch):
    from posediff.cli.train_cmd import recipe_for

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert recipe_for("auto", "auto")["recipe"] == "cpu"
    assert recipe_for("auto", "cuda")["recipe"] == "official"
    assert recipe_for("official", "cpu") == {"recipe": "official"}


# ------------------------------------------------------------------------------------------ the loop
def _run(out, **kw):
    settings = dict(recipe_settings("cpu"))
    settings.update(data="synthetic:subjects=2,frames=54,seed=0", batch_size=4, progress=False, val_windows=4,
                    checkpoint_every=3, log_every=1, warmup_steps=2)
    settings.update(kw)
    return train("d3dp-tiny", out=out, overrides={"backbone.depth": 1, "lifter.dim": 32}, **settings)


def test_cpu_recipe_resume_is_exact_and_ships_ema_weights(tmp_path):
    # the schedule length is fixed up front (a run stopped early by max_steps keeps the schedule it started with)
    full = _run(tmp_path / "full", max_steps=6, schedule_steps=6)
    _run(tmp_path / "part", max_steps=3, schedule_steps=6)
    part = train(out=tmp_path / "part", resume=True, max_steps=6, progress=False)
    assert part.step == full.step == 6
    for k, v in full.lifter.state_dict().items():
        assert torch.equal(v, part.lifter.state_dict()[k]), k
    ckpt = torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=True)
    tr = ckpt["training"]
    assert tr["config"]["schedule_steps"] == 6 and tr["ema_updates"] == 6
    # state_dict holds the averaged weights (what users load), raw_state_dict the trained ones
    assert any(not torch.equal(ckpt["state_dict"][k], tr["raw_state_dict"][k]) for k in tr["raw_state_dict"])
    for k, v in ckpt["state_dict"].items():
        assert torch.equal(v, full.lifter.state_dict()[k])


def test_cosine_lr_reaches_floor(tmp_path):
    res = _run(tmp_path / "r", max_steps=5, warmup_steps=0, final_lr_ratio=0.1, ema_decay=0.0)
    import csv

    rows = list(csv.DictReader(open(res.run_dir / "train_log.csv")))
    lrs = [float(r["lr"]) for r in rows]
    peak = RECIPES["cpu"]["lr"]
    assert lrs[0] == pytest.approx(peak)
    assert lrs[-1] == pytest.approx(cosine_lr(4, peak, 5, 0, 0.1), rel=1e-5)  # CSV keeps 6 digits
    assert lrs == sorted(lrs, reverse=True)
