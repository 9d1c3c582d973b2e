"""``posediff list [KIND] [PATTERN]``: registered components (and presets) with provider and summary."""
from __future__ import annotations

import argparse
import difflib
import json

__all__ = ["add_parser", "run", "collect"]

_GLOB = set("*?[")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``list`` subcommand."""
    p = subparsers.add_parser(
        "list",
        help="list registered components and presets",
        description="List registered components by kind (built-ins and plugins) with the package that "
                    "provides each and a one-line summary; KIND 'preset' lists presets. Plugins are not "
                    "imported unless their summary is shown.",
        epilog="examples: posediff list | posediff list sampler | posediff list fusion 'p*' | "
               "posediff list preset 'finepose-*' | posediff list 'd*'",
    )
    p.add_argument("kind", nargs="?", metavar="KIND",
                   help="backbone, conditioner, text_encoder, fusion, schedule, sampler, aggregator or preset "
                        "(plural accepted); a glob pattern here searches every kind")
    p.add_argument("pattern", nargs="?", default="*", metavar="PATTERN", help="fnmatch pattern (default *)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--names", action="store_true", help="print only the names, one per line")
    p.set_defaults(func=run)
    return p


def _kind_of(word: str) -> str | None:
    from ..registry import KINDS

    w = word.lower().replace("-", "_")
    if w in ("preset", "presets"):
        return "preset"
    if w in KINDS:
        return w
    if w.endswith("es") and w[:-2] in KINDS:
        return w[:-2]
    if w.endswith("s") and w[:-1] in KINDS:
        return w[:-1]
    return None


def _summary(kind: str, name: str) -> tuple[str, str]:
    from .. import registry

    try:
        provider = registry.provider(kind, name)
    except Exception as exc:  # noqa: BLE001
        provider = f"? ({str(exc).splitlines()[0]})"
    try:
        info = registry.describe(kind, name)
        return provider, info.summary
    except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, not raised
        return provider, f"(failed to load: {str(exc).splitlines()[0]})"


def _preset_rows(pattern: str) -> list[dict]:
    from ..presets import list_presets, preset_provider, read_preset

    rows = []
    for name in list_presets(pattern):
        try:
            meta = read_preset(name).get("meta", {})
            summary = str(meta.get("summary", ""))
        except Exception as exc:  # noqa: BLE001
            summary = f"(failed to load: {str(exc).splitlines()[0]})"
        try:
            provider = preset_provider(name)
        except Exception as exc:  # noqa: BLE001 - e.g. provided twice: reported, not raised
            provider = f"? ({str(exc).splitlines()[0]})"
        rows.append({"kind": "preset", "name": name, "provider": provider, "summary": summary})
    return rows


def collect(kind: str | None, pattern: str = "*") -> list[dict]:
    """Rows ``{kind, name, provider, summary}`` for one kind (or all kinds and presets when None)."""
    from ..registry import KINDS, list_components

    rows: list[dict] = []
    kinds = KINDS if kind is None else ((kind,) if kind != "preset" else ())
    for k in kinds:
        for name in list_components(k, pattern):
            provider, summary = _summary(k, name)
            rows.append({"kind": k, "name": name, "provider": provider, "summary": summary})
    if kind in (None, "preset"):
        rows.extend(_preset_rows(pattern))
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the table; returns the exit code."""
    from ..errors import InputError
    from ..registry import KINDS

    kind, pattern = None, args.pattern
    if args.kind is not None:
        kind = _kind_of(args.kind)
        if kind is None:
            if args.pattern == "*" and _GLOB & set(args.kind):
                pattern = args.kind
            else:
                choices = list(KINDS) + ["preset"]
                close = difflib.get_close_matches(args.kind.lower(), choices, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise InputError(f"unknown kind {args.kind!r}{hint} (kinds: {', '.join(choices)})")
    rows = collect(kind, pattern)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if args.names:
        for r in rows:
            print(r["name"])
        return 0
    if not rows:
        what = f"{kind}s" if kind else "components or presets"
        print(f"no {what} match {pattern!r}")
        return 0
    order = list(KINDS) + ["preset"]
    by_kind: dict[str, list[dict]] = {}
    for r in rows:
        by_kind.setdefault(r["kind"], []).append(r)
    name_w = max(len(r["name"]) for r in rows)
    prov_w = max(len(r["provider"]) for r in rows)
    first = True
    for k in order:
        if k not in by_kind:
            continue
        if not first:
            print()
        first = False
        print(f"{k} ({len(by_kind[k])})")
        for r in by_kind[k]:
            print(f"  {r['name']:<{name_w}}  {r['provider']:<{prov_w}}  {r['summary']}".rstrip())
    return 0

