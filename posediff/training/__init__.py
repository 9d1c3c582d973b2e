"""Training: the official x0 objective with AdamW, exact resume, DDP, CSV/TensorBoard logs.

* :func:`train` — the Python API behind ``posediff train``.
* :class:`TrainConfig` — every setting (defaults = the official recipe, reference §6.1).
* :mod:`.datasets` — the ``--data`` selector (``synthetic``, ``h36m:DIR``, ``3dhp:PATH``).
* :mod:`.state` — checkpoint contents, random-number states, resume fallback.
* :mod:`.distributed` — torchrun / process-group helpers.
"""
from .config import TrainConfig
from .datasets import DataSelection, load_dataset, parse_data, to_skeleton
from .loop import StepInfo, TrainResult, train, validation_mpjpe
from .state import find_resume_checkpoint, find_weights

__all__ = [
    "train",
    "TrainConfig",
    "TrainResult",
    "StepInfo",
    "validation_mpjpe",
    "load_dataset",
    "parse_data",
    "DataSelection",
    "to_skeleton",
    "find_resume_checkpoint",
    "find_weights",
]
