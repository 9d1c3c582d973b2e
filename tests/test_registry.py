"""Registry: registration rules, lookup errors, lazy entry-point plugins, isolation of broken ones."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import posediff
from posediff import registry
from posediff.errors import PluginError, RegistryError, UnknownComponentError


def test_builtins_listed():
    for kind, name in [("backbone", "mixste"), ("sampler", "ddim"), ("aggregator", "jpma"),
                       ("aggregator", "mean"), ("aggregator", "oracle"), ("fusion", "fpc"), ("fusion", "pts"),
                       ("conditioner", "fpp"), ("conditioner", "none"), ("schedule", "cosine"),
                       ("text_encoder", "open_clip"), ("text_encoder", "offline")]:
        assert name in posediff.list_components(kind), (kind, name)


def test_list_pattern_and_provider():
    assert posediff.list_components("aggregator", "j*") == ["jpma", "jpma_temporal"]
    assert registry.provider("sampler", "ddim") == "posediff"
    info = posediff.describe("sampler", "ddim")
    assert info.provider == "posediff" and "spacing" in [p.name for p in info.parameters]


def test_unknown_kind_and_name():
    with pytest.raises(RegistryError, match="did you mean 'sampler'"):
        posediff.list_components("samplr")
    with pytest.raises(UnknownComponentError, match="did you mean 'ddim'") as exc:
        registry.get("sampler", "ddmi")
    assert "available samplers" in str(exc.value)


def test_register_rules():
    with pytest.raises(RegistryError, match="invalid"):
        registry.register("sampler", "Bad-Name")

    class A:  # noqa: D401 - test double
        """A."""

    class B:
        """B."""

    try:
        registry.register("aggregator", "zz_test_dup")(A)
        registry.register("aggregator", "zz_test_dup")(A)  # same object: no-op
        with pytest.raises(RegistryError, match="already registered"):
            registry.register("aggregator", "zz_test_dup")(B)
    finally:
        registry._table.pop(("aggregator", "zz_test_dup"), None)


def _fake_dist(root: Path, dist: str, module: str, source: str, entry_points: str) -> None:
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture()
def plugin_path(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh_plugins()
    yield tmp_path
    for mod in [m for m in sys.modules if m.startswith("zzplug")]:
        del sys.modules[mod]
    registry.refresh_plugins()


def test_plugin_lazy_discovery_and_broken_isolated(plugin_path):
    _fake_dist(plugin_path, "zzplug-good", "zzplug_good", '''
        from posediff.interfaces import Aggregator
        class MedianAggregator(Aggregator):
            """Per-joint median of the hypotheses."""
            def aggregate(self, hyps, **_):
                return hyps.median(dim=1).values
        ''', "[posediff.aggregator]\nzz_median = zzplug_good:MedianAggregator\n")
    _fake_dist(plugin_path, "zzplug-broken", "zzplug_broken", "raise RuntimeError('boom at import')\n",
               "[posediff.aggregator]\nzz_broken = zzplug_broken:Thing\n")
    registry.refresh_plugins()
    names = posediff.list_components("aggregator")
    assert "zz_median" in names and "zz_broken" in names
    assert "zzplug_good" not in sys.modules  # listing imports nothing
    assert registry.provider("aggregator", "zz_median") == "zzplug-good 1.0"
    obj = registry.get("aggregator", "zz_median")
    assert obj.__name__ == "MedianAggregator"
    # the broken plugin fails only when its own name is used, naming the distribution and the cause
    with pytest.raises(PluginError, match=r"zzplug-broken 1\.0.*boom at import"):
        registry.get("aggregator", "zz_broken")
    lifter = posediff.build("finepose-tiny", overrides={"aggregator.name": "zz_median"})
    assert type(lifter.aggregator).__name__ == "MedianAggregator"
    reports = {r.name: r for r in registry.load_plugins(("aggregator",))}
    assert reports["zz_median"].ok and not reports["zz_broken"].ok


def test_plugin_duplicate_names_both(plugin_path):
    for i in (1, 2):
        _fake_dist(plugin_path, f"zzplug-dup{i}", f"zzplug_dup{i}", "class X:\n    pass\n",
                   f"[posediff.sampler]\nzz_same = zzplug_dup{i}:X\n")
    registry.refresh_plugins()
    with pytest.raises(RegistryError, match=r"zzplug-dup1 1\.0.*zzplug-dup2 1\.0|zzplug-dup2 1\.0.*zzplug-dup1 1\.0"):
        registry.get("sampler", "zz_same")


def test_plugin_clash_with_builtin(plugin_path):
    _fake_dist(plugin_path, "zzplug-clash", "zzplug_clash", "class X:\n    pass\n",
               "[posediff.sampler]\nddim = zzplug_clash:X\n")
    registry.refresh_plugins()
    with pytest.raises(RegistryError, match="provided twice"):
        registry.get("sampler", "ddim")


def test_plugin_non_component(plugin_path):
    _fake_dist(plugin_path, "zzplug-val", "zzplug_val", "VALUE = 3\n", "[posediff.fusion]\nzz_val = zzplug_val:VALUE\n")
    registry.refresh_plugins()
    with pytest.raises(PluginError, match="not a class or factory"):
        registry.get("fusion", "zz_val")


def test_disable_plugins(plugin_path, monkeypatch):
    _fake_dist(plugin_path, "zzplug-off", "zzplug_off", "class X:\n    pass\n", "[posediff.sampler]\nzz_off = zzplug_off:X\n")
    monkeypatch.setenv("POSEDIFF_DISABLE_PLUGINS", "1")
    registry.refresh_plugins()
    assert "zz_off" not in posediff.list_components("sampler")
    monkeypatch.delenv("POSEDIFF_DISABLE_PLUGINS")
    monkeypatch.setenv("POSEDIFF_BLOCK_PLUGINS", "zzplug-off")
    registry.refresh_plugins()
    assert "zz_off" not in posediff.list_components("sampler")


def test_cli_exits_3_when_a_spec_names_a_plugin_that_fails_to_import(plugin_path, capsys):
    """docs/errors.md: plugin errors exit with 3. A spec naming a broken plugin's component went through
    spec validation as a SpecError and exited with 2 (issue 22)."""
    from posediff.cli import main

    _fake_dist(plugin_path, "zzplug-broken2", "zzplug_broken2", "raise RuntimeError('boom at import')\n",
               "[posediff.aggregator]\nzz_broken2 = zzplug_broken2:Thing\n")
    registry.refresh_plugins()
    code = main(["show", "finepose-tiny", "--set", "aggregator.name=zz_broken2"])
    err = capsys.readouterr().err
    assert code == 3 and "zzplug-broken2" in err and "boom at import" in err
    code = main(["show", "finepose-tiny", "--set", "aggregator.name=zz_no_such"])
    assert code == 2  # a plain spec error stays 2
