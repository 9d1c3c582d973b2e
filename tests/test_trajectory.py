"""World trajectory: the root's camera-space path from the 2D and the camera (or an assumed field of view)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from posediff.data.synthetic import make_synthetic
from posediff.errors import InputError
from posediff.inference.result import LiftResult, load_result
from posediff.inference.trajectory import DEFAULT_FOV_DEG, assumed_camera, root_trajectory


@pytest.fixture(scope="module")
def seq():
    return make_synthetic(subjects=1, motions=["walking"], cameras=1, frames=40, seed=0)[0]


def _result(seq, camera=None) -> LiftResult:
    n = seq.x3d.shape[0]
    meta = {} if camera is None else {"camera": [float(v) for v in camera]}
    return LiftResult(poses3d=np.asarray(seq.x3d, np.float32), mask=np.ones(n, bool),
                      x2d=np.asarray(seq.x2d, np.float32), joint_mask=np.ones((n, 17), bool),
                      aggregator_used="truth", skeleton="h36m-17", metadata=meta)


def test_true_pose_and_camera_give_the_true_root(seq):
    """With the exact pose, 2D and camera the least-squares root is the true one: float32 inputs (2D
    relative error 6e-8, times a depth of ~5 m) leave micrometres."""
    traj, info = root_trajectory(_result(seq, seq.camera))
    assert traj.shape == (seq.x3d.shape[0], 3) and not info["assumed"]
    np.testing.assert_allclose(traj, np.asarray(seq.root)[:, 0], rtol=0, atol=1e-4)


def test_without_intrinsics_the_field_of_view_is_assumed_and_said(seq):
    traj, info = root_trajectory(_result(seq))
    assert info["assumed"] and f"{DEFAULT_FOV_DEG:g}° horizontal field of view" in info["assumption"]
    f = 1 / math.tan(math.radians(DEFAULT_FOV_DEG) / 2)
    assert info["camera"][:4] == pytest.approx([f, f, 0.0, 0.0])
    # a pinhole's depth scales with its focal length: the true camera's fx is about 2.22, the assumed 1.73
    ratio = np.median(traj[:, 2] / np.asarray(seq.root)[:, 0, 2])
    assert ratio == pytest.approx(f / float(seq.camera[0]), rel=0.05)
    with pytest.raises(InputError, match="fov_deg"):
        assumed_camera(0.0)


def test_trajectory_is_saved_with_the_result(seq, tmp_path):
    r = _result(seq, seq.camera)
    r.trajectory, _ = root_trajectory(r)
    back = load_result(r.save(tmp_path / "r.npz"))
    np.testing.assert_array_equal(back.trajectory, r.trajectory)
