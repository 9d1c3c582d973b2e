"""The data description of an evaluation report: :func:`describe_data` (models load with :func:`posediff.load`)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Sequence





# --------------------------------------------------------------------------- data description
def shared_as_placeholder(text: str, root: Optional[str] = None) -> str:
    """``text`` with the shared data folder written as ``$POSEDIFF_SHARED``: a committed report names the data,
    never a path of the machine that made it.

    Args:
        text: Any text (a data selector, a report line).
        root: The shared folder (default: the ``POSEDIFF_SHARED`` environment variable; nothing is replaced
            when it is not set).

    Example:
        >>> shared_as_placeholder("h36m:/data/shared/data/h36m", root="/data/shared")
        'h36m:$POSEDIFF_SHARED/data/h36m'
    """
    import os

    root = root if root is not None else os.environ.get("POSEDIFF_SHARED")
    if not root:
        return text
    out = text
    for form in {root.rstrip("/"), str(Path(root).resolve())}:
        if form and form != "/":
            out = out.replace(form, "$POSEDIFF_SHARED")
    return out


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
    desc = shared_as_placeholder(desc)
    if sel.kind == "h36m" and subj == ["S8"]:
        notes.append("S8 is a held-out training subject standing in for the official test subjects S9/S11 "
                     "(not in this data copy); numbers are not comparable with published S9/S11 results")
    return desc, notes
