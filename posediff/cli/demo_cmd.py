"""``posediff demo``: lift the bundled 2D sequence with the shipped model, print metrics, draw it.

The model is the shipped ``finepose-base-h36m`` (``weights="h36m"``, 81 frames, trained on Human3.6M S1/S5/S6/S7) when
the installation has it, else the small synthetic-data ``"demo"`` model. The bundled sequence is a held-out
subject of posediff's *synthetic* motion data (``scripts/make_demo_assets.py``): it shows the pipeline end to
end. Where the licensed Human3.6M data is present (``$POSEDIFF_SHARED`` or ``../shared``), the demo also
lifts a clip of the held-out subject S8 given as a detector would give it (COCO-17 pixels, 3 px noise, 3 %
of the joints dropped, no camera) and prints its error against the motion-capture ground truth.
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["add_parser", "run", "run_demo", "DEMO_SEQUENCE"]

DEMO_SEQUENCE = "demo_sequence.npz"
"""File name of the bundled 2D/3D sequence in ``posediff/assets``."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``demo`` subcommand."""
    p = subparsers.add_parser(
        "demo",
        help="lift a bundled 2D sequence with a bundled small model; print metrics, write a GIF",
        description="Lift the bundled synthetic 2D keypoint sequence (pixels + confidence, a few joints dropped) "
                    "with the bundled small FinePOSE model (finepose-tiny, trained by posediff on its synthetic "
                    "data), print MPJPE / P-MPJPE against the bundled ground truth for every aggregator, and "
                    "write an animation, a frame grid, the hypothesis spread and the result into --out-dir.",
        epilog="examples: posediff demo | posediff demo --out-dir /tmp/demo --no-render | "
               "posediff demo --hypotheses 10 --steps 10",
    )
    p.add_argument("--out-dir", default="demo_out", metavar="DIR", help="output folder (default ./demo_out)")
    p.add_argument("--weights", default=None, metavar="W",
                   help="checkpoint or shipped model (default: 'h36m' when shipped, else 'demo')")
    p.add_argument("--shared", metavar="DIR",
                   help="the licensed data folder for the S8 check (default $POSEDIFF_SHARED, else ../shared)")
    p.add_argument("--sequence", metavar="NPZ", help="sequence .npz (default: the bundled one)")
    p.add_argument("--hypotheses", type=int, metavar="H", help="hypotheses (default: the model's)")
    p.add_argument("--steps", type=int, metavar="M", help="sampling steps (default: the model's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the diffusion noise (default 0)")
    p.add_argument("--no-render", action="store_true", help="skip the figures (metrics and result only)")
    p.add_argument("--max-frames", type=int, default=40, help="frames in the animation (default 40)")
    p.add_argument("--fps", type=float, default=10.0, help="animation frames per second (default 10)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(func=run)
    return p


def _sequence_path(path: str | None) -> Path:
    from importlib import resources

    from ..errors import DataError

    if path is not None:
        p = Path(path)
    else:
        p = Path(str(resources.files("posediff") / "assets" / DEMO_SEQUENCE))
    if not p.is_file():
        raise DataError(f"demo sequence not found: {str(p)!r} (regenerate with `python scripts/make_demo_assets.py`)")
    return p


def _load_sequence(path: Path) -> dict:
    from ..errors import DataError

    need = ("keypoints", "image_size", "camera", "x3d")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in need if k not in z.files]
            if missing:
                raise DataError(f"{str(path)!r} is not a demo sequence (missing {missing})")
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read demo sequence {str(path)!r}: {exc}") from None


def default_weights() -> str:
    """``"h36m"`` when the installation ships trained weights, else ``"demo"``."""
    from ..weights import DEFAULT_WEIGHTS, list_weights

    return DEFAULT_WEIGHTS if list_weights() else "demo"


def find_shared(path: str | Path | None = None) -> Path | None:
    """The licensed data folder: ``path``, ``$POSEDIFF_SHARED``, or ``../shared`` next to the working
    directory or the source tree; None when none holds ``data/h36m/data_3d_h36m.npz``."""
    import os

    cands = [Path(path)] if path else []
    if os.environ.get("POSEDIFF_SHARED"):
        cands.append(Path(os.environ["POSEDIFF_SHARED"]))
    cands += [Path.cwd().parent / "shared", Path(__file__).resolve().parents[3] / "shared"]
    for c in cands:
        if (c / "data" / "h36m" / "data_3d_h36m.npz").is_file():
            return c
    return None


