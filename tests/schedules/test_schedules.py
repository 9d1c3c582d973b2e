"""Noise schedules: the cosine values of reference §4.1, the linear DDPM betas, the 12 derived terms."""
from __future__ import annotations

import math

import pytest
import torch

from posediff.errors import SpecError
from posediff.registry import get
from posediff.schedules import TERM_NAMES, CosineSchedule, LinearSchedule, diffusion_terms


def test_registered():
    assert get("schedule", "cosine") is CosineSchedule
    assert get("schedule", "linear") is LinearSchedule


def test_cosine_reference_values():
    s = CosineSchedule()
    assert s.timesteps == 1000 and s.offset == 0.008
    b, ac = s.betas(), s.alphas_cumprod()
    assert b.dtype == ac.dtype == torch.float64 and b.shape == ac.shape == (1000,)
    # reference §4.1 (values given to 2-4 significant digits)
    for i, want in [(0, 4.13e-5), (499, 3.15e-3), (998, 0.75)]:
        assert float(b[i]) == pytest.approx(want, rel=5e-3)
    assert float(b[999]) == 0.999  # the only clipped beta, from 1.0
    assert float(b[:999].max()) < 0.999
    expected = {0: 0.99996, 99: 0.9721, 199: 0.8987, 299: 0.7869, 399: 0.6475, 499: 0.4938, 599: 0.3408,
                699: 0.2031, 799: 0.0940, 899: 0.0241}
    for i, want in expected.items():
        assert float(ac[i]) == pytest.approx(want, abs=6e-5)
    assert float(ac[999]) == pytest.approx(2.4e-9, rel=0.05)
    assert bool((ac[1:] < ac[:-1]).all())


def test_cosine_closed_form():
    # ᾱ_i = f(i+1)/f(0) for i < 999 (reference §4.1)
    s = CosineSchedule(timesteps=1000, offset=0.008)
    f = lambda u: math.cos(((u / 1000) + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    ac = s.alphas_cumprod()
    for i in (0, 10, 500, 998):
        assert float(ac[i]) == pytest.approx(f(i + 1) / f(0), rel=1e-12)


def test_terms_identities():
    s = CosineSchedule(timesteps=50)
    t = s.terms()
    assert tuple(t) == TERM_NAMES
    ac = t["alphas_cumprod"]
    assert float(t["alphas_cumprod_prev"][0]) == 1.0
    torch.testing.assert_close(t["alphas_cumprod_prev"][1:], ac[:-1])
    torch.testing.assert_close(t["sqrt_recip_alphas_cumprod"] ** 2, 1 / ac)
    torch.testing.assert_close(t["sqrt_recipm1_alphas_cumprod"] ** 2, 1 / ac - 1)
    torch.testing.assert_close(torch.cumprod(1 - t["betas"], 0), ac)
    assert all(v.dtype == torch.float64 for v in t.values())
    # copies: mutating a result does not change the schedule
    t["alphas_cumprod"].zero_()
    assert float(s.alphas_cumprod()[0]) > 0.9


def test_terms_not_cast_by_module_dtype_change():
    s = CosineSchedule().to(torch.bfloat16)
    assert s.alphas_cumprod().dtype == torch.float64


def test_linear_betas():
    s = LinearSchedule()
    b = s.betas()
    assert float(b[0]) == pytest.approx(1e-4, rel=1e-12) and float(b[-1]) == pytest.approx(0.02, rel=1e-12)
    half = LinearSchedule(timesteps=500).betas()
    assert half.shape == (500,)
    assert float(half[0]) == pytest.approx(2e-4) and float(half[-1]) == pytest.approx(0.04)
    torch.testing.assert_close(s.alphas_cumprod(), diffusion_terms(b)["alphas_cumprod"])


@pytest.mark.parametrize(
    "cls, kwargs",
    [(CosineSchedule, {"timesteps": 1}), (CosineSchedule, {"offset": -0.1}), (CosineSchedule, {"timesteps": 10.5}),
     (LinearSchedule, {"beta_start": 0.1, "beta_end": 0.01}), (LinearSchedule, {"timesteps": 0})],
)
def test_bad_arguments(cls, kwargs):
    with pytest.raises(SpecError):
        cls(**kwargs)
