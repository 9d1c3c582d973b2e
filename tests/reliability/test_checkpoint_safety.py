"""Checkpoints: atomic writes survive crashes, corruption is a clear CheckpointError, and no loader ever runs
code from a file (malicious pickles are refused by every loader; a marker file proves nothing executed)."""
from __future__ import annotations

import ast
import io
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import posediff
from posediff import checkpoints as C
from posediff.errors import CheckpointError, DataError, PosediffError

from reliability_helpers import record

REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------- atomic writes
def _payload(v: float) -> dict:
    return {"format": "posediff", "version": 1, "state_dict": {"w": torch.full((3,), v)}, "extra": {"v": v}}


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_crash_while_torch_save_writes_leaves_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    C.save_checkpoint(_payload(1.0), path)
    before = path.read_bytes()
    real_save = torch.save

    def partial_save(obj, f, *args, **kwargs):
        buf = io.BytesIO()
        real_save(obj, buf, *args, **kwargs)
        f.write(buf.getvalue()[: len(buf.getvalue()) // 2])  # half the bytes reach the disk
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", partial_save)
    with pytest.raises(OSError, match="No space"):
        C.save_checkpoint(_payload(2.0), path)
    monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == before
    assert _files(tmp_path) == ["last.pt", "last.pt.sha256"]  # no temporary file left behind
    assert torch.equal(C.read_checkpoint(path)["state_dict"]["w"], torch.full((3,), 1.0))


@pytest.mark.parametrize("crash_at", [1, 2], ids=["before-rename", "between-renames"])
def test_crash_during_renames_never_leaves_an_unreadable_file(tmp_path, monkeypatch, crash_at):
    """Crash at the rename of the data (old file stays) or of the hash (new file, loaded unverified)."""
    path = tmp_path / "last.pt"
    C.save_checkpoint(_payload(1.0), path)
    real_replace = os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == crash_at:
            raise OSError("power cut")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(OSError, match="power cut"):
        C.save_checkpoint(_payload(2.0), path)
    monkeypatch.setattr(os, "replace", real_replace)
    got = C.read_checkpoint(path)["state_dict"]["w"]  # readable either way, never "corrupted"
    assert torch.equal(got, torch.full((3,), 1.0 if crash_at == 1 else 2.0))
    assert not [n for n in _files(tmp_path) if n.endswith(".tmp") or ".tmp." in n]
    C.save_checkpoint(_payload(3.0), path)  # the next save restores the hash
    assert _files(tmp_path) == ["last.pt", "last.pt.sha256"]
    assert torch.equal(C.read_checkpoint(path)["state_dict"]["w"], torch.full((3,), 3.0))


# ---------------------------------------------------------------------------------------- corruption
def _corrupt(kind: str, path: Path) -> None:
    raw = path.read_bytes()
    side = path.with_name(path.name + ".sha256")
    if kind == "flipped-byte":
        b = bytearray(raw)
        b[len(b) // 2] ^= 0xFF
        path.write_bytes(bytes(b))
    elif kind == "truncated":
        path.write_bytes(raw[: len(raw) // 3])
    elif kind == "truncated-no-hash":
        path.write_bytes(raw[: len(raw) // 3])
        side.unlink()
    elif kind == "empty-no-hash":
        path.write_bytes(b"")
        side.unlink()
    elif kind == "garbage-no-hash":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
        side.unlink()
    elif kind == "not-a-dict":
        side.unlink()
        torch.save([torch.zeros(2)], path)
    elif kind == "wrong-hash-file":
        side.write_text("0" * 64 + "\n")


CORRUPTIONS = ["flipped-byte", "truncated", "truncated-no-hash", "empty-no-hash", "garbage-no-hash", "not-a-dict",
               "wrong-hash-file"]


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_corrupted_checkpoint_is_a_clear_checkpoint_error(kind, tmp_path, d3dp_lifter):
    path = tmp_path / "model.pt"
    C.save_lifter(d3dp_lifter, path)
    _corrupt(kind, path)
    for load in (C.read_checkpoint, posediff.load, lambda p: posediff.load(p, spec="d3dp-tiny")):
        with pytest.raises(CheckpointError) as info:
            load(path)
        msg = str(info.value)
        assert str(path) in msg and len(msg.splitlines()) == 1, msg
        assert any(w in msg for w in ("corrupted", "cannot read", "expected a dict")), msg


def test_checkpoint_of_another_model_names_the_keys(tmp_path, d3dp_lifter, fine_lifter):
    path = tmp_path / "d3dp.pt"
    C.save_lifter(d3dp_lifter, path)
    with pytest.raises(CheckpointError, match="missing .*unexpected"):
        C.load_state_into(fine_lifter, path)


# ---------------------------------------------------------------------------------------- malicious pickles
class _Evil:
    """Unpickling this object runs ``exec`` — which would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def _write_malicious(kind: str, path: Path, marker: Path) -> Path:
    evil = _Evil(marker)
    if kind == "posediff-zip-with-valid-hash":
        torch.save({"format": "posediff", "version": 1, "spec": posediff.resolve_spec("d3dp-tiny"),
                    "state_dict": {}, "extra": evil}, path)
        path.with_name(path.name + ".sha256").write_text(C.file_sha256(path) + "\n")
    elif kind == "legacy-torch-format":
        torch.save({"state_dict": evil}, path, _use_new_zipfile_serialization=False)
    elif kind == "raw-pickle":
        path.write_bytes(pickle.dumps({"state_dict": evil}, protocol=2))
    elif kind == "official-layout":
        torch.save({"model_pos": {"module.pose_estimator.head.1.weight": evil}}, path)
    elif kind == "tensor-in-reduce":
        torch.save({"model_pos": {"w": torch.zeros(2)}, "epoch": evil}, path)
    return path


def _train_init(path, tmp):
    from posediff.training import train

    return train("d3dp-tiny", data="synthetic:subjects=2,frames=27,cameras=1", out=tmp / "run_init",
                 init_weights=path, max_steps=1, progress=False)


def _train_resume(path, tmp):
    from posediff.training import train

    run = tmp / "run_resume"
    (run / "checkpoints").mkdir(parents=True)
    os.replace(path, run / "checkpoints" / "last.pt")
    side = Path(str(path) + ".sha256")
    if side.exists():
        os.replace(side, run / "checkpoints" / "last.pt.sha256")
    return train(None, out=run, resume=True, max_steps=1, progress=False)


def _clip_weights(path, tmp):
    from posediff.text_encoders.open_clip import load_clip_state_dict

    return load_clip_state_dict(path)


TORCH_LOADERS = {
    "read_checkpoint": lambda p, t: C.read_checkpoint(p),
    "posediff.load": lambda p, t: posediff.load(p),
    "load(spec=)": lambda p, t: posediff.load(p, spec="d3dp-tiny"),
    "convert.read_official": lambda p, t: posediff.convert.read_official(p),
    "convert.from_official": lambda p, t: posediff.convert.from_official(p, spec="d3dp-tiny"),
    "posediff.lift(weights=)": lambda p, t: posediff.lift(np.zeros((5, 17, 2)), weights=p),
    "posediff.load(details=True)": lambda p, t: posediff.load(p, details=True),
    "train(init_weights=)": _train_init,
    "train(resume=True)": _train_resume,
    "open_clip weights": _clip_weights,
}
MALICIOUS = ["posediff-zip-with-valid-hash", "legacy-torch-format", "raw-pickle", "official-layout",
             "tensor-in-reduce"]


@pytest.mark.parametrize("kind", MALICIOUS)
@pytest.mark.parametrize("loader", sorted(TORCH_LOADERS))
def test_malicious_pickle_is_refused_by_every_loader(loader, kind, tmp_path):
    import posediff.convert  # noqa: F401

    marker = tmp_path / "marker"
    path = _write_malicious(kind, tmp_path / "evil.pt", marker)
    with pytest.raises(CheckpointError) as info:
        TORCH_LOADERS[loader](path, tmp_path)
    assert not marker.exists(), f"{loader} executed code from a {kind} file"
    assert "weights_only" in str(info.value), str(info.value)


class _EvilArray:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


NPZ_LOADERS = {
    "data.load_h36m": (lambda p: posediff.data.load_h36m(p), "positions_3d"),
    "data.load_3dhp_npz": (lambda p: posediff.data.load_3dhp_npz(p), "data"),
    "data.read_keypoints": (lambda p: posediff.data.read_keypoints(p), "keypoints"),
    "convert.read_official(.npz)": (lambda p: posediff.convert.read_official(p), "weight"),
    "posediff.lift(npz file)": (lambda p: posediff.lift(p, lifter="d3dp-tiny"), "keypoints"),
    "training.load_dataset(h36m:)": (lambda p: posediff.training.load_dataset(f"h36m:{p}", ["S1"]), "positions_3d"),
}


@pytest.mark.parametrize("loader", sorted(NPZ_LOADERS))
def test_malicious_npz_is_refused_by_every_data_loader(loader, tmp_path):
    import posediff.convert  # noqa: F401
    import posediff.training  # noqa: F401

    marker = tmp_path / "marker"
    call, key = NPZ_LOADERS[loader]
    path = tmp_path / "evil.npz"
    np.savez(path, **{key: np.array({"S1": {"Walking": _EvilArray(marker)}}, dtype=object)})
    with pytest.raises(PosediffError) as info:
        call(path)
    assert isinstance(info.value, (DataError, CheckpointError)), repr(info.value)
    assert not marker.exists(), f"{loader} executed code from an npz file"


def test_safe_npz_reads_plain_object_arrays(tmp_path):
    """The restricted unpickler still reads the VideoPose3D layout: nested dicts of float arrays."""
    from posediff.data.safe_npz import load_npz

    data = {"S1": {"Walking": np.arange(12, dtype=np.float32).reshape(2, 2, 3), "Eating 2": np.zeros((1, 32, 3))}}
    meta = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[1, 2], [4, 5]]}
    np.savez(tmp_path / "ok.npz", positions_3d=np.array(data, dtype=object), metadata=np.array(meta, dtype=object),
             plain=np.ones((2, 3), dtype=np.float64))
    out = load_npz(tmp_path / "ok.npz")
    assert out["metadata"].item() == meta
    got = out["positions_3d"].item()
    assert np.array_equal(got["S1"]["Walking"], data["S1"]["Walking"]) and got["S1"]["Walking"].dtype == np.float32
    assert np.array_equal(out["plain"], np.ones((2, 3)))


# ---------------------------------------------------------------------------------------- source audit
def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = ast.unparse(func) if isinstance(func, (ast.Attribute, ast.Name)) else ""
            yield name, {kw.arg: kw.value for kw in node.keywords}, node


# The CLI imports its own subcommand modules, ``posediff.cli.<name>_cmd`` for a fixed tuple of names.
ALLOWED_IMPORTS = {("posediff/cli/__init__.py", "importlib.import_module")}


def test_every_loader_call_in_the_package_is_safe():
    """Every ``torch.load`` passes ``weights_only=True``, every ``np.load`` ``allow_pickle=False``; no
    ``pickle.load(s)``, ``yaml.load``/``unsafe_load``, ``eval``/``exec`` or ``importlib.import_module``."""
    bad, counted = [], 0
    for path in sorted((REPO / "posediff").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        where = path.relative_to(REPO)
        for name, kw, node in _calls(tree):
            loc = f"{where}:{node.lineno}"
            if name.endswith("torch.load") or name == "torch.load":
                counted += 1
                v = kw.get("weights_only")
                if not (isinstance(v, ast.Constant) and v.value is True):
                    bad.append(f"{loc}: torch.load without weights_only=True")
            elif name in ("np.load", "numpy.load"):
                counted += 1
                v = kw.get("allow_pickle")
                if not (isinstance(v, ast.Constant) and v.value is False):
                    bad.append(f"{loc}: np.load without allow_pickle=False")
            elif name in ("pickle.load", "pickle.loads", "yaml.load", "yaml.unsafe_load", "eval", "exec",
                          "importlib.import_module", "__import__", "marshal.loads"):
                if (str(where), name) not in ALLOWED_IMPORTS:
                    bad.append(f"{loc}: {name}")
    assert not bad, "unsafe loading in posediff:\n" + "\n".join(bad)
    assert counted >= 5  # the audit looked at real call sites
    record("checkpoint_safety_audit", load_calls=counted,
           malicious_cases=len(TORCH_LOADERS) * len(MALICIOUS) + len(NPZ_LOADERS), corruptions=len(CORRUPTIONS))


# ---------------------------------------------------------------------------------------- official checkpoints
def _official_like(path: Path, numpy1_names: bool = False, extra=None) -> Path:
    """A D3DP/FinePOSE-style training checkpoint: ``model_pos`` plus epoch, lr, optimizer and the numpy
    RandomState of the data generator (which plain ``weights_only`` loading refuses)."""
    import zipfile

    lifter = posediff.build("d3dp-tiny")
    sd = posediff.convert.to_official(backbone=lifter.backbone, alphas_cumprod=lifter.sampler.schedule.alphas_cumprod())
    ck = {"epoch": 80, "lr": 6e-5, "random_state": np.random.RandomState(1234).get_state(),
          "optimizer": torch.optim.AdamW(lifter.parameters()).state_dict(), "model_pos": sd}
    if extra is not None:
        ck["random_state"] = extra
    torch.save(ck, path)
    if numpy1_names:  # the names a numpy 1.x pickle uses
        raw = io.BytesIO()
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_STORED) as dst:
            for info in src.infolist():
                data = src.read(info.filename)
                if info.filename.endswith("data.pkl"):
                    data = data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
                dst.writestr(info, data)
        path.write_bytes(raw.getvalue())
    return path


@pytest.mark.parametrize("numpy1_names", [False, True], ids=["numpy2-pickle", "numpy1-pickle"])
def test_official_checkpoint_with_numpy_state_converts_safely(numpy1_names, tmp_path):
    import posediff.convert  # noqa: F401

    path = _official_like(tmp_path / "best_epoch_20_10.bin", numpy1_names)
    with pytest.raises(Exception):  # plain weights_only refuses the numpy RandomState ...
        torch.load(path, weights_only=True)
    lifter = posediff.convert.from_official(path, spec="d3dp-tiny")  # ... the converter's allow-list reads it
    assert lifter.frames == 27


def test_official_checkpoint_with_objects_inside_numpy_arrays_is_refused(tmp_path):
    import posediff.convert  # noqa: F401

    marker = tmp_path / "marker"
    path = _official_like(tmp_path / "evil.bin", extra=np.array([_Evil(marker), 1], dtype=object))
    with pytest.raises(CheckpointError, match="weights_only=True.*never unpickles"):
        posediff.convert.from_official(path, spec="d3dp-tiny")
    assert not marker.exists()


# ---------------------------------------------------------------------------------------- resume fallback
def test_resume_skips_an_unsafe_last_checkpoint(tmp_path):
    """A tampered ``last.pt`` (malicious pickle, no hash) is skipped: resume uses the newest good step file."""
    from posediff.training import find_resume_checkpoint, train

    run = tmp_path / "run"
    settings = dict(data="synthetic:subjects=2,frames=27,cameras=1", progress=False, val_subjects=["none"],
                    checkpoint_every=1, keep_every=2, batch_size=4)
    train("d3dp-tiny", out=run, max_steps=3, **settings)
    last = run / "checkpoints" / "last.pt"
    marker = tmp_path / "marker"
    (run / "checkpoints" / "last.pt.sha256").unlink()
    _write_malicious("raw-pickle", last, marker)
    path, ck, notes = find_resume_checkpoint(run)
    assert path.name == "step_00000002.pt" and ck["training"]["step"] == 2
    assert any("last.pt" in n and "weights_only" in n for n in notes)
    res = train(None, out=run, resume=True, max_steps=4, progress=False)
    assert res.resumed_from.name == "step_00000002.pt" and res.step == 4
    assert not marker.exists()


def test_checkpoint_file_permissions_follow_umask(tmp_path):
    """Regression: mkstemp made checkpoints 0600, unreadable by other users of a shared run folder."""
    import os

    from posediff.checkpoints import save_checkpoint

    umask = os.umask(0o022)
    try:
        path = save_checkpoint({"a": 1}, tmp_path / "c.pt")
    finally:
        os.umask(umask)
    assert (path.stat().st_mode & 0o777) == 0o644


def test_unsupported_global_is_named_in_the_error(tmp_path):
    """Regression: the error showed only torch's generic first line, hiding which global was refused."""
    import argparse

    import pytest
    import torch

    from posediff.checkpoints import read_checkpoint
    from posediff.errors import CheckpointError

    path = tmp_path / "odd.pt"
    torch.save({"x": argparse.Namespace(a=1)}, path)
    with pytest.raises(CheckpointError, match="Unsupported global|GLOBAL"):
        read_checkpoint(path)


def test_files_that_are_not_checkpoints_are_named_for_what_they_are(tmp_path):
    """A lift result (.npz), a text file or an unsafe pickle gives a plain message, never torch's advice to
    load with weights_only=False (the message before this fix)."""
    import pickle

    npz = tmp_path / "pose3d.npz"
    np.savez(npz, poses3d=np.zeros((5, 17, 3)))
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    unsafe = tmp_path / "unsafe.pt"
    unsafe.write_bytes(pickle.dumps({"a": {1, 2}}, protocol=4))
    for path, want in ((npz, "NumPy .npz archive"), (text, "neither a PyTorch zip archive nor a pickle"),
                       (unsafe, "only tensors and plain data")):
        for load in (C.read_checkpoint, posediff.load):
            with pytest.raises(CheckpointError) as info:
                load(path)
            msg = str(info.value)
            assert want in msg and "weights_only` set to `False`" not in msg and "Re-running" not in msg, msg
