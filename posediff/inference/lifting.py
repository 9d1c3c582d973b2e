"""The :func:`lift` function: read, window, sample, aggregate, blend (see :mod:`posediff.inference`)."""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Sequence

import numpy as np
import torch

from .._version import __version__
from ..errors import InputError
from .camera import parse_camera
from ..video.decode import is_video_path
from .inputs import actions_per_person, detect_video_input, fill_segment, h36m_skeleton, present_segments, read_input
from .result import LiftResult
from ..weights import short_clip_hint
from .windows import blend_weights, window_plan


def _resolve_lifter(weights, lifter, overrides):
    from ..lifter import PoseLifter

    if lifter is not None and weights is not None:
        raise InputError("pass either weights= (a checkpoint) or lifter= (a model), not both")
    if isinstance(lifter, PoseLifter):
        return lifter, {"model": lifter.meta.get("name", "custom")}
    if lifter is not None:
        if isinstance(lifter, (str, Path, Mapping)):
            from ..build import build

            warnings.warn("lift(): building an untrained lifter from a spec; its poses are meaningless "
                          "(pass weights= for a trained model)", stacklevel=3)
            model = build(lifter, overrides=overrides)
            return model, {"model": model.meta.get("name", "custom"), "untrained": True}
        raise InputError(f"lifter must be a PoseLifter, a preset name or a spec; got {type(lifter).__name__}")
    from ..loading import load
    from ..weights import DEFAULT_WEIGHTS, list_weights

    if weights is None:
        if not list_weights():
            raise InputError(
                "lift() needs a model: this installation ships no trained weights, so pass "
                "weights='path/to/checkpoint.pt' (posediff format), weights='demo' (the bundled synthetic-data "
                "model), or lifter=<PoseLifter>"
            )
        weights = DEFAULT_WEIGHTS
    model = load(weights, overrides=overrides)
    return model, {"model": model.meta.get("name", "custom"), "weights": str(weights)}


def resolve_aggregator(model, aggregator, camera_given: bool, notes: list[str]):
    """The aggregator module and its name for a call: the model's own (``None``), a registered name or an instance; one that needs a camera falls back to the mean (with a note) when none is given and it was not asked for by name."""
    from ..build import build_component

    if aggregator is None:
        agg = model.aggregator
        name = model.aggregator.registered_name()
    elif isinstance(aggregator, str):
        name = aggregator
        agg = build_component("aggregator", {"name": aggregator}, skeleton=model.skeleton.name,
                              frames=model.frames, dim=model.dim,
                              joints=model.skeleton.num_joints)
    else:
        from ..interfaces import Aggregator

        if not isinstance(aggregator, Aggregator):
            raise InputError(f"aggregator must be a registered name or a posediff.interfaces.Aggregator; got "
                             f"{type(aggregator).__name__}")
        agg = aggregator
        name = type(aggregator).__name__
    needs = set(agg.needs)
    missing = [n for n in sorted(needs) if not (n == "camera" and camera_given)]
    if missing:
        if aggregator is not None:
            what = f"{', '.join(missing)} must be given for aggregator {name!r}; got None"
            raise InputError(f"{what} (pass camera= intrinsics or choose aggregator='mean')").for_cli(
                f"{what} (pass --camera fx,fy,cx,cy or choose --aggregator mean)")
        msg = (f"aggregator {name!r} needs {', '.join(missing)}"
               + (" (camera intrinsics)" if "camera" in missing else "")
               + "; using the mean of the hypotheses instead")
        warnings.warn(msg, stacklevel=3)
        notes.append(msg)
        agg = build_component("aggregator", {"name": "mean"})
        name = "mean"
    return agg, name


