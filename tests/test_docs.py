"""Documentation checks: every public module, function, class and method of posediff has a docstring;
the docs site's hand-written pages, generated pages and navigation are consistent.

The docstring walk reports *every* missing docstring in one failure message, as ``module:qualname``.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import posediff

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

# Methods whose documentation lives with the base class they override (torch's module protocol).
EXEMPT_METHODS = {"extra_repr"}


def _public_modules() -> tuple[list, list[str]]:
    """Import every public posediff module; return (modules, skipped-with-reason)."""
    modules, skipped = [posediff], []
    for info in pkgutil.walk_packages(posediff.__path__, prefix="posediff."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue  # private modules and __main__ (which would run the CLI)
        try:
            modules.append(importlib.import_module(info.name))
        except ModuleNotFoundError as exc:
            if exc.name and not exc.name.startswith("posediff"):
                skipped.append(f"{info.name} (optional dependency {exc.name!r} missing)")
                continue
            raise
    return modules, skipped


def _public_objects(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name, None)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and getattr(obj, "__module__", None) == module.__name__:
            yield name, obj


def _inherited_doc(cls, name: str) -> bool:
    """True when a posediff base class documents the method ``name`` that ``cls`` overrides."""
    for base in cls.__mro__[1:]:
        if not (getattr(base, "__module__", "") or "").startswith("posediff"):
            continue
        member = base.__dict__.get(name)
        if member is not None and (getattr(member, "__doc__", None) or "").strip():
            return True
    return False


def _method_doc(member) -> str:
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    if isinstance(member, property):
        member = member.fget
    return (getattr(member, "__doc__", None) or "").strip()


def missing_docstrings() -> tuple[list[str], list[str]]:
    """All public names without a docstring, as ``module:qualname``; and the modules skipped."""
    modules, skipped = _public_modules()
    missing: list[str] = []
    seen: set[int] = set()
    for module in modules:
        if not (module.__doc__ or "").strip():
            missing.append(f"{module.__name__} (module docstring)")
        for name, obj in _public_objects(module):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            # a class's own docstring only: __doc__ is not inherited by classes
            own = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
            if not (own or "").strip():
                missing.append(f"{module.__name__}:{name}")
            if not inspect.isclass(obj):
                continue
            for mname, member in vars(obj).items():
                if mname.startswith("_") or mname in EXEMPT_METHODS:
                    continue
                if not (inspect.isfunction(member) or isinstance(member, (staticmethod, classmethod, property))):
                    continue
                if not _method_doc(member) and not _inherited_doc(obj, mname):
                    missing.append(f"{module.__name__}:{name}.{mname}")
    return missing, skipped


def test_every_public_object_has_a_docstring():
    missing, _ = missing_docstrings()
    assert not missing, f"{len(missing)} public objects without a docstring:\n  " + "\n  ".join(missing)


def test_the_walk_finds_the_public_api():
    """Guard against a walk that silently checks nothing."""
    modules, _ = _public_modules()
    names = {m.__name__ for m in modules}
    assert {"posediff.lifter", "posediff.spec", "posediff.registry", "posediff.samplers.ddim"} <= names
    checked = {f"{m.__name__}:{n}" for m in modules for n, _ in _public_objects(m)}
    assert "posediff.lifter:PoseLifter" in checked and "posediff.build:build" in checked


def test_the_walk_detects_a_missing_docstring(monkeypatch):
    def undocumented():  # no docstring on purpose
        return None

    undocumented.__module__ = "posediff.errors"
    monkeypatch.setattr(posediff.errors, "undocumented_probe", undocumented, raising=False)
    monkeypatch.setattr(posediff.errors, "__all__", [*posediff.errors.__all__, "undocumented_probe"])
    missing, _ = missing_docstrings()
    assert "posediff.errors:undocumented_probe" in missing


# --------------------------------------------------------------------------- the docs site
def _gen_pages():
    spec = importlib.util.spec_from_file_location("posediff_docs_gen_pages", DOCS / "hooks" / "gen_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nav_files() -> list[str]:
    text = (REPO / "mkdocs.yml").read_text()
    nav = text[text.index("\nnav:"):]
    return re.findall(r":\s*([\w./-]+\.md)\s*$", nav, flags=re.M)


def test_nav_pages_exist_or_are_generated():
    generated = set(_gen_pages().PAGES)
    absent = [p for p in _nav_files() if p not in generated and not (DOCS / p).is_file()]
    assert not absent, f"pages in mkdocs.yml nav but not in docs/: {absent}"


def test_generated_pages_cover_every_preset_and_component():
    gen = _gen_pages()
    presets = gen.presets_markdown()
    for name in posediff.list_presets():
        assert f"\n## {name}\n" in presets, name
    assert "```toml" in presets and "# " in presets.split("```toml", 1)[1]  # comments are kept
    components = gen.components_markdown()
    for kind in posediff.KINDS:
        assert f"\n## {kind}\n" in components, kind
        for name in posediff.list_components(kind):
            assert f"{{#{kind}-{name}}}" in components or f"`{name}` |" in components, (kind, name)


def test_errors_page_documents_every_error_class():
    text = (DOCS / "errors.md").read_text()
    for name in posediff.errors.__all__:
        obj = getattr(posediff.errors, name)
        if inspect.isclass(obj) and issubclass(obj, Exception):
            assert f"\n## {name}\n" in text, f"docs/errors.md has no section for {name}"


def test_api_pages_name_existing_objects():
    """Every ``::: target`` in docs/api resolves to an importable posediff object."""
    bad = []
    for page in sorted((DOCS / "api").glob("*.md")):
        for target in re.findall(r"^:::\s*([\w.]+)\s*$", page.read_text(), flags=re.M):
            parts = target.split(".")
            for cut in range(len(parts), 0, -1):
                try:
                    obj = importlib.import_module(".".join(parts[:cut]))
                except ModuleNotFoundError:
                    continue
                try:
                    for attr in parts[cut:]:
                        obj = getattr(obj, attr)
                except AttributeError:
                    bad.append(f"{page.name}: {target}")
                break
            else:
                bad.append(f"{page.name}: {target}")
    assert not bad, f"unresolvable API targets: {bad}"


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    """The whole site builds with --strict (what `./dev docs` runs), when mkdocs is installed."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
