"""Video in, animation out (issue 21): decoding, the detector kind, detect → track → lift, the overlay MP4.

These tests run in the default suite with detectors the tests register themselves (one that reports the
keypoints it was told to, one that never finds anybody) on short videos the tests write. The real detector
(MediaPipe, an optional package) on the real video is ``test_video_real.py``.
"""
from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest

import posediff
from posediff.data.formats import get_format
from posediff.errors import DependencyError, InputError, UnknownComponentError
from posediff.interfaces import KeypointDetector
from posediff.registry import register
from posediff.video import detect_video, is_video_path, iter_frames, probe_video, read_frames

imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")  # a dev dependency: the dev environment has it

W, H, FPS, FRAMES = 64, 48, 10.0, 23


def write_video(path, frames=FRAMES, size=(W, H), fps=FPS):
    """A short H.264 video whose frame t is a flat grey of level 10·t (so frames can be told apart)."""
    writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps, macro_block_size=16,
                                         output_params=["-qp", "0"], pix_fmt_out="yuv444p")
    writer.send(None)
    for t in range(frames):
        writer.send(np.full((size[1], size[0], 3), 10 * t % 256, np.uint8))
    writer.close()
    return path


def person_keypoints(t: int) -> np.ndarray:
    """``(17, 3)`` COCO-17 pixels of a standing figure that walks right by one pixel a frame, confidence 0.9."""
    # nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles (x, y) in a 64×48 frame
    base = np.array([[0, -18], [-1, -19], [1, -19], [-2, -18], [2, -18], [-4, -13], [4, -13], [-6, -7], [6, -7],
                     [-7, -2], [7, -2], [-3, -1], [3, -1], [-3, 7], [3, 7], [-3, 15], [3, 15]], float)
    xy = base * np.array([-1.0, 1.0]) + np.array([20.0 + t, 24.0])  # the person faces the camera
    return np.concatenate([xy, np.full((17, 1), 0.9)], axis=1)


@register("detector", "test_walker", replace=True)
class WalkerDetector(KeypointDetector):
    """Reports the walking figure of :func:`person_keypoints` in every frame it is shown (a test double)."""

    keypoint_format = "coco-17"
    max_people = 1

    def __init__(self, miss_every: int = 0) -> None:
        self.miss_every = miss_every
        self.seen = 0
        self.resets = 0
        self.closed = 0

    def detect(self, image):
        assert image.dtype == np.uint8 and image.shape == (H, W, 3)
        t = self.seen
        self.seen += 1
        if self.miss_every and t % self.miss_every == self.miss_every - 1:
            return np.zeros((0, 17, 3))
        return person_keypoints(t)[None]

    def reset(self):
        self.seen = 0
        self.resets += 1

    def close(self):
        self.closed += 1


@register("detector", "test_nobody", replace=True)
class NobodyDetector(KeypointDetector):
    """Never finds anybody."""

    keypoint_format = "coco-17"

    def detect(self, image):
        return np.zeros((0, 17, 3))


@register("detector", "test_crowd", replace=True)
class CrowdDetector(KeypointDetector):
    """Two people, reported in a different order every other frame (tracking must sort them out)."""

    keypoint_format = "coco-17"

    def __init__(self) -> None:
        self.t = 0

    def detect(self, image):
        a, b = person_keypoints(self.t), person_keypoints(self.t) + np.array([25.0, 0.0, 0.0])
        self.t += 1
        return np.stack([a, b] if self.t % 2 else [b, a])


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("video") / "walk.mp4")


@pytest.fixture(scope="module")
def tiny_lifter():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return posediff.build("finepose-tiny", overrides={"lifter.frames": 9, "sampler.hypotheses": 1,
                                                          "sampler.steps": 1})


# ------------------------------------------------------------------------------------------ decoding
def test_probe_and_decode_a_written_video(clip):
    info = probe_video(clip)
    assert info.fps == pytest.approx(FPS) and info.size == (W, H) and info.codec == "h264"
    frames = list(iter_frames(clip))
    assert len(frames) == FRAMES
    assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 for f in frames)
    # lossless H.264 (qp 0, 4:4:4) keeps the flat levels within the RGB↔YUV rounding of one or two steps
    levels = [int(np.median(f)) for f in frames]
    assert max(abs(got - 10 * t) for t, got in enumerate(levels)) <= 2
    assert len(list(iter_frames(clip, max_frames=5))) == 5
    stack, info2 = read_frames(clip, max_frames=4)
    assert stack.shape == (4, H, W, 3) and info2 == info
    assert is_video_path(clip) and is_video_path("X.MOV") and not is_video_path("kps.npz") and not is_video_path(3)


