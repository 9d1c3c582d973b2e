"""The temporally consistent JPMA (aggregator ``jpma_temporal``): Viterbi against brute force, the two limits
(smoothness 0 = JPMA, large = one hypothesis per joint), fewer jumps than JPMA, options, the kind contract."""
from __future__ import annotations

import itertools

import pytest
import torch

import posediff
from posediff.aggregators import JPMAAggregator, TemporalJPMAAggregator
from posediff.aggregators.jpma_temporal import viterbi_paths
from posediff.errors import InputError, SpecError
from posediff.testing import check_component

CAM = torch.tensor([1.15, 1.15, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])


def brute_force(unary, pairwise):
    n, t_n, s_n = unary.shape
    out = []
    for c in range(n):
        best = min(itertools.product(range(s_n), repeat=t_n),
                   key=lambda p: (sum(float(unary[c, t, p[t]]) for t in range(t_n))
                                  + sum(float(pairwise[c, t, p[t], p[t + 1]]) for t in range(t_n - 1)), p))
        out.append(list(best))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_viterbi_finds_the_minimum_cost_path(seed):
    g = torch.Generator().manual_seed(seed)
    unary = torch.rand(4, 5, 3, generator=g, dtype=torch.float64)
    pairwise = torch.rand(4, 4, 3, 3, generator=g, dtype=torch.float64)
    assert viterbi_paths(unary, pairwise).tolist() == brute_force(unary, pairwise)


def scene(b=2, h=4, t=9, j=17, seed=0):
    """Hypotheses around a pose 5 m in front of the camera, and 2D that one of them projects to (noisy)."""
    g = torch.Generator().manual_seed(seed)
    pose = torch.randn(b, 1, 1, j, 3, generator=g, dtype=torch.float64) * 0.2
    velocity = torch.randn(b, 1, 1, j, 3, generator=g, dtype=torch.float64) * 0.01
    base = pose + velocity * torch.arange(t, dtype=torch.float64)[:, None, None]  # smooth motion
    # each hypothesis: the pose plus its own offset (constant over time) plus a little per-frame noise
    hyps = (base + torch.randn(b, h, 1, j, 3, generator=g, dtype=torch.float64) * 0.03
            + torch.randn(b, h, t, j, 3, generator=g, dtype=torch.float64) * 0.01)
    hyps[..., 0, :] = 0.0
    root = torch.tensor([0.0, 0.0, 5.0], dtype=torch.float64).expand(b, t, 1, 3)
    p = base[:, 0] + root
    x2d = 1.15 * p[..., :2] / p[..., 2:] + torch.randn(b, t, j, 2, generator=g, dtype=torch.float64) * 0.002
    return hyps, x2d, root


def test_zero_smoothness_is_jpma():
    hyps, x2d, root = scene()
    for kw in ({"root": None}, {"root": root}):
        a = JPMAAggregator(root="estimate" if kw["root"] is None else "given")(hyps, x2d=x2d, camera=CAM, **kw)
        b = TemporalJPMAAggregator(root="estimate" if kw["root"] is None else "given", smoothness=0.0)(
            hyps, x2d=x2d, camera=CAM, **kw)
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def switches(idx):
    return int((idx[:, 1:] != idx[:, :-1]).sum())


def motion(pose):
    """Total 3D path length of the joints, (B, T, J, 3) → float."""
    return float(torch.linalg.vector_norm(pose[:, 1:] - pose[:, :-1], dim=-1).sum())


def test_smoothness_trades_reprojection_for_fewer_jumps():
    hyps, x2d, root = scene()
    jpma = JPMAAggregator()
    ms = [motion(TemporalJPMAAggregator(smoothness=s)(hyps, x2d=x2d, camera=CAM)) for s in (0, 1, 100)]
    assert ms[0] == pytest.approx(motion(jpma(hyps, x2d=x2d, camera=CAM)))
    assert ms[0] > ms[1] > ms[2]
    counts = [switches(TemporalJPMAAggregator(smoothness=s).select(hyps, x2d=x2d, camera=CAM)) for s in (0, 1, 100)]
    assert counts[0] == switches(jpma.select(hyps, x2d=x2d, camera=CAM)) > 2 * counts[2]  # far fewer switches


def test_output_is_assembled_from_the_chosen_hypotheses():
    hyps, x2d, _ = scene(b=1, h=3)
    agg = TemporalJPMAAggregator(smoothness=1.0)
    idx = agg.select(hyps, x2d=x2d, camera=CAM)
    out = agg(hyps, x2d=x2d, camera=CAM)
    want = torch.stack([torch.stack([hyps[0, idx[0, t, j], t, j] for j in range(17)]) for t in range(9)])
    torch.testing.assert_close(out[0], want)


def test_inputs_and_options_are_checked():
    hyps, x2d, _ = scene(b=1)
    with pytest.raises(InputError, match="camera must be given: the jpma_temporal aggregator"):
        TemporalJPMAAggregator()(hyps, x2d=x2d)
    with pytest.raises(InputError, match="root must be given"):
        TemporalJPMAAggregator(root="given")(hyps, x2d=x2d, camera=CAM)
    with pytest.raises(SpecError, match=r"aggregator.smoothness: expected a number >= 0; got -1"):
        posediff.build("finepose-tiny", overrides={"aggregator.name": "jpma_temporal", "aggregator.smoothness": -1})


def test_kind_contract():
    check_component("aggregator", "jpma_temporal", overrides={"smoothness": 0.5})


def test_acceleration_error_is_the_second_difference_error():
    from posediff.metrics import acceleration_error

    g = torch.Generator().manual_seed(0)
    gt = torch.randn(2, 6, 17, 3, generator=g)
    pred = gt + torch.randn(2, 6, 17, 3, generator=g) * 0.01
    a = pred[:, 2:] - 2 * pred[:, 1:-1] + pred[:, :-2] - (gt[:, 2:] - 2 * gt[:, 1:-1] + gt[:, :-2])
    torch.testing.assert_close(acceleration_error(pred, gt), torch.linalg.vector_norm(a, dim=-1).mean())
    assert float(acceleration_error(gt + 0.3, gt)) == pytest.approx(0.0, abs=1e-6)  # a constant offset is not jitter
    with pytest.raises(InputError, match="at least 3 frames"):
        acceleration_error(gt[:, :2], gt[:, :2])


def test_lifting_page_table_is_rendered_from_the_committed_result():
    import importlib.util
    import json
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    result = repo / "benchmarks" / "results" / "eval" / "video_smoothness-S8.json"
    if not result.is_file():
        pytest.skip("no committed video smoothness result")
    spec = importlib.util.spec_from_file_location("vse", repo / "scripts" / "video_smoothness_eval.py")
    vse = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vse)
    page = (repo / "docs" / "lifting.md").read_text()
    block = page.split(vse.START, 1)[1].split(vse.END, 1)[0].strip()
    assert block == vse.table(json.loads(result.read_text())).strip(), \
        "docs/lifting.md's aggregator table is stale: rerun the command in it with --docs docs/lifting.md"
