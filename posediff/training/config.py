"""Training settings: one flat, validated record that travels inside every training checkpoint.

The defaults are the official recipe of FinePOSE / D3DP (reference §6.1): AdamW (lr 6e-5, betas
(0.9, 0.999), eps 1e-8, weight decay 0.1), lr × 0.993 after every epoch, 4 clips per step, flip
augmentation, seeds 1 (python/numpy/torch) and 1234 (clip shuffle).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from ..errors import InputError

__all__ = ["TrainConfig", "CORE_FIELDS", "BUDGET_FIELDS", "RECIPES", "recipe_settings"]


@dataclass
class TrainConfig:
    """Every setting of a training run.

    Attributes:
        data: Data selector: ``"synthetic"``, ``"synthetic:subjects=3,frames=243,seed=0"``,
            ``"h36m:DIR"`` or ``"3dhp:PATH"`` (see :func:`posediff.training.datasets.load_dataset`);
            environment variables in the path are expanded (``h36m:$POSEDIFF_SHARED/data/h36m``). A resumed
            run may point it to another copy of the same data.
        train_subjects: Subjects (H36M ``S1``…, synthetic ``synth-0``…, 3DHP ``S1``…) to train on;
            empty = the data set's default.
        val_subjects: Held-out subjects for validation; empty = default; ``["none"]`` disables it.
        keypoints: H36M 2D source: ``""`` = ground truth by projecting the 3D with the distorted camera
            model (the way ``data_2d_h36m_gt.npz`` is made), or the path of a VideoPose3D 2D file.
        epochs: Number of epochs (official: 100 for CPN 2D and 3DHP, 120 for GT 2D).
        batch_size: Clips per optimizer step over all processes (official 4).
        grad_accum: Micro-batches each process splits its share of a step into (gradient accumulation).
        micro_batch: Most clips per forward/backward pass; a process splits its share into more
            micro-batches (gradient accumulation) when needed. ``0`` = auto: on CPU the clips whose
            activations fit the cache block (:meth:`posediff.PoseLifter.cache_rows`, 1 clip of 243
            frames for finepose-h36m; about 1.3× faster than 4 clips in one pass on the benchmark
            machine), elsewhere no limit. With ``official_grad`` auto never splits (½·MPJPE² is not
            additive over micro-batches). The same gradient either way, up to summation order; the
            noise draws come in another order, so the trajectory depends on it.
        lr: Initial learning rate (official 6e-5).
        lr_decay: Learning-rate factor applied after every epoch (official 0.993).
        weight_decay: AdamW weight decay (official 0.1).
        betas: AdamW betas (official (0.9, 0.999)).
        eps: AdamW epsilon (official 1e-8).
        flip: Flip augmentation: every clip also appears mirrored (official True).
        random_offset: Random grid offset per sequence and epoch instead of the official centred grid.
        use_actions: Feed each clip's base action label to the conditioner (official True).
        action_dropout: Probability of replacing a clip's label by ``None`` (neutral prompt) so the model
            also learns the label-free (deployable) input. Official: 0.
        objective: ``"x0"`` (default): the diffusion objective, one random step per clip. ``"regression"``:
            every clip at the last step T−1, where the pose input is (almost) pure noise — the same backbone
            trained as a deterministic regressor of the 2D (the baseline a diffusion model must beat);
            a new run's spec samples with one step and one hypothesis (unless overrides set them).
        official_grad: Back-propagate ½·MPJPE² instead of MPJPE: the official ``loss.backward(loss)``
            seeds autograd with the loss value (reference §6.1).
        amp: Autocast of the training forward pass: ``"none"``, ``"auto"`` (bf16 where this machine runs
            bf16 matmuls faster than fp32, measured by :func:`posediff.precision.bf16_speedup`, else none;
            resolved by every invocation, so a run resumed on another kind of CPU follows it), ``"bf16"`` (CPU
            or GPU) or ``"fp16"`` (GPU only, with a gradient scaler). Official: none. A resumed run may change
            it (a machine setting: bf16 is 9× slower on a CPU without bf16 units); from then on it continues
            in the new precision.
        seed: Seed of python/numpy/torch, the model's initialisation and the diffusion noise (official 1).
        shuffle_seed: Seed of the clip order (official 1234).
        max_steps: Stop after this many optimizer steps in total (0 = no limit).
        max_minutes: Stop this invocation after this many minutes of wall time (0 = no limit).
        checkpoint_every: Write ``last.pt`` every this many steps (and at every stop).
        keep_every: Also keep ``step_{n}.pt`` every this many steps (0 = never).
        val_every: Validate every this many steps (0 = only at epoch ends and at the end).
        val_windows: Validation windows (evenly spread over the held-out set; 0 = all).
        log_every: Write a CSV/TensorBoard row every this many steps.
        device: ``"auto"`` (CUDA if available), ``"cpu"`` or ``"cuda"``.
        progress: Show a tqdm progress bar on the main process.
        drop_last: Skip the last incomplete batch of an epoch (always done with several processes).
        recipe: Name of the recipe the settings came from (``"official"``, ``"cpu"`` or ``"custom"``); a
            label recorded with the run, see :data:`RECIPES`.
        lr_schedule: ``"exponential"`` (official: ``lr_decay`` after every epoch) or ``"cosine"`` (linear
            warm-up, then a half cosine over ``schedule_steps``; ``lr_decay`` is ignored).
        warmup_steps: Linear warm-up steps of the cosine schedule.
        final_lr_ratio: Final learning rate of the cosine schedule as a fraction of ``lr``.
        schedule_steps: Length of the cosine schedule in steps; 0 = ``max_steps`` if set, else
            ``epochs`` × steps per epoch, resolved when the run starts and stored with it.
        ema_decay: Decay of an exponential moving average of the weights (0 = off). With EMA, validation,
            ``best.pt`` and the weights of every checkpoint (``state_dict``) are the averaged ones; the raw
            weights travel in the checkpoint's training state for ``--resume``.
        noise_2d: Largest per-clip standard deviation of Gaussian noise added to the 2D input (normalised
            units: 0.002 = 1 px of a 1000-px-wide image); each clip draws its σ uniformly in
            ``[0, noise_2d]``. 0 = off (official).
        joint_dropout: Probability of dropping each 2D joint-frame and filling it by interpolation in
            time, as inference fills missing detections. 0 = off (official).
    """

    data: str = "synthetic"
    train_subjects: list[str] = field(default_factory=list)
    val_subjects: list[str] = field(default_factory=list)
    keypoints: str = ""
    epochs: int = 100
    batch_size: int = 4
    grad_accum: int = 1
    micro_batch: int = 0
    lr: float = 6e-5
    lr_decay: float = 0.993
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    flip: bool = True
    random_offset: bool = False
    use_actions: bool = True
    action_dropout: float = 0.0
    official_grad: bool = False
    objective: Literal["x0", "regression"] = "x0"
    amp: Literal["none", "auto", "bf16", "fp16"] = "none"
    seed: int = 1
    shuffle_seed: int = 1234
    max_steps: int = 0
    max_minutes: float = 0.0
    checkpoint_every: int = 500
    keep_every: int = 0
    val_every: int = 0
    val_windows: int = 256
    log_every: int = 10
    device: str = "auto"
    progress: bool = True
    drop_last: bool = False
    recipe: str = "official"
    lr_schedule: Literal["exponential", "cosine"] = "exponential"
    warmup_steps: int = 0
    final_lr_ratio: float = 0.0
    schedule_steps: int = 0
    ema_decay: float = 0.0
    noise_2d: float = 0.0
    joint_dropout: float = 0.0

    def __post_init__(self) -> None:
        self.train_subjects = _as_list("train_subjects", self.train_subjects)
        self.val_subjects = _as_list("val_subjects", self.val_subjects)
        self.betas = tuple(float(b) for b in self.betas)  # type: ignore[assignment]
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~posediff.errors.InputError` naming the first bad setting."""
        ints_pos = ("epochs", "batch_size", "grad_accum", "checkpoint_every", "log_every")
        for name in ints_pos:
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InputError(f"{name} must be an integer >= 1; got {v!r}")
        for name in ("warmup_steps", "schedule_steps", "micro_batch", "max_steps", "keep_every", "val_every", "val_windows", "seed", "shuffle_seed"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise InputError(f"{name} must be an integer >= 0; got {v!r}")
        for name in ("lr", "lr_decay", "eps"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v > 0:
                raise InputError(f"{name} must be a number > 0; got {v!r}")
        if not 0 < self.lr_decay <= 1:
            raise InputError(f"lr_decay must be in (0, 1]; got {self.lr_decay!r}")
        if not isinstance(self.weight_decay, (int, float)) or self.weight_decay < 0:
            raise InputError(f"weight_decay must be a number >= 0; got {self.weight_decay!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise InputError(f"betas must be two numbers in [0, 1); got {self.betas!r}")
        if not 0 <= self.action_dropout <= 1:
            raise InputError(f"action_dropout must be in [0, 1]; got {self.action_dropout!r}")
        if self.recipe not in RECIPES and self.recipe != "custom":
            raise InputError(f"recipe must be one of {sorted(RECIPES) + ['custom']}; got {self.recipe!r}")
        if self.lr_schedule not in ("exponential", "cosine"):
            raise InputError(f"lr_schedule must be 'exponential' or 'cosine'; got {self.lr_schedule!r}")
        for name, lo, hi in (("final_lr_ratio", 0.0, 1.0), ("ema_decay", 0.0, 1.0 - 1e-12),
                             ("joint_dropout", 0.0, 0.5)):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not lo <= v <= hi:
                raise InputError(f"{name} must be a number in [{lo:g}, {hi:g}]; got {v!r}")
        if not isinstance(self.noise_2d, (int, float)) or isinstance(self.noise_2d, bool) \
                or not 0.0 <= self.noise_2d <= 1.0:
            raise InputError(f"noise_2d must be a number in [0, 1] (normalised units); got {self.noise_2d!r}")
        if self.objective not in ("x0", "regression"):
            raise InputError(f"objective must be 'x0' (diffusion) or 'regression' (the deterministic baseline); "
                             f"got {self.objective!r}")
        if self.amp not in ("none", "auto", "bf16", "fp16"):
            raise InputError(f"amp must be 'none', 'auto', 'bf16' or 'fp16'; got {self.amp!r}")
        if not isinstance(self.max_minutes, (int, float)) or self.max_minutes < 0:
            raise InputError(f"max_minutes must be a number >= 0; got {self.max_minutes!r}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise InputError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {self.device!r}")
        if not isinstance(self.data, str) or not self.data:
            raise InputError(f"data must be a non-empty string such as 'synthetic' or 'h36m:DIR'; got {self.data!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data copy (lists instead of tuples) for checkpoints and JSON."""
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`InputError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InputError(f"unknown training settings {unknown}: settings must be TrainConfig fields "
                             f"(expected one of {', '.join(sorted(names))})")
        kw = dict(data)
        if "betas" in kw:
            kw["betas"] = tuple(kw["betas"])
        return cls(**kw)

    def replace(self, **changes: Any) -> "TrainConfig":
        """A validated copy with some settings changed."""
        d = self.to_dict()
        d.update(changes)
        return TrainConfig.from_dict(d)


CORE_FIELDS: tuple[str, ...] = (
    "train_subjects", "val_subjects", "keypoints", "batch_size", "grad_accum", "micro_batch", "lr",
    "lr_decay",
    "weight_decay", "betas", "eps", "flip", "random_offset", "use_actions", "action_dropout", "official_grad",
    "objective", "seed", "shuffle_seed", "drop_last", "recipe", "lr_schedule", "warmup_steps", "final_lr_ratio",
    "schedule_steps", "ema_decay", "noise_2d", "joint_dropout",
)
"""Settings that define the trajectory of a run; a resumed run keeps the stored values."""

BUDGET_FIELDS: tuple[str, ...] = (
    "epochs", "max_steps", "max_minutes", "checkpoint_every", "keep_every", "val_every", "val_windows",
    "log_every", "device", "progress", "amp", "data",
)
"""Settings a resumed run may change (budgets, logging, device, the precision, which follows the machine, and
where the data lives: another copy of the same data on another machine)."""


def _as_list(name: str, v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    try:
        return [str(s) for s in v]
    except TypeError:
        raise InputError(f"{name} must be a list of names or a comma-separated string; got {v!r}") from None



RECIPES: dict[str, dict[str, Any]] = {
    # The official FinePOSE/D3DP recipe: the TrainConfig defaults (made for many GPU days).
    "official": {},
    # The CPU-budget recipe, chosen by the committed sweep (benchmarks/results/recipe_sweep.json,
    # docs/training.md): many clips per step with a large, warmed-up, cosine-decayed learning rate, bf16
    # autocast where the CPU runs bf16 faster (amp "auto": fp32 on an AVX2-only CPU, where bf16 trains 12x
    # slower), random clip offsets, EMA weights, and light detector-like 2D augmentation.
    "cpu": {
        "batch_size": 64, "lr": 1.5e-3, "lr_schedule": "cosine", "warmup_steps": 300, "final_lr_ratio": 0.01,
        "amp": "auto", "random_offset": True, "ema_decay": 0.999, "noise_2d": 0.004, "joint_dropout": 0.02,
        "action_dropout": 0.5,
    },
}
"""Named bundles of :class:`TrainConfig` settings (``posediff train --recipe NAME``); explicit settings
win over the recipe's."""


def recipe_settings(name: str) -> dict[str, Any]:
    """The settings of a named recipe, with ``recipe`` set to its name.

    Raises:
        InputError: unknown recipe name.
    """
    if name not in RECIPES:
        raise InputError(f"unknown training recipe {name!r}; expected one of {sorted(RECIPES)}")
    return {**RECIPES[name], "recipe": name}
