"""Choosing the torch device for a command: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``."""
from __future__ import annotations

import torch

from .errors import InputError

__all__ = ["pick_device"]


def pick_device(device: str = "auto", local_rank: int = 0) -> torch.device:
    """The device a command asks for.

    Args:
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        local_rank: The process's GPU index under torchrun (``"auto"``/``"cuda"`` use ``cuda:<local_rank>``).

    Raises:
        InputError: a CUDA device is asked for but CUDA is not available.
    """
    if device == "cpu":
        return torch.device("cpu")
    if device == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if not torch.cuda.is_available():
        raise InputError(f"device {device!r} asked for, but CUDA is not available; use --device cpu")
    if device == "cuda":
        return torch.device(f"cuda:{local_rank}")
    return torch.device(device)
