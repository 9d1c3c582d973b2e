"""Carry a training run across sessions in the repository: pack its last checkpoint small, unpack it to resume.

A session ends with its processes, and the next may be on another machine without ``runs/``. ``pack`` writes
what ``posediff train --resume`` needs into a folder that can be committed: the run's small files (spec,
settings, logs, summary; the shared data folder written as ``$POSEDIFF_SHARED``) and ``last.pt`` without the frozen tensors that the spec rebuilds bit for bit (the
seeded offline text tower: 6.3 M values stored twice, in the EMA and the raw weights), listed with their
digests instead. ``unpack`` rebuilds the full checkpoint, checks the digests and lays out a run folder::

    POSEDIFF_SHARED=../shared python scripts/campaign.py pack runs/finepose-base-h36m campaign/finepose-base-h36m
    python scripts/campaign.py unpack campaign/finepose-base-h36m runs/finepose-base-h36m
    OMP_NUM_THREADS=1 posediff train --resume --out runs/finepose-base-h36m --data h36m:$POSEDIFF_SHARED/data/h36m

A stage whose schedule has ended is packed ``--weights-only`` (its EMA weights; the next stage starts from them with
``posediff train --init runs/NAME/checkpoints/last.pt``): a wide model's full training state is not small.

The unpacked ``last.pt`` holds the same tensors as the packed run's (``unpack`` verifies it against the
digests), so the resumed run continues bit for bit on the same kind of machine.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from posediff.build import build  # noqa: E402
from posediff.checkpoints import read_checkpoint, save_checkpoint, tensors_digest  # noqa: E402
from posediff.evaluation.models import shared_as_placeholder  # noqa: E402

_portable = shared_as_placeholder  # the name the campaign tests call
from posediff.loading import regenerable_keys  # noqa: E402

SMALL_FILES = ("spec.toml", "train_config.json", "train_log.csv", "val_log.csv", "summary.json")


def _dicts(ckpt: dict) -> dict[str, dict]:
    """The weight dictionaries of a training checkpoint: the (EMA) state_dict and the raw weights."""
    out = {"state_dict": ckpt["state_dict"]}
    raw = (ckpt.get("training") or {}).get("raw_state_dict")
    if raw:
        out["raw_state_dict"] = raw
    return out


def pack(run: Path, dest: Path, weights_only: bool = False) -> Path:
    """Write ``dest/last.pt`` (regenerable tensors left out, with digests) and the run's small files.

    ``weights_only``: keep only the (EMA) weights, not the training state (raw weights, optimizer moments, random
    streams): for a stage whose schedule has ended, which the next stage continues with ``posediff train --init``
    (a quarter of the size: a wide model's full state would not be small). Such a pack cannot ``--resume``."""
    ckpt = dict(read_checkpoint(run / "checkpoints" / "last.pt"))
    if weights_only:
        ckpt.pop("training", None)
        ckpt["campaign_weights_only"] = True
    lifter = build(ckpt["spec"])
    lifter.load_state_dict(ckpt["state_dict"], strict=True)
    regen = regenerable_keys(lifter, ckpt["spec"])
    record = {}
    for name, state in _dicts(ckpt).items():
        record[name] = tensors_digest(state, regen)
        kept = {k: v for k, v in state.items() if k not in set(regen)}
        if name == "state_dict":
            ckpt["state_dict"] = kept
        else:
            ckpt["training"] = dict(ckpt["training"], raw_state_dict=kept)
    ckpt["campaign_regenerated"] = {"keys": regen, "sha256": record}
    if "training" in ckpt:
        tr = dict(ckpt["training"])
        tr["config"] = dict(tr["config"], data=shared_as_placeholder(tr["config"]["data"]))
        ckpt["training"] = tr
    dest.mkdir(parents=True, exist_ok=True)
    save_checkpoint(ckpt, dest / "last.pt")
    for f in SMALL_FILES:
        if (run / f).is_file():
            (dest / f).write_text(shared_as_placeholder((run / f).read_text()))  # no path of this machine in the repository
    return dest / "last.pt"


def unpack(src: Path, run: Path) -> Path:
    """Rebuild the full ``last.pt`` into ``run/checkpoints`` (digests checked) and copy the small files."""
    ckpt = dict(read_checkpoint(src / "last.pt"))
    info = ckpt.pop("campaign_regenerated", None)
    weights_only = ckpt.pop("campaign_weights_only", False)
    if info:
        torch.manual_seed(0)
        fresh = build(ckpt["spec"]).state_dict()
        for name, digest in info["sha256"].items():
            state = dict(ckpt["state_dict"] if name == "state_dict" else ckpt["training"][name])
            state.update({k: fresh[k] for k in info["keys"]})
            if tensors_digest(state, info["keys"]) != digest:
                raise SystemExit(f"the rebuilt frozen tensors of {name} differ from the packed run's (another "
                                 "PyTorch random generator or posediff initialisation): cannot resume bit for bit")
            if name == "state_dict":
                ckpt["state_dict"] = state
            else:
                ckpt["training"] = dict(ckpt["training"], **{name: state})
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    out = save_checkpoint(ckpt, run / "checkpoints" / "last.pt")
    for f in SMALL_FILES:
        if (src / f).is_file() and not (weights_only and f == "train_config.json"):
            shutil.copy2(src / f, run / f)  # a weights-only run folder is not resumable: no settings to resume
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="RUN → DEST (small, committable)")
    p.add_argument("run", type=Path)
    p.add_argument("dest", type=Path)
    p.add_argument("--weights-only", action="store_true",
                   help="only the EMA weights (a finished stage, continued with --init; cannot --resume)")
    u = sub.add_parser("unpack", help="SRC → RUN (ready for posediff train --resume)")
    u.add_argument("src", type=Path)
    u.add_argument("run", type=Path)
    args = ap.parse_args(argv)
    out = pack(args.run, args.dest, args.weights_only) if args.cmd == "pack" else unpack(args.src, args.run)
    print(f"{out} ({out.stat().st_size / 2 ** 20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
