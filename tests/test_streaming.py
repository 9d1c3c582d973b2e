"""posediff.streaming: windows, output positions, tracks, padding, errors, and agreement with offline lifting."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import posediff
from posediff.errors import InputError
from posediff.streaming import StreamFrame, StreamingLifter


@pytest.fixture(scope="module")
def lifter():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return posediff.build("finepose-tiny")


class _Echo:
    """Stands in for ``lifter.sample``: records every batch of windows and returns hypotheses whose x and y
    are the window's 2D (so a pose tells which input frame it was read from)."""

    def __init__(self, lifter):
        self.lifter = lifter
        self.calls: list[torch.Tensor] = []

    def __call__(self, x, actions=None, generator=None, hypotheses=None, steps=None, flip=None, draws=None):
        self.calls.append(x.clone())
        b, f, j, _ = x.shape
        h = hypotheses or 1
        y = torch.zeros(b, 1, h, f, j, 3)
        y[..., :2] = x[:, None, None]
        return y


@pytest.fixture()
def echo(lifter, monkeypatch):
    e = _Echo(lifter)
    monkeypatch.setattr(lifter, "sample", e)
    return e


def frames_with_ids(n: int, joints: int = 17) -> np.ndarray:
    """``(n, J, 2)`` frames whose every coordinate is ``0.01 · frame index`` (joint 0 too)."""
    return np.repeat((np.arange(n, dtype=np.float32) * 0.01)[:, None, None], joints, 1).repeat(2, 2)


@pytest.mark.parametrize("lookahead", [0, 2, 4, 8])
def test_every_frame_once_in_order_from_its_own_input(lifter, echo, lookahead):
    F = lifter.frames
    n = 30
    stream = StreamingLifter(lifter, lookahead=lookahead, format="h36m-17")
    frames = frames_with_ids(n)
    out: list[StreamFrame] = []
    for i, f in enumerate(frames):
        got = stream.push(f)
        assert [o.frame for o in got] == ([i - lookahead] if i >= lookahead else [])
        assert all(o.emitted_after == i for o in got)
        out += got
    tail = stream.flush()
    assert [o.frame for o in tail] == list(range(n - lookahead, n))
    out += tail
    assert [o.frame for o in out] == list(range(n))
    for o in out:  # the pose was read at the frame's own position in its window (joint 1: not the root)
        assert o.pose.shape == (17, 3)
        assert o.pose[1, 0] == pytest.approx(0.01 * o.frame, abs=1e-6)
        assert (o.pose[0] == 0).all()  # root-relative
        assert o.emitted_after - o.frame <= lookahead
    # steady state: the window of the last push holds the F frames ending at the newest one
    last_push = echo.calls[n - 1 - lookahead][0, :, 1, 0].numpy()
    assert np.allclose(last_push, 0.01 * np.arange(n - F, n), atol=1e-6)
    assert stream.tracks == {}


def test_first_windows_repeat_the_first_frame(lifter, echo):
    F = lifter.frames
    stream = StreamingLifter(lifter, lookahead=0, format="h36m-17")
    frames = frames_with_ids(3)
    for f in frames:
        stream.push(f)
    w = echo.calls[2][0, :, 1, 0].numpy()
    assert np.allclose(w, 0.01 * np.array([0] * (F - 2) + [1, 2]), atol=1e-6)


def test_short_track_flushes_from_one_padded_window(lifter, echo):
    stream = StreamingLifter(lifter, lookahead=lifter.frames - 1, format="h36m-17")
    for f in frames_with_ids(3):
        assert stream.push(f) == []
    out = stream.flush()
    assert [o.frame for o in out] == [0, 1, 2]
    assert [round(float(o.pose[1, 0]), 4) for o in out] == [0.0, 0.01, 0.02]
    assert len(echo.calls) == 1


def test_tracks_share_one_sampler_call_per_push(lifter, echo):
    stream = StreamingLifter(lifter, lookahead=1, format="h36m-17")
    a, b = frames_with_ids(6), frames_with_ids(6) + 1.0
    out = []
    for i in range(6):
        push = {"a": a[i], "b": b[i]} if i != 3 else {"a": a[i], "b": None}  # b skips a frame
        out += stream.push(push)
    assert len(echo.calls) == 5  # pushes 1..5 have a ready frame (push 0 only buffers)
    assert echo.calls[1].shape[0] == 2  # both tracks in one call
    out += stream.end_track("b")
    assert "b" not in stream.tracks and "a" in stream.tracks
    out += stream.flush()
    by = {k: [o for o in out if o.track == k] for k in "ab"}
    assert [o.frame for o in by["a"]] == list(range(6))
    assert [o.frame for o in by["b"]] == list(range(5))  # b got 5 frames
    assert by["b"][4].pose[1, 0] == pytest.approx(1.05, abs=1e-6)  # its 5th frame was b[5]


