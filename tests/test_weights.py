"""Shipped weights: names, hash check, safe loading, and what they give on held-out Human3.6M S8."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

import posediff
from posediff import metrics as M
from posediff import weights as W
from posediff.checkpoints import file_sha256
from posediff.errors import CheckpointError, InputError

SHIPPED = "finepose-base-h36m"
STREAMING = "finepose-small-h36m"


def test_shipped_models_are_listed_with_records():
    names = W.list_weights()
    assert {SHIPPED, STREAMING, "d3dp-small-h36m"} <= set(names)
    for name in names:
        rec = W.weights_record(name)
        path = W.weights_path(name)
        assert rec["sha256"] == file_sha256(path)
        assert path.stat().st_size <= 15 * 1024 * 1024
        for key in ("spec", "command", "commit", "data", "steps", "cpu_minutes", "wall_minutes", "torch"):
            assert rec.get(key) not in (None, ""), (name, key)
        assert rec["data"]["held_out"] == ["S8"] and "S8" not in rec["data"]["train_subjects"]
        assert "/work/" not in json.dumps(rec) and "/home/" not in json.dumps(rec)
    assert W.ALIASES["h36m"] == SHIPPED and W.is_weights_name("h36m") and not W.is_weights_name("model.pt")
    assert W.ALIASES[W.STREAMING_WEIGHTS] == STREAMING and W.ALIASES[W.DEFAULT_WEIGHTS] == SHIPPED


def test_default_weights_see_long_context_and_streaming_a_short_window():
    """Issue 19 item 7: the default is the 81-frame model; streaming keeps the 9-frame one (less look-ahead)."""
    import warnings

    import argparse

    from posediff.cli.stream_cmd import add_parser

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert posediff.load("h36m").frames == 81 and posediff.load(W.STREAMING_WEIGHTS).frames == 9
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    assert parser.parse_args(["stream", "kps.npz"]).weights == W.STREAMING_WEIGHTS
    rec = W.weights_record("h36m")
    assert [s["steps"] for s in rec["stages"]] == [5000, 7000, 2000, 1600] and rec["cpu_minutes"] <= 12 * 60


def test_shipped_weights_load_with_weights_only():
    data = torch.load(W.weights_path("h36m"), map_location="cpu", weights_only=True)
    assert data["format"] == "posediff" and set(data) >= {"spec", "state_dict"}
    assert "training" not in data  # no optimizer or random states shipped
    lifter = posediff.load(W.weights_path("h36m"))
    assert lifter.spec["meta"]["name"] == SHIPPED


def test_damaged_or_unknown_weights_are_refused(tmp_path, monkeypatch):
    for suffix in (".pt", ".json"):
        shutil.copy(W.weights_path(SHIPPED).with_suffix(suffix), tmp_path / f"{SHIPPED}{suffix}")
    monkeypatch.setattr(W, "_folder", lambda: tmp_path)
    assert W.weights_path(SHIPPED).parent == tmp_path
    blob = bytearray((tmp_path / f"{SHIPPED}.pt").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (tmp_path / f"{SHIPPED}.pt").write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="SHA-256"):
        W.weights_path("h36m")
    with pytest.raises(InputError, match="unknown shipped model"):
        W.weights_path("finepose-huge")


# ------------------------------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def s8(shared_dir):
    from posediff.training.datasets import load_dataset

    path = shared_dir / "data" / "h36m"
    if not (path / "data_3d_h36m.npz").is_file():
        pytest.skip(f"Human3.6M not found in {path}")
    return load_dataset(f"h36m:{path}", ["S8"], role="val")


def _root_aligned_mpjpe_mm(pred, gt) -> float:
    pred = torch.as_tensor(pred, dtype=torch.float64)
    gt = torch.as_tensor(gt, dtype=torch.float64)
    return 1000 * float(M.mpjpe(pred - pred[:, :1], gt - gt[:, :1]))


def test_shipped_model_lifts_a_real_s8_clip(s8):
    """Ground-truth 2D of a held-out clip, with the camera: the figure class of docs/results.md."""
    seq = next(s for s in s8 if s.action == "Walking 1")
    res = posediff.lift(seq.x2d[:200], format="h36m-17", coords="normalized", camera=seq.camera, seed=0)
    err = _root_aligned_mpjpe_mm(res.poses3d, seq.x3d[:200])
    assert err < 70.0, err


@pytest.mark.slow
def test_default_lift_of_detector_like_s8_keypoints(s8):
    """Issue 10's done-when: the default `lift` (shipped weights, default aggregator, no camera) on held-out
    S8 given as a detector gives it (COCO-17 pixels, 3 px noise, dropped joints) is below 60 mm."""
    from posediff.data.simulate import detector_like_keypoints

    errs, frames = [], []
    for i, action in enumerate(("Walking 1", "Directions 1", "Eating 1", "Phoning 1")):
        seq = next(s for s in s8 if s.action == action)
        kp = detector_like_keypoints(seq, noise_px=3.0, drop=0.03, seed=i, start=100, frames=150)
        res = posediff.lift(kp, format="coco17", image_size=seq.image_size, seed=0)
        assert res.metadata["camera"] is None or res.aggregator_used != "jpma"
        errs.append(_root_aligned_mpjpe_mm(res.poses3d, seq.x3d[100:250]))
        frames.append(150)
    mean = float(np.average(errs, weights=frames))
    assert mean < 60.0, errs


def test_frozen_tensors_rebuilt_from_the_spec(tmp_path):
    """A checkpoint may omit frozen tensors the spec rebuilds bit for bit; a mismatch is refused."""
    import warnings

    from posediff.checkpoints import save_checkpoint, tensors_digest
    from posediff.loading import regenerable_keys

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lifter = posediff.build("finepose-tiny", overrides={"backbone.depth": 1})
        spec = lifter.spec
        keys = regenerable_keys(lifter, spec)
    assert keys and all(k.startswith("conditioner.text_encoder.") for k in keys)
    trainable = {n for n, p in lifter.named_parameters() if p.requires_grad}
    assert not trainable & set(keys)
    state = lifter.state_dict()
    payload = {"format": "posediff", "version": 1, "spec": spec,
               "state_dict": {k: v for k, v in state.items() if k not in keys},
               "regenerated": {"keys": keys, "sha256": tensors_digest(state, keys)}}
    save_checkpoint(payload, tmp_path / "ok.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = posediff.load(tmp_path / "ok.pt")
    for k, v in state.items():
        assert torch.equal(back.state_dict()[k], v), k
    payload["regenerated"]["sha256"] = "0" * 64
    save_checkpoint(payload, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="rebuilt from the spec"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        posediff.load(tmp_path / "bad.pt")
