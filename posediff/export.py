"""Export one denoiser step to TorchScript or ONNX, checked against the eager model.

What is exported is :class:`DenoiserStep`: ``forward(x2d (B, T, J, 2), y_t (B, T, J, 3), t (B,) int64)
-> x̂0 (B, T, J, 3)`` — the backbone with its fusion sites, for one fixed conditioning (the prompt
of one action, or the neutral prompt) computed once beforehand and stored in the module as
buffers. The text encoder, the sampler loop and the aggregator stay in Python: a deployment runs
the sampler around the exported step (each step is one call with the ``B·K`` rows of all
hypotheses).

Both exporters trace the module with example inputs and then compare the exported model with
the eager one on fresh random inputs of a *different* batch size; the largest absolute
difference is reported (:class:`ExportReport`). ONNX needs the ``onnx`` package for export and
``onnxruntime`` for the check; without them the ONNX check is skipped with a message.

Example:
    >>> import posediff
    >>> from posediff.export import export_denoiser
    >>> lifter = posediff.build("finepose-tiny")                       # doctest: +SKIP
    >>> report = export_denoiser(lifter, "step.pt", format="torchscript")  # doctest: +SKIP
    >>> report.max_abs_diff < 1e-4                                     # doctest: +SKIP
    True
"""
from __future__ import annotations

import importlib.util
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import torch
from torch import Tensor, nn

from .errors import InputError
from .interfaces import Conditioning

__all__ = [
    "DenoiserStep",
    "ExportReport",
    "export_denoiser",
    "export_torchscript",
    "export_onnx",
    "onnx_available",
    "onnxruntime_available",
    "example_inputs",
]


class DenoiserStep(nn.Module):
    """One denoiser call with a frozen conditioning: what :func:`export_denoiser` writes.

    Args:
        lifter: The :class:`~posediff.lifter.PoseLifter` (its backbone and fusion sites are shared,
            not copied).
        action: Action label of the prompt, or ``None`` for the neutral prompt.

    Shapes:
        x2d ``(B, T, J, 2)`` normalised screen coordinates, y_t ``(B, T, J, 3)`` noisy pose, t ``(B,)``
        int64 diffusion steps → x̂0 ``(B, T, J, 3)`` metres. ``T`` is the lifter's window.
    """

    def __init__(self, lifter, action: Optional[str] = None) -> None:
        super().__init__()
        self.backbone = lifter.backbone
        self.sites = lifter.sites
        self.action = action
        with torch.no_grad():
            cond = lifter.condition(None if action is None else [action], 1)
        self.has_tokens = cond.tokens is not None
        self.has_vector = cond.vector is not None
        self.register_buffer("cond_tokens", cond.tokens.detach().clone() if self.has_tokens else torch.zeros(0))
        self.register_buffer("cond_vector", cond.vector.detach().clone() if self.has_vector else torch.zeros(0))

    def conditioning(self) -> Conditioning:
        """The stored conditioning (one clip; broadcast to any batch by the backbone)."""
        return Conditioning(self.cond_tokens if self.has_tokens else None,
                            self.cond_vector if self.has_vector else None)

    def forward(self, x2d: Tensor, y_t: Tensor, t: Tensor) -> Tensor:
        """x̂0 ``(B, T, J, 3)`` from x2d ``(B, T, J, 2)``, y_t ``(B, T, J, 3)``, t ``(B,)``."""
        return self.backbone(x2d, y_t, t, self.conditioning(), self.sites)


@dataclass
class ExportReport:
    """Outcome of an export.

    Attributes:
        path: File written (None when the export itself was skipped).
        format: ``"torchscript"`` or ``"onnx"``.
        checked: Whether the exported model was run and compared with the eager one.
        max_abs_diff: Largest absolute difference of x̂0 (metres) on the check inputs, or None.
        batch: Batch size of the check inputs.
        message: Human-readable summary (also the reason when the check was skipped).
    """

    path: Optional[Path]
    format: str
    checked: bool
    max_abs_diff: Optional[float]
    batch: int
    message: str

    def __str__(self) -> str:
        return self.message


def onnx_available() -> bool:
    """Whether the ``onnx`` package (needed by ``torch.onnx.export``) is installed."""
    return importlib.util.find_spec("onnx") is not None


def onnxruntime_available() -> bool:
    """Whether ``onnxruntime`` (needed to check an ONNX export) is installed."""
    return importlib.util.find_spec("onnxruntime") is not None


