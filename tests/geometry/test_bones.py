"""Bone lengths: coefficient of variation, and holding every bone at one length."""
from __future__ import annotations

import numpy as np
import pytest

from posediff.errors import InputError
from posediff.geometry.bones import bone_length_cv, bone_lengths, hold_bone_lengths
from posediff.geometry.skeletons import get_skeleton

SK = get_skeleton("h36m-17")


def test_a_rigid_skeleton_has_no_variation_and_is_left_as_it_is():
    from posediff.data.synthetic import make_synthetic

    x = np.asarray(make_synthetic(subjects=1, motions=["walking"], cameras=1, frames=30, seed=1)[0].x3d, np.float64)
    assert bone_length_cv(x).max() < 1e-5  # float32 storage of a rigid skeleton
    np.testing.assert_allclose(hold_bone_lengths(x), x, atol=1e-6)


def test_held_bones_keep_their_direction_and_take_their_median_length():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(25, 17, 3))
    held = hold_bone_lengths(x)
    med = np.median(bone_lengths(x), axis=0)
    np.testing.assert_allclose(bone_lengths(held), np.broadcast_to(med, (25, 16)), rtol=1e-12)
    kids = [k for k, p in enumerate(SK.parents) if p >= 0]
    for k in kids:
        p = SK.parents[k]
        a, b = x[:, k] - x[:, p], held[:, k] - held[:, p]
        cos = np.einsum("ti,ti->t", a, b) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
        np.testing.assert_allclose(cos, 1.0, atol=1e-12)
    np.testing.assert_array_equal(held[:, 0], x[:, 0])
    assert bone_length_cv(held).max() < 1e-12 < bone_length_cv(x).min()
    # several sequences at once: each with its own medians
    both = hold_bone_lengths(np.stack([x, 3 * x]))
    np.testing.assert_allclose(both[1], 3 * held, rtol=1e-12, atol=1e-12)


def test_bad_input():
    with pytest.raises(InputError, match=r"\(\.\.\., T, 17, 3\)"):
        bone_lengths(np.zeros((5, 16, 3)))
    with pytest.raises(InputError, match="one per bone"):
        hold_bone_lengths(np.ones((4, 17, 3)), lengths=np.ones(3))
