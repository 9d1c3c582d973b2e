"""Weights shipped inside the package: names, files, hashes and provenance.

Each shipped model is ``posediff/assets/weights/<name>.pt`` (a posediff checkpoint, loaded with
``weights_only=True``) plus ``<name>.json``, its provenance record::

    {"name": ..., "sha256": <hex of the .pt>, "preset": ..., "spec": {...}, "command": "...",
     "commit": "...", "data": {"selector": "h36m:$POSEDIFF_SHARED/data/h36m", "file_sha256": ...,
     "train_subjects": [...], "held_out": ["S8"]}, "steps": ..., "cpu_minutes": ..., "wall_minutes": ...,
     "torch": "...", "results": {...}}

The hash in the record is checked every time the weights are resolved, so a damaged or swapped file is
refused with a :class:`~posediff.errors.CheckpointError` instead of silently giving other poses.

Names: the model names (``finepose-base-h36m``, ``finepose-small-h36m`` …) and the aliases of
:data:`ALIASES`: ``"h36m"`` is the default model for Human3.6M-like 2D (``finepose-base-h36m``, an 81-frame
window: 1.6 s of context at 50 Hz), ``"h36m-streaming"`` the short-window model for live use
(``finepose-small-h36m``, 9 frames: its default look-ahead is 4 frames, 133 ms at 30 fps, against 40 frames,
1.33 s, for the 81-frame model). ``"demo"`` is the small synthetic-data model kept for tests.
"""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from .checkpoints import file_sha256
from .errors import CheckpointError, InputError

__all__ = ["ALIASES", "DEFAULT_WEIGHTS", "STREAMING_WEIGHTS", "short_clip_hint", "DEMO_CHECKPOINT", "list_weights", "weights_path", "weights_record",
           "is_weights_name", "demo_checkpoint_path"]

ALIASES: dict[str, str] = {"h36m": "finepose-base-h36m", "h36m-streaming": "finepose-small-h36m"}
"""Short names of shipped models."""

DEFAULT_WEIGHTS = "h36m"
"""What ``posediff lift``, :func:`posediff.lift`, ``posediff evaluate`` and the demo use when no weights are
given: the 81-frame model."""

STREAMING_WEIGHTS = "h36m-streaming"
"""What ``posediff stream`` uses when no weights are given: the 9-frame model, whose output waits for
fewer future frames (look-ahead ``F // 2`` = 4 frames, 133 ms at 30 fps; the 81-frame model: 40 frames,
1.33 s)."""


def short_clip_hint(model_name: Any) -> str:
    """What ``lift``'s padding note adds when the default model pads a clip shorter than its window: on short
    held-out clips the shorter-window :data:`STREAMING_WEIGHTS` model was more accurate
    (``scripts/short_clips_eval.sh``, docs/lifting.md#short-clips). Empty for any other model."""
    if model_name != ALIASES.get(DEFAULT_WEIGHTS) or ALIASES.get(STREAMING_WEIGHTS) is None:
        return ""
    return (f"; on clips this short weights={STREAMING_WEIGHTS!r} (the 9-frame model) was more accurate on held-out "
            "Human3.6M (docs/lifting.md#short-clips)")


DEMO_CHECKPOINT = "demo_lifter.pt"
"""File name of the small bundled checkpoint in ``posediff/assets`` (``weights="demo"``)."""


def demo_checkpoint_path() -> Path:
    """Path of the bundled demo checkpoint (a small finepose-tiny trained on synthetic data)."""
    path = Path(str(resources.files("posediff") / "assets" / DEMO_CHECKPOINT))
    if not path.is_file():
        raise CheckpointError(
            f"the bundled demo checkpoint is missing ({path}); regenerate it with "
            "`python scripts/make_demo_assets.py`"
        )
    return path


def _folder() -> Path:
    return Path(str(resources.files("posediff") / "assets" / "weights"))


def list_weights() -> list[str]:
    """Names of the shipped models (those with both a ``.pt`` and a ``.json`` file), sorted."""
    folder = _folder()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.pt") if p.with_suffix(".json").is_file())


def is_weights_name(name: Any) -> bool:
    """True when ``name`` is ``"demo"``, an alias or a shipped model name (not a file path)."""
    if not isinstance(name, str):
        return False
    return name == "demo" or name in ALIASES or name in list_weights()


def _resolve_name(name: str) -> str:
    real = ALIASES.get(name, name)
    if real not in list_weights():
        known = sorted(set(list_weights()) | {a for a, r in ALIASES.items() if r in list_weights()})
        raise InputError(f"weights: unknown shipped model {name!r}; expected one of {known or '(none shipped)'}, "
                         "'demo', or a checkpoint path")
    return real


def weights_record(name: str) -> dict:
    """The provenance record of a shipped model (see the module docstring)."""
    real = _resolve_name(name)
    path = _folder() / f"{real}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"weights: cannot read the provenance record {path.name}: {exc}") from exc


def weights_path(name: str, verify: bool = True) -> Path:
    """Path of a shipped model's checkpoint, its SHA-256 checked against its provenance record.

    Args:
        name: Model name or alias (``"h36m"``); ``"demo"`` gives the synthetic-data demo checkpoint.
        verify: Check the file's SHA-256 (default).

    Raises:
        InputError: unknown name. CheckpointError: missing file or hash mismatch.
    """
    if name == "demo":
        return demo_checkpoint_path()
    real = _resolve_name(name)
    path = _folder() / f"{real}.pt"
    if not path.is_file():
        raise CheckpointError(f"weights: the shipped checkpoint {path.name} is missing from the installation")
    if verify:
        want = str(weights_record(real).get("sha256", ""))
        got = file_sha256(path)
        if got != want:
            raise CheckpointError(f"weights: {path.name} has SHA-256 {got[:16]}…, but its provenance record says "
                                  f"{want[:16] or '(none)'}…; the file is damaged or was replaced — reinstall "
                                  "posediff")
    return path
