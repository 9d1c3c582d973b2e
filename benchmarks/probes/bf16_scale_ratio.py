"""Output scale of the bf16 sampling copy vs fp32 (mean norm ratio) on the trained finepose-tiny
(runs/h36m-finepose-tiny, skipped when absent) and on random LayerNorm gains. Source of the 1.0042 → 1.0003
figures in docs/performance.md (run once on the code before and once after the LayerNorm fix). Run from the repo root:
    .venv/bin/python benchmarks/probes/bf16_scale_ratio.py
"""
import torch, sys
from torch import nn
import posediff
sys.path.insert(0, "tests")  # _x2d helper of tests/test_bf16_copy.py
from test_bf16_copy import _x2d
torch.manual_seed(0)
lifter = posediff.build("finepose-tiny", overrides={"sampler.steps": 1, "sampler.hypotheses": 4})
ck = "runs/h36m-finepose-tiny/checkpoints/best.pt"
for mode in ["trained", "rand"]:
    if mode == "trained":
        import os
        if not os.path.exists(ck): continue
        sd = torch.load(ck, weights_only=True)
        sd = sd.get("model", sd.get("state_dict", sd)) if isinstance(sd, dict) else sd
        try:
            lifter.load_state_dict(sd, strict=False)
        except Exception as e:
            print("load fail", e); continue
    else:
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for m in list(lifter.backbone.modules()) + list(lifter.sites.modules()):
                if isinstance(m, nn.LayerNorm):
                    m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=g))
    x = _x2d(lifter)
    out = {}
    for p in ("fp32", "bf16"):
        lifter.fast_sampling(p)
        out[p] = lifter.sample(x, generator=torch.Generator().manual_seed(5))
    print(mode, float(out["bf16"].norm(dim=-1).mean() / out["fp32"].norm(dim=-1).mean()))
