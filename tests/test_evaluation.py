"""posediff.evaluation: report structure, oracle labels, protocols, window weighting, 3DHP metrics, CLI."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import posediff
from posediff import metrics
from posediff.data import Dataset, Sequence
from posediff.errors import InputError
from posediff.evaluation import AGGREGATORS, ORACLE_LABEL, evaluate, evaluate_protocols
from posediff.training import load_dataset

OVR = {"sampler.hypotheses": 3, "sampler.steps": 2}


@pytest.fixture(autouse=True)
def _quiet():
    torch.set_num_threads(1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*offline.*NOT CLIP.*")
        yield


@pytest.fixture(scope="module")
def d3dp():
    torch.manual_seed(0)
    return posediff.build("d3dp-tiny", overrides=OVR)


@pytest.fixture(scope="module")
def finepose():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*offline.*NOT CLIP.*")
        return posediff.build("finepose-tiny", overrides=OVR)


@pytest.fixture(scope="module")
def synth():
    # one subject, walking + sitting, one camera, 60 frames: windows start at 0, 27 and 33
    return load_dataset("synthetic:subjects=1,frames=60,cameras=1", ["synth-0"]).filter(
        base_actions=["walking", "sitting"])


def test_report_structure(d3dp, synth):
    rep = evaluate(d3dp, synth, seed=3, data_description="synthetic synth-0")
    d = rep.data
    assert d["protocol"]["name"] == "deployable" == rep.protocol
    assert "neutral prompt" in d["protocol"]["actions"] and "estimated" in d["protocol"]["jpma_root"]
    assert d["steps"] == [1, 2] and d["model"]["hypotheses"] == 3
    assert list(d["results"]) == list(AGGREGATORS)
    assert d["metrics"] == ["mpjpe_mm", "p_mpjpe_mm"]  # no PCK/AUC outside 3DHP
    assert d["groups"]["kind"] == "action" and d["groups"]["names"] == ["walking", "sitting"]
    for agg, res in d["results"].items():
        for metric in d["metrics"]:
            r = res[metric]
            assert len(r["avg"]) == len(r["all_frames"]) == 2
            assert set(r["groups"]) == {"sitting", "walking"}
            assert r["avg"][-1] == pytest.approx(np.mean([r["groups"][g][-1] for g in r["groups"]]))
            assert all(v > 0 for v in r["avg"])
    assert d["aggregators"]["P-Best"]["oracle"] and d["aggregators"]["J-Best"]["oracle"]
    assert not d["aggregators"]["J-Agg"]["oracle"] and not d["aggregators"]["P-Agg"]["oracle"]
    # J-Best picks the best joint among all hypotheses: never worse than any other per-joint selection
    for m in range(2):
        jb = d["results"]["J-Best"]["mpjpe_mm"]["all_frames"][m]
        assert jb <= d["results"]["J-Agg"]["mpjpe_mm"]["all_frames"][m] + 1e-9
        assert jb <= d["results"]["P-Best"]["mpjpe_mm"]["all_frames"][m] + 1e-9
    assert json.loads(rep.to_json())["protocol"]["name"] == "deployable"
    assert rep.value("P-Agg", "mpjpe_mm") == d["results"]["P-Agg"]["mpjpe_mm"]["avg"][-1]
    with pytest.raises(InputError):
        rep.value("X-Agg")


def test_markdown_marks_oracles_and_protocol(d3dp, synth, tmp_path):
    rep = evaluate(d3dp, synth, protocol="paper")
    md = rep.to_markdown()
    assert "**Protocol: paper**" in md and "ground-truth root trajectory" in md
    assert md.count(f"P-Best — {ORACLE_LABEL}") >= 4 and md.count(f"J-Best — {ORACLE_LABEL}") >= 4
    assert "per action, step 2" in md and "| walking |" in md
    j, m = rep.save(tmp_path, "r")
    assert json.loads(j.read_text())["protocol"]["name"] == "paper" and m.read_text() == md
    assert "paper" in rep.summary() and ORACLE_LABEL in rep.summary()


def test_values_match_the_metrics_module(d3dp):
    # one sequence of exactly one window: the report must equal the metrics functions on the same samples
    ds = load_dataset("synthetic:subjects=1,frames=27,cameras=1", ["synth-0"]).filter(base_actions=["walking"])
    rep = evaluate(d3dp, ds, seed=5, batch_size=1)
    seq = ds[0]
    hyps = d3dp.sample(torch.from_numpy(seq.x2d)[None], generator=torch.Generator().manual_seed(5))
    gt = torch.from_numpy(seq.x3d)[None].double()
    h = hyps.double()
    r = rep.data["results"]
    assert r["P-Agg"]["mpjpe_mm"]["all_frames"] == pytest.approx((metrics.p_agg(h, gt) * 1000).tolist())
    assert r["J-Best"]["mpjpe_mm"]["all_frames"] == pytest.approx((metrics.j_best(h, gt) * 1000).tolist())
    assert r["P-Best"]["mpjpe_mm"]["all_frames"] == pytest.approx((metrics.p_best(h, gt) * 1000).tolist())
    assert r["P-Agg"]["p_mpjpe_mm"]["all_frames"] == pytest.approx(
        (metrics.p_agg(h, gt, protocol=2) * 1000).tolist())
    assert r["J-Best"]["p_mpjpe_mm"]["all_frames"] == pytest.approx(
        (metrics.j_best(h, gt, protocol=2) * 1000).tolist())
    idx = metrics.reprojection_indices(h, torch.from_numpy(seq.x2d)[None].double(),
                                       torch.from_numpy(seq.camera).double(),
                                       torch.from_numpy(seq.root)[None].double())
    paper = evaluate(d3dp, ds, seed=5, batch_size=1, protocol="paper")
    assert paper.data["results"]["J-Agg"]["mpjpe_mm"]["all_frames"] == pytest.approx(
        (metrics.j_agg(h, gt, idx) * 1000).tolist())


def test_windows_count_each_frame_once(d3dp, synth):
    once = evaluate(d3dp, synth)
    twice = evaluate(d3dp, synth, official_overlap=True)
    assert once.data["data"]["windows"] == twice.data["data"]["windows"] == 6  # 3 per sequence
    assert once.data["data"]["frames"] == pytest.approx(2 * 60)
    assert twice.data["data"]["frames"] == pytest.approx(2 * 81)  # the 21-frame overlap counts twice
    assert "counted once" in once.data["windows"]["mode"] and twice.data["windows"]["official_overlap"]
    sub = evaluate(d3dp, synth, max_windows=2)
    assert sub.data["data"]["windows"] == 2 and any("subsampled" in n for n in sub.data["notes"])


def test_protocols_share_samples_without_prompts(d3dp, synth):
    reps = evaluate_protocols(d3dp, synth, protocols=["deployable", "paper"], seed=1)
    assert set(reps) == {"deployable", "paper"}
    assert any("identical inputs" in n for n in reps["paper"].data["notes"])
    # same samples: the ground-truth-free aggregations coincide, J-Agg differs only by the root it uses
    for agg in ("P-Agg", "P-Best", "J-Best"):
        assert reps["paper"].data["results"][agg] == reps["deployable"].data["results"][agg]
    alone = evaluate(d3dp, synth, protocol="paper", seed=1)
    assert alone.data["results"]["J-Agg"] == reps["paper"].data["results"]["J-Agg"]


def test_paper_protocol_uses_labels(finepose, synth):
    reps = evaluate_protocols(finepose, synth, protocols=["deployable", "paper"], seed=1)
    assert not any("identical inputs" in n for n in reps["paper"].data["notes"])
    # walking/sitting are H36M actions (Walking, Sitting): the prompts differ, so do the samples
    assert reps["paper"].data["results"]["P-Agg"] != reps["deployable"].data["results"]["P-Agg"]
    odd = load_dataset("synthetic:subjects=1,frames=27,cameras=1", ["synth-0"]).filter(base_actions=["turning"])
    rep = evaluate(finepose, odd, protocol="paper")
    assert any("turning" in n and "neutral prompt" in n for n in rep.data["notes"])


def _fake_3dhp(valid_frames: int = 20, camera: bool = True) -> Dataset:
    rng = np.random.default_rng(0)
    T = 30
    x3d = rng.normal(0, 0.2, (T, 17, 3)).astype(np.float32)
    x3d[:, 14] = 0.0
    root = np.tile(np.array([[[0.1, 0.2, 4.0]]], np.float32), (T, 1, 1))
    cam = np.array([1.75, 1.75, 0.0, 0.0, 0, 0, 0, 0, 0], np.float32)
    abs3d = x3d + root
    x2d = abs3d[..., :2] / abs3d[..., 2:] * 1.75
    valid = np.zeros(T, bool)
    valid[:valid_frames] = True
    seq = Sequence(subject="TS5", action="", x2d=x2d, x3d=x3d, root=root, camera=cam if camera else None,
                   skeleton="3dhp-17", valid=valid, source="3dhp")
    return Dataset([seq], name="3dhp-test")


def test_3dhp_pck_auc_valid_frames_and_cross_dataset(d3dp):
    rep = evaluate(d3dp, _fake_3dhp(), protocol="paper")
    d = rep.data
    assert d["metrics"] == ["mpjpe_mm", "p_mpjpe_mm", "pck", "auc"]
    assert d["groups"]["kind"] == "sequence" and d["groups"]["names"] == ["TS5"]
    assert d["data"]["frames"] == pytest.approx(20)  # only valid frames count
    assert any("cross-dataset" in n for n in d["notes"])
    for agg in AGGREGATORS:
        assert 0 <= d["results"][agg]["pck"]["avg"][-1] <= 100
        assert 0 <= d["results"][agg]["auc"]["avg"][-1] <= d["results"][agg]["pck"]["avg"][-1] + 1e-9
    assert "PCK@150mm" in rep.to_markdown()


def test_jagg_needs_camera(d3dp):
    rep = evaluate(d3dp, _fake_3dhp(camera=False))
    assert rep.value("J-Agg", "mpjpe_mm") is None and rep.value("P-Agg", "mpjpe_mm") > 0
    assert any("intrinsics" in n for n in rep.data["notes"])
    assert "n/a" in rep.to_markdown()


def test_exception(d3dp, synth):
    with pytest.raises(InputError):
        evaluate(d3dp, synth, protocol="oracle")
    no3d = Dataset([synth[0].replace(x3d=None)])
    with pytest.raises(InputError):
        evaluate(d3dp, no3d)
    with pytest.raises(InputError):
        evaluate(d3dp, Dataset([_fake_3dhp()[0].replace(root=None)]), protocol="paper")


def test_cli_evaluate(tmp_path, capsys):
    from posediff.cli import main

    out = tmp_path / "eval"
    code = main(["evaluate", "d3dp-tiny", "--data", "synthetic:subjects=2,frames=27,cameras=1", "--protocol", "both",
                 "--hypotheses", "2", "--steps", "1", "--max-windows", "2", "--out", str(out), "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "[deployable]" in text and "[paper]" in text
    rep = json.loads((out / "synthetic-synth-1-paper.json").read_text())
    assert rep["protocol"]["name"] == "paper" and rep["steps"] == [1]
    assert any("untrained" in n for n in rep["notes"])
    assert (out / "synthetic-synth-1-deployable.md").is_file()


def test_sequence_count_counts_every_loaded_sequence(d3dp, synth):
    """Regression: with --max-windows the report counted only the sequences its windows came from."""
    sub = evaluate(d3dp, synth, max_windows=1)
    assert sub.data["data"]["windows"] == 1
    assert sub.data["data"]["sequences"] == len(synth) == 2


def test_held_out_is_recognised_by_the_data_not_its_path():
    """Regression: the same Human3.6M copy read from another folder was labelled cross-dataset."""
    from posediff.evaluation import describe_data

    trained = {"data": "h36m:/machine-a/h36m", "train_subjects": ["S1", "S5", "S6", "S7"]}
    desc, notes = describe_data("h36m:/machine-b/data/h36m", ["S8"], trained)
    assert "held out" in desc and "cross-dataset" not in desc
    desc, notes = describe_data("h36m:/machine-b/data/h36m", ["S5"], trained)
    assert any("also used for training" in n for n in notes)
    desc, _ = describe_data("3dhp:/x/mpi_inf_3dhp_test", ["TS5"], trained)
    assert "cross-dataset" in desc
    synth = {"data": "synthetic:subjects=3,seed=0", "train_subjects": ["synth-0"]}
    desc, _ = describe_data("synthetic:subjects=3,seed=1", ["synth-2"], synth)
    assert "cross-dataset" in desc


# --------------------------------------------------------------------------- speed paths (issue 10)
def test_aligned_errors_match_procrustes_align():
    # the evaluation's batched Procrustes (gt broadcast, aligned pose never formed) equals metrics.procrustes_align
    from posediff.evaluation import aligned_errors

    g = torch.Generator().manual_seed(0)
    p = torch.randn(3, 2, 4, 5, 17, 3, generator=g, dtype=torch.float64) * 0.3
    y = torch.randn(3, 1, 1, 5, 17, 3, generator=g, dtype=torch.float64) * 0.3
    p[0, 0, 0, 0] = 0.25  # degenerate pose (all joints equal)
    p[1, 0, 0, 0] = y[1, 0, 0, 0] * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)  # mirror: det R < 0 fix
    p[2, 1, 3] = 2.0 * y[2, 0, 0] + 0.1  # exact similarity: zero error
    ref = torch.linalg.vector_norm(metrics.procrustes_align(p, y.expand_as(p), validate=False) - y, dim=-1)
    new = aligned_errors(p, y)
    assert new.shape == ref.shape == (3, 2, 4, 5, 17)
    assert torch.allclose(new, ref, rtol=0, atol=1e-9)
    assert float(new[2, 1, 3].abs().max()) < 1e-9
    # P-MPJPE of the metrics module, per pose
    assert torch.allclose(new.mean(-1), metrics.p_mpjpe(p, y.expand_as(p), reduction="pose"), rtol=0, atol=1e-9)


def test_noise_stream_replays_the_sampler_draws(finepose):
    # noise drawn in blocks of NOISE_BLOCK windows, in the order the sampler's own calls draw it: with a
    # row-wise denoiser the samples are bit-identical whatever the batches the stream is taken in
    from posediff.evaluation import NOISE_BLOCK, NoiseStream, replay_draws

    sampler, perm, loop = finepose.sampler, finepose.skeleton.flip_permutation, finepose.sampling

    def denoise(x2d_k, y_k, t_k):
        return 0.5 * y_k + 0.1 * x2d_k.sum(-1, keepdim=True) + 1e-4 * t_k[..., None, None, None]

    n = NOISE_BLOCK + 5
    x = torch.randn(n, finepose.frames, 17, 2, generator=torch.Generator().manual_seed(1)) * 0.3
    gen = torch.Generator().manual_seed(4)
    direct = torch.cat([sampler.sample(denoise, x[b0:b0 + NOISE_BLOCK], settings=loop, flip_permutation=perm,
                                       generator=gen)
                        for b0 in range(0, n, NOISE_BLOCK)])
    stream = NoiseStream(4, n, replay_draws(finepose, loop.steps), (3, finepose.frames, 17, 3), x.dtype)
    parts = [sampler.sample(denoise, x[b0:b1], settings=loop, flip_permutation=perm, draws=stream.take(b1 - b0))
             for b0, b1 in ((0, 3), (3, 12), (12, n))]
    assert torch.equal(torch.cat(parts), direct)
    # and through the lifter (fp32 denoiser: equal up to float rounding of other batch sizes)
    gen = torch.Generator().manual_seed(4)
    ref = finepose.sample(x[:NOISE_BLOCK], generator=gen)
    stream = NoiseStream(4, n, replay_draws(finepose, loop.steps), (3, finepose.frames, 17, 3), x.dtype)
    got = torch.cat([finepose.sample(x[b0:b1], draws=stream.take(b1 - b0)) for b0, b1 in ((0, 5), (5, 8))])
    assert torch.allclose(got, ref, atol=1e-5)


def test_batch_size_and_workers_do_not_change_numbers(finepose, synth):
    ref = evaluate_protocols(finepose, synth, seed=2)
    threads = torch.get_num_threads()
    for kw in ({"batch_size": 1}, {"batch_size": 4, "workers": 2}, {"batch_size": 64, "workers": 3}):
        reps = evaluate_protocols(finepose, synth, seed=2, **kw)
        assert torch.get_num_threads() == threads  # restored after the worker threads
        for p in ("deployable", "paper"):
            assert reps[p].data["sampling"]["workers"] == min(kw.get("workers", 1), -(-6 // kw["batch_size"]) * 2)
            for agg, res in ref[p].data["results"].items():
                for metric, r in res.items():
                    got = reps[p].data["results"][agg][metric]
                    assert got["all_frames"] == pytest.approx(r["all_frames"], rel=1e-6, abs=1e-6)
                    for grp, vals in r["groups"].items():
                        assert got["groups"][grp] == pytest.approx(vals, rel=1e-6, abs=1e-6)
    with pytest.raises(InputError):
        evaluate(finepose, synth, workers=-1)
    with pytest.raises(InputError):
        evaluate(finepose, synth, batch_size=0)


def test_precision_is_an_option_and_recorded(d3dp, synth):
    assert d3dp.precision == "fp32"
    ref = evaluate(d3dp, synth, seed=1)
    assert ref.data["sampling"]["precision"] == ref.data["model"]["precision"] == "fp32"
    assert "fp32 sampling" in ref.to_markdown()
    fast = evaluate(d3dp, synth, seed=1, precision="bf16")
    assert d3dp.precision == "fp32"  # the lifter's own setting is restored
    assert fast.data["sampling"]["precision"] == fast.data["model"]["precision"] == "bf16"
    assert any("bf16" in n for n in fast.data["notes"]) and "bf16 sampling" in fast.to_markdown()
    # same noise, reduced precision: close to, not equal to, the fp32 numbers
    a, b = ref.value("P-Agg"), fast.value("P-Agg")
    assert a != b and b == pytest.approx(a, rel=0.05)
    with pytest.raises(InputError):
        evaluate(d3dp, synth, precision="fp16")


def test_cli_evaluate_fast(tmp_path, capsys, monkeypatch):
    """--fast is precision 'auto': bf16 where this machine runs it faster, fp32 elsewhere (the measured
    ratio is pinned here, so the test does not depend on the CPU running it; an AVX2-only CPU took fp32)."""
    from posediff.cli import main

    out = tmp_path / "eval"
    args = ["evaluate", "d3dp-tiny", "--data", "synthetic:subjects=2,frames=27,cameras=1", "--hypotheses", "2",
            "--steps", "1", "--max-windows", "2", "--out", str(out), "--quiet"]
    monkeypatch.setenv("POSEDIFF_BF16_SPEEDUP", "0.12")  # an AVX2-only CPU
    assert main(args + ["--fast", "--name", "avx2"]) == 0
    rep = json.loads((out / "avx2.json").read_text())
    assert rep["sampling"]["precision"] == "fp32" and rep["sampling"]["precision_choice"].startswith("fp32 (auto")
    monkeypatch.setenv("POSEDIFF_BF16_SPEEDUP", "2.3")  # a CPU with bf16 units
    assert main(args + ["--fast", "--workers", "2", "--batch-size", "1"]) == 0
    rep = json.loads((out / "synthetic-synth-1-deployable.json").read_text())
    assert rep["sampling"]["precision"] == rep["model"]["precision"] == "bf16"
    assert rep["sampling"]["workers"] == 2 and rep["sampling"]["batch_size"] == 1
    assert main(args + ["--precision", "fp32", "--name", "ref"]) == 0
    assert json.loads((out / "ref.json").read_text())["sampling"]["precision"] == "fp32"
    assert main(args + ["--fast", "--precision", "fp32"]) != 0
    capsys.readouterr()


# ------------------------------------------------------------------ velocity / acceleration over time
def test_temporal_errors_match_the_metrics_module_on_the_rebuilt_sequence():
    """Two windows of 5 frames over a 7-frame sequence (overlap 3): the collector rebuilds the output
    sequence and scores it like posediff.metrics on the whole sequence — the jump at the window
    boundary counts (a per-window computation would not see it)."""
    from posediff.data.clips import test_windows
    from posediff.evaluation.temporal import TemporalCollector

    rng = np.random.default_rng(0)
    gt = rng.normal(size=(7, 4, 3)) * 0.1
    win = test_windows(7, 5)
    idx = win.frame_index()
    rows, poses, truth = [], [], []
    for i in range(win.num_windows):
        rows.append({"seq": 0, "frame_idx": idx[i], "weights": torch.from_numpy(win.weights[i])})
        poses.append(gt[idx[i]] + 0.02 * i)  # window 1 is offset by 2 cm: a jump at the boundary
        truth.append(gt[idx[i]])
    col = TemporalCollector([7], ["walking"])
    col.add("deployable", "P-Agg", rows, np.stack(poses), np.stack(truth))
    res = col.results()["deployable"]["P-Agg"]
    acc = np.zeros((7, 4, 3))
    wsum = np.zeros(7)
    for r, p in zip(rows, poses):
        np.add.at(acc, r["frame_idx"], r["weights"].numpy()[:, None, None] * p)
        np.add.at(wsum, r["frame_idx"], r["weights"].numpy())
    pred = acc / wsum[:, None, None]
    assert res["mpjve_mm"]["all_frames"] == pytest.approx(float(metrics.mpjve(pred, gt)) * 1000, rel=1e-5)
    assert res["accel_mm"]["all_frames"] == pytest.approx(float(metrics.acceleration_error(pred, gt)) * 1000, rel=1e-5)
    assert res["mpjve_mm"]["all_frames"] > 1.0  # the boundary jump is seen
    assert res["mpjve_mm"]["counts"] == {"walking": 6} and res["accel_mm"]["counts"] == {"walking": 5}


def test_temporal_errors_skip_frames_that_were_not_evaluated():
    from posediff.evaluation.temporal import TemporalCollector

    gt = np.zeros((10, 2, 3))
    col = TemporalCollector([10], ["s"])
    rows = [{"seq": 0, "frame_idx": np.arange(0, 3), "weights": torch.ones(3)},
            {"seq": 0, "frame_idx": np.arange(6, 9), "weights": torch.ones(3)}]
    poses = np.zeros((2, 3, 2, 3))
    poses[1] += 1.0  # far away, but no frame pair spans the gap 3..5
    col.add("deployable", "P-Agg", rows, poses, np.zeros((2, 3, 2, 3)))
    res = col.results()["deployable"]["P-Agg"]
    assert res["mpjve_mm"]["counts"] == {"s": 4} and res["mpjve_mm"]["avg"] == 0.0
    assert res["accel_mm"]["counts"] == {"s": 2}


def test_report_has_velocity_and_acceleration_errors(d3dp, synth, tmp_path):
    rep = evaluate(d3dp, synth, seed=3)
    t = rep.data["temporal"]
    assert set(t["results"]) == {"P-Agg", "J-Agg"} and t["step"] == 2
    for agg in ("P-Agg", "J-Agg"):
        for m in ("mpjve_mm", "accel_mm"):
            r = t["results"][agg][m]
            assert set(r["groups"]) == {"walking", "sitting"} and np.isfinite(r["avg"]) and r["avg"] > 0
    assert t["results"]["P-Agg"]["mpjve_mm"]["counts"] == {"walking": 59, "sitting": 59}
    assert rep.temporal_value("P-Agg", "accel_mm") == t["results"]["P-Agg"]["accel_mm"]["avg"]
    md = rep.to_markdown()
    assert "## Over time: velocity and acceleration errors, step 2" in md and "mm/frame²" in md
    assert "accel" in rep.summary()
    json.loads(rep.to_json())  # serialisable


# ------------------------------------------------------------------ registered (plugin) aggregators
def test_registered_aggregators_are_scored_from_the_same_hypotheses(d3dp, synth, monkeypatch):
    """Evaluation builds extra aggregators through the registry, so a plugin's aggregator is scored like the
    built-in rows (issue 20: evaluation only ever reported the four hard-coded ones)."""
    from posediff import registry
    from posediff.interfaces import Aggregator

    class MeanAgain(Aggregator):
        """The mean of the hypotheses, under another name."""

        def aggregate(self, hyps, **_):
            return hyps.mean(dim=1)

    class NeedsTruth(Aggregator):
        """An oracle: the hypothesis closest to the truth, per joint."""

        needs = frozenset({"target"})

        def aggregate(self, hyps, *, target, **_):
            d = (hyps - target[:, None]).norm(dim=-1, keepdim=True)
            return torch.take_along_dim(hyps, d.argmin(dim=1, keepdim=True), dim=1).squeeze(1)

    class NeedsRoot(Aggregator):
        """Needs the ground-truth root (not available under the deployable protocol)."""

        needs = frozenset({"root"})

        def aggregate(self, hyps, **_):
            return hyps[:, 0]

    monkeypatch.setattr(registry, "_table", dict(registry._table))
    registry.register("aggregator", "zz_mean_again")(MeanAgain)
    registry.register("aggregator", "zz_truth")(NeedsTruth)
    registry.register("aggregator", "zz_root")(NeedsRoot)
    reps = evaluate_protocols(d3dp, synth, aggregators=["jpma", "mean", "zz_mean_again", "zz_truth", "zz_root"],
                              max_windows=6, batch_size=3)
    dep, paper = reps["deployable"], reps["paper"]
    assert list(dep.aggregators) == ["J-Agg", "P-Agg", "P-Best", "J-Best", "zz_mean_again", "zz_truth", "zz_root"]
    for m in ("mpjpe_mm", "p_mpjpe_mm"):
        assert dep.value("zz_mean_again", m) == pytest.approx(dep.value("P-Agg", m), abs=1e-9)
    # per joint the closest hypothesis is J-Best's MPJPE (J-Best's P-MPJPE is defined on aligned errors)
    assert dep.value("zz_truth", "mpjpe_mm") == pytest.approx(dep.value("J-Best", "mpjpe_mm"), abs=1e-9)
    assert dep.aggregators["zz_truth"]["oracle"] and ORACLE_LABEL in dep.aggregators["zz_truth"]["label"]
    assert not dep.aggregators["zz_mean_again"]["oracle"]
    assert dep.value("zz_root", "mpjpe_mm") is None and paper.value("zz_root", "mpjpe_mm") is not None
    assert any("'zz_root' needs the ground-truth root" in n for n in dep.data["notes"])
    assert "zz_mean_again" in dep.to_markdown() and "zz_truth — " + ORACLE_LABEL in dep.to_markdown()
    assert dep.temporal_value("zz_mean_again") == pytest.approx(dep.temporal_value("P-Agg"), abs=1e-9)
    with pytest.raises(posediff.errors.SpecError, match="unknown aggregator 'zz_nope'"):
        evaluate(d3dp, synth, aggregators=["zz_nope"], max_windows=2)


def test_cli_scores_the_models_own_aggregator_by_default(tmp_path, capsys):
    from posediff.checkpoints import save_lifter
    from posediff.cli import main

    lifter = posediff.build("d3dp-tiny", overrides={"aggregator.name": "jpma_temporal", "sampler.hypotheses": 2,
                                                    "sampler.steps": 1})
    ckpt = save_lifter(lifter, tmp_path / "m.pt")
    code = main(["evaluate", str(ckpt), "--data", "synthetic:subjects=1,frames=40,cameras=1", "--max-windows", "2",
                 "--out", str(tmp_path), "--name", "r", "--quiet"])
    assert code == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert "jpma_temporal" in data["results"] and data["aggregators"]["jpma_temporal"]["registered"] is True
    code = main(["evaluate", str(ckpt), "--data", "synthetic:subjects=1,frames=40,cameras=1", "--max-windows", "2",
                 "--out", str(tmp_path), "--name", "s", "--quiet", "--aggregators", "jpma,mean"])
    assert code == 0 and set(json.loads((tmp_path / "s.json").read_text())["results"]) == set(AGGREGATORS)


def test_report_names_the_shared_folder_not_this_machines_path(monkeypatch, tmp_path):
    """Reports made with POSEDIFF_SHARED=/abs/path wrote that path into committed files (fixed by hand once);
    the data description now writes $POSEDIFF_SHARED."""
    from posediff.evaluation import describe_data

    monkeypatch.setenv("POSEDIFF_SHARED", str(tmp_path))
    trained = {"data": f"h36m:{tmp_path}/data/h36m", "train_subjects": ["S1"]}
    desc, _ = describe_data(f"3dhp:{tmp_path}/data/mpi_inf_3dhp_test", ["TS5"], trained)
    assert str(tmp_path) not in desc
    assert desc.startswith("3dhp:$POSEDIFF_SHARED/data/mpi_inf_3dhp_test") and "h36m:$POSEDIFF_SHARED/data/h36m" in desc
