"""scripts/campaign.py: a run packed small for the repository unpacks to the same checkpoint and resumes."""
from __future__ import annotations

import warnings

import torch

from posediff.training import train

from script_loader import load_script
from training_helpers import TINY


def _campaign():
    return load_script("scripts/campaign.py")


def _train_two_steps(out) -> None:
    """A tiny FinePOSE run of two steps with EMA weights (its offline tower is what pack leaves out)."""
    train("finepose-tiny", out=out, max_steps=2, **{**TINY, "ema_decay": 0.9, "val_subjects": ["none"]})


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def test_pack_leaves_out_the_rebuilt_tower_and_unpack_restores_every_tensor(tmp_path):
    campaign = _campaign()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _train_two_steps(tmp_path / "run")
        packed = campaign.pack(tmp_path / "run", tmp_path / "campaign")
        original = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
        small = torch.load(packed, weights_only=True)
        regen = small["campaign_regenerated"]["keys"]
        assert "conditioner.text_encoder.tower.token_embedding.weight" in regen
        assert not set(regen) & set(small["state_dict"]) and not set(regen) & set(small["training"]["raw_state_dict"])
        assert packed.stat().st_size < 0.5 * (tmp_path / "run" / "checkpoints" / "last.pt").stat().st_size
        assert (tmp_path / "campaign" / "train_config.json").is_file()
        campaign.unpack(tmp_path / "campaign", tmp_path / "again")
        back = torch.load(tmp_path / "again" / "checkpoints" / "last.pt", weights_only=True)
        assert _equal(back, original)
        res = train(resume=True, out=tmp_path / "again", max_steps=3, progress=False)
    assert res.step == 3


def test_data_paths_are_portable(tmp_path, monkeypatch):
    """A committed run records its data as '$POSEDIFF_SHARED/...' (no path of one machine), expanded when read;
    a resumed run may point to another copy of the same data."""
    import pytest

    from posediff.errors import InputError
    from posediff.training.config import BUDGET_FIELDS, CORE_FIELDS
    from posediff.training.datasets import parse_data

    monkeypatch.setenv("POSEDIFF_SHARED", str(tmp_path))
    assert parse_data("h36m:$POSEDIFF_SHARED/data/h36m").path == tmp_path / "data" / "h36m"
    monkeypatch.delenv("POSEDIFF_SHARED")
    with pytest.raises(InputError, match="environment variable that is not set"):
        parse_data("h36m:$POSEDIFF_SHARED/data/h36m")
    assert "data" in BUDGET_FIELDS and "data" not in CORE_FIELDS
    monkeypatch.setenv("POSEDIFF_SHARED", "/some/machine/shared")
    assert _campaign()._portable("h36m:/some/machine/shared/data/h36m") == "h36m:$POSEDIFF_SHARED/data/h36m"


def test_weights_only_pack_continues_as_a_new_stage_with_init(tmp_path):
    """A finished stage is packed with its EMA weights only (no optimizer state: a quarter of the size for a wide
    model); unpacked, it gives the same weights, starts the next stage with --init, and refuses --resume."""
    import pytest

    from posediff.errors import PosediffError

    campaign = _campaign()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _train_two_steps(tmp_path / "run")
        full = campaign.pack(tmp_path / "run", tmp_path / "full")
        packed = campaign.pack(tmp_path / "run", tmp_path / "campaign", weights_only=True)
        small = torch.load(packed, weights_only=True)
        assert "training" not in small and small["campaign_weights_only"] is True
        assert packed.stat().st_size < 0.6 * full.stat().st_size
        campaign.unpack(tmp_path / "campaign", tmp_path / "again")
        original = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
        back = torch.load(tmp_path / "again" / "checkpoints" / "last.pt", weights_only=True)
        assert _equal(back["state_dict"], original["state_dict"])
        assert not (tmp_path / "again" / "train_config.json").exists()
        res = train("finepose-tiny", out=tmp_path / "next", max_steps=1,
                    init_weights=tmp_path / "again" / "checkpoints" / "last.pt",
                    **{**TINY, "val_subjects": ["none"]})
        assert res.step == 1
        with pytest.raises(PosediffError):
            train(resume=True, out=tmp_path / "again", max_steps=3, progress=False)
