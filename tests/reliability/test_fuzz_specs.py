"""Fuzzing specs: whatever a spec dict, a TOML/YAML/JSON file or an override string holds, validation and
building raise nothing but posediff's own errors, and a spec never imports anything.

Generators (hypothesis):

* mutated spec dicts: a resolved preset with 1–4 random edits (replace a value by random data of any type
  and nesting, delete a key, add a random key, wrap a value in a list/table);
* mutated TOML text: a preset's canonical TOML with random line and character edits (delete, duplicate,
  swap, truncate, replace a value by a random literal or garbage);
* random TOML documents from a small grammar (table headers, array-of-table headers, ``key = literal``
  lines with real and random keys, garbage lines);
* random override strings (``path=value`` with real, indexed and garbage paths; random text);
* small, well-typed numeric edits of the tiny presets that are then *built* and sampled once.

The default run does about 700 cases in ~20 s on one core; ``-m slow`` runs the same properties ten
times longer. The number of cases actually run is recorded for ``scripts/reliability_report.py``.
"""
from __future__ import annotations

import copy
import json
import sys
import tempfile
import tomllib
import warnings
from collections import Counter
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import posediff
from posediff.errors import PosediffError, SpecError, UnknownComponentError
from posediff.spec import dump_spec, parse_override, resolve_spec

from reliability_helpers import record

COUNTS: Counter = Counter()
SCALE = {"default": 1, "slow": 10}
FUZZ_DIR = Path(tempfile.mkdtemp(prefix="posediff-fuzz-"))

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    BASES = {name: resolve_spec(name) for name in ("finepose-tiny", "d3dp-tiny", "finepose-h36m", "finepose-3dhp")}
TOML_BASES = {name: dump_spec(spec) for name, spec in BASES.items()}

# Names that look like import paths: the registry must treat them as unknown names and import nothing.
IMPORT_LIKE = [
    "os:system", "os.system", "posediff.registry:get", "posediff.samplers.ddim:DDIMSampler",
    "posediff.samplers.ddim.DDIMSampler", "subprocess:Popen", "builtins:eval", "__import__",
    "importlib:import_module", "this:s", "wsgiref.simple_server:make_server", "tabnanny", "../../etc/passwd",
]
CANARY_MODULES = ("this", "wsgiref.simple_server", "tabnanny")
NAME_SLOTS = [
    "backbone.name", "conditioner.name", "sampler.name", "aggregator.name", "sampler.schedule.name",
    "conditioner.text_encoder.name", "fusion[0].blocks[0].name", "fusion[0].blocks[1].name",
]


def _leaf_paths(tree, prefix=""):
    """Override paths of every leaf of a spec tree (``sampler.schedule.timesteps``, ``fusion[0].at`` ...)."""
    out = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            p = f"{prefix}.{k}" if prefix else str(k)
            out += _leaf_paths(v, p) if isinstance(v, (dict, list)) and v else [p]
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            p = f"{prefix}[{i}]"
            out += _leaf_paths(v, p) if isinstance(v, (dict, list)) and v else [p]
    return out


REAL_PATHS = sorted({p for spec in BASES.values() for p in _leaf_paths(spec)})
REAL_KEYS = sorted({part.split("[")[0] for p in REAL_PATHS for part in p.split(".")})

# ---------------------------------------------------------------------------------------- strategies
keys = st.one_of(st.sampled_from(REAL_KEYS + ["", " ", "name", "__class__", "_target_"]), st.text(max_size=10))
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-3, 10),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(IMPORT_LIKE + ["ddim", "mean", "jpma", "cosine", "spatial.0", "h36m-17", "{action}"]),
    st.binary(max_size=4),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.one_of(keys, st.integers(-2, 5)), inner, max_size=4)),
    max_leaves=12,
)


def _containers(tree):
    """Every (container, key) pair of a tree, the root's keys included."""
    out = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                out.append((node, k))
                stack.append(v)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                out.append((node, i))
                stack.append(v)
    return out