def test_missing_joints_keep_their_last_position(lifter, echo):
    stream = StreamingLifter(lifter, lookahead=0, format="h36m-17", threshold=0.5)
    f0 = np.concatenate([frames_with_ids(1)[0] + 0.1, np.ones((17, 1), np.float32)], axis=1)
    f1 = np.concatenate([frames_with_ids(1)[0] + 0.2, np.ones((17, 1), np.float32)], axis=1)
    f1[5, 2] = 0.0  # joint 5 unseen in frame 1
    stream.push(f0)
    out = stream.push(f1)
    assert out[0].pose[5, 0] == pytest.approx(0.1, abs=1e-6)
    assert out[0].pose[6, 0] == pytest.approx(0.2, abs=1e-6)


def test_coco_pixels_are_converted_and_normalised(lifter, echo):
    stream = StreamingLifter(lifter, lookahead=0, format="coco-17", image_size=(1000, 1000))
    kp = np.full((17, 3), 500.0)
    kp[:, 2] = 1.0
    stream.push(kp)
    x = echo.calls[0][0, -1]
    assert x.shape == (17, 2) and torch.allclose(x, torch.zeros_like(x), atol=1e-6)  # image centre → 0


def test_real_sampler_first_window_matches_lifter_sample(lifter):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stream = StreamingLifter(lifter, lookahead=0, format="h36m-17", seed=3)
        f = torch.randn(17, 2, generator=torch.Generator().manual_seed(0)) * 0.2
        got = stream.push(f.numpy())[0].pose
        with torch.inference_mode():  # the "realtime" configuration: H = 1, M = 1, flip
            hyps = lifter.sample(f.expand(lifter.frames, 17, 2)[None].contiguous(),
                                 generator=torch.Generator().manual_seed(3), hypotheses=1, steps=1, flip=True)
        want = hyps[0, -1].mean(0)[-1].clone()
        want[0] = 0
    np.testing.assert_allclose(got, want.numpy(), atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"lookahead": -1}, "lookahead must be an int in"),
    ({"lookahead": 99}, "lookahead must be an int in"),
    ({"hypotheses": 0}, "hypotheses must be an int >= 1"),
    ({"steps": 1.5}, "steps must be an int >= 1"),
    ({"format": None}, "format must be given"),
    ({"coords": "pixels"}, "needs image_size"),
    ({"coords": "metres"}, "coords must be"),
    ({"aggregator": "jpma"}, "camera must be given"),
    ({"aggregator": "nope"}, "nope"),
])
def test_bad_arguments_say_what_was_expected(lifter, kwargs, match):
    args = {"format": "h36m-17", **kwargs}
    with pytest.raises((InputError, posediff.errors.PosediffError), match=match):
        StreamingLifter(lifter, **args)


def test_bad_frames_and_tracks(lifter, echo):
    stream = StreamingLifter(lifter, format="h36m-17")
    with pytest.raises(InputError, match=r"\(17, 2 or 3\).*got \(16, 2\)"):
        stream.push(np.zeros((16, 2)))
    with pytest.raises(InputError, match="no joint above the confidence threshold"):
        stream.push(np.zeros((17, 3)))
    with pytest.raises(InputError, match="unknown track"):
        stream.end_track("x")
    with pytest.raises(InputError, match="lifter must be"):
        StreamingLifter(object(), format="h36m-17")


def test_streaming_matches_offline_lifting_on_s8(h36m_dir):
    from posediff.training.datasets import load_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lf = posediff.load("finepose-small-h36m")
        seq = next(s for s in load_dataset(f"h36m:{h36m_dir}", ["S8"], role="val"))
        n = 300
        x2d = np.asarray(seq.x2d[:n], dtype=np.float32)
        gt = torch.as_tensor(np.asarray(seq.x3d[:n]), dtype=torch.float64)
        gt = gt - gt[:, :1]
        stream = StreamingLifter(lf, format="h36m-17")  # the "realtime" configuration
        out = [o for f in x2d for o in stream.push(f)] + stream.flush()
        pose_s = torch.as_tensor(np.stack([o.pose for o in out]), dtype=torch.float64)
        off = posediff.lift(x2d, lifter=lf, format="h36m-17", coords="normalized", sampling="realtime", seed=0)
    pose_o = torch.as_tensor(np.asarray(off.poses3d), dtype=torch.float64)
    e_s = float(torch.linalg.vector_norm(pose_s - gt, dim=-1).mean() * 1000)
    e_o = float(torch.linalg.vector_norm(pose_o - gt, dim=-1).mean() * 1000)
    assert e_s < 80.0  # a trained model, not noise
    assert abs(e_s - e_o) < 2.0
