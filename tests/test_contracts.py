"""Every registered component honours its kind's contract (driven by the registry)."""
from __future__ import annotations

import pytest

import posediff
from posediff.testing import check_component

CASES = [(kind, name) for kind in posediff.KINDS for name in posediff.list_components(kind)
         if posediff.registry.provider(kind, name) == "posediff"]


@pytest.mark.parametrize("kind,name", CASES, ids=[f"{k}-{n}" for k, n in CASES])
def test_contract(kind, name):
    if kind == "detector":  # a detector's optional package (mediapipe: the video extra) may be absent here
        from posediff.errors import DependencyError

        try:
            check_component(kind, name)
        except DependencyError as exc:
            pytest.skip(f"optional package missing: {exc}")
        return
    check_component(kind, name)


# ------------------------------------------------------------------ every hook declared (issue 20, item 1)
def test_every_hook_is_declared_on_its_base_class():
    """The hooks that used to be found with getattr and a fallback are attributes of the kind base classes,
    with documented defaults, so a caller reads them directly."""
    from posediff import interfaces as I

    declared = {
        "backbone": {"hook_points_for", "keep_fp32", "stream_dtype", "dim", "frame_parameters", "check_params",
                     "spec_example", "clear_cache"},
        "conditioner": {"token_dim_for", "prompt_key", "actions", "clear_cache"},
        "text_encoder": {"width_for", "end_index", "tokenize", "embed", "encode"},
        "aggregator": {"step", "needs", "aggregate"},
        "schedule": {"alphas_cumprod", "timesteps"},
    }
    for kind, names in declared.items():
        assert names <= I.hook_names(kind), (kind, sorted(names - I.hook_names(kind)))
    assert I.Backbone.hook_points_for({}) is None and I.Backbone.keep_fp32 is None
    assert I.Conditioner.token_dim_for({}) is None and I.TextEncoder.width_for({"width": 96}) == 96
    assert I.Aggregator.step == -1 and I.Component.check_params({}) == []


def test_a_misspelt_hook_is_refused_when_built():
    """A misspelt hook used to switch its check off silently (the base's default stood in for it)."""
    import posediff
    from posediff import registry
    from posediff.errors import ContractError
    from posediff.interfaces import Aggregator

    class Typo(Aggregator):
        """Means, with a misspelt check."""

        @staticmethod
        def check_param(params):
            return ["never called"]

        def aggregate(self, hyps, **_):
            return hyps.mean(dim=1)

    registry.register("aggregator", "zz_typo")(Typo)
    try:
        with pytest.raises(ContractError, match=r"Typo.check_param looks like a misspelling of the aggregator "
                                                r"hook 'check_params'"):
            posediff.build("d3dp-tiny", overrides={"aggregator.name": "zz_typo"})
    finally:
        registry._table.pop(("aggregator", "zz_typo"), None)


def test_a_schedule_without_alphas_cumprod_fails_when_built_not_mid_sampling():
    from posediff.interfaces import NoiseSchedule

    class NoAlphas(NoiseSchedule):
        """Forgot ᾱ."""

    with pytest.raises(TypeError, match="does not implement alphas_cumprod"):
        NoAlphas()
