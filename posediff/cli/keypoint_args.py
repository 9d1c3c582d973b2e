"""Command-line options shared by the commands that read a 2D keypoint file and lift it (``lift``, ``stream``)."""
from __future__ import annotations

import argparse

from ..inference.sampling_configs import DEFAULT_SAMPLING, SAMPLING_CONFIGS

__all__ = ["add_keypoint_arguments", "add_sampling_arguments"]


def add_keypoint_arguments(p: argparse.ArgumentParser) -> None:
    """``--format``, ``--image-size``, ``--coords``, ``--camera``, ``--camera-units`` and ``--threshold``."""
    p.add_argument("--format", metavar="FMT",
                   help="keypoint layout: coco17, h36m-17, 3dhp-17, mediapipe-33, openpose-25, halpe-26, "
                        "coco-wholebody-133 (default: the file's, else from the joint count; 17 joints are taken "
                        "as coco17 with a warning)")
    p.add_argument("--image-size", nargs=2, type=float, metavar=("W", "H"), help="image size in pixels")
    p.add_argument("--coords", choices=["pixels", "unit", "normalized"],
                   help="coordinate units of the keypoints (default: pixels with --image-size, else normalized)")
    p.add_argument("--camera", metavar="CAM",
                   help="intrinsics: 'fx,fy,cx,cy[,k1,k2,k3,p1,p2]' or a .json/.npy file (dict or list)")
    p.add_argument("--camera-units", choices=["auto", "pixels", "normalized"], default="auto",
                   help="units of --camera (default auto: pixels when fx > 20 and the image size is known)")
    p.add_argument("--threshold", type=float, default=0.3, help="confidence below which a joint is missing")


def add_sampling_arguments(p: argparse.ArgumentParser, default: str = DEFAULT_SAMPLING) -> None:
    """``--sampling`` (choices and help from :data:`~posediff.inference.sampling_configs.SAMPLING_CONFIGS`;
    ``default``: ``posediff.lift``'s) and the values that override it: ``--hypotheses``, ``--steps``,
    ``--flip/--no-flip``, ``--aggregator``."""
    described = "; ".join(f"{c.name}: {c.summary}" for c in SAMPLING_CONFIGS.values())
    p.add_argument("--sampling", choices=list(SAMPLING_CONFIGS), default=default,
                   help=f"named sampling configuration (default {default}) — {described}")
    p.add_argument("--hypotheses", type=int, metavar="H", help="hypotheses per window (default: the configuration's)")
    p.add_argument("--steps", type=int, metavar="M", help="sampler steps (default: the configuration's)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="flip test-time augmentation on/off (default: the configuration's)")
    p.add_argument("--aggregator", metavar="NAME",
                   help="aggregator, e.g. mean, jpma, jpma_temporal (default: the configuration's; jpma needs --camera)")
