"""``posediff lift INPUT --weights W --out pose3d.npz``: lift a 2D keypoint file, or a video, to 3D."""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from .keypoint_args import add_keypoint_arguments, add_sampling_arguments

__all__ = ["add_parser", "run", "parse_camera_arg", "print_warnings", "animation_fps", "DEFAULT_FPS"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``lift`` subcommand."""
    p = subparsers.add_parser(
        "lift",
        help="lift 2D keypoints (a file) or a video to 3D poses",
        description="Lift a video (.mp4, .mov, .avi, .mkv, .webm, ...: 2D keypoints detected in every frame by "
                    "--detector, people tracked, frame rate and image size from the video; needs "
                    "pip install 'posediff[video]') or read 2D keypoints (OpenPose JSON folder/file, COCO results JSON, AlphaPose and MMPose "
                    "results with several people (tracked), .npz/.npy (T, J, 2|3) or multi-person (C, T, J, 2|3) "
                    "with 'presence', .csv), convert them to the model's joint set, normalise by the image size, "
                    "fill low-confidence joints, lift sequences of any length with overlapping windows and write "
                    "the 3D poses to an .npz. The hypotheses are combined by their mean (--sampling model, the "
                    "default); --aggregator jpma needs --camera.",
        epilog="examples: posediff lift dance.mp4 --sampling fast --render dance-3d.mp4 --bvh dance.bvh "
               "| posediff lift kps.npz --format coco17 --image-size 1920 1080 "
               "--out pose3d.npz | posediff lift openpose_json/ --weights model.pt --image-size 1280 720 "
               "--camera 1400,1400,640,360 --render pose3d.gif",
    )
    p.add_argument("input", metavar="INPUT", help="video file, keypoint file or OpenPose JSON folder")
    p.add_argument("--weights", metavar="W",
                   help="posediff checkpoint (.pt), a shipped model ('h36m', the default: finepose-base-h36m, "
                        "81 frames, trained on Human3.6M; 'h36m-streaming': the 9-frame finepose-small-h36m), or "
                        "'demo' (small model trained on synthetic motion)")
    p.add_argument("--out", metavar="FILE", default="pose3d.npz", help="output .npz (default pose3d.npz)")
    p.add_argument("--json", metavar="FILE",
                   help="also write the result as readable JSON (joint names, units, per-frame joints); for a video "
                        "it is written by default beside --out (same name, .json)")
    add_keypoint_arguments(p)
    p.add_argument("--detector", metavar="NAME",
                   help="video input: the keypoint detector (default mediapipe; `posediff list detector`)")
    p.add_argument("--detector-param", action="append", default=[], metavar="KEY=VALUE",
                   help="video input: a detector argument, e.g. complexity=0 (repeatable; values read as JSON, "
                        "else as text)")
    p.add_argument("--action", metavar="TEXT", help="action label for the prompt (default: neutral prompt)")
    add_sampling_arguments(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the diffusion noise (default 0)")
    p.add_argument("--overlap", type=int, help="frames shared by neighbouring windows (default window/4)")
    p.add_argument("--batch-size", type=int, default=8, help="windows per sampler call (default 8)")
    p.add_argument("--keep-hypotheses", action="store_true", help="also store the hypotheses in the .npz")
    p.add_argument("--render", metavar="ANIM",
                   help="also write an animation (.gif, or .mp4 with ffmpeg); for a video the left panel shows the "
                        "video with the 2D skeleton drawn on it")
    p.add_argument("--smooth", type=float, default=0.0, metavar="FRAMES",
                   help="Gaussian temporal smoothing of the 3D joints, its standard deviation in frames (default 0: "
                        "none); damps detector jitter, keeps steady motion (docs/lifting.md)")
    p.add_argument("--constant-bones", action="store_true",
                   help="hold every bone at its median length over each person's frames (directions kept; "
                        "posediff.geometry.bones.hold_bone_lengths)")
    p.add_argument("--world", action="store_true",
                   help="also place the person in camera space: the root's path in metres from the 2D and --camera, "
                        "else an assumed 60° horizontal field of view (saved as 'trajectory', used by --bvh)")
    p.add_argument("--fov", type=float, default=None, metavar="DEG",
                   help="horizontal field of view assumed by --world without --camera (default 60)")
    p.add_argument("--bvh", metavar="FILE",
                   help="also write the motion as BVH for animation tools (constant bone lengths, y up, centimetres; "
                        "one file per person: FILE, or FILE-person<C>.bvh for several people; docs/lifting.md)")
    p.add_argument("--max-frames", type=int, default=None,
                   help="at most this many frames in the animation, evenly spaced (default: every frame)")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate of the input and the animation (default: the input file's, else 30)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def parse_camera_arg(text: str | None):
    """``--camera`` value → something :func:`posediff.inference.parse_camera` accepts (or None)."""
    from ..errors import InputError

    if text is None:
        return None
    path = Path(text)
    if path.suffix.lower() in (".json", ".npy", ".npz") or path.exists():
        if not path.is_file():
            raise InputError(f"--camera file not found: {str(path)!r}")
        if path.suffix.lower() == ".json":
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise InputError(f"--camera {str(path)!r} is not valid JSON: {exc}") from None
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as z:
                key = "camera" if "camera" in z.files else z.files[0]
                return np.asarray(z[key])
        return np.load(path, allow_pickle=False)
    try:
        values = [float(v) for v in text.replace(" ", ",").split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--camera must be 'fx,fy,cx,cy[,k1,k2,k3,p1,p2]' or a file; got {text!r}") from None
    if len(values) not in (4, 9):
        raise InputError(f"--camera must have 4 or 9 numbers (fx,fy,cx,cy[,k1,k2,k3,p1,p2]); got {len(values)}")
    return np.asarray(values)


def print_warnings(caught, command: str) -> None:
    """Print captured warnings as one line each on stderr."""
    seen = set()
    for w in caught:
        msg = str(w.message).splitlines()[0]
        if msg in seen:
            continue
        seen.add(msg)
        print(f"posediff {command}: warning: {msg}", file=sys.stderr)


DEFAULT_FPS = 30.0
"""Frame rate of an animation whose input does not say its own (most video is 30 frames/s)."""


def animation_fps(given: float | None, metadata: dict) -> tuple[float, str]:
    """The animation's frame rate and where it came from: ``--fps``, else the input's (a keypoint file's
    ``fps``, a data set's rate), else :data:`DEFAULT_FPS`. The animation then lasts as long as the input."""
    if given is not None:
        if not given > 0:
            from ..errors import InputError

            raise InputError(f"--fps must be > 0; got {given}")
        return float(given), "--fps"
    if metadata.get("fps"):
        return float(metadata["fps"]), "the input's frame rate"
    return DEFAULT_FPS, f"the input does not say its frame rate: {DEFAULT_FPS:g} assumed, pass --fps to set it"


def hold_person_bones(result) -> None:
    """Every bone of every person at its median length over the frames the person was lifted in (in place;
    recorded in the metadata)."""
    from ..geometry.bones import hold_bone_lengths

    poses = result.poses3d if result.multi_person else result.poses3d[None]
    mask = result.mask if result.multi_person else result.mask[None]
    for c in range(poses.shape[0]):
        if mask[c].any():
            poses[c, mask[c]] = hold_bone_lengths(poses[c, mask[c]], result.skeleton).astype(poses.dtype)
    result.metadata["bones"] = "held at each bone's median length over the person's frames (--constant-bones)"


def write_bvh_files(result, path: str, fps: float) -> list[Path]:
    """One BVH file per lifted person, from the first to the last frame the person was seen in (frames in
    between where they were not seen hold the last seen pose; a person seen in no frame is skipped); prints
    where each went."""
    from ..bvh import write_bvh

    poses = result.poses3d if result.multi_person else result.poses3d[None]
    mask = result.mask if result.multi_person else result.mask[None]
    base = Path(path)
    written = []
    for c in range(poses.shape[0]):
        frames = np.flatnonzero(mask[c])
        if frames.size == 0:
            continue
        out = base if poses.shape[0] == 1 else base.with_name(f"{base.stem}-person{c}{base.suffix}")
        span = np.arange(frames[0], frames[-1] + 1)
        held = np.maximum.accumulate(np.where(mask[c, span], span, 0))  # the last seen frame at each frame
        placed = poses[c, held]
        if result.trajectory is not None:  # --world: the root moves through camera space
            traj = result.trajectory if result.multi_person else result.trajectory[None]
            placed = placed + traj[c, held][:, None, :]
        write_bvh(out, placed, skeleton=result.skeleton, fps=fps)
        written.append(out)
        print(f"BVH → {out} ({frames[-1] - frames[0] + 1} frames at {fps:g} frames/s)")
    return written


def parse_detector_params(items: list[str]) -> dict:
    """``["complexity=0", "smooth=false"]`` → ``{"complexity": 0, "smooth": False}`` (JSON values, else text)."""
    from ..errors import InputError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--detector-param must be KEY=VALUE; got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def print_video_timing(meta: dict, total_seconds: float) -> None:
    """One line: how long detection and lifting took against the video's own duration."""
    video = meta["video"]
    duration = video["frames"] / video["fps"]
    detect = video["detect_seconds"]
    print(f"video: {video['frames']} frames ({duration:.1f} s at {video['fps']:g} frames/s, "
          f"{video['size'][0]}×{video['size'][1]} px); detection ({video['detector']}) {detect:.1f} s "
          f"({video['detect_frames_per_second']:g} frames/s), lifting {meta['seconds'] - detect:.1f} s; "
          f"in all {total_seconds:.1f} s, {total_seconds / duration:.2f}× the video's duration"
          + (" (faster than real time)" if total_seconds < duration else ""))


def run(args: argparse.Namespace) -> int:
    """Lift and save; returns the exit code."""
    import time

    from ..errors import InputError
    from ..inference import lift
    from ..video.decode import is_video_path

    t0 = time.perf_counter()

    if not Path(args.input).exists():
        raise InputError(f"INPUT not found: {args.input!r}")
    out = Path(args.out)
    if out.suffix.lower() != ".npz":
        raise InputError(f"--out must end in .npz; got {args.out!r}")
    if args.json and Path(args.json).suffix.lower() != ".json":
        raise InputError(f"--json must end in .json; got {args.json!r}")
    if args.fov is not None and not args.world:
        raise InputError("--fov is the field of view assumed by --world; add --world")
    camera = parse_camera_arg(args.camera)
    is_video = is_video_path(args.input)
    if not is_video and (args.detector or args.detector_param):
        raise InputError(f"--detector and --detector-param apply to video input; {args.input!r} is not a video "
                         "(expected .mp4, .mov, .avi, .mkv, .webm, ...)")
    if is_video:
        given = [o for o, v in (("--format", args.format), ("--image-size", args.image_size),
                                ("--coords", args.coords)) if v is not None]
        if given:
            raise InputError(f"{', '.join(given)} cannot be used with a video: the detector sets the joint format "
                             "and the video its image size")
    video_kwargs = ({"detector": args.detector, "detector_params": parse_detector_params(args.detector_param)}
                    if is_video else {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = lift(
            args.input,
            weights=args.weights,
            format=args.format,
            image_size=None if args.image_size is None else tuple(args.image_size),
            coords=args.coords,
            camera=camera,
            camera_units=args.camera_units,
            actions=args.action,
            threshold=args.threshold,
            hypotheses=args.hypotheses,
            steps=args.steps,
            seed=args.seed,
            overlap=args.overlap,
            aggregator=args.aggregator,
            batch_size=args.batch_size,
            keep_hypotheses=args.keep_hypotheses,
            progress=not args.quiet,
            sampling=args.sampling,
            flip=args.flip,
            smooth=args.smooth,
            **video_kwargs,
        )
    print_warnings([w for w in caught if not issubclass(w.category, DeprecationWarning)], "lift")
    if args.constant_bones:
        hold_person_bones(result)
    if args.world:
        from ..inference.trajectory import DEFAULT_FOV_DEG, root_trajectory

        result.trajectory, info = root_trajectory(result, fov_deg=args.fov or DEFAULT_FOV_DEG)
        result.metadata["trajectory"] = info
    result.save(out)
    json_out = args.json or (str(out.with_suffix(".json")) if is_video else None)
    if json_out:
        result.save_json(json_out, fps=animation_fps(args.fps, result.metadata)[0])
    meta = result.metadata
    if result.multi_person:
        people, frames = result.mask.shape
        what = (f"{people} people over {frames} frames ({int(result.mask.sum())} person-frames: each person in the "
                "frames they were seen)")
    else:
        what = f"{int(result.mask.sum())} of {result.mask.size} frame(s)"
    print(f"lifted {what} with {meta.get('windows')} "
          f"window(s) of {meta.get('window')} frames, sampling {meta.get('sampling')} (H={meta.get('hypotheses')}, "
          f"M={meta.get('steps')}, flip {'on' if meta.get('flip') else 'off'}), "
          f"aggregator {result.aggregator_used} in {meta.get('seconds')} s → {out}")
    if is_video:
        print(f"2D: {meta['video']['detector']} detector, {meta['format']} keypoints; "
              f"{meta['video']['tracks']}")
    elif meta.get("format_assumed"):
        print(f"format: {meta['format']} (assumed; pass --format to choose)")
    else:
        print(f"format: {meta.get('format')} ({'as given' if args.format else 'read from the file'})")
    if meta.get("tracks"):
        print(f"people: {meta['tracks']}")
    if result.trajectory is not None:
        print(f"world: root trajectory in camera space, metres ({meta['trajectory']['assumption']})")
    if json_out:
        print(f"JSON → {json_out} (joint names, metres, per-frame joints)")
    if args.bvh:
        write_bvh_files(result, args.bvh, animation_fps(args.fps, meta)[0])
    if args.render:
        from ..viz import render_animation

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fps, fps_from = animation_fps(args.fps, meta)
            written = render_animation(result.poses3d, args.render, x2d=result.x2d, skeleton=result.skeleton,
                                       mask=result.mask, fps=fps, max_frames=args.max_frames,
                                       video=args.input if is_video else None)
        print_warnings(caught, "lift")
        print(f"animation → {written} at {fps:g} frames/s ({fps_from})")
    if is_video:
        print_video_timing(meta, time.perf_counter() - t0)
    return 0
