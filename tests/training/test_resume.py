"""Exact resume: a killed and resumed run ends bit-identical to an uninterrupted one; corrupted newest
checkpoint → the last good one is used."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from posediff.errors import CheckpointError
from posediff.training import find_resume_checkpoint, train

from training_helpers import TINY, TINY_DATA, optimizer_equal, state_equal

REPO = Path(__file__).resolve().parents[2]
STEPS = 9  # 2 steps per epoch: crosses four epoch ends (lr decay, new clip order)


class Killed(Exception):
    """Stands in for a crash: raised from on_step, so no final checkpoint is written."""


def _kill_at(step):
    def hook(info):
        if info.step == step:
            raise Killed()
    return hook


def _final(run: Path):
    data = torch.load(run / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    return data["state_dict"], data["training"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    torch.set_num_threads(1)
    run = tmp_path_factory.mktemp("ref") / "run"
    train("d3dp-tiny", out=run, max_steps=STEPS, checkpoint_every=2, keep_every=3, **TINY)
    return _final(run)


def _assert_same(run: Path, reference):
    sd, tr = _final(run)
    ref_sd, ref_tr = reference
    assert state_equal(sd, ref_sd)
    assert optimizer_equal(tr["optimizer"], ref_tr["optimizer"])
    assert tr["scheduler"] == ref_tr["scheduler"]
    assert (tr["step"], tr["epoch"], tr["index"]) == (ref_tr["step"], ref_tr["epoch"], ref_tr["index"])
    assert torch.equal(tr["rng"][0]["noise"], ref_tr["rng"][0]["noise"])


def test_resume_after_crash_is_exact(tmp_path, reference):
    run = tmp_path / "run"
    with pytest.raises(Killed):
        train("d3dp-tiny", out=run, max_steps=STEPS, checkpoint_every=2, keep_every=3, on_step=_kill_at(7), **TINY)
    assert _final(run)[1]["step"] == 6  # the newest checkpoint predates the crash: steps 7 is replayed
    res = train(None, out=run, resume=True, max_steps=STEPS, **TINY)
    assert res.resumed_from.name == "last.pt" and res.step == STEPS
    _assert_same(run, reference)
    # the CSV log holds every step once, in order
    steps = [int(r.split(",")[0]) for r in (run / "train_log.csv").read_text().splitlines()[1:]]
    assert steps == list(range(1, STEPS + 1))


def test_resume_after_budget_stop_is_exact(tmp_path, reference):
    run = tmp_path / "run"
    train("d3dp-tiny", out=run, max_steps=4, checkpoint_every=2, keep_every=3, **TINY)
    train(None, out=run, resume=True, max_steps=STEPS, **TINY)
    _assert_same(run, reference)


def test_corrupted_newest_checkpoint_falls_back(tmp_path, reference):
    run = tmp_path / "run"
    with pytest.raises(Killed):
        train("d3dp-tiny", out=run, max_steps=STEPS, checkpoint_every=2, keep_every=3, on_step=_kill_at(8),
              **{**TINY, "val_subjects": ["none"]})  # no best.pt: the fallback is step_6
    last = run / "checkpoints" / "last.pt"
    raw = bytearray(last.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # flip one byte: the recorded SHA-256 no longer matches
    last.write_bytes(bytes(raw))
    path, ck, notes = find_resume_checkpoint(run)
    assert path.name == "step_00000006.pt" and ck["training"]["step"] == 6
    assert any("last.pt" in n and "corrupted" in n for n in notes)
    res = train(None, out=run, resume=True, max_steps=STEPS, **TINY)
    assert res.resumed_from.name == "step_00000006.pt"
    _assert_same(run, reference)


def test_truncated_checkpoints_only(tmp_path):
    run = tmp_path / "run"
    train("d3dp-tiny", out=run, max_steps=1, val_subjects=["none"], **{k: v for k, v in TINY.items()})
    last = run / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:100])
    (run / "checkpoints" / "last.pt.sha256").unlink()  # no hash: the truncated file itself fails to load
    with pytest.raises(CheckpointError, match="no readable checkpoint"):
        find_resume_checkpoint(run)


def test_resume_of_empty_folder_starts_fresh(tmp_path):
    assert find_resume_checkpoint(tmp_path / "nothing") == (None, None, [])
    res = train("d3dp-tiny", out=tmp_path / "nothing", resume=True, max_steps=1, **TINY)
    assert res.resumed_from is None and res.step == 1


@pytest.mark.slow
def test_sigkill_and_resume_via_cli(tmp_path):
    """A real crash: the training process is killed with SIGKILL mid-run, then resumed from the CLI."""
    steps, args = 9, ["--checkpoint-every", "2", "--keep-every", "3", "--lr", "1e-3", "--val-windows", "4",
                      "--log-every", "1", "--batch-size", "8", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def posediff(*extra, **kw):
        return [sys.executable, "-m", "posediff", "train", *extra, *args]

    ref = tmp_path / "ref"
    done = subprocess.run(posediff("d3dp-tiny", "--data", TINY_DATA, "--out", str(ref), "--max-steps", str(steps)),
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "run"
    proc = subprocess.Popen(posediff("d3dp-tiny", "--data", TINY_DATA, "--out", str(run), "--max-steps", "1000"),
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        log = run / "train_log.csv"
        while time.monotonic() < deadline:
            if log.is_file() and len(log.read_text().splitlines()) >= 6:  # header + 5 steps
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    step_at_kill = _final(run)[1]["step"]
    assert 4 <= step_at_kill < steps
    done = subprocess.run([sys.executable, "-m", "posediff", "train", "--resume", "--out", str(run),
                           "--max-steps", str(steps), "--no-progress"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    _assert_same(run, _final(ref))
