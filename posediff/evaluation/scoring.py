"""Scoring windows: sampling in fixed noise blocks, the four aggregations, per-frame metrics, accumulation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError
from ..lifter import aggregate_steps
from ..precision import PRECISIONS as _PRECISIONS



# --------------------------------------------------------------------------- computation
NOISE_BLOCK = 8
"""Windows per block of sampling noise. The noise is drawn from one generator per protocol pass in
blocks of this many windows, in exactly the order sampler calls of ``NOISE_BLOCK`` windows draw it
(batch size 8 was the default before batch size and noise were decoupled), so ``batch_size`` and
``workers`` change the speed, never the samples (beyond float rounding of differently sized batches)."""

PRECISIONS = _PRECISIONS
"""Sampling precisions of :func:`evaluate_protocols` (``precision=``; CLI ``--precision``, ``--fast``)."""


class Accumulator:
    """Weighted sums per (group, aggregator, metric), one entry per step."""

    def __init__(self, steps: int) -> None:
        self.m = steps
        self.sums: dict[tuple[str, str, str], np.ndarray] = {}
        self.weights: dict[str, float] = {}
        self.missing: set[tuple[str, str]] = set()

    def add(self, groups: Sequence[str], agg: str, metric: str, per_clip: np.ndarray) -> None:
        """``per_clip`` ``(B, M)``: the weighted per-frame sums of each clip at every step."""
        for g, v in zip(groups, per_clip):
            key = (g, agg, metric)
            if key not in self.sums:
                self.sums[key] = np.zeros(self.m)
            self.sums[key][:len(v)] += v

    def add_weights(self, groups: Sequence[str], w: np.ndarray) -> None:
        """Add the frame weights ``w (B,)`` of a batch to each clip's group."""
        for g, v in zip(groups, w.tolist()):
            self.weights[g] = self.weights.get(g, 0.0) + v


def _per_frame_stats(err_joint: Tensor, pck_idx: list[int], with_pck: bool) -> dict[str, Tensor]:
    """err_joint (..., T, J) metres → per-frame MPJPE (mm) and, for 3DHP, PCK/AUC (%)."""
    out = {"mpjpe_mm": err_joint.mean(-1) * 1000.0}
    if with_pck:
        from ..metrics import AUC_THRESHOLDS

        e = err_joint[..., pck_idx]
        out["pck"] = (e < 0.15).double().mean(-1) * 100.0
        th = torch.as_tensor(AUC_THRESHOLDS, dtype=e.dtype)
        out["auc"] = (e[..., None] < th).double().mean(dim=(-2, -1)) * 100.0
    return out


def aligned_errors(poses: Tensor, gt: Tensor) -> Tensor:
    """Per-joint distances (float64) after per-pose similarity Procrustes alignment, as
    ``‖procrustes_align(poses, gt) − gt‖`` (:func:`posediff.metrics.procrustes_align`, same SVD, same
    reflection fix), computed for all poses in one batched float64 SVD.

    ``poses`` ``(..., J, D)``; ``gt`` broadcastable to it and not expanded: its centring and norm are
    computed once per ground-truth pose. With ``t = μ_gt − a·μ_p·R`` the residual of the aligned pose is
    ``a·(p − μ_p)·R − (gt − μ_gt) = ‖gt₀‖·(ΣS·p̂₀·R − ĝt₀)`` (hats: centred and divided by their Frobenius
    norm), so the aligned pose itself is never formed.
    """
    p = poses.to(torch.float64)
    y = gt.to(torch.float64)
    x0 = y - y.mean(dim=-2, keepdim=True)
    y0 = p - p.mean(dim=-2, keepdim=True)
    # as procrustes_align: norms clamped at 1e-12 (a degenerate pose aligns to the target's centroid)
    norm_x = torch.sqrt((x0 * x0).sum(dim=(-2, -1), keepdim=True)).clamp(min=1e-12)
    norm_y = torch.sqrt((y0 * y0).sum(dim=(-2, -1), keepdim=True)).clamp(min=1e-12)
    x0 = x0 / norm_x
    y0 = y0 / norm_y
    h = torch.einsum("...ji,...jk->...ik", x0, y0)  # x0ᵀ·y0 (3, 3)
    u, s, vt = torch.linalg.svd(h)
    r = vt.transpose(-1, -2) @ u.transpose(-1, -2)
    sign = torch.sign(torch.linalg.det(r))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    if bool((sign < 0).any()):  # no reflections: flip the last column of V and the last singular value
        fix = torch.ones_like(s)
        fix[..., -1] = sign
        s = s * fix
        r = (vt.transpose(-1, -2) * fix.unsqueeze(-2)) @ u.transpose(-1, -2)
    trace = s.sum(dim=-1)[..., None, None]
    return torch.linalg.vector_norm(trace * (y0 @ r) - x0, dim=-1) * norm_x[..., 0]