def test_stopping_early_stops_ffmpeg(clip, monkeypatch):
    """An iteration abandoned after one frame must not leave an ffmpeg process or open pipes behind."""
    import gc

    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: unraisable.append(repr(info.exc_value)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        it = iter_frames(clip)
        next(it)
        it.close()
        list(iter_frames(clip))  # read to the end: the pipes are closed too
        gc.collect()
    assert not unraisable, unraisable


@pytest.mark.parametrize("case", ["missing", "empty", "text", "truncated", "folder", "audio-less garbage"])
def test_bad_video_files_give_clear_errors(case, clip, tmp_path):
    path = tmp_path / "bad.mp4"
    if case == "missing":
        want = "video not found"
    elif case == "empty":
        path.write_bytes(b"")
        want = "is empty"
    elif case == "text":
        path.write_text("this is not a video\n" * 50)
        want = "not a readable video"
    elif case == "truncated":  # the first 40 % of a real MP4: its index ('moov') is at the end, so unreadable
        data = clip.read_bytes()
        path.write_bytes(data[: int(len(data) * 0.4)])
        want = "not a readable video"
    elif case == "folder":
        path.mkdir()
        want = "must be a file"
    else:
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
        want = "not a readable video"
    with pytest.raises(InputError, match=want):
        list(iter_frames(path))
    with pytest.raises(InputError, match=want):
        detect_video(path, "test_walker")


def test_missing_imageio_ffmpeg_says_how_to_install(clip, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    with pytest.raises(DependencyError, match=r"posediff\[video\]"):
        probe_video(clip)


# ------------------------------------------------------------------------------------------ the detector kind
def test_detectors_are_a_registered_kind():
    assert "detector" in posediff.KINDS
    assert "mediapipe" in posediff.list_components("detector")
    with pytest.raises(UnknownComponentError, match="mediapip"):
        posediff.get("detector", "mediapip")


def test_detector_contract_is_checked_when_the_class_is_made():
    with pytest.raises(TypeError, match="keypoint_format"):
        class NoFormat(KeypointDetector):  # noqa: F841
            def detect(self, image):
                return np.zeros((0, 17, 3))

    class NoDetect(KeypointDetector):
        keypoint_format = "coco-17"

    with pytest.raises(TypeError, match="detect"):
        NoDetect()


def test_mediapipe_detector_without_mediapipe_says_how_to_install(monkeypatch):
    from posediff.detectors import build_detector

    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(DependencyError, match=r"pip install 'posediff\[video\]'"):
        build_detector("mediapipe")


def test_mediapipe_detector_refuses_what_it_cannot_do_offline():
    pytest.importorskip("mediapipe")
    from posediff.detectors import build_detector

    with pytest.raises(InputError, match="'heavy' landmark model, which is not inside the installed mediapipe"):
        build_detector("mediapipe", complexity=2)  # the wheel has only 'full': mediapipe would download it
    with pytest.raises(InputError, match="'lite' landmark model"):
        build_detector("mediapipe", complexity=0)
    with pytest.raises(InputError, match="complexity must be 0"):
        build_detector("mediapipe", complexity=3)
    with pytest.raises(InputError, match="min_detection_confidence"):
        build_detector("mediapipe", min_detection_confidence=1.5)


# ------------------------------------------------------------------------------------------ detection
def test_detect_video_keeps_every_frame_and_the_detectors_keypoints(clip):
    found = detect_video(clip, "test_walker", detector_params={"miss_every": 5})
    assert found.keypoints.shape == (1, FRAMES, 17, 3) and found.format == "coco-17"
    missed = np.arange(FRAMES) % 5 == 4
    assert np.array_equal(found.presence[0], ~missed)
    for t in np.flatnonzero(~missed):
        assert np.array_equal(found.keypoints[0, t], person_keypoints(int(t)))
    assert not found.keypoints[0, missed].any()
    meta = found.metadata()
    json.dumps(meta)
    assert meta["frames"] == FRAMES and meta["detector"] == "test_walker" and meta["frames_with_person"] == (~missed).sum()


def test_detector_is_reset_before_and_closed_after_a_video(clip):
    det = WalkerDetector()
    detect_video(clip, det)
    detect_video(clip, det)  # reset: the second video starts again at frame 0
    assert det.resets == 2 and det.closed == 2 and det.seen == FRAMES


def test_several_people_are_tracked_across_frames(clip):
    found = detect_video(clip, "test_crowd")
    assert found.keypoints.shape[:2] == (2, FRAMES) and found.presence.all()
    left = found.keypoints[:, :, 0, 0].mean(1)
    first = int(np.argmin(left))
    for t in range(FRAMES):  # each track keeps its own person although the detector swaps their order
        assert np.array_equal(found.keypoints[first, t], person_keypoints(t))


def test_nobody_found_is_a_clear_error(clip):
    with pytest.raises(InputError, match=f"no person found in any of the {FRAMES} frame"):
        detect_video(clip, "test_nobody")


def test_a_detector_returning_the_wrong_shape_is_named(clip):
    class Broken(KeypointDetector):
        keypoint_format = "coco-17"

        def detect(self, image):
            return np.zeros((1, 12, 3))

    with pytest.raises(InputError, match=r"returned shape \(1, 12, 3\) for frame 0; expected \(P, 17, 3\)"):
        detect_video(clip, Broken())


# ------------------------------------------------------------------------------------------ lift a video
def test_lift_a_video_detects_converts_and_lifts_every_frame(clip, tiny_lifter):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = posediff.lift(clip, lifter=tiny_lifter, detector="test_walker", seed=0)
        by_hand = posediff.lift(np.stack([person_keypoints(t) for t in range(FRAMES)]), lifter=tiny_lifter,
                                format="coco-17", image_size=(W, H), seed=0)
    assert res.poses3d.shape == (FRAMES, 17, 3) and res.mask.all()
    meta = res.metadata
    assert meta["fps"] == pytest.approx(FPS) and meta["image_size"] == (W, H) and meta["format"] == "coco-17"
    assert meta["video"]["detector"] == "test_walker" and meta["video"]["frames"] == FRAMES
    # the same keypoints given by hand lift to the same poses: the video path adds detection, nothing else
    np.testing.assert_array_equal(res.poses3d, by_hand.poses3d)
    np.testing.assert_array_equal(res.x2d, by_hand.x2d)


def test_lift_video_refuses_options_the_video_sets(clip, tiny_lifter):
    with pytest.raises(InputError, match="image_size cannot be given with a video"):
        posediff.lift(clip, lifter=tiny_lifter, detector="test_walker", image_size=(10, 10))
    with pytest.raises(InputError, match="detector and detector_params apply to video input"):
        posediff.lift(np.zeros((9, 17, 2)), lifter=tiny_lifter, detector="test_walker")


# ------------------------------------------------------------------------------------------ overlay animation
def test_overlay_animation_draws_the_skeleton_over_every_video_frame(clip, tiny_lifter, tmp_path):
    from posediff.viz import render_animation

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = posediff.lift(clip, lifter=tiny_lifter, detector="test_walker", seed=0)
    out = render_animation(res.poses3d, tmp_path / "overlay.mp4", x2d=res.x2d, fps=FPS, video=clip, size=2.0, dpi=50)
    info = probe_video(out)
    frames = list(iter_frames(out))
    assert len(frames) == FRAMES and info.fps == pytest.approx(FPS)
    assert info.size == (200, 100)  # two panels of size·dpi = 100 px
    # the left panel shows the video: its grey level follows the video's frames (10·t), brightest last
    left = [np.median(f[30:70, 10:90]) for f in frames]
    assert left[-1] > left[0] + 100
    with pytest.raises(InputError, match="x2d is needed"):
        render_animation(res.poses3d, tmp_path / "x.mp4", video=clip)
    with pytest.raises(InputError, match="fewer than the"):
        render_animation(np.concatenate([res.poses3d] * 2), tmp_path / "y.mp4",
                         x2d=np.concatenate([res.x2d] * 2), video=clip, size=1.0, dpi=40)


def test_cli_lift_video_writes_npz_overlay_and_bvh_and_reports_the_time(clip, tiny_lifter, tmp_path, capsys):
    from posediff.checkpoints import save_lifter
    from posediff.cli import main

    ckpt = save_lifter(tiny_lifter, tmp_path / "tiny.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["lift", str(clip), "--weights", str(ckpt), "--detector", "test_walker", "--detector-param",
                     "miss_every=0", "--out", str(tmp_path / "walk.npz"), "--render", str(tmp_path / "walk.mp4"),
                     "--bvh", str(tmp_path / "walk.bvh"), "--world", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2D: test_walker detector, coco-17 keypoints" in out
    assert f"video: {FRAMES} frames ({FRAMES / FPS:.1f} s at {FPS:g} frames/s, {W}×{H} px)" in out
    assert "the video's duration" in out
    assert len(list(iter_frames(tmp_path / "walk.mp4"))) == FRAMES
    from posediff.bvh import read_bvh

    assert read_bvh(tmp_path / "walk.bvh")["frames"].shape[0] == FRAMES
    with np.load(tmp_path / "walk.npz", allow_pickle=False) as z:
        assert z["poses3d"].shape == (FRAMES, 17, 3)
        poses, trajectory = z["poses3d"], z["trajectory"]
    # the readable JSON beside the .npz (written by default for a video)
    doc = json.loads((tmp_path / "walk.json").read_text())
    assert doc["joints"][0] == "pelvis" and doc["units"] == "metres" and doc["fps"] == pytest.approx(FPS)
    frames = doc["people"][0]["frames"]
    assert len(frames) == FRAMES and all(f["present"] for f in frames)
    assert frames[3]["time_s"] == pytest.approx(3 / FPS)
    np.testing.assert_allclose(np.array(frames[5]["joints"]), poses[5], rtol=0, atol=5e-5 + 1e-7)  # 4 decimals
    np.testing.assert_allclose(np.array(frames[5]["root"]), trajectory[5], rtol=0, atol=5e-5 + 1e-6)
    assert doc["metadata"]["video"]["detector"] == "test_walker"


def test_cli_lift_video_errors(clip, tmp_path, capsys):
    from posediff.cli import main

    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    for argv, want in (
        ([str(bad), "--detector", "test_walker"], "not a readable video"),
        ([str(clip), "--detector", "test_nobody"], "no person found"),
        ([str(clip), "--detector", "test_walker", "--image-size", "10", "10"], "--image-size cannot be used"),
        ([str(clip), "--detector", "test_walker", "--detector-param", "oops"], "KEY=VALUE"),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = main(["lift", *argv, "--weights", "demo", "--out", str(tmp_path / "o.npz"), "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and want in err, (argv, err)
        assert not (tmp_path / "o.npz").exists()


def test_mediapipe_format_is_known():
    assert get_format("mediapipe-33").num_joints == 33


def test_overlay_rendering_leaves_no_pipe_open(clip, tiny_lifter, tmp_path, monkeypatch):
    """`posediff lift VIDEO --render x.mp4` printed 'unclosed file' warnings: the MP4 writer's stderr pipe and
    the video reader were left to the garbage collector (whose ResourceWarnings are raised where nobody can
    catch them, so they are collected through sys.unraisablehook)."""
    import gc

    from posediff.viz import render_animation

    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: unraisable.append(repr(info.exc_value)))
    poses = np.zeros((FRAMES, 17, 3))
    poses[:, :, 1] = np.linspace(-0.8, 0.8, 17)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        render_animation(poses, tmp_path / "o.mp4", x2d=np.zeros((FRAMES, 17, 2)), fps=FPS, video=clip, size=1.0,
                         dpi=40, max_frames=5)
        gc.collect()
    assert not unraisable, unraisable


def test_detector_contract_check_passes_a_good_detector_and_names_a_bad_one():
    from posediff.errors import ContractError
    from posediff.testing import check_component

    det = check_component("detector", "test_crowd")
    assert det.t == 4  # two frames, reset, two frames

    @register("detector", "test_overconfident", replace=True)
    class Overconfident(KeypointDetector):
        keypoint_format = "coco-17"

        def detect(self, image):
            return np.full((1, 17, 3), 2.0)

    with pytest.raises(ContractError, match=r"confidences must be in \[0, 1\]"):
        check_component("detector", "test_overconfident")
