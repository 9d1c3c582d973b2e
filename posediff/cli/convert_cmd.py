"""``posediff convert official CKPT OUT``: an official FinePOSE/D3DP checkpoint → a posediff checkpoint."""
from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``convert`` subcommand."""
    p = subparsers.add_parser(
        "convert",
        help="convert an official FinePOSE/D3DP checkpoint to posediff",
        description="Convert a checkpoint of the official FinePOSE (or D3DP) code into a posediff checkpoint "
                    "(weights + resolved spec, atomic write with a .sha256 beside it). The architecture is "
                    "read from the tensors; every key and shape is checked.",
        epilog="examples: posediff convert official best_epoch_20_10.bin finepose_h36m.pt | "
               "posediff convert official d3dp.bin d3dp.pt --spec d3dp-h36m | "
               "posediff convert official ckpt.bin out.pt --pairing official  (bug-compatible FPC pairing)",
    )
    p.add_argument("source_kind", choices=["official"], metavar="SOURCE",
                   help="where the checkpoint comes from: 'official' (FinePOSE_CVPR2024 / D3DP code)")
    p.add_argument("checkpoint", metavar="CKPT", help="official checkpoint (.bin/.pth with 'model_pos', or .npz)")
    p.add_argument("out", metavar="OUT", help="posediff checkpoint to write (.pt)")
    p.add_argument("--spec", default="finepose-h36m",
                   help="base spec: finepose-h36m (default), finepose-3dhp, d3dp-h36m, or a spec file")
    p.add_argument("--pairing", choices=["sample", "official"], default="sample",
                   help="FPC query/prompt pairing (official = the released batch mis-pairing)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Convert and save; returns the exit code."""
    from ..checkpoints import save_lifter
    from ..convert import from_official
    from ..errors import InputError

    src, out = Path(args.checkpoint), Path(args.out)
    if not src.exists():
        raise InputError(f"checkpoint not found: {str(src)!r}")
    if out.exists() and not args.force:
        raise InputError(f"{str(out)!r} exists; pass --force to overwrite it")
    if out.resolve() == src.resolve():
        raise InputError("OUT must differ from CKPT")
    lifter = from_official(src, spec=args.spec, pairing=args.pairing)
    params = sum(p.numel() for p in lifter.parameters())
    save_lifter(lifter, out, extra={"converted_from": src.name, "pairing": args.pairing})
    name = lifter.meta.get("name", args.spec)
    print(f"converted {src.name} → {out} ({name}, {params / 1e6:.2f} M parameters, "
          f"{lifter.frames} frames, skeleton {lifter.skeleton.name})")
    return 0