def example_inputs(lifter, batch: int = 2, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Random inputs ``(x2d (B,T,J,2), y_t (B,T,J,3), t (B,) int64)`` of the lifter's shape, seeded."""
    if batch < 1:
        raise InputError(f"batch must be >= 1; got {batch}")
    g = torch.Generator().manual_seed(seed)
    T, J = int(lifter.frames), lifter.skeleton.num_joints
    steps = int(lifter.sampler.schedule.timesteps)  # every sampler has a schedule (posediff.interfaces.Sampler)
    x2d = torch.randn(batch, T, J, 2, generator=g) * 0.3
    y_t = torch.randn(batch, T, J, 3, generator=g).clamp(-1.1, 1.1)
    t = torch.randint(0, steps, (batch,), generator=g)
    dev = lifter.device
    return x2d.to(dev), y_t.to(dev), t.to(dev)


def _check_path(path, suffixes: tuple[str, ...]) -> Path:
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise InputError(f"output path must end in {' or '.join(suffixes)}; got {str(p)!r}")
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def export_torchscript(lifter, path: str | os.PathLike, *, action: Optional[str] = None, batch: int = 2,
                       check: bool = True, check_batch: int = 3) -> ExportReport:
    """Trace :class:`DenoiserStep` to TorchScript (``torch.jit.trace``) and save it.

    Args:
        lifter: The lifter to export.
        path: Output ``.pt`` / ``.ts`` / ``.torchscript`` file.
        action: Action of the frozen prompt (``None``: neutral).
        batch: Batch size of the tracing inputs.
        check: Load the file back and compare with eager on inputs of ``check_batch`` rows.
        check_batch: Batch size of the check inputs (differs from ``batch`` to test dynamic batching).

    Returns:
        :class:`ExportReport` with the max abs difference.
    """
    out = _check_path(path, (".pt", ".ts", ".torchscript"))
    lifter.eval()
    step = DenoiserStep(lifter, action).eval()
    inputs = example_inputs(lifter, batch, seed=0)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)  # torch >= 2.9 marks torch.jit as deprecated
        traced = torch.jit.trace(step, inputs, check_trace=False)
        traced.save(str(out))
    if not check:
        return ExportReport(out, "torchscript", False, None, batch, f"wrote {out} (not checked)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(out), map_location=lifter.device)
    test = example_inputs(lifter, check_batch, seed=1)
    with torch.no_grad():
        ref = step(*test)
        got = loaded(*test)
    diff = float((ref - got).abs().max())
    return ExportReport(out, "torchscript", True, diff, check_batch,
                        f"wrote {out}; TorchScript vs eager max |diff| = {diff:.3g} (batch {check_batch})")


def export_onnx(lifter, path: str | os.PathLike, *, action: Optional[str] = None, batch: int = 2,
                check: bool = True, check_batch: int = 3, opset: int = 17) -> ExportReport:
    """Export :class:`DenoiserStep` to ONNX (``torch.onnx.export``, TorchScript-based exporter).

    The batch dimension of all three inputs and of the output is dynamic. The check runs the file
    with onnxruntime (CPU) on inputs of ``check_batch`` rows and compares with eager.

    Args:
        lifter: The lifter to export.
        path: Output ``.onnx`` file.
        action: Action of the frozen prompt (``None``: neutral).
        batch: Batch size of the tracing inputs.
        check: Run and compare (skipped with a message if onnxruntime is missing).
        check_batch: Batch size of the check inputs.
        opset: ONNX opset version.

    Returns:
        :class:`ExportReport`; ``path`` is None and ``checked`` False when the ``onnx`` package is missing.
    """
    out = _check_path(path, (".onnx",))
    if not onnx_available():
        return ExportReport(None, "onnx", False, None, batch,
                            "ONNX export skipped: the 'onnx' package is not installed (pip install onnx onnxruntime)")
    lifter.eval()
    step = DenoiserStep(lifter, action).eval()
    inputs = example_inputs(lifter, batch, seed=0)
    kwargs = dict(
        input_names=["x2d", "y_t", "t"],
        output_names=["x0"],
        dynamic_axes={"x2d": {0: "batch"}, "y_t": {0: "batch"}, "t": {0: "batch"}, "x0": {0: "batch"}},
        opset_version=opset,
    )
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(step, inputs, str(out), dynamo=False, **kwargs)
        except TypeError:  # older torch without the dynamo argument
            torch.onnx.export(step, inputs, str(out), **kwargs)
    if not check:
        return ExportReport(out, "onnx", False, None, batch, f"wrote {out} (not checked)")
    if not onnxruntime_available():
        return ExportReport(out, "onnx", False, None, batch,
                            f"wrote {out}; check skipped: onnxruntime is not installed (pip install onnxruntime)")
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, min(2, os.cpu_count() or 1))
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(out), sess_options=opts, providers=["CPUExecutionProvider"])
    test = example_inputs(lifter, check_batch, seed=1)
    with torch.no_grad():
        ref = step(*test).cpu()
    feeds = {"x2d": test[0].cpu().numpy(), "y_t": test[1].cpu().numpy(), "t": test[2].cpu().numpy()}
    got = torch.from_numpy(sess.run(["x0"], feeds)[0])
    diff = float((ref - got).abs().max())
    return ExportReport(out, "onnx", True, diff, check_batch,
                        f"wrote {out}; onnxruntime vs eager max |diff| = {diff:.3g} (batch {check_batch})")


def export_denoiser(lifter, path: str | os.PathLike, *, format: Literal["torchscript", "onnx", "auto"] = "auto",
                    action: Optional[str] = None, batch: int = 2, check: bool = True, check_batch: int = 3,
                    opset: int = 17) -> ExportReport:
    """Export one denoiser step (see the module doc); the format follows the file suffix by default.

    Args:
        lifter: The lifter.
        path: ``.pt``/``.ts``/``.torchscript`` (TorchScript) or ``.onnx``.
        format: ``"torchscript"``, ``"onnx"`` or ``"auto"`` (from the suffix).
        action: Action label of the frozen prompt, or None (neutral prompt).
        batch, check, check_batch, opset: See :func:`export_torchscript` / :func:`export_onnx`.

    Raises:
        InputError: unknown format or suffix.
    """
    if format == "auto":
        suffix = Path(path).suffix.lower()
        format = "onnx" if suffix == ".onnx" else "torchscript" if suffix in (".pt", ".ts", ".torchscript") else None
        if format is None:
            raise InputError(f"cannot tell the export format from {str(path)!r}; use .pt (TorchScript) or .onnx")
    if format == "torchscript":
        return export_torchscript(lifter, path, action=action, batch=batch, check=check, check_batch=check_batch)
    if format == "onnx":
        return export_onnx(lifter, path, action=action, batch=batch, check=check, check_batch=check_batch,
                           opset=opset)
    raise InputError(f"format must be 'torchscript', 'onnx' or 'auto'; got {format!r}")
