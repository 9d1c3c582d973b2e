"""Run the reliability tests and print what was tried and what happened (the numbers of docs/reliability.md).

Usage::

    python scripts/reliability_report.py            # the default run (no slow tests), ~1–2 min on one core
    python scripts/reliability_report.py --slow     # also the slow ones (10x fuzzing, kill mid-write, DDP)
    python scripts/reliability_report.py --json out.json

It runs ``pytest tests/reliability`` with ``POSEDIFF_RELIABILITY_LOG`` pointing at a temporary file, into
which the tests append how many generated cases they ran (fuzz cases per generator, validation-table rows,
malicious files × loaders, kill steps); the pytest outcome of every test comes from a JUnit XML report.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(slow: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        log, junit = Path(tmp) / "counts.jsonl", Path(tmp) / "junit.xml"
        env = {**os.environ, "POSEDIFF_RELIABILITY_LOG": str(log), "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reliability",
               f"--junitxml={junit}"]
        if not slow:
            cmd += ["-m", "not slow"]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.monotonic() - t0
        counts = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
        files: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        failures = []
        if junit.is_file():
            for case in ET.parse(junit).getroot().iter("testcase"):
                f = case.get("classname", "").rsplit(".", 1)[-1] or "?"
                outcome = "passed"
                for tag in ("failure", "error", "skipped"):
                    if case.find(tag) is not None:
                        outcome = "skipped" if tag == "skipped" else "failed"
                files[f][outcome] += 1
                files[f]["seconds"] += float(case.get("time", 0))
                if outcome == "failed":
                    failures.append(f"{f}::{case.get('name')}")
    shown = [c for c in cmd[1:] if not c.startswith("--junitxml")]
    return {"command": shlex.join(shown), "slow": slow, "returncode": proc.returncode, "wall_s": round(wall, 1),
            "files": {k: dict(v) for k, v in sorted(files.items())}, "counts": counts, "failures": failures,
            "tail": proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []}


def _sum(counts: list[dict], name: str) -> dict:
    out: dict = defaultdict(int)
    for c in counts:
        if c.get("name") == name:
            for k, v in c.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    out[k] += v
    return dict(out)


def render(r: dict) -> str:
    lines = [f"# Reliability run ({'with' if r['slow'] else 'without'} slow tests)", "",
             f"Command: `POSEDIFF_RELIABILITY_LOG=… python {r['command']}` — exit code {r['returncode']}, {r['wall_s']} s wall.", "",
             "| test file | passed | failed | skipped | seconds |", "|---|---:|---:|---:|---:|"]
    for f, v in r["files"].items():
        lines.append(f"| {f} | {int(v.get('passed', 0))} | {int(v.get('failed', 0))} | {int(v.get('skipped', 0))} "
                     f"| {v.get('seconds', 0):.1f} |")
    fuzz = _sum(r["counts"], "fuzz_specs")
    table = _sum(r["counts"], "input_validation_table")
    audit = _sum(r["counts"], "checkpoint_safety_audit")
    bounds = _sum(r["counts"], "numeric_bounds")
    kills = [c for c in r["counts"] if c.get("name") == "resume_sigkill"]
    lines += ["", "Generated cases:", ""]
    if fuzz:
        parts = ", ".join(f"{k} {v}" for k, v in fuzz.items() if k != "total")
        lines.append(f"- spec fuzzing: {fuzz.get('total', 0)} cases ({parts})")
    if table:
        lines.append(f"- input validation table: {table.get('cases', 0)} bad inputs over {table.get('entry_points', 0)} "
                     "entry points")
    if bounds:
        lines.append(f"- numeric boundaries: {bounds.get('cases', 0)} edited specs ({bounds.get('refused', 0)} refused with "
                     f"a SpecError naming the field, {bounds.get('refused_at_run_time', 0)} refused when sampling, "
                     f"{bounds.get('sampled_finite', 0)} built and sampled finite poses)")
    if audit:
        lines.append(f"- unsafe files: {audit.get('malicious_cases', 0)} malicious file × loader cases, "
                     f"{audit.get('corruptions', 0)} corruption kinds, {audit.get('load_calls', 0)} load calls audited")
    for k in kills:
        when = (f"while writing the checkpoint of step {k['kill_step']}" if k["mode"] == "save"
                else f"after step {k['kill_step']}")
        procs = "2 DDP processes (gloo)" if k["world"] > 1 else "1 process"
        lines.append(f"- SIGKILL {when}, {procs} (POSEDIFF_KILL_SEED={k['seed']}): resumed run bit-identical to an "
                     "uninterrupted one")
    if r["failures"]:
        lines += ["", "Failures:", ""] + [f"- {f}" for f in r["failures"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slow", action="store_true", help="include the slow tests")
    ap.add_argument("--json", type=Path, help="also write the raw results as JSON")
    args = ap.parse_args(argv)
    result = run(args.slow)
    print(render(result), end="")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