class NoiseStream:
    """The sampler's noise for consecutive windows of one protocol pass (see :data:`NOISE_BLOCK`).

    ``take(n)`` returns the ``draws`` of the next ``n`` windows, as the sampler would draw them with
    ``generator`` in calls of ``NOISE_BLOCK`` windows: per block, ``n_draws`` tensors of shape
    ``(block, *shape)`` one after the other."""

    def __init__(self, seed: int, total: int, n_draws: int, shape: tuple[int, ...], dtype: torch.dtype) -> None:
        self.gen = torch.Generator().manual_seed(seed)
        self.left = total
        self.n_draws = n_draws
        self.shape = shape
        self.dtype = dtype
        self.buf: list[Tensor] = []  # per draw, the drawn windows not taken yet (n, *shape)

    def take(self, n: int) -> list[Tensor]:
        """The ``draws`` of the next ``n`` windows: per draw, ``(n, *shape)``."""
        have = self.buf[0].shape[0] if self.buf else 0
        parts: list[list[Tensor]] = [[b] for b in self.buf] if self.buf else [[] for _ in range(self.n_draws)]
        while have < n:
            nb = min(NOISE_BLOCK, self.left)
            if nb <= 0:
                raise RuntimeError("noise stream exhausted")  # pragma: no cover - callers take exactly `total`
            self.left -= nb
            for i in range(self.n_draws):
                parts[i].append(torch.randn((nb, *self.shape), generator=self.gen, dtype=self.dtype))
            have += nb
        out, self.buf = [], []
        for i in range(self.n_draws):
            d = parts[i][0] if len(parts[i]) == 1 else torch.cat(parts[i])
            out.append(d[:n])
            if d.shape[0] > n:
                self.buf.append(d[n:])
        return out


def replay_draws(lifter, steps: int) -> int:
    """How many noise tensors one sampler call of ``steps`` steps draws: x_T, then one per step whose rule asks
    for fresh noise (``Sampler.draws_noise``); recorded draws of that count replay the call exactly."""
    pairs = lifter.sampler.time_pairs(steps)
    return 1 + sum(1 for t, t_next in pairs if t_next >= 0 and lifter.sampler.draws_noise(t, t_next))


@dataclass
class ScoringContext:
    """What scoring a batch needs (read-only; shared by the worker threads)."""

    lifter: Any
    H: int
    M: int
    root_joint: int
    pck_idx: list[int]
    is_3dhp: bool
    metrics: list[str]
    has_root: bool
    has_camera: bool
    jpma: dict[str, Any]
    seq_groups: list[str]
    extras: Optional[dict[str, Any]] = None  # registered aggregators scored beside the standard rows, by name


