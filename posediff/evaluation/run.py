"""Running an evaluation over a data set: :func:`evaluate` and :func:`evaluate_protocols`."""
from __future__ import annotations

import datetime as _dt
import math
import time
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import torch

from ..errors import InputError
from ..precision import describe_precision
from ..training.datasets import accepted_actions
from .extra_aggregators import lacking_inputs, registered_aggregators
from .protocols import AGGREGATORS, METRICS, PROTOCOLS, Protocol
from .report import EvaluationReport
from .scoring import (
    NOISE_BLOCK,
    PRECISIONS,
    Accumulator,
    ScoringContext,
    grouping,
    NoiseStream,
    replay_draws,
    resolve_workers,
    score_batch,
    evaluation_windows,
)
from .temporal import TEMPORAL_METRICS, TemporalCollector


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
    aggregators: Sequence[str] = (),
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
        aggregators: Registered aggregators (plugins too) scored beside the four standard rows from the same
            hypotheses, each under its name (:mod:`posediff.evaluation.extra_aggregators`; oracles labelled).

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
                                 workers=workers, aggregators=aggregators)
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
    aggregators: Sequence[str] = (),
) -> dict[str, EvaluationReport]:
    """Like :func:`evaluate` for several protocols; the hypotheses are sampled once when the protocols
    give the model the same input (e.g. a model without prompts), so the protocols are compared on
    identical samples. ``precision``, ``workers`` and ``aggregators`` as in :func:`evaluate`.

    Returns:
        ``{protocol: EvaluationReport}``.
    """
    from ..aggregators.jpma import JPMAAggregator
    from ..metrics import pck_joints
    from ..training.datasets import to_skeleton

    t0 = time.monotonic()
    for p in protocols:
        if p not in PROTOCOLS:
            raise InputError(f"protocol must be one of {list(PROTOCOLS)}; got {p!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be an int >= 1; got {batch_size!r}")
    if precision is not None and precision not in PRECISIONS:
        raise InputError(f"precision must be one of {list(PRECISIONS)} (or None: the model's own); got {precision!r}")
    n_workers = resolve_workers(workers, lifter)
    from ..data.sample import Dataset, Sequence as _Seq

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
    kind, seq_groups = grouping(ds)
    rows = evaluation_windows(ds, lifter.frames, official_overlap)
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
    distortion = bool(lifter.aggregator.distortion) if isinstance(lifter.aggregator, JPMAAggregator) else True
    pck_idx = pck_joints(sk)
    metrics = ["mpjpe_mm", "p_mpjpe_mm"] + (["pck", "auc"] if is_3dhp else [])
    settings = lifter.settings_for(hypotheses=hypotheses or None, steps=steps or None)
    H, M = settings.hypotheses, settings.steps

    # Which protocols see identical model inputs (then one sampling pass serves them all)?
    action_lists = {p: [labels[r["action"]] if p == "paper" else None for r in rows] for p in protocols}
    same_input = len(protocols) > 1 and _same_conditioning(lifter, action_lists, protocols)
    passes: list[list[str]] = [list(protocols)] if same_input else [[p] for p in protocols]

    extras, extra_info = registered_aggregators(lifter, aggregators)
    accs = {p: Accumulator(M) for p in protocols}
    temporal = TemporalCollector([s.num_frames for s in ds], seq_groups)
    jpma = {p: JPMAAggregator(root="given" if p == "paper" else "estimate", distortion=distortion) for p in protocols}
    ctx = ScoringContext(lifter=lifter, H=H, M=M, root_joint=lifter.skeleton.root, pck_idx=pck_idx, is_3dhp=is_3dhp,
                   metrics=metrics, has_root=has_root, has_camera=has_camera, jpma=jpma, seq_groups=seq_groups,
                   extras=extras)
    n_draws = replay_draws(lifter, M)
    n_workers = min(n_workers, len(passes) * math.ceil(len(rows) / batch_size))
    previous = (lifter.precision, lifter.block_rows, lifter.compile_sampling, lifter.fuse_kernels)
    if precision is not None:
        lifter.fast_sampling(precision, compile=lifter.compile_sampling, fuse=lifter.fuse_kernels,
                             block_rows=lifter.block_rows)
    asked_precision, used_precision = str(lifter.precision), lifter.effective_precision
    precision_detail = describe_precision(asked_precision, lifter.device)
    threads = torch.get_num_threads()

    def tasks():
        """(pass protocols, windows, labels, draws) per batch, noise drawn in pass order."""
        for group_protocols in passes:
            acts_all = action_lists[group_protocols[0]]
            shape = (H, lifter.frames, lifter.skeleton.num_joints, 3)
            noise = NoiseStream(seed, len(rows), n_draws, shape, rows[0]["x2d"].dtype)
            for b0 in range(0, len(rows), batch_size):
                chunk = rows[b0:b0 + batch_size]
                draws = noise.take(len(chunk))
                yield group_protocols, chunk, acts_all[b0:b0 + batch_size], draws

    def collect(group_protocols: Sequence[str], res: dict[str, Any]) -> None:
        for p in group_protocols:
            acc = accs[p]
            acc.add_weights(res["groups"], res["w"])
            if not has_camera:
                acc.missing.add(("J-Agg", "camera"))
            for (agg, metric), per_clip in res["stats"][p].items():
                acc.add(res["groups"], agg, metric, per_clip)
            for agg, poses in res["temporal"][p].items():
                temporal.add(p, agg, res["rows"], poses, res["truth"])

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(rows) * len(passes), unit="win", desc="evaluate", dynamic_ncols=True)
    try:
        if n_workers <= 1:
            for group_protocols, chunk, acts, draws in tasks():
                collect(group_protocols, score_batch(ctx, chunk, acts, draws, group_protocols))
                if bar is not None:
                    bar.update(len(chunk))
        else:
            from collections import deque
            from concurrent.futures import ThreadPoolExecutor

            # one intra-op thread per worker: the workers share the cores instead of every small op
            # splitting itself across them (results are collected in batch order, so they do not depend
            # on the scheduling)
            torch.set_num_threads(1)
            lifter.prepare_sampling()  # build the reduced-precision copy once, before the threads
            pending: deque = deque()
            with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="posediff-eval") as pool:
                for task in tasks():
                    group_protocols, chunk, acts, draws = task
                    pending.append((group_protocols, pool.submit(score_batch, ctx, chunk, acts, draws,
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
    sampling = {"precision": used_precision, "precision_choice": precision_detail, "batch_size": batch_size, "workers": n_workers,
                "threads": 1 if n_workers > 1 else threads,
                "noise": f"drawn in blocks of {NOISE_BLOCK} windows (independent of batch size and workers)"}
    if used_precision == "bf16":
        base_notes.append(f"sampled in {precision_detail}: a bf16 copy of the denoiser, fp32 input "
                          "stage, output head, prompts and sampler arithmetic; fp32 is the reference precision")
    elif asked_precision == "auto":
        base_notes.append(f"sampled in {precision_detail}")

    temporal_results = temporal.results()
    wall = time.monotonic() - t0
    reports = {}
    for p in protocols:
        p_notes = list(base_notes)
        if p == "paper" and rejected:
            p_notes.append(f"labels the conditioner does not accept were replaced by the neutral prompt: "
                           f"{sorted(rejected)}")
        if ("J-Agg", "camera") in accs[p].missing:
            p_notes.append("J-Agg (JPMA) needs camera intrinsics, which this data set lacks: reported as n/a")
        for name in extras:
            lacking = lacking_inputs(extras[name], p, has_camera, has_root)
            if lacking:
                p_notes.append(f"aggregator {name!r} needs {', '.join(lacking)}, which the {p} protocol on this "
                               "data does not give it: reported as n/a")
        if same_input:
            p_notes.append(f"the model gets identical inputs under {' and '.join(protocols)} (its conditioning does "
                           "not depend on the action label), so one set of samples serves every protocol")
        reports[p] = _build_report(
            lifter, accs[p], p, metrics, kind, rows, ds, H, M, seed, official_overlap, data_description, source,
            p_notes, wall, model_info, protocols, sampling, temporal_results.get(p, {}), extra_info,
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


def _build_report(lifter, acc: Accumulator, protocol: str, metrics: list[str], kind: str, rows: list[dict],
                  ds, H: int, M: int, seed: int, official_overlap: bool, data_description: str, source: str,
                  notes: list[str], wall: float, model_info: Optional[Mapping[str, Any]] = None,
                  evaluated_with: Optional[Sequence[str]] = None,
                  sampling: Optional[Mapping[str, Any]] = None,
                  temporal: Optional[Mapping[str, Any]] = None,
                  extra_info: Optional[Mapping[str, dict]] = None) -> EvaluationReport:
    group_names = list(acc.weights)
    results: dict[str, dict[str, dict]] = {}
    described = {**AGGREGATORS, **dict(extra_info or {})}
    for agg in described:
        if not any(k[1] == agg for k in acc.sums):
            if agg == "J-Agg" or agg in (extra_info or {}):
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
        "aggregators": {a: dict(v) for a, v in described.items() if a in results},
        "metrics": metrics,
        "metric_definitions": {m: METRICS[m]["label"] for m in metrics},
        "steps": list(range(1, M + 1)),
        "groups": {"kind": kind, "count": len(group_names), "names": group_names,
                   "frames": {g: acc.weights[g] for g in group_names}},
        "results": results,
        "temporal": {
            "description": "velocity and acceleration errors of the last step's output sequences: every window's "
                           "poses put back at their frames (overlaps blended by the evaluation weights), differences "
                           "over every run of consecutive evaluated frames, window boundaries included",
            "metric_definitions": {m: v["label"] for m, v in TEMPORAL_METRICS.items()},
            "step": M,
            "results": {a: dict(v) for a, v in (temporal or {}).items()},
        },
        "notes": notes,
        "wall_s": wall,
        "evaluated_with": list(evaluated_with or [protocol]),
        "device": str(next(lifter.parameters()).device),
    }
    return EvaluationReport(data)
