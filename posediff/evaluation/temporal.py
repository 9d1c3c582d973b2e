"""Velocity and acceleration errors of an evaluation: the windows' poses put back into their sequences.

Windows are sampled independently, so a jump between two windows is part of what a video user sees.
The scored poses of every window (last sampler step, the deployable aggregators) are therefore placed
at their frames of the source sequence (overlapping frames blended with the windows' evaluation
weights), and MPJVE and acceleration error are computed over every run of consecutive evaluated
frames — window boundaries included. With ``--max-windows`` only pairs/triples of frames that were
all evaluated count.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["TEMPORAL_METRICS", "TEMPORAL_AGGREGATORS", "TemporalCollector"]

TEMPORAL_AGGREGATORS = ("P-Agg", "J-Agg")
"""The aggregators whose output sequences are scored over time (the deployable ones)."""

TEMPORAL_METRICS = {
    "mpjve_mm": {"label": "MPJVE (mm/frame)", "better": "lower", "order": 1},
    "accel_mm": {"label": "Acceleration error (mm/frame²)", "better": "lower", "order": 2},
}
"""Velocity error (first differences) and acceleration error (second differences, the jitter measure),
both against the ground truth's own motion; see :func:`posediff.metrics.mpjve` and
:func:`posediff.metrics.acceleration_error`."""


class TemporalCollector:
    """Gathers each window's last-step poses per (protocol, aggregator) and scores the rebuilt sequences.

    Args:
        lengths: Frame count of every sequence of the data set (index = the rows' ``seq``).
        groups: Group name of every sequence (action or sequence name).
    """

    def __init__(self, lengths: Sequence[int], groups: Sequence[str]) -> None:
        self.lengths = list(lengths)
        self.groups = list(groups)
        self.poses: dict[tuple[str, str], list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]] = defaultdict(list)
        self.truth: dict[int, list[tuple[np.ndarray, np.ndarray]]] = defaultdict(list)
        self._truth_done: set[int] = set()

    def add(self, protocol: str, aggregator: str, rows: Sequence[Mapping[str, Any]], poses: np.ndarray,
            truth: np.ndarray) -> None:
        """The windows ``rows`` (with ``seq``, ``frame_idx``, ``weights``) as aggregated by ``aggregator``
        under ``protocol``: ``poses`` and their ground truth ``truth``, both ``(B, T, J, 3)`` metres,
        root-relative."""
        for r, pose, gt in zip(rows, poses, truth):
            self.poses[(protocol, aggregator)].append((r["seq"], r["frame_idx"], r["weights"].numpy(),
                                                       pose.astype(np.float32)))
            key = id(r)
            if key not in self._truth_done:
                self._truth_done.add(key)
                self.truth[r["seq"]].append((r["frame_idx"], gt.astype(np.float32)))

    def _ground_truth(self, seq: int, joints: int) -> np.ndarray:
        gt = np.zeros((self.lengths[seq], joints, 3))
        for idx, x3d in self.truth[seq]:
            gt[idx] = x3d
        return gt

    def results(self) -> dict[str, Any]:
        """``{protocol: {aggregator: {metric: {"avg", "all_frames", "groups": {g: value}, "counts": {g: n}}}}}``
        in mm/frame and mm/frame² (``avg``: unweighted mean over groups; ``all_frames``: over every
        pair/triple). Empty when nothing was collected."""
        out: dict[str, Any] = {}
        for (protocol, agg), items in self.poses.items():
            by_seq: dict[int, list] = defaultdict(list)
            for seq, idx, w, pose in items:
                by_seq[seq].append((idx, w, pose))
            sums: dict[str, dict[str, float]] = {m: defaultdict(float) for m in TEMPORAL_METRICS}
            counts: dict[str, dict[str, int]] = {m: defaultdict(int) for m in TEMPORAL_METRICS}
            for seq, parts in by_seq.items():
                joints = parts[0][2].shape[-2]
                n = self.lengths[seq]
                acc = np.zeros((n, joints, 3))
                wsum = np.zeros(n)
                for idx, w, pose in parts:
                    np.add.at(acc, idx, w[:, None, None] * pose)
                    np.add.at(wsum, idx, w)
                covered = wsum > 0
                pred = acc / np.where(covered, wsum, 1.0)[:, None, None]
                gt = self._ground_truth(seq, joints)
                group = self.groups[seq]
                for metric, info in TEMPORAL_METRICS.items():
                    k = info["order"]
                    if n <= k:
                        continue
                    ok = np.ones(n - k, dtype=bool)
                    for s in range(k + 1):
                        ok &= covered[s:n - k + s]
                    if not ok.any():
                        continue
                    diff = np.diff(pred, n=k, axis=0) - np.diff(gt, n=k, axis=0)
                    err = np.linalg.norm(diff, axis=-1).mean(-1)[ok] * 1000.0
                    sums[metric][group] += float(err.sum())
                    counts[metric][group] += int(ok.sum())
            res = {}
            for metric in TEMPORAL_METRICS:
                names = [g for g in sums[metric] if counts[metric][g]]
                if not names:
                    continue
                per_group = {g: sums[metric][g] / counts[metric][g] for g in names}
                res[metric] = {
                    "avg": float(np.mean([per_group[g] for g in names])),
                    "all_frames": sum(sums[metric].values()) / max(1, sum(counts[metric].values())),
                    "groups": per_group,
                    "counts": {g: counts[metric][g] for g in names},
                }
            out.setdefault(protocol, {})[agg] = res
        return out
