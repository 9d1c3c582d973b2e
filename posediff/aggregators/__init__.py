"""Aggregators (kind ``aggregator``): H hypotheses → one pose per frame."""
from __future__ import annotations

from . import jpma, mean, oracle  # noqa: F401  (built-ins register on import)
from .jpma import JPMAAggregator
from .mean import MeanAggregator
from .oracle import OracleAggregator

__all__ = ["JPMAAggregator", "MeanAggregator", "OracleAggregator"]
