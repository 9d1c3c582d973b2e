"""examples/components.py: one complete component per kind passes the contract and trains as a lifter."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import posediff
from posediff import registry
from posediff.testing import check_component

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def examples():
    spec = importlib.util.spec_from_file_location("example_components", REPO / "examples" / "components.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.register_all()
    yield mod
    for kind, name, _ in mod.KINDS_AND_NAMES:
        registry._table.pop((kind, name), None)


def test_one_example_per_kind(examples):
    kinds = {kind for kind, _, _ in examples.KINDS_AND_NAMES}
    assert kinds == {"aggregator", "sampler", "backbone", "conditioner", "fusion"}


@pytest.mark.parametrize("index", range(5))
def test_each_example_passes_the_contract(examples, index):
    kind, name, cls = examples.KINDS_AND_NAMES[index]
    comp = check_component(kind, name)
    assert isinstance(comp, cls)


def test_the_examples_build_train_and_lift_together(examples, tmp_path):
    from posediff.training import train

    lifter = posediff.build(examples.EXAMPLE_SPEC)
    assert lifter.spec["backbone"]["name"] == "example_frame_mlp"
    before = {k: v.clone() for k, v in lifter.state_dict().items()}
    res = train(lifter, data="synthetic", out=tmp_path / "run", max_steps=3, batch_size=4, progress=False,
                val_subjects=["none"], recipe="official", lr=1e-3)
    assert res.step == 3 and res.final_loss is not None and res.final_loss == res.final_loss
    changed = [k for k, v in res.lifter.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("conditioner.table") for k in changed) and any(k.startswith("backbone.") for k in changed)
    poses = res.lifter.lift(torch.randn(2, 9, 17, 2) * 0.2, actions=["Walking", None])
    assert poses.shape == (2, 9, 17, 3) and torch.isfinite(poses).all()
    again = posediff.build(res.lifter.spec)  # the assembled spec rebuilds the same structure
    assert again.spec == res.lifter.spec
