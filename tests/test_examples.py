"""Every script in examples/ runs with --quick (as a user would run it: a subprocess, from another folder)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"

# script -> lines its --quick output must contain
EXPECTED = {
    "build_and_sample.py": ["sample: (B, M, H, T, J, 3) = (1, 2, 2, 27, 17, 3)", "lift with jpma", "lift with mean"],
    "train_tiny_synthetic.py": ["trained 3 steps", "J-Agg MPJPE (deployable protocol)"],
    "evaluate_3dhp.py": ["J-Best (oracle: uses GT 3D)", "deployable", "paper"],
    "lift_keypoints.py": ["poses3d (40, 17, 3)", "saved "],
    "compose_spec.py": ["is refused", "identical spec", "trained 3 steps"],
    "components.py": ["example_film           passes check_component", "lifted (2, 9, 17, 3)"],
}


def _run(script: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, str(EXAMPLES / script), "--quick", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)


def test_every_example_is_tested():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert scripts == sorted(EXPECTED), f"examples without a test entry (or missing scripts): {scripts}"


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs_quick(script, tmp_path):
    proc = _run(script, tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{script} --quick failed ({proc.returncode}):\n{output[-4000:]}"
    assert proc.stdout.rstrip().endswith("ok"), output[-2000:]
    for line in EXPECTED[script]:
        assert line in proc.stdout, f"{script}: {line!r} not in the output:\n{proc.stdout[-2000:]}"
    assert not list(tmp_path.iterdir()), f"{script} left files in the working folder: {list(tmp_path.iterdir())}"


def test_examples_explain_themselves():
    for path in EXAMPLES.glob("*.py"):
        text = path.read_text()
        assert text.startswith('"""'), f"{path.name} needs a module docstring saying what it shows"
        assert "--quick" in text, path.name
