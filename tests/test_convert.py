"""Official-checkpoint converter: key mapping both ways, checks and errors (no fixture needed)."""
from __future__ import annotations

import argparse
import warnings

import numpy as np
import pytest
import torch

import posediff
from posediff.convert import (
    _cosine_alphas_cumprod,
    from_official,
    inspect_official,
    load_official_components,
    read_official,
    to_official,
)
from posediff.errors import CheckpointError

import open_clip  # noqa: E402,F401  (a required dependency: missing it is a failure, not a skip)


def _lifter(preset: str, seed: int):
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lifter = posediff.build(preset)
    with torch.no_grad():  # make every tensor distinctive (zero-init layers included)
        for p in lifter.parameters():
            p.copy_(torch.randn_like(p) * 0.05)
    return lifter.eval()


def _blocks(lifter):
    from posediff.fusion.fpc import FPCFusion
    from posediff.fusion.pts import PTSFusion

    fpc = next((m for m in lifter.modules() if isinstance(m, FPCFusion)), None)
    pts = next((m for m in lifter.modules() if isinstance(m, PTSFusion)), None)
    return fpc, pts


def _official(lifter, text=True) -> dict:
    fpc, pts = _blocks(lifter)
    sd = to_official(backbone=lifter.backbone, conditioner=lifter.conditioner if text else None, fpc=fpc, pts=pts,
                     alphas_cumprod=_cosine_alphas_cumprod(1000))
    # what a real checkpoint also holds, and the converter must ignore
    sd["module.pose_estimator.clip_text.visual.conv1.weight"] = torch.randn(8, 3, 4, 4)
    sd["module.pose_estimator.clip_text.text_projection"] = torch.randn(4, 4)
    sd["module.pose_estimator.clip_text.logit_scale"] = torch.tensor(4.6)
    return sd


@pytest.fixture(scope="module")
def tiny():
    return _lifter("finepose-tiny", 0)


def _inputs(lifter, b=2):
    g = torch.Generator().manual_seed(0)
    t_frames = lifter.frames
    return (torch.randn(b, t_frames, 17, 2, generator=g), torch.randn(b, t_frames, 17, 3, generator=g),
            torch.tensor([999, 3]))


def test_official_names(tiny):
    sd = _official(tiny)
    for key in ("module.pose_estimator.Spatial_patch_to_embedding.weight", "module.pose_estimator.time_mlp.3.bias",
                "module.pose_estimator.STEblocks.1.attn.qkv.weight", "module.pose_estimator.head.0.weight",
                "module.pose_estimator.temporal_cross_attn.proj_out.out_layers.2.weight",
                "module.pose_estimator.textTransEncoder.layers.0.self_attn.in_proj_weight",
                "module.pose_estimator.clip_text.transformer.resblocks.1.mlp.c_proj.bias",
                "module.pose_estimator.ctx_verb", "module.pose_estimator.text_proj.0.weight", "module.betas"):
        assert key in sd, key
    assert sd["module.pose_estimator.ctx_verb"].shape[0] == 8
    info = inspect_official(read_official(sd))
    assert info["depth"] == 2 and info["frames"] == tiny.frames and info["dim"] == 128
    assert info["lengths"] == [7, 12, 10, 10, 10, 14, 14] and info["clip_layers"] == 2
    assert info["adapter_layers"] == 1 and info["adapter_ff"] == 256 and info["has_action"]


