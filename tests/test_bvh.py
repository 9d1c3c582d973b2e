"""BVH export: rotations solved with constant bone lengths, read back by forward kinematics."""
from __future__ import annotations

import numpy as np
import pytest

from posediff.bvh import CAMERA_TO_BVH, _rotation, _to_zxy_degrees, bvh_positions, read_bvh, solve_motion, write_bvh
from posediff.data.synthetic import make_synthetic
from posediff.errors import DataError, InputError
from posediff.geometry.skeletons import get_skeleton

SK = get_skeleton("h36m-17")


def _random_rigid_motion(frames: int = 40, seed: int = 0) -> np.ndarray:
    """Camera-space joints of a skeleton with fixed bone lengths turned by random joint rotations: what a BVH
    can hold exactly."""
    rng = np.random.default_rng(seed)
    base = make_synthetic(subjects=1, motions=["walking"], cameras=1, frames=frames, seed=seed)[0].x3d
    lengths = {k: float(np.linalg.norm(base[0, k] - base[0, p])) for k, p in enumerate(SK.parents) if p >= 0}
    out = np.zeros((frames, SK.num_joints, 3))
    for t in range(frames):
        glob = {SK.root: np.eye(3)}
        for k, p in enumerate(SK.parents):
            if p < 0:
                out[t, k] = rng.normal(0, 0.3, 3)
                continue
            ang = rng.uniform(-60, 60, 3)
            r = glob[p] @ _rotation("Z", ang[0]) @ _rotation("X", ang[1]) @ _rotation("Y", ang[2])
            glob[k] = r
            out[t, k] = out[t, p] + r @ np.array([0.0, -lengths[k], 0.0])
    return out


def test_euler_angles_round_trip():
    rng = np.random.default_rng(0)
    ang = rng.uniform(-85, 85, (50, 3))
    r = _rotation("Z", ang[:, 0]) @ _rotation("X", ang[:, 1]) @ _rotation("Y", ang[:, 2])
    # float64 trigonometry: a few ulps of degrees
    np.testing.assert_allclose(_to_zxy_degrees(r), ang, rtol=0, atol=1e-9)


def test_rigid_motion_round_trips_through_the_file(tmp_path):
    """A skeleton whose bones keep their lengths comes back from the file's forward kinematics at every joint.
    The file holds 6 decimals: offsets within 5e-7 cm, angles within 5e-7 degrees (8.7e-9 rad, times a lever
    of at most 200 cm: 1.8e-6 cm); a chain of at most 8 rotations (pelvis to wrist, zero-length joints
    included) adds at most 8 of each, below 2e-5 cm; 1e-4 cm leaves room for float64 arithmetic."""
    x = _random_rigid_motion()
    write_bvh(tmp_path / "m.bvh", x, fps=25)
    names, pos = bvh_positions(tmp_path / "m.bvh")
    got = pos[:, [names.index(n) for n in SK.joints]]
    want = (x @ CAMERA_TO_BVH.T) * 100.0
    assert np.abs(got - want).max() < 1e-4
    data = read_bvh(tmp_path / "m.bvh")
    assert data["frame_time"] == pytest.approx(1 / 25) and data["frames"].shape[0] == x.shape[0]
    assert data["channels"][0] == ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]


def test_bones_keep_their_median_length(tmp_path):
    """Lifted poses stretch their bones from frame to frame; the BVH skeleton does not: every bone's length is
    its median over the clip in every frame, and its direction is the input's."""
    rng = np.random.default_rng(1)
    x = _random_rigid_motion(30, seed=1)
    stretched = x.copy()
    for k, p in enumerate(SK.parents):  # scale each bone by up to ±10 % per frame, carried down the chain
        if p >= 0:
            bone = x[:, k] - x[:, p]
            stretched[:, k] = stretched[:, p] + bone * rng.uniform(0.9, 1.1, (len(x), 1))
    m = solve_motion(stretched)
    pos = m.positions()
    idx = [m.names.index(n) for n in SK.joints]
    s = stretched @ CAMERA_TO_BVH.T
    for k, p in enumerate(SK.parents):
        if p < 0:
            continue
        got = pos[:, idx[k]] - pos[:, idx[p]]
        want = s[:, k] - s[:, p]
        length = np.linalg.norm(got, axis=-1)
        np.testing.assert_allclose(length, np.median(np.linalg.norm(want, axis=-1)), rtol=1e-9)
        cos = np.einsum("ti,ti->t", got, want) / (length * np.linalg.norm(want, axis=-1))
        assert cos.min() > 1 - 1e-9, SK.joints[k]


def test_real_motion_capture_round_trips(h36m_dir, tmp_path):
    """Human3.6M's motion capture has rigid bones: its BVH gives the joints back up to the file's rounding."""
    from posediff.training.datasets import load_dataset

    seq = next(s for s in load_dataset(f"h36m:{h36m_dir}", ["S8"], role="val") if s.action.startswith("Walking"))
    x = np.asarray(seq.x3d[:300], dtype=np.float64)
    write_bvh(tmp_path / "w.bvh", x, fps=50)
    names, pos = bvh_positions(tmp_path / "w.bvh")
    err_mm = np.linalg.norm(pos[:, [names.index(n) for n in SK.joints]] - (x @ CAMERA_TO_BVH.T) * 100, axis=-1) * 10
    # bones rigid to the mocap's float32 precision: what is left is the file's rounding (6 decimals of cm)
    assert err_mm.max() < 0.01


def test_bad_input():
    with pytest.raises(InputError, match=r"\(T, 17, 3\)"):
        solve_motion(np.zeros((5, 16, 3)))
    x = _random_rigid_motion(3)
    x[1, 4, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        solve_motion(x)
    with pytest.raises(InputError, match=r"\.bvh"):
        write_bvh("motion.txt", _random_rigid_motion(3))
    with pytest.raises(DataError, match="not found"):
        read_bvh("no-such.bvh")
