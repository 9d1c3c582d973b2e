"""Training checkpoints: what they hold, random-number states, and finding the one to resume from.

A training checkpoint is a posediff checkpoint (``format``, ``version``, ``spec``, ``state_dict``,
``extra``; so :func:`posediff.load` and ``posediff evaluate`` read it) plus a ``training`` entry::

    {"step", "epoch", "index",             # data position: next clip of the epoch's order
     "optimizer", "scheduler", "scaler",   # state dicts (scaler None without fp16)
     "rng": [per-rank {"python", "numpy", "torch", "cuda", "noise"}],
     "world_size", "config", "best", "elapsed_s", "torch_version", "kind"}

Everything is plain data or tensors, so it loads with ``torch.load(weights_only=True)``.
Files (all written atomically by :func:`posediff.checkpoints.save_checkpoint`) live in
``RUN_DIR/checkpoints``: ``last.pt`` (newest), ``best.pt`` (lowest validation error) and
``step_{n:08d}.pt`` (kept every ``keep_every`` steps).
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ..checkpoints import checkpoint_dir, checkpoint_files, find_weights, read_checkpoint
from ..errors import CheckpointError

__all__ = [
    "capture_rng",
    "restore_rng",
    "checkpoint_dir",
    "checkpoint_files",
    "find_resume_checkpoint",
    "find_weights",
]

def capture_rng(noise: Optional[torch.Generator] = None) -> dict[str, Any]:
    """This process's random states: python, numpy (legacy global), torch CPU, CUDA and the noise generator.

    Stored as tensors/ints so ``weights_only`` loading accepts them.
    """
    version, py_state, gauss = random.getstate()
    name, key, pos, has_gauss, cached = np.random.get_state()
    out: dict[str, Any] = {
        "python": {"version": int(version), "state": torch.tensor(py_state, dtype=torch.int64),
                   "gauss": None if gauss is None else float(gauss)},
        "numpy": {"name": str(name), "key": torch.from_numpy(np.asarray(key, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else [],
        "noise": None if noise is None else noise.get_state(),
    }
    return out


def restore_rng(state: dict[str, Any], noise: Optional[torch.Generator] = None) -> None:
    """Inverse of :func:`capture_rng`."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    npst = state["numpy"]
    np.random.set_state((npst["name"], npst["key"].numpy().astype(np.uint32), npst["pos"], npst["has_gauss"],
                         npst["cached"]))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    if noise is not None and state.get("noise") is not None:
        noise.set_state(state["noise"])


def _read_training(path: Path) -> dict:
    data = read_checkpoint(path)
    if not isinstance(data.get("training"), dict) or "state_dict" not in data:
        raise CheckpointError(f"{str(path)!r} is not a posediff training checkpoint (no 'training' state)")
    return data


def find_resume_checkpoint(run_dir: str | Path) -> tuple[Optional[Path], Optional[dict], list[str]]:
    """The newest readable training checkpoint of a run.

    Tries ``last.pt``; if it is missing or corrupted (:class:`~posediff.errors.CheckpointError`), falls back
    to the newest readable ``step_*.pt`` or ``best.pt``, whichever is further along.

    Returns:
        ``(path, checkpoint, notes)``; ``(None, None, notes)`` when the run has no checkpoint at all.
        ``notes`` describe every file that was skipped and why.

    Raises:
        CheckpointError: checkpoints exist but none can be read.
    """
    files = checkpoint_files(run_dir)
    notes: list[str] = []
    if files["last"] is not None:
        try:
            return files["last"], _read_training(files["last"]), notes
        except CheckpointError as exc:
            notes.append(f"skipping {files['last'].name}: {exc}")
    found: list[tuple[int, Path, dict]] = []
    for _, p in files["steps"]:
        try:
            data = _read_training(p)
        except CheckpointError as exc:
            notes.append(f"skipping {p.name}: {exc}")
            continue
        found.append((int(data["training"]["step"]), p, data))
        break
    if files["best"] is not None:
        try:
            data = _read_training(files["best"])
            found.append((int(data["training"]["step"]), files["best"], data))
        except CheckpointError as exc:
            notes.append(f"skipping {files['best'].name}: {exc}")
    if found:
        found.sort(key=lambda r: r[0], reverse=True)
        step, p, data = found[0]
        if notes:
            notes.append(f"resuming from the last good checkpoint {p.name} (step {step})")
        return p, data, notes
    if files["last"] is None and not files["steps"] and files["best"] is None:
        return None, None, notes
    raise CheckpointError(
        f"run {str(run_dir)!r}: no readable checkpoint to resume from ({'; '.join(notes)})"
    )
