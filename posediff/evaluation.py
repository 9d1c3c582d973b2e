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

import datetime as _dt
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from .errors import InputError
from .training.datasets import accepted_actions

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
    "load_model",
    "describe_data",
]

Protocol = Literal["deployable", "paper"]

PROTOCOLS: dict[str, dict[str, str]] = {
    "deployable": {
        "actions": "none (neutral prompt, actions=None)",
        "jpma_root": "estimated from the 2D and the camera intrinsics",
        "description": "No test-time information beyond the 2D and the camera intrinsics: no ground-truth action "
                       "label (the conditioner gets actions=None, i.e. the neutral prompt) and J-Agg (JPMA) "
                       "reprojects with a root trajectory estimated from the 2D.",
    },
    "paper": {
        "actions": "ground-truth action label of each test video",
        "jpma_root": "ground-truth root trajectory",
        "description": "The official FinePOSE evaluation: the ground-truth action label of each test video is the "
                       "prompt (reference §3.6) and J-Agg (JPMA) adds the ground-truth camera-space root "
                       "trajectory before reprojecting (§5.2). Both use test-time ground truth.",
    },
}
"""The two evaluation protocols."""

ORACLE_LABEL = "oracle (uses ground-truth 3D)"

AGGREGATORS: dict[str, dict[str, Any]] = {
    "J-Agg": {"label": "J-Agg (JPMA)", "oracle": False,
              "description": "per joint, the hypothesis whose reprojection is closest to the input 2D"},
    "P-Agg": {"label": "P-Agg (mean)", "oracle": False, "description": "the mean of the hypotheses"},
    "P-Best": {"label": f"P-Best, {ORACLE_LABEL}", "oracle": True,
               "description": "the hypothesis with the lowest error over the window (chosen with the ground "
                              "truth; official: one per evaluation mini-batch)"},
    "J-Best": {"label": f"J-Best, {ORACLE_LABEL}", "oracle": True,
               "description": "per joint, the hypothesis closest to the ground truth"},
}
"""The four aggregators, in report order; ``oracle`` marks the ones that read the ground-truth 3D."""

METRICS: dict[str, dict[str, str]] = {
    "mpjpe_mm": {"label": "MPJPE (mm)", "better": "lower"},
    "p_mpjpe_mm": {"label": "P-MPJPE (mm)", "better": "lower"},
    "pck": {"label": "PCK@150mm (%)", "better": "higher"},
    "auc": {"label": "AUC (%)", "better": "higher"},
}


