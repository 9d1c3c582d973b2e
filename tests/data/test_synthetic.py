import time

import numpy as np
import pytest

from posediff.data.synthetic import BONE_LENGTHS, MOTIONS, make_synthetic, synthesize_motion
from posediff.errors import InputError
from posediff.geometry.cameras import project_to_2d
from posediff.geometry.skeletons import get_skeleton


def test_deterministic_from_seed():
    a = make_synthetic(subjects=2, cameras=2, frames=60, seed=3)
    b = make_synthetic(subjects=2, cameras=2, frames=60, seed=3)
    c = make_synthetic(subjects=2, cameras=2, frames=60, seed=4)
    assert len(a) == 2 * len(MOTIONS) * 2
    for sa, sb, sc in zip(a, b, c):
        assert sa.key == sb.key
        np.testing.assert_array_equal(sa.x2d, sb.x2d)
        np.testing.assert_array_equal(sa.x3d, sb.x3d)
        np.testing.assert_array_equal(sa.camera, sb.camera)
        assert not np.allclose(sa.x3d, sc.x3d)
    # fewer motions / cameras leave the remaining sequences unchanged
    sub = make_synthetic(subjects=2, motions=["sitting"], cameras=1, frames=60, seed=3)
    ref = a.filter(actions="sitting", cameras="synth-cam-0")
    for s, r in zip(sub, ref):
        np.testing.assert_array_equal(s.x2d, r.x2d)


def test_sequences_are_consistent():
    ds = make_synthetic(subjects=2, cameras=2, frames=120, seed=0)
    assert ds.subjects == ["synth-0", "synth-1"] and sorted(ds.actions) == sorted(MOTIONS)
    for s in ds:
        assert s.x2d.shape == (120, 17, 2) and s.x3d.shape == (120, 17, 3) and s.root.shape == (120, 1, 3)
        assert np.all(s.x3d[:, 0] == 0) and s.source == "synthetic"
        assert s.image_size == (1000, 1000)
        fx_px = s.camera[0] * 1000 / 2
        assert 1100 <= fx_px <= 1200 and np.abs(s.camera[4:]).max() < 0.1
        assert np.abs(s.x2d).max() < 1.0  # every joint inside the image
        assert 2.5 < s.root[:, 0, 2].min()
        proj = project_to_2d(s.absolute_3d.astype(np.float64), s.camera.astype(np.float64))
        np.testing.assert_allclose(proj, s.x2d, atol=1e-5)
        # smooth: frame-to-frame joint speed below 10 m/s
        speed = np.linalg.norm(np.diff(s.absolute_3d, axis=0), axis=-1) * s.fps
        assert speed.max() < 10.0


@pytest.mark.parametrize("motion", MOTIONS)
def test_rigid_bones_and_feet_on_ground(motion):
    world = synthesize_motion(motion, 200, np.random.default_rng(7))
    sk = get_skeleton("h36m-17")
    for parent, child in sk.bones():
        length = np.linalg.norm(world[:, child] - world[:, parent], axis=-1)
        assert length.std() < 1e-6  # rigid skeleton
        assert 0.05 < length.mean() < 0.6
    thigh = np.linalg.norm(world[:, 2] - world[:, 1], axis=-1).mean()
    assert abs(thigh - BONE_LENGTHS["thigh"]) < 0.1
    lowest = np.minimum(world[:, 3, 2], world[:, 6, 2])
    np.testing.assert_allclose(lowest, 0.08, atol=1e-9)
    assert world[:, 10, 2].min() > 0.9 if motion != "sitting" else world[:, 10, 2].min() > 0.7
    assert np.ptp(world, axis=0).max() > 0.05  # it moves


def test_left_right_layout():
    world = synthesize_motion("turning", 10, np.random.default_rng(0))
    # the body's right (x of the pelvis frame) points from the left hip to the right hip
    sk = get_skeleton("h36m-17")
    up = np.array([0, 0, 1.0])
    hips = world[:, 1] - world[:, 4]
    forward = np.cross(up, hips)  # right × … : for x right, y forward, z up: up × right = forward
    nose_fwd = ((world[:, 9] - world[:, 8]) * forward).sum(-1)
    assert np.all(nose_fwd > 0)  # the face is in front
    assert sk.joints[1] == "right_hip"


def test_fast_and_validated():
    start = time.perf_counter()
    ds = make_synthetic(subjects=3, cameras=2, frames=250, seed=1)
    elapsed = time.perf_counter() - start
    assert ds.num_frames == 6000 and elapsed < 2.0
    with pytest.raises(InputError):
        make_synthetic(motions=["dancing"])
    with pytest.raises(InputError):
        make_synthetic(frames=0)
    noisy = make_synthetic(subjects=1, motions=["walking"], cameras=1, frames=30, noise_px=2.0)
    clean = make_synthetic(subjects=1, motions=["walking"], cameras=1, frames=30)
    diff_px = np.abs(noisy[0].x2d - clean[0].x2d) * 500
    assert 0.5 < diff_px.mean() < 4.0