def score_batch(ctx: ScoringContext, chunk: list[dict], acts: list[Optional[str]], draws: list[Tensor],
                protocols: Sequence[str]) -> dict[str, Any]:
    """Sample one batch of windows and score it for every protocol of a pass.

    Returns ``{"groups", "w" (B,) frame weights, "stats": {protocol: {(agg, metric): (B, M) weighted
    per-clip sums}}}``; every aggregator and step is computed in one batched pass (all hypotheses,
    the mean and the JPMA poses of all steps go through one float64 Procrustes call)."""
    lifter = ctx.lifter
    dev = next(lifter.parameters()).device
    x2d_in = torch.stack([r["x2d"] for r in chunk]).to(dev)
    hyps = lifter.sample(x2d_in, actions=None if all(a is None for a in acts) else acts, hypotheses=ctx.H,
                         steps=ctx.M, draws=draws)
    hyps = hyps.detach().to("cpu", torch.float64)  # (B, M, H, T, J, 3)
    b, m_here, h_n, t_n, j_n, _ = hyps.shape
    gt = torch.stack([r["x3d"] for r in chunk]).double()
    gt[..., ctx.root_joint, :] = 0.0
    w = torch.stack([r["weights"] for r in chunk]).double()
    groups = [ctx.seq_groups[r["seq"]] for r in chunk]
    wn = w / w.sum(dim=1, keepdim=True).clamp(min=1e-12)

    # every pose to score, stacked along the hypothesis axis: H hypotheses, the mean, one JPMA pose per protocol,
    # then the registered aggregators; every step of each, through the one aggregation (aggregate_steps)
    extra = [hyps.mean(dim=2)]
    x2d = torch.stack([r["x2d"] for r in chunk]).double()
    cam = torch.stack([r["camera"] for r in chunk]).double() if ctx.has_camera else None
    root_gt = torch.stack([r["root"] for r in chunk]).double() if ctx.has_root else None
    jagg_at: dict[str, int] = {}
    if ctx.has_camera:
        for p in protocols:
            jagg_at[p] = h_n + len(extra)
            extra.append(aggregate_steps(ctx.jpma[p], hyps, x2d=x2d, camera=cam,
                                         root=root_gt if p == "paper" else None, every_step=True))
    extra_at: dict[tuple[str, str], int] = {}
    for name, agg in ctx.extras.items():
        for p in protocols:
            root = root_gt if p == "paper" else None
            if ("camera" in agg.needs and cam is None) or ("root" in agg.needs and root is None):
                continue  # reported as n/a, with a note
            with torch.no_grad():
                pose = aggregate_steps(agg, hyps, x2d=x2d, camera=cam, root=root,
                                       target=gt if "target" in agg.needs else None, every_step=True)
            extra_at[(name, p)] = h_n + len(extra)
            extra.append(pose.to(torch.float64))
    poses = torch.cat([hyps, torch.stack(extra, dim=2)], dim=2)  # (B, M, H + E, T, J, 3)
    g = gt[:, None, None]
    err = torch.linalg.vector_norm(poses - g, dim=-1)  # (B, M, H + E, T, J)
    aerr = aligned_errors(poses, g)
    err_h, aerr_h = err[:, :, :h_n], aerr[:, :, :h_n]

    def choose(e: Tensor, pick: Tensor) -> Tensor:  # e (B, M, H, T, J), pick (B, M)
        return torch.take_along_dim(e, pick[:, :, None, None, None], dim=2).squeeze(2)

    def p_mpjpe(a: Tensor) -> Tensor:
        return a.mean(-1) * 1000.0

    shared: dict[str, dict[str, Tensor]] = {}
    # P-Agg: the mean hypothesis (P-MPJPE aligns the mean pose)
    shared["P-Agg"] = _per_frame_stats(err[:, :, h_n], ctx.pck_idx, ctx.is_3dhp)
    shared["P-Agg"]["p_mpjpe_mm"] = p_mpjpe(aerr[:, :, h_n])
    # P-Best: one hypothesis per window, chosen by its frame-weighted error (oracle)
    pick = (err_h.mean(-1) * wn[:, None, None]).sum(-1).argmin(dim=2)  # (B, M)
    shared["P-Best"] = _per_frame_stats(choose(err_h, pick), ctx.pck_idx, ctx.is_3dhp)
    pick2 = (aerr_h.mean(-1) * wn[:, None, None]).sum(-1).argmin(dim=2)
    shared["P-Best"]["p_mpjpe_mm"] = p_mpjpe(choose(aerr_h, pick2))
    # J-Best: per joint (oracle); P-MPJPE: per-joint minimum of the aligned errors (official)
    shared["J-Best"] = _per_frame_stats(err_h.min(dim=2).values, ctx.pck_idx, ctx.is_3dhp)
    shared["J-Best"]["p_mpjpe_mm"] = p_mpjpe(aerr_h.min(dim=2).values)

    wb = w[:, None, :]

    def sums(st: dict[str, dict[str, Tensor]]) -> dict[tuple[str, str], np.ndarray]:
        return {(agg, metric): (vals[metric] * wb).sum(dim=-1).numpy()
                for agg, vals in st.items() for metric in ctx.metrics}

    shared_sums = sums(shared)
    # last-step output sequences of the deployable aggregators, for the velocity/acceleration errors
    temporal: dict[str, dict[str, np.ndarray]] = {}
    for p in protocols:
        temporal[p] = {"P-Agg": poses[:, -1, h_n].numpy()}
        if p in jagg_at:
            temporal[p]["J-Agg"] = poses[:, -1, jagg_at[p]].numpy()
        for (name, q), i in extra_at.items():
            if q == p and "target" not in ctx.extras[name].needs:
                temporal[p][name] = poses[:, -1, i].numpy()
    stats: dict[str, dict[tuple[str, str], np.ndarray]] = {}
    for p in protocols:
        st = dict(shared_sums)
        if p in jagg_at:
            i = jagg_at[p]
            ja = _per_frame_stats(err[:, :, i], ctx.pck_idx, ctx.is_3dhp)
            ja["p_mpjpe_mm"] = p_mpjpe(aerr[:, :, i])
            st.update(sums({"J-Agg": ja}))
        for (name, q), i in extra_at.items():
            if q == p:
                ex = _per_frame_stats(err[:, :, i], ctx.pck_idx, ctx.is_3dhp)
                ex["p_mpjpe_mm"] = p_mpjpe(aerr[:, :, i])
                st.update(sums({name: ex}))
        stats[p] = st
    return {"groups": groups, "w": w.sum(dim=1).numpy(), "stats": stats, "windows": b, "temporal": temporal,
            "truth": gt.numpy(), "rows": chunk}


