"""Noise schedules (kind ``schedule``): the ᾱ_t of the forward diffusion process.

Every schedule exposes ``betas()`` and ``alphas_cumprod()`` (float64, shape ``(timesteps,)``) and
``terms()``, the 12 derived float64 quantities the official FinePOSE/D3DP diffusion wrapper keeps
as buffers (reference §4.1). They are recomputed on demand from Python numbers and never stored as
module buffers, so ``lifter.to(torch.bfloat16)`` cannot degrade them and checkpoints do not carry them.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["diffusion_terms", "TERM_NAMES"]

TERM_NAMES: tuple[str, ...] = (
    "betas",
    "alphas_cumprod",
    "alphas_cumprod_prev",
    "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod",
    "sqrt_recip_alphas_cumprod",
    "sqrt_recipm1_alphas_cumprod",
    "posterior_variance",
    "posterior_log_variance_clipped",
    "posterior_mean_coef1",
    "posterior_mean_coef2",
)
"""Names of the 12 derived quantities, as the official checkpoint stores them (``module.<name>``)."""


def diffusion_terms(betas: Tensor) -> dict[str, Tensor]:
    """The 12 float64 diffusion quantities derived from ``betas`` (reference §4.1).

    Same expressions and order of operations as the official wrapper, so the values agree with an
    official checkpoint's buffers to the last bit or nearly.

    Args:
        betas: ``(timesteps,)`` float64.

    Returns:
        Dict keyed by :data:`TERM_NAMES`, each ``(timesteps,)`` float64.
    """
    betas = betas.to(torch.float64)
    alphas = 1.0 - betas
    ac = torch.cumprod(alphas, dim=0)
    ac_prev = torch.cat((ac.new_ones(1), ac[:-1]))
    posterior_variance = betas * (1.0 - ac_prev) / (1.0 - ac)
    return {
        "betas": betas,
        "alphas_cumprod": ac,
        "alphas_cumprod_prev": ac_prev,
        "sqrt_alphas_cumprod": torch.sqrt(ac),
        "sqrt_one_minus_alphas_cumprod": torch.sqrt(1.0 - ac),
        "log_one_minus_alphas_cumprod": torch.log(1.0 - ac),
        "sqrt_recip_alphas_cumprod": torch.sqrt(1.0 / ac),
        "sqrt_recipm1_alphas_cumprod": torch.sqrt(1.0 / ac - 1),
        "posterior_variance": posterior_variance,
        "posterior_log_variance_clipped": torch.log(posterior_variance.clamp(min=1e-20)),
        "posterior_mean_coef1": betas * torch.sqrt(ac_prev) / (1.0 - ac),
        "posterior_mean_coef2": (1.0 - ac_prev) * torch.sqrt(alphas) / (1.0 - ac),
    }


from . import cosine, linear  # noqa: E402,F401  (built-ins register on import)
from .cosine import CosineSchedule  # noqa: E402
from .linear import LinearSchedule  # noqa: E402

__all__ += ["CosineSchedule", "LinearSchedule"]
