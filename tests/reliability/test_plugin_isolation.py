"""Plugins that misbehave are isolated and reported; built-ins and other plugins keep working.

tests/test_registry.py covers: a plugin raising on import, two plugins with one name, a plugin entry point
clashing with a built-in name, an entry point that is not callable, and the disable/block switches. This file
adds: a plugin that registers a built-in's name in-process (``posediff.register``) at import, a plugin that
calls ``sys.exit`` at import, entry points to missing modules/attributes, a callable that does not build a
component, a component that crashes in its constructor, and that none of these break unrelated builds.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch

import posediff
from posediff import registry
from posediff.errors import PluginError, PosediffError, RegistryError, SpecError


def _dist(root: Path, dist: str, module: str, source: str, entry_points: str) -> None:
    """A fake installed distribution: ``module.py`` plus ``<dist>-1.0.dist-info`` with entry points."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture()
def plugins(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("POSEDIFF_DISABLE_PLUGINS", raising=False)
    table = dict(registry._table)
    registry.refresh_plugins()
    yield tmp_path
    for mod in [m for m in sys.modules if m.startswith("zzrel")]:
        del sys.modules[mod]
    registry._table.clear()
    registry._table.update(table)
    registry.refresh_plugins()


def _builtins_intact():
    from posediff.aggregators.mean import MeanAggregator
    from posediff.samplers.ddim import DDIMSampler

    assert registry.get("sampler", "ddim") is DDIMSampler
    assert registry.get("aggregator", "mean") is MeanAggregator
    lifter = posediff.build("d3dp-tiny", {"sampler.steps": 1, "sampler.hypotheses": 1, "aggregator.name": "mean"})
    out = lifter.lift(torch.zeros(1, lifter.frames, 17, 2), generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out).all()


def test_plugin_registering_a_builtin_name_in_process_names_both(plugins):
    _dist(plugins, "zzrel-hijack", "zzrel_hijack", '''
        import posediff
        from posediff.interfaces import Aggregator

        @posediff.register("sampler", "ddim")          # clashes with the built-in DDIM sampler
        class FakeDDIM:
            """Not the real one."""

        class Median(Aggregator):
            """Per-joint median."""
            def aggregate(self, hyps, **_):
                return hyps.median(dim=1).values
        ''', "[posediff.aggregator]\nzz_hijack_median = zzrel_hijack:Median\n")
    registry.refresh_plugins()
    with pytest.raises(PluginError) as info:
        registry.get("aggregator", "zz_hijack_median")
    msg = str(info.value)
    assert "zzrel-hijack 1.0" in msg  # the distribution at fault
    assert "posediff.samplers.ddim:DDIMSampler" in msg and "zzrel_hijack:FakeDDIM" in msg  # both providers
    assert isinstance(info.value.__cause__, RegistryError)
    _builtins_intact()
    # the same clash from user code (a notebook) is a RegistryError naming both
    with pytest.raises(RegistryError, match=r"posediff\.samplers\.ddim:DDIMSampler.*already registered|"
                                            r"already registered by posediff\.samplers\.ddim:DDIMSampler"):
        posediff.register("sampler", "ddim")(type("Other", (), {"__module__": "my_notebook"}))
    _builtins_intact()


def test_plugin_calling_sys_exit_at_import_is_a_plugin_error(plugins):
    _dist(plugins, "zzrel-exit", "zzrel_exit", "import sys\nsys.exit('bye from a plugin')\n",
          "[posediff.fusion]\nzz_exit = zzrel_exit:Block\n")
    registry.refresh_plugins()
    with pytest.raises(PluginError, match="zzrel-exit 1.0.*bye from a plugin"):
        registry.get("fusion", "zz_exit")
    reports = {r.name: r for r in registry.load_plugins(("fusion",))}
    assert not reports["zz_exit"].ok
    _builtins_intact()


@pytest.mark.parametrize("target,why", [("zzrel_nowhere:Thing", "ModuleNotFoundError"),
                                        ("zzrel_attr:Missing", "AttributeError")])
def test_entry_point_to_missing_code(plugins, target, why):
    _dist(plugins, "zzrel-attr", "zzrel_attr", "X = 1\n", f"[posediff.schedule]\nzz_missing = {target}\n")
    registry.refresh_plugins()
    with pytest.raises(PluginError, match=why):
        registry.get("schedule", "zz_missing")
    with pytest.raises(SpecError, match="zz_missing"):
        posediff.build("d3dp-tiny", {"sampler.schedule.name": "zz_missing"})
    _builtins_intact()


def test_callable_that_is_not_a_component_is_reported_at_build(plugins):
    _dist(plugins, "zzrel-fn", "zzrel_fn", '''
        def make_aggregator():
            """A factory that returns a number, not a module."""
            return 3
        ''', "[posediff.aggregator]\nzz_number = zzrel_fn:make_aggregator\n")
    registry.refresh_plugins()
    with pytest.raises(PosediffError) as info:
        posediff.build("d3dp-tiny", {"aggregator.name": "zz_number"})
    msg = str(info.value)
    assert "zz_number" in msg and "zzrel-fn 1.0" in msg and "int" in msg
    _builtins_intact()


def test_component_crashing_in_its_constructor_is_reported(plugins):
    _dist(plugins, "zzrel-crash", "zzrel_crash", '''
        from posediff.interfaces import Aggregator

        class Crash(Aggregator):
            """Fails to construct."""
            def __init__(self, size: int = 3) -> None:
                super().__init__()
                raise ValueError("size must be prime")

            def aggregate(self, hyps, **_):
                return hyps.mean(1)
        ''', "[posediff.aggregator]\nzz_crash = zzrel_crash:Crash\n")
    registry.refresh_plugins()
    with pytest.raises(SpecError, match="zz_crash.*size must be prime"):
        posediff.build("d3dp-tiny", {"aggregator.name": "zz_crash"})
    _builtins_intact()


def test_broken_plugins_do_not_affect_listing_or_unrelated_builds(plugins):
    _dist(plugins, "zzrel-boom", "zzrel_boom", "raise ImportError('missing dependency zzz')\n",
          "[posediff.backbone]\nzz_boom = zzrel_boom:Net\n[posediff.sampler]\nzz_boom2 = zzrel_boom:S\n")
    registry.refresh_plugins()
    assert "zz_boom" in posediff.list_components("backbone")  # listed (metadata only) ...
    assert "zzrel_boom" not in sys.modules                    # ... without importing it
    _builtins_intact()
    with pytest.raises(SpecError) as info:
        posediff.build("d3dp-tiny", {"backbone.name": "zz_boom", "sampler.name": "zz_boom2"})
    assert len(info.value.problems) == 2 and all("zzrel-boom 1.0" in p.message for p in info.value.problems)
