"""No conditioning (D3DP, and the "w/o Prompt" / Baseline ablations)."""
from __future__ import annotations

from typing import Optional, Sequence

from ..errors import InputError
from ..interfaces import Conditioner, Conditioning
from ..registry import register

__all__ = ["NoneConditioner"]


@register("conditioner", "none")
class NoneConditioner(Conditioner):
    """Empty conditioning: no prompt tokens and no pooled vector (``token_dim = 0``), so the
    backbone adds only F(t) (D3DP; reference Appendix B). Action labels are ignored.

    Shape:
        output: ``Conditioning(tokens=None, vector=None)``.
    """

    token_dim: int = 0
    vector_dim: int = 0

    def __init__(self) -> None:
        super().__init__()

    def forward(self, actions: Sequence[Optional[str]] | str | None, batch: int) -> Conditioning:
        """Return an empty :class:`Conditioning` (``actions`` are ignored)."""
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 0:
            raise InputError(f"batch: expected a non-negative integer; got {batch!r}")
        return Conditioning()
