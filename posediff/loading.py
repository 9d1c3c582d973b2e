"""One way to load a model: :func:`load` (``posediff.load``) from any source :mod:`posediff.sources` knows.

The CLI (``lift``, ``evaluate``, ``stream``, ``export``), :func:`posediff.lift` and evaluation load their
model with it, so a source that works in one place works in all of them (``"demo"``, ``"h36m"``, a run
folder, a checkpoint). :func:`posediff.build` only builds (random weights); to put weights into a spec of
your own, ``posediff.load(weights, spec=spec)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

import torch

from .build import build
from .checkpoints import load_state_into, read_checkpoint, state_dict_of
from .devices import pick_device
from .errors import InputError
from .text_encoders.clip_tower import expect_external_weights
from .sources import ModelSource, locate

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .lifter import PoseLifter

__all__ = ["load", "regenerable_keys"]


def _from_checkpoint(path: str | Path, overrides: Mapping[str, Any] | None = None) -> "PoseLifter":
    """Build the lifter stored in a posediff checkpoint file (its spec travels with it) and load its weights.

    Args:
        path: A posediff checkpoint (read with ``weights_only=True``; its ``.sha256`` checked when present).
        overrides: Run-time spec changes such as ``{"sampler.steps": 5}``.

    Returns:
        The lifter in eval mode.

    Raises:
        CheckpointError: unreadable, corrupted or foreign file; weights that do not fit the spec.
    """
    data = read_checkpoint(path)
    state_dict_of(data, path)
    # trained weights: the text tower is the one the model was trained with (the offline tower's warning
    # about random weights is for untrained builds only)
    with expect_external_weights():
        lifter = build(data["spec"], overrides=overrides)
    load_state_into(lifter, path, data)
    lifter.eval()
    return lifter


def _load(
    source: Any,
    *,
    overrides: Mapping[str, Any] | None = None,
    checkpoint: Literal["best", "last"] = "best",
    device: str = "cpu",
    untrained: bool = False,
    spec: Any = None,
) -> tuple["PoseLifter", ModelSource]:
    """:func:`load`'s work: the lifter and its :class:`~posediff.sources.ModelSource`."""
    from .lifter import PoseLifter

    if isinstance(source, PoseLifter):
        if overrides or spec is not None:
            what = "overrides" if overrides else "spec="
            raise InputError(f"{what} apply when a model is built or loaded; got an already built PoseLifter")
        name = source.meta.get("name", "custom")
        return source.to(pick_device(device)), ModelSource("spec", source, str(name))
    where = locate(source, checkpoint=checkpoint)
    if spec is not None:
        if where.weights is None:
            raise InputError(f"{where.label!r} is a spec, not weights; with spec= give the weights to load into "
                             "it: a shipped model name ('h36m'), a training run folder or a posediff checkpoint")
        lifter = build(spec, overrides=overrides)
        load_state_into(lifter, where.weights)
        where.notes.append("built from the given spec; the weights were loaded into it")
    elif where.kind == "spec":
        if not untrained:
            raise InputError(
                f"{where.label!r} is a spec (a preset or spec file) and holds no trained weights; "
                f"posediff.build({where.label!r}) makes it with random weights. For a trained model pass a shipped "
                "model name ('h36m', 'demo'), a training run folder or a checkpoint file"
            )
        lifter = build(source, overrides=overrides)
        where.label = f"{where.label} (untrained: random weights)"
        where.notes.append("the model has random (untrained) weights")
    else:
        lifter = _from_checkpoint(where.weights, overrides=overrides)
    lifter.to(pick_device(device))
    lifter.eval()
    return lifter, where


def load(
    source: Any,
    *,
    overrides: Mapping[str, Any] | None = None,
    checkpoint: Literal["best", "last"] = "best",
    device: str = "cpu",
    untrained: bool = False,
    spec: Any = None,
    details: bool = False,
) -> "PoseLifter | tuple[PoseLifter, ModelSource]":
    """Load a model from a shipped name, a training run, a checkpoint file — the one way every entry point uses.

    Args:
        source: ``"h36m"`` (the default shipped model), another shipped name (``"d3dp-small-h36m"``),
            ``"demo"`` (the synthetic-data model used by tests), a training run folder, a posediff checkpoint
            file, or an already built :class:`~posediff.lifter.PoseLifter` (returned as is). A preset name,
            spec file or spec dict is accepted only with ``untrained=True``.
        overrides: Run-time spec changes such as ``{"sampler.hypotheses": 5}``.
        checkpoint: Which checkpoint of a run folder (``"best"`` or ``"last"``).
        device: ``"cpu"`` (default), ``"auto"``, ``"cuda"`` or ``"cuda:N"``.
        untrained: Allow a spec source (random weights) instead of refusing it.
        spec: Build this spec (preset name, spec file, dict or a lifter's ``.spec``; ``overrides`` apply to it)
            instead of the one the checkpoint carries, and load ``source``'s weights into it. The weights must
            fit it key for key and shape for shape (a :class:`~posediff.errors.CheckpointError` says which do
            not); use it for run-time changes the checkpoint's own spec lacks.
        details: Also return where the model came from: a :class:`~posediff.sources.ModelSource` (label for
            reports, weights file, run folder, training settings, notes; :meth:`ModelSource.record` adds the
            weights' SHA-256 and training step).

    Returns:
        The lifter in eval mode, on ``device`` (with ``details``: ``(lifter, source)``).

    Raises:
        InputError: a spec without ``untrained=True``; bad arguments. CheckpointError: missing, corrupted or
            foreign weights.

    Example:
        >>> import posediff
        >>> lifter = posediff.load("demo")
        >>> lifter.frames
        27
    """
    lifter, where = _load(source, overrides=overrides, checkpoint=checkpoint, device=device, untrained=untrained,
                          spec=spec)
    return (lifter, where) if details else lifter


def regenerable_keys(lifter: "PoseLifter", spec: Mapping[str, Any]) -> list[str]:
    """Frozen tensors of ``lifter`` that building ``spec`` afresh reproduces bit for bit.

    Such tensors (e.g. the seeded offline text tower, whose token table alone is 6.3 M values) need not be
    stored: a checkpoint lists them under ``"regenerated"`` with their digest, and loading rebuilds them from
    the spec and checks the digest (:func:`posediff.checkpoints.load_state_into`). The spec is built twice
    under different global seeds, so only tensors that do not depend on the global random state qualify.
    """
    frozen = {n for n, p in lifter.named_parameters() if not p.requires_grad}
    frozen |= {n for n, _ in lifter.named_buffers()} & set(lifter.state_dict())
    own = lifter.state_dict()
    states = []
    for seed in (12345, 54321):
        torch.manual_seed(seed)
        states.append(build(dict(spec)).state_dict())
    return sorted(k for k in frozen if k in states[0] and all(torch.equal(st[k], own[k]) for st in states))
