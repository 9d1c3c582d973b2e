"""``posediff plugins [--check]``: installed plugin entry points; ``--check`` imports each one."""
from __future__ import annotations

import argparse
import json

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``plugins`` subcommand."""
    p = subparsers.add_parser(
        "plugins",
        help="list plugin components; --check imports them",
        description="List the components that installed packages provide through entry points "
                    "(groups posediff.<kind> and posediff.preset). Listing imports nothing; --check imports "
                    "every plugin now and reports each failure (exit code 3 if any failed). "
                    "POSEDIFF_DISABLE_PLUGINS=1 turns discovery off, POSEDIFF_BLOCK_PLUGINS=dist-a,dist-b hides "
                    "chosen distributions.",
        epilog="examples: posediff plugins | posediff plugins --check | posediff plugins --check --json",
    )
    p.add_argument("--check", action="store_true", help="import every plugin and report failures")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)
    return p


def _listing() -> list[dict]:
    from .. import registry

    rows = []
    for kind in (*registry.KINDS, "preset"):
        for name, eps in sorted(registry.entry_points(kind).items()):
            rows.append({"kind": kind, "name": name, "provider": ", ".join(registry.entry_point_provider(e) for e in eps),
                         "target": ", ".join(e.value for e in eps)})
    return rows


def _check_presets() -> list[dict]:
    """Read every plugin preset and resolve it (a preset naming a missing component fails here)."""
    from .. import registry
    from ..spec import resolve_spec

    rows = []
    for name, eps in sorted(registry.entry_points("preset").items()):
        provider = ", ".join(registry.entry_point_provider(e) for e in eps)
        try:
            resolve_spec(name)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            rows.append({"kind": "preset", "name": name, "provider": provider, "ok": False,
                         "error": str(exc).splitlines()[0]})
        else:
            rows.append({"kind": "preset", "name": name, "provider": provider, "ok": True, "error": ""})
    return rows


def run(args: argparse.Namespace) -> int:
    """List or check plugins; returns the exit code (3 when a checked plugin failed)."""
    from .. import registry

    if args.check:
        reports = registry.load_plugins()
        rows = [{"kind": r.kind, "name": r.name, "provider": r.provider, "ok": r.ok, "error": r.error}
                for r in reports]
        rows.extend(_check_presets())
        failed = [r for r in rows if not r["ok"]]
        if args.json:
            print(json.dumps(rows, indent=2))
        elif not rows:
            print("no plugins installed")
        else:
            for r in rows:
                status = "ok    " if r["ok"] else "FAILED"
                line = f"{status} {r['kind']:<12} {r['name']:<20} {r['provider']}"
                if not r["ok"]:
                    line += f"\n       {r['error']}"
                print(line)
            print(f"{len(rows) - len(failed)} of {len(rows)} plugin entries OK "
                  "(components imported, presets resolved)")
        return 3 if failed else 0
    rows = _listing()
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no plugins installed")
    else:
        for r in rows:
            print(f"{r['kind']:<12} {r['name']:<20} {r['provider']:<28} {r['target']}")
    return 0
