"""Detector-like COCO-17 keypoints made from motion capture (posediff.data.simulate)."""
from __future__ import annotations

import numpy as np
import pytest

from posediff.data import Sequence
from posediff.data.formats import to_h36m
from posediff.data.simulate import H36M_TO_COCO17, detector_like_keypoints
from posediff.errors import InputError
from posediff.geometry.cameras import image_coordinates, normalize_screen_coordinates


def _seq(frames=20, size=(1000, 1002)):
    rng = np.random.default_rng(0)
    px = rng.uniform(300, 700, (frames, 17, 2))
    x2d = np.asarray(normalize_screen_coordinates(px, *size), dtype=np.float32)
    return Sequence(subject="S8", action="Walking 1", x2d=x2d, image_size=size), px


def test_noise_free_keypoints_convert_back_to_the_limb_joints():
    seq, px = _seq()
    kp = detector_like_keypoints(seq, noise_px=0.0, drop=0.0)
    assert kp.shape == (20, 17, 3) and np.all(kp[..., 2] == 1)
    np.testing.assert_allclose(kp[..., :2], px[:, list(H36M_TO_COCO17)], atol=1e-3)
    back, _, obs = to_h36m(kp, "coco-17", 0.3)
    limbs = [1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16]
    np.testing.assert_allclose(back[:, limbs], px[:, limbs], atol=1e-3)


def test_noise_and_drops_are_seeded_and_sized():
    seq, px = _seq(frames=400)
    a = detector_like_keypoints(seq, noise_px=3.0, drop=0.1, seed=1)
    b = detector_like_keypoints(seq, noise_px=3.0, drop=0.1, seed=1)
    np.testing.assert_array_equal(a, b)
    resid = a[..., :2] - px[:, list(H36M_TO_COCO17)]
    assert resid.std() == pytest.approx(3.0, rel=0.05)
    assert (a[..., 2] == 0).mean() == pytest.approx(0.1, abs=0.02)
    part = detector_like_keypoints(seq, noise_px=0, drop=0, start=10, frames=5)
    np.testing.assert_allclose(part[..., :2], px[10:15, list(H36M_TO_COCO17)], atol=1e-3)


def test_bad_input_is_named():
    seq, _ = _seq()
    with pytest.raises(InputError, match="image_size"):
        detector_like_keypoints(Sequence(subject="S8", action="x", x2d=seq.x2d))
    with pytest.raises(InputError, match="frame range"):
        detector_like_keypoints(seq, start=15, frames=10)
