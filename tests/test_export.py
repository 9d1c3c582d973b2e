"""posediff.export: one denoiser step as TorchScript / ONNX equals the eager model (≤ 1e-4)."""
from __future__ import annotations

import warnings

import pytest
import torch

import posediff
from posediff.errors import InputError
from posediff.export import (DenoiserStep, example_inputs, export_denoiser, onnx_available, onnxruntime_available)

TINY = {
    "lifter.dim": 16, "lifter.frames": 9, "backbone.depth": 1, "backbone.heads": 2,
    "conditioner.adapter_layers": 1, "conditioner.adapter_heads": 2, "conditioner.adapter_ff": 16,
    "conditioner.text_encoder.width": 16, "conditioner.text_encoder.layers": 1,
    "conditioner.text_encoder.heads": 2, "fusion[0].blocks[0].heads": 2,
    "sampler.hypotheses": 2, "sampler.steps": 2,
}


@pytest.fixture(scope="module")
def tiny():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        return posediff.build("finepose-tiny", overrides=TINY)


def test_denoiser_step_matches_lifter_denoise(tiny):
    x2d, y_t, t = example_inputs(tiny, 3, seed=5)
    for action in (None, "Walking"):
        step = DenoiserStep(tiny, action)
        with torch.no_grad():
            ref = tiny.denoise(x2d, y_t, t, actions=None if action is None else [action] * 3)
            got = step(x2d, y_t, t)
        torch.testing.assert_close(got, ref, atol=1e-6, rtol=0)
    with torch.no_grad():
        assert not torch.allclose(DenoiserStep(tiny, None)(x2d, y_t, t), DenoiserStep(tiny, "Walking")(x2d, y_t, t))


@pytest.mark.parametrize("action", [None, "Eating"])
def test_torchscript_matches_eager(tiny, tmp_path, action):
    report = export_denoiser(tiny, tmp_path / "step.pt", action=action, batch=2, check_batch=3)
    assert report.format == "torchscript" and report.checked and report.path.is_file()
    assert report.max_abs_diff is not None and report.max_abs_diff <= 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(report.path))
    x2d, y_t, t = example_inputs(tiny, 4, seed=9)
    with torch.no_grad():
        ref = DenoiserStep(tiny, action)(x2d, y_t, t)
        got = loaded(x2d, y_t, t)
    assert got.shape == (4, 9, 17, 3)
    assert float((ref - got).abs().max()) <= 1e-4


def test_onnx_matches_eager(tiny, tmp_path):
    # onnx and onnxruntime are in the dev extra the tests run with: missing them is a failure, not a skip
    assert onnx_available(), "the 'onnx' package is not installed (pip install -e .[dev])"
    assert onnxruntime_available(), "onnxruntime is not installed (pip install -e .[dev])"
    report = export_denoiser(tiny, tmp_path / "step.onnx", batch=2, check_batch=3)
    assert report.format == "onnx" and report.checked and report.path.is_file()
    assert report.max_abs_diff <= 1e-4


def test_onnx_missing_package_is_reported(tiny, tmp_path, monkeypatch):
    import posediff.export as ex

    monkeypatch.setattr(ex, "onnx_available", lambda: False)
    report = ex.export_onnx(tiny, tmp_path / "x.onnx")
    assert report.path is None and not report.checked and "onnx" in report.message
    assert not (tmp_path / "x.onnx").exists()


def test_bad_paths(tiny, tmp_path):
    with pytest.raises(InputError, match="format"):
        export_denoiser(tiny, tmp_path / "step.bin")
    with pytest.raises(InputError, match="format"):
        export_denoiser(tiny, tmp_path / "step.pt", format="tflite")
    with pytest.raises(InputError, match=".onnx"):
        export_denoiser(tiny, tmp_path / "step.pt", format="onnx")