@st.composite
def mutated_specs(draw):
    tree = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    for _ in range(draw(st.integers(1, 4))):
        spots = _containers(tree)
        if not spots:
            break
        node, key = draw(st.sampled_from(spots))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "wrap"]))
        if op == "replace":
            node[key] = draw(values)
        elif op == "delete":
            del node[key]
        elif op == "wrap":
            node[key] = draw(st.sampled_from([[node[key]], {"name": node[key]}, {"x": node[key]}]))
        elif isinstance(node, dict):
            node[draw(keys)] = draw(values)
        else:
            node.append(draw(values))
    return tree


toml_literals = st.one_of(
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: "nan" if f != f else ("inf" if f == float("inf") else ("-inf" if f == -float("inf") else repr(f)))),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(max_size=12).map(json.dumps),
    st.sampled_from(IMPORT_LIKE).map(json.dumps),
    st.sampled_from(['[1, 2, 3]', '["a", 1]', '{ name = "ddim", steps = 3 }', '{ name = "os:system" }', '[]', '{}',
                     '[[1], [2]]', '"spatial.0"', "1979-05-27T07:32:00Z", "0x1F", "1e400", '"""multi\nline"""']),
)
toml_keys = st.one_of(st.sampled_from(REAL_KEYS + ["sampler.steps", "lifter.frames", '"quoted key"']),
                      st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True))
toml_lines = st.one_of(
    st.builds(lambda k: f"[{k}]", toml_keys),
    st.builds(lambda k: f"[[{k}]]", toml_keys),
    st.builds(lambda k, v: f"{k} = {v}", toml_keys, toml_literals),
    st.builds(lambda k, v: f"{k} = {v}", toml_keys, toml_literals),
    st.text(max_size=20).map(lambda t: t.replace("\x00", "")),
)
toml_documents = st.lists(toml_lines, max_size=25).map("\n".join)


@st.composite
def mutated_toml(draw):
    lines = TOML_BASES[draw(st.sampled_from(sorted(TOML_BASES)))].splitlines()
    for _ in range(draw(st.integers(1, 5))):
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "value", "insert", "char", "truncate"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "value" and "=" in lines[i]:
            lines[i] = lines[i].split("=", 1)[0] + "= " + draw(toml_literals)
        elif op == "insert":
            lines.insert(i, draw(toml_lines))
        elif op == "char" and lines[i]:
            k = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:k] + draw(st.characters(blacklist_categories=("Cs",))) + lines[i][k + 1:]
        elif op == "truncate":
            text = "\n".join(lines)
            text = text[: draw(st.integers(0, len(text)))]
            lines = text.splitlines()
    return "\n".join(lines)


override_paths = st.one_of(
    st.sampled_from(REAL_PATHS),
    st.builds(lambda p, i: f"{p}[{i}]", st.sampled_from(REAL_PATHS), st.integers(0, 5)),
    st.builds(lambda a, b: f"{a}.{b}", st.sampled_from(REAL_KEYS), st.sampled_from(REAL_KEYS)),
    st.text(max_size=16),
)
override_strings = st.one_of(
    st.builds(lambda p, v: f"{p}={v}", override_paths, toml_literals),
    st.builds(lambda p, v: f"{p}={v}", override_paths, st.text(max_size=10)),
    st.text(max_size=24),
)


