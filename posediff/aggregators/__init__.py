"""Aggregators (kind ``aggregator``): H hypotheses → one pose per frame."""
from __future__ import annotations

from . import jpma, jpma_temporal, mean, oracle  # noqa: F401  (built-ins register on import)
from .jpma import JPMAAggregator
from .jpma_temporal import TemporalJPMAAggregator
from .mean import MeanAggregator
from .oracle import OracleAggregator

__all__ = ["JPMAAggregator", "MeanAggregator", "OracleAggregator", "TemporalJPMAAggregator"]
