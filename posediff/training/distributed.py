"""Multi-process training helpers: torchrun environment, process group, device, collectives.

The same code runs as one process (no process group), under ``torchrun --nproc_per_node N`` (NCCL on
GPUs, gloo on CPU) or in processes started by :func:`torch.multiprocessing.spawn` with ``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT`` set.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from ..errors import InputError
from ..devices import pick_device

__all__ = ["DistInfo", "setup", "teardown", "barrier", "all_gather_object", "broadcast_object", "all_reduce_mean"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands.

    Attributes:
        rank: Global rank (0 = main process, the only one that writes files).
        world_size: Number of processes.
        local_rank: Rank on this machine (selects the GPU).
        device: The device this process trains on.
        owns_group: Whether :func:`setup` created the process group (and :func:`teardown` destroys it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """True on rank 0."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True with more than one process."""
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise InputError(f"environment variable {name} must be an integer; got {v!r}") from None


def setup(device: str = "auto") -> DistInfo:
    """Read the torchrun environment, initialise the process group if needed, choose the device.

    With ``WORLD_SIZE`` unset or 1 nothing is initialised. Otherwise the backend is NCCL for CUDA
    devices and gloo for CPU. A process group that already exists is reused (and not destroyed by
    :func:`teardown`).
    """
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        local = _env_int("LOCAL_RANK", rank)
        dev = pick_device(device, local)
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        return DistInfo(rank, world, local, dev, owns_group=False)
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local = _env_int("LOCAL_RANK", rank)
    dev = pick_device(device, local)
    if world <= 1:
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        return DistInfo(0, 1, 0, dev, owns_group=False)
    if not dist.is_available():
        raise InputError("WORLD_SIZE > 1 but this PyTorch build has no torch.distributed")
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank, world, local, dev, owns_group=True)


def teardown(info: DistInfo, clean: bool = True) -> None:
    """Destroy the process group if :func:`setup` created it.

    Args:
        info: From :func:`setup`.
        clean: Wait for the other processes first (skip when leaving on an error, which could leave
            the others stuck in a collective).
    """
    if info.owns_group and dist.is_initialized():
        if clean:
            dist.barrier()
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every process (no-op with one process)."""
    if info.distributed:
        dist.barrier()


def all_gather_object(info: DistInfo, obj: Any) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (``[obj]`` with one process)."""
    if not info.distributed:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(info: DistInfo, obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank."""
    if not info.distributed:
        return obj
    box = [obj if info.rank == src else None]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_reduce_mean(info: DistInfo, value: float) -> float:
    """Mean of a float over all processes."""
    if not info.distributed:
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64,
                     device=info.device if info.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return float(t.item()) / info.world_size
