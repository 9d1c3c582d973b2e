"""Smoke test of ``benchmarks/run.py`` (tiny sizes, correctness only, no timing assertions) and of the two
execution paths it compares: the official pattern (reference) and posediff's fast sampling path."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import posediff
from posediff.errors import InputError
from posediff.nn.attention import attention, eager_attention
from tolerances import reduction_tolerance

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from reference import Variant, reference_sample, variant_sample  # noqa: E402


def _tiny(**overrides):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return posediff.build("finepose-tiny", overrides={"sampler.hypotheses": 2, "sampler.steps": 2, **overrides})


def _x2d(b=1, frames=27, seed=0):
    return torch.randn(b, frames, 17, 2, generator=torch.Generator().manual_seed(seed)) * 0.3


def _gen(seed=5):
    return torch.Generator().manual_seed(seed)


def test_eager_attention_matches_fused_kernel():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 9, 8, generator=g) for _ in range(3))
    for causal in (False, True):
        fused = attention(q, k, v, scale=0.3, is_causal=causal)
        with eager_attention():
            eager = attention(q, k, v, scale=0.3, is_causal=causal)
            with eager_attention(False):  # nests
                inner = attention(q, k, v, scale=0.3, is_causal=causal)
        assert torch.allclose(fused, eager, atol=1e-5)
        assert torch.equal(inner, fused)
    # outside the block the fused kernel is back (bit-identical to the first fused call)
    assert torch.equal(attention(q, k, v, scale=0.3, is_causal=True), fused)


def test_bf16_cpu_attention_with_gradients_uses_the_explicit_form(monkeypatch):
    import posediff.nn.attention as attn_mod

    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 4, 9, 8, generator=g).bfloat16().requires_grad_() for _ in range(3))
    fused = attn_mod.F.scaled_dot_product_attention(q, k, v, scale=0.3)
    calls = []
    real = attn_mod.F.scaled_dot_product_attention

    def spy(*a, **kw):
        calls.append(a[0].dtype)
        return real(*a, **kw)

    monkeypatch.setattr(attn_mod.F, "scaled_dot_product_attention", spy)
    out = attention(q, k, v, scale=0.3)              # training in bf16 on CPU: explicit form
    assert calls == []
    assert (out.float() - fused.float()).abs().max() < 0.05
    out.float().sum().backward()
    assert q.grad is not None and torch.isfinite(q.grad.float()).all()
    with torch.no_grad():
        attention(q, k, v, scale=0.3)                # inference: fused kernel
    attention(q.float().detach().requires_grad_(), k.float(), v.float(), scale=0.3)  # fp32 training: fused
    with eager_attention(False):
        attention(q, k, v, scale=0.3)                # forced fused
    assert calls == [torch.bfloat16, torch.float32, torch.bfloat16]


def test_reference_pattern_makes_two_calls_per_step_and_recomputes_the_prompt():
    lifter = _tiny()
    calls = []
    computed = []
    original = lifter.conditioner.compute

    def spy(keys):
        computed.append(list(keys))
        return original(keys)

    lifter.conditioner.compute = spy
    reference_sample(lifter, _x2d(), ["Walking"], generator=_gen(), calls=calls)
    assert calls == [(2, "orig"), (2, "flip")] * 2          # M = 2 steps, H = 2 rows per branch
    assert len(computed) == 4                                 # prompt branch at every denoiser call
    assert lifter.conditioner.cache is True                   # restored afterwards
    computed.clear()
    lifter.sample(_x2d(), ["Walking"], generator=_gen())
    lifter.sample(_x2d(), ["Walking"], generator=_gen())
    assert len(computed) == 1                                 # fast path: once, then cached


def test_reference_equals_fp32_fast_path_and_bf16_is_close():
    lifter = _tiny()
    x = _x2d(2)
    ref = reference_sample(lifter, x, ["Walking", "Eating"], generator=_gen())
    fp32 = lifter.sample(x, ["Walking", "Eating"], generator=_gen())
    assert ref.shape == (2, 2, 2, 27, 17, 3)
    assert (ref - fp32).abs().max() < 1e-4                    # same function, same draws
    lifter.fast_sampling("bf16")
    bf16 = lifter.sample(x, ["Walking", "Eating"], generator=_gen())
    diff = (bf16 - ref).abs().max()
    assert 0 < diff < 0.05                                    # bf16 rounding only (metres)
    assert (bf16[..., 0, :] == 0).all()
    # the weight-cast copy is cached, and rebuilt when the weights change
    first = lifter.sampling_runner()[0]
    lifter.sample(x, ["Walking", "Eating"], generator=_gen())
    assert lifter.sampling_runner()[0] is first
    with torch.no_grad():
        lifter.backbone.head.bias.add_(1.0)
    moved = lifter.sample(x, ["Walking", "Eating"], generator=_gen())
    assert lifter.sampling_runner()[0] is not first
    assert (moved - bf16).abs().max() > 0.01
    # the master weights stay fp32 and out of the copy's reach
    assert all(p.dtype == torch.float32 for p in lifter.parameters())
    assert not any(k.startswith("_cast") for k in lifter.state_dict())


def test_variant_levers_reproduce_the_reference_in_fp32():
    lifter = _tiny()
    x = _x2d()
    ref = reference_sample(lifter, x, ["Walking"], generator=_gen())
    for v in (Variant("ref", cache=False, batch_flip=False, sdpa=False, precision="fp32", inference_mode=False),
              Variant("cached+batched+sdpa", precision="fp32")):
        out = variant_sample(lifter, x, ["Walking"], variant=v, generator=_gen())
        assert (out - ref).abs().max() < 1e-4, v.name
    out = variant_sample(lifter, x, ["Walking"], variant=Variant("ac", precision="autocast"), generator=_gen())
    assert (out - ref).abs().max() < 0.05


def test_chunked_hypotheses_give_the_same_samples():
    lifter = _tiny()
    x = _x2d()
    whole = lifter.sample(x, ["Walking"], generator=_gen())
    lifter.max_rows = 1
    chunked = lifter.sample(x, ["Walking"], generator=_gen())
    assert (whole - chunked).abs().max() < 1e-5


def test_smoke_run_writes_results(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--smoke", "--device", "auto", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    res = json.loads((tmp_path / "latest.json").read_text())
    assert res["smoke"] is True
    if not torch.cuda.is_available():  # --device auto fell back to the CPU and says so
        assert res["device"] == "cpu" and res["machine"]["device"] == "cpu"
        assert res["device_notes"] == ["--device auto: CUDA is not available here, measured on the CPU"]
        assert "CUDA is not available here" in (tmp_path / "latest.md").read_text()
        assert res["training"]["finepose-tiny"]["device"] == "cpu"
    for key in ("fp32_tflops", "bf16_tflops"):
        assert res["machine"][key] > 0
    s = res["sampling"]["finepose-tiny"]
    for key in ("reference_fps", "fast_fps", "ratio", "max_abs_diff_m", "mpjpe_delta_mm", "peak_mem_mb"):
        assert key in s and s[key] is not None, key
        assert s[key] == s[key], key  # not NaN
    assert s["reference_fps"] > 0 and s["fast_fps"] > 0
    assert s["max_abs_diff_m"] < 0.05
    assert abs(s["mpjpe_delta_mm"]) < 20
    t = res["training"]["finepose-tiny"]
    assert t["reference_step_s"] > 0 and t["fast_step_s"] > 0
    assert res["command"].startswith(".venv/bin/python benchmarks/run.py")
    md = (tmp_path / "latest.md").read_text()
    assert "| finepose-tiny |" in md and "SMOKE" in md


@pytest.mark.parametrize("bad", ["fp16", "int8"])
def test_fast_sampling_rejects_unknown_precision(bad):
    lifter = _tiny()
    with pytest.raises(InputError, match="precision"):
        lifter.fast_sampling(bad)


def test_performance_page_is_rendered_from_the_committed_results():
    """docs/performance.md is the template filled from benchmarks/results/latest.json (no stale copy)."""
    import run as bench

    res = json.loads((REPO / "benchmarks" / "results" / "latest.json").read_text())
    page = bench.render_docs(res)
    assert "__" not in page.replace("__init__", "")
    assert page == (REPO / "docs" / "performance.md").read_text(), \
        "docs/performance.md is stale: run .venv/bin/python benchmarks/run.py --render-docs benchmarks/results/latest.json"


def test_render_docs_refuses_unknown_placeholders(tmp_path):
    import run as bench

    res = json.loads((REPO / "benchmarks" / "results" / "latest.json").read_text())
    t = tmp_path / "t.md"
    t.write_text("ratio __RATIO__, oops __NOT_A_VALUE__")
    with pytest.raises(KeyError, match="NOT_A_VALUE"):
        bench.render_docs(res, t)


@pytest.mark.slow
def test_blocking_sweep_runs(tmp_path):
    out = tmp_path / "sweep.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "sweep_blocking.py"), "--hypotheses", "1", "--rows", "2",
         "--micro", "4", "--repeats", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=900, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    res = json.loads(out.read_text())
    assert res["cache_rows"] == {"bf16": 2, "fp32": 1}
    assert res["best"]["rows"]["2"] > 0 and res["best"]["micro"]["4"] > 0


def test_recorded_out_folder_is_repo_relative():
    """Regression: latest.json recorded the output folder as an absolute path of the benchmark machine."""
    import run as bench

    assert bench._portable({"out": str(REPO / "benchmarks" / "results"), "smoke": False}) == \
        {"out": "benchmarks/results", "smoke": False}
    assert bench._portable({"out": "/elsewhere/x"})["out"] == "/elsewhere/x"
    assert "/work/" not in (REPO / "benchmarks" / "results" / "latest.json").read_text()


def test_run_device_cuda_without_cuda_stops_with_a_message(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here: --device cuda would run the benchmark")
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--smoke", "--device", "cuda", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert proc.returncode != 0
    assert "benchmarks/run.py: device 'cuda' asked for, but CUDA is not available; use --device cpu" in proc.stderr
    assert not (tmp_path / "latest.json").exists()


def test_measure_helpers_on_the_cpu():
    from measure import PeakMemory, matmul_peak, timed

    ts: list = []
    with PeakMemory(torch.device("cpu")) as pm, timed(ts, torch.device("cpu")):
        torch.ones(1000).sum()
    assert len(ts) == 1 and ts[0] >= 0 and pm.kind == "resident set (RSS)"
    peak = matmul_peak(torch.float32, 64, 2, torch.device("cpu"))
    assert peak["best_tflops"] > 0 and len(peak["times_s"]) == 2


def test_clip_tower_benchmark_our_tower_equals_open_clips(tmp_path):
    """posediff's CLIP text tower and open_clip's TextTransformer with the same weights give the same
    per-token states (the benchmark behind keeping posediff's own tower; docs/architecture.md)."""
    import clip_tower

    res = clip_tower.main(["--smoke", "--out", str(tmp_path / "ct.json")])
    (r,) = res["towers"].values()
    # Two implementations of the same fp32 network: agreement up to rounding, by an amount that depends on
    # the CPU's kernels (2.1e-6 was seen on an AVX2-only AMD EPYC, 0.0 on a Xeon with AMX). The smoke tower
    # is 1 layer of width W = 32: its longest reduction is the MLP's 4·W = 128 inputs, and a layer chains
    # five reductions (qkv, scores, values, output projection, MLP) plus the LayerNorms' two; the states are
    # LayerNorm outputs of magnitude ~1 (scale 4 covers their largest entries).
    w, layers = r["width"], r["layers"]
    bound = reduction_tolerance(torch.float32, terms=4 * w, depth=7 * layers, scale=4.0)
    assert r["max_abs_diff"] <= bound, (r["max_abs_diff"], bound)
    assert r["forward"]["posediff_s"] > 0 and r["forward_backward"]["open_clip_s"] > 0
    assert json.loads((tmp_path / "ct.json").read_text())["smoke"] is True


def test_other_machines_table_reads_each_run_folder(tmp_path):
    import run as bench_run

    assert "No run on another machine" in bench_run.other_machines(tmp_path)
    res = json.loads((REPO / "benchmarks" / "results" / "latest.json").read_text())
    (tmp_path / "xeon").mkdir()
    (tmp_path / "xeon" / "latest.json").write_text(json.dumps(res))
    smoke = dict(res, smoke=True)
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "latest.json").write_text(json.dumps(smoke))
    text = bench_run.other_machines(tmp_path)
    s = res["sampling"]["finepose-h36m"]
    assert text.count("\n| ") == 2  # the header and one row: the smoke run is left out
    assert f"**{s['ratio']:.2f}×**" in text and f"{s['flops']['ratio_bound_at_bf16_peak']:.2f}×" in text


