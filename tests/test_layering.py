"""The architecture as a test: posediff's imports point one way (docs/architecture.md#layers).

Every import of a posediff module — at module level or inside a function — is read from the source with
``ast`` (imports under ``if TYPE_CHECKING:`` are for type checkers only and are skipped). A module may
import modules of its own layer or of lower layers, never of a higher one; modules do not import each
other in a cycle (a package's ``__init__`` and its own submodules excepted); and the component packages
never import one another (they meet only through :mod:`posediff.interfaces`).
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "posediff"

LAYERS: list[tuple[str, ...]] = [
    # 0 foundation: no posediff imports beyond this layer
    ("errors", "_version", "validation", "devices", "precision", "registry", "geometry", "nn", "presets", "checkpoints", "assets"),
    # 1 contracts and file formats
    ("interfaces", "sampling", "spec", "weights"),
    # 2 components and the leaf libraries they sit beside
    ("aggregators", "backbones", "conditioners", "fusion", "samplers", "schedules", "text_encoders",
     "component_spec", "data", "metrics", "viz", "export", "bvh", "detectors", "video"),
    # 3 assembling a model
    ("lifter", "build", "sources", "testing", "convert"),
    # 4 jobs done with a model
    ("loading", "training", "evaluation", "inference", "streaming"),
    # 5 entry points
    ("cli", "__main__", "__init__"),
]
COMPONENT_PACKAGES = {"aggregators", "backbones", "conditioners", "fusion", "samplers", "schedules", "text_encoders",
                      "detectors"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _top(module: str) -> str:
    return module.split(".")[0]


def layer_of(module: str) -> int:
    for i, names in enumerate(LAYERS):
        if _top(module) in names:
            return i
    raise AssertionError(f"posediff.{module} is in no layer of tests/test_layering.py: add it to LAYERS")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(module: str, node: ast.AST) -> list[str]:
    is_pkg = MODULES[module].name == "__init__.py"
    here = module.split(".") if module != "__init__" else []
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = here if is_pkg else here[:-1]
            base = base[: len(base) - (node.level - 1)]
            mod = ".".join(base + ([node.module] if node.module else []))
        elif (node.module or "").startswith("posediff"):
            mod = node.module[len("posediff"):].lstrip(".")
        else:
            return []
        names = []
        for alias in node.names:
            cand = f"{mod}.{alias.name}" if mod else alias.name
            names.append(cand if cand in MODULES else mod)
        return names
    return [a.name[len("posediff"):].lstrip(".") for a in node.names if a.name.split(".")[0] == "posediff"]


def imports() -> dict[str, set[str]]:
    """posediff module -> posediff modules it imports (module-level and in functions, not TYPE_CHECKING)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        skip: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and _is_type_checking(node):
                skip |= {id(n) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skip:
                for target in _targets(module, node):
                    while target and target not in MODULES and "." in target:
                        target = target.rsplit(".", 1)[0]
                    if target == "":
                        target = "__init__"
                    if target in MODULES and target != module:
                        graph[module].add(target)
    return graph


GRAPH = imports()


def test_the_import_reader_sees_imports():
    assert "errors" in GRAPH["interfaces"] and "interfaces" in GRAPH["samplers.ddim"]
    assert "lifter" in GRAPH["loading"]  # a function-level import is seen too (inference imports lifter lazily)
    assert "lifter" in GRAPH["inference.lifting"]
    assert "interfaces" not in GRAPH["sampling"]  # TYPE_CHECKING only


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_upward_import(module):
    mine = layer_of(module)
    up = sorted(t for t in GRAPH[module] if layer_of(t) > mine
                and not (module.startswith(_top(t) + ".") or _top(module) == _top(t)))
    assert not up, (f"posediff.{module} (layer {mine}) imports higher layers: "
                    + ", ".join(f"posediff.{t} (layer {layer_of(t)})" for t in up))


def test_component_packages_do_not_import_each_other():
    bad = sorted((m, t) for m, ts in GRAPH.items() for t in ts
                 if _top(m) in COMPONENT_PACKAGES and _top(t) in COMPONENT_PACKAGES and _top(m) != _top(t))
    assert not bad, f"component packages import each other: {bad}"


def test_no_import_cycles():
    # cycles between different top-level units (a package's __init__ and its own submodules may meet)
    units: dict[str, set[str]] = defaultdict(set)
    for m, ts in GRAPH.items():
        for t in ts:
            if _top(m) != _top(t):
                units[_top(m)].add(_top(t))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in units[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in list(units):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles between modules: {cycles}"


SIZE_LIMIT = 400


@pytest.mark.parametrize("module", sorted(MODULES))
def test_large_modules_say_why(module):
    """A module over ~400 lines does one job and says so: its docstring has a ``Size:`` paragraph."""
    path = MODULES[module]
    text = path.read_text()
    if text.count("\n") <= SIZE_LIMIT:
        return
    doc = ast.get_docstring(ast.parse(text)) or ""
    assert "\nSize: " in "\n" + doc, (f"posediff.{module} has {text.count(chr(10))} lines: split it by job, or say in "
                                      "its docstring why it is one module (a 'Size: ...' paragraph)")


def test_no_module_imports_a_private_name_of_another():
    """A leading underscore means "this module's own": another module that needs it should get a public,
    documented name (issue 20: build, component_spec, testing, streaming and inference imported private
    names of their neighbours)."""
    found = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.level and node.module != "__future__":
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if private:
                    found.append(f"posediff.{module}: from {'.' * node.level}{node.module or ''} import "
                                 f"{', '.join(private)}")
    assert not found, "\n".join(found)


def _private_defs() -> set[str]:
    """Names of the private functions and methods posediff defines (``_name``, not dunders)."""
    names = set()
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("_") \
                    and not node.name.startswith("__"):
                names.add(node.name)
    return names


def test_no_caller_reaches_a_private_method_of_another_object():
    """``lifter._sampling_runner()`` in evaluation, ``lifter._check_actions`` and ``lifter._run_backbone`` in the
    benchmarks, ``registry._ep_provider`` in the CLI: callers used private names of other objects (issue 20,
    item 4). Any ``name._private(...)`` on something other than ``self``/``cls``, where ``_private`` is a
    function posediff defines, is flagged in ``posediff/`` and ``benchmarks/``."""
    # a tensor's version counter (torch's documented way to see in-place changes) shares the name of a
    # private helper of posediff's own
    private = _private_defs() - {"_version"}
    found = []
    for root in (ROOT, ROOT.parent / "benchmarks"):
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if (isinstance(node, ast.Attribute) and node.attr in private and isinstance(node.value, ast.Name)
                        and node.value.id not in ("self", "cls")):
                    found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not found, "\n".join(found)


def test_the_private_reach_check_sees_a_private_call():
    tree = ast.parse("lifter._denoise_copies(x)")
    node = tree.body[0].value.func
    assert isinstance(node, ast.Attribute) and node.attr in _private_defs() and node.value.id == "lifter"
