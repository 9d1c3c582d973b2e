import h5py
import numpy as np
import pytest

from posediff.data.mpi_inf_3dhp import (
    load_3dhp_npz,
    load_3dhp_test_dir,
    load_3dhp_test_mat,
    mpi_test_intrinsics,
    mpi_test_intrinsics_px,
    parse_calib,
    read_annot_mat,
)
from posediff.errors import DataError, InputError
from posediff.geometry.cameras import image_coordinates, normalize_screen_coordinates, project_to_2d


def _pose_mm(T, seed, depth=4000.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=300.0, size=(T, 17, 3))
    x[..., 2] += depth
    return x


def _px(x_mm, name):
    return image_coordinates(project_to_2d(x_mm, mpi_test_intrinsics(name).astype(np.float64)),
                             *((1920, 1080) if name in ("TS5", "TS6") else (2048, 2048)))


def test_intrinsics_numbers():
    # reference §1.9
    np.testing.assert_allclose(mpi_test_intrinsics_px("TS1"), [1500.17, 1500.17, 1017.39, 1043.03], atol=0.01)
    np.testing.assert_allclose(mpi_test_intrinsics_px("TS6"), [1683.98, 1683.98, 939.86, 560.14], atol=0.01)
    k = mpi_test_intrinsics("TS5")
    assert k.shape == (9,) and np.all(k[4:] == 0)
    assert k[0] == pytest.approx(1683.98345952 / 1920 * 2, abs=1e-5)
    with pytest.raises(InputError):
        mpi_test_intrinsics("TS7")


def test_train_npz_layout(tmp_path):
    x3 = {c: _pose_mm(12, i) for i, c in enumerate(["0", "2"])}
    data = {"S1 Seq1": [{c: {"data_2d": np.full((12, 17, 2), 1024.0), "data_3d": x3[c]} for c in x3}, 25]}
    path = tmp_path / "data_train_3dhp_ori.npz"
    np.savez_compressed(path, data=data)
    ds = load_3dhp_npz(path)
    assert ds.name == "3dhp-train" and len(ds) == 2
    s = ds[1]
    assert (s.subject, s.action, s.camera_name, s.fps, s.skeleton) == ("S1", "Seq1", "2", 25.0, "3dhp-17")
    assert s.camera is None and s.image_size == (2048, 2048)
    np.testing.assert_allclose(s.x2d, 0.0, atol=1e-6)  # image centre of a 2048×2048 frame
    assert np.all(s.x3d[:, 14] == 0)
    np.testing.assert_allclose(s.x3d + s.root, x3["2"] / 1000.0, atol=1e-5)
    np.testing.assert_allclose(s.root[:, 0], x3["2"][:, 14] / 1000.0, atol=1e-6)


def test_test_npz_layout(tmp_path):
    data = {}
    for name in ("TS1", "TS5"):
        x = _pose_mm(15, 3)
        valid = np.ones((15, 1)); valid[:4] = 0
        data[name] = {"data_2d": _px(x, name), "data_3d": x, "valid": valid}
    path = tmp_path / "data_test_3dhp_ori.npz"
    np.savez_compressed(path, data=data)
    ds = load_3dhp_npz(path)
    assert ds.name == "3dhp-test" and ds.subjects == ["TS1", "TS5"]
    for s in ds:
        assert s.valid.sum() == 11 and not s.valid[:4].any()
        np.testing.assert_allclose(project_to_2d(s.absolute_3d.astype(np.float64), s.camera.astype(np.float64)),
                                   s.x2d, atol=1e-5)
    assert ds[0].image_size == (2048, 2048) and ds[1].image_size == (1920, 1080)
    assert len(load_3dhp_npz(path, sequences=["TS5"])) == 1
    with pytest.raises(DataError, match="TS3"):
        load_3dhp_npz(path, sequences=["TS3"])
    bad = tmp_path / "bad.npz"
    np.savez(bad, other=np.zeros(2))
    with pytest.raises(DataError, match="'data'"):
        load_3dhp_npz(bad)
    with pytest.raises(DataError):
        load_3dhp_npz(tmp_path / "missing.npz")


def _write_mat(path, T=20, seed=0):
    x = _pose_mm(T, seed)
    valid = (np.arange(T) % 3 != 0).astype(np.float64)
    with h5py.File(path, "w") as f:  # the v7.3 layout as h5py sees it
        f["annot3"] = x[:, None]
        f["univ_annot3"] = x[:, None] * 0.9
        f["annot2"] = _px(x, "TS6")[:, None]
        f["valid_frame"] = valid[:, None]
    return x, valid


