"""``posediff export --weights W --out denoiser.pt|.onnx``: one denoiser step as TorchScript or ONNX."""
from __future__ import annotations

import argparse
import sys
import warnings

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``export`` subcommand."""
    p = subparsers.add_parser(
        "export",
        help="export one denoiser step to TorchScript or ONNX",
        description="Export the denoiser (backbone + fusion sites) for one diffusion step with a fixed prompt "
                    "(an action, or the neutral prompt) as TorchScript (.pt) or ONNX (.onnx); inputs x2d (B,T,J,2), "
                    "y_t (B,T,J,3), t (B,) int64, output x0 (B,T,J,3). The file is checked against the eager "
                    "model on fresh inputs and the largest absolute difference is printed. ONNX needs the onnx "
                    "package (and onnxruntime for the check).",
        epilog="examples: posediff export --weights demo --out denoiser.pt | posediff export --spec finepose-tiny "
               "--out denoiser.onnx --action Walking",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--weights", metavar="W", help="posediff checkpoint, or 'demo'")
    src.add_argument("--spec", metavar="SPEC", help="preset or spec file (random weights; for testing)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="spec override (with --spec or --weights), repeatable")
    p.add_argument("--out", required=True, metavar="FILE", help=".pt/.ts (TorchScript) or .onnx")
    p.add_argument("--format", choices=["auto", "torchscript", "onnx"], default="auto",
                   help="export format (default: from the suffix of --out)")
    p.add_argument("--action", metavar="TEXT", help="action of the frozen prompt (default: neutral prompt)")
    p.add_argument("--batch", type=int, default=2, help="batch size of the tracing inputs (default 2)")
    p.add_argument("--no-check", action="store_true", help="do not compare the export with the eager model")
    p.add_argument("--tolerance", type=float, default=1e-4,
                   help="largest acceptable |exported − eager| in metres (default 1e-4); exit 1 beyond it")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Export and check; returns 0, 1 (difference above tolerance) or 3 (ONNX unavailable)."""
    from ..build import build
    from ..errors import InputError
    from ..export import export_denoiser
    from .lift_cmd import print_warnings

    if args.weights is None and args.spec is None:
        raise InputError("pass --weights (a posediff checkpoint or 'demo') or --spec (random weights)")
    if args.batch < 1:
        raise InputError(f"--batch must be >= 1; got {args.batch}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if args.weights is not None:
            from ..loading import load

            lifter = load(args.weights, overrides=args.overrides or None)
        else:
            lifter = build(args.spec, overrides=args.overrides or None)
        report = export_denoiser(lifter, args.out, format=args.format, action=args.action, batch=args.batch,
                                 check=not args.no_check, opset=args.opset)
    print_warnings([w for w in caught if not issubclass(w.category, (DeprecationWarning, FutureWarning))], "export")
    if report.path is None:
        print(f"posediff export: error: {report.message}", file=sys.stderr)
        return 3
    print(report.message)
    if report.checked and report.max_abs_diff is not None and report.max_abs_diff > args.tolerance:
        print(f"posediff export: error: exported model differs from eager by {report.max_abs_diff:.3g} "
              f"> tolerance {args.tolerance:g}", file=sys.stderr)
        return 1
    return 0
