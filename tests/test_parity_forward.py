"""Parity with the official FinePOSE denoiser (shared/fixtures/official_finepose/forward.npz).

The fixture's weights (``denoiser.npz``, an official DataParallel state dict) are loaded through
the converter into posediff components, and every stored intermediate and output is reproduced:
CLIP input/output, P_tokens, P[L], F(t), the FPC+PTS site input/output, and the denoiser output
with correct ("sample") and official (mis-paired) FPC pairing. Expected max abs diff ≈ 2e-6;
tolerance 1e-4. A second group checks that mis-set constants are detected.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from torch import nn

from posediff.backbones.mixste import MixSTEBackbone
from posediff.conditioners.fpp import FPPConditioner
from posediff.convert import load_official_components
from posediff.fusion import FusionSite
from posediff.fusion.fpc import FPCFusion
from posediff.fusion.pts import PTSFusion
from posediff.text_encoders.clip_tower import expect_external_weights
from posediff.text_encoders.open_clip import OpenCLIPTextEncoder

pytestmark = pytest.mark.parity
import open_clip  # noqa: E402,F401  (a required dependency: missing it is a failure, not a skip)

TOL = 1e-4
CASES = (0, 1, 2)


class Composed:
    """The official FinePOSE denoiser composed from posediff components (no lifter needed)."""

    def __init__(self, fixture_dir):
        with expect_external_weights():
            self.encoder = OpenCLIPTextEncoder(model="ViT-B-32", weights="", layers=2, width=512, heads=8)
        self.conditioner = FPPConditioner(self.encoder, dim=512, train_modifiers=False)
        self.backbone = MixSTEBackbone(dim=512, frames=27, joints=17, depth=2, drop_path=0.1)
        self.fpc = FPCFusion(dim=512, cond_dim=512)
        self.pts = PTSFusion(dim=512)
        self.site = FusionSite([self.fpc, self.pts], residual=True)
        load_official_components(fixture_dir / "denoiser.npz", backbone=self.backbone,
                                 conditioner=self.conditioner, fpc=self.fpc, pts=self.pts)
        for m in (self.conditioner, self.backbone, self.site):
            m.eval()

    def denoise(self, case, f, pairing="sample", capture=None):
        self.fpc.pairing = pairing
        hook = None
        if capture is not None:
            hook = self.site.register_forward_hook(lambda m, a, o: capture.update(inp=a[0], out=o))
        try:
            with torch.no_grad():
                cond = self.conditioner(actions(f, case), 2)
                return self.backbone(*inputs(f, case), cond, {"spatial.0": self.site})
        finally:
            if hook is not None:
                hook.remove()


def actions(f, case):
    return [str(a) for a in f[f"actions_{case}"]]


def inputs(f, case):
    return tuple(torch.from_numpy(f[f"{k}_{case}"]) for k in ("x2d", "yt", "t"))


def maxdiff(a, b) -> float:
    return (a.detach().float() - torch.from_numpy(np.asarray(b)).float()).abs().max().item()


@pytest.fixture(scope="module")
def fwd(fixture_dir):
    with np.load(fixture_dir / "forward.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def model(fixture_dir):
    return Composed(fixture_dir)


@pytest.mark.parametrize("case", CASES)
def test_prompt_branch(model, fwd, case):
    cond = model.conditioner
    keys = cond.keys_for(actions(fwd, case), 2)
    ids = torch.stack([cond.token_ids(k) for k in keys])
    assert np.array_equal(ids.numpy(), fwd[f"text_{case}"])
    assert np.array_equal(cond.pool_indices(keys).numpy(), fwd[f"l_index_{case}"])
    with torch.no_grad():
        emb = cond.prompt_embeddings(keys)
        assert maxdiff(emb + model.encoder.tower.positional_embedding, fwd[f"clip_in_{case}"]) <= TOL
        assert maxdiff(model.encoder.encode(emb), fwd[f"clip_out_{case}"]) <= TOL
        out = cond(actions(fwd, case), 2)
    assert maxdiff(out.tokens, fwd[f"p_tokens_{case}"]) <= TOL
    assert maxdiff(out.vector, fwd[f"p_l_{case}"]) <= TOL


@pytest.mark.parametrize("case", CASES)
def test_timestep_embedding(model, fwd, case):
    with torch.no_grad():
        temb = model.backbone.time_embed(torch.from_numpy(fwd[f"t_{case}"]))
    assert maxdiff(temb, fwd[f"temb_{case}"]) <= TOL


@pytest.mark.parametrize("case", CASES)
def test_denoiser_sample_pairing_matches_out_sep(model, fwd, case):
    capture: dict = {}
    out = model.denoise(case, fwd, "sample", capture)
    assert maxdiff(out, fwd[f"out_sep_{case}"]) <= TOL
    if case == 0:
        assert maxdiff(capture["inp"], fwd["fpc_in_0"]) <= TOL


@pytest.mark.parametrize("case", CASES)
def test_denoiser_official_pairing_matches_out(model, fwd, case):
    capture: dict = {}
    out = model.denoise(case, fwd, "official", capture)
    assert maxdiff(out, fwd[f"out_{case}"]) <= TOL
    if case == 0:
        assert maxdiff(capture["inp"], fwd["fpc_in_0"]) <= TOL
        assert maxdiff(capture["out"], fwd["fpc_out_0"]) <= TOL
    if case in (0, 1):  # mixed actions: the two pairings really differ
        assert maxdiff(out, fwd[f"out_sep_{case}"]) > 1e-3


# ------------------------------------------------------------------ mis-set constants are detected
def _worst(model, fwd, case: int = 2) -> float:
    """Max abs diff vs ``out_sep`` of one case (case 2: identical actions, the same under both pairings)."""
    model.conditioner.clear_cache()
    return maxdiff(model.denoise(case, fwd, "sample"), fwd[f"out_sep_{case}"])


@contextmanager
def swapped(pairs):
    """Temporarily set ``(obj, name, value)`` attributes (works for nn.Module children, which
    pytest's monkeypatch would delete on undo)."""
    old = [(obj, name, getattr(obj, name), name in vars(obj) or name in getattr(obj, "_modules", {}))
           for obj, name, _ in pairs]
    try:
        for obj, name, value in pairs:
            setattr(obj, name, value)
        yield
    finally:
        for obj, name, value, own in reversed(old):
            if own:
                setattr(obj, name, value)
            else:
                delattr(obj, name)


def test_tanh_gelu_in_blocks_is_detected(model, fwd):
    blocks = [*model.backbone.spatial_blocks, *model.backbone.temporal_blocks]
    with swapped([(b.mlp, "act", nn.GELU(approximate="tanh")) for b in blocks]):
        assert _worst(model, fwd) > TOL  # 1.4e-4: the tolerance is tight enough to see it


def test_missing_causal_mask_is_detected(model, fwd):
    with swapped([(b.attn, "causal", False) for b in model.encoder.tower.transformer.resblocks]):
        assert _worst(model, fwd) > 0.1


def test_gelu_instead_of_quickgelu_in_clip_is_detected(model, fwd):
    with swapped([(b.mlp, "gelu", nn.GELU()) for b in model.encoder.tower.transformer.resblocks]):
        assert _worst(model, fwd) > 1e-3


def test_pooling_at_76_is_detected(model, fwd):
    with swapped([(model.conditioner, "_pool_mode", "fixed"), (model.conditioner, "_pool_at", 76)]):
        assert _worst(model, fwd) > 0.1


def test_skipping_fpc_pts_is_detected(model, fwd):
    with swapped([(model.site, "forward", lambda x, cond, v: x)]):
        assert _worst(model, fwd) > 0.1


def test_constants_restored(model, fwd):
    """Runs after the swapped-constant tests: the shared model is intact again."""
    assert _worst(model, fwd) <= TOL


# ------------------------------------------------------------------ through the public converter
@pytest.fixture(scope="module")
def lifters(fixture_dir):
    from posediff.convert import from_official

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {p: from_official(fixture_dir / "denoiser.npz", pairing=p) for p in ("sample", "official")}


@pytest.mark.parametrize("case", CASES)
def test_from_official_lifter(lifters, fwd, case):
    x2d, y_t, t = inputs(fwd, case)
    for pairing, ref in (("sample", "out_sep"), ("official", "out")):
        with torch.no_grad():
            out = lifters[pairing].denoise(x2d, y_t, t, actions=actions(fwd, case))
        assert maxdiff(out, fwd[f"{ref}_{case}"]) <= TOL, pairing
