"""Tests of the posediff-extras plugin, run against the *installed* distribution (entry points only)."""
from __future__ import annotations

import importlib.metadata as md
import math

import pytest
import torch

import posediff
from posediff import registry
from posediff.errors import InputError, SpecError
from posediff.geometry.cameras import project_to_2d
from posediff.interfaces import Conditioning
from posediff.testing import check_component

pytestmark = pytest.mark.plugins
torch.set_num_threads(1)

CAMERA = torch.tensor([1.1, 1.1, 0.02, -0.01, 0.0, 0.0, 0.0, 0.0, 0.0])


def _agg(name, **kwargs):
    return registry.get("aggregator", name)(**kwargs)


def _scene(b=2, h=5, t=3, seed=0):
    """Hypotheses around a pose, a camera-space root and the 2D of the first hypothesis."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(b, 1, t, 17, 3, generator=g) * 0.6 - 0.3
    hyps = base + 0.05 * torch.randn(b, h, t, 17, 3, generator=g)
    hyps[..., 0, :] = 0.0
    root = torch.tensor([0.1, -0.2, 4.5]).expand(b, t, 1, 3).clone()
    x2d = project_to_2d(hyps[:, 0] + root, CAMERA)
    return hyps, x2d, root


# --------------------------------------------------------------------------- discovery
def test_installed_distribution():
    try:
        dist = md.distribution("posediff-extras")
    except md.PackageNotFoundError:  # pragma: no cover
        pytest.fail("posediff-extras is not installed: pip install -e plugins/posediff-extras")
    groups = {ep.group for ep in dist.entry_points}
    assert {"posediff.aggregator", "posediff.backbone", "posediff.preset"} <= groups


@pytest.mark.parametrize("kind,name", [("aggregator", "median"), ("aggregator", "reproj_softmin"),
                                       ("backbone", "tcn")])
def test_discovered_and_honours_contract(kind, name):
    assert name in posediff.list_components(kind)
    assert registry.provider(kind, name).startswith("posediff-extras ")
    comp = check_component(kind, name)
    assert type(comp).__module__.startswith("posediff_extras.")


def test_geometric_median_contract():
    check_component("aggregator", "median", overrides={"method": "coordinate"})


# --------------------------------------------------------------------------- median
def test_coordinate_median_odd_and_even():
    hyps, x2d, _ = _scene(h=5)
    out = _agg("median")(hyps, x2d=x2d)
    torch.testing.assert_close(out, hyps.median(dim=1).values)
    four = hyps[:, :4]
    s = four.sort(dim=1).values
    torch.testing.assert_close(_agg("median")(four, x2d=x2d), (s[:, 1] + s[:, 2]) / 2)


@pytest.mark.parametrize("method", ["coordinate", "geometric"])
def test_median_ignores_outliers_and_order(method):
    hyps, x2d, _ = _scene(h=7)
    agg = _agg("median", method=method, iterations=100, eps=1e-9)
    clean = agg(hyps, x2d=x2d)
    near, far = hyps.clone(), hyps.clone()
    near[:, :3] += 5.0  # three of seven hypotheses far off ...
    far[:, :3] += 500.0  # ... or very far off: the median does not care how far
    robust = agg(near, x2d=x2d)
    tol = 0.0 if method == "coordinate" else 2e-3  # Weiszfeld: converged to about a millimetre
    torch.testing.assert_close(agg(far, x2d=x2d), robust, rtol=0, atol=tol)
    assert (robust - clean).norm(dim=-1).max() < 0.3
    assert (near.mean(dim=1) - clean).norm(dim=-1).min() > 1.0  # the mean is dragged away
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(agg(near[:, perm], x2d=x2d), robust, rtol=1e-5, atol=1e-5)


def test_geometric_median_is_optimal_and_rotation_equivariant():
    hyps, x2d, _ = _scene(h=6, seed=4)
    agg = _agg("median", method="geometric", iterations=200, eps=1e-9)
    m = agg(hyps.double(), x2d=x2d)

    def cost(p):
        return (hyps.double() - p[:, None]).norm(dim=-1).sum(dim=1)

    for direction in torch.eye(3, dtype=torch.float64):
        for step in (1e-3, -1e-3):
            assert bool((cost(m + step * direction) >= cost(m) - 1e-9).all())
    angle = 0.7
    rot = torch.tensor([[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]],
                       dtype=torch.float64)
    torch.testing.assert_close(agg(hyps.double() @ rot.T, x2d=x2d), m @ rot.T, rtol=1e-6, atol=1e-8)


def test_median_errors():
    with pytest.raises(SpecError, match="aggregator.method"):
        _agg("median", method="mode")
    with pytest.raises(SpecError, match="aggregator.iterations"):
        _agg("median", iterations=-1)
    with pytest.raises(InputError, match="hyps must have shape"):
        _agg("median")(torch.zeros(2, 3, 17, 3), x2d=None)
    with pytest.raises(InputError, match="NaN"):
        _agg("median")(torch.full((1, 2, 3, 17, 3), float("nan")))


# --------------------------------------------------------------------------- reproj_softmin
def test_softmin_limits_are_jpma_and_mean():
    hyps, x2d, root = _scene()
    jpma = _agg("jpma", root="given")(hyps, x2d=x2d, camera=CAMERA, root=root)
    hard = _agg("reproj_softmin", temperature=1e-7, root="given")(hyps, x2d=x2d, camera=CAMERA, root=root)
    torch.testing.assert_close(hard, jpma)
    flat = _agg("reproj_softmin", temperature=1e6, root="given")(hyps, x2d=x2d, camera=CAMERA, root=root)
    torch.testing.assert_close(flat, hyps.mean(dim=1), rtol=1e-4, atol=1e-5)


def test_softmin_weights_and_gradient():
    hyps, x2d, root = _scene()
    agg = _agg("reproj_softmin", temperature=0.01)
    w = agg.weights(hyps, x2d=x2d, camera=CAMERA.expand(2, 9), root=root)
    assert w.shape == (2, 5, 3, 17)
    torch.testing.assert_close(w.sum(dim=1), torch.ones(2, 3, 17))
    # the first hypothesis produced the 2D: on average it gets by far the largest weight
    mean_w = w[..., 1:].mean(dim=(0, 2, 3))
    assert int(mean_w.argmax()) == 0 and mean_w[0] > 2 * mean_w[1:].max()
    hyps = hyps.clone().requires_grad_(True)
    agg(hyps, x2d=x2d, camera=CAMERA).sum().backward()
    assert hyps.grad is not None and torch.isfinite(hyps.grad).all()


def test_softmin_errors():
    hyps, x2d, root = _scene()
    with pytest.raises(InputError, match="needs camera intrinsics"):
        _agg("reproj_softmin")(hyps, x2d=x2d)
    with pytest.raises(InputError, match="root='given' needs root"):
        _agg("reproj_softmin", root="given")(hyps, x2d=x2d, camera=CAMERA)
    with pytest.raises(InputError, match="root must have shape"):
        _agg("reproj_softmin")(hyps, x2d=x2d, camera=CAMERA, root=root[:, :1])
    with pytest.raises(InputError, match="camera must have shape"):
        _agg("reproj_softmin")(hyps, x2d=x2d, camera=torch.zeros(3, 9))
    with pytest.raises(SpecError, match="temperature"):
        _agg("reproj_softmin", temperature=0.0)
    assert _agg("reproj_softmin", root="given").needs == frozenset({"camera", "root"})


def test_aggregators_through_build():
    x2d = torch.randn(1, 27, 17, 2, generator=torch.Generator().manual_seed(0)) * 0.3
    lifter = posediff.build("d3dp-tiny", overrides={"aggregator.name": "median", "sampler.steps": 2,
                                                    "sampler.hypotheses": 3})
    out = lifter.lift(x2d, generator=torch.Generator().manual_seed(1))  # no camera needed
    assert out.shape == (1, 27, 17, 3)
    lifter = posediff.build("d3dp-tiny", overrides={"aggregator.name": "reproj_softmin", "aggregator.temperature": 0.02,
                                                    "sampler.steps": 2, "sampler.hypotheses": 3})
    assert lifter.spec["aggregator"] == {"name": "reproj_softmin", "temperature": 0.02, "root": "estimate",
                                         "distortion": True}
    with pytest.raises(InputError, match="camera"):  # the lifter says the aggregator needs intrinsics
        lifter.lift(x2d)
    assert lifter.lift(x2d, camera=CAMERA, generator=torch.Generator().manual_seed(1)).shape == (1, 27, 17, 3)


def test_posediff_evaluate_scores_the_plugins_aggregator_beside_the_built_in_ones(tmp_path):
    """Issue 20's done-when: a spec whose aggregator comes from this plugin is evaluated by ``posediff evaluate``
    and the report gives that aggregator's MPJPE beside the built-in rows (evaluation used to score only its
    four hard-coded aggregators)."""
    import json

    from posediff.checkpoints import save_lifter
    from posediff.cli import main

    lifter = posediff.build("d3dp-tiny", overrides={"aggregator.name": "median", "sampler.hypotheses": 3,
                                                    "sampler.steps": 1})
    ckpt = save_lifter(lifter, tmp_path / "median.pt")
    data = "synthetic:subjects=1,frames=40,cameras=1"
    assert main(["evaluate", str(ckpt), "--data", data, "--max-windows", "2", "--out", str(tmp_path),
                 "--name", "own", "--quiet"]) == 0
    own = json.loads((tmp_path / "own.json").read_text())
    assert {"median", "J-Agg", "P-Agg"} <= set(own["results"]), sorted(own["results"])
    assert own["aggregators"]["median"]["registered"] is True and not own["aggregators"]["median"]["oracle"]
    for row in ("median", "P-Agg"):
        assert own["results"][row]["mpjpe_mm"]["avg"][-1] > 0
    # asked by name on the command line, next to another plugin aggregator
    assert main(["evaluate", str(ckpt), "--data", data, "--max-windows", "2", "--out", str(tmp_path),
                 "--name", "asked", "--quiet", "--aggregators", "jpma,mean,median,reproj_softmin"]) == 0
    asked = json.loads((tmp_path / "asked.json").read_text())
    assert {"median", "reproj_softmin", "J-Agg", "P-Agg"} <= set(asked["results"])
    assert (tmp_path / "asked.md").read_text().count("median") >= 1


# --------------------------------------------------------------------------- tcn backbone
def _tcn(**kwargs):
    params = dict(dim=32, frames=15, joints=17, depth=2)
    params.update(kwargs)
    return registry.get("backbone", "tcn")(**params).eval()


def test_tcn_hook_points_are_called_in_contract_layout():
    net = _tcn()
    assert net.hook_points == ("block.0", "block.1")
    calls = []

    def site(x, cond, v):
        calls.append((tuple(x.shape), tuple(v.shape)))
        return x * 0.5

    x2d, y = torch.randn(3, 15, 17, 2), torch.randn(3, 15, 17, 3)
    t = torch.tensor([1, 500, 999])
    with torch.no_grad():
        plain = net(x2d, y, t, Conditioning(), {})
        hooked = net(x2d, y, t, Conditioning(), {"block.1": site})
    assert calls == [((3 * 17, 15, 32), (3, 32))]
    assert not torch.allclose(plain, hooked)


def test_tcn_is_local_in_time_and_accepts_any_length():
    net = _tcn(depth=2, kernel=3, growth=2)
    assert net.receptive_field() == 7
    x2d, y = torch.randn(1, 15, 17, 2), torch.randn(1, 15, 17, 3)
    t = torch.tensor([10])
    with torch.no_grad():
        a = net(x2d, y, t, Conditioning(), {})
        y2 = y.clone()
        y2[:, 10] += 1.0
        b = net(x2d, y2, t, Conditioning(), {})
        assert torch.equal(a[:, :7], b[:, :7])  # frames more than 3 away from frame 10
        assert not torch.allclose(a[:, 7:], b[:, 7:])
        assert net(x2d[:, :5], y[:, :5], t, Conditioning(), {}).shape == (1, 5, 17, 3)


def test_tcn_conditioning_vector_is_used():
    net = _tcn()
    x2d, y, t = torch.randn(4, 15, 17, 2), torch.randn(4, 15, 17, 3), torch.tensor([3, 3, 3, 3])
    with torch.no_grad():
        a = net(x2d, y, t, Conditioning(vector=torch.zeros(2, 32)), {})
        b = net(x2d, y, t, Conditioning(vector=torch.ones(2, 32)), {})
        c = net(x2d, y, t, Conditioning(), {})
    torch.testing.assert_close(a, c)
    assert not torch.allclose(a, b)


def test_tcn_spec_validation():
    with pytest.raises(SpecError) as info:
        posediff.resolve_spec("d3dp-tiny-tcn", overrides={"fusion[0].at": "spatial.0", "backbone.kernel": 4})
    text = str(info.value)
    assert "unknown hook point 'spatial.0'" in text and "block.0" in text
    assert "kernel must be odd" in text
    with pytest.raises(SpecError):
        _tcn(dim=30, depth=0)


def test_tcn_preset_builds_trains_and_lifts():
    assert "d3dp-tiny-tcn" in posediff.list_presets()
    lifter = posediff.build("d3dp-tiny-tcn", overrides={"sampler.steps": 2, "sampler.hypotheses": 2})
    assert type(lifter.backbone).__name__ == "TCNBackbone"
    assert list(lifter.spec["fusion"][0]["blocks"][0].values())[0] == "pts"
    g = torch.Generator().manual_seed(0)
    x2d, y3d = torch.randn(2, 27, 17, 2, generator=g) * 0.3, torch.randn(2, 27, 17, 3, generator=g) * 0.2
    lifter.train()
    loss = lifter.training_loss(x2d, y3d, generator=g)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in lifter.backbone.parameters() if p.requires_grad)
    lifter.eval()
    out = lifter.lift(x2d, camera=CAMERA, generator=torch.Generator().manual_seed(1))
    assert out.shape == (2, 27, 17, 3) and torch.isfinite(out).all()