# --------------------------------------------------------------------------- report
@dataclass
class EvaluationReport:
    """An evaluation result: plain data (``.data``) with JSON and Markdown writers.

    ``data["results"][aggregator][metric]`` holds ``{"avg": [M], "all_frames": [M], "groups": {name: [M]}}``
    (one value per sampler step; ``None`` where the aggregator could not run, e.g. J-Agg without camera
    intrinsics). ``data["protocol"]["name"]`` says which protocol was used.
    """

    data: dict = field(default_factory=dict)

    @property
    def protocol(self) -> str:
        """``"deployable"`` or ``"paper"``."""
        return self.data["protocol"]["name"]

    def value(self, aggregator: str = "J-Agg", metric: str = "mpjpe_mm", step: int = -1,
              group: Optional[str] = None) -> Optional[float]:
        """One number: a metric of an aggregator at a sampler step (default the last), for a group
        (default the unweighted average over groups)."""
        try:
            res = self.data["results"][aggregator][metric]
        except KeyError:
            raise InputError(f"report has no {aggregator!r}/{metric!r}; aggregators {list(self.data['results'])}, "
                             f"metrics {self.data['metrics']}") from None
        vals = res["avg"] if group is None else res["groups"][group]
        return vals[step]

    def to_json(self, path: str | Path | None = None) -> str:
        """The report as JSON text (written to ``path`` when given)."""
        text = json.dumps(self.data, indent=2, default=_json_default) + "\n"
        if path is not None:
            Path(path).write_text(text)
        return text

    def save(self, out_dir: str | Path, stem: str) -> tuple[Path, Path]:
        """Write ``stem.json`` and ``stem.md`` into ``out_dir``; returns both paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        j, m = out / f"{stem}.json", out / f"{stem}.md"
        self.to_json(j)
        m.write_text(self.to_markdown())
        return j, m

    def to_markdown(self) -> str:
        """A human-readable report: header, per-step averages, per-group tables at the last step."""
        d = self.data
        steps = d["steps"]
        aggs = [a for a in AGGREGATORS if a in d["results"]]
        metrics = d["metrics"]
        kind = d["groups"]["kind"]
        lines = [f"# posediff evaluation: {d['model']['name']} on {d['data']['description']}", ""]
        proto = d["protocol"]
        lines += [
            f"- **Protocol: {proto['name']}** — {proto['description']}",
            f"  - action labels: {proto['actions']}; JPMA root: {proto['jpma_root']}",
            f"- Model: `{d['model']['source']}`"
            + (f" (sha256 {d['model']['sha256'][:12]}…)" if d["model"].get("sha256") else "")
            + f" — {d['model']['spec']}; H = {d['model']['hypotheses']} hypotheses, "
            f"M = {d['model']['steps']} sampler steps, seed {d['seed']}, "
            f"{d['model'].get('precision', 'fp32')} sampling",
            f"- Data: {d['data']['description']}; {d['data']['sequences']} sequences, {d['data']['windows']} "
            f"windows of {d['data']['frames_per_window']} frames, {d['data']['frames']:.0f} frames scored "
            f"({d['windows']['mode']})",
        ]
        for note in d.get("notes", []):
            lines.append(f"- Note: {note}")
        lines.append(f"- Columns marked **{ORACLE_LABEL}** choose hypotheses with the ground truth: diagnostics, "
                     "not results a deployed system could reach.")
        together = d.get("evaluated_with", [proto["name"]])
        smp = d.get("sampling") or {}
        par = (f", {smp['workers']} worker threads" if smp.get("workers", 1) > 1 else "")
        lines.append(f"- Wall time {d['wall_s']:.0f} s on {d['device']}{par}"
                     + (f" (one call for the protocols {', '.join(together)})." if len(together) > 1 else "."))
        lines.append("")
        head = "| step | " + " | ".join(_agg_header(a) for a in aggs) + " |"
        sep = "|---:|" + "---:|" * len(aggs)
        avg_name = f"unweighted mean over {d['groups']['count']} {kind}s" if d["groups"]["count"] > 1 else kind
        for metric in metrics:
            lines += [f"## {METRICS[metric]['label']} per sampler step ({avg_name})", "", head, sep]
            for i, s in enumerate(steps):
                row = [_fmt(d["results"][a][metric]["avg"][i]) for a in aggs]
                lines.append(f"| {s} | " + " | ".join(row) + " |")
            lines.append("")
        last = len(steps) - 1
        group_names = d["groups"]["names"]
        for metric in metrics:
            lines += [f"## {METRICS[metric]['label']} per {kind}, step {steps[last]}", "",
                      f"| {kind} | frames | " + " | ".join(_agg_header(a) for a in aggs) + " |",
                      "|---|---:|" + "---:|" * len(aggs)]
            for g in group_names:
                row = [_fmt(d["results"][a][metric]["groups"][g][last]) for a in aggs]
                lines.append(f"| {g} | {d['groups']['frames'][g]:.0f} | " + " | ".join(row) + " |")
            row = [_fmt(d["results"][a][metric]["avg"][last]) for a in aggs]
            lines.append("| **Avg** (unweighted) | | " + " | ".join(row) + " |")
            row = [_fmt(d["results"][a][metric]["all_frames"][last]) for a in aggs]
            lines.append(f"| All frames | {d['data']['frames']:.0f} | " + " | ".join(row) + " |")
            lines.append("")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line per aggregator with the last step's averages."""
        parts = []
        for a in AGGREGATORS:
            if a not in self.data["results"]:
                continue
            vals = ", ".join(f"{METRICS[m]['label']} {_fmt(self.value(a, m))}" for m in self.data["metrics"])
            parts.append(f"{AGGREGATORS[a]['label']}: {vals}")
        return f"[{self.protocol}] " + "; ".join(parts)


def _agg_header(a: str) -> str:
    return f"{a} — {ORACLE_LABEL}" if AGGREGATORS[a]["oracle"] else AGGREGATORS[a]["label"]


def _fmt(v: Optional[float]) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# --------------------------------------------------------------------------- computation
NOISE_BLOCK = 8
"""Windows per block of sampling noise. The noise is drawn from one generator per protocol pass in
blocks of this many windows, in exactly the order sampler calls of ``NOISE_BLOCK`` windows draw it
(batch size 8 was the default before batch size and noise were decoupled), so ``batch_size`` and
``workers`` change the speed, never the samples (beyond float rounding of differently sized batches)."""