def resolve_workers(workers: int, lifter) -> int:
    """``workers`` (0 = auto: on CPU one per intra-op thread torch would use, else 1)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise InputError(f"workers must be an int >= 0 (0 = auto); got {workers!r}")
    if workers:
        return workers
    dev = next(lifter.parameters()).device
    return max(1, torch.get_num_threads()) if dev.type == "cpu" else 1


def evaluation_windows(dataset, frames: int, official_overlap: bool) -> list[dict]:
    """Every window of ``frames`` frames with 3D ground truth and a positive weight, as row dicts (2D, 3D, root, camera, weights, action, subject, camera name)."""
    from ..data.clips import sequence_windows

    rows = []
    for si, seq in enumerate(dataset):
        if seq.x3d is None:
            continue
        w = sequence_windows(seq, frames, official_overlap)
        frame_idx = w["windows"].frame_index()
        for i in range(w["windows"].num_windows):
            weights = w["weights"][i]
            if float(weights.sum()) <= 0:
                continue
            rows.append({
                "seq": si, "frame_idx": frame_idx[i], "x2d": w["x2d"][i], "x3d": w["x3d"][i],
                "root": None if w["root"] is None else w["root"][i],
                "camera": w["camera"], "weights": weights, "action": seq.base_action,
                "subject": seq.subject, "camera_name": seq.camera_name,
            })
    return rows


def grouping(dataset) -> tuple[str, list[str]]:
    """Grouping kind and the group name of each sequence."""
    if any(s.base_action for s in dataset):
        return "action", [s.base_action or "(none)" for s in dataset]
    subjects = [s.subject for s in dataset]
    if len(set(subjects)) == len(subjects):
        return "sequence", subjects
    return "sequence", [f"{s.subject}/{s.action}/{s.camera_name}".rstrip("/") for s in dataset]
