"""posediff-extras: more components for posediff, added through entry points only.

* aggregator ``median`` (:class:`posediff_extras.median.MedianAggregator`): coordinate-wise or
  geometric (Weiszfeld) median of the hypotheses; robust to outlying hypotheses, needs nothing else.
* aggregator ``reproj_softmin`` (:class:`posediff_extras.reproj_softmin.ReprojSoftminAggregator`):
  a soft JPMA; per joint, hypotheses are averaged with weights ``softmax(−reprojection error / τ)``.
* backbone ``tcn`` (:class:`posediff_extras.tcn.TCNBackbone`): a small dilated temporal-convolution
  denoiser with joint mixing and ``block.i`` hook points for fusion blocks.
* preset ``d3dp-tiny-tcn``: the ``d3dp-tiny`` recipe on the ``tcn`` backbone.
"""
from __future__ import annotations

import importlib.resources as _resources

__version__ = "0.1.0"
__all__ = ["TCN_PRESET", "__version__"]

TCN_PRESET = _resources.files(__name__) / "presets" / "d3dp-tiny-tcn.toml"
"""The ``d3dp-tiny-tcn`` preset file (TOML)."""
