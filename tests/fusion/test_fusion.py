"""Fusion blocks: FPC (both pairings), PTS, Linear and the FusionSite residual."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from posediff import registry
from posediff.errors import InputError, SpecError
from posediff.fusion import FusionSite
from posediff.fusion.fpc import FPCFusion
from posediff.fusion.linear import LinearFusion
from posediff.fusion.pts import PTSFusion
from posediff.interfaces import Conditioning

C, CT, J, T, L, HEADS = 32, 24, 17, 5, 77, 4


def _randomise(module):
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0, 0.3)
    return module


def _fpc_reference(fpc, x, tokens, prompt_of_row):
    """Per-row loop: row r attends to the prompt tokens[prompt_of_row(r)]."""
    out = []
    d = C // HEADS
    for r in range(x.shape[0]):
        q = fpc.query(F.layer_norm(x[r], (C,), fpc.norm.weight, fpc.norm.bias)).view(T, HEADS, d).transpose(0, 1)
        p = F.layer_norm(tokens[prompt_of_row(r)], (CT,), fpc.cond_norm.weight, fpc.cond_norm.bias)
        k = fpc.key(p).view(L, HEADS, d).transpose(0, 1)
        v = fpc.value(p).view(L, HEADS, d).transpose(0, 1)
        a = (q @ k.transpose(-1, -2) / d ** 0.5).softmax(-1)
        out.append((a @ v).transpose(0, 1).reshape(T, C))
    return torch.stack(out)


def test_registered():
    assert registry.get("fusion", "fpc") is FPCFusion
    assert registry.get("fusion", "pts") is PTSFusion
    assert registry.get("fusion", "linear") is LinearFusion


@pytest.mark.parametrize("bc,k", [(1, 3), (2, 2), (3, 1)])
def test_fpc_sample_pairing_matches_per_row_reference(bc, k):
    fpc = _randomise(FPCFusion(dim=C, cond_dim=CT, heads=HEADS))
    n = bc * k
    x, tokens = torch.randn(n * J, T, C), torch.randn(bc, L, CT)
    with torch.no_grad():
        out = fpc(x, Conditioning(tokens=tokens), torch.randn(n, C))
        ref = _fpc_reference(fpc, x, tokens, lambda r: r // (k * J))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_fpc_official_pairing_reproduces_row_mod_batch():
    fpc = _randomise(FPCFusion(dim=C, cond_dim=CT, heads=HEADS, pairing="official"))
    bc, k = 2, 3
    x, tokens = torch.randn(bc * k * J, T, C), torch.randn(bc, L, CT)
    with torch.no_grad():
        out = fpc(x, Conditioning(tokens=tokens), torch.randn(bc * k, C))
        ref = _fpc_reference(fpc, x, tokens, lambda r: r % bc)
        correct = _fpc_reference(fpc, x, tokens, lambda r: r // (k * J))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    assert (out - correct).abs().max() > 1e-3  # the two pairings really differ


def test_fpc_computes_keys_once_per_conditioning_row():
    fpc = FPCFusion(dim=C, cond_dim=CT, heads=HEADS)
    seen = []
    fpc.key.register_forward_hook(lambda m, a, o: seen.append(a[0].shape[0]))
    fpc(torch.randn(2 * 20 * J, T, C), Conditioning(tokens=torch.randn(2, L, CT)), torch.randn(40, C))
    assert seen == [2]


def test_fpc_errors_and_checks():
    fpc = FPCFusion(dim=C, cond_dim=CT, heads=HEADS)
    with pytest.raises(InputError, match="tokens"):
        fpc(torch.randn(J, T, C), Conditioning(), torch.randn(1, C))
    with pytest.raises(InputError, match="multiple"):
        fpc(torch.randn(J, T, C), Conditioning(tokens=torch.randn(2, L, CT)), torch.randn(1, C))
    with pytest.raises(SpecError):
        FPCFusion(dim=C, cond_dim=0)
    assert FPCFusion.check_params({"dim": 30, "heads": 4})
    assert FPCFusion.check_params({"dim": 32, "heads": 4, "cond_dim": 8}) == []
    assert fpc.norm.eps == 1e-5 and fpc.cond_norm.eps == 1e-5
    assert not any("proj" in name for name, _ in fpc.named_parameters())  # no output projection


def test_pts_zero_init_and_site_identity():
    pts = PTSFusion(dim=C)
    assert torch.count_nonzero(pts.out.weight) == 0 and torch.count_nonzero(pts.out.bias) == 0
    site = FusionSite([FPCFusion(dim=C, cond_dim=CT, heads=HEADS), pts], residual=True)
    x = torch.randn(2 * J, T, C)
    y = site(x, Conditioning(tokens=torch.randn(1, L, CT)), torch.randn(2, C))
    torch.testing.assert_close(y, x)
    assert torch.count_nonzero(PTSFusion(dim=C, zero_init=False).out.weight) > 0


def test_pts_matches_formula_with_sample_major_broadcast():
    pts = _randomise(PTSFusion(dim=C))
    n = 3
    x, v = torch.randn(n * J, T, C), torch.randn(n, C)
    with torch.no_grad():
        out = pts(x, Conditioning(), v)
        ss = pts.emb(F.silu(v))
        scale, shift = ss[:, :C].repeat_interleave(J, 0), ss[:, C:].repeat_interleave(J, 0)
        h = F.layer_norm(x, (C,), pts.norm.weight, pts.norm.bias, 1e-5) * (1 + scale[:, None]) + shift[:, None]
        ref = pts.out(F.silu(h))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    with pytest.raises(InputError):
        pts(torch.randn(5, T, C), Conditioning(), v)


def test_linear_fusion_and_site_without_residual():
    lin = LinearFusion(dim=C)
    x = torch.randn(J, T, C)
    assert torch.count_nonzero(lin(x, Conditioning(), torch.randn(1, C))) == 0
    with torch.no_grad():
        lin.proj.weight.copy_(torch.eye(C) * 2)
    site = FusionSite([lin], residual=False)
    torch.testing.assert_close(site(x, Conditioning(), torch.randn(1, C)), 2 * x)
    torch.testing.assert_close(FusionSite([lin], residual=True)(x, Conditioning(), torch.randn(1, C)), 3 * x)


def test_fpc_bf16_autocast():
    fpc = _randomise(FPCFusion(dim=C, cond_dim=CT, heads=HEADS))
    x, tokens = torch.randn(2 * J, T, C), torch.randn(2, L, CT)
    with torch.no_grad():
        ref = fpc(x, Conditioning(tokens=tokens), torch.randn(2, C))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = fpc(x, Conditioning(tokens=tokens), torch.randn(2, C))
    assert out.dtype == torch.bfloat16
    assert (out.float() - ref).abs().max() < 0.05 * ref.abs().max()


def test_fpc_rejects_rows_not_grouped_by_clip():
    fpc = FPCFusion(dim=C, cond_dim=CT, heads=HEADS)
    with pytest.raises(InputError, match="multiples"):  # 1 sample of 17 rows cannot pair with 17 prompts
        fpc(torch.randn(J, T, C), Conditioning(tokens=torch.randn(J, L, CT)), torch.randn(1, C))
