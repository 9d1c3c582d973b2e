"""Camera geometry: normalisation, projection, extrinsics, root estimation, 3DHP intrinsics."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posediff.errors import InputError
from posediff.geometry import cameras as C

# A distorted camera in normalised units, of the size of the H36M ones (reference §1.3).
CAM = torch.tensor([2.29, 2.288, 0.025, 0.029, -0.207, 0.248, -0.0031, -0.00098, -0.0014], dtype=torch.float64)


def _pose(gen: torch.Generator, *lead: int, joints: int = 17) -> torch.Tensor:
    """Random root-relative poses (metres), root joint 0."""
    p = torch.randn(*lead, joints, 3, generator=gen, dtype=torch.float64) * 0.3
    p[..., 0, :] = 0
    return p


def test_screen_roundtrip_numpy_and_torch():
    x = np.array([[0.0, 0.0], [1000.0, 1002.0], [512.5, 100.0]])
    n = C.normalize_screen_coordinates(x, 1000, 1002)
    assert isinstance(n, np.ndarray)
    np.testing.assert_allclose(n[0], [-1.0, -1.002])
    np.testing.assert_allclose(n[1], [1.0, 1.002])
    np.testing.assert_allclose(C.image_coordinates(n, 1000, 1002), x, atol=1e-12)
    t = torch.from_numpy(x)
    nt = C.normalize_screen_coordinates(t, 1000, 1002)
    assert isinstance(nt, torch.Tensor)
    torch.testing.assert_close(C.image_coordinates(nt, 1000, 1002), t)


def test_screen_rejects_bad_input():
    with pytest.raises(InputError, match="x must have shape"):
        C.normalize_screen_coordinates(np.zeros((3, 3)), 10, 10)
    with pytest.raises(InputError, match="image size"):
        C.image_coordinates(np.zeros((3, 2)), 0, 10)


def test_normalize_intrinsics_reference_example():
    # reference §1.3: camera 54138969, fx = 1145.049/1000*2 = 2.2901, cx = 512.54/1000*2 - 1 = 0.02508
    cam = C.normalize_intrinsics([1145.049, 1143.781], [512.54, 515.45], [-0.207, 0.248, -0.003], [-0.001, -0.002],
                                 w=1000, h=1002)
    assert cam.shape == (9,) and cam.dtype == np.float32
    assert abs(cam[0] - 2.290098) < 1e-6
    assert abs(cam[2] - 0.02508) < 1e-6
    assert abs(cam[3] - (515.45 / 1000 * 2 - 1.002)) < 1e-6
    np.testing.assert_allclose(cam[4:], [-0.207, 0.248, -0.003, -0.001, -0.002], rtol=1e-6)
    batched = C.normalize_intrinsics(torch.tensor([[1000.0, 1000.0]] * 2), torch.tensor([[500.0, 500.0]] * 2), w=1000, h=1000)
    assert isinstance(batched, torch.Tensor) and batched.shape == (2, 9)
    with pytest.raises(InputError, match="k must have shape"):
        C.normalize_intrinsics([1, 1], [1, 1], [0, 0], w=10, h=10)


def _project_reference(x: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """Independent scalar implementation of reference §5.1 for one point."""
    fx, fy, cx, cy, k1, k2, k3, p1, p2 = cam
    u, v = np.clip(x[0] / x[2], -1, 1), np.clip(x[1] / x[2], -1, 1)
    r2 = u * u + v * v
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = p1 * u + p2 * v
    return np.array([fx * (u * (radial + tan) + p1 * r2) + cx, fy * (v * (radial + tan) + p2 * r2) + cy])


def test_project_matches_scalar_formula_and_clamps():
    pts = np.array([[0.3, -0.2, 4.0], [1.0, 0.5, 2.0], [9.0, -8.0, 1.0], [0.0, 0.0, 5.0]])
    out = C.project_to_2d(pts, CAM.numpy())
    assert isinstance(out, np.ndarray) and out.shape == (4, 2)
    for p, o in zip(pts, out):
        np.testing.assert_allclose(o, _project_reference(p, CAM.numpy()), atol=1e-12)
    # far off-axis points are clamped to the ray (±1, ±1)
    np.testing.assert_allclose(out[2], _project_reference(np.array([1.0, -1.0, 1.0]), CAM.numpy()), atol=1e-12)


def test_project_zero_distortion_equals_linear():
    gen = torch.Generator().manual_seed(0)
    pts = torch.randn(5, 17, 3, generator=gen, dtype=torch.float64) * 0.3 + torch.tensor([0.0, 0.0, 5.0], dtype=torch.float64)
    cam = CAM.clone()
    cam[4:] = 0
    torch.testing.assert_close(C.project_to_2d(pts, cam), C.project_linear(pts, cam))
    torch.testing.assert_close(C.project_linear(pts, cam[:4]), C.project_linear(pts, cam))


def test_project_batched_camera_aligns_leading_dims():
    gen = torch.Generator().manual_seed(1)
    pts = torch.randn(2, 3, 4, 17, 3, generator=gen, dtype=torch.float64) + torch.tensor([0, 0, 6.0], dtype=torch.float64)
    cams = torch.stack([CAM, CAM * 1.1])
    out = C.project_to_2d(pts, cams)
    for b in range(2):
        torch.testing.assert_close(out[b], C.project_to_2d(pts[b], cams[b]))
    torch.testing.assert_close(C.project_to_2d(pts, CAM), C.project_to_2d(pts, CAM.expand(2, 9)))
    with pytest.raises(InputError, match="camera"):
        C.project_to_2d(pts, torch.zeros(3, 9, dtype=torch.float64))
    with pytest.raises(InputError, match="camera must have shape"):
        C.project_to_2d(pts, torch.zeros(2, 8))
    with pytest.raises(InputError, match="points must have shape"):
        C.project_to_2d(torch.zeros(2, 2), CAM)


def test_reprojection_error_and_undistort():
    gen = torch.Generator().manual_seed(2)
    pts = _pose(gen, 3, 4) + torch.tensor([0.2, -0.1, 5.0], dtype=torch.float64)
    x2d = C.project_to_2d(pts, CAM)
    assert float(C.reprojection_error(pts, x2d, CAM).abs().max()) < 1e-12
    ray = C.undistort_points(x2d, CAM)
    torch.testing.assert_close(ray, pts[..., :2] / pts[..., 2:], atol=1e-9, rtol=0)


def test_quaternion_and_matrix_extrinsics_agree_and_invert():
    gen = torch.Generator().manual_seed(3)
    q = torch.randn(4, generator=gen, dtype=torch.float64)
    q = q / q.norm()
    t = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    x = torch.randn(6, 17, 3, generator=gen, dtype=torch.float64)
    cam = C.world_to_camera(x, q, t)
    torch.testing.assert_close(C.camera_to_world(cam, q, t), x)
    r = C.quaternion_to_matrix(q)
    torch.testing.assert_close(r @ r.T, torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(C.world_to_camera_rotation(x, r, t), cam)
    torch.testing.assert_close(C.camera_to_world_rotation(cam, r, t), x)
    # numpy in -> numpy out
    out = C.world_to_camera(x.numpy(), q.numpy(), t.numpy())
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, cam.numpy())


def test_quaternion_known_rotation():
    # 90 degrees about z: x -> y
    q = torch.tensor([math.cos(math.pi / 4), 0.0, 0.0, math.sin(math.pi / 4)], dtype=torch.float64)
    v = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(C.quaternion_rotate(q, v), torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(C.quaternion_to_matrix(q) @ v, torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(C.camera_to_world(v, q, torch.zeros(3, dtype=torch.float64)),
                               torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("distorted", [True, False])
def test_estimate_root_recovers_exact_root(distorted):
    gen = torch.Generator().manual_seed(4)
    rel = _pose(gen, 2, 5)  # (B, T, J, 3)
    root = torch.randn(2, 5, 1, 3, generator=gen, dtype=torch.float64) * 0.3 + torch.tensor([0, 0, 5.0], dtype=torch.float64)
    cam = CAM.clone() if distorted else torch.cat([CAM[:4], torch.zeros(5, dtype=torch.float64)])
    cams = torch.stack([cam, cam * torch.tensor([1.1, 1.1, 1, 1, 1, 1, 1, 1, 1], dtype=torch.float64)])
    x2d = C.project_to_2d(rel + root, cams)
    est = C.estimate_root(rel, x2d, cams)
    assert est.shape == (2, 5, 1, 3)
    torch.testing.assert_close(est, root, atol=1e-6, rtol=0)
    if not distorted:
        torch.testing.assert_close(C.estimate_root(rel, x2d, cams, distortion=False), root, atol=1e-7, rtol=0)


def test_estimate_root_noisy_is_close_and_dtype_kept():
    gen = torch.Generator().manual_seed(5)
    rel = _pose(gen, 8).float()
    root = torch.tensor([0.1, 0.2, 4.5]).expand(8, 1, 3)
    x2d = C.project_to_2d(rel + root, CAM.float())
    x2d = x2d + torch.randn(x2d.shape, generator=gen) * 0.002
    est = C.estimate_root(rel, x2d, CAM.float())
    assert est.dtype == torch.float32
    assert float((est - root).norm(dim=-1).max()) < 0.2


def test_estimate_root_rejects_bad_input():
    rel = torch.zeros(4, 17, 3)
    with pytest.raises(InputError, match="must agree"):
        C.estimate_root(rel, torch.zeros(4, 16, 2), CAM)
    bad = torch.zeros(4, 17, 2)
    bad[0, 0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        C.estimate_root(rel, bad, CAM)
    with pytest.raises(InputError, match="torch tensors"):
        C.estimate_root(rel.numpy(), bad, CAM)


def test_3dhp_intrinsics_match_reference():
    # reference §1.9
    ts1 = C.mpi_inf_3dhp_intrinsics("TS1", normalized=False)
    np.testing.assert_allclose(ts1[:4], [1500.17, 1500.17, 1017.39, 1043.03], atol=0.01)
    ts5 = C.mpi_inf_3dhp_intrinsics(5, normalized=False)
    np.testing.assert_allclose(ts5[:4], [1683.98, 1683.98, 939.86, 560.14], atol=0.01)
    assert not ts5[4:].any()
    assert C.mpi_inf_3dhp_resolution("ts6") == (1920, 1080)
    assert C.mpi_inf_3dhp_resolution(2) == (2048, 2048)
    # normalised intrinsics project straight to normalised screen coordinates
    pts = torch.tensor([[0.3, -0.4, 4.0], [-0.5, 0.2, 3.0]], dtype=torch.float64)
    for seq in ("TS2", "TS6"):
        w, h = C.mpi_inf_3dhp_resolution(seq)
        px = C.project_linear(pts, torch.from_numpy(C.mpi_inf_3dhp_intrinsics(seq, normalized=False)))
        nrm = C.project_to_2d(pts, torch.from_numpy(C.mpi_inf_3dhp_intrinsics(seq)))
        torch.testing.assert_close(C.normalize_screen_coordinates(px, w, h), nrm)
    with pytest.raises(InputError, match="TS1..TS6"):
        C.mpi_inf_3dhp_intrinsics("TS7")
