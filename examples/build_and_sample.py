"""Build the small FinePOSE preset, sample hypotheses and lift one clip three ways.

    python examples/build_and_sample.py            # finepose-tiny as specified (H=5, M=5)
    python examples/build_and_sample.py --quick    # H=2, M=2: a few seconds on a CPU

The model is untrained (random weights), so the poses are meaningless; the script shows the API and
the shapes: ``sample`` returns every step of every hypothesis, ``lift`` aggregates the last step.
"""
from __future__ import annotations

import argparse

import torch

import posediff
from posediff.data import make_synthetic


def main(argv: list[str] | None = None) -> int:
    """Run the example; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="finepose-tiny", help="preset to build (default finepose-tiny)")
    parser.add_argument("--quick", action="store_true", help="tiny settings for CI")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1 if args.quick else max(1, torch.get_num_threads()))

    overrides = {"sampler.steps": 2, "sampler.hypotheses": 2} if args.quick else {}
    lifter = posediff.build(args.preset, overrides=overrides)
    spec = lifter.spec
    print(f"built {spec['meta'].get('name', args.preset)}: {spec['backbone']['name']} backbone, "
          f"{spec['conditioner']['name']} conditioner, {spec['sampler']['name']} sampler, "
          f"{spec['aggregator']['name']} aggregator; {sum(p.numel() for p in lifter.parameters()):,} parameters")

    # One clip of the synthetic data set: normalised 2D, its camera intrinsics and the 3D ground truth.
    seq = make_synthetic(subjects=1, motions=["walking"], cameras=1, frames=lifter.frames, seed=args.seed)[0]
    x2d = torch.as_tensor(seq.x2d, dtype=torch.float32)[None]           # (B=1, T, J, 2)
    camera = torch.as_tensor(seq.camera, dtype=torch.float32)            # (9,) normalised intrinsics
    target = torch.as_tensor(seq.x3d, dtype=torch.float32)[None]         # (1, T, J, 3) metres

    g = torch.Generator().manual_seed(args.seed)
    hyps = lifter.sample(x2d, actions=["walking"], generator=g)
    b, m, h, t, j, _ = hyps.shape
    print(f"sample: (B, M, H, T, J, 3) = {tuple(hyps.shape)}")
    spread = (hyps[:, -1] - hyps[:, -1].mean(dim=1, keepdim=True)).norm(dim=-1).mean()
    print(f"  mean distance of a hypothesis from their mean at the last step: {1000 * spread:.1f} mm")

    # JPMA: per joint, the hypothesis that reprojects best (needs the camera; the root is estimated).
    jpma = lifter.lift(x2d, actions=["walking"], camera=camera, generator=torch.Generator().manual_seed(args.seed))
    mean = posediff.build(spec, overrides={"aggregator.name": "mean"})
    mean.load_state_dict(lifter.state_dict())
    pagg = mean.lift(x2d, actions=["walking"], generator=torch.Generator().manual_seed(args.seed))
    for name, pose in (("jpma", jpma), ("mean", pagg)):
        err = 1000 * (pose - target).norm(dim=-1).mean()
        print(f"lift with {name:<4}: {tuple(pose.shape)}, MPJPE vs ground truth {err:.0f} mm (untrained model)")
    assert hyps.shape == (1, m, h, lifter.frames, 17, 3) and jpma.shape == (1, lifter.frames, 17, 3)
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
