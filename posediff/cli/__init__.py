"""The ``posediff`` console script: thin wrappers that parse, call the library and print.

Each subcommand lives in its own module of this package and exposes ``add_parser(subparsers)``
which registers the subcommand and sets ``func`` (called with the parsed namespace, returns an exit
code). Errors derived from :class:`~posediff.errors.PosediffError` print as one line and exit with 2
(spec/usage/input) or 3 (plugin/checkpoint/internal); ``--traceback`` or ``POSEDIFF_FULL_ERROR=1``
shows the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import Sequence

__all__ = ["main", "SUBCOMMANDS"]

# subcommand module names, in the order shown by --help
SUBCOMMANDS: tuple[str, ...] = (
    "demo", "list", "show", "train", "evaluate", "lift", "stream", "render", "convert", "export", "plugins",
)


def _build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="posediff",
        description="Diffusion-based 3D human pose lifting (FinePOSE, D3DP) from registered components.",
    )
    parser.add_argument("--version", action="version", version=f"posediff {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module_name = f"{__name__}.{name}_cmd"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # subcommand not shipped
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``posediff`` command. Returns the exit code."""
    from ..errors import CheckpointError, PluginError, PosediffError

    parser = _build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    show_tb = args.traceback or os.environ.get("POSEDIFF_FULL_ERROR", "") not in ("", "0")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("posediff: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`posediff list | head -1`): stop quietly, like other command-line tools;
        # stdout goes to devnull so that the interpreter's final flush does not raise again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except PosediffError as exc:
        if show_tb:
            traceback.print_exc()
        print(f"posediff {args.command}: error: {exc.cli_message or exc}", file=sys.stderr)
        plugin = isinstance(exc, PluginError) or getattr(exc, "plugin_failed", False)
        return 3 if plugin or isinstance(exc, CheckpointError) else 2
    except FileNotFoundError as exc:
        if show_tb:
            traceback.print_exc()
        print(f"posediff {args.command}: error: file not found: {exc.filename}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
