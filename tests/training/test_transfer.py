"""Initial weights from another clip length: ``posediff train --init`` resamples the temporal embedding."""
from __future__ import annotations

import pytest
import torch

import posediff
from posediff.checkpoints import read_checkpoint
from posediff.errors import CheckpointError
from posediff.training import train
from posediff.training.transfer import load_init_weights, resample_frames

from training_helpers import TINY


def test_resample_frames_keeps_the_ends_and_interpolates_between():
    e = torch.randn(1, 9, 8, generator=torch.Generator().manual_seed(0))
    r = resample_frames(e, 81)
    assert r.shape == (1, 81, 8)
    torch.testing.assert_close(r[:, 0], e[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(r[:, -1], e[:, -1], rtol=0, atol=0)
    # frame 10 of 81 sits exactly on old frame 1 (10/80 = 1/8); frame 5 halfway between old frames 0 and 1
    torch.testing.assert_close(r[:, 10], e[:, 1], rtol=0, atol=1e-6)
    torch.testing.assert_close(r[:, 5], 0.5 * (e[:, 0] + e[:, 1]), rtol=0, atol=1e-6)
    assert torch.equal(resample_frames(e, 9), e)
    torch.testing.assert_close(resample_frames(e, 1)[:, 0], e[:, 4], rtol=0, atol=0)  # the middle frame
    down = resample_frames(r, 9)  # linear in between, so going back recovers the original
    torch.testing.assert_close(down, e, rtol=0, atol=1e-5)
    with pytest.raises(CheckpointError, match=r"\(1, T, C\)"):
        resample_frames(torch.zeros(9, 8), 27)


def test_init_from_a_shorter_window(tmp_path):
    short = tmp_path / "short"
    train("d3dp-tiny", out=short, max_steps=2, **{**TINY, "val_subjects": ["none"]})
    src = read_checkpoint(short / "checkpoints" / "last.pt")
    old_frames = src["spec"]["lifter"]["frames"]
    long_frames = 3 * old_frames
    lifter = posediff.build("d3dp-tiny", overrides={"lifter.frames": long_frames})
    notes = load_init_weights(lifter, short / "checkpoints" / "last.pt")
    assert notes == [f"--init: backbone.temporal_pos resampled from {old_frames} to {long_frames} frames "
                     "(linear in time)"]
    state = lifter.state_dict()
    for k, v in src["state_dict"].items():
        if k == "backbone.temporal_pos":
            torch.testing.assert_close(state[k], resample_frames(v, long_frames), rtol=0, atol=0)
        else:
            assert torch.equal(state[k], v), k
    # the training entry point takes it too, and says so
    res = train("d3dp-tiny", out=tmp_path / "long", overrides={"lifter.frames": long_frames}, max_steps=1,
                init_weights=short / "checkpoints" / "last.pt", **{**TINY, "val_subjects": ["none"]})
    assert any("resampled from" in n for n in res.notes)


def test_init_with_another_width_is_refused(tmp_path):
    short = tmp_path / "short"
    train("d3dp-tiny", out=short, max_steps=1, **{**TINY, "val_subjects": ["none"]})
    wide = posediff.build("d3dp-tiny", overrides={"lifter.dim": 64, "lifter.frames": 27})
    with pytest.raises(CheckpointError, match="does not fit this model|cannot be resampled"):
        load_init_weights(wide, short / "checkpoints" / "last.pt")
