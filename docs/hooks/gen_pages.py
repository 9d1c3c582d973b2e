"""mkdocs hook: generate the Presets and Components pages from posediff itself at build time.

``presets.md`` renders every preset's TOML, comments included; ``components.md`` is the catalogue of
the registry (built-ins and installed plugins) with each component's parameters and defaults. Both
are added as in-memory pages (nothing is written into ``docs/``), so they can never be stale.
Everything runs offline: it only imports posediff.

Run ``python docs/hooks/gen_pages.py OUT_DIR`` to write the two pages to a folder for inspection.
"""
from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

PAGES = ("presets.md", "components.md")

KIND_TEXT = {
    "backbone": "Denoiser trunks with named hook points for fusion blocks.",
    "conditioner": "Action labels → prompt tokens and vector (a `Conditioning`).",
    "text_encoder": "Tokenizer plus text tower used by prompt conditioners.",
    "fusion": "Blocks applied at a backbone hook point, `(x, cond, v) -> x`.",
    "schedule": "Noise schedules ᾱ_t of the forward process.",
    "sampler": "Reverse processes producing H hypotheses over M steps.",
    "aggregator": "H hypotheses → one pose per frame.",
}


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _annotation(ann: Any) -> str:
    if ann is inspect.Parameter.empty:
        return ""
    text = ann if isinstance(ann, str) else getattr(ann, "__name__", None) or repr(ann)
    return str(text).replace("typing.", "")


def _preset_source(name: str) -> tuple[str, str]:
    """(TOML text, provider) of a preset, built-in or plugin."""
    from posediff.presets import preset_provider, preset_text

    return preset_text(name), preset_provider(name)


def presets_markdown() -> str:
    """The Presets page: a summary table, then every preset's TOML with its comments."""
    from posediff.presets import list_presets, read_preset

    names = list_presets()
    lines = [
        "# Presets",
        "",
        "A preset is a spec file shipped with posediff (or with a plugin, through the",
        "`posediff.preset` entry-point group); `extends = \"other\"` builds on another preset by data. "
        "`posediff.build(name)` builds it; "
        "`posediff show NAME` prints it. This page is generated from the files themselves at build time.",
        "",
        "| preset | provider | summary |",
        "|---|---|---|",
    ]
    sources = {}
    for name in names:
        text, provider = _preset_source(name)
        sources[name] = (text, provider)
        summary = read_preset(name).get("meta", {}).get("summary", "")
        lines.append(f"| [{name}](#{name}) | {_cell(provider)} | {_cell(summary)} |")
    for name in names:
        text, provider = sources[name]
        lines += ["", f"## {name}", "", f"Provided by **{provider}**.", "", "```toml", text.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def components_markdown() -> str:
    """The Components page: every registered component per kind, with provider and parameters."""
    import posediff
    from posediff import registry
    from posediff.spec import CONTEXT_KEYS, DERIVED_CONTEXT, kind_of_annotation, component_parameters

    context = set(CONTEXT_KEYS) | set(DERIVED_CONTEXT)
    lines = [
        "# Components",
        "",
        "Every component the registry knows in the environment that built these docs: posediff's",
        "built-ins and the installed plugins (the *provider* column). Generated from the registry at",
        "build time; `posediff list KIND` and `posediff.describe(kind, name)` give the same information.",
        "Parameters are the keys a spec table may set; *context* parameters are injected by the builder",
        "from `[lifter]` and must not be set in the table.",
        "",
    ]
    for kind in posediff.KINDS:
        lines += [f"## {kind}", "", KIND_TEXT.get(kind, ""), "", "| name | provider | summary |", "|---|---|---|"]
        names = posediff.list_components(kind)
        infos = []
        for name in names:
            try:
                info = posediff.describe(kind, name)
            except Exception as exc:  # a broken plugin must not break the docs
                lines.append(f"| `{name}` | {_cell(registry.provider(kind, name))} | could not be loaded: "
                             f"{_cell(type(exc).__name__)} |")
                continue
            infos.append(info)
            lines.append(f"| [`{name}`](#{kind}-{name}) | {_cell(info.provider)} | {_cell(info.summary)} |")
        for info in infos:
            obj = registry.get(kind, info.name)
            lines += ["", f"### {kind} `{info.name}` {{#{kind}-{info.name}}}", "",
                      f"`{info.target}` — provided by **{info.provider}**.", ""]
            if info.summary:
                lines += [info.summary, ""]
            rows = []
            for pname, ann, default in component_parameters(obj):
                if pname in context:
                    rows.append(f"| `{pname}` | context | | from `[lifter]` / derived |")
                    continue
                sub = kind_of_annotation(ann)
                if sub:
                    rows.append(f"| `{pname}` | {sub} table | | nested component, e.g. "
                                f"`{pname} = {{ name = \"...\" }}` |")
                    continue
                shown = "*required*" if default is inspect.Parameter.empty else _code(repr(default))
                rows.append(f"| `{pname}` | {_cell(_code(_annotation(ann)))} | {_cell(shown)} | |")
            if rows:
                lines += ["| parameter | type | default | note |", "|---|---|---|---|", *rows]
            else:
                lines.append("No parameters.")
        lines.append("")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- mkdocs hook
def on_config(config):
    """mkdocs ``on_config`` event: read Google-style ``Example:`` sections as doctest examples.

    Google style allows both ``Example:`` and ``Examples:``; griffe knows only the plural and would
    render ``>>>`` lines of the singular as prose (where ``d["a"]["b"]`` reads as a Markdown link).
    """
    try:
        from griffe._internal.docstrings import google as _google
        from griffe._internal.enumerations import DocstringSectionKind

        _google._section_kind.setdefault("example", DocstringSectionKind.examples)
    except Exception:  # noqa: BLE001 - a newer griffe may have moved it; the docs still build
        pass
    return config


def on_files(files, config):  # noqa: D401 - mkdocs hook signature
    """mkdocs ``on_files`` event: add the generated pages to the site."""
    from mkdocs.structure.files import File

    for name, make in (("presets.md", presets_markdown), ("components.md", components_markdown)):
        existing = files.get_file_from_path(name)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, name, content=make()))
    return files


def main(argv: list[str]) -> int:
    """Write the generated pages to ``argv[0]`` (default ``site-gen``) for inspection."""
    out = Path(argv[0] if argv else "site-gen")
    out.mkdir(parents=True, exist_ok=True)
    (out / "presets.md").write_text(presets_markdown())
    (out / "components.md").write_text(components_markdown())
    print(f"wrote {out / 'presets.md'} and {out / 'components.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