def test_annot_mat_v73(tmp_path):
    folder = tmp_path / "TS6"
    folder.mkdir()
    x, valid = _write_mat(folder / "annot_data.mat")
    ann = read_annot_mat(folder / "annot_data.mat")
    assert ann["annot3"].shape == (20, 17, 3) and ann["annot2"].shape == (20, 17, 2)
    s = load_3dhp_test_mat(folder / "annot_data.mat")
    assert s.subject == "TS6" and s.image_size == (1920, 1080)
    np.testing.assert_array_equal(s.valid, valid > 0)
    np.testing.assert_allclose(s.x3d + s.root, x / 1000, atol=1e-5)
    u = load_3dhp_test_mat(folder / "annot_data.mat", universal=True)
    np.testing.assert_allclose(u.x3d, s.x3d * 0.9, atol=1e-5)
    ds = load_3dhp_test_dir(tmp_path)
    assert ds.subjects == ["TS6"]
    with pytest.raises(DataError, match="TS1"):
        load_3dhp_test_dir(tmp_path, sequences=["TS1"])


def test_annot_mat_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_annot_mat(tmp_path / "annot_data.mat")
    p = tmp_path / "nokeys.mat"
    with h5py.File(p, "w") as f:
        f["annot3"] = np.zeros((3, 1, 17, 3))
    with pytest.raises(DataError, match="annot2"):
        read_annot_mat(p)
    v5 = tmp_path / "old.mat"
    v5.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    try:
        import scipy  # noqa: F401
    except ImportError:
        with pytest.raises(DataError, match="scipy"):
            read_annot_mat(v5)
    else:
        with pytest.raises(DataError):
            read_annot_mat(v5)


CALIB = """tc camera calibration v0.3
camera\t0\tGOPR0046_intrinsics.MP4
\tframe\t0
\t\tsensorSize\t\t 10.000000000\t  5.625000000\t# in mm
\t\tfocalLength\t\t  8.770747185\t\t\t\t\t# in mm
\t\tpixelAspect\t\t  0.993236423\t\t\t\t\t# y / x
\t\tcenterOffset\t -0.104908645\t  0.104899704\t# in mm (positive values move right and down)
\t\tdistortionModel\tOpenCV
\t\tdistortion\t\t -0.276859611\t  0.131125256\t -0.000360494\t -0.001149441\t -0.049318332\t
\t\t\torigin\t\t   -2104.3074\t    1038.6707\t   -4596.6367
"""


def test_parse_calib(tmp_path):
    p = tmp_path / "x.calib"
    p.write_text(CALIB)
    (cam,) = parse_calib(p)
    assert cam.name == "GOPR0046_intrinsics.MP4" and cam.sensor_size == (10.0, 5.625)
    assert cam.pixel_aspect == pytest.approx(0.993236423) and len(cam.distortion) == 5
    np.testing.assert_allclose(cam.intrinsics_px((1920, 1080)), mpi_test_intrinsics_px("TS5"), atol=1e-9)
    np.testing.assert_allclose(cam.intrinsics((1920, 1080)), mpi_test_intrinsics("TS5"), atol=1e-7)
    bad = tmp_path / "bad.calib"
    bad.write_text("camera 0 x\n focalLength 3\n")
    with pytest.raises(DataError, match="sensorSize"):
        parse_calib(bad)


def test_real_calib_files(mpi_test_dir):
    (c56,) = parse_calib(mpi_test_dir / "ts5-6cameras.calib")
    np.testing.assert_allclose(c56.intrinsics_px((1920, 1080)), mpi_test_intrinsics_px("TS5"), atol=1e-6)
    (c14,) = parse_calib(mpi_test_dir / "ts1-4cameras.calib")
    np.testing.assert_allclose(c14.intrinsics_px((2048, 2048)), mpi_test_intrinsics_px("TS1"), atol=1e-6)


def test_real_ts5_ts6(mpi_test_dir):
    ds = load_3dhp_test_dir(mpi_test_dir)
    counts = {s.subject: (s.num_frames, int(s.valid.sum())) for s in ds}
    assert counts == {"TS5": (320, 276), "TS6": (492, 392)}
    for s in ds:
        assert s.image_size == (1920, 1080) and s.skeleton == "3dhp-17"
        assert np.all(s.x3d[:, 14] == 0)
        # the annotated 2D is the projection of the annotated 3D with the official intrinsics (≈1 px)
        proj = project_to_2d(s.absolute_3d.astype(np.float64), s.camera.astype(np.float64))
        err_px = np.abs(image_coordinates(proj, 1920, 1080) - image_coordinates(s.x2d, 1920, 1080))
        assert err_px[s.valid].mean() < 2.0
        np.testing.assert_allclose(s.x2d, normalize_screen_coordinates(
            read_annot_mat(mpi_test_dir / s.subject / "annot_data.mat")["annot2"], 1920, 1080), atol=1e-5)
