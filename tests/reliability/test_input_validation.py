"""Bad input at every public entry point gets a clear, one-line posediff error.

One table: entry point × bad input. Every row asserts the exception type (a subclass of
``posediff.errors.PosediffError``), that the message names the argument, says what was expected
(``expected`` / ``must``), shows what was found, and is one line (see
``reliability_helpers.assert_clear_message``). A second table covers missing files (the message names
the path). Missing joints in lifting input are *handled*, not errors: see the tests at the end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import pytest
import torch

import posediff
from posediff import metrics
from posediff.errors import CheckpointError, DataError, InputError, PosediffError, SpecError

from reliability_helpers import assert_clear_message, record

pytestmark = pytest.mark.filterwarnings("ignore:aggregator 'jpma' needs camera:UserWarning",
                                        "ignore:.*never observed.*:UserWarning")

NAN = float("nan")
INF = float("inf")
CAM = [1.2, 1.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]


@dataclass(frozen=True)
class Bad:
    """One row: ``call(ctx)`` must raise ``exc`` whose message names ``arg`` and shows ``found``."""

    entry: str
    category: str
    call: Callable[[Any], Any]
    exc: type
    arg: str
    found: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.entry}-{self.category}"


def x2d(ctx, b=2, t=None, j=17, fill=0.0):
    return torch.full((b, ctx.F if t is None else t, j, 2), fill)


def with_nan(t: torch.Tensor, value=NAN) -> torch.Tensor:
    t = t.clone()
    t[0, 1, 3, 0] = value
    return t


def seq(x2d_arr, **kw):
    from posediff.data import Sequence

    return Sequence(subject="S1", action="Walking", x2d=x2d_arr, **kw)


def fake_h36m(path, positions):
    """A VideoPose3D-layout ``data_3d_h36m.npz`` holding ``{"S1": {"Walking": positions}}``."""
    np.savez(path, positions_3d=np.array({"S1": {"Walking": positions}}, dtype=object))
    return path


def fake_h36m_2d(path, frames):
    """A VideoPose3D-layout 2D file: 4 cameras of ``frames`` frames for S1/Walking."""
    cams = [np.zeros((frames, 17, 2), np.float32) for _ in range(4)]
    np.savez(path, positions_2d=np.array({"S1": {"Walking": cams}}, dtype=object),
             metadata=np.array({"num_joints": 17}, dtype=object))
    return path


def _train(ctx, spec="d3dp-tiny", **kw):
    from posediff.training import train

    kw.setdefault("data", "synthetic:subjects=2,frames=27,cameras=1")
    return train(spec, out=ctx.tmp / "run", max_steps=1, progress=False, **kw)


def _evaluate(ctx, lifter=None, dataset=None, **kw):
    from posediff.evaluation import evaluate

    return evaluate(lifter or ctx.d3dp, ctx.ds if dataset is None else dataset, **kw)


def _plift(ctx, kp, lifter=None, **kw):
    return posediff.lift(kp, lifter=lifter or ctx.d3dp, **kw)


KP = np.random.default_rng(0).uniform(-0.5, 0.5, (40, 17, 3)).astype(np.float32)
KP[..., 2] = 1.0
HYPS = np.zeros((1, 2, 4, 17, 3))

TABLE: list[Bad] = [
    # ------------------------------------------------------------------ posediff.build
    Bad("build", "bad-source-type", lambda c: posediff.build(42), SpecError, "spec", ("int",)),
    Bad("build", "wrong-type", lambda c: posediff.build("d3dp-tiny", {"sampler.steps": "five"}), SpecError,
        "sampler.steps", ("'five'",)),
    Bad("build", "out-of-range", lambda c: posediff.build("d3dp-tiny", {"sampler.steps": -1}), SpecError,
        "sampler.steps", ("-1",)),
    Bad("build", "zero-frames", lambda c: posediff.build("d3dp-tiny", {"lifter.frames": 0}), SpecError,
        "lifter.frames", ("0",)),
    Bad("build", "unknown-name", lambda c: posediff.build("d3dp-tiny", {"aggregator.name": "jmpa"}), SpecError,
        "aggregator.name", ("'jmpa'",)),
    Bad("build", "wrong-joint-set", lambda c: posediff.build("d3dp-tiny", {"lifter.skeleton": "coco-17"}),
        SpecError, "lifter.skeleton", ("'coco-17'",)),
    Bad("build", "unknown-key", lambda c: posediff.build("d3dp-tiny", {"sampler.stepz": 3}), SpecError,
        "sampler.stepz", ("'stepz'",)),
    Bad("build", "bad-override-string", lambda c: posediff.build("d3dp-tiny", ["sampler.steps"]), SpecError,
        "override", ("'sampler.steps'",)),
    # ------------------------------------------------------------------ PoseLifter.lift
    Bad("lifter.lift", "wrong-rank", lambda c: c.fine.lift(torch.zeros(c.F, 17, 2), camera=CAM), InputError,
        "x2d", ("(27, 17, 2)",)),
    Bad("lifter.lift", "wrong-joints", lambda c: c.fine.lift(x2d(c, j=16), camera=CAM), InputError, "x2d",
        ("(2, 27, 16, 2)", "J=17")),
    Bad("lifter.lift", "nan", lambda c: c.fine.lift(with_nan(x2d(c)), camera=CAM), InputError, "x2d",
        ("1 NaN/Inf", "(0, 1, 3, 0)")),
    Bad("lifter.lift", "inf", lambda c: c.fine.lift(with_nan(x2d(c), INF), camera=CAM), InputError, "x2d",
        ("1 NaN/Inf",)),
    Bad("lifter.lift", "empty-batch", lambda c: c.fine.lift(x2d(c, b=0), camera=CAM), InputError, "x2d",
        ("(0, 27, 17, 2)",)),
    Bad("lifter.lift", "fewer-frames-than-window", lambda c: c.fine.lift(x2d(c, t=10), camera=CAM), InputError,
        "x2d", ("(2, 10, 17, 2)", "T=27")),
    Bad("lifter.lift", "non-numeric", lambda c: c.fine.lift("walking", camera=CAM), InputError, "x2d", ("str",)),
    Bad("lifter.lift", "unknown-action", lambda c: c.fine.lift(x2d(c), actions=["Flying", "Walking"], camera=CAM),
        InputError, "actions", ("'Flying'",)),
    Bad("lifter.lift", "actions-length", lambda c: c.fine.lift(x2d(c), actions=["Walking"], camera=CAM),
        InputError, "actions", ("B=2", "got 1")),
    Bad("lifter.lift", "action-type", lambda c: c.fine.lift(x2d(c), actions=[1, 2], camera=CAM), InputError,
        "actions", ("int",)),
    Bad("lifter.lift", "missing-camera", lambda c: c.fine.lift(x2d(c)), InputError, "camera", ("None", "'jpma'")),
    Bad("lifter.lift", "camera-shape", lambda c: c.fine.lift(x2d(c), camera=[1.0, 1.0, 0.0]), InputError, "camera",
        ("(2, 3)",)),
    Bad("lifter.lift", "camera-nan", lambda c: c.fine.lift(x2d(c), camera=[NAN] * 9), InputError, "camera",
        ("NaN/Inf",)),
    Bad("lifter.lift", "root-shape", lambda c: c.fine.lift(x2d(c), camera=CAM, root=torch.zeros(2, c.F, 3)),
        InputError, "root", ("(2, 27, 3)",)),
    Bad("lifter.lift", "root-frames", lambda c: c.fine.lift(x2d(c), camera=CAM, root=torch.zeros(2, 5, 1, 3)),
        InputError, "root", ("(2, 5, 1, 3)", "T=27")),
    # ------------------------------------------------------------------ PoseLifter.sample / denoise / training_loss
    Bad("lifter.sample", "wrong-rank", lambda c: c.d3dp.sample(torch.zeros(c.F, 17, 2)), InputError, "x2d",
        ("(27, 17, 2)",)),
    Bad("lifter.sample", "nan", lambda c: c.d3dp.sample(with_nan(x2d(c))), InputError, "x2d", ("NaN/Inf",)),
    Bad("lifter.sample", "zero-hypotheses", lambda c: c.d3dp.sample(x2d(c), hypotheses=0), InputError,
        "hypotheses", ("got 0",)),
    Bad("lifter.sample", "too-many-steps", lambda c: c.d3dp.sample(x2d(c), steps=5000), InputError, "steps",
        ("5000",)),
    Bad("lifter.denoise", "y_t-mismatch", lambda c: c.d3dp.denoise(x2d(c), torch.zeros(2, c.F - 1, 17, 3), [1, 1]),
        InputError, "y_t", ("(2, 26, 17, 3)",)),
    Bad("lifter.denoise", "t-out-of-range", lambda c: c.d3dp.denoise(x2d(c), torch.zeros(2, c.F, 17, 3), [5, 2000]),
        InputError, "t", ("2000",)),
    Bad("lifter.denoise", "t-fractional", lambda c: c.d3dp.denoise(x2d(c), torch.zeros(2, c.F, 17, 3), [0.5, 1.0]),
        InputError, "t", ("0.5",)),
    Bad("lifter.training_loss", "3d-fewer-frames", lambda c: c.d3dp.training_loss(x2d(c), torch.zeros(2, 20, 17, 3)),
        InputError, "y3d", ("(2, 20, 17, 3)", "T=27")),
    Bad("lifter.training_loss", "3d-other-batch", lambda c: c.d3dp.training_loss(x2d(c), torch.zeros(3, 27, 17, 3)),
        InputError, "y3d", ("(3, 27, 17, 3)", "B=2")),
    Bad("lifter.training_loss", "3d-wrong-joints", lambda c: c.d3dp.training_loss(x2d(c), torch.zeros(2, 27, 16, 3)),
        InputError, "y3d", ("(2, 27, 16, 3)",)),
    Bad("lifter.training_loss", "3d-nan", lambda c: c.d3dp.training_loss(x2d(c), with_nan(torch.zeros(2, 27, 17, 3))),
        InputError, "y3d", ("NaN/Inf",)),
    # ------------------------------------------------------------------ posediff.lift (any length, user formats)
    Bad("posediff.lift", "wrong-rank", lambda c: _plift(c, np.zeros((40, 17))), InputError, "keypoints",
        ("(40, 17)",)),
    Bad("posediff.lift", "empty-sequence", lambda c: _plift(c, np.zeros((0, 17, 2))), InputError, "keypoints",
        ("0, 17, 2",)),
    Bad("posediff.lift", "unknown-joint-count", lambda c: _plift(c, np.zeros((40, 19, 2))), InputError,
        "keypoints", ("19",)),
    Bad("posediff.lift", "wrong-joint-set", lambda c: _plift(c, KP, format="mediapipe-33"), InputError,
        "keypoints", ("33", "got 17")),
    Bad("posediff.lift", "unknown-format", lambda c: _plift(c, KP, format="coco-18"), InputError, "format",
        ("'coco-18'",)),
    Bad("posediff.lift", "bad-channels", lambda c: _plift(c, np.zeros((40, 17, 4))), InputError, "keypoints",
        ("got 4",)),
    Bad("posediff.lift", "unknown-action", lambda c: _plift(c, KP, lifter=c.fine, actions="Flying"), InputError,
        "actions", ("'Flying'",)),
    Bad("posediff.lift", "missing-camera", lambda c: _plift(c, KP, aggregator="jpma"), InputError, "camera",
        ("None", "'jpma'")),
    Bad("posediff.lift", "camera-shape", lambda c: _plift(c, KP, camera=[1.0, 2.0]), InputError, "camera",
        ("(2,)",)),
    Bad("posediff.lift", "camera-nan", lambda c: _plift(c, KP, camera=[NAN] * 9), InputError, "camera",
        ("nan",)),
    Bad("posediff.lift", "presence-length", lambda c: _plift(c, KP, presence=np.ones(3, bool)), InputError,
        "presence", ("(3,)", "(40,)")),
    Bad("posediff.lift", "overlap", lambda c: _plift(c, KP, overlap=27), InputError, "overlap", ("27",)),
    Bad("posediff.lift", "threshold", lambda c: _plift(c, KP, threshold=1.5), InputError, "threshold", ("1.5",)),
    Bad("posediff.lift", "pixels-without-size", lambda c: _plift(c, KP * 500), InputError, "image_size",
        ("values up to",)),
    Bad("posediff.lift", "non-numeric", lambda c: _plift(c, object()), InputError, "keypoints", ("object",)),
    Bad("posediff.lift", "actions-per-person", lambda c: _plift(c, np.stack([KP, KP]), actions=["a", "b", "c"]),
        InputError, "actions", ("got 3",)),
    # ------------------------------------------------------------------ training
    Bad("train", "bad-data-selector", lambda c: _train(c, data="imagenet"), InputError, "data", ("'imagenet'",)),
    Bad("train", "unknown-setting", lambda c: _train(c, bogus=1), InputError, "settings", ("['bogus']",)),
    Bad("train", "zero-batch", lambda c: _train(c, batch_size=0), InputError, "batch_size", ("got 0",)),
    Bad("train", "negative-lr", lambda c: _train(c, lr=-1.0), InputError, "lr", ("-1.0",)),
    Bad("train", "no-spec", lambda c: _train(c, spec=None), InputError, "spec", ("None",)),
    Bad("train", "bad-override", lambda c: _train(c, overrides={"backbone.depth": "two"}), SpecError,
        "backbone.depth", ("'two'",)),
    Bad("train", "unknown-subject", lambda c: _train(c, train_subjects=["S99"]), DataError, "subjects",
        ("'S99'",)),
    Bad("train", "fp16-on-cpu", lambda c: _train(c, amp="fp16", device="cpu"), InputError, "amp", ("'fp16'",)),
    Bad("train", "nan-in-data", lambda c: _train(c, data=f"h36m:{fake_h36m(c.tmp / 'nan.npz', c.nan_mocap)}",
                                                 train_subjects=["S1"], val_subjects=["none"]),
        InputError, "x2d", ("NaN/Inf", "'S1'")),
    Bad("train", "bad-mocap-shape", lambda c: _train(c, data=f"h36m:{fake_h36m(c.tmp / 'bad.npz', np.zeros((5, 3)))}",
                                                     train_subjects=["S1"], val_subjects=["none"]),
        DataError, "S1/Walking", ("(5, 3)",)),
    # ------------------------------------------------------------------ evaluation
    Bad("evaluate", "unknown-protocol", lambda c: _evaluate(c, protocol="best"), InputError, "protocol",
        ("'best'",)),
    Bad("evaluate", "not-a-dataset", lambda c: _evaluate(c, dataset=42), InputError, "dataset", ("int",)),
    Bad("evaluate", "no-3d", lambda c: _evaluate(c, dataset=[seq(np.zeros((30, 17, 2)))]), InputError, "dataset",
        ("0 with x3d",)),
    Bad("evaluate", "zero-batch", lambda c: _evaluate(c, batch_size=0), InputError, "batch_size", ("got 0",)),
    Bad("evaluate", "paper-without-root",
        lambda c: _evaluate(c, dataset=[seq(np.zeros((30, 17, 2)), x3d=np.zeros((30, 17, 3)))], protocol="paper"),
        InputError, "root", ("1 sequence(s) without root",)),
    # ------------------------------------------------------------------ metrics
    Bad("metrics.mpjpe", "length-mismatch", lambda c: metrics.mpjpe(np.zeros((4, 17, 3)), np.zeros((5, 17, 3))),
        InputError, "target", ("(4, 17, 3)", "(5, 17, 3)")),
    Bad("metrics.mpjpe", "nan", lambda c: metrics.mpjpe(np.full((4, 17, 3), NAN), np.zeros((4, 17, 3))),
        InputError, "pred", ("204 NaN/Inf",)),
    Bad("metrics.mpjpe", "inf-target", lambda c: metrics.mpjpe(np.zeros((4, 17, 3)), np.full((4, 17, 3), INF)),
        InputError, "target", ("NaN/Inf",)),
    Bad("metrics.mpjpe", "empty", lambda c: metrics.mpjpe(np.zeros((0, 17, 3)), np.zeros((0, 17, 3))), InputError,
        "pred", ("(0, 17, 3)",)),
    Bad("metrics.mpjpe", "wrong-rank", lambda c: metrics.mpjpe(np.zeros(3), np.zeros(3)), InputError, "pred",
        ("(3,)",)),
    Bad("metrics.mpjpe", "reduction", lambda c: metrics.mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 17, 3)),
                                                              reduction="sum"), InputError, "reduction", ("'sum'",)),
    Bad("metrics.p_mpjpe", "length-mismatch", lambda c: metrics.p_mpjpe(np.zeros((4, 17, 3)), np.zeros((3, 17, 3))),
        InputError, "target", ("(3, 17, 3)",)),
    Bad("metrics.n_mpjpe", "nan", lambda c: metrics.n_mpjpe(np.zeros((4, 17, 3)), np.full((4, 17, 3), NAN)),
        InputError, "target", ("NaN/Inf",)),
    Bad("metrics.mpjve", "one-frame", lambda c: metrics.mpjve(np.zeros((1, 17, 3)), np.zeros((1, 17, 3))),
        InputError, "pred", ("(1, 17, 3)",)),
    Bad("metrics.pck", "wrong-joint-set", lambda c: metrics.pck(np.zeros((4, 16, 3)), np.zeros((4, 16, 3))),
        InputError, "pred", ("(4, 16, 3)", "J=17")),
    Bad("metrics.auc", "wrong-joint-set", lambda c: metrics.auc(np.zeros((4, 14, 3)), np.zeros((4, 14, 3))),
        InputError, "pred", ("(4, 14, 3)",)),
    Bad("metrics.j_best", "target-frames", lambda c: metrics.j_best(HYPS, np.zeros((1, 5, 17, 3))), InputError,
        "target", ("(1, 5, 17, 3)", "T=4")),
    Bad("metrics.p_best", "wrong-rank", lambda c: metrics.p_best(np.zeros((2, 4, 17, 3)), np.zeros((2, 4, 17, 3))),
        InputError, "hyps", ("(2, 4, 17, 3)",)),
    Bad("metrics.p_agg", "protocol", lambda c: metrics.p_agg(HYPS, np.zeros((1, 4, 17, 3)), protocol=3), InputError,
        "protocol", ("3",)),
    Bad("metrics.j_agg", "indices-range",
        lambda c: metrics.j_agg(HYPS, np.zeros((1, 4, 17, 3)), np.full((1, 4, 17), 7)), InputError, "indices",
        ("H=2",)),
    Bad("metrics.reprojection_indices", "camera-shape",
        lambda c: metrics.reprojection_indices(HYPS, np.zeros((1, 4, 17, 2)), np.ones(4), np.zeros((1, 4, 1, 3))),
        InputError, "camera", ("(4,)",)),
    # ------------------------------------------------------------------ data loaders and containers
    Bad("data.Sequence", "wrong-joints", lambda c: seq(np.zeros((10, 16, 2))), InputError, "x2d",
        ("(10, 16, 2)",)),
    Bad("data.Sequence", "2d-3d-length", lambda c: seq(np.zeros((10, 17, 2)), x3d=np.zeros((9, 17, 3))),
        InputError, "x3d", ("(9, 17, 3)", "(10, 17, 3)")),
    Bad("data.Sequence", "nan-2d", lambda c: seq(np.full((10, 17, 2), NAN)), InputError, "x2d", ("340 NaN/Inf",)),
    Bad("data.Sequence", "inf-3d", lambda c: seq(np.zeros((10, 17, 2)), x3d=np.full((10, 17, 3), INF)),
        InputError, "x3d", ("NaN/Inf",)),
    Bad("data.Sequence", "empty", lambda c: seq(np.zeros((0, 17, 2))), InputError, "x2d", ("(0, 17, 2)",)),
    Bad("data.Sequence", "unknown-joint-set", lambda c: seq(np.zeros((10, 17, 2)), skeleton="coco"), InputError,
        "skeleton", ("'coco'",)),
    Bad("data.Sequence", "camera-shape", lambda c: seq(np.zeros((10, 17, 2)), camera=np.ones(4)), InputError,
        "camera", ("(4,)",)),
    Bad("data.Dataset", "item-type", lambda c: posediff.data.Dataset([1, 2]), InputError, "item", ("int",)),
    Bad("data.TrainingClips", "empty", lambda c: posediff.data.TrainingClips([], frames=27), InputError,
        "dataset", ("got 0",)),
    Bad("data.TrainingClips", "no-3d", lambda c: posediff.data.TrainingClips([seq(np.zeros((30, 17, 2)))], frames=27),
        InputError, "x3d", ("'S1'",)),
    Bad("data.prepare_keypoints", "wrong-joints",
        lambda c: posediff.data.formats.prepare_keypoints(np.zeros((10, 18, 3)), "coco-17", (640, 480)),
        InputError, "keypoints", ("(10, 18, 3)",)),
    Bad("data.prepare_keypoints", "image-size",
        lambda c: posediff.data.formats.prepare_keypoints(KP, "coco-17", (0, 480)), InputError, "image_size",
        ("(0, 480)",)),
    Bad("data.prepare_keypoints", "joint-never-observed",
        lambda c: posediff.data.formats.prepare_keypoints(np.zeros((10, 17, 3)), "coco-17", (640, 480)),
        InputError, "keypoints", ("all 10 frames",)),
    Bad("data.to_h36m", "unknown-format", lambda c: posediff.data.to_h36m(KP, "body-99"), InputError, "format",
        ("'body-99'",)),
    Bad("data.interpolate_missing", "mismatch",
        lambda c: posediff.data.formats.interpolate_missing(np.zeros((10, 17, 2)), np.ones((9, 17), bool)),
        InputError, "observed", ("(9, 17)",)),
    Bad("data.make_synthetic", "unknown-action", lambda c: posediff.data.make_synthetic(motions=["flying"]),
        InputError, "motions", ("'flying'",)),
    Bad("data.make_synthetic", "zero-frames", lambda c: posediff.data.make_synthetic(frames=0), InputError,
        "frames", ("got 0",)),
    Bad("data.load_h36m", "bad-shape", lambda c: posediff.data.load_h36m(fake_h36m(c.tmp / "b.npz", np.zeros((4, 5, 3)))),
        DataError, "S1/Walking", ("(4, 5, 3)",)),
    Bad("data.load_h36m", "nan", lambda c: posediff.data.load_h36m(fake_h36m(c.tmp / "n.npz", c.nan_mocap)),
        InputError, "x2d", ("NaN/Inf",)),
    Bad("data.load_h36m", "2d-3d-length",
        lambda c: posediff.data.load_h36m(fake_h36m(c.tmp / "m.npz", np.ones((30, 32, 3))), fake_h36m_2d(c.tmp / "k.npz", 20),
                                          cameras=[0]),
        DataError, "S1/Walking camera 0", ("got 20", "30 frames")),
    Bad("data.test_windows", "zero-frames", lambda c: posediff.data.test_windows(10, 0), InputError, "frames",
        ("0",)),
    # ------------------------------------------------------------------ components called directly
    Bad("sampler.sample", "wrong-rank",
        lambda c: c.d3dp.sampler.sample(lambda *a: None, torch.zeros(27, 17, 2), settings=c.d3dp.sampling,
                                        flip_permutation=None),
        InputError, "x2d", ("(27, 17, 2)",)),
    Bad("sampler.add_noise", "noise-shape",
        lambda c: c.d3dp.sampler.add_noise(torch.zeros(2, 5, 17, 3), torch.tensor([1, 2]), torch.zeros(2, 5, 17, 2)),
        InputError, "noise", ("(2, 5, 17, 2)",)),
    Bad("aggregator.jpma", "missing-camera",
        lambda c: c.fine.aggregator(torch.zeros(1, 2, 4, 17, 3), x2d=torch.zeros(1, 4, 17, 2)), InputError,
        "camera", ("None",)),
    Bad("aggregator.jpma", "x2d-frames",
        lambda c: c.fine.aggregator(torch.zeros(1, 2, 4, 17, 3), x2d=torch.zeros(1, 5, 17, 2), camera=torch.ones(9)),
        InputError, "x2d", ("(1, 5, 17, 2)",)),
]

# Every public entry point must be tried with every kind of bad input that applies to it.
REQUIRED = {
    "lifter.lift": {"wrong-rank", "wrong-joints", "nan", "inf", "empty-batch", "fewer-frames-than-window",
                    "unknown-action", "missing-camera"},
    "lifter.training_loss": {"3d-fewer-frames", "3d-nan", "3d-wrong-joints"},
    "posediff.lift": {"wrong-rank", "empty-sequence", "wrong-joint-set", "unknown-action", "missing-camera"},
    "build": {"wrong-type", "unknown-name", "wrong-joint-set"},
    "train": {"bad-data-selector", "nan-in-data", "unknown-subject"},
    "evaluate": {"unknown-protocol", "no-3d"},
    "metrics.mpjpe": {"length-mismatch", "nan", "empty", "wrong-rank"},
    "data.Sequence": {"wrong-joints", "2d-3d-length", "nan-2d", "empty", "unknown-joint-set"},
}


@pytest.fixture(scope="module")
def ctx(fine_lifter, d3dp_lifter, synth_dataset, tmp_path_factory):
    mocap = np.random.default_rng(1).normal(0.0, 0.3, (30, 32, 3)) + [0.0, 0.0, 1.0]
    mocap[4, 2, 1] = NAN
    return SimpleNamespace(fine=fine_lifter, d3dp=d3dp_lifter, ds=synth_dataset, F=fine_lifter.frames,
                           tmp=tmp_path_factory.mktemp("bad"), nan_mocap=mocap)


@pytest.mark.parametrize("case", TABLE, ids=lambda c: c.id)
def test_bad_input_gets_clear_error(case: Bad, ctx):
    with pytest.raises(PosediffError) as info:
        case.call(ctx)
    assert isinstance(info.value, case.exc), f"{case.id}: {type(info.value).__name__}: {info.value}"
    assert_clear_message(info.value, case.arg, case.found)


def test_table_covers_every_entry_point_and_category():
    have: dict[str, set[str]] = {}
    for case in TABLE:
        have.setdefault(case.entry, set()).add(case.category)
    missing = {e: sorted(cats - have.get(e, set())) for e, cats in REQUIRED.items() if cats - have.get(e, set())}
    assert not missing, f"validation table lacks {missing}"
    ids = [c.id for c in TABLE]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    record("input_validation_table", cases=len(TABLE), entry_points=len(have))


# ---------------------------------------------------------------------- missing files: the path is named
MISSING = [
    ("load(spec=)", lambda p: posediff.load(p / "none.pt", spec="d3dp-tiny"), CheckpointError),
    ("posediff.load", lambda p: posediff.load(p / "none.pt"), CheckpointError),
    ("convert.from_official", lambda p: posediff.convert.from_official(p / "none.bin"), CheckpointError),
    ("spec file", lambda p: posediff.build(str(p / "none.toml")), SpecError),
    ("posediff.lift(weights=)", lambda p: posediff.lift(KP, weights=p / "none.pt"), CheckpointError),
    ("data.load_h36m", lambda p: posediff.data.load_h36m(p / "none.npz"), DataError),
    ("data.load_3dhp_npz", lambda p: posediff.data.load_3dhp_npz(p / "none.npz"), DataError),
    ("data.read_keypoints", lambda p: posediff.data.read_keypoints(p / "none.json"), DataError),
    ("train(data=h36m:)", lambda p: posediff.training.train("d3dp-tiny", data=f"h36m:{p / 'none'}", out=p / "r",
                                                             progress=False), DataError),
    ("train(init_weights=)", lambda p: posediff.training.train("d3dp-tiny", data="synthetic:subjects=2,frames=27",
                                                                out=p / "r2", init_weights=p / "none.pt",
                                                                progress=False), CheckpointError),
]


@pytest.mark.parametrize("name,call,exc", MISSING, ids=[m[0] for m in MISSING])
def test_missing_file_names_the_path(name, call, exc, tmp_path):
    import posediff.convert  # noqa: F401 - attribute access in the table
    import posediff.training  # noqa: F401

    with pytest.raises(exc) as info:
        call(tmp_path)
    msg = str(info.value)
    assert "none" in msg, f"the missing path is not named: {msg!r}"
    assert len(msg.splitlines()) == 1, f"message must be one line: {msg!r}"


# ---------------------------------------------------------------------- handled, not errors
def test_lift_fills_missing_joints_instead_of_propagating_nan(d3dp_lifter):
    kp = KP.copy()
    kp[5:9, 3, :2] = np.nan          # NaN coordinates
    kp[10:20, 7, 2] = 0.0            # confidence 0
    kp[:, 15, 2] = 0.0               # a joint never seen with confidence
    res = posediff.lift(kp, lifter=d3dp_lifter, format="coco-17", seed=0)
    assert np.isfinite(res.poses3d).all() and np.isfinite(res.x2d).all()
    assert res.mask.all()
    assert not res.joint_mask.all()  # the filled joints are reported, not hidden
    assert res.poses3d.shape == (40, 17, 3)


def test_lift_person_without_any_observed_joint_is_reported_not_nan(d3dp_lifter):
    kp = np.stack([KP, np.full_like(KP, np.nan)])
    with pytest.warns(UserWarning, match="person 1"):
        res = posediff.lift(kp, lifter=d3dp_lifter, format="coco-17", seed=0)
    assert np.isfinite(res.poses3d).all()
    assert res.mask[0].all() and not res.mask[1].any()
    assert (res.poses3d[1] == 0).all()


def test_lift_shorter_than_window_is_padded(d3dp_lifter):
    res = posediff.lift(KP[:5], lifter=d3dp_lifter, format="coco-17", seed=0)
    assert res.poses3d.shape == (5, 17, 3) and np.isfinite(res.poses3d).all()


def test_formats_mark_nan_and_zero_confidence_as_missing():
    from posediff.data.formats import to_h36m

    kp = KP[:4].copy()
    kp[0, 11, 0] = np.nan  # COCO left hip: NaN coordinate
    kp[1, 11, 2] = 0.0     # COCO left hip: confidence 0
    x, conf, observed = to_h36m(kp, "coco-17", threshold=0.3)
    assert not observed[0, 0] and not observed[1, 0]  # h36m pelvis = mid-hips
    assert observed[2:].all()
    assert np.isnan(x[~observed]).all() and np.isfinite(x[observed]).all()


def test_errors_are_value_errors_for_plain_except():
    """InputError/SpecError/DataError are also ValueError, so ``except ValueError`` code keeps working."""
    for exc in (InputError, SpecError, DataError):
        assert issubclass(exc, ValueError) and issubclass(exc, PosediffError)
