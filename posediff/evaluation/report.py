"""The evaluation report: tables per step, aggregator, action/sequence; JSON, Markdown and text."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import InputError
from .protocols import AGGREGATORS, METRICS, ORACLE_LABEL


# --------------------------------------------------------------------------- report
@dataclass
class EvaluationReport:
    """An evaluation result: plain data (``.data``) with JSON and Markdown writers.

    ``data["results"][aggregator][metric]`` holds ``{"avg": [M], "all_frames": [M], "groups": {name: [M]}}``
    (one value per sampler step; ``None`` where the aggregator could not run, e.g. J-Agg without camera
    intrinsics). ``data["protocol"]["name"]`` says which protocol was used.
    """

    data: dict = field(default_factory=dict)

    @property
    def protocol(self) -> str:
        """``"deployable"`` or ``"paper"``."""
        return self.data["protocol"]["name"]

    def value(self, aggregator: str = "J-Agg", metric: str = "mpjpe_mm", step: int = -1,
              group: Optional[str] = None) -> Optional[float]:
        """One number: a metric of an aggregator at a sampler step (default the last), for a group
        (default the unweighted average over groups)."""
        try:
            res = self.data["results"][aggregator][metric]
        except KeyError:
            raise InputError(f"report has no {aggregator!r}/{metric!r}; aggregators {list(self.data['results'])}, "
                             f"metrics {self.data['metrics']}") from None
        vals = res["avg"] if group is None else res["groups"][group]
        return vals[step]

    def to_json(self, path: str | Path | None = None) -> str:
        """The report as JSON text (written to ``path`` when given)."""
        text = json.dumps(self.data, indent=2, default=_json_default) + "\n"
        if path is not None:
            Path(path).write_text(text)
        return text

    def save(self, out_dir: str | Path, stem: str) -> tuple[Path, Path]:
        """Write ``stem.json`` and ``stem.md`` into ``out_dir``; returns both paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        j, m = out / f"{stem}.json", out / f"{stem}.md"
        self.to_json(j)
        m.write_text(self.to_markdown())
        return j, m

    @property
    def aggregators(self) -> dict[str, dict]:
        """The aggregators of this report in report order (the four standard rows, then registered ones):
        name → ``{"label", "oracle", "description"}``."""
        own = self.data.get("aggregators") or {}
        out = {a: {**AGGREGATORS[a], **own.get(a, {})} for a in AGGREGATORS if a in self.data["results"]}
        out.update({a: dict(v) for a, v in own.items() if a not in AGGREGATORS and a in self.data["results"]})
        return out

    def to_markdown(self) -> str:
        """A human-readable report: header, per-step averages, per-group tables at the last step."""
        d = self.data
        steps = d["steps"]
        described = self.aggregators
        aggs = list(described)
        metrics = d["metrics"]
        kind = d["groups"]["kind"]
        lines = [f"# posediff evaluation: {d['model']['name']} on {d['data']['description']}", ""]
        proto = d["protocol"]
        lines += [
            f"- **Protocol: {proto['name']}** — {proto['description']}",
            f"  - action labels: {proto['actions']}; JPMA root: {proto['jpma_root']}",
            f"- Model: `{d['model']['source']}`"
            + (f" (sha256 {d['model']['sha256'][:12]}…)" if d["model"].get("sha256") else "")
            + f" — {d['model']['spec']}; H = {d['model']['hypotheses']} hypotheses, "
            f"M = {d['model']['steps']} sampler steps, seed {d['seed']}, "
            f"{d['model'].get('precision', 'fp32')} sampling",
            f"- Data: {d['data']['description']}; {d['data']['sequences']} sequences, {d['data']['windows']} "
            f"windows of {d['data']['frames_per_window']} frames, {d['data']['frames']:.0f} frames scored "
            f"({d['windows']['mode']})",
        ]
        for note in d.get("notes", []):
            lines.append(f"- Note: {note}")
        lines.append(f"- Columns marked **{ORACLE_LABEL}** choose hypotheses with the ground truth: diagnostics, "
                     "not results a deployed system could reach.")
        together = d.get("evaluated_with", [proto["name"]])
        smp = d.get("sampling") or {}
        par = (f", {smp['workers']} worker threads" if smp.get("workers", 1) > 1 else "")
        lines.append(f"- Wall time {d['wall_s']:.0f} s on {d['device']}{par}"
                     + (f" (one call for the protocols {', '.join(together)})." if len(together) > 1 else "."))
        lines.append("")
        head = "| step | " + " | ".join(_agg_header(a, described[a]) for a in aggs) + " |"
        sep = "|---:|" + "---:|" * len(aggs)
        avg_name = f"unweighted mean over {d['groups']['count']} {kind}s" if d["groups"]["count"] > 1 else kind
        for metric in metrics:
            lines += [f"## {METRICS[metric]['label']} per sampler step ({avg_name})", "", head, sep]
            for i, s in enumerate(steps):
                row = [_fmt(d["results"][a][metric]["avg"][i]) for a in aggs]
                lines.append(f"| {s} | " + " | ".join(row) + " |")
            lines.append("")
        last = len(steps) - 1
        group_names = d["groups"]["names"]
        for metric in metrics:
            lines += [f"## {METRICS[metric]['label']} per {kind}, step {steps[last]}", "",
                      f"| {kind} | frames | " + " | ".join(_agg_header(a, described[a]) for a in aggs) + " |",
                      "|---|---:|" + "---:|" * len(aggs)]
            for g in group_names:
                row = [_fmt(d["results"][a][metric]["groups"][g][last]) for a in aggs]
                lines.append(f"| {g} | {d['groups']['frames'][g]:.0f} | " + " | ".join(row) + " |")
            row = [_fmt(d["results"][a][metric]["avg"][last]) for a in aggs]
            lines.append("| **Avg** (unweighted) | | " + " | ".join(row) + " |")
            row = [_fmt(d["results"][a][metric]["all_frames"][last]) for a in aggs]
            lines.append(f"| All frames | {d['data']['frames']:.0f} | " + " | ".join(row) + " |")
            lines.append("")
        lines += self._temporal_markdown(kind)
        return "\n".join(lines)

    def temporal_value(self, aggregator: str = "P-Agg", metric: str = "accel_mm") -> Optional[float]:
        """Velocity (``"mpjve_mm"``, mm/frame) or acceleration (``"accel_mm"``, mm/frame²) error of an
        aggregator's output sequences (unweighted mean over groups); None when not measured."""
        res = (self.data.get("temporal") or {}).get("results", {}).get(aggregator, {}).get(metric)
        return None if res is None else res["avg"]

    def _temporal_markdown(self, kind: str) -> list[str]:
        t = self.data.get("temporal") or {}
        res = t.get("results") or {}
        described = self.aggregators
        aggs = [a for a in described if a in res and res[a]]
        if not aggs:
            return []
        lines = [f"## Over time: velocity and acceleration errors, step {t['step']}", "",
                 t["description"][:1].upper() + t["description"][1:] + ".", "",
                 "| " + kind + " | " + " | ".join(f"{described[a]['label']} {lab}" for a in aggs
                                                   for lab in t["metric_definitions"].values()) + " |",
                 "|---|" + "---:|" * (len(aggs) * len(t["metric_definitions"]))]
        metrics = list(t["metric_definitions"])
        names = list(self.data["groups"]["names"])
        for g in names:
            row = [_fmt(res[a].get(m, {}).get("groups", {}).get(g)) for a in aggs for m in metrics]
            lines.append(f"| {g} | " + " | ".join(row) + " |")
        row = [_fmt(res[a].get(m, {}).get("avg")) for a in aggs for m in metrics]
        lines.append("| **Avg** (unweighted) | " + " | ".join(row) + " |")
        lines.append("")
        return lines

    def summary(self) -> str:
        """One line per aggregator with the last step's averages."""
        parts = []
        for a, desc in self.aggregators.items():
            vals = ", ".join(f"{METRICS[m]['label']} {_fmt(self.value(a, m))}" for m in self.data["metrics"])
            accel = self.temporal_value(a, "accel_mm")
            if accel is not None:
                vals += f", accel {_fmt(accel)} mm/frame²"
            parts.append(f"{desc['label']}: {vals}")
        return f"[{self.protocol}] " + "; ".join(parts)


def _agg_header(a: str, desc: dict) -> str:
    return f"{a} — {ORACLE_LABEL}" if desc["oracle"] else desc["label"]


def _fmt(v: Optional[float]) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
