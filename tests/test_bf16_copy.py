"""The bf16 inference copy used by ``PoseLifter`` sampling (``precision = "bf16"``).

Regression tests for two bugs:

* the copy rounded every LayerNorm gain to bf16; MixSTE applies its shared spatial and temporal norms
  2·depth times in the main path, and on the trained finepose-tiny the rounded gains scaled the output
  by +0.42% (mean norm ratio bf16/fp32 1.0042, 1.0003 after the fix);
* ``copy.deepcopy`` / pickling of a lifter that had sampled in bf16 tried to copy the cached copy.
"""
from __future__ import annotations

import copy
import pickle

import torch
from torch import nn

import posediff


def _lifter(gain: float = 1.0) -> posediff.PoseLifter:
    torch.manual_seed(0)
    lifter = posediff.build("finepose-tiny", overrides={"sampler.steps": 1, "sampler.hypotheses": 4,
                                                        "backbone.depth": 4})
    with torch.no_grad():
        for m in list(lifter.backbone.modules()) + list(lifter.sites.modules()):
            if isinstance(m, nn.LayerNorm) and m.weight is not None:
                m.weight.fill_(gain)  # 1.003 lies between the bf16 values 1.0 and 1.0078
    return lifter.eval()


def _x2d(lifter, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, lifter.frames, 17, 2, generator=g) * 0.6 - 0.3


def test_bf16_copy_keeps_layernorm_parameters_fp32():
    lifter = _lifter(1.003).fast_sampling("bf16")
    run, _ = lifter.sampling_runner()
    _, _, backbone, site_map = lifter._cast_copies[next(iter(lifter._cast_copies))]
    norms = [m for m in backbone.modules() if isinstance(m, nn.LayerNorm)]
    norms += [m for s in site_map.values() for m in s.modules() if isinstance(m, nn.LayerNorm)]
    assert norms
    for m in norms:
        assert m.weight.dtype == torch.float32 and m.bias.dtype == torch.float32
        assert torch.all(m.weight == 1.003)
    # the matmul weights are bf16 (the point of the copy)
    assert any(p.dtype == torch.bfloat16 for p in backbone.parameters())


def test_lifter_deepcopies_and_pickles_after_bf16_sampling():
    lifter = _lifter().fast_sampling("bf16")
    x = _x2d(lifter)
    a = lifter.sample(x, generator=torch.Generator().manual_seed(2))
    assert lifter._cast_copies
    twin = copy.deepcopy(lifter)
    assert twin._cast_copies == {}
    b = twin.sample(x, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    restored = pickle.loads(pickle.dumps(lifter))
    c = restored.sample(x, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, c, rtol=0, atol=0)


# ------------------------------------------------------------------ cache blocking
def test_cache_rows_from_the_token_stream_size():
    from posediff.lifter import CACHE_BLOCK_BYTES

    lifter = _lifter()
    per_row = lifter.frames * 17 * lifter.backbone.dim
    assert lifter.cache_rows(torch.float32) == max(1, CACHE_BLOCK_BYTES // (4 * per_row))
    assert lifter.cache_rows(torch.bfloat16) == max(1, CACHE_BLOCK_BYTES // (2 * per_row))
    # finepose-h36m: 243 × 17 × 512 → 2 bf16 rows, 1 fp32 clip (the measured sweet spot)
    spec = posediff.resolve_spec("finepose-h36m")
    assert (spec["lifter"]["frames"], spec["lifter"]["dim"]) == (243, 512)
    lifter.backbone.dim = 512
    assert (lifter.cache_rows(torch.bfloat16, frames=243), lifter.cache_rows(torch.float32, frames=243)) == (2, 1)


def test_rows_per_call_respects_block_rows_and_max_rows():
    lifter = _lifter()
    lifter.block_rows = 3
    assert lifter._rows_per_call(1, 8, torch.float32) == 3
    assert lifter._rows_per_call(2, 8, torch.float32) == 1   # 2 clips × 1 copy ≤ 3 rows
    lifter.max_rows = 2
    assert lifter._rows_per_call(1, 8, torch.float32) == 2
    lifter.block_rows, lifter.max_rows = 0, 0
    assert lifter._rows_per_call(1, 8, torch.float32) == 8
    lifter.block_rows = "auto"
    assert lifter._rows_per_call(1, 8, torch.float32) == min(8, lifter.cache_rows(torch.float32))


def test_block_rows_gives_the_same_samples_and_is_validated():
    import pytest

    from posediff.errors import InputError

    lifter = _lifter()
    x = _x2d(lifter)
    whole = lifter.fast_sampling("fp32", block_rows=0).sample(x, generator=torch.Generator().manual_seed(3))
    calls = []
    orig = lifter.run_denoiser
    lifter.run_denoiser = lambda *a: calls.append(a[0].shape[0]) or orig(*a)
    blocked = lifter.fast_sampling("fp32", block_rows=1).sample(x, generator=torch.Generator().manual_seed(3))
    assert calls and set(calls) == {2}  # 2 clips, 1 copy each per call
    assert (whole - blocked).abs().max() < 1e-5
    for bad in (-1, 1.5, "fast", True):
        with pytest.raises(InputError, match="block_rows"):
            lifter.fast_sampling("bf16", block_rows=bad)
