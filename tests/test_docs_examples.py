"""Every Python code block of README.md and docs/*.md runs as written (issue 22).

The blocks of one page run in order in one namespace (a later block may use what an earlier one made), in a
fresh working folder, so files a block writes stay in the test's folder. A block that cannot run in a test
(it needs the licensed data, a CLIP checkpoint, a GPU, or hours) is marked in the Markdown by the line
``<!-- docs-test: skip REASON -->`` right above it, visible to whoever edits the page; a block that is only a
fragment (a signature, a class to paste into a plugin) is marked ``<!-- docs-test: fragment -->``; a block that
shows an error is marked ``<!-- docs-test: raises NAME -->`` and must raise the exception NAME, with the first
line of the ```text block that follows it (the message the page shows) at the start of its message.
A block marked ``<!-- docs-test: needs DIST -->`` runs where the distribution DIST (e.g. a plugin package of
``plugins/``, which CI installs before it runs this file again) is installed, and is skipped elsewhere.
A line ``expr   # [a, b]`` (or ``x.shape   # (2, 3)``) claims a value, and the test checks the claim, as on a
fresh install (plugin packages not discovered).
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
BLOCK = re.compile(r"(?P<marker><!-- docs-test: (?P<kind>skip|fragment|raises|needs)(?P<arg>[^>]*)-->\s*\n)?"
                   r"```python\n(?P<code>.*?)```(?P<shown>\s*```text\n(?P<text>[^\n]*))?", re.S)


def code_blocks(page: Path) -> list[tuple[int, str, str | None]]:
    """(line, code, marker kind or None) of every ```python block of a page."""
    return [(line, code, kind) for line, code, kind, _, _ in _blocks(page)]


def _blocks(page: Path) -> list[tuple[int, str, str | None, str, str]]:
    text = page.read_text()
    return [(text[:m.start("code")].count("\n") + 1, m.group("code"), m.group("kind"), (m.group("arg") or "").strip(),
             (m.group("text") or "").strip()) for m in BLOCK.finditer(text)]


def test_markers_are_known():
    for page in PAGES:
        for m in re.finditer(r"<!-- docs-test: (\S+)", page.read_text()):
            assert m.group(1) in ("skip", "fragment", "raises", "needs"), f"{page.name}: unknown docs-test marker {m.group(1)!r}"


@pytest.mark.parametrize("page", [p for p in PAGES if code_blocks(p)], ids=lambda p: p.name)
def test_code_blocks_run(page, tmp_path, monkeypatch):
    from posediff import registry

    monkeypatch.chdir(tmp_path)
    # a page may register example components: the registry is restored after the page
    monkeypatch.setattr(registry, "_table", dict(registry._table))
    monkeypatch.setattr(registry, "_loaded", dict(registry._loaded))
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    ran = 0
    for line, code, kind, arg, shown in _blocks(page):
        if kind in ("skip", "fragment") or (kind == "needs" and not _installed(arg)):
            continue
        where = f"{page.relative_to(REPO)} line {line}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
            except Exception as exc:  # noqa: BLE001 - compared with the page's claim below
                if kind != "raises":
                    raise AssertionError(f"{where}: the code block fails: {type(exc).__name__}: {exc}") from exc
                assert type(exc).__name__ == arg, f"{where}: raises {type(exc).__name__}: {exc}; the page says {arg}"
                head = shown.split("...")[0].strip()
                assert str(exc).strip().startswith(head), f"{where}: the message is {str(exc)!r}; the page shows {head!r}"
            else:
                assert kind != "raises", f"{where}: the block runs without the {arg} the page shows"
        for expr, value in shown_values(code):
            with _fresh_install(monkeypatch):  # the values a page shows are those of posediff alone
                got = eval(expr, namespace)  # noqa: S307 - the page's own expression
            assert got == value, f"{where}: {expr} gives {got!r}, the page shows {value!r}"
        ran += 1
    assert ran or all(kind for _, _, kind in code_blocks(page))


class _fresh_install:
    """Within the block, installed plugin packages are not discovered (``POSEDIFF_DISABLE_PLUGINS=1``)."""

    def __init__(self, monkeypatch) -> None:
        self.mp = monkeypatch

    def __enter__(self) -> None:
        from posediff import registry

        self.mp.setenv("POSEDIFF_DISABLE_PLUGINS", "1")
        registry.refresh_plugins()

    def __exit__(self, *exc) -> None:
        from posediff import registry

        self.mp.delenv("POSEDIFF_DISABLE_PLUGINS")
        registry.refresh_plugins()


def _installed(dist: str) -> bool:
    from importlib import metadata

    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


SHOWN = re.compile(r"^(?P<expr>[A-Za-z_][\w.]*\(.*?\)|[A-Za-z_][\w.]*)\s+# (?P<value>\[[^\]]*\]|\([^)]*\))(?:[\s:;].*)?$")


def shown_values(code: str) -> list[tuple[str, object]]:
    """``(expression, value)`` for each line ``expr   # VALUE`` whose comment is a complete list or tuple
    literal (no ``...``): the page claims the expression gives that value, and the test checks it. Shapes are
    compared as tuples (``x.shape  # (150, 17, 3)``)."""
    import ast

    out = []
    for ln in code.splitlines():
        m = SHOWN.match(ln.strip())
        if not m or "..." in m.group("value"):
            continue
        try:
            value = ast.literal_eval(m.group("value"))
        except (ValueError, SyntaxError):
            continue  # a comment that is not a literal, e.g. (B, T, J, 3)
        expr = m.group("expr")
        if not (expr.endswith(".shape") or isinstance(value, list)):
            continue  # a tuple after a call describes what the call returns, not its value
        out.append((f"tuple({expr})" if expr.endswith(".shape") else expr, value))
    return out


def test_shown_values_are_read():
    code = (
        "posediff.list_components('aggregator')     # ['a', 'b']\n"
        "x.shape                                     # (150, 17, 3) metres\n"
        "posediff.list_presets()                     # ['a', ...]\n"
        "hyps.shape                                  # (B, M, H, T, J, 3): metres\n"
    )
    assert shown_values(code) == [("posediff.list_components('aggregator')", ["a", "b"]),
                                  ("tuple(x.shape)", (150, 17, 3))]


def test_plugins_page_shows_the_real_pyproject():
    """docs/plugins.md's packaging block is plugins/posediff-dpm/pyproject.toml (less its pytest settings):
    the page once said setuptools>=68 and 'a preset may be a dict, a callable…' where the real file and the
    code disagree (issue 22)."""
    text = (REPO / "docs" / "plugins.md").read_text()
    block = re.search(r"```toml\n(\[build-system\].*?)```", text, re.S).group(1)
    real = (REPO / "plugins" / "posediff-dpm" / "pyproject.toml").read_text()
    assert block.strip() == real[:real.index("[tool.pytest.ini_options]")].strip()
    assert "a dict, a callable" not in text
