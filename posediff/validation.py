"""Input checks shared by public entry points: one-line errors naming the argument, the expected
shape and what was found, raised as :class:`~posediff.errors.InputError`; and :func:`below_minimum`, the
integer lower-bound messages that components' ``check_params`` turn into spec errors."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .errors import InputError

__all__ = ["as_tensor", "check_shape", "check_finite", "below_minimum", "is_int", "is_number"]


def as_tensor(name: str, x: Any, dtype: torch.dtype = torch.float32, device: Any = None) -> torch.Tensor:
    """Convert numpy arrays / lists to a tensor; reject non-numeric input with a clear message."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(np.asarray(x))
        except Exception as exc:  # noqa: BLE001
            raise InputError(f"{name} must be an array or tensor of numbers; got {type(x).__name__}") from exc
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64, torch.int16, torch.uint8)):
        raise InputError(f"{name} must hold numbers; got dtype {t.dtype}")
    return t.to(dtype=dtype, device=device) if dtype is not None else t.to(device=device)


def check_shape(name: str, x: torch.Tensor, dims: Sequence[str], sizes: dict[str, int | None] | None = None,
                hint: str = "") -> dict[str, int]:
    """Check ``x`` has ``len(dims)`` dimensions and the fixed sizes in ``sizes``.

    Args:
        name: Argument name used in the message, e.g. ``"x2d"``.
        dims: Dimension letters, e.g. ``("B", "T", "J", "2")``; a digit is a fixed size.
        sizes: Known sizes by letter (``{"J": 17}``); filled with the sizes seen and returned.

    Raises:
        InputError: e.g. ``x2d must have shape (B, T, J=17, 2); got (1, 243, 25, 2)``.
    """
    sizes = dict(sizes or {})
    want = []
    for d in dims:
        if d.isdigit():
            want.append(d)
        elif sizes.get(d) is not None:
            want.append(f"{d}={sizes[d]}")
        else:
            want.append(d)
    expected = "(" + ", ".join(want) + ")"
    ok = x.dim() == len(dims)
    if ok:
        for d, n in zip(dims, x.shape):
            if d.isdigit():
                ok &= int(d) == n
            elif sizes.get(d) is not None:
                ok &= sizes[d] == n
            else:
                sizes[d] = n
    if ok:
        for d, n in zip(dims, x.shape):
            if n == 0:
                ok = False
                hint = hint or f"dimension {d} is empty"
    if not ok:
        msg = f"{name} must have shape {expected}; got {tuple(x.shape)}"
        if hint:
            msg += f" ({hint})"
        raise InputError(msg)
    return sizes


def check_finite(name: str, x: torch.Tensor, hint: str = "") -> None:
    """Reject NaN/Inf with the count and the first position.

    Raises:
        InputError: e.g. ``x2d must be finite; got 3 NaN/Inf value(s) (first at index (0, 5, 2, 1))``.
    """
    if x.is_floating_point():
        bad = ~torch.isfinite(x)
        if bool(bad.any()):
            first = tuple(int(i) for i in bad.nonzero()[0])
            msg = f"{name} must be finite; got {int(bad.sum())} NaN/Inf value(s) (first at index {first})"
            raise InputError(msg + (f"; {hint}" if hint else ""))


def below_minimum(params: Mapping[str, Any], minimums: Mapping[str, int]) -> list[str]:
    """Spec value checks for integer sizes: one ``"<key> must be >= <low>; got <value>"`` message per integer
    in ``params`` below its minimum. Missing keys and non-integers are skipped (the type check reports those).

    Example:
        >>> below_minimum({"heads": -1, "layers": 2, "width": "x"}, {"heads": 1, "layers": 0, "width": 1})
        ['heads must be >= 1; got -1']
    """
    out = []
    for key, low in minimums.items():
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value < low:
            out.append(f"{key} must be >= {low}; got {value}")
    return out


def is_int(x: object) -> bool:
    """True for a Python or NumPy integer, False for a bool (``True`` is not a step count)."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def is_number(x: object) -> bool:
    """True for a Python int or float or a NumPy float, False for a bool."""
    return isinstance(x, (int, float, np.floating)) and not isinstance(x, bool)

