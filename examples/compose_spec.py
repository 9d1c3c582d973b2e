"""Compose a new model from existing components: D3DP plus FinePOSE's timestep stylisation (PTS).

    python examples/compose_spec.py            # compose, validate, build, save, rebuild, train 30 steps
    python examples/compose_spec.py --quick    # 3 training steps

No new code: the model is a new *spec*. D3DP (``d3dp-tiny``) has no prompt branch and no fusion
blocks; FinePOSE's PTS block scales and shifts the pose tokens by the conditioning vector, which
without prompts is the timestep embedding F(t) alone (the paper's Table 5 "w/o FPP" row). The
script also shows what validation says about a composition that cannot work (FPC cross-attention
needs prompt tokens, which the ``none`` conditioner does not make).
"""
from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path

import torch

import posediff
from posediff.data import make_synthetic
from posediff.errors import SpecError


def compose() -> dict:
    """The D3DP + PTS spec, derived from the ``d3dp-tiny`` preset."""
    spec = posediff.resolve_spec("d3dp-tiny")
    spec["meta"] = {"name": "d3dp-pts-tiny", "summary": "d3dp-tiny + a PTS block after the first spatial block"}
    spec["fusion"] = [{"at": "spatial.0", "residual": True, "blocks": [{"name": "pts"}]}]
    spec["aggregator"] = {"name": "mean"}          # no camera needed
    return posediff.resolve_spec(spec)             # validate and fill in the defaults


def main(argv: list[str] | None = None) -> int:
    """Run the example; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="training steps (default 30)")
    parser.add_argument("--quick", action="store_true", help="3 training steps, for CI")
    args = parser.parse_args(argv)
    torch.set_num_threads(1 if args.quick else max(1, torch.get_num_threads()))
    steps = 3 if args.quick else args.steps

    spec = compose()
    print("composed spec (fusion and aggregator changed):")
    print(posediff.dump_spec({"fusion": spec["fusion"], "aggregator": spec["aggregator"]}))

    # Compositions that cannot work are refused with the key path, before any training happens.
    no_prompt = copy.deepcopy(spec)
    no_prompt["fusion"][0]["blocks"].insert(0, {"name": "fpc", "heads": 4})    # needs prompt tokens
    bad_hook = copy.deepcopy(spec)
    bad_hook["fusion"][0]["at"] = "spatial.7"                                 # the tiny backbone has depth 2
    for what, variant in (("FPC without a prompt conditioner", no_prompt), ("an unknown hook point", bad_hook)):
        try:
            posediff.build(variant)
        except SpecError as exc:
            print(f"{what} is refused:\n  {str(exc).replace(chr(10), chr(10) + '  ')}")
        else:  # pragma: no cover - the example is wrong if this happens
            raise SystemExit(f"expected a SpecError for {what}")
    print()

    base = posediff.build("d3dp-tiny")
    lifter = posediff.build(spec)
    extra = sum(p.numel() for p in lifter.parameters()) - sum(p.numel() for p in base.parameters())
    print(f"built {spec['meta']['name']}: fusion at {[site['at'] for site in spec['fusion']]}, "
          f"{extra:,} parameters more than d3dp-tiny")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d3dp-pts-tiny.toml"
        posediff.dump_spec(spec, path)
        again = posediff.build(path)
        assert again.spec == lifter.spec, "a dumped spec rebuilds the same model"
        print(f"saved and rebuilt from {path.name}: identical spec")

    # A few steps of the official x0 objective on synthetic clips.
    data = make_synthetic(subjects=1, motions=["walking", "sitting"], cameras=1, frames=lifter.frames * 2, seed=0)
    x2d = torch.stack([torch.as_tensor(s.x2d[: lifter.frames]) for s in data]).float()
    y3d = torch.stack([torch.as_tensor(s.x3d[: lifter.frames]) for s in data]).float()
    opt = torch.optim.AdamW(lifter.parameters(), lr=1e-3, weight_decay=0.1)
    g = torch.Generator().manual_seed(0)
    lifter.train()
    losses = []
    for _ in range(steps):
        loss = lifter.training_loss(x2d, y3d, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    lifter.eval()
    print(f"trained {steps} steps: loss {losses[0]:.3f} m -> {losses[-1]:.3f} m")
    pose = lifter.lift(x2d, generator=torch.Generator().manual_seed(0), hypotheses=2, steps=2)
    print(f"lift: {tuple(pose.shape)}")
    print("ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
