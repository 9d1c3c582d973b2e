"""The training loop: learning, checkpoint contents, frozen towers, prompt cache, budgets, CLI."""
from __future__ import annotations

import json

import pytest
import torch

import posediff
from posediff.checkpoints import read_checkpoint
from posediff.errors import InputError
from posediff.training import train

from training_helpers import TINY, TINY_DATA


def test_loss_decreases_on_a_fixed_small_batch(tmp_path):
    # 8 training clips, batch 8: every step sees the same clips (only their order and the noise change).
    losses = []
    train("d3dp-tiny", out=tmp_path / "run", max_steps=30, on_step=lambda s: losses.append(s.loss),
          **{**TINY, "batch_size": 8, "val_subjects": ["none"]})
    assert len(losses) == 30
    first, last = sum(losses[:6]) / 6, sum(losses[-6:]) / 6
    assert last < 0.75 * first, (first, last)


def test_checkpoint_contents(tmp_path):
    res = train("d3dp-tiny", out=tmp_path / "run", max_steps=3, keep_every=2, **TINY)
    ck = tmp_path / "run" / "checkpoints"
    assert {p.name for p in ck.glob("*.pt")} == {"last.pt", "best.pt", "step_00000002.pt"}
    assert (ck / "last.pt.sha256").is_file()
    data = torch.load(ck / "last.pt", map_location="cpu", weights_only=True)  # plain data only
    assert data["format"] == "posediff" and data["spec"]["meta"]["name"] == "d3dp-tiny"
    tr = data["training"]
    assert (tr["step"], tr["epoch"], tr["index"]) == (3, 1, 4)  # 8 clips, batch 4: 2 steps per epoch
    assert set(tr["optimizer"]) == {"state", "param_groups"} and tr["optimizer"]["state"]
    assert tr["optimizer"]["param_groups"][0]["weight_decay"] == 0.1
    assert tr["scheduler"]["last_epoch"] == 1  # one epoch done: lr decayed once
    assert tr["optimizer"]["param_groups"][0]["lr"] == pytest.approx(1e-3 * 0.993)
    assert tr["scaler"] is None and tr["world_size"] == 1 and len(tr["rng"]) == 1
    assert set(tr["rng"][0]) >= {"python", "numpy", "torch", "noise"}
    assert tr["config"]["data"] == TINY_DATA and tr["config"]["max_steps"] == 3
    assert tr["best"]["metric"] == pytest.approx(res.best_val_mpjpe_mm)
    # the step_2 checkpoint is a snapshot of step 2, and every checkpoint loads as a model
    assert read_checkpoint(ck / "step_00000002.pt")["training"]["step"] == 2
    lifter = posediff.load(ck / "last.pt")
    assert all(torch.equal(v, res.lifter.state_dict()[k]) for k, v in lifter.state_dict().items())
    # run folder: spec, settings, logs, summary
    run = tmp_path / "run"
    assert posediff.build(str(run / "spec.toml")).spec == res.lifter.spec
    assert json.loads((run / "train_config.json").read_text())["lr"] == 1e-3
    rows = (run / "train_log.csv").read_text().splitlines()
    assert rows[0].startswith("step,epoch,index,loss,lr") and len(rows) == 4
    assert json.loads((run / "summary.json").read_text())["stop_reason"] == "max_steps"


