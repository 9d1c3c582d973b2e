"""The model and data description of an evaluation: :func:`load_model`, :func:`describe_data`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Sequence





# --------------------------------------------------------------------------- loading model and data
def load_model(source: str | Path, *, checkpoint: Literal["best", "last"] = "best", overrides: Any = None,
               device: str = "auto"):
    """The lifter behind a run folder, a checkpoint file or a preset name.

    Args:
        source: A training run folder (uses ``checkpoints/best.pt``, else ``last.pt``), a posediff checkpoint,
            a shipped model name (``"h36m"``, ``"d3dp-small-h36m"``, ``"demo"``; see :mod:`posediff.weights`),
            or a preset/spec (untrained weights, noted in the result).
        checkpoint: Which checkpoint of a run folder.
        overrides: Run-time spec overrides such as ``{"sampler.hypotheses": 20}``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.

    Returns:
        ``(lifter, info)``; ``info`` has ``source`` (the weights file or spec), ``run_dir`` (or None),
        ``train_config`` (the run's settings, or None) and ``notes``.
    """
    from ..checkpoints import file_sha256
    from ..errors import CheckpointError
    from ..loading import load_with_source

    lifter, where = load_with_source(source, overrides=overrides, checkpoint=checkpoint, device=device,
                                     untrained=True)
    info: dict[str, Any] = {"run_dir": where.run_dir, "train_config": where.train_config, "notes": where.notes,
                            "source": where.label}
    if where.weights is not None:
        info["sha256"] = file_sha256(where.weights)
        try:
            from ..checkpoints import read_checkpoint

            extra = read_checkpoint(where.weights, verify=False).get("extra", {}) or {}
            if extra.get("step") is not None:
                info["step"] = int(extra["step"])
        except CheckpointError:  # pragma: no cover - the load already read it
            pass
    return lifter, info


def describe_data(selector: str, subjects: Sequence[str],
                  train_config: Optional[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """A header line for the data of a report, and notes on whether the subjects were held out."""
    from ..training.datasets import default_subjects, parse_data

    sel = parse_data(selector)
    subj = list(subjects) or default_subjects(sel, "val")
    desc = f"{selector}" + (f", subjects {','.join(subj)}" if subj else ", all sequences")
    notes: list[str] = []
    if train_config:
        tsel = parse_data(train_config.get("data", "synthetic"))
        train_subj = list(train_config.get("train_subjects") or default_subjects(tsel, "train"))
        # the same data set is recognised by its kind (and, for synthetic data, its generator options), not
        # by the path it was read from: the same Human3.6M copy may sit elsewhere on another machine
        same_data = tsel.kind == sel.kind and (sel.kind != "synthetic" or tsel.options == sel.options)
        if same_data:
            overlap = sorted(set(subj) & set(train_subj))
            if overlap:
                notes.append(f"WARNING: subjects {overlap} were also used for training: not a held-out evaluation")
            else:
                desc += f" (held out: the model was trained on {','.join(train_subj)})"
        else:
            desc += f" (cross-dataset: the model was trained on {train_config.get('data')}, subjects " \
                    f"{','.join(train_subj)})"
    if sel.kind == "h36m" and subj == ["S8"]:
        notes.append("S8 is a held-out training subject standing in for the official test subjects S9/S11 "
                     "(not in this data copy); numbers are not comparable with published S9/S11 results")
    return desc, notes
