"""Float tolerances argued from the arithmetic, never from one machine's result (tests/README.md).

Two computations of the same formula in floating point (another kernel, another summation order, another
implementation, another CPU: AVX2, AVX-512, AMX) agree only up to rounding. The classical bound for a sum or
dot product of ``k`` terms in a precision with unit roundoff ``u`` is ``γ_k·Σ|terms|`` with ``γ_k ≈ k·u``
(Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1); a chain of ``depth`` such reductions
(layers of a network) adds up to ``depth`` of them. Both sides of a comparison carry such an error, hence the
factor 2. The bound is worst-case and deliberately loose: a test that needs a tighter one is measuring a
machine, not the code.
"""
from __future__ import annotations

import torch

__all__ = ["unit_roundoff", "reduction_tolerance"]


def unit_roundoff(dtype: torch.dtype) -> float:
    """Unit roundoff ``u`` of a floating dtype: half its machine epsilon (fp32 2**-24, bf16 2**-8)."""
    return torch.finfo(dtype).eps / 2


def reduction_tolerance(dtype: torch.dtype, terms: int, depth: int = 1, scale: float = 1.0) -> float:
    """Absolute bound on the difference of two evaluations of a chain of reductions.

    Args:
        dtype: Precision of the arithmetic.
        terms: Length of the longest reduction (the inner dimension of the widest matmul, a softmax's length).
        depth: Reductions in sequence (e.g. matmuls per layer × layers).
        scale: Magnitude of the values summed (e.g. the largest absolute output, or the product of the
            inputs' magnitudes).

    Returns:
        ``2 · depth · terms · u · scale``.
    """
    if terms < 1 or depth < 1 or scale < 0:
        raise ValueError(f"terms and depth must be >= 1 and scale >= 0; got {terms}, {depth}, {scale}")
    return 2.0 * depth * terms * unit_roundoff(dtype) * scale