def test_frozen_text_tower_and_prompt_cache(tmp_path):
    lifter = posediff.build("finepose-tiny")
    tower = lifter.conditioner.text_encoder
    frozen = {k: v.clone() for k, v in tower.state_dict().items()}
    assert not any(p.requires_grad for p in tower.parameters())
    modes = []
    res = train(lifter, out=tmp_path / "run", max_steps=3, val_every=1,
                on_step=lambda s: modes.append((s.lifter.training, s.lifter.conditioner.training, tower.training)),
                **TINY)
    assert modes == [(True, True, False)] * 3  # trainable parts train, the frozen tower stays in eval mode
    assert all(torch.equal(frozen[k], v) for k, v in tower.state_dict().items())
    ck = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    n_trainable = sum(1 for p in res.lifter.parameters() if p.requires_grad)
    assert len(ck["training"]["optimizer"]["param_groups"][0]["params"]) == n_trainable
    # the eval-mode prompt cache follows the weights: after an update, cached == freshly computed
    lf = res.lifter.eval()
    before = lf.condition(["Walking"], 1).vector.clone()
    with torch.no_grad():
        lf.conditioner.pool_proj.weight.add_(0.5)
    after = lf.condition(["Walking"], 1).vector
    fresh = posediff.build(lf.spec)
    fresh.load_state_dict(lf.state_dict())
    assert not torch.equal(before, after)
    assert torch.allclose(after, fresh.eval().condition(["Walking"], 1).vector)


def test_max_minutes_budget(tmp_path):
    res = train("d3dp-tiny", out=tmp_path / "run", max_minutes=1e-6, **TINY)
    assert res.stop_reason == "max_minutes" and res.step == 1
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()


def test_epochs_budget_and_lr_decay(tmp_path):
    lrs = []
    res = train("d3dp-tiny", out=tmp_path / "run", epochs=3, on_step=lambda s: lrs.append(s.lr), **TINY)
    assert res.stop_reason == "epochs" and (res.step, res.epoch, res.index) == (6, 3, 0)
    assert lrs == pytest.approx([1e-3, 1e-3, 1e-3 * 0.993, 1e-3 * 0.993, 1e-3 * 0.993**2, 1e-3 * 0.993**2])


def test_grad_accum_and_label_dropout(tmp_path):
    res = train("finepose-tiny", out=tmp_path / "run", max_steps=2, grad_accum=2, action_dropout=0.5, **TINY)
    assert res.step == 2 and res.final_loss > 0


def test_existing_run_needs_resume(tmp_path):
    train("d3dp-tiny", out=tmp_path / "run", max_steps=1, **TINY)
    with pytest.raises(InputError, match="resume"):
        train("d3dp-tiny", out=tmp_path / "run", max_steps=1, **TINY)


def test_exception(tmp_path):
    with pytest.raises(InputError):
        train("d3dp-tiny", out=tmp_path / "a", **{**TINY, "batch_size": 4, "grad_accum": 5})
    with pytest.raises(InputError):
        train(None, out=tmp_path / "b", **TINY)
    with pytest.raises(InputError):
        train("d3dp-tiny", out=tmp_path / "c", **{**TINY, "amp": "fp16", "device": "cpu"})