def _only_posediff_errors(fn, *args, **kwargs):
    """Run ``fn``; a posediff error is fine, any other exception fails the property."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)
    except PosediffError as exc:
        assert str(exc).strip(), "posediff errors must have a message"
        if isinstance(exc, SpecError):
            assert exc.problems, "a SpecError must list its problems"
        return None


def _write(text: str, suffix: str) -> Path:
    path = FUZZ_DIR / f"spec{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


# ---------------------------------------------------------------------------------------- properties
def prop_spec_dict(tree):
    COUNTS["spec dicts"] += 1
    out = _only_posediff_errors(resolve_spec, tree)
    if out is not None:  # a spec that validates is canonical: resolving it again changes nothing
        assert resolve_spec(out) == out
        assert resolve_spec(tomllib.loads(dump_spec(out))) == out


def prop_toml_mutation(text):
    COUNTS["mutated TOML files"] += 1
    _only_posediff_errors(resolve_spec, _write(text, ".toml"))


def prop_toml_document(text):
    COUNTS["random TOML documents"] += 1
    _only_posediff_errors(resolve_spec, _write(text, ".toml"))


def prop_overrides(strings):
    COUNTS["override strings"] += len(strings)
    for s in strings:
        _only_posediff_errors(parse_override, s)
    _only_posediff_errors(resolve_spec, BASES["finepose-tiny"], strings)


BUILD_PATHS = [p for p in _leaf_paths(BASES["d3dp-tiny"]) if not p.startswith(("meta", "spec_version"))]
FINE_PATHS = [p for p in _leaf_paths(BASES["finepose-tiny"])
              if not p.startswith(("meta", "spec_version", "conditioner.actions", "conditioner.parts"))]
STRINGS = ["official", "linspace", "estimate", "given", "sample", "bf16", "fp32", "spatial.1", "temporal.0",
           "action_eot", "3dhp-17", "mean", "oracle", "linear", "cosine", ""]


def _get(tree, path):
    node = tree
    for part in path.replace("[", ".[").split("."):
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    return node


def _near(value):
    """A small value of the same type as ``value`` (sometimes another type)."""
    if isinstance(value, bool):
        return st.one_of(st.booleans(), st.integers(0, 1))
    if isinstance(value, int):
        return st.one_of(st.integers(-2, 9), st.integers(max(1, value - 4), value + 4), st.sampled_from([0.5]))
    if isinstance(value, float):
        return st.sampled_from([0.0, 1e-8, 0.1, 0.5, 0.99, 1.0, 2.0, -0.5, float("nan"), float("inf"), 3])
    if isinstance(value, str):
        return st.sampled_from(STRINGS + [value])
    if isinstance(value, list):
        return st.lists(st.integers(1, 12) if all(isinstance(v, int) for v in value) else st.sampled_from(STRINGS),
                        max_size=len(value) + 1)
    return st.none()


@st.composite
def small_edits(draw):
    base = draw(st.sampled_from(["d3dp-tiny"] * 4 + ["finepose-tiny"]))
    paths = BUILD_PATHS if base == "d3dp-tiny" else FINE_PATHS
    edits = {}
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        edits[path] = draw(_near(_get(BASES[base], path)))
    return base, edits


def prop_build(case):
    COUNTS["built specs"] += 1
    base, edits = case
    lifter = _only_posediff_errors(posediff.build, BASES[base], edits)
    if lifter is None:
        return
    COUNTS["built specs that sampled"] += 1
    x = torch.zeros(1, lifter.frames, lifter.skeleton.num_joints, 2)
    out = _only_posediff_errors(lifter.sample, x, generator=torch.Generator().manual_seed(0), hypotheses=1,
                                steps=1)
    if out is not None:
        assert torch.isfinite(out).all(), f"non-finite samples after building with {edits}"


def _fuzz(prop, strategy, n, name, slow=False):
    test = settings(max_examples=n * SCALE["slow" if slow else "default"], deadline=None, derandomize=not slow,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])(given(strategy)(prop))
    test.__name__ = name
    return pytest.mark.slow(test) if slow else test


test_fuzz_spec_dicts = _fuzz(prop_spec_dict, mutated_specs(), 250, "test_fuzz_spec_dicts")
test_fuzz_toml_mutations = _fuzz(prop_toml_mutation, mutated_toml(), 150, "test_fuzz_toml_mutations")
test_fuzz_toml_documents = _fuzz(prop_toml_document, toml_documents, 100, "test_fuzz_toml_documents")
test_fuzz_override_strings = _fuzz(prop_overrides, st.lists(override_strings, min_size=1, max_size=4), 120,
                                   "test_fuzz_override_strings")
test_fuzz_build_small_edits = _fuzz(prop_build, small_edits(), 60, "test_fuzz_build_small_edits")

test_fuzz_spec_dicts_slow = _fuzz(prop_spec_dict, mutated_specs(), 250, "test_fuzz_spec_dicts_slow", slow=True)
test_fuzz_toml_mutations_slow = _fuzz(prop_toml_mutation, mutated_toml(), 150, "test_fuzz_toml_mutations_slow",
                                      slow=True)
test_fuzz_toml_documents_slow = _fuzz(prop_toml_document, toml_documents, 100, "test_fuzz_toml_documents_slow",
                                      slow=True)
test_fuzz_override_strings_slow = _fuzz(prop_overrides, st.lists(override_strings, min_size=1, max_size=4), 120,
                                        "test_fuzz_override_strings_slow", slow=True)
test_fuzz_build_small_edits_slow = _fuzz(prop_build, small_edits(), 60, "test_fuzz_build_small_edits_slow",
                                         slow=True)


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    if COUNTS:
        record("fuzz_specs", total=sum(v for k, v in COUNTS.items() if k != "built specs that sampled"),
               **dict(COUNTS))


# ---------------------------------------------------------------------------------------- no imports
def _module_snapshot() -> set[str]:
    return set(sys.modules)


@pytest.mark.parametrize("slot", NAME_SLOTS)
def test_import_paths_are_unknown_names_and_import_nothing(slot):
    base = BASES["finepose-tiny"]
    before = _module_snapshot()
    for name in IMPORT_LIKE:
        with pytest.raises(SpecError) as info:
            resolve_spec(base, {slot: name})
        assert any("unknown" in p.message for p in info.value.problems), str(info.value)
        with pytest.raises(SpecError):
            posediff.build(base, [f"{slot}={json.dumps(name)}"])
    assert _module_snapshot() - before == set(), "a spec imported a module"
    assert not any(m in sys.modules for m in CANARY_MODULES)
    COUNTS["import-like names"] += 2 * len(IMPORT_LIKE)


def test_registry_get_imports_nothing():
    before = _module_snapshot()
    for kind in posediff.KINDS:
        for name in IMPORT_LIKE:
            with pytest.raises(PosediffError) as info:
                posediff.get(kind, name)
            assert isinstance(info.value, UnknownComponentError)
    assert _module_snapshot() - before == set()


@pytest.mark.parametrize("suffix", [".toml", ".yaml", ".json"])
def test_spec_files_never_import(suffix, tmp_path):
    spec = copy.deepcopy(BASES["d3dp-tiny"])
    spec["sampler"]["name"] = "this:s"
    spec["aggregator"] = {"name": "os:system", "command": "touch pwned"}
    text = {".toml": dump_spec, ".yaml": lambda s: __import__("yaml").safe_dump(s), ".json": json.dumps}[suffix](spec)
    path = tmp_path / f"spec{suffix}"
    path.write_text(text)
    before = _module_snapshot()
    with pytest.raises(SpecError, match="unknown sampler 'this:s'"):
        posediff.build(str(path))
    assert _module_snapshot() - before == set() and "this" not in sys.modules


@pytest.mark.parametrize("payload", [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/apply:builtins.open ['{marker}', 'w']",
    "!!python/name:os.system",
    "!!python/object/new:posediff.samplers.ddim.DDIMSampler {{}}",
])
def test_yaml_python_tags_are_refused(payload, tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "spec.yaml"
    path.write_text("spec_version: 1\nsampler:\n  name: " + payload.format(marker=marker) + "\n")
    with pytest.raises(SpecError, match="cannot parse"):
        posediff.build(str(path))
    assert not marker.exists()
