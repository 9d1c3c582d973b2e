"""Ground-truth-selected hypotheses: an ORACLE for diagnostics (J-Best / P-Best)."""
from __future__ import annotations

from typing import Literal, Optional

import torch
from torch import Tensor

from ..errors import InputError, SpecError
from ..interfaces import Aggregator
from ..registry import register
from ..validation import check_finite, check_shape

__all__ = ["OracleAggregator"]


@register("aggregator", "oracle")
class OracleAggregator(Aggregator):
    """ORACLE: pick the hypothesis closest to the ground truth. Diagnostics only, never deployable.

    This reads the ground-truth 3D (``target``) to choose among the hypotheses, so its error is a
    lower bound on what any real aggregator can reach, not a result. The official J-Best
    (``mode="joint"``, per clip, frame and joint) is most likely what the FinePOSE paper's
    headline numbers report (reference §5.4, quirk §8.3).

    Args:
        mode: ``"joint"``: best hypothesis per (clip, frame, joint) — J-Best. ``"pose"``: best
            whole pose (mean joint error) per (clip, frame). The official P-Best picks one index per
            evaluation mini-batch instead; :func:`posediff.metrics.p_best` reproduces that.

    Shape:
        hyps ``(B, H, T, J, 3)``, target ``(B, T, J, 3)`` → ``(B, T, J, 3)`` (metres).
    """

    needs: frozenset = frozenset({"target"})

    def __init__(self, mode: Literal["joint", "pose"] = "joint") -> None:
        super().__init__()
        if mode not in ("joint", "pose"):
            raise SpecError(f"aggregator.mode: expected 'joint' or 'pose'; got {mode!r}")
        self.mode = mode

    def aggregate(self, hyps: Tensor, *, target: Tensor, **_: Optional[Tensor]) -> Tensor:
        """Select with the ground truth ``target`` ``(B, T, J, 3)`` (root-relative; checked by :meth:`forward`
        to be given). Raises InputError for a ``target`` of the wrong shape."""
        if not isinstance(target, Tensor):
            raise InputError(f"target must be a torch tensor; got {type(target).__name__}")
        dims = check_shape("hyps", hyps, ("B", "H", "T", "J", "3"))
        b, t, j = dims["B"], dims["T"], dims["J"]
        check_shape("target", target, ("B", "T", "J", "3"), dims)
        check_finite("target", target)
        y = target.to(device=hyps.device, dtype=hyps.dtype)
        err = torch.linalg.vector_norm(hyps - y[:, None], dim=-1)  # (B, H, T, J)
        if self.mode == "joint":
            idx = err.argmin(dim=1, keepdim=True)  # (B, 1, T, J)
        else:
            # Official: P-Best picks one index per evaluation mini-batch (reference §5.3); here per frame.
            idx = err.mean(dim=-1).argmin(dim=1, keepdim=True)[..., None].expand(b, 1, t, j)
        return torch.gather(hyps, 1, idx[..., None].expand(b, 1, t, j, 3)).squeeze(1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