def s8_check(weights: str, shared: Path, *, action: str = "Walking 1", frames: int = 150, seed: int = 0,
             noise_px: float = 3.0, drop: float = 0.03) -> dict:
    """Lift a held-out Human3.6M S8 clip given as a detector would give it; errors against the ground truth.

    The clip (first camera, ``frames`` frames) is made by :func:`posediff.data.simulate.detector_like_keypoints`
    and lifted by :func:`posediff.lift` with the model's default aggregator and no camera.

    Returns:
        ``{"clip", "frames", "mpjpe_mm" (root-aligned), "p_mpjpe_mm", "seconds"}``.
    """
    import torch

    from .. import metrics as M
    from ..data.simulate import detector_like_keypoints
    from ..inference import lift
    from ..training.datasets import load_dataset

    t0 = time.perf_counter()
    ds = load_dataset(f"h36m:{shared / 'data' / 'h36m'}", ["S8"], role="val")
    seq = next(s for s in ds if s.action == action)
    n = min(frames, seq.num_frames)
    kp = detector_like_keypoints(seq, noise_px=noise_px, drop=drop, seed=seed, frames=n)
    res = lift(kp, weights=weights, format="coco17", image_size=seq.image_size, seed=seed)
    pred = torch.as_tensor(res.poses3d, dtype=torch.float64)
    gt = torch.as_tensor(seq.x3d[:n], dtype=torch.float64)
    pred = pred - pred[:, :1]
    return {"clip": f"S8 {action!r}, camera {seq.camera_name}, frames 0-{n - 1}, COCO-17 pixels, "
                    f"{noise_px:g} px noise, {100 * drop:g} % joints dropped, no camera",
            "frames": n, "aggregator": res.aggregator_used,
            "mpjpe_mm": 1000 * float(M.mpjpe(pred, gt)), "p_mpjpe_mm": 1000 * float(M.p_mpjpe(pred, gt)),
            "seconds": round(time.perf_counter() - t0, 2)}


def run_demo(out_dir: str | Path = "demo_out", *, weights: str | None = None, sequence: str | None = None,
             hypotheses: int | None = None, steps: int | None = None, seed: int = 0, render: bool = True,
             max_frames: int = 40, fps: float = 10.0) -> dict:
    """Run the demo; return a dict with ``metrics`` (per aggregator), ``files`` and timing.

    Args:
        out_dir: Output folder.
        weights: Checkpoint or shipped model; default :func:`default_weights`.
        sequence: Sequence ``.npz``; default the bundled one.
        hypotheses, steps: Call-time H and M.
        seed: Diffusion noise seed.
        render: Write the GIF and PNG figures.
        max_frames, fps: Animation settings.
    """
    import torch

    from .. import metrics as M
    from ..build import build_component
    from ..inference import lift
    from ..registry import list_components

    t0 = time.perf_counter()
    weights = default_weights() if weights is None else weights
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seq = _load_sequence(_sequence_path(sequence))
    fmt = str(seq["format"]) if "format" in seq else "h36m-17"
    image_size = tuple(int(v) for v in seq["image_size"].tolist())
    action = str(seq["action"]) if "action" in seq else None
    gt = torch.as_tensor(seq["x3d"], dtype=torch.float32)

    res = lift(seq["keypoints"], weights=weights, format=fmt, image_size=image_size, camera=seq["camera"],
               camera_units="pixels", hypotheses=hypotheses, steps=steps, seed=seed, keep_hypotheses=True)
    t_lift = time.perf_counter() - t0
    res.save(out / "pose3d.npz")

    # every registered aggregator, applied to the stitched hypotheses of the whole sequence
    hyps = torch.as_tensor(res.hypotheses)[None]          # (1, H, N, J, 3)
    x2d = torch.as_tensor(res.x2d)[None]                  # (1, N, J, 2)
    cam = torch.as_tensor(res.metadata["camera"], dtype=torch.float32)[None]
    target = gt[None]
    rows = [{"aggregator": f"lift output ({res.aggregator_used}, windowed)", "deployable": True,
             "mpjpe_mm": 1000 * float(M.mpjpe(torch.as_tensor(res.poses3d), gt)),
             "p_mpjpe_mm": 1000 * float(M.p_mpjpe(torch.as_tensor(res.poses3d), gt))}]
    for name in list_components("aggregator"):
        try:
            agg = build_component("aggregator", {"name": name}, skeleton=res.skeleton, joints=gt.shape[1])
            needs = set(agg.needs)  # a declared hook (Aggregator.needs)
            if needs - {"camera", "target"}:
                continue
            kwargs = {"x2d": x2d}
            if "camera" in needs or name == "jpma":
                kwargs["camera"] = cam
            if "target" in needs:
                kwargs["target"] = target
            with torch.no_grad():
                pose = agg(hyps, **kwargs)[0]
            pose[..., 0, :] = 0.0
        except Exception as exc:  # noqa: BLE001 - a plugin aggregator must not break the demo
            warnings.warn(f"aggregator {name!r} skipped: {str(exc).splitlines()[0]}", stacklevel=2)
            continue
        rows.append({"aggregator": name, "deployable": "target" not in needs,
                     "mpjpe_mm": 1000 * float(M.mpjpe(pose, gt)), "p_mpjpe_mm": 1000 * float(M.p_mpjpe(pose, gt))})
    files = {"result": str(out / "pose3d.npz")}
    if render:
        from ..viz import render_animation, render_frames, render_hypotheses

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            files["animation"] = str(render_animation(
                res.poses3d, out / "demo.gif", x2d=res.x2d, skeleton=res.skeleton, fps=fps, max_frames=max_frames,
                title=f"posediff demo ({res.aggregator_used})"))
            files["frames"] = str(render_frames(res.poses3d, out / "frames.png", x2d=res.x2d, reference=gt.numpy(),
                                                skeleton=res.skeleton, num_frames=6,
                                                title="lifted (colour) vs ground truth (black)"))
            files["spread"] = str(render_hypotheses(res.hypotheses, out / "spread.png", aggregated=res.poses3d,
                                                    x2d=res.x2d, skeleton=res.skeleton))
    report = {
        "weights": str(weights),
        "sequence": {"frames": int(gt.shape[0]), "format": fmt, "image_size": list(image_size), "action": action,
                     "missing_joints": int((~res.joint_mask).sum())},
        "model": {"window": res.metadata["window"], "hypotheses": res.metadata["hypotheses"],
                  "steps": res.metadata["steps"], "windows": res.metadata["windows"]},
        "metrics": rows,
        "files": files,
        "seconds": {"lift": round(t_lift, 2), "total": round(time.perf_counter() - t0, 2)},
    }
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    files["metrics"] = str(out / "metrics.json")
    return report


