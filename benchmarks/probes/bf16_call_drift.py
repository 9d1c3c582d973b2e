"""Per-call output scale of the bf16 copy vs fp32 on finepose-h36m at t = 999, 500, 100, 10 (3DHP window).
Source of the 1.0003–1.0008 figures in docs/performance.md. Run from the repo root:
    .venv/bin/python benchmarks/probes/bf16_call_drift.py
"""
import sys, time, torch, warnings, copy
import torch.nn.functional as F
from torch import nn
warnings.simplefilter("ignore")
sys.path.insert(0, "benchmarks")
import run as R
torch.set_num_threads(2)
torch.manual_seed(0)
import posediff
lifter = posediff.build("finepose-h36m")  # untrained preset weights (the figures in the docs)
lifter.eval()
w = R.windows_3dhp(lifter.frames, 1)
x = w["x2d"][:1]
cond = lifter.condition(["Walking"], 1)
g = torch.Generator().manual_seed(1)
y = torch.randn(1, 243, 17, 3, generator=g)
ts = [999, 500, 100, 10]
def call(fn):
    outs = []
    with torch.inference_mode():
        for t in ts:
            outs.append(fn(x, y, torch.tensor([t]), cond).float())
    return torch.stack(outs)
ref = call(lambda a, b, c, d: lifter.backbone(a, b, c, d, lifter.site_map))
print("ref norm", ref.norm(dim=-1).mean(dim=(1,2,3)))
def report(name, out):
    r = out.norm(dim=-1).mean(dim=(1,2,3)) / ref.norm(dim=-1).mean(dim=(1,2,3))
    print(f"{name:28s} ratio per t {[round(float(v),5) for v in r]} maxdiff {float((out-ref).abs().max()):.4f}", flush=True)
# current fast path
lifter.fast_sampling("bf16")
run, _ = lifter.sampling_runner()
report("fast path (bf16 copy)", call(run))
lifter.fuse_kernels = False
run2, _ = lifter.sampling_runner()
report("bf16 copy, unfused", call(run2))
