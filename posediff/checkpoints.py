"""posediff checkpoints: atomic writes, a content hash, ``weights_only=True`` loading.

A posediff checkpoint is a ``torch.save`` of a plain dict::

    {"format": "posediff", "version": 1, "spec": <resolved spec>, "state_dict": {...},
     "extra": {...}}

written to a temporary file, fsynced and renamed over the target, with a ``.sha256`` file beside it.
Loading uses ``torch.load(weights_only=True)``; a truncated or corrupted file raises
:class:`~posediff.errors.CheckpointError`.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any, Mapping

import torch

from .errors import CheckpointError

__all__ = ["save_checkpoint", "read_checkpoint", "save_lifter", "load_state_into", "state_dict_of", "file_sha256",
           "tensors_digest", "checkpoint_dir", "checkpoint_files", "find_weights"]

FORMAT = "posediff"


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tensors_digest(state: Mapping[str, torch.Tensor], keys) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``state[k]`` for ``k`` in sorted ``keys``."""
    h = hashlib.sha256()
    for k in sorted(keys):
        t = state[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_checkpoint(payload: Mapping[str, Any], path: str | Path) -> Path:
    """Atomically write ``payload`` (tensors, dicts, lists, numbers, strings) to ``path``.

    The bytes go to a temporary file in the same folder, are fsynced, hashed, and renamed over
    ``path``; the hash goes to ``path + ".sha256"``. A crash leaves either the old or the new file.
    The old hash file is removed before the rename and the new one renamed in after it, so a crash
    between the two renames leaves a file without a hash (loaded unverified), never a good file
    with a stale hash (which would read as corrupted).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    side = path.with_name(path.name + ".sha256")
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    side_tmp = Path(tmp + ".sha256")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(dict(payload), fh)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600 files; give the checkpoint the permissions of a normally created file
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        side_tmp.write_text(file_sha256(tmp) + "\n")
        side.unlink(missing_ok=True)
        os.replace(tmp, path)
        os.replace(side_tmp, side)
    except BaseException:
        for leftover in (tmp, side_tmp):
            if os.path.exists(leftover):
                os.unlink(leftover)
        raise
    return path


_TORCH_ADVICE = ("weights_only", "Re-running", "arbitrary code", "trusted source", "In PyTorch 2.6",
                 "Please file an issue", "Check the documentation")


def _load_failure_reason(exc: BaseException) -> str:
    """The informative part of a torch.load failure: the 'Unsupported global'/operand line when there is one,
    else the first sentence that is not torch's generic advice (never its suggestion to load unsafely)."""
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if "Unsupported global" in ln or "GLOBAL" in ln or "Unsupported operand" in ln:
            return ln
    sentences = [x.strip() for ln in lines for x in ln.replace("? ", ". ").split(". ") if x.strip()]
    useful = [x for x in sentences if not any(w in x for w in _TORCH_ADVICE) and x != "Weights only load failed"]
    return useful[0] if useful else "it holds objects other than tensors and plain data"


def _not_a_checkpoint(path: Path) -> str | None:
    """Why ``path`` is plainly not a PyTorch checkpoint (a NumPy archive, a text file, …), or None."""
    import zipfile

    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
            if names and all("/" not in n for n in names):
                arrays = ", ".join(n[:-4] for n in names[:4] if n.endswith(".npy"))
                return (f"it is a NumPy .npz archive (arrays {arrays or names[:4]}), e.g. a posediff lift result, "
                        "keypoints or a data file — not a model checkpoint")
            return None
        if not head.startswith(b"\x80"):
            return "it is neither a PyTorch zip archive nor a pickle (a text or other file?)"
    except OSError:
        return None
    return None


def read_checkpoint(path: str | Path, verify: bool = True) -> dict:
    """Load a checkpoint dict with ``weights_only=True``; verify its hash when a ``.sha256`` exists.

    Raises:
        CheckpointError: missing file, hash mismatch, truncated or unreadable file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {str(path)!r}")
    side = path.with_name(path.name + ".sha256")
    if verify and side.is_file():
        want = side.read_text().strip()
        got = file_sha256(path)
        if want and got != want:
            raise CheckpointError(
                f"checkpoint {str(path)!r} is corrupted: its SHA-256 {got[:12]}… does not match the "
                f"recorded {want[:12]}… (truncated or modified after writing)"
            )
    plainly = _not_a_checkpoint(path)
    if plainly is not None:
        raise CheckpointError(f"{str(path)!r} is not a checkpoint: {plainly}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's note on pickle protocols, not the user's concern
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"cannot read checkpoint {str(path)!r} safely (weights_only=True): {type(exc).__name__}: "
            f"{_load_failure_reason(exc)} (posediff loads only tensors and plain data, never arbitrary Python "
            "objects; an official FinePOSE/D3DP file is read with `posediff convert`)"
        ) from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint {str(path)!r} holds a {type(data).__name__}, expected a dict")
    return data


def save_lifter(lifter, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
    """Save a lifter's weights together with its resolved spec."""
    return save_checkpoint(
        {"format": FORMAT, "version": 1, "spec": lifter.spec, "state_dict": lifter.state_dict(),
         "extra": dict(extra or {})},
        path,
    )


def state_dict_of(data: dict, path: str | Path) -> dict:
    """The ``state_dict`` of a checkpoint dict read from ``path``; CheckpointError (with advice for an
    official FinePOSE/D3DP file) when the dict is not a posediff checkpoint."""
    if data.get("format") == FORMAT:
        return data["state_dict"]
    keys = list(data)[:3]
    if any(str(k).startswith("module.") for k in data) or "model_pos" in data:
        raise CheckpointError(
            f"{str(path)!r} looks like an official FinePOSE/D3DP checkpoint ('model_pos' / 'module.' keys); "
            "convert it with posediff.convert.from_official(...) or `posediff convert`"
        )
    raise CheckpointError(f"{str(path)!r} is not a posediff checkpoint (keys {keys})")


def load_state_into(lifter, path: str | Path, data: Mapping[str, Any] | None = None) -> None:
    """Load the weights of a posediff checkpoint into an existing lifter (strict).

    Frozen tensors the checkpoint lists as ``"regenerated"`` (rebuilt from the spec instead of stored,
    see :func:`posediff.loading.regenerable_keys`) are not in its ``state_dict``: the lifter's own values
    are kept, after checking that they are the ones that were saved (their digest).

    Args:
        lifter: The model to fill (built from the checkpoint's spec or a compatible one).
        path: The checkpoint file (read unless ``data`` is given; named in errors).
        data: The checkpoint dict, when already read.

    Raises:
        CheckpointError: not a posediff checkpoint, keys that do not fit, or regenerated tensors that differ.
    """
    data = read_checkpoint(path) if data is None else data
    state = state_dict_of(dict(data), path)
    regen = data.get("regenerated") or {}
    regen_keys = set(regen.get("keys", []))
    if regen_keys:
        own = lifter.state_dict()
        absent = sorted(regen_keys - set(own))
        if absent or tensors_digest(own, regen_keys) != regen.get("sha256"):
            raise CheckpointError(
                f"checkpoint {str(path)!r} stores {len(regen_keys)} frozen tensors as 'rebuilt from the spec', but "
                "this build of the spec gives other values (different PyTorch random generator or posediff "
                f"initialisation{'; missing ' + str(absent[:3]) if absent else ''}): the model would not be the "
                "one that was saved"
            )
    own = lifter.state_dict()
    shapes = [f"{k} {tuple(v.shape)} vs the model's {tuple(own[k].shape)}" for k, v in state.items()
              if k in own and hasattr(v, "shape") and tuple(v.shape) != tuple(own[k].shape)]
    if shapes:
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not fit this model: {len(shapes)} tensor(s) differ in shape, e.g. "
            f"{'; '.join(shapes[:3])} (was it trained with another spec? posediff.load reads the spec it carries)"
        )
    result = lifter.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if k not in regen_keys]
    if missing or result.unexpected_keys:
        raise CheckpointError(
            f"checkpoint {str(path)!r} does not fit this model: missing {missing[:5]}"
            f"{'…' if len(missing) > 5 else ''}, unexpected {list(result.unexpected_keys)[:5]}"
            f"{'…' if len(result.unexpected_keys) > 5 else ''}"
        )


