"""Presets: data only (TOML), `extends` inheritance by data, duplicates an error, cached copies."""
from __future__ import annotations

import importlib.metadata as md
import sys
import types

import pytest

import posediff
from posediff import presets
from posediff.errors import PluginError, SpecError

MOD = "zz_fake_preset_plugin"


@pytest.fixture
def fake_plugin(monkeypatch, tmp_path):
    """Entry points of group posediff.preset pointing into a throw-away module."""
    mod = types.ModuleType(MOD)
    monkeypatch.setitem(sys.modules, MOD, mod)
    table: dict[str, tuple] = {}

    def add(name: str, attr: str, value) -> None:
        setattr(mod, attr, value)
        ep = md.EntryPoint(name=name, value=f"{MOD}:{attr}", group="posediff.preset")
        table[name] = table.get(name, ()) + (ep,)

    monkeypatch.setattr(presets, "entry_points", lambda kind: dict(table) if kind == "preset" else {})
    presets.forget_presets()
    yield add, tmp_path
    presets.forget_presets()


def _toml(tmp_path, name: str, text: str):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


def test_extends_builds_on_another_preset_by_data(fake_plugin):
    add, tmp = fake_plugin
    add("zz-small", "SMALL", _toml(tmp, "zz-small", 'extends = "finepose-tiny"\n[meta]\nname = "zz-small"\n'
                                                    '[backbone]\ndepth = 1\n[sampler]\nsteps = 2\n'))
    spec, base = posediff.resolve_spec("zz-small"), posediff.resolve_spec("finepose-tiny")
    assert spec["meta"] == {"name": "zz-small"}  # meta is never inherited
    assert spec["backbone"]["depth"] == 1 and spec["sampler"]["steps"] == 2
    assert spec["sampler"]["schedule"] == base["sampler"]["schedule"]  # tables merge key by key
    for slot in ("lifter", "conditioner", "fusion", "aggregator"):
        assert spec[slot] == base[slot], slot


def test_a_table_naming_another_component_replaces_the_base_table(fake_plugin):
    add, tmp = fake_plugin
    add("zz-mean", "MEAN", _toml(tmp, "zz-mean", 'extends = "finepose-tiny"\n[meta]\nname = "zz-mean"\n'
                                                  '[aggregator]\nname = "mean"\n'))
    assert posediff.resolve_spec("zz-mean")["aggregator"] == {"name": "mean"}  # no JPMA keys leak in


def test_extends_cycles_are_refused(fake_plugin):
    add, tmp = fake_plugin
    add("zz-a", "A", _toml(tmp, "zz-a", 'extends = "zz-b"\n'))
    add("zz-b", "B", _toml(tmp, "zz-b", 'extends = "zz-a"\n'))
    with pytest.raises(SpecError, match="cycle: zz-a -> zz-b -> zz-a"):
        presets.read_preset("zz-a")


def test_presets_are_data_not_code(fake_plugin):
    add, _ = fake_plugin
    add("zz-code", "FACTORY", lambda: {"meta": {"name": "zz-code"}})
    add("zz-dict", "TABLE", {"meta": {"name": "zz-dict"}})
    for name in ("zz-code", "zz-dict"):
        with pytest.raises(PluginError, match="not data: a preset entry point names a TOML file"):
            presets.read_preset(name)


def test_a_preset_provided_twice_is_an_error(fake_plugin):
    add, tmp = fake_plugin
    add("zz-twice", "ONE", _toml(tmp, "one", '[meta]\nname = "zz-twice"\n'))
    add("zz-twice", "TWO", _toml(tmp, "two", '[meta]\nname = "zz-twice"\n'))
    add("finepose-tiny", "SHADOW", _toml(tmp, "three", '[meta]\nname = "finepose-tiny"\n'))
    with pytest.raises(SpecError, match="provided twice"):
        presets.read_preset("zz-twice")
    with pytest.raises(SpecError, match="provided twice: posediff; "):  # a plugin cannot shadow a built-in
        presets.read_preset("finepose-tiny")


def test_reads_are_cached_and_return_copies():
    presets.forget_presets()
    first = presets.read_preset("finepose-tiny")
    first["backbone"]["depth"] = 99
    assert presets.read_preset("finepose-tiny")["backbone"]["depth"] != 99  # a fresh copy every time
    parsed, text = presets._parsed.cache_info(), presets._text.cache_info()
    presets.read_preset("finepose-tiny")
    assert presets._parsed.cache_info().hits == parsed.hits + 1  # served from the cache ...
    assert presets._text.cache_info().misses == text.misses  # ... without reading the file again
