"""Temporal smoothing of lifted joints (posediff.geometry.smoothing; posediff.lift(smooth=...), --smooth)."""
from __future__ import annotations

import numpy as np
import pytest

from posediff.errors import InputError
from posediff.geometry.smoothing import gaussian_kernel, smooth_poses


def _accel(x: np.ndarray) -> float:
    return float(np.linalg.norm(x[2:] - 2 * x[1:-1] + x[:-2], axis=-1).mean())


def _linear(frames: int) -> np.ndarray:
    t = np.arange(frames, dtype=np.float64)[:, None, None]
    return 0.3 + t * np.linspace(-0.02, 0.03, 17 * 3).reshape(1, 17, 3)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.5, 7.0])
@pytest.mark.parametrize("frames", [2, 3, 10, 60])
def test_constant_velocity_is_kept_exactly_at_every_frame(sigma, frames):
    """Odd reflection at the ends keeps linear motion: the error is float64 rounding of sums of at most
    2·ceil(3σ)+1 terms of size ≤ 2 m (ε·n·|x| ≈ 2.2e-16 · 43 · 2 ≈ 2e-14); 1e-12 leaves room."""
    x = _linear(frames)
    np.testing.assert_allclose(smooth_poses(x, sigma), x, rtol=0, atol=1e-12)


def test_noise_is_damped_and_sigma_zero_is_the_identity():
    rng = np.random.default_rng(0)
    x = _linear(300) + rng.normal(scale=0.01, size=(300, 17, 3))
    assert np.array_equal(smooth_poses(x, 0.0), x)
    a0, a1, a2 = _accel(x), _accel(smooth_poses(x, 1.0)), _accel(smooth_poses(x, 2.0))
    # white noise of std s has acceleration std √6·s per coordinate; a Gaussian of σ frames divides it by
    # far more than 3 at σ = 1 and more again at σ = 2
    assert a1 < a0 / 3 and a2 < a1 / 3


def test_absent_frames_split_the_runs_and_stay_untouched():
    x = _linear(30)
    x[10:12] = 99.0  # garbage where the person is absent
    mask = np.ones(30, bool)
    mask[10:12] = False
    bumped = x.copy()
    bumped[12:] += 0.5  # a jump across the gap must not be smeared into the first run
    out = smooth_poses(bumped, 2.0, mask)
    np.testing.assert_allclose(out[:10], x[:10], rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[12:], bumped[12:], rtol=0, atol=1e-12)
    assert np.array_equal(out[10:12], bumped[10:12])


def test_several_people_and_dtype():
    x = np.stack([_linear(20), _linear(20) * 2]).astype(np.float32)
    mask = np.ones((2, 20), bool)
    mask[1, :5] = False
    out = smooth_poses(x, 1.5, mask)
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, x, rtol=0, atol=1e-5)  # float32 storage: 1e-7 relative on values ≤ 2 m


@pytest.mark.parametrize("bad,match", [
    (dict(poses=np.zeros((5, 17))), "shape"),
    (dict(sigma=-1.0), "sigma must be"),
    (dict(sigma=float("nan")), "sigma must be"),
    (dict(mask=np.ones(4, bool)), "mask must have shape"),
    (dict(poses=np.full((5, 17, 3), np.nan)), "finite"),
])
def test_bad_input(bad, match):
    kw = dict(poses=np.zeros((5, 17, 3)), sigma=1.0)
    kw.update(bad)
    with pytest.raises(InputError, match=match):
        smooth_poses(**kw)


def test_kernel():
    k = gaussian_kernel(2.0)
    assert len(k) == 13 and k.sum() == pytest.approx(1.0) and np.argmax(k) == 6
    assert np.array_equal(gaussian_kernel(0), np.ones(1))


def test_lift_smooth_reduces_jitter_and_is_recorded():
    import warnings

    import posediff

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lifter = posediff.build("finepose-tiny", overrides={"lifter.frames": 9, "sampler.hypotheses": 1,
                                                            "sampler.steps": 1})
        kp = np.random.default_rng(1).normal(scale=0.05, size=(40, 17, 2))
        raw = posediff.lift(kp, lifter=lifter, format="h36m-17", seed=0)
        smooth = posediff.lift(kp, lifter=lifter, format="h36m-17", seed=0, smooth=2.0)
    assert smooth.metadata["smooth_frames"] == 2.0 and raw.metadata["smooth_frames"] == 0.0
    np.testing.assert_allclose(smooth.poses3d, smooth_poses(raw.poses3d, 2.0), rtol=0, atol=1e-6)
    assert _accel(smooth.poses3d) < _accel(raw.poses3d) / 3
    with pytest.raises(InputError, match="smooth must be"):
        posediff.lift(kp, lifter=lifter, format="h36m-17", smooth=-1)
