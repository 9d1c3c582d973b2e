"""TrainConfig: official defaults, validation, round trip; the --data selector."""
from __future__ import annotations

import pytest

from posediff.errors import DataError, InputError
from posediff.training import TrainConfig, load_dataset, parse_data, to_skeleton
from posediff.training.datasets import accepted_actions, default_subjects


def test_defaults_are_the_official_recipe():
    c = TrainConfig()
    assert (c.lr, c.lr_decay, c.weight_decay, c.betas, c.eps, c.batch_size) == (6e-5, 0.993, 0.1, (0.9, 0.999),
                                                                                   1e-8, 4)
    assert c.flip and c.use_actions and c.amp == "none" and (c.seed, c.shuffle_seed) == (1, 1234)


def test_roundtrip():
    c = TrainConfig(lr=1e-3, train_subjects="S1, S5", betas=(0.8, 0.9))
    assert c.train_subjects == ["S1", "S5"]
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert c.replace(max_steps=5).max_steps == 5


@pytest.mark.parametrize("kw", [dict(lr=0), dict(batch_size=0), dict(lr_decay=1.5), dict(amp="fp8"),
                                dict(action_dropout=2.0), dict(max_minutes=-1), dict(device="tpu"),
                                dict(grad_accum=0), dict(data="")])
def test_exception(kw):
    with pytest.raises(InputError):
        TrainConfig(**kw)


def test_unknown_setting():
    with pytest.raises(InputError, match="unknown training settings"):
        TrainConfig.from_dict({"learning_rate": 1.0})


def test_parse_data():
    assert parse_data("synthetic").kind == "synthetic"
    sel = parse_data("synthetic:subjects=4,noise_px=1.5")
    assert sel.options == {"subjects": 4, "noise_px": 1.5}
    assert parse_data("h36m:/x/y").path.name == "y"
    for bad in ("h36m", "kitti:/x", "synthetic:foo=1", "synthetic:subjects=a", ""):
        with pytest.raises(InputError):
            parse_data(bad)


def test_synthetic_split():
    sel = parse_data("synthetic:subjects=3,frames=30,cameras=1")
    assert default_subjects(sel, "train") == ["synth-0", "synth-1"]
    assert default_subjects(sel, "val") == ["synth-2"]
    tr = load_dataset(sel, role="train")
    va = load_dataset(sel, role="val")
    assert set(tr.subjects) == {"synth-0", "synth-1"} and va.subjects == ["synth-2"]
    with pytest.raises(DataError):
        load_dataset(sel, ["synth-9"])


def test_missing_paths():
    with pytest.raises(DataError):
        load_dataset("h36m:/nonexistent/h36m")
    with pytest.raises(DataError):
        load_dataset("3dhp:/nonexistent/3dhp")


def test_to_skeleton_roundtrip():
    ds = load_dataset("synthetic:subjects=2,frames=30,cameras=1", role="val")
    there = to_skeleton(ds, "3dhp-17")
    assert there[0].skeleton == "3dhp-17"
    assert (there[0].x3d[:, 14] == 0).all()  # the pelvis stays the (zero) root
    back = to_skeleton(there, "h36m-17")
    assert (back[0].x2d == ds[0].x2d).all() and (back[0].x3d == ds[0].x3d).all()


def test_accepted_actions():
    import posediff

    lifter = posediff.build("finepose-tiny")
    mapping, rejected = accepted_actions(lifter, ["walking", "reaching", "", "Eating"])
    assert mapping == {"walking": "walking", "reaching": None, "": None, "Eating": "Eating"}
    assert rejected == ["reaching"]


def test_h36m_selection(shared_dir):
    path = shared_dir / "data" / "h36m"
    if not (path / "data_3d_h36m.npz").is_file():
        pytest.skip("shared H36M data absent")
    sel = parse_data(f"h36m:{path}")
    assert default_subjects(sel, "train") == ["S1", "S5", "S6", "S7"] and default_subjects(sel, "val") == ["S8"]
