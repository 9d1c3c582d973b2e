"""The 'auto' precision: bf16 only where this machine runs it faster (issue 22).

The probe is replaced by ``POSEDIFF_BF16_SPEEDUP`` so that the choice under test does not depend on the CPU
running the tests; one test checks that the real probe gives a positive, finite ratio.
"""
from __future__ import annotations

import math
import warnings

import pytest
import torch

import posediff
import posediff.precision as P
from posediff.errors import InputError
from posediff.training import train

from training.training_helpers import TINY


@pytest.fixture(autouse=True)
def fresh_probe_cache(monkeypatch):
    monkeypatch.setattr(P, "_CACHE", {})
    monkeypatch.setattr(P, "_WARNED", set())


def test_probe_measures_a_ratio(monkeypatch):
    monkeypatch.delenv("POSEDIFF_BF16_SPEEDUP", raising=False)
    r = P.bf16_speedup()
    assert math.isfinite(r) and r > 0
    assert P.bf16_speedup() == r  # cached per process


@pytest.mark.parametrize("speedup, want", [(0.12, "fp32"), (0.9, "fp32"), (1.19, "fp32"), (2.3, "bf16"),
                                           (5.6, "bf16")])
def test_auto_follows_the_measured_ratio(monkeypatch, speedup, want):
    monkeypatch.setenv("POSEDIFF_BF16_SPEEDUP", str(speedup))
    assert P.resolve_precision("auto") == want
    assert P.resolve_precision("fp32") == "fp32"
    assert P.describe_precision("auto").startswith(f"{want} (auto: bf16 matmul measured {speedup:.2f}×")


def test_explicit_bf16_where_slower_warns_once(monkeypatch):
    monkeypatch.setenv("POSEDIFF_BF16_SPEEDUP", "0.12")
    with pytest.warns(UserWarning, match=r"0\.12× the fp32 rate"):
        assert P.resolve_precision("bf16") == "bf16"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P.resolve_precision("bf16")  # once per process
    monkeypatch.setenv("POSEDIFF_BF16_SPEEDUP", "2.0")
    P._WARNED.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P.resolve_precision("bf16")  # faster here: no warning


def test_bad_values_are_input_errors(monkeypatch):
    with pytest.raises(InputError, match="precision must be one of"):
        P.resolve_precision("fp16")
    monkeypatch.setenv("POSEDIFF_BF16_SPEEDUP", "fast")
    with pytest.raises(InputError, match="POSEDIFF_BF16_SPEEDUP must be a number"):
        P.bf16_speedup()


def test_lifter_auto_precision_samples_in_the_chosen_dtype(monkeypatch):
    lifter = posediff.build("d3dp-tiny", overrides={"sampler.steps": 1, "sampler.hypotheses": 1})
    lifter.fast_sampling()  # default: auto
    assert lifter.precision == "auto"
    x = torch.randn(1, lifter.frames, 17, 2) * 0.1
    seen = []
    monkeypatch.setattr(lifter, "_denoise_copies",
                        lambda *a, dtype, **k: seen.append(dtype) or torch.zeros(a[1].shape))
    for speedup, dtype in (("0.12", torch.float32), ("2.3", torch.bfloat16)):
        monkeypatch.setenv("POSEDIFF_BF16_SPEEDUP", speedup)
        seen.clear()
        lifter.sample(x, generator=torch.Generator().manual_seed(0))
        assert lifter.effective_precision == ("fp32" if dtype == torch.float32 else "bf16")
        assert seen and set(seen) == {dtype}


def test_cpu_recipe_trains_in_fp32_where_bf16_is_slower(tmp_path, monkeypatch):
    """The CPU recipe's amp is 'auto': an AVX2-only CPU (bf16 at 0.12× fp32) trains without autocast."""
    from posediff.training.config import recipe_settings

    assert recipe_settings("cpu")["amp"] == "auto"
    seen = []
    real = torch.autocast

    def spy(*a, **k):
        seen.append(k.get("dtype"))
        return real(*a, **k)

    monkeypatch.setattr(torch, "autocast", spy)
    for speedup, want in (("0.12", "none"), ("2.3", "bf16")):
        monkeypatch.setenv("POSEDIFF_BF16_SPEEDUP", speedup)
        seen.clear()
        out = tmp_path / want
        train("d3dp-tiny", out=out, max_steps=1, **{**TINY, "amp": "auto", "val_subjects": ["none"]})
        summary = __import__("json").loads((out / "summary.json").read_text())
        assert summary["amp"] == "auto" and summary["amp_used"] == want
        assert any(f"trains with {want} autocast" in n for n in summary["notes"])
        assert (torch.bfloat16 in seen) == (want == "bf16")
