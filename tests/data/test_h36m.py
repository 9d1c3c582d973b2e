import warnings

import h5py
import numpy as np
import pytest

from posediff.data.h36m import (
    H36M_CAMERA_IDS,
    H36M_EXTRINSICS,
    H36M_KEEP_JOINTS,
    canonical_action,
    h36m_cameras,
    load_h36m,
    load_h36m_3d,
    load_h36m_cameras_h5,
)
from posediff.data.synthetic import synthesize_motion
from posediff.errors import DataError, InputError
from posediff.geometry.cameras import normalize_screen_coordinates, project_to_2d, quaternion_to_matrix


def _world32(T, seed):
    """A (T, 32, 3) mocap-like array whose 17 kept joints move like a person in the capture volume."""
    pose = synthesize_motion("walking", T, np.random.default_rng(seed))
    out = np.zeros((T, 32, 3), np.float32)
    out[:, list(H36M_KEEP_JOINTS)] = pose
    return out


@pytest.fixture()
def vp3d(tmp_path):
    """Tiny files in the VideoPose3D layout: S1 (with original action names) and S11."""
    p3 = {
        "S1": {"Walking 1": _world32(40, 1), "TakingPhoto": _world32(30, 2), "WalkingDog 1": _world32(25, 3)},
        "S11": {"Directions": _world32(20, 4), "Directions 1": _world32(35, 5)},
    }
    path3 = tmp_path / "data_3d_h36m.npz"
    np.savez_compressed(path3, positions_3d=p3)
    # 2D in pixels, 5 frames longer than the mocap (as some videos are); "WalkingDog 1" missing.
    p2 = {"S1": {}, "S11": {}}
    for subj in p2:
        cams = h36m_cameras(subj)
        for act, pos in p3[subj].items():
            if act == "WalkingDog 1":
                continue
            world = np.concatenate([pos, pos[-1:].repeat(5, 0)])[:, list(H36M_KEEP_JOINTS)]
            p2[subj][act] = [np.asarray(project_to_2d(c.to_camera(world), c.intrinsics_px()), np.float32)
                             for c in cams]
    path2 = tmp_path / "data_2d_h36m_gt.npz"
    np.savez_compressed(path2, positions_2d=p2,
                        metadata={"num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]})
    return path3, path2, p3


def test_canonical_action_names():
    assert canonical_action("TakingPhoto 1") == "Photo 1"
    assert canonical_action("WalkingDog") == "WalkDog"
    assert canonical_action("Walking 1") == "Walking 1"


def test_load_3d_canonicalises_drops_and_selects(vp3d):
    path3, _, p3 = vp3d
    data = load_h36m_3d(path3)
    assert sorted(data["S1"]) == ["Photo", "WalkDog 1", "Walking 1"]
    assert sorted(data["S11"]) == ["Directions 1"]  # unsuffixed S11 "Directions" is dropped
    assert data["S1"]["Photo"].shape == (30, 17, 3)
    np.testing.assert_array_equal(data["S1"]["Photo"], p3["S1"]["TakingPhoto"][:, list(H36M_KEEP_JOINTS)])


def test_ground_truth_2d_by_projection(vp3d):
    path3, _, p3 = vp3d
    ds = load_h36m(path3, subjects=["S1"])
    assert len(ds) == 3 * 4 and ds.cameras == list(H36M_CAMERA_IDS)
    seq = ds.filter(actions="Walking 1", cameras="60457274")[0]
    cam = h36m_cameras("S1")[3]
    world = p3["S1"]["Walking 1"][:, list(H36M_KEEP_JOINTS)]
    cam3d = cam.to_camera(world)
    assert np.all(seq.x3d[:, 0] == 0)
    np.testing.assert_allclose(seq.x3d + seq.root, cam3d, atol=1e-5)
    # normalised intrinsics project straight into normalised coordinates == normalised pixel projection
    px = project_to_2d(cam3d.astype(np.float64), cam.intrinsics_px())
    np.testing.assert_allclose(seq.x2d, normalize_screen_coordinates(px, 1000, 1002), atol=1e-5)
    assert seq.image_size == (1000, 1002) and seq.fps == 50 and seq.skeleton == "h36m-17"
    assert seq.base_action == "Walking"


def test_2d_file_cut_to_mocap_and_missing_warned(vp3d):
    path3, path2, _ = vp3d
    with pytest.warns(UserWarning, match="S1/WalkDog 1"):
        ds = load_h36m(path3, path2)
    assert "WalkDog" not in ds.base_actions
    gt = load_h36m(path3, subjects=["S1", "S11"])
    for s in ds:
        ref = gt.filter(subjects=s.subject, actions=s.action, cameras=s.camera_name)[0]
        assert s.num_frames == ref.num_frames
        np.testing.assert_allclose(s.x2d, ref.x2d, atol=1e-5)


def test_splits_cameras_and_actions(vp3d):
    path3, _, _ = vp3d
    with pytest.warns(UserWarning, match="not in the file"):
        train = load_h36m(path3, split="train")
    assert train.subjects == ["S1"]
    with pytest.warns(UserWarning):
        test = load_h36m(path3, split="test", cameras=[0, "58860488"])
    assert test.subjects == ["S11"] and test.cameras == ["54138969", "58860488"]
    assert load_h36m(path3, subjects=["S1"], actions=["Photo"]).actions == ["Photo"]
    with pytest.raises(DataError, match="S9"):
        load_h36m(path3, subjects=["S1", "S9"])
    with pytest.raises(InputError):
        load_h36m(path3, split="val")
    with pytest.raises(InputError):
        load_h36m(path3, cameras=[7])


def test_missing_files_and_keys(tmp_path, vp3d):
    with pytest.raises(DataError, match="not found"):
        load_h36m(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, something=np.zeros(3))
    with pytest.raises(DataError, match="positions_3d"):
        load_h36m(bad)
    with pytest.raises(DataError, match="positions_2d"):
        load_h36m(vp3d[0], bad)
    with pytest.raises(DataError, match="not found"):
        load_h36m(vp3d[0], tmp_path / "missing_2d.npz")


def test_builtin_cameras():
    cams = h36m_cameras("S1")
    intr = cams[0].intrinsics()
    assert intr[0] == pytest.approx(2.290098, abs=1e-5)  # reference §1.3: 1145.049 / 1000 * 2
    assert intr[2] == pytest.approx(0.02508, abs=1e-5)
    assert [c.res for c in cams] == [(1000, 1002), (1000, 1000), (1000, 1000), (1000, 1002)]
    assert set(H36M_EXTRINSICS) == {"S1", "S5", "S6", "S7", "S8", "S9", "S11"}
    assert h36m_cameras(None)[0].orientation is None
    with pytest.raises(DataError):
        h36m_cameras("S2")


def _write_cameras_h5(path, subjects=("S1", "S9")):
    """A cameras.h5 in the original layout made from the built-in table (R as stored, p in file order)."""
    with h5py.File(path, "w") as f:
        for subj in subjects:
            for i, cam in enumerate(h36m_cameras(subj)):
                g = f.create_group(f"subject{subj[1:]}/camera{i + 1}")
                g["R"] = quaternion_to_matrix(np.asarray(cam.orientation))
                g["T"] = np.asarray(cam.translation).reshape(3, 1) * 1000
                g["f"] = np.asarray(cam.f).reshape(2, 1)
                g["c"] = np.asarray(cam.c).reshape(2, 1)
                g["k"] = np.asarray(cam.k).reshape(3, 1)
                g["p"] = np.asarray(cam.p[::-1]).reshape(2, 1)
                g["Name"] = np.array([ord(ch) for ch in cam.id], dtype=np.float64).reshape(8, 1)


def _assert_same_cameras(a, b, tol):
    for ca, cb in zip(a, b):
        assert ca.id == cb.id and ca.res == cb.res
        R = quaternion_to_matrix(np.asarray(ca.orientation))
        np.testing.assert_allclose(R, quaternion_to_matrix(np.asarray(cb.orientation)), atol=tol)
        np.testing.assert_allclose(ca.translation, cb.translation, atol=tol)
        np.testing.assert_allclose(ca.intrinsics(), cb.intrinsics(), atol=tol)


def test_cameras_h5_loader_roundtrip(tmp_path):
    path = tmp_path / "cameras.h5"
    _write_cameras_h5(path)
    cams = load_h36m_cameras_h5(path)
    assert sorted(cams) == ["S1", "S9"]
    _assert_same_cameras(cams["S1"], h36m_cameras("S1"), 1e-9)
    _assert_same_cameras(cams["S9"], h36m_cameras("S9"), 1e-9)
    with pytest.raises(DataError):
        load_h36m_cameras_h5(tmp_path / "none.h5")


def test_builtin_table_agrees_with_real_cameras_h5(h36m_dir):
    cams = load_h36m_cameras_h5(h36m_dir / "cameras.h5")
    assert set(cams) == set(H36M_EXTRINSICS)
    for subj in cams:
        _assert_same_cameras(cams[subj], h36m_cameras(subj), 1e-5)
    # X_cam = Rᵀ (X_world − T): the subject is in front of every camera.
    R = np.array(h5py.File(h36m_dir / "cameras.h5", "r")["subject1/camera2/R"])
    T = np.array(h5py.File(h36m_dir / "cameras.h5", "r")["subject1/camera2/T"]).reshape(3) / 1000
    assert (R.T @ (np.zeros(3) - T))[2] > 3.0


def test_real_h36m_loads(h36m_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_h36m(h36m_dir / "data_3d_h36m.npz", subjects=["S1"], actions=["Walking", "Sitting"],
                       cameras_h5=h36m_dir / "cameras.h5")
    builtin = load_h36m(h36m_dir / "data_3d_h36m.npz", subjects=["S1"], actions=["Walking", "Sitting"])
    assert len(ds) == 4 * 4 and ds.base_actions == ["Sitting", "Walking"]
    for a, b in zip(ds, builtin):
        assert a.key == b.key
        np.testing.assert_allclose(a.x2d, b.x2d, atol=1e-5)
        np.testing.assert_allclose(a.root, b.root, atol=1e-5)
        assert np.all(a.x3d[:, 0] == 0)
        depth = a.root[:, 0, 2]
        assert 2.5 < depth.min() and depth.max() < 8.0  # the subject is in front of the camera
        w, h = a.image_size
        assert np.abs(a.x2d[..., 0]).max() < 1.0 and np.abs(a.x2d[..., 1]).max() < h / w
        # bone lengths are rigid over time (mocap): thigh right 0.40–0.50 m
        thigh = np.linalg.norm(a.x3d[:, 2] - a.x3d[:, 1], axis=-1)
        assert thigh.std() < 0.01 and 0.35 < thigh.mean() < 0.55
