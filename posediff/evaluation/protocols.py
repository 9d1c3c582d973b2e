"""The evaluation protocols and aggregator names (see :mod:`posediff.evaluation`)."""
from __future__ import annotations

from typing import Any, Literal


Protocol = Literal["deployable", "paper"]

PROTOCOLS: dict[str, dict[str, str]] = {
    "deployable": {
        "actions": "none (neutral prompt, actions=None)",
        "jpma_root": "estimated from the 2D and the camera intrinsics",
        "description": "No test-time information beyond the 2D and the camera intrinsics: no ground-truth action "
                       "label (the conditioner gets actions=None, i.e. the neutral prompt) and J-Agg (JPMA) "
                       "reprojects with a root trajectory estimated from the 2D.",
    },
    "paper": {
        "actions": "ground-truth action label of each test video",
        "jpma_root": "ground-truth root trajectory",
        "description": "The official FinePOSE evaluation: the ground-truth action label of each test video is the "
                       "prompt (reference §3.6) and J-Agg (JPMA) adds the ground-truth camera-space root "
                       "trajectory before reprojecting (§5.2). Both use test-time ground truth.",
    },
}
"""The two evaluation protocols."""

ORACLE_LABEL = "oracle (uses ground-truth 3D)"

AGGREGATORS: dict[str, dict[str, Any]] = {
    "J-Agg": {"label": "J-Agg (JPMA)", "oracle": False,
              "description": "per joint, the hypothesis whose reprojection is closest to the input 2D"},
    "P-Agg": {"label": "P-Agg (mean)", "oracle": False, "description": "the mean of the hypotheses"},
    "P-Best": {"label": f"P-Best, {ORACLE_LABEL}", "oracle": True,
               "description": "the hypothesis with the lowest error over the window (chosen with the ground "
                              "truth; official: one per evaluation mini-batch)"},
    "J-Best": {"label": f"J-Best, {ORACLE_LABEL}", "oracle": True,
               "description": "per joint, the hypothesis closest to the ground truth"},
}
"""The four aggregators, in report order; ``oracle`` marks the ones that read the ground-truth 3D."""

METRICS: dict[str, dict[str, str]] = {
    "mpjpe_mm": {"label": "MPJPE (mm)", "better": "lower"},
    "p_mpjpe_mm": {"label": "P-MPJPE (mm)", "better": "lower"},
    "pck": {"label": "PCK@150mm (%)", "better": "higher"},
    "auc": {"label": "AUC (%)", "better": "higher"},
}
