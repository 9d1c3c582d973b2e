"""Metrics: MPJPE family, PCK/AUC, the official multi-hypothesis variants, tables; property tests."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from posediff import metrics as M
from posediff.errors import InputError

J = 17


# --------------------------------------------------------------------------- strategies
def _poses(n: int = 3):
    # non-degenerate poses: a fixed spread skeleton plus bounded perturbation
    base = np.random.default_rng(0).normal(size=(J, 3)) * 0.3
    return arrays(np.float64, (n, J, 3), elements=st.floats(-0.05, 0.05)).map(lambda d: base + d)


def _rotation(angles):
    a, b, c = angles
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rx = np.array([[1, 0, 0], [0, math.cos(c), -math.sin(c)], [0, math.sin(c), math.cos(c)]])
    return rz @ ry @ rx


angles = st.tuples(*[st.floats(-math.pi, math.pi)] * 3)


# --------------------------------------------------------------------------- basics
def test_mpjpe_values_and_reductions():
    pred, target = np.zeros((2, 4, J, 3)), np.zeros((2, 4, J, 3))
    target[..., 0] = 3.0
    target[..., 1] = 4.0
    assert M.mpjpe(pred, target) == pytest.approx(5.0)
    assert isinstance(M.mpjpe(pred, target), float)
    assert M.mpjpe(pred, target, reduction="pose").shape == (2, 4)
    assert M.mpjpe(pred, target, reduction="joint").shape == (2, 4, J)
    t = M.mpjpe(torch.zeros(2, J, 3), torch.ones(2, J, 3))
    assert isinstance(t, torch.Tensor) and t.dim() == 0
    with pytest.raises(InputError, match="reduction"):
        M.mpjpe(pred, target, reduction="sum")


def test_mpjpe_is_differentiable():
    p = torch.zeros(2, J, 3, requires_grad=True)
    M.mpjpe(p, torch.ones(2, J, 3), validate=False).backward()
    assert p.grad is not None and bool(torch.isfinite(p.grad).all())


@pytest.mark.parametrize("fn", [M.mpjpe, M.p_mpjpe, M.n_mpjpe, M.mpjve, M.pck, M.auc])
def test_input_validation(fn):
    a = np.zeros((2, 3, J, 3))
    with pytest.raises(InputError, match="same shape"):
        fn(a, np.zeros((2, 3, J - 1, 3)))
    b = a.copy()
    b[0, 0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        fn(b, a)


def test_p_mpjpe_reflection_not_aligned():
    pose = np.random.default_rng(1).normal(size=(J, 3)) * 0.3
    mirrored = pose * np.array([-1.0, 1.0, 1.0])
    assert M.p_mpjpe(pose[None], pose[None]) == pytest.approx(0.0, abs=1e-12)
    assert M.p_mpjpe(mirrored[None], pose[None]) > 1e-2  # a reflection is not a rotation
    aligned = M.procrustes_align(pose[None] * 2 + 1, pose[None])
    np.testing.assert_allclose(aligned, pose[None], atol=1e-10)


def test_p_mpjpe_degenerate_prediction_is_finite():
    target = np.random.default_rng(2).normal(size=(1, J, 3))
    value = M.p_mpjpe(np.zeros((1, J, 3)), target)
    assert math.isfinite(value)
    # aligning a point to the target gives the target's centroid
    assert value == pytest.approx(M.mpjpe(np.broadcast_to(target.mean(1, keepdims=True), target.shape), target))


def test_n_mpjpe_and_mpjve():
    y = np.random.default_rng(3).normal(size=(2, 5, J, 3))
    assert M.n_mpjpe(2.5 * y, y) == pytest.approx(0.0, abs=1e-12)
    assert M.mpjve(y + 1.0, y) == pytest.approx(0.0, abs=1e-12)  # constant offset has no velocity error
    drift = y + np.arange(5)[None, :, None, None] * np.array([0.01, 0, 0])
    assert M.mpjve(drift, y) == pytest.approx(0.01)
    assert M.mpjve(drift[0], y[0], axis=0) == pytest.approx(0.01)
    with pytest.raises(InputError, match="at least 2 frames"):
        M.mpjve(y[:, :1], y[:, :1])


def test_pck_joint_sets_and_values():
    assert M.pck_joints("3dhp-17") == list(range(14))
    assert M.pck_joints("h36m-17") == [j for j in range(17) if j not in (0, 7, 9)]
    y = np.zeros((4, J, 3))
    assert M.pck(y, y) == 100.0
    far = y.copy()
    far[..., 0] = 0.2
    assert M.pck(far, y) == 0.0
    edge = y.copy()
    edge[..., :7, 0] = 0.15  # exactly at the threshold does not count (error < 150 mm)
    assert M.pck(edge, y) == pytest.approx(100 * 7 / 14)
    # excluded joints do not matter
    excl = y.copy()
    excl[..., 14:, :] = 5.0
    assert M.pck(excl, y) == 100.0
    assert M.pck(excl * 1000, y * 1000, threshold=150) == 100.0
    assert M.auc(y, y) == pytest.approx(100 * 30 / 31)  # threshold 0 counts nothing
    assert M.auc(far, y) == pytest.approx(100 * np.mean(M.AUC_THRESHOLDS > 0.2))
    with pytest.raises(InputError, match="joints must index"):
        M.pck(y, y, joints=[20])


# --------------------------------------------------------------------------- property tests
@settings(max_examples=40)
@given(_poses(), _poses())
def test_prop_mpjpe_symmetric_nonnegative(a, b):
    v = M.mpjpe(a, b)
    assert v >= 0
    assert v == pytest.approx(M.mpjpe(b, a))
    assert M.mpjpe(a, a) == 0


@settings(max_examples=40)
@given(_poses(), _poses())
def test_prop_alignment_never_increases_squared_error(a, b):
    # Procrustes minimises the squared error over similarity transforms (identity included)
    aligned = M.procrustes_align(a, b)
    assert np.all(np.sum((aligned - b) ** 2, axis=(-2, -1)) <= np.sum((a - b) ** 2, axis=(-2, -1)) + 1e-12)


@settings(max_examples=40)
@given(_poses(), st.floats(0.01, 0.1), angles)
def test_prop_p_mpjpe_not_above_mpjpe_for_dense_error(b, sigma, ang):
    # with error spread over all joints (the practical case) P-MPJPE <= MPJPE
    noise = np.random.default_rng(int(sigma * 1e6)).normal(size=b.shape) * sigma
    a = (b + noise) @ _rotation(ang).T * 0.9 + 0.1
    assert M.p_mpjpe(a, b) <= M.mpjpe(a, b) + 1e-9
    assert np.all(M.p_mpjpe(a, b, reduction="pose") <= M.mpjpe(a, b, reduction="pose") + 1e-9)


def test_p_mpjpe_can_exceed_mpjpe_for_a_single_joint_error():
    # documented caveat: the alignment is least squares, so a one-joint error gets spread out
    b = np.random.default_rng(0).normal(size=(1, J, 3)) * 0.3
    a = b.copy()
    a[0, 0, 0] += 0.03
    assert M.p_mpjpe(a, b) > M.mpjpe(a, b)
    aligned = M.procrustes_align(a, b)
    assert np.sum((aligned - b) ** 2) < np.sum((a - b) ** 2)


@settings(max_examples=40)
@given(_poses(), _poses(), angles, st.floats(0.2, 5.0), arrays(np.float64, (3,), elements=st.floats(-3, 3)))
def test_prop_p_mpjpe_similarity_invariant(a, b, ang, scale, shift):
    moved = scale * a @ _rotation(ang).T + shift
    assert M.p_mpjpe(moved, b) == pytest.approx(M.p_mpjpe(a, b), abs=1e-9)


@settings(max_examples=40)
@given(_poses(), _poses(), st.floats(0.0, 0.5))
def test_prop_pck_auc_in_range(a, b, thr):
    assert 0.0 <= M.pck(a, b, threshold=thr) <= 100.0
    assert 0.0 <= M.auc(a, b) <= 100.0
    assert M.pck(a, b, threshold=thr) <= M.pck(a, b, threshold=thr + 0.1)


@settings(max_examples=25)
@given(arrays(np.float64, (2, 2, 3, 2, J, 3), elements=st.floats(-1, 1)), arrays(np.float64, (2, 2, J, 3), elements=st.floats(-1, 1)))
def test_prop_diffusion_variant_ordering(hyps, target):
    jb, pb, pa = M.j_best(hyps, target), M.p_best(hyps, target), M.p_agg(hyps, target)
    idx = np.zeros((2, 2, 2, J), dtype=np.int64)
    ja = M.j_agg(hyps, target, idx)
    assert jb.shape == pb.shape == pa.shape == ja.shape == (2,)
    assert np.all(jb <= pb + 1e-12)  # per-joint oracle beats per-batch oracle
    assert np.all(jb <= ja + 1e-12)  # and any other per-joint choice
    assert np.all(pa <= hyps_mean_bound(hyps, target) + 1e-12)


def hyps_mean_bound(hyps, target):
    """Convexity: the mean hypothesis is no worse than the average hypothesis error."""
    err = np.linalg.norm(hyps - target[:, None, None], axis=-1)  # (B, M, H, T, J)
    return err.mean(axis=(0, 2, 3, 4))


# --------------------------------------------------------------------------- multi-hypothesis
def test_single_hypothesis_variants_agree():
    g = np.random.default_rng(4)
    hyps, target = g.normal(size=(2, 3, 1, 4, J, 3)), g.normal(size=(2, 4, J, 3))
    idx = np.zeros((2, 3, 4, J), dtype=np.int64)
    for protocol in (1, 2):
        vals = [M.j_best(hyps, target, protocol=protocol), M.p_best(hyps, target, protocol=protocol),
                M.p_agg(hyps, target, protocol=protocol), M.j_agg(hyps, target, idx, protocol=protocol),
                M.j_agg(hyps, target, idx, protocol=protocol, official=False)]
        for v in vals[1:]:
            np.testing.assert_allclose(v, vals[0], rtol=1e-10)
    np.testing.assert_allclose(M.p_agg(hyps, target), [M.mpjpe(hyps[:, m, 0], target) for m in range(3)])


def test_variants_without_step_dim_and_errors():
    g = np.random.default_rng(5)
    hyps, target = torch.from_numpy(g.normal(size=(2, 3, 4, J, 3))), torch.from_numpy(g.normal(size=(2, 4, J, 3)))
    v = M.j_best(hyps, target)
    assert isinstance(v, torch.Tensor) and v.dim() == 0
    assert M.j_agg(hyps, target, torch.zeros(2, 4, J, dtype=torch.long)).dim() == 0
    with pytest.raises(InputError, match="target must have shape"):
        M.p_best(hyps, target[:, :2])
    with pytest.raises(InputError, match="indices must lie"):
        M.j_agg(hyps, target, torch.full((2, 4, J), 3))
    with pytest.raises(InputError, match="protocol"):
        M.p_agg(hyps, target, protocol=3)


def test_reprojection_indices_pick_exact_hypothesis():
    from posediff.geometry.cameras import project_to_2d

    g = torch.Generator().manual_seed(6)
    cam = torch.tensor([2.29, 2.288, 0.025, 0.029, -0.207, 0.248, -0.0031, -0.00098, -0.0014])
    target = torch.randn(2, 4, J, 3, generator=g) * 0.3
    root = torch.tensor([0.0, 0.0, 5.0]).expand(2, 4, 1, 3)
    x2d = project_to_2d(target + root, cam)
    hyps = target[:, None, None] + torch.randn(2, 2, 3, 4, J, 3, generator=g) * 0.05
    hyps[:, :, 1] = target[:, None]
    idx = M.reprojection_indices(hyps, x2d, cam, root)
    assert idx.shape == (2, 2, 4, J) and bool((idx == 1).all())
    assert bool((M.reprojection_indices(hyps[:, 0], x2d, cam.expand(2, 9), root) == 1).all())
    assert float(M.j_agg(hyps, target, idx).abs().max()) < 1e-6


# --------------------------------------------------------------------------- tables
def test_error_table_weighting():
    tab = M.ErrorTable()
    tab.add_frames("Walking", np.array([1.0, 1.0, 1.0]))
    tab.add_frames("Walking", np.array([5.0]))
    tab.add("Sitting", 2.0, weight=10)
    means = tab.means()
    assert means["Walking"] == pytest.approx(2.0)  # frame-weighted: (3 + 5) / 4
    assert tab.average() == pytest.approx(2.0)
    assert list(tab.as_dict()) == ["Walking", "Sitting", "Avg"]
    assert tab.weights()["Walking"] == 4
    steps = M.ErrorTable()
    steps.add("a", np.array([1.0, 2.0]), weight=1)
    steps.add("b", np.array([3.0, 4.0]), weight=3)
    np.testing.assert_allclose(steps.average(), [2.0, 3.0])
    with pytest.raises(InputError, match="shape"):
        steps.add("a", 1.0)
    with pytest.raises(InputError, match="empty"):
        M.ErrorTable().average()


def test_group_helpers():
    assert M.action_group("Sitting 2") == "Sitting" and M.action_group("Walking") == "Walking"
    g = M.group_means([1.0, 3.0, 10.0], ["a", "a", "b"], weights=[1, 3, 1])
    assert g == {"a": pytest.approx(2.5), "b": pytest.approx(10.0)}
    assert M.unweighted_mean(g) == pytest.approx(6.25)
    with pytest.raises(InputError, match="one row per key"):
        M.group_means([1.0], ["a", "b"])
