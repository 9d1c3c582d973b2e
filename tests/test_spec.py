"""Specs: presets, files, dicts, overrides, validation errors, TOML round trip, hypothesis fuzzing."""
from __future__ import annotations

import json
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import posediff
from posediff.errors import PosediffError, SpecError
from posediff.spec import dump_spec, parse_override, resolve_spec


def test_presets_resolve():
    for name in posediff.list_presets():
        spec = resolve_spec(name)
        assert spec["meta"]["name"] == name
        assert resolve_spec(spec) == spec  # idempotent


def test_preset_variants_differ_only_where_declared():
    base = resolve_spec("finepose-h36m")
    official = resolve_spec("finepose-h36m-official")
    assert official["conditioner"]["train_modifiers"] is False
    assert official["fusion"][0]["blocks"][0]["pairing"] == "official"
    assert official["aggregator"]["root"] == "given"
    for k in ("backbone", "sampler", "lifter"):
        assert official[k] == base[k]
    wopts = resolve_spec("finepose-h36m-wo-pts")
    assert [b["name"] for b in wopts["fusion"][0]["blocks"]] == ["fpc", "linear"]
    assert resolve_spec("finepose-h36m-w-fpp")["fusion"] == []
    assert resolve_spec("d3dp-h36m")["conditioner"]["name"] == "none"


def test_overrides_dict_and_strings():
    spec = resolve_spec("finepose-tiny", {"sampler.steps": 3, "fusion[0].blocks[0].heads": 2})
    assert spec["sampler"]["steps"] == 3 and spec["fusion"][0]["blocks"][0]["heads"] == 2
    spec = resolve_spec("finepose-tiny", ["sampler.hypotheses=7", "sampler.schedule.offset=0.01"])
    assert spec["sampler"]["hypotheses"] == 7 and spec["sampler"]["schedule"]["offset"] == 0.01
    assert parse_override("a.b=hello") == ("a.b", "hello")
    # changing a component's name drops the old component's keys
    spec = resolve_spec("finepose-tiny", {"aggregator.name": "mean"})
    assert spec["aggregator"] == resolve_spec({"backbone": spec["backbone"], "conditioner": spec["conditioner"],
                                               "sampler": spec["sampler"], "aggregator": {"name": "mean"},
                                               "lifter": spec["lifter"]})["aggregator"]


def test_errors_collected_with_paths_and_suggestions():
    with pytest.raises(SpecError) as exc:
        resolve_spec("finepose-tiny", {"sampler.stesp": 3, "sampler.hypotheses": "many",
                                       "aggregator.name": "jpmaa", "fusion[0].at": "spatial.9"})
    text = str(exc.value)
    paths = {p.path for p in exc.value.problems}
    assert {"sampler.stesp", "sampler.hypotheses", "aggregator.name", "fusion[0].at"} <= paths
    assert "did you mean 'steps'" in text and "did you mean 'jpma'" in text
    assert "expected int" in text


def test_context_key_in_component_table_is_error():
    with pytest.raises(SpecError, match="context key"):
        resolve_spec("finepose-tiny", {"backbone.frames": 9})


def test_bool_is_not_int_and_int_is_float():
    with pytest.raises(SpecError):
        resolve_spec("finepose-tiny", {"sampler.steps": True})
    spec = resolve_spec("finepose-tiny", {"sampler.eta": 0})
    assert spec["sampler"]["eta"] == 0.0 and isinstance(spec["sampler"]["eta"], float)


def test_unknown_preset_and_bad_source(tmp_path):
    with pytest.raises(SpecError, match="did you mean 'finepose-h36m'"):
        posediff.build("finepose-h36n")
    with pytest.raises(SpecError, match="not found"):
        posediff.build(str(tmp_path / "missing.toml"))
    with pytest.raises(SpecError):
        posediff.build(42)


