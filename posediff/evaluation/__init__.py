"""Evaluation protocols and reports: every sampler step, four aggregators, per action / per sequence.

For every test window the lifter samples H hypotheses with M DDIM steps; for each step the
hypotheses are aggregated four ways (reference §5):

* **J-Agg** — JPMA: per joint, the hypothesis whose reprojection best matches the input 2D (deployable).
* **P-Agg** — the mean hypothesis (deployable).
* **P-Best** — *oracle (uses ground-truth 3D)*: the single hypothesis with the lowest error over the
  window. Official: one index per evaluation mini-batch of ``-b`` windows (§5.3); here one per window,
  so the value does not depend on the batch size.
* **J-Best** — *oracle (uses ground-truth 3D)*: per joint the hypothesis closest to the ground truth
  (probably what the paper's headline numbers report, §5.4).

Metrics per frame, then averaged: MPJPE and P-MPJPE in mm (P-MPJPE aligns the assembled pose; official
J-Agg P-MPJPE gathers per-hypothesis aligned errors instead, quirk §8.17; for the oracles every
hypothesis is aligned before the choice, as officially); for 3DHP also PCK@150 mm and AUC over the 14
scored joints. Frames are weighted so each counts once (``official_overlap=True``: the official double
counting of the last window's overlap, §1.7); invalid 3DHP frames weigh 0. Groups are the base
actions (H36M, synthetic) or the sequences (3DHP); "Avg" is the unweighted mean over groups
(official), "All frames" the frame-weighted mean.

Protocols:

* ``"deployable"`` (default) — no ground-truth action label (``actions=None``: the neutral prompt) and
  JPMA with a root trajectory estimated from the 2D.
* ``"paper"`` — the official evaluation: the test video's ground-truth action label is the prompt
  (§3.6) and JPMA adds the ground-truth root trajectory (§5.2).

Speed: the sampler's denoiser takes ~95% of the time (the metrics, one batched float64 Procrustes per
batch for all hypotheses, steps and aggregators, the rest). ``precision="bf16"`` samples with the lifter's
bf16 copy (CLI ``--fast``; recorded in the report), ``workers`` scores batches in parallel threads. The
noise is drawn in blocks of :data:`NOISE_BLOCK` windows, so neither ``batch_size`` nor ``workers`` changes
the samples.
"""
from __future__ import annotations

from ..training.datasets import accepted_actions
from .models import describe_data
from .protocols import AGGREGATORS, ORACLE_LABEL, PROTOCOLS
from .report import EvaluationReport
from .run import evaluate, evaluate_protocols
from .scoring import NOISE_BLOCK, PRECISIONS, aligned_errors, NoiseStream, replay_draws

__all__ = [
    "PROTOCOLS",
    "AGGREGATORS",
    "ORACLE_LABEL",
    "NOISE_BLOCK",
    "PRECISIONS",
    "EvaluationReport",
    "evaluate",
    "evaluate_protocols",
    "accepted_actions",
    "describe_data",
]