# ------------------------------------------------------------------------------ run folder layout
_STEP_RE = re.compile(r"^step_(\d+)\.pt$")


def checkpoint_dir(run_dir: str | Path) -> Path:
    """``RUN_DIR/checkpoints``."""
    return Path(run_dir) / "checkpoints"


def checkpoint_files(run_dir: str | Path) -> dict[str, Any]:
    """``{"last": Path|None, "best": Path|None, "steps": [(step, Path), ...] newest first}``."""
    d = checkpoint_dir(run_dir)
    steps = []
    if d.is_dir():
        for p in d.iterdir():
            m = _STEP_RE.match(p.name)
            if m:
                steps.append((int(m.group(1)), p))
    steps.sort(reverse=True)
    last, best = d / "last.pt", d / "best.pt"
    return {"last": last if last.is_file() else None, "best": best if best.is_file() else None, "steps": steps}


def find_weights(source: str | Path) -> Path:
    """The weights file behind a run folder or a file: ``best.pt``, else ``last.pt``, else the newest ``step_*.pt``.

    Raises:
        CheckpointError: a folder without any checkpoint, or a path that does not exist.
    """
    p = Path(source)
    if p.is_file():
        return p
    if p.is_dir():
        files = checkpoint_files(p)
        for cand in (files["best"], files["last"], *(q for _, q in files["steps"])):
            if cand is not None:
                return cand
        direct = sorted(p.glob("*.pt"))
        if direct:
            return direct[-1]
        raise CheckpointError(f"{str(p)!r} holds no checkpoint (expected checkpoints/best.pt or last.pt)")
    raise CheckpointError(f"weights not found: {str(p)!r} (a run folder or a .pt checkpoint)")
