#!/usr/bin/env python
"""posediff's CLIP text tower against open_clip's own ``TextTransformer``: same weights, same outputs, time.

posediff keeps its own CLIP text transformer (``posediff.text_encoders.clip_tower.CLIPTextTower``) instead of
building open_clip's. This benchmark is the measurement behind that choice (issue 11, item 8): both towers get
the same weights (open_clip's parameter names are OpenAI CLIP's, so posediff's state dict loads into it
unchanged), their per-token outputs are compared, and the prompt encoding of a training step is timed —
forward and backward to the input embeddings, which is what trainable prompt modifiers cost at every step —
and a forward alone (inference, where posediff caches the features anyway). The two towers are timed
interleaved, medians of ``--repeats``.

Usage::

    .venv/bin/python benchmarks/clip_tower.py                       # writes benchmarks/results/clip_tower.json
    .venv/bin/python benchmarks/clip_tower.py --smoke --out /tmp/ct.json
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for p in (str(REPO), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

import torch  # noqa: E402

from measure import load_average, machine_info, median, timed  # noqa: E402
from posediff.text_encoders.clip_tower import CLIPTextTower  # noqa: E402

CONFIGS = {
    "offline tower of finepose-small-h36m (W 128, 2 layers, 4 heads)": (128, 2, 4),
    "CLIP ViT-B/32 text tower (W 512, 12 layers, 8 heads)": (512, 12, 8),
}


def open_clip_tower(ours: CLIPTextTower):
    """open_clip's ``TextTransformer`` of the same shape with QuickGELU, filled with ``ours``' weights."""
    from open_clip.transformer import QuickGELU, TextTransformer

    tower = TextTransformer(context_length=ours.context_length, vocab_size=ours.vocab_size, width=ours.width,
                            heads=ours.heads, layers=ours.layers, output_dim=None, act_layer=QuickGELU)
    missing, unexpected = tower.load_state_dict(ours.state_dict(), strict=False)
    left = [k for k in missing if k != "text_projection"]
    if left or unexpected:
        raise SystemExit(f"open_clip's tower does not take posediff's keys: missing {left}, unexpected {unexpected}")
    return tower.eval()


def encode_open_clip(tower, emb: torch.Tensor) -> torch.Tensor:
    """Per-token states from input embeddings, as FinePOSE reads them (no pooling, no projection)."""
    x = emb + tower.positional_embedding.to(emb.dtype)
    x = tower.transformer(x, attn_mask=tower.attn_mask)
    return tower.ln_final(x)


def bench(width: int, layers: int, heads: int, prompts: int, repeats: int) -> dict:
    ours = CLIPTextTower(width=width, layers=layers, heads=heads)
    ours.init_weights(torch.Generator().manual_seed(0))
    ours.eval().requires_grad_(False)
    theirs = open_clip_tower(ours).requires_grad_(False)
    ids = torch.randint(1, 49407, (prompts, 77), generator=torch.Generator().manual_seed(1))
    emb = ours.embed(ids)
    with torch.no_grad():
        a, b = ours.encode(emb), encode_open_clip(theirs, emb)
    diff = float((a - b).abs().max())

    def fwd(encode):
        with torch.no_grad():
            encode(emb)

    def fwd_bwd(encode):
        e = emb.clone().requires_grad_(True)
        encode(e).sum().backward()

    paths = {"posediff": ours.encode, "open_clip": lambda e: encode_open_clip(theirs, e)}
    times = {(p, k): [] for p in paths for k in ("forward", "forward_backward")}
    for p, enc in paths.items():  # warm-up
        fwd(enc)
        fwd_bwd(enc)
    for _ in range(repeats):
        for p, enc in paths.items():
            with timed(times[(p, "forward")]):
                fwd(enc)
            with timed(times[(p, "forward_backward")]):
                fwd_bwd(enc)
    out = {"width": width, "layers": layers, "heads": heads, "prompts": prompts, "max_abs_diff": diff}
    for k in ("forward", "forward_backward"):
        mine, other = median(times[("posediff", k)]), median(times[("open_clip", k)])
        out[k] = {"posediff_s": mine, "open_clip_s": other, "open_clip_over_posediff": other / mine,
                  "runs_s": {p: times[(p, k)] for p in paths}}
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=17, help="prompts per call (16 actions + the neutral prompt)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="small sizes, correctness only")
    ap.add_argument("--out", default=str(HERE / "results" / "clip_tower.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    configs = dict(CONFIGS)
    if args.smoke:
        configs = {"smoke (W 32, 1 layer, 2 heads)": (32, 1, 2)}
        args.repeats, args.prompts = 2, 3
    cmd = " ".join([".venv/bin/python", "benchmarks/clip_tower.py"]
                   + [shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])])
    res = {"benchmark": "posediff CLIPTextTower vs open_clip TextTransformer (issue 11, item 8)", "command": cmd,
           "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine_info(), "threads": args.threads,
           "load_average": {"start": load_average()}, "smoke": args.smoke, "towers": {}}
    for name, (w, n, h) in configs.items():
        res["towers"][name] = r = bench(w, n, h, args.prompts, args.repeats)
        print(f"{name}: max |diff| {r['max_abs_diff']:.2e}; forward+backward open_clip/posediff "
              f"{r['forward_backward']['open_clip_over_posediff']:.2f}x, forward "
              f"{r['forward']['open_clip_over_posediff']:.2f}x", flush=True)
    res["load_average"]["end"] = load_average()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    return res


if __name__ == "__main__":
    main()
