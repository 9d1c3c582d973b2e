"""``posediff evaluate``: score a trained lifter per sampler step with four aggregators (and any registered
aggregator named with ``--aggregators``, the model's own by default); JSON + Markdown report."""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``evaluate`` subcommand."""
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a run or checkpoint: MPJPE/P-MPJPE (and 3DHP PCK/AUC) per step and aggregator",
        description="Sample every test window, aggregate the hypotheses of every sampler step with J-Agg "
                    "(JPMA), P-Agg (mean) and the oracles P-Best and J-Best (marked 'oracle (uses ground-truth "
                    "3D)'), and report MPJPE and P-MPJPE in mm (3DHP: also PCK@150mm and AUC on valid frames) "
                    "per action or sequence. Protocol 'deployable' (default): no ground-truth action label and "
                    "a JPMA root estimated from the 2D; 'paper': ground-truth label and root, as the official "
                    "evaluation. Writes REPORT.json and REPORT.md and prints the Markdown.",
        epilog="examples:\n"
               "  posediff evaluate runs/h36m                      (the run's own held-out subjects)\n"
               "  posediff evaluate runs/h36m --data h36m:/data/h36m --subjects S8 --protocol both\n"
               "  posediff evaluate runs/h36m --data 3dhp:/data/mpi_inf_3dhp_test --subjects TS5,TS6\n"
               "  posediff evaluate model.pt --data synthetic --hypotheses 20 --steps 10\n"
               "  posediff evaluate runs/h36m --protocol both --fast   (bf16 sampling where this CPU runs it faster; recorded)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="RUN_DIR_OR_WEIGHTS",
                   help="training run folder, posediff checkpoint, or a preset (random weights)")
    p.add_argument("--data", metavar="DATA",
                   help="'synthetic[:...]', 'h36m:DIR' or '3dhp:PATH' (default: the run's training data)")
    p.add_argument("--subjects", metavar="LIST",
                   help="subjects/sequences to evaluate, e.g. S8 or TS5,TS6 (default: the run's validation "
                        "subjects, else the data set's held-out default)")
    p.add_argument("--keypoints", metavar="FILE", help="H36M 2D file (default: projected ground-truth 2D)")
    p.add_argument("--cameras", metavar="LIST", help="keep only these camera names (e.g. 54138969)")
    p.add_argument("--protocol", choices=["deployable", "paper", "both"], default="deployable",
                   help="deployable (default): no GT label, estimated JPMA root; paper: GT label and root")
    p.add_argument("--hypotheses", type=int, metavar="H", help="hypotheses (default: the model's)")
    p.add_argument("--steps", type=int, metavar="M", help="sampler steps (default: the model's)")
    p.add_argument("--batch-size", type=int, default=8, metavar="B",
                   help="windows per sampler call (default 8; speed only, the numbers do not depend on it)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default=None,
                   help="sampling precision: fp32 (the reference; presets' default), bf16 (a bf16 copy of the "
                        "denoiser, ~2x faster on CPUs with AVX512-BF16/AMX, several times slower on AVX2-only "
                        "CPUs; MPJPE within ~0.15 mm of fp32) or auto (bf16 where this machine runs it faster, "
                        "else fp32); default: the model's own. The report records the one used")
    p.add_argument("--fast", action="store_true", help="shorthand for --precision auto")
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="batches scored in parallel threads with one intra-op thread each (default 0 = auto: one "
                        "per core torch uses on CPU, 1 on GPU; speed only, the numbers do not depend on it)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling noise (default 0)")
    p.add_argument("--official-overlap", action="store_true",
                   help="count frames in the overlap of each sequence's last window twice (official)")
    p.add_argument("--aggregators", metavar="NAMES", default=None,
                   help="registered aggregators (built-in or from plugins) scored beside J-Agg, P-Agg and the two "
                        "oracles, comma-separated, e.g. jpma,mean,median (jpma and mean are J-Agg and P-Agg); "
                        "default: the model's own aggregator")
    p.add_argument("--max-windows", type=int, default=0, metavar="N",
                   help="evaluate at most N windows, evenly spread (default 0 = all)")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best",
                   help="which checkpoint of a run folder (default best)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="run-time spec override, e.g. --set aggregator.distortion=false")
    p.add_argument("--out", metavar="DIR", help="report folder (default RUN_DIR/eval, else ./eval)")
    p.add_argument("--name", metavar="STEM", help="report file stem (default <data>-<subjects>-<protocol>)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of Markdown")
    p.add_argument("--quiet", action="store_true", help="no progress bar; print only the summary lines")
    p.set_defaults(func=run)
    return p


def _stem(data: str, subjects: list[str], protocol: str) -> str:
    kind = data.split(":", 1)[0]
    raw = f"{kind}-{'-'.join(subjects) if subjects else 'all'}-{protocol}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", raw)


def run(args: argparse.Namespace) -> int:
    """Run ``posediff evaluate``."""
    from ..errors import InputError
    from ..evaluation import describe_data, evaluate_protocols
    from ..loading import load
    from ..training.datasets import default_subjects, load_dataset, parse_data

    if args.fast and args.precision not in (None, "auto"):
        raise InputError(f"--fast means --precision auto; got --precision {args.precision}")
    precision = "auto" if args.fast else args.precision
    lifter, where = load(args.source, checkpoint=args.checkpoint, overrides=list(args.set) or None,
                         device=args.device, untrained=True, details=True)
    info = where.record()
    tc = info.get("train_config") or {}
    data = args.data or tc.get("data")
    if not data:
        raise InputError("--data is required (the source is not a training run that records its data)")
    subjects = [s.strip() for s in (args.subjects or "").split(",") if s.strip()]
    if not subjects and not args.data and tc.get("val_subjects") and tc["val_subjects"] != ["none"]:
        subjects = list(tc["val_subjects"])
    if not subjects:
        subjects = default_subjects(parse_data(data), "val")
    keypoints = args.keypoints if args.keypoints is not None else (tc.get("keypoints", "") if not args.data else "")
    ds = load_dataset(data, subjects, role="val", keypoints=keypoints or "")
    notes = list(info["notes"])
    if args.cameras:
        cams = [c.strip() for c in args.cameras.split(",") if c.strip()]
        unknown = [c for c in cams if c not in ds.cameras]
        if unknown:
            raise InputError(f"--cameras: unknown {unknown}; the data has {ds.cameras}")
        ds = ds.filter(cameras=cams)
        notes.append(f"cameras restricted to {', '.join(cams)}")
    desc, dnotes = describe_data(data, subjects, tc or None)
    notes += dnotes
    protocols = ["deployable", "paper"] if args.protocol == "both" else [args.protocol]
    source = info["source"] + (f" (step {info['step']})" if info.get("step") is not None else "")
    reports = evaluate_protocols(
        lifter, ds, protocols=protocols, hypotheses=args.hypotheses, steps=args.steps,
        batch_size=args.batch_size, seed=args.seed, official_overlap=args.official_overlap,
        max_windows=args.max_windows, data_description=desc, source=source, notes=notes,
        progress=not args.quiet, precision=precision, workers=args.workers,
        aggregators=([a.strip() for a in args.aggregators.split(",") if a.strip()] if args.aggregators is not None
                     else [lifter.aggregator.registered_name() or ""]),
        model_info={k: info[k] for k in ("sha256", "step") if info.get(k) is not None},
    )
    out = Path(args.out) if args.out else (Path(info["run_dir"]) / "eval" if info.get("run_dir") else Path("eval"))
    for proto, rep in reports.items():
        stem = f"{args.name}-{proto}" if args.name and len(reports) > 1 else (args.name or _stem(data, subjects, proto))
        j, m = rep.save(out, stem)
        if args.json:
            print(rep.to_json())
        elif not args.quiet:
            print(rep.to_markdown())
        print(rep.summary())
        print(f"wrote {j} and {m}")
    sys.stdout.flush()
    return 0