def test_from_official_round_trip(tiny, tmp_path):
    path = tmp_path / "best_epoch_20_10.bin"
    torch.save({"epoch": 3, "lr": 1e-4, "model_pos": _official(tiny)}, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for pairing in ("sample", "official"):
            back = from_official(path, spec="finepose-tiny", pairing=pairing)
            assert _blocks(back)[0].pairing == pairing
    assert back.conditioner.train_modifiers is False
    assert not any(m.requires_grad for m in back.conditioner.modifiers)
    ours = {k: v for k, v in tiny.state_dict().items() if k.startswith(("backbone.", "conditioner.", "sites."))}
    theirs = back.state_dict()
    for k, v in ours.items():
        assert torch.equal(theirs[k], v), k
    x2d, y_t, t = _inputs(tiny)
    with torch.no_grad():
        torch.testing.assert_close(back.denoise(x2d, y_t, t, ["Walking", "Walking"]),
                                   tiny.denoise(x2d, y_t, t, ["Walking", "Walking"]))


def test_npz_and_plain_dict_sources(tiny, tmp_path):
    sd = _official(tiny)
    np.savez(tmp_path / "w.npz", **{k: v.numpy() for k, v in sd.items()})
    a = read_official(tmp_path / "w.npz")
    b = read_official(sd)
    assert a.keys() == b.keys() and "Spatial_pos_embed" in a and "betas" in a


def test_d3dp_checkpoint(tmp_path):
    d3dp = _lifter("d3dp-tiny", 1)
    sd = to_official(backbone=d3dp.backbone, alphas_cumprod=_cosine_alphas_cumprod(1000))
    back = from_official(sd, spec="d3dp-tiny")
    for k, v in d3dp.backbone.state_dict().items():
        assert torch.equal(back.backbone.state_dict()[k], v), k
    with pytest.raises(CheckpointError, match="d3dp"):
        from_official(sd, spec="finepose-tiny")


def test_text_checkpoint_needs_text_spec(tiny):
    with pytest.raises(CheckpointError, match="finepose"):
        from_official(_official(tiny), spec="d3dp-tiny")


def test_missing_unexpected_and_shape_errors(tiny):
    fpc, pts = _blocks(tiny)
    parts = dict(backbone=tiny.backbone, conditioner=tiny.conditioner, fpc=fpc, pts=pts)
    sd = _official(tiny)
    load_official_components(sd, **parts)  # complete: fine

    missing = dict(sd)
    del missing["module.pose_estimator.TTEblocks.1.mlp.fc2.bias"]
    with pytest.raises(CheckpointError, match=r"temporal_blocks\.1\.mlp\.fc2\.bias"):
        load_official_components(missing, **parts)

    extra = dict(sd, **{"module.pose_estimator.STEblocks.2.norm1.weight": torch.ones(128)})
    with pytest.raises(CheckpointError, match=r"spatial_blocks\.2\.norm1\.weight"):
        load_official_components(extra, **parts)

    unknown = dict(sd, **{"module.pose_estimator.mystery.weight": torch.ones(3)})
    with pytest.raises(CheckpointError, match="mystery"):
        load_official_components(unknown, **parts)

    shape = dict(sd, **{"module.pose_estimator.head.1.weight": torch.ones(3, 64)})
    with pytest.raises(CheckpointError, match="shape"):
        load_official_components(shape, **parts)

    with pytest.raises(CheckpointError, match="conditioner"):
        load_official_components(sd, backbone=tiny.backbone, fpc=fpc, pts=pts)


def test_diffusion_buffers_are_verified(tiny):
    fpc, pts = _blocks(tiny)
    parts = dict(backbone=tiny.backbone, conditioner=tiny.conditioner, fpc=fpc, pts=pts)
    sd = _official(tiny)
    bad = dict(sd, **{"module.alphas_cumprod": sd["module.alphas_cumprod"] * 0.99})
    with pytest.raises(CheckpointError, match="alphas_cumprod"):
        load_official_components(bad, **parts)
    short = dict(sd, **{"module.betas": sd["module.betas"][:500]})
    with pytest.raises(CheckpointError, match="betas"):
        load_official_components(short, **parts)


def test_official_schedule_buffers_match_fixture(fixture_dir):
    data = np.load(fixture_dir / "denoiser.npz")
    from posediff.convert import DIFFUSION_BUFFERS, official_schedule_buffers

    ours = official_schedule_buffers(_cosine_alphas_cumprod(1000))
    for key in DIFFUSION_BUFFERS:
        np.testing.assert_allclose(ours[key].numpy(), data[f"module.{key}"], rtol=1e-9, atol=1e-12)


def test_unreadable_checkpoints(tmp_path):
    torch.save({"model_pos": {"x": argparse.Namespace(a=1)}}, tmp_path / "pickled.bin")
    with pytest.raises(CheckpointError, match="weights_only"):
        read_official(tmp_path / "pickled.bin")
    with pytest.raises(CheckpointError, match="not found"):
        read_official(tmp_path / "absent.bin")
    with pytest.raises(CheckpointError, match="not an official"):
        inspect_official(read_official({"foo": torch.ones(1)}))
    with pytest.raises(CheckpointError, match="pairing"):
        from_official({"foo": torch.ones(1)}, pairing="wrong")