def test_cli_train_and_resume(tmp_path, capsys):
    from posediff.cli import main

    out = str(tmp_path / "run")
    assert main(["train", "d3dp-tiny", "--data", TINY_DATA, "--out", out, "--max-steps", "2", "--lr", "1e-3",
                 "--no-progress", "--val-windows", "2"]) == 0
    assert "step 2" in capsys.readouterr().out
    assert main(["train", "--resume", "--out", out, "--max-steps", "3", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "step 3" in text
    ck = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert ck["training"]["step"] == 3 and ck["training"]["config"]["lr"] == 1e-3
    assert main(["train", "--out", str(tmp_path / "x"), "--no-progress"]) == 2  # SPEC missing


def test_micro_batch_splits_like_grad_accum(tmp_path, monkeypatch):
    """micro_batch=1 on a 4-clip step runs 4 passes of 1 clip: the same trajectory as grad_accum=4;
    auto (0) on CPU uses the lifter's cache_rows."""
    from posediff import lifter as lifter_mod

    passes = []
    orig = lifter_mod.PoseLifter.training_loss

    def counting(self, x2d, *a, **k):
        passes.append(int(x2d.shape[0]))
        return orig(self, x2d, *a, **k)

    monkeypatch.setattr(lifter_mod.PoseLifter, "training_loss", counting)
    a = train("d3dp-tiny", out=tmp_path / "a", max_steps=2, micro_batch=1, **TINY)
    assert passes[:8] == [1] * 8
    passes.clear()
    b = train("d3dp-tiny", out=tmp_path / "b", max_steps=2, grad_accum=4, **TINY)
    assert passes[:8] == [1] * 8
    assert a.final_loss == b.final_loss
    passes.clear()
    train("d3dp-tiny", out=tmp_path / "c", max_steps=1, **TINY)  # auto: tiny clips fit the cache block
    assert passes[0] == 4
    # auto with a small cache block: 2 clips per pass
    monkeypatch.setattr(lifter_mod.PoseLifter, "cache_rows", lambda self, dtype=None, frames=None: 2)
    passes.clear()
    train("d3dp-tiny", out=tmp_path / "d", max_steps=1, **TINY)
    assert passes[:2] == [2, 2]
    passes.clear()
    train("d3dp-tiny", out=tmp_path / "e", max_steps=1, official_grad=True, **TINY)  # auto never splits
    assert passes[0] == 4
    with pytest.raises(InputError, match="micro_batch"):
        train("d3dp-tiny", out=tmp_path / "f", max_steps=1, micro_batch=-1, **TINY)


def test_regression_objective_trains_every_clip_at_the_last_step(tmp_path, monkeypatch):
    """The deterministic baseline of issue 19 (item 5): the same backbone, every clip at t = T-1."""
    from posediff.lifter import PoseLifter

    seen = []
    original = PoseLifter.run_denoiser

    def spy(self, x2d, y_t, t, cond):
        seen.append(t.detach().clone())
        return original(self, x2d, y_t, t, cond)

    monkeypatch.setattr(PoseLifter, "run_denoiser", spy)
    train("d3dp-tiny", out=tmp_path / "reg", max_steps=2, objective="regression",
          **{**TINY, "val_subjects": ["none"]})
    last = int(posediff.build("d3dp-tiny").sampler.schedule.timesteps) - 1
    assert seen and all(bool((t == last).all()) for t in seen)
    stored = json.loads((tmp_path / "reg" / "train_config.json").read_text())
    assert stored["objective"] == "regression"
    model = posediff.load(tmp_path / "reg" / "checkpoints" / "last.pt")
    assert (model.sampling.steps, model.sampling.hypotheses) == (1, 1)  # one step from noise: its prediction
    seen.clear()
    train("d3dp-tiny", out=tmp_path / "x0", max_steps=2, **{**TINY, "val_subjects": ["none"]})
    steps = torch.cat(seen)
    assert len(set(steps.tolist())) > 1  # the diffusion objective draws a step per clip


def test_regression_sampling_keeps_what_the_user_set():
    from posediff.training.validation import with_regression_sampling

    merged, notes = with_regression_sampling({"sampler.steps": 3})
    assert merged == {"sampler.steps": 3, "sampler.hypotheses": 1} and "hypotheses=1" in notes[0]
    merged, notes = with_regression_sampling(["sampler.hypotheses=4", "sampler.steps=2"])
    assert merged == ["sampler.hypotheses=4", "sampler.steps=2"] and notes == []
    assert with_regression_sampling(None)[0] == ["sampler.steps=1", "sampler.hypotheses=1"]


def test_regression_objective_and_bad_steps_are_checked():
    lifter = posediff.build("d3dp-tiny")
    x, y = torch.zeros(2, lifter.frames, 17, 2), torch.zeros(2, lifter.frames, 17, 3)
    with pytest.raises(InputError, match=r"step must be an int in \[0, "):
        lifter.training_loss(x, y, step=10**6)
    with pytest.raises(InputError, match="objective must be 'x0'"):
        train("d3dp-tiny", out="unused", max_steps=1, objective="ddpm", **TINY)
