"""Helpers of the training tests: the tiny settings and bitwise comparisons."""
from __future__ import annotations

import torch

# 2 subjects (train synth-0, validate synth-1), 4 motions, 1 camera, 27 frames: 8 training clips with flips.
TINY_DATA = "synthetic:subjects=2,frames=27,cameras=1"

TINY = dict(
    data=TINY_DATA,
    batch_size=4,
    lr=1e-3,
    progress=False,
    val_windows=4,
    log_every=1,
)


def state_equal(a: dict, b: dict) -> bool:
    """Bitwise equality of two state dicts."""
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def optimizer_equal(a: dict, b: dict) -> bool:
    """Bitwise equality of two optimizer state dicts (moments, step counts, hyper-parameters)."""
    if a["param_groups"] != b["param_groups"] or a["state"].keys() != b["state"].keys():
        return False
    for i in a["state"]:
        sa, sb = a["state"][i], b["state"][i]
        if sa.keys() != sb.keys():
            return False
        for k in sa:
            va, vb = sa[k], sb[k]
            if isinstance(va, torch.Tensor):
                if not torch.equal(va, vb):
                    return False
            elif va != vb:
                return False
    return True
