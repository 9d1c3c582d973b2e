"""Profile one bf16-autocast training step of finepose-h36m (argv[1] clips, default 1): op table.

Source of the training-profile figures in docs/performance.md. Run from the repo root:
    .venv/bin/python benchmarks/probes/profile_training_step.py 1
"""
import sys, time, torch, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, "benchmarks")
import run as R
torch.set_num_threads(2)
lifter, w = R.build_model("finepose-h36m", False)
x2d, y3d = R.synthetic_clips((int(sys.argv[1]) if len(sys.argv) > 1 else 1), lifter.frames, 7)
m = lifter.train()
opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-5, weight_decay=0.1, fused=True)
def step(s):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = m.training_loss(x2d, y3d, ["Walking"]*(int(sys.argv[1]) if len(sys.argv) > 1 else 1), generator=R.gen(s))
    loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
step(0)
t=time.perf_counter(); step(1); print("step", time.perf_counter()-t)
from torch.profiler import profile, ProfilerActivity
with profile(activities=[ProfilerActivity.CPU]) as p:
    step(2)
print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=30))