PRECISIONS = ("fp32", "bf16")
"""Sampling precisions of :func:`evaluate_protocols` (``precision=``; CLI ``--precision``, ``--fast``)."""


class _Accumulator:
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
        for g, v in zip(groups, w.tolist()):
            self.weights[g] = self.weights.get(g, 0.0) + v


def _per_frame_stats(err_joint: Tensor, pck_idx: list[int], with_pck: bool) -> dict[str, Tensor]:
    """err_joint (..., T, J) metres → per-frame MPJPE (mm) and, for 3DHP, PCK/AUC (%)."""
    out = {"mpjpe_mm": err_joint.mean(-1) * 1000.0}
    if with_pck:
        from .metrics import AUC_THRESHOLDS

        e = err_joint[..., pck_idx]
        out["pck"] = (e < 0.15).double().mean(-1) * 100.0
        th = torch.as_tensor(AUC_THRESHOLDS, dtype=e.dtype)
        out["auc"] = (e[..., None] < th).double().mean(dim=(-2, -1)) * 100.0
    return out


def _aligned_errors(poses: Tensor, gt: Tensor) -> Tensor:
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


class _NoiseStream:
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


def _replay_draws(lifter, steps: Optional[int]) -> Optional[int]:
    """How many noise tensors one sampler call draws (DDIM: one per step), or None when the sampler
    cannot replay recorded noise (then the generator is passed on and batches draw their own)."""
    sampler = lifter.sampler
    if not hasattr(sampler, "time_pairs"):
        return None
    import inspect

    if "draws" not in inspect.signature(lifter.sample).parameters:
        return None  # pragma: no cover - PoseLifter.sample takes draws
    return len(sampler.time_pairs(steps))


@dataclass
class _Context:
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


def _score_batch(ctx: _Context, chunk: list[dict], acts: list[Optional[str]], draws: Optional[list[Tensor]],
                 generator: Optional[torch.Generator], protocols: Sequence[str]) -> dict[str, Any]:
    """Sample one batch of windows and score it for every protocol of a pass.

    Returns ``{"groups", "w" (B,) frame weights, "stats": {protocol: {(agg, metric): (B, M) weighted
    per-clip sums}}}``; every aggregator and step is computed in one batched pass (all hypotheses,
    the mean and the JPMA poses of all steps go through one float64 Procrustes call)."""
    lifter = ctx.lifter
    dev = next(lifter.parameters()).device
    x2d_in = torch.stack([r["x2d"] for r in chunk]).to(dev)
    hyps = lifter.sample(x2d_in, actions=None if all(a is None for a in acts) else acts, generator=generator,
                         hypotheses=ctx.H, steps=ctx.M, draws=draws)
    hyps = hyps.detach().to("cpu", torch.float64)  # (B, M, H, T, J, 3)
    b, m_here, h_n, t_n, j_n, _ = hyps.shape
    gt = torch.stack([r["x3d"] for r in chunk]).double()
    gt[..., ctx.root_joint, :] = 0.0
    w = torch.stack([r["weights"] for r in chunk]).double()
    groups = [ctx.seq_groups[r["seq"]] for r in chunk]
    wn = w / w.sum(dim=1, keepdim=True).clamp(min=1e-12)

    # every pose to score, stacked along the hypothesis axis: H hypotheses, the mean, one JPMA pose per protocol
    extra = [hyps.mean(dim=2)]
    jagg_at: dict[str, int] = {}
    if ctx.has_camera:
        x2d = torch.stack([r["x2d"] for r in chunk]).double()
        cam = torch.stack([r["camera"] for r in chunk]).double()
        root = torch.stack([r["root"] for r in chunk]).double() if ctx.has_root else None
        flat = hyps.reshape(b * m_here, h_n, t_n, j_n, 3)

        def per_step(x: Tensor) -> Tensor:
            return x.repeat_interleave(m_here, dim=0)

        for p in protocols:
            pose = ctx.jpma[p](flat, x2d=per_step(x2d), camera=per_step(cam),
                               root=per_step(root) if p == "paper" else None)
            jagg_at[p] = h_n + len(extra)
            extra.append(pose.reshape(b, m_here, t_n, j_n, 3))
    poses = torch.cat([hyps, torch.stack(extra, dim=2)], dim=2)  # (B, M, H + E, T, J, 3)
    g = gt[:, None, None]
    err = torch.linalg.vector_norm(poses - g, dim=-1)  # (B, M, H + E, T, J)
    aerr = _aligned_errors(poses, g)
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
    stats: dict[str, dict[tuple[str, str], np.ndarray]] = {}
    for p in protocols:
        st = dict(shared_sums)
        if p in jagg_at:
            i = jagg_at[p]
            ja = _per_frame_stats(err[:, :, i], ctx.pck_idx, ctx.is_3dhp)
            ja["p_mpjpe_mm"] = p_mpjpe(aerr[:, :, i])
            st.update(sums({"J-Agg": ja}))
        stats[p] = st
    return {"groups": groups, "w": w.sum(dim=1).numpy(), "stats": stats, "windows": b}