def run(args: argparse.Namespace) -> int:
    """Run the demo and print the table; returns the exit code."""
    from ..errors import InputError
    from .lift_cmd import print_warnings

    for name in ("hypotheses", "steps", "max_frames"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1; got {v}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = run_demo(args.out_dir, weights=args.weights, sequence=args.sequence, hypotheses=args.hypotheses,
                          steps=args.steps, seed=args.seed, render=not args.no_render, max_frames=args.max_frames,
                          fps=args.fps)
        shared = find_shared(args.shared)
        if shared is not None:
            report["s8"] = s8_check(report["weights"], shared, seed=args.seed)
            (Path(args.out_dir) / "metrics.json").write_text(json.dumps(report, indent=2))
    print_warnings([w for w in caught if "NOT CLIP" not in str(w.message)
                    and not issubclass(w.category, DeprecationWarning)], "demo")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    s, m = report["sequence"], report["model"]
    print(f"posediff demo: {s['frames']} frames of synthetic 2D ({s['format']}, {s['image_size'][0]}x"
          f"{s['image_size'][1]} px, {s['missing_joints']} low-confidence joints filled), "
          f"{m['windows']} windows of {m['window']} frames, H={m['hypotheses']}, M={m['steps']}")
    if report["weights"] == "demo":
        print("model: 'demo', a finepose-tiny trained by posediff on synthetic motion (not on real people)")
    else:
        print(f"model: {report['weights']!r} ({_model_line(report['weights'])})")
    print()
    width = max(len(r["aggregator"]) for r in report["metrics"])
    print(f"  {'aggregator':<{width}}  {'MPJPE':>8}  {'P-MPJPE':>8}")
    for r in report["metrics"]:
        note = "" if r["deployable"] else "  (oracle: uses the ground truth)"
        print(f"  {r['aggregator']:<{width}}  {r['mpjpe_mm']:>6.1f}mm  {r['p_mpjpe_mm']:>6.1f}mm{note}")
    print()
    if "s8" in report:
        r = report["s8"]
        print(f"  held-out Human3.6M: {r['clip']}")
        print(f"  {'lift output (' + r['aggregator'] + ')':<{width}}  {r['mpjpe_mm']:>6.1f}mm  {r['p_mpjpe_mm']:>6.1f}mm"
              "  (root-aligned)")
    else:
        print("  (no Human3.6M data found: set POSEDIFF_SHARED to also lift a held-out S8 clip)")
    print()
    for k, v in report["files"].items():
        print(f"  {k:<9} {v}")
    print(f"done in {report['seconds']['total']:.1f} s (lifting {report['seconds']['lift']:.1f} s)")
    return 0


def _model_line(weights: str) -> str:
    from ..weights import is_weights_name, weights_record

    if weights != "demo" and is_weights_name(weights):
        rec = weights_record(weights)
        return (f"{rec.get('preset')} trained on Human3.6M {', '.join(rec.get('data', {}).get('train_subjects', []))}"
                f", {rec.get('steps')} steps")
    return "checkpoint"
