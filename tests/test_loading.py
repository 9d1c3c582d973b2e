"""One way to load a model: posediff.load / sources.locate, used by every entry point."""
from __future__ import annotations

import warnings

import pytest
import torch

import posediff
from posediff.checkpoints import save_lifter
from posediff.errors import CheckpointError, InputError
from posediff.sources import locate
from posediff.weights import demo_checkpoint_path


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


def test_load_demo_by_name():
    # posediff.load("demo") failed before the loaders were unified (only --weights demo worked)
    lifter = _quiet(posediff.load, "demo")
    ref = _quiet(posediff.load, demo_checkpoint_path())
    for (k, a), (_, b) in zip(lifter.state_dict().items(), ref.state_dict().items()):
        assert torch.equal(a, b), k
    assert not lifter.training


def test_locate_names_every_kind(tmp_path):
    assert locate("demo").kind == "shipped" and locate("demo").weights == demo_checkpoint_path()
    assert locate("finepose-tiny").kind == "spec"
    assert locate({"meta": {"name": "x"}}).kind == "spec"
    spec = tmp_path / "m.toml"
    spec.write_text("[lifter]\n")
    assert locate(spec).kind == "spec"
    ck = save_lifter(_quiet(posediff.load, "demo"), tmp_path / "run" / "checkpoints" / "last.pt")
    (tmp_path / "run" / "train_config.json").write_text('{"data": "synthetic"}')
    run = locate(tmp_path / "run")
    assert run.kind == "run" and run.weights == ck and run.train_config == {"data": "synthetic"}
    assert run.notes == ["the run has no best.pt; using last.pt"]
    file = locate(ck)
    assert file.kind == "checkpoint" and file.run_dir == tmp_path / "run"
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        locate(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        locate("runs/missing")
    with pytest.raises(InputError, match="must not be empty"):
        locate("  ")
    with pytest.raises(InputError, match="name, a path or a spec dict"):
        locate(3)


def test_a_spec_is_not_weights_unless_asked():
    with pytest.raises(InputError, match=r"holds no trained weights; posediff.build\('finepose-tiny'\)"):
        posediff.load("finepose-tiny")
    lifter, where = _quiet(posediff.load, "finepose-tiny", untrained=True, details=True)
    assert "untrained" in where.label and where.weights is None
    with pytest.raises(InputError, match="is a spec, not weights"):
        posediff.load("finepose-tiny", spec="finepose-tiny")


def test_build_only_builds_and_names_the_loader():
    # build(weights=) was a second way to load (issue 20, item 4); it now says which posediff.load call to use
    with pytest.raises(InputError, match=r"random weights.*posediff.load\('demo'\).*posediff.load\('demo', spec=\.\.\.\)"):
        posediff.build("finepose-tiny", weights="demo")


def test_load_into_a_given_spec_keeps_that_spec():
    demo = _quiet(posediff.load, "demo")
    model, where = _quiet(posediff.load, "demo", spec=demo.spec, overrides={"sampler.steps": 1}, details=True)
    assert model.spec["sampler"]["steps"] == 1 and demo.spec["sampler"]["steps"] != 1
    assert any("given spec" in n for n in where.notes) and not model.training
    for k, v in demo.state_dict().items():
        assert torch.equal(v, model.state_dict()[k]), k
    with pytest.raises(InputError, match="spec= apply when"):
        posediff.load(demo, spec=demo.spec)


def test_every_entry_point_accepts_the_same_sources(tmp_path):
    demo = _quiet(posediff.load, "demo")
    ref = demo.state_dict()
    built = _quiet(posediff.load, "demo", spec=demo.spec).state_dict()  # a shipped name into a given spec
    model, where = _quiet(posediff.load, "demo", device="cpu", details=True)
    info = where.record()
    assert info["source"] == "shipped weights 'demo'" and len(info["sha256"]) == 64
    for k in ref:
        assert torch.equal(ref[k], built[k]) and torch.equal(ref[k], model.state_dict()[k]), k
    res = _quiet(posediff.lift, torch.zeros(30, 17, 2).numpy() + 100.0, weights="demo", image_size=(200, 200),
                 hypotheses=1, steps=1, seed=0)
    assert res.poses3d.shape == (30, 17, 3) and res.metadata["weights"] == "demo"


def test_overrides_reach_the_loaded_model():
    lifter = _quiet(posediff.load, "demo", overrides={"sampler.steps": 2})
    assert lifter.spec["sampler"]["steps"] == 2 and lifter.sampling.steps == 2
    with pytest.raises(InputError, match="already built PoseLifter"):
        posediff.load(lifter, overrides={"sampler.steps": 3})
    assert posediff.load(lifter) is lifter


def test_weights_of_another_shape_give_a_checkpoint_error_not_a_torch_error():
    # build(weights=) with a checkpoint of another width raised torch's RuntimeError (size mismatch); the same
    # load now goes through posediff.load(spec=)
    with pytest.raises(CheckpointError, match=r"differ in shape, e.g. .*posediff.load reads the spec"):
        _quiet(posediff.load, "demo", spec="finepose-tiny")