# ------------------------------------------------------------------------------------------ lift
def lift(
    keypoints: Any,
    *,
    weights: str | Path | None = None,
    lifter: Any = None,
    format: Optional[str] = None,
    skeleton: Optional[str] = None,
    image_size: Optional[tuple[int, int]] = None,
    coords: Optional[Literal["pixels", "unit", "normalized"]] = None,
    camera: Any = None,
    camera_units: Literal["auto", "pixels", "normalized"] = "auto",
    presence: Any = None,
    actions: str | Sequence[Optional[str]] | None = None,
    threshold: float = 0.3,
    hypotheses: Optional[int] = None,
    steps: Optional[int] = None,
    generator: Optional[torch.Generator] = None,
    seed: Optional[int] = None,
    overlap: Optional[int] = None,
    max_gap: int = 10,
    aggregator: Any = None,
    batch_size: int = 8,
    keep_hypotheses: bool = False,
    progress: bool = False,
    sampling: Optional[str] = None,
    flip: Optional[bool] = None,
    detector: Any = None,
    detector_params: Optional[dict] = None,
    smooth: float = 0.0,
) -> LiftResult:
    """Lift 2D keypoint sequences of any length (one or several people) to 3D.

    Args:
        keypoints: ``(N, J, 2|3)`` one person or ``(C, N, J, 2|3)`` C people (numpy or torch; a third
            channel is a confidence), a :class:`~posediff.data.formats.Keypoints2D`, a keypoint file /
            OpenPose JSON folder, or a **video file** (``.mp4``, ``.mov``, ``.avi``, ``.mkv``, ``.webm``, …:
            the 2D keypoints are detected in every frame with ``detector``, people are tracked, and the frame
            rate and image size come from the video; :func:`posediff.video.detect_video`).
        weights: posediff checkpoint path, a shipped model (``"h36m"`` = ``"finepose-base-h36m"``, 81 frames,
            trained on Human3.6M; ``"h36m-streaming"`` = the 9-frame ``"finepose-small-h36m"``; see
            :mod:`posediff.weights`), or ``"demo"`` for the synthetic-data demo model. Default (None, no
            ``lifter``): the shipped ``"h36m"`` model. A sequence shorter than the model's window is lifted
            in one window padded by repeating its last frame, with a warning (the padding is not output).
        lifter: A built :class:`~posediff.lifter.PoseLifter` (instead of ``weights``); a preset name builds
            an untrained model (for tests).
        format: Joint layout of ``keypoints``: ``"coco17"``/``"coco-17"``, ``"h36m-17"``, ``"3dhp-17"``,
            ``"mediapipe-33"``, ``"openpose-25"``. Default from the joint count (17 → COCO-17).
        skeleton: Alias of ``format``.
        image_size: ``(w, h)`` pixels, to normalise pixel coordinates (and pixel intrinsics).
        coords: ``"pixels"``, ``"unit"`` (fractions of the image, e.g. MediaPipe) or ``"normalized"``
            (already normalised screen coordinates). Default: pixels when ``image_size`` is given, else
            normalised (values beyond ±3 without ``image_size`` are an error).
        camera: Optional intrinsics (see :func:`parse_camera`); needed by JPMA. Without it an aggregator
            that needs a camera is replaced by the mean (warning; ``aggregator_used`` says so).
        camera_units: ``"auto"``, ``"pixels"`` or ``"normalized"`` (see :func:`parse_camera`).
        presence: ``(N,)`` / ``(C, N)`` bool, whether each person is in each frame (default all True).
        actions: Action label for the prompt (``None``: neutral prompt); one string for everybody or one
            per person.
        threshold: Joints with confidence below this are missing (interpolated).
        hypotheses, steps: Call-time H and M (default: the sampling configuration's).
        generator: ``torch.Generator`` for the diffusion noise; or ``seed``.
        seed: Seed for a fresh CPU generator (ignored when ``generator`` is given).
        overlap: Frames shared by neighbouring windows (default ``F // 4``), ``0 ≤ overlap < F``.
        max_gap: Absent frames bridged inside one track (longer gaps split it into segments).
        aggregator: A registered name (``"mean"``, ``"jpma"``, ``"jpma_temporal"``) or module (default: the
            sampling configuration's: the mean, or with ``sampling="paper"`` the model's own).
        batch_size: Windows per sampler call.
        keep_hypotheses: Also return the blended hypotheses ``(…, H, N, J, 3)`` of the last step.
        progress: Show a progress bar (tqdm).
        sampling: A named sampling configuration (:mod:`posediff.inference.sampling_configs`): ``"model"``
            (the default: the model's H, M and flip, with the mean), ``"fast"`` (H=2, M=2, flip, mean),
            ``"realtime"`` (H=1, M=1, flip, mean) or ``"paper"`` (H=20, M=10, flip, the model's aggregator). ``hypotheses``,
            ``steps``, ``aggregator`` and ``flip`` override its values.
        flip: Flip test-time augmentation on or off for this call (default: the configuration's, else the
            model's).
        detector: Video input only: a registered keypoint detector name (default ``"mediapipe"``, which needs
            ``pip install 'posediff[video]'``) or a built :class:`~posediff.interfaces.KeypointDetector`.
        detector_params: Video input only: constructor arguments of a named detector.
        smooth: Gaussian temporal smoothing of the output joints, its standard deviation in frames (0, the
            default: none); steady motion is kept exactly, detector jitter is damped
            (:func:`posediff.geometry.smoothing.smooth_poses`; ``docs/lifting.md`` shows what it costs and gains).

    Returns:
        :class:`LiftResult`; ``poses3d`` is ``(N, J, 3)`` for one person or ``(C, N, J, 3)`` metres,
        root-relative, zero where the person is absent.

    Raises:
        InputError: bad shapes, unknown format, pixels without an image size, bad camera, an explicit
            ``aggregator`` whose inputs are missing; for video: not a video, a corrupt one, nobody found.
        DependencyError: video input without the optional packages (the message gives the install command).
        CheckpointError: unreadable weights.

    Warns:
        UserWarning: the aggregator fell back to the mean (no camera), a joint was never observed in a
            segment (placed at its parent), or a person had no confident joint at all (not lifted).
    """
    t0 = time.perf_counter()
    if format is not None and skeleton is not None and format != skeleton:
        raise InputError(f"format and skeleton are aliases; got format={format!r} and skeleton={skeleton!r}")
    fmt = format if format is not None else skeleton
    if not 0.0 <= float(threshold) <= 1.0:
        raise InputError(f"threshold must be in [0, 1]; got {threshold}")
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be >= 1; got {batch_size}")
    if int(max_gap) < 0:
        raise InputError(f"max_gap must be >= 0; got {max_gap}")
    if isinstance(smooth, bool) or not isinstance(smooth, (int, float)) or not 0 <= smooth < float("inf"):
        raise InputError(f"smooth must be a number of frames >= 0 (the Gaussian's standard deviation); got {smooth!r}")
    from .sampling_configs import resolve_sampling

    config = resolve_sampling(sampling, hypotheses=hypotheses, steps=steps, flip=flip, aggregator=aggregator)
    hypotheses, steps, aggregator = config.hypotheses, config.steps, config.aggregator
    notes: list[str] = []
    video = None
    if is_video_path(keypoints):
        keypoints, presence, fmt, image_size, coords, video = detect_video_input(
            keypoints, fmt=fmt, image_size=image_size, coords=coords, presence=presence, detector=detector,
            detector_params=detector_params, progress=progress)
    elif detector is not None or detector_params is not None:
        raise InputError("detector and detector_params apply to video input (a video file); the keypoints given "
                         "are already 2D")
    tracks, single, info = read_input(keypoints, fmt, image_size, coords, float(threshold), presence)
    if video is not None:
        info.update(source=video.info.path, fps=video.info.fps, video=video.metadata())
        if video.keypoints.shape[0] > 1:
            info["tracks"] = video.tracks
    image_size = info.get("image_size")
    if info.get("format_assumed"):
        notes.append(info["format_assumed"])
    if info.get("tracks"):
        notes.append(f"several people in the file: {info['tracks']}")
    cam = parse_camera(camera, image_size, camera_units)

    model, model_info = _resolve_lifter(weights, lifter, None)
    sk = model.skeleton
    F = int(model.frames)
    J = sk.num_joints
    ov = F // 4 if overlap is None else int(overlap)
    if not 0 <= ov < F:
        raise InputError(f"overlap must be in [0, {F - 1}] for this model's {F}-frame window; got {overlap}")
    agg, agg_name = resolve_aggregator(model, aggregator, cam is not None, notes)

    C = len(tracks)
    actions_per = actions_per_person(actions, C)
    if generator is None and seed is not None:
        generator = torch.Generator().manual_seed(int(seed))

    from ..geometry.skeletons import convert_joints

    # ---- plan: segments and windows of every person
    clips: list[tuple[int, int, int, np.ndarray]] = []  # (person, seg_start, win_start, x2d (F,J,2))
    segs_of: list[list[tuple[int, int, np.ndarray]]] = []
    N = tracks[0].xy.shape[0]
    x2d_out = np.zeros((C, N, J, 2), np.float32)
    jmask_out = np.zeros((C, N, J), bool)
    mask_out = np.zeros((C, N), bool)
    for c, tr in enumerate(tracks):
        segs = present_segments(tr.present, tr.observed.any(1), int(max_gap))
        dropped = int((tr.present & ~tr.observed.any(1)).sum())
        if dropped and not segs:
            notes.append(f"person {c}: no joint above the confidence threshold in any frame; not lifted")
        elif dropped:
            notes.append(f"person {c}: {dropped} present frame(s) had no confident joint (interpolated or skipped)")
        per = []
        for s, e in segs:
            filled = fill_segment(tr.xy[s:e], tr.observed[s:e], h36m_skeleton(), notes, f"person {c} frames {s}-{e - 1}")
            if sk.name != "h36m-17":
                filled = convert_joints(filled, "h36m-17", sk.name)
                obs = convert_joints(tr.observed[s:e, :, None], "h36m-17", sk.name)[..., 0]
            else:
                obs = tr.observed[s:e]
            L = e - s
            if L < F:
                notes.append(f"person {c} frames {s}-{e - 1}: {L} frame(s), fewer than the model's window of {F}: "
                             "lifted in one window padded by repeating the last frame (the padding is not output; "
                             "the model sees less motion context than it was trained with)" + short_clip_hint(model.meta.get("name")))
            starts = window_plan(L, F, ov)
            for st in starts:
                idx = np.clip(np.arange(st, st + F), 0, L - 1)
                clips.append((c, s, int(st), filled[idx].astype(np.float32)))
            per.append((s, e, starts))
            present = tr.present[s:e]
            x2d_out[c, s:e] = np.where(present[:, None, None], filled, 0.0)
            jmask_out[c, s:e] = obs & present[:, None]
            mask_out[c, s:e] = present
        segs_of.append(per)

    if not clips:
        raise InputError(
            f"nothing to lift: no frame of {'any person' if C > 1 else 'the input'} ({N} frame(s)) has a joint "
            f"above the confidence threshold {float(threshold):g} (all coordinates missing or NaN, or every "
            "confidence below it); check the input file, its --format, or lower --threshold"
        )
    settings = model.settings_for(hypotheses=hypotheses, steps=steps, flip=config.flip)
    H_eff = settings.hypotheses
    pred = np.zeros((len(clips), F, J, 3), np.float32)
    hyp_pred = np.zeros((len(clips), H_eff, F, J, 3), np.float32) if keep_hypotheses else None
    cam_t = None if cam is None else torch.as_tensor(cam, dtype=torch.float32, device=model.device)
    batches = range(0, len(clips), int(batch_size))
    if progress and len(clips) > int(batch_size):
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="lifting", unit="batch")
    _sample_clips(model, clips, batches, int(batch_size), actions_per, generator, settings, agg, cam_t, pred,
                  hyp_pred)

    # ---- stitch with cross-fade weights
    poses = np.zeros((C, N, J, 3), np.float32)
    hyp_out = np.zeros((C, H_eff, N, J, 3), np.float32) if keep_hypotheses else None
    k = 0
    n_windows = 0
    for c, per in enumerate(segs_of):
        for s, e, starts in per:
            L = e - s
            w = blend_weights(starts, F, L)
            acc = np.zeros((L, J, 3))
            hacc = np.zeros((H_eff, L, J, 3)) if keep_hypotheses else None
            tot = np.zeros(L)
            for a, st in enumerate(starts):
                valid = w[a] > 0
                frames_idx = st + np.flatnonzero(valid)
                acc[frames_idx] += pred[k][valid] * w[a][valid][:, None, None]
                if hacc is not None:
                    hacc[:, frames_idx] += hyp_pred[k][:, valid] * w[a][valid][None, :, None, None]
                tot[frames_idx] += w[a][valid]
                k += 1
            n_windows += len(starts)
            present = mask_out[c, s:e]
            seg_pose = acc / tot[:, None, None]
            poses[c, s:e] = np.where(present[:, None, None], seg_pose, 0.0)
            if hyp_out is not None:
                hyp_out[c, :, s:e] = np.where(present[None, :, None, None], hacc / tot[None, :, None, None], 0.0)

    if smooth:
        from ..geometry.smoothing import smooth_poses

        poses = smooth_poses(poses, float(smooth), mask_out).astype(np.float32)
    for n in notes:
        if "using the mean" not in n:
            warnings.warn(n, stacklevel=2)
    meta = {
        "posediff_version": _version(),
        **model_info,
        **info,
        "camera": None if cam is None else [float(v) for v in cam],
        "window": F,
        "overlap": ov,
        "windows": n_windows,
        "hypotheses": H_eff,
        "steps": settings.steps,
        "seed": seed,
        "sampling": config.name,
        "flip": settings.flip,
        "actions": actions_per if not single else actions_per[0],
        "threshold": float(threshold),
        "max_gap": int(max_gap),
        "smooth_frames": float(smooth),
        "aggregator_model": model.aggregator.registered_name(),
        "notes": notes,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if single:
        return LiftResult(poses[0], mask_out[0], x2d_out[0], jmask_out[0], agg_name, sk.name,
                          None if hyp_out is None else hyp_out[0], meta)
    return LiftResult(poses, mask_out, x2d_out, jmask_out, agg_name, sk.name, hyp_out, meta)


def _sample_clips(model, clips, batches, batch_size: int, actions_per, generator, settings, agg, cam_t,
                  pred: np.ndarray, hyp_pred: Optional[np.ndarray]) -> None:
    """Sample and aggregate every window of ``clips`` in batches; fills ``pred`` (and ``hyp_pred``) in place."""
    for b0 in batches:
        chunk = clips[b0:b0 + batch_size]
        x = torch.from_numpy(np.stack([cl[3] for cl in chunk])).to(model.device)
        acts = [actions_per[cl[0]] for cl in chunk]
        out, last = sample_windows(model, x, agg, actions=None if all(a is None for a in acts) else acts,
                                   generator=generator, hypotheses=settings.hypotheses, steps=settings.steps,
                                   flip=settings.flip, camera=cam_t)
        pred[b0:b0 + len(chunk)] = out.cpu().numpy()
        if hyp_pred is not None:
            hyp_pred[b0:b0 + len(chunk)] = last.float().cpu().numpy()


def sample_windows(model, x2d: torch.Tensor, aggregator, *, actions=None, generator=None, hypotheses=None,
                   steps=None, flip: Optional[bool] = None,
                   camera: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample a batch of windows and aggregate the hypotheses of the aggregator's step (its ``step``, default
    the last) with :meth:`~posediff.lifter.PoseLifter.sample_and_aggregate`: the core of :func:`lift` and
    :class:`posediff.streaming.StreamingLifter`.

    Args:
        model: A :class:`~posediff.lifter.PoseLifter`.
        x2d: ``(B, F, J, 2)`` normalised 2D on the model's device.
        aggregator: A built aggregator.
        actions, generator, hypotheses, steps, flip: As :meth:`~posediff.lifter.PoseLifter.sample`.
        camera: ``(9,)`` normalised intrinsics, or None.

    Returns:
        ``(poses (B, F, J, 3) float32 metres with the root joint at 0, hypotheses (B, H, F, J, 3) of that step)``.
    """
    with torch.no_grad():
        out, hyps = model.sample_and_aggregate(x2d, aggregator, actions=actions, generator=generator,
                                               hypotheses=hypotheses, steps=steps, flip=flip, camera=camera)
    return out.float(), hyps[:, int(aggregator.step)]


def _version() -> str:
    return __version__
