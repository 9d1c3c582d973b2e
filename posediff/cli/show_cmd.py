"""``posediff show SPEC [--set PATH=VALUE ...]``: print a preset, spec file or checkpoint's spec as TOML."""
from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "run", "load_any_spec"]

_CKPT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``show`` subcommand."""
    p = subparsers.add_parser(
        "show",
        help="print a resolved spec as TOML",
        description="Resolve a preset, a spec file (.toml/.yaml/.json) or the spec stored in a posediff "
                    "checkpoint, apply --set overrides, validate it and print it as TOML with every default "
                    "filled in.",
        epilog="examples: posediff show finepose-h36m | posediff show finepose-tiny --set sampler.steps=2 "
               "--set aggregator.name=mean | posediff show run.toml --out resolved.toml | "
               "posediff show finepose-h36m --raw",
    )
    p.add_argument("spec", metavar="SPEC", help="preset name, spec file, or posediff checkpoint (.pt)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a key, e.g. sampler.steps=5 (repeatable; VALUE is read as TOML)")
    p.add_argument("--raw", action="store_true",
                   help="print the preset's own TOML text (comments kept; no overrides) instead of resolving")
    p.add_argument("--resolved", action="store_true", help="resolve defaults (the default; kept for clarity)")
    p.add_argument("--out", metavar="FILE", help="also write the TOML to FILE")
    p.set_defaults(func=run)
    return p


def load_any_spec(source: str, overrides=None) -> dict:
    """Resolved spec of a preset, spec file or posediff checkpoint (with overrides)."""
    from ..spec import resolve_spec

    if Path(source).suffix.lower() in _CKPT_SUFFIXES:
        from ..checkpoints import read_checkpoint
        from ..errors import CheckpointError

        data = read_checkpoint(source)
        if data.get("format") != "posediff" or "spec" not in data:
            raise CheckpointError(f"{source!r} is not a posediff checkpoint with a spec")
        return resolve_spec(data["spec"], overrides or None)
    return resolve_spec(source, overrides or None)


def run(args: argparse.Namespace) -> int:
    """Print the spec; returns the exit code."""
    from ..errors import InputError
    from ..spec import dump_spec

    if args.raw:
        if args.overrides:
            raise InputError("--raw prints the preset text as written; it cannot be combined with --set")
        from ..presets import preset_text

        if Path(args.spec).is_file():
            text = Path(args.spec).read_text()
        else:
            text = preset_text(args.spec)
    else:
        text = dump_spec(load_any_spec(args.spec, args.overrides))
    if not text.endswith("\n"):
        text += "\n"
    print(text, end="")
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 0
