"""Named sampling configurations of :func:`posediff.lift` (``sampling=``; CLI ``--sampling``).

A configuration sets the hypotheses H, the sampler steps M, flip test-time augmentation and the
aggregator for one call, without touching the model's spec. The choices come from the speed–accuracy
map of ``docs/performance.md`` (``benchmarks/speed_accuracy.py``), measured on held-out Human3.6M S8 with
the shipped small models:

* ``"fast"``: H = 2, M = 2, flip, mean: 8 denoiser evaluations per window. For the shipped
  ``finepose-small-h36m`` it is the fastest configuration of the map within 0.5 mm of the paper's
  configuration (+0.31 mm on 256 S8 windows with ground-truth 2D) at 1/50 of its evaluations.
* ``"realtime"``: H = 1, M = 1, flip, mean: 2 evaluations per window, about 1 mm above the paper's
  configuration on the shipped FinePOSE; the default of :class:`posediff.streaming.StreamingLifter`.
* ``"model"`` (the default of :func:`posediff.lift`): the model's own H, M and flip (for the shipped small
  models H = 5, M = 5, flip) with the **mean** of the hypotheses. It stays the default because ``"fast"``
  does not win where ``lift`` is used: on held-out S8 given as detector-like COCO-17 (3 px noise, 3 % joints
  dropped, no camera) ``"fast"`` gives 53.4 mm against 51.4 mm (``scripts/detector_like_eval.py``), and on
  S8 video with the camera 46.5 against 45.3 mm (``scripts/video_smoothness_eval.py``). Choose ``"fast"``
  when speed matters more than those 1–2 mm. The mean, not the spec's JPMA: on the shipped models JPMA is
  4 mm less accurate and 5.6× more jittery on video (acceleration error; ``docs/lifting.md``).
* ``"paper"``: the paper's evaluation setting, H = 20, M = 10, flip, the model's aggregator (JPMA for the
  FinePOSE and D3DP presets).

On the shipped small models JPMA is less accurate than the mean at every H and M of the map (it picks
hypotheses by reprojection, and depth errors barely change the reprojection), so the two cheap
configurations use the mean.

Explicit ``hypotheses=``, ``steps=`` or ``aggregator=`` arguments of :func:`posediff.lift` override the
configuration's values.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

from ..errors import InputError
from ..validation import is_int

__all__ = ["SamplingConfig", "SAMPLING_CONFIGS", "DEFAULT_SAMPLING", "get_sampling_config", "resolve_sampling"]


@dataclass(frozen=True)
class SamplingConfig:
    """One named configuration; ``None`` fields keep the model's own value.

    Attributes:
        name: The name used by ``sampling=``.
        hypotheses: H per window.
        steps: Sampler steps M.
        flip: Flip test-time augmentation.
        aggregator: Registered aggregator name.
        summary: One line for help texts.
    """

    name: str
    hypotheses: Optional[int]
    steps: Optional[int]
    flip: Optional[bool]
    aggregator: Optional[str]
    summary: str


SAMPLING_CONFIGS: dict[str, SamplingConfig] = {c.name: c for c in (
    SamplingConfig("fast", 2, 2, True, "mean",
                   "H=2, M=2, flip, mean: 8 denoiser calls per window, within 0.5 mm of 'paper' (docs/performance.md)"),
    SamplingConfig("realtime", 1, 1, True, "mean", "H=1, M=1, flip, mean: 2 denoiser calls per window"),
    SamplingConfig("model", None, None, None, "mean", "the model's own H, M and flip, with the mean of the hypotheses"),
    SamplingConfig("paper", 20, 10, True, None, "the paper's evaluation: H=20, M=10, flip, the model's aggregator"),
)}
"""The named configurations, by name."""

DEFAULT_SAMPLING = "model"
"""The configuration :func:`posediff.lift` uses when ``sampling`` is not given."""


def get_sampling_config(name: Optional[str]) -> SamplingConfig:
    """The configuration called ``name`` (``None``: :data:`DEFAULT_SAMPLING`).

    Raises:
        InputError: an unknown name (the message lists the known ones).
    """
    key = DEFAULT_SAMPLING if name is None else name
    if key not in SAMPLING_CONFIGS:
        raise InputError(f"sampling must be one of {sorted(SAMPLING_CONFIGS)}; got {name!r}")
    return SAMPLING_CONFIGS[key]


def resolve_sampling(name: Optional[str], *, hypotheses: Optional[int] = None, steps: Optional[int] = None,
                     flip: Optional[bool] = None, aggregator: Any = None) -> SamplingConfig:
    """The configuration ``name`` with the caller's explicit values in place of its own (``None`` keeps the
    configuration's). The one rule of :func:`posediff.lift` and :class:`posediff.streaming.StreamingLifter`;
    ``aggregator`` may also be a module.

    Raises:
        InputError: an unknown name, H or M below 1, a flip that is not a bool.
    """
    config = get_sampling_config(name)
    for what, v in (("hypotheses", hypotheses), ("steps", steps)):
        if v is not None and (not is_int(v) or v < 1):
            raise InputError(f"{what} must be an int >= 1; got {v!r}")
    if flip is not None and not isinstance(flip, bool):
        raise InputError(f"flip must be True, False or None; got {flip!r}")
    given = {"hypotheses": None if hypotheses is None else int(hypotheses),
             "steps": None if steps is None else int(steps), "flip": flip, "aggregator": aggregator}
    return replace(config, **{k: v for k, v in given.items() if v is not None})