def test_training_throughput_smoke(tmp_path):
    import training_throughput

    res = training_throughput.main(["--preset", "d3dp-tiny", "--frames", "9,27", "--frames-per-step", "27",
                                    "--repeats", "1", "--warmup", "0", "--smoke", "--out", str(tmp_path / "t.json")])
    assert [(r["frames"], r["clips_per_step"], r["precision"]) for r in res["rows"]] == [
        (9, 3, "fp32"), (9, 3, "bf16"), (27, 1, "fp32"), (27, 1, "bf16")]
    assert all(r["frames_per_s"] > 0 and r["step_flops"] > 0 for r in res["rows"])
    assert set(res["bf16_over_fp32_training"]) == {"9", "27"}
    assert json.loads((tmp_path / "t.json").read_text())["smoke"] is True


def test_render_speed_smoke(tmp_path):
    import render_speed

    res = render_speed.main(["--frames", "4", "--out", str(tmp_path / "r.json")])
    assert {r["format"] for r in res["rows"]} >= {"gif"} and all(r["frames"] == 4 for r in res["rows"])
    assert res["speedup_blit_over_redraw"]["gif"] > 0


def test_parallel_training_smoke(tmp_path):
    import parallel_training

    res = parallel_training.main(["--preset", "d3dp-tiny", "--frames", "9", "--clips", "2", "--precisions", "fp32",
                                  "--modes", "threads1,threads2,gloo2", "--repeats", "1", "--warmup", "0",
                                  "--smoke", "--out", str(tmp_path / "p.json")])
    assert [(r["mode"], r["clips_per_step"], r["frames"]) for r in res["rows"]] == [
        ("threads1", 2, 9), ("threads2", 2, 9), ("gloo2", 2, 9)]
    assert all(r["frames_per_s"] > 0 and len(r["step_times_s"]) == 1 for r in res["rows"])
    assert all(r["step_flops"] > 0 and r["fraction_of_peak"] > 0 for r in res["rows"])
    assert len({r["step_flops"] for r in res["rows"]}) == 1  # the same step in every mode
    assert res["speedup_over_threads1"]["fp32"]["threads1"] == 1.0
    assert set(res["matmul_peak_tflops"]) == {"fp32_threads1", "bf16_threads1", "fp32_threads2", "bf16_threads2"}
    with pytest.raises(ValueError, match="at least 2 clips"):
        parallel_training.measure_mode("d3dp-tiny", 9, 1, "fp32", "gloo2", 0, 1)
    with pytest.raises(ValueError, match="mode must be one of"):
        parallel_training.measure_mode("d3dp-tiny", 9, 2, "fp32", "threads3", 0, 1)