def _resolve_workers(workers: int, lifter) -> int:
    """``workers`` (0 = auto: on CPU one per intra-op thread torch would use, else 1)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise InputError(f"workers must be an int >= 0 (0 = auto); got {workers!r}")
    if workers:
        return workers
    dev = next(lifter.parameters()).device
    return max(1, torch.get_num_threads()) if dev.type == "cpu" else 1


def _windows(dataset, frames: int, official_overlap: bool) -> list[dict]:
    from .data.clips import sequence_windows

    rows = []
    for si, seq in enumerate(dataset):
        if seq.x3d is None:
            continue
        w = sequence_windows(seq, frames, official_overlap)
        for i in range(w["windows"].num_windows):
            weights = w["weights"][i]
            if float(weights.sum()) <= 0:
                continue
            rows.append({
                "seq": si, "x2d": w["x2d"][i], "x3d": w["x3d"][i],
                "root": None if w["root"] is None else w["root"][i],
                "camera": w["camera"], "weights": weights, "action": seq.base_action,
                "subject": seq.subject, "camera_name": seq.camera_name,
            })
    return rows


def _group_names(dataset) -> tuple[str, list[str]]:
    """Grouping kind and the group name of each sequence."""
    if any(s.base_action for s in dataset):
        return "action", [s.base_action or "(none)" for s in dataset]
    subjects = [s.subject for s in dataset]
    if len(set(subjects)) == len(subjects):
        return "sequence", subjects
    return "sequence", [f"{s.subject}/{s.action}/{s.camera_name}".rstrip("/") for s in dataset]


def evaluate(
    lifter,
    dataset,
    *,
    protocol: Protocol = "deployable",
    hypotheses: Optional[int] = None,
    steps: Optional[int] = None,
    batch_size: int = 8,
    seed: int = 0,
    official_overlap: bool = False,
    max_windows: int = 0,
    data_description: str = "",
    source: str = "",
    notes: Sequence[str] = (),
    progress: bool = False,
    model_info: Optional[Mapping[str, Any]] = None,
    precision: Optional[str] = None,
    workers: int = 1,
) -> EvaluationReport:
    """Evaluate a lifter on the windows of a data set under one protocol.

    Args:
        lifter: A :class:`~posediff.lifter.PoseLifter` (put in eval mode here).
        dataset: A :class:`~posediff.data.Dataset` with 3D ground truth; sequences of another joint set
            are converted to the lifter's (cross-dataset, e.g. 3DHP for an H36M model).
        protocol: ``"deployable"`` or ``"paper"`` (see :data:`PROTOCOLS`).
        hypotheses, steps: H and M (default: the lifter's sampler settings).
        batch_size: Windows per sampler call: speed only, the samples do not depend on it (the noise is
            drawn in blocks of :data:`NOISE_BLOCK` windows whatever the batch size).
        seed: Seed of the sampling noise.
        official_overlap: Count frames in the overlap of a sequence's last window twice (official).
        max_windows: Evaluate at most this many windows, evenly spread over the data (0 = all).
        data_description: Text for the report header (which data, which subjects, held out or not).
        source: Where the weights came from (for the report).
        notes: Extra lines for the report.
        progress: Show a progress bar.
        model_info: Extra entries for the report's ``model`` section (e.g. ``{"sha256": ...}``).
        precision: Sampling precision for this call: ``"fp32"`` (the reference), ``"bf16"`` (the lifter's
            fast path, :meth:`~posediff.lifter.PoseLifter.fast_sampling`: a bf16 copy of the denoiser,
            several times faster on CPUs with bf16 matmul units, AVX512-BF16 / AMX) or ``None`` (the
            lifter's own setting). The lifter's setting is restored afterwards; the report records the
            precision used (``data["sampling"]["precision"]``, also ``data["model"]["precision"]``).
        workers: Batches scored in parallel threads, each with one intra-op thread (0 = one per thread
            torch would use on CPU, 1 on GPU; with more than one, torch's intra-op thread count is 1 for
            the duration of the call). Speed only: the noise of every window is drawn in the sequential
            order and the batches are collected in order, so the numbers do not change.

    Returns:
        An :class:`EvaluationReport`.

    Raises:
        InputError: unknown protocol, no window with ground truth.
    """
    if protocol not in PROTOCOLS:
        raise InputError(f"protocol must be one of {list(PROTOCOLS)}; got {protocol!r}")
    reports = evaluate_protocols(lifter, dataset, protocols=[protocol], hypotheses=hypotheses, steps=steps,
                                 batch_size=batch_size, seed=seed, official_overlap=official_overlap,
                                 max_windows=max_windows, data_description=data_description, source=source,
                                 notes=notes, progress=progress, model_info=model_info, precision=precision,
                                 workers=workers)
    return reports[protocol]


def evaluate_protocols(
    lifter,
    dataset,
    *,
    protocols: Sequence[Protocol] = ("deployable", "paper"),
    hypotheses: Optional[int] = None,
    steps: Optional[int] = None,
    batch_size: int = 8,
    seed: int = 0,
    official_overlap: bool = False,
    max_windows: int = 0,
    data_description: str = "",
    source: str = "",
    notes: Sequence[str] = (),
    progress: bool = False,
    model_info: Optional[Mapping[str, Any]] = None,
    precision: Optional[str] = None,
    workers: int = 1,
) -> dict[str, EvaluationReport]:
    """Like :func:`evaluate` for several protocols; the hypotheses are sampled once when the protocols
    give the model the same input (e.g. a model without prompts), so the protocols are compared on
    identical samples. ``precision`` and ``workers`` as in :func:`evaluate`.

    Returns:
        ``{protocol: EvaluationReport}``.
    """
    from .aggregators.jpma import JPMAAggregator
    from .metrics import pck_joints
    from .training.datasets import to_skeleton

    t0 = time.monotonic()
    for p in protocols:
        if p not in PROTOCOLS:
            raise InputError(f"protocol must be one of {list(PROTOCOLS)}; got {p!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be an int >= 1; got {batch_size!r}")
    if precision is not None and precision not in PRECISIONS:
        raise InputError(f"precision must be one of {list(PRECISIONS)} (or None: the model's own); got {precision!r}")
    n_workers = _resolve_workers(workers, lifter)
    from .data.sample import Dataset, Sequence as _Seq

    if not isinstance(dataset, Dataset):
        items = list(dataset) if isinstance(dataset, (list, tuple)) else None
        if items is None or not all(isinstance(s, _Seq) for s in items):
            raise InputError(f"dataset must be a posediff.data.Dataset or a list of Sequence; got "
                             f"{type(dataset).__name__}")
        dataset = Dataset(items)
    lifter.eval()
    sk = lifter.skeleton.name
    src_skeletons = sorted({s.skeleton for s in dataset})
    base_notes = list(notes)
    if src_skeletons != [sk]:
        base_notes.append(f"cross-dataset: joints converted {', '.join(src_skeletons)} → {sk} for the model "
                          "(convert_joints; the joint definitions of the two sets differ slightly, e.g. head/neck, "
                          "which adds a systematic error)")
    ds = to_skeleton(dataset, sk)
    is_3dhp = any(s.source == "3dhp" or s.skeleton == "3dhp-17" for s in dataset)
    kind, seq_groups = _group_names(ds)
    rows = _windows(ds, lifter.frames, official_overlap)
    if not rows:
        raise InputError(f"dataset must hold at least one window with 3D ground truth (x3d); got {len(dataset)} "
                         f"sequence(s), {sum(s.x3d is not None for s in dataset)} with x3d")
    total_windows = len(rows)
    if max_windows and len(rows) > max_windows:
        idx = np.unique(np.linspace(0, len(rows) - 1, max_windows).round().astype(int))
        rows = [rows[i] for i in idx]
        base_notes.append(f"subsampled: {len(rows)} of {total_windows} windows, evenly spread (--max-windows)")
    has_camera = all(r["camera"] is not None for r in rows)
    needs_root = "paper" in protocols
    has_root = all(r["root"] is not None for r in rows)
    if needs_root and not has_root:
        raise InputError("dataset must hold the ground-truth root trajectory (root) for the paper protocol; got "
                         f"{sum(s.root is None for s in dataset)} sequence(s) without root")
    labels, rejected = accepted_actions(lifter, [r["action"] for r in rows])
    distortion = bool(getattr(lifter.aggregator, "distortion", True))
    pck_idx = pck_joints(sk)
    metrics = ["mpjpe_mm", "p_mpjpe_mm"] + (["pck", "auc"] if is_3dhp else [])
    sampler = lifter.sampler
    H = int(hypotheses or getattr(sampler, "hypotheses", 1))
    M = int(steps or getattr(sampler, "steps", 1))

    # Which protocols see identical model inputs (then one sampling pass serves them all)?
    action_lists = {p: [labels[r["action"]] if p == "paper" else None for r in rows] for p in protocols}
    same_input = len(protocols) > 1 and _same_conditioning(lifter, action_lists, protocols)
    passes: list[list[str]] = [list(protocols)] if same_input else [[p] for p in protocols]

    accs = {p: _Accumulator(M) for p in protocols}
    jpma = {p: JPMAAggregator(root="given" if p == "paper" else "estimate", distortion=distortion) for p in protocols}
    ctx = _Context(lifter=lifter, H=H, M=M, root_joint=lifter.skeleton.root, pck_idx=pck_idx, is_3dhp=is_3dhp,
                   metrics=metrics, has_root=has_root, has_camera=has_camera, jpma=jpma, seq_groups=seq_groups)
    n_draws = _replay_draws(lifter, M)
    if n_draws is None:
        n_workers = 1  # batches draw their own noise from one generator: sequential only
    n_workers = min(n_workers, len(passes) * math.ceil(len(rows) / batch_size))
    previous = (lifter.precision, lifter.block_rows, lifter.compile_sampling, lifter.fuse_kernels)
    if precision is not None:
        lifter.fast_sampling(precision, compile=lifter.compile_sampling, fuse=lifter.fuse_kernels,
                             block_rows=lifter.block_rows)
    used_precision = str(lifter.precision)
    threads = torch.get_num_threads()

    def tasks():
        """(pass protocols, windows, labels, draws, generator) per batch, noise drawn in pass order."""
        for group_protocols in passes:
            acts_all = action_lists[group_protocols[0]]
            if n_draws is not None:
                shape = (H, lifter.frames, lifter.skeleton.num_joints, 3)
                noise = _NoiseStream(seed, len(rows), n_draws, shape, rows[0]["x2d"].dtype)
                gen = None
            else:
                noise, gen = None, torch.Generator().manual_seed(seed)
            for b0 in range(0, len(rows), batch_size):
                chunk = rows[b0:b0 + batch_size]
                draws = noise.take(len(chunk)) if noise is not None else None
                yield group_protocols, chunk, acts_all[b0:b0 + batch_size], draws, gen

    def collect(group_protocols: Sequence[str], res: dict[str, Any]) -> None:
        for p in group_protocols:
            acc = accs[p]
            acc.add_weights(res["groups"], res["w"])
            if not has_camera:
                acc.missing.add(("J-Agg", "camera"))
            for (agg, metric), per_clip in res["stats"][p].items():
                acc.add(res["groups"], agg, metric, per_clip)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(rows) * len(passes), unit="win", desc="evaluate", dynamic_ncols=True)
    try:
        if n_workers <= 1:
            for group_protocols, chunk, acts, draws, gen in tasks():
                collect(group_protocols, _score_batch(ctx, chunk, acts, draws, gen, group_protocols))
                if bar is not None:
                    bar.update(len(chunk))
        else:
            from collections import deque
            from concurrent.futures import ThreadPoolExecutor

            # one intra-op thread per worker: the workers share the cores instead of every small op
            # splitting itself across them (results are collected in batch order, so they do not depend
            # on the scheduling)
            torch.set_num_threads(1)
            if hasattr(lifter, "_sampling_runner"):
                with torch.no_grad():
                    lifter._sampling_runner()  # build the reduced-precision copy once, before the threads
            pending: deque = deque()
            with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="posediff-eval") as pool:
                for task in tasks():
                    group_protocols, chunk, acts, draws, gen = task
                    pending.append((group_protocols, pool.submit(_score_batch, ctx, chunk, acts, draws, gen,
                                                                 group_protocols)))
                    while len(pending) > 2 * n_workers:
                        gp, fut = pending.popleft()
                        res = fut.result()
                        collect(gp, res)
                        if bar is not None:
                            bar.update(res["windows"])
                while pending:
                    gp, fut = pending.popleft()
                    res = fut.result()
                    collect(gp, res)
                    if bar is not None:
                        bar.update(res["windows"])
    finally:
        torch.set_num_threads(threads)
        lifter.precision, lifter.block_rows, lifter.compile_sampling, lifter.fuse_kernels = previous
        if bar is not None:
            bar.close()
    sampling = {"precision": used_precision, "batch_size": batch_size, "workers": n_workers,
                "threads": 1 if n_workers > 1 else threads,
                "noise": f"drawn in blocks of {NOISE_BLOCK} windows (independent of batch size and workers)"
                if n_draws is not None else f"drawn per sampler call of {batch_size} windows"}
    if used_precision == "bf16":
        base_notes.append("sampled in bf16 (precision='bf16', CLI --fast): a bf16 copy of the denoiser, fp32 input "
                          "stage, output head, prompts and sampler arithmetic; fp32 is the reference precision")

    wall = time.monotonic() - t0
    reports = {}
    for p in protocols:
        p_notes = list(base_notes)
        if p == "paper" and rejected:
            p_notes.append(f"labels the conditioner does not accept were replaced by the neutral prompt: "
                           f"{sorted(rejected)}")
        if ("J-Agg", "camera") in accs[p].missing:
            p_notes.append("J-Agg (JPMA) needs camera intrinsics, which this data set lacks: reported as n/a")
        if same_input:
            p_notes.append(f"the model gets identical inputs under {' and '.join(protocols)} (its conditioning does "
                           "not depend on the action label), so one set of samples serves every protocol")
        reports[p] = _build_report(
            lifter, accs[p], p, metrics, kind, rows, ds, H, M, seed, official_overlap, data_description, source,
            p_notes, wall, model_info, protocols, sampling,
        )
    return reports


def _same_conditioning(lifter, action_lists: Mapping[str, list], protocols: Sequence[str]) -> bool:
    """True when every label used by any protocol gives the same conditioning as the neutral prompt."""
    labels = {a for p in protocols for a in action_lists[p] if a is not None}
    if not labels:
        return True
    with torch.no_grad():
        ref = lifter.condition(None, 1)
        for a in labels:
            c = lifter.condition([a], 1)
            for x, y in ((ref.tokens, c.tokens), (ref.vector, c.vector)):
                if (x is None) != (y is None) or (x is not None and not torch.equal(x, y)):
                    return False
    return True


def _build_report(lifter, acc: _Accumulator, protocol: str, metrics: list[str], kind: str, rows: list[dict],
                  ds, H: int, M: int, seed: int, official_overlap: bool, data_description: str, source: str,
                  notes: list[str], wall: float, model_info: Optional[Mapping[str, Any]] = None,
                  evaluated_with: Optional[Sequence[str]] = None,
                  sampling: Optional[Mapping[str, Any]] = None) -> EvaluationReport:
    group_names = list(acc.weights)
    results: dict[str, dict[str, dict]] = {}
    for agg in AGGREGATORS:
        if not any(k[1] == agg for k in acc.sums):
            if agg == "J-Agg":
                results[agg] = {m: {"avg": [None] * M, "all_frames": [None] * M,
                                    "groups": {g: [None] * M for g in group_names}} for m in metrics}
            continue
        results[agg] = {}
        for metric in metrics:
            per_group = {g: (acc.sums[(g, agg, metric)] / acc.weights[g]).tolist() for g in group_names}
            avg = np.mean(np.stack([per_group[g] for g in group_names]), axis=0).tolist()
            tot_w = sum(acc.weights.values())
            allf = (sum(acc.sums[(g, agg, metric)] for g in group_names) / tot_w).tolist()
            results[agg][metric] = {"avg": avg, "all_frames": allf, "groups": per_group}
    spec = lifter.spec
    sampler = spec.get("sampler", {})
    data = {
        "format": "posediff-evaluation",
        "version": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "protocol": {"name": protocol, **PROTOCOLS[protocol]},
        "model": {
            "name": spec.get("meta", {}).get("name", "custom"),
            "spec": f"{spec['backbone']['name']} + {spec['conditioner']['name']}, "
                    f"{len(spec.get('fusion', []))} fusion site(s), sampler {sampler.get('name')}",
            "source": source or "(in memory)",
            "hypotheses": H, "steps": M,
            "precision": (sampling or {}).get("precision", str(getattr(lifter, "precision", "fp32"))),
            "skeleton": lifter.skeleton.name, "frames": lifter.frames,
            **dict(model_info or {}),
        },
        "data": {
            "description": data_description or getattr(ds, "name", "data"),
            "sequences": len(ds),  # every loaded sequence, also those left out by --max-windows
            "windows": len(rows),
            "frames_per_window": lifter.frames,
            "frames": float(sum(acc.weights.values())),
        },
        "windows": {
            "official_overlap": official_overlap,
            "mode": "official overlap: frames of a sequence's last window that overlap the previous window count twice"
                    if official_overlap else "non-overlapping weights: every frame counted once",
        },
        "seed": seed,
        "sampling": dict(sampling or {}),
        "aggregators": {a: dict(v) for a, v in AGGREGATORS.items() if a in results},
        "metrics": metrics,
        "metric_definitions": {m: METRICS[m]["label"] for m in metrics},
        "steps": list(range(1, M + 1)),
        "groups": {"kind": kind, "count": len(group_names), "names": group_names,
                   "frames": {g: acc.weights[g] for g in group_names}},
        "results": results,
        "notes": notes,
        "wall_s": wall,
        "evaluated_with": list(evaluated_with or [protocol]),
        "device": str(next(lifter.parameters()).device),
    }
    return EvaluationReport(data)


# --------------------------------------------------------------------------- loading model and data
def load_model(source: str | Path, *, checkpoint: Literal["best", "last"] = "best", overrides: Any = None,
               device: str = "auto"):
    """The lifter behind a run folder, a checkpoint file or a preset name.

    Args:
        source: A training run folder (uses ``checkpoints/best.pt``, else ``last.pt``), a posediff checkpoint,
            a shipped model name (``"h36m"``, ``"d3dp-small-h36m"``, ``"demo"``; see :mod:`posediff.weights`),
            or a preset/spec (untrained weights, noted in the result).
        checkpoint: Which checkpoint of a run folder.
        overrides: Run-time spec overrides such as ``{"sampler.hypotheses": 20}``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.

    Returns:
        ``(lifter, info)``; ``info`` has ``source`` (the weights file or spec), ``run_dir`` (or None),
        ``train_config`` (the run's settings, or None) and ``notes``.
    """
    from .checkpoints import file_sha256
    from .errors import CheckpointError
    from .loading import load_with_source

    lifter, where = load_with_source(source, overrides=overrides, checkpoint=checkpoint, device=device,
                                     untrained=True)
    info: dict[str, Any] = {"run_dir": where.run_dir, "train_config": where.train_config, "notes": where.notes,
                            "source": where.label}
    if where.weights is not None:
        info["sha256"] = file_sha256(where.weights)
        try:
            from .checkpoints import read_checkpoint

            extra = read_checkpoint(where.weights, verify=False).get("extra", {}) or {}
            if extra.get("step") is not None:
                info["step"] = int(extra["step"])
        except CheckpointError:  # pragma: no cover - the load already read it
            pass
    return lifter, info


def describe_data(selector: str, subjects: Sequence[str],
                  train_config: Optional[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """A header line for the data of a report, and notes on whether the subjects were held out."""
    from .training.datasets import default_subjects, parse_data

    sel = parse_data(selector)
    subj = list(subjects) or default_subjects(sel, "val")
    desc = f"{selector}" + (f", subjects {','.join(subj)}" if subj else ", all sequences")
    notes: list[str] = []
    if train_config:
        tsel = parse_data(train_config.get("data", "synthetic"))
        train_subj = list(train_config.get("train_subjects") or default_subjects(tsel, "train"))
        # the same data set is recognised by its kind (and, for synthetic data, its generator options), not
        # by the path it was read from: the same Human3.6M copy may sit elsewhere on another machine
        same_data = tsel.kind == sel.kind and (sel.kind != "synthetic" or tsel.options == sel.options)
        if same_data:
            overlap = sorted(set(subj) & set(train_subj))
            if overlap:
                notes.append(f"WARNING: subjects {overlap} were also used for training: not a held-out evaluation")
            else:
                desc += f" (held out: the model was trained on {','.join(train_subj)})"
        else:
            desc += f" (cross-dataset: the model was trained on {train_config.get('data')}, subjects " \
                    f"{','.join(train_subj)})"
    if sel.kind == "h36m" and subj == ["S8"]:
        notes.append("S8 is a held-out training subject standing in for the official test subjects S9/S11 "
                     "(not in this data copy); numbers are not comparable with published S9/S11 results")
    return desc, notes
