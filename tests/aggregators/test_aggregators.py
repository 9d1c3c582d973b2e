"""Aggregators: mean, oracle (diagnostic) and JPMA (reprojection-selected joints)."""
from __future__ import annotations

import pytest
import torch

from posediff.aggregators import JPMAAggregator, MeanAggregator, OracleAggregator
from posediff.errors import InputError, SpecError
from posediff.geometry.cameras import project_to_2d
from posediff.registry import get

B, H, T, J = 2, 4, 3, 17
CAM = torch.tensor([2.29, 2.288, 0.025, 0.029, -0.207, 0.248, -0.0031, -0.00098, -0.0014])


def _case(seed: int = 0):
    """GT poses, roots, exact 2D, and hypotheses where one random hypothesis per joint is exact."""
    g = torch.Generator().manual_seed(seed)
    target = torch.randn(B, T, J, 3, generator=g) * 0.3
    target[..., 0, :] = 0
    root = torch.tensor([0.1, -0.2, 5.0]) + torch.randn(B, T, 1, 3, generator=g) * 0.1
    x2d = project_to_2d(target + root, CAM)
    noise = torch.randn(B, H, T, J, 3, generator=g) * 0.1
    noise[..., 2] = 0  # perturb x, y only so that every wrong hypothesis reprojects elsewhere
    noise[..., 0, :] = 0
    best = torch.randint(0, H, (B, T, J), generator=g)
    noise.scatter_(1, best[:, None, :, :, None].expand(B, 1, T, J, 3), 0.0)
    return target, root, x2d, target[:, None] + noise, best


def test_registered_and_needs():
    assert get("aggregator", "mean") is MeanAggregator
    assert get("aggregator", "jpma") is JPMAAggregator
    assert get("aggregator", "oracle") is OracleAggregator
    assert MeanAggregator().needs == frozenset()
    assert JPMAAggregator().needs == {"camera"}
    assert JPMAAggregator(root="given").needs == {"camera", "root"}
    assert OracleAggregator().needs == {"target"}
    a = JPMAAggregator(root="given", distortion=False)
    assert (a.root, a.distortion) == ("given", False)
    assert OracleAggregator(mode="pose").mode == "pose"


def test_mean():
    target, root, x2d, hyps, _ = _case()
    torch.testing.assert_close(MeanAggregator()(hyps, x2d=x2d), hyps.mean(dim=1))
    with pytest.raises(InputError, match="hyps must have shape"):
        MeanAggregator()(hyps[0], x2d=x2d)


def test_oracle_joint_and_pose():
    target, root, x2d, hyps, best = _case(1)
    out = OracleAggregator()(hyps, x2d=x2d, target=target)
    torch.testing.assert_close(out, target)
    pose = OracleAggregator(mode="pose")(hyps, x2d=x2d, target=target)
    # every frame's pose comes whole from one hypothesis
    for b in range(B):
        for t in range(T):
            assert any(torch.equal(pose[b, t], hyps[b, h, t]) for h in range(H))
    err = lambda p: (p - target).norm(dim=-1).mean()  # noqa: E731
    assert err(out) <= err(pose)
    with pytest.raises(InputError, match="ground truth"):
        OracleAggregator()(hyps, x2d=x2d)
    with pytest.raises(SpecError):
        OracleAggregator(mode="frame")


def test_jpma_given_root_picks_exact_joints():
    target, root, x2d, hyps, best = _case(2)
    agg = JPMAAggregator(root="given")
    torch.testing.assert_close(agg(hyps, x2d=x2d, camera=CAM, root=root), target)
    idx = agg.select(hyps, x2d=x2d, camera=CAM.expand(B, 9), root=root)
    assert idx.shape == (B, T, J) and idx.dtype == torch.long
    assert bool((idx[..., 1:] == best[..., 1:]).all())  # joint 0 is identical in every hypothesis


def test_jpma_estimate_root():
    target, root, x2d, hyps, _ = _case(3)
    same = target[:, None].expand(B, H, T, J, 3).clone()
    torch.testing.assert_close(JPMAAggregator()(same, x2d=x2d, camera=CAM), target)
    # an explicit root is used as given
    agg = JPMAAggregator()
    torch.testing.assert_close(agg(hyps, x2d=x2d, camera=CAM, root=root),
                               JPMAAggregator(root="given")(hyps, x2d=x2d, camera=CAM, root=root))
    # estimated-root JPMA beats the mean on this easy case
    est = agg(hyps, x2d=x2d, camera=CAM)
    assert (est - target).norm(dim=-1).mean() < (hyps.mean(1) - target).norm(dim=-1).mean()


def test_jpma_distortion_flag_with_zero_distortion():
    target, root, x2d, hyps, _ = _case(4)
    cam = torch.cat([CAM[:4], torch.zeros(5)])
    x2d = project_to_2d(target + root, cam)
    a = JPMAAggregator(root="given", distortion=True)(hyps, x2d=x2d, camera=cam, root=root)
    b = JPMAAggregator(root="given", distortion=False)(hyps, x2d=x2d, camera=cam, root=root)
    torch.testing.assert_close(a, b)


def test_jpma_errors():
    target, root, x2d, hyps, _ = _case(5)
    with pytest.raises(InputError, match="mean"):
        JPMAAggregator()(hyps, x2d=x2d)
    with pytest.raises(InputError, match="root='given' needs root"):
        JPMAAggregator(root="given")(hyps, x2d=x2d, camera=CAM)
    with pytest.raises(InputError, match="camera must have shape"):
        JPMAAggregator()(hyps, x2d=x2d, camera=torch.zeros(3, 9))
    with pytest.raises(InputError, match="x2d must have shape"):
        JPMAAggregator()(hyps, x2d=x2d[:, :2], camera=CAM)
    with pytest.raises(InputError, match="root must have shape"):
        JPMAAggregator(root="given")(hyps, x2d=x2d, camera=CAM, root=root[:, :, 0])
    with pytest.raises(InputError, match="torch tensor"):
        JPMAAggregator()(hyps.numpy(), x2d=x2d, camera=CAM)
    with pytest.raises(SpecError):
        JPMAAggregator(root="gt")
