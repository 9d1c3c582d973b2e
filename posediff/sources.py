"""What a model source names: a shipped model, a training run, a checkpoint file, or a spec.

:func:`locate` only looks (it builds nothing and reads no weights), so every entry point — the CLI,
:func:`posediff.lift`, ``posediff evaluate`` and :func:`posediff.load` (through which all of them load) — agrees on what a string means:

====================================  ===========  ==============================================
source                                kind         weights file
====================================  ===========  ==============================================
``"h36m"``, ``"demo"``, a model name  shipped      the packaged checkpoint (SHA-256 checked)
a folder                              run          ``checkpoints/best.pt`` (or ``last.pt`` …)
a ``.pt``/``.pth``/``.bin`` file      checkpoint   the file itself
a ``.toml``/``.yaml``/``.json`` file  spec         none (random weights when built)
a preset name, a spec dict            spec         none
====================================  ===========  ==============================================

An existing path wins over a shipped name of the same spelling.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

from .checkpoints import checkpoint_files, file_sha256, find_weights, read_checkpoint
from .errors import CheckpointError, InputError
from .weights import is_weights_name, weights_path, weights_record

__all__ = ["ModelSource", "locate", "SPEC_SUFFIXES", "CHECKPOINT_SUFFIXES"]

SPEC_SUFFIXES = (".toml", ".yaml", ".yml", ".json")
"""File suffixes read as specs."""

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin")
"""File suffixes read as checkpoints (any other existing file is tried as a checkpoint too)."""

Kind = Literal["shipped", "run", "checkpoint", "spec"]


@dataclass
class ModelSource:
    """Where a model comes from.

    Attributes:
        kind: ``"shipped"``, ``"run"``, ``"checkpoint"`` or ``"spec"``.
        source: What the caller gave (a name, path or spec dict).
        label: How reports name it: ``"shipped weights 'h36m'"`` (no install path), the path given,
            or the preset name.
        weights: The checkpoint file to read (None for a spec).
        run_dir: The training run folder the weights belong to, or None.
        train_config: The run's training settings (``train_config.json``, or a shipped model's
            provenance record), or None.
        notes: Remarks for reports (e.g. which checkpoint of a run was used).
    """

    kind: Kind
    source: Any
    label: str
    weights: Optional[Path] = None
    run_dir: Optional[Path] = None
    train_config: Optional[dict] = None
    notes: list[str] = field(default_factory=list)

    def record(self) -> dict:
        """What reports say of the model: ``source`` (the label), ``run_dir``, ``train_config``, ``notes``, and for
        weights their ``sha256`` and, when the checkpoint records it, the training ``step``."""
        info: dict = {"run_dir": self.run_dir, "train_config": self.train_config, "notes": self.notes,
                      "source": self.label}
        if self.weights is not None:
            info["sha256"] = file_sha256(self.weights)
            try:
                extra = read_checkpoint(self.weights, verify=False).get("extra", {}) or {}
            except CheckpointError:  # pragma: no cover - loading read it already
                extra = {}
            if extra.get("step") is not None:
                info["step"] = int(extra["step"])
        return info


def _read_json(path: Path) -> Optional[dict]:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {str(path)!r}: {exc}") from exc


def locate(source: Any, *, checkpoint: Literal["best", "last"] = "best") -> ModelSource:
    """Say what ``source`` names (see the module docstring); nothing is built or loaded.

    Args:
        source: A shipped model name (``"h36m"``, ``"demo"``, ``"d3dp-small-h36m"``), a run folder, a
            checkpoint file, a spec file, a preset name or a spec dict.
        checkpoint: Which checkpoint of a run folder (falls back to the other one, then the newest
            ``step_*.pt``, with a note).

    Returns:
        A :class:`ModelSource`.

    Raises:
        InputError: a source of the wrong type or an empty string. CheckpointError: a path-like source that
            does not exist, a run folder without checkpoints, or a damaged shipped model.

    Example:
        >>> locate("h36m").kind, locate("finepose-tiny").kind
        ('shipped', 'spec')
    """
    if checkpoint not in ("best", "last"):
        raise InputError(f"checkpoint must be 'best' or 'last'; got {checkpoint!r}")
    if isinstance(source, Mapping):
        name = (source.get("meta") or {}).get("name", "custom") if isinstance(source.get("meta"), Mapping) \
            else "custom"
        return ModelSource("spec", source, str(name))
    if not isinstance(source, (str, Path)):
        raise InputError(f"a model source must be a name, a path or a spec dict; got {type(source).__name__}")
    text = str(source)
    if not text.strip():
        raise InputError("a model source must not be empty (give a shipped model name such as 'h36m', a run "
                         "folder, a checkpoint or a spec)")
    p = Path(source)
    if p.is_dir():
        files = checkpoint_files(p)
        notes: list[str] = []
        weights = files[checkpoint]
        if weights is None:
            weights = find_weights(p)
            notes.append(f"the run has no {checkpoint}.pt; using {weights.name}")
        cfg = _read_json(p / "train_config.json")
        return ModelSource("run", source, text, weights=weights, run_dir=p, train_config=cfg, notes=notes)
    if p.is_file():
        if p.suffix.lower() in SPEC_SUFFIXES:
            return ModelSource("spec", source, text)
        run = p.parent.parent if p.parent.name == "checkpoints" else None
        cfg = _read_json(run / "train_config.json") if run is not None else None
        return ModelSource("checkpoint", source, text, weights=p, run_dir=run if cfg is not None else None,
                           train_config=cfg)
    if isinstance(source, str) and is_weights_name(source):
        record = None if source == "demo" else weights_record(source).get("train_config")
        return ModelSource("shipped", source, f"shipped weights {source!r}", weights=weights_path(source),
                           train_config=record)
    if "/" in text or "\\" in text or p.suffix.lower() in CHECKPOINT_SUFFIXES + SPEC_SUFFIXES:
        raise CheckpointError(f"checkpoint not found: {text!r} (no such run folder, checkpoint or spec file, and not "
                              "a shipped model name such as 'h36m')")
    return ModelSource("spec", source, text)