def test_files_toml_yaml_json(tmp_path):
    spec = resolve_spec("finepose-tiny")
    (tmp_path / "s.toml").write_text(dump_spec(spec))
    (tmp_path / "s.json").write_text(json.dumps(spec))
    import yaml

    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    for f in ("s.toml", "s.json", "s.yaml"):
        assert resolve_spec(str(tmp_path / f)) == spec
    assert tomllib.loads(dump_spec(resolve_spec("d3dp-tiny")))["fusion"] == []


@pytest.mark.parametrize("text", ["\U00010000", "x\x7fy", "\x00\x1f\n\t\r\f\b", 'quote " back \\', "é ü 中",
                                  "trailing newline\n", ""])
def test_dump_spec_writes_valid_toml_for_any_text(text):
    # Regression (slow fuzz in CI): keys were quoted with json.dumps, which writes astral characters as
    # surrogate-pair escapes ("\ud800\udc00") that TOML rejects; U+007F was written raw in values; a key
    # ending in a newline passed the bare-key regex.
    spec = resolve_spec("d3dp-tiny")
    spec["meta"][text] = text
    spec["meta"]["summary"] = text
    assert tomllib.loads(dump_spec(spec))["meta"] == spec["meta"]


def test_dump_spec_refuses_lone_surrogates():
    spec = resolve_spec("d3dp-tiny")
    spec["meta"]["summary"] = "bad \ud800"
    with pytest.raises(SpecError, match="lone surrogate"):
        dump_spec(spec)


def test_specs_never_import(tmp_path):
    with pytest.raises(SpecError, match="unknown sampler"):
        resolve_spec("finepose-tiny", {"sampler.name": "os:system"})


def test_build_roundtrip_tiny():
    lifter = posediff.build("finepose-tiny", overrides={"sampler.steps": 2})
    again = posediff.build(lifter.spec)
    assert again.spec == lifter.spec
    assert posediff.build(tomllib.loads(dump_spec(lifter.spec))).spec == lifter.spec


# ---- hypothesis: random valid overrides round-trip; random garbage only raises SpecError ----------
_valid_overrides = st.fixed_dictionaries({}, optional={
    "sampler.steps": st.integers(1, 50),
    "sampler.hypotheses": st.integers(1, 30),
    "sampler.eta": st.floats(0, 1),
    "sampler.flip": st.booleans(),
    "sampler.clamp": st.floats(0.5, 3),
    "backbone.depth": st.integers(1, 4),
    "backbone.heads": st.sampled_from([1, 2, 4]),
    "backbone.mlp_ratio": st.floats(0.5, 4),
    "lifter.precision": st.sampled_from(["fp32", "bf16"]),
    "aggregator.name": st.sampled_from(["mean", "jpma"]),
})


@settings(max_examples=40, deadline=None)
@given(preset=st.sampled_from(["finepose-tiny", "d3dp-tiny", "finepose-h36m", "finepose-3dhp", "d3dp-h36m",
                               "finepose-h36m-wo-pts", "finepose-h36m-official"]),
       overrides=_valid_overrides)
def test_resolve_roundtrip_property(preset, overrides):
    spec = resolve_spec(preset, overrides)
    assert resolve_spec(spec) == spec
    assert resolve_spec(tomllib.loads(dump_spec(spec))) == spec


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                     max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(path=st.sampled_from(["sampler", "sampler.steps", "sampler.schedule", "sampler.schedule.name", "backbone",
                             "backbone.depth", "conditioner.parts", "conditioner.text_encoder", "fusion",
                             "fusion[0]", "fusion[0].blocks", "fusion[0].at", "lifter", "lifter.frames",
                             "aggregator.name", "meta", "zzz", "spec_version"]),
       value=_json)
def test_fuzz_only_spec_errors(path, value):
    try:
        resolve_spec("finepose-tiny", {path: value})
    except SpecError as exc:
        assert exc.problems
    except PosediffError:
        pass


@settings(max_examples=100, deadline=None)
@given(tree=st.dictionaries(st.sampled_from(["backbone", "sampler", "fusion", "lifter", "x", "aggregator",
                                              "conditioner", "spec_version"]), _json, max_size=6))
def test_fuzz_whole_tree(tree):
    with pytest.raises(SpecError):
        resolve_spec(tree)
