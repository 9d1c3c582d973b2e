"""The ``posediff`` command line: --help everywhere, list/show output, lift/render/export/convert/plugins,
one-line errors with exit code 2, and the bundled demo end to end."""
from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest

import posediff
from posediff.cli import SUBCOMMANDS, main

REPO = Path(__file__).resolve().parents[1]
MINE = ("demo", "list", "show", "lift", "stream", "render", "convert", "export", "plugins")
TINY = [
    "lifter.dim=16", "lifter.frames=9", "backbone.depth=1", "backbone.heads=2", "conditioner.adapter_layers=1",
    "conditioner.adapter_heads=2", "conditioner.adapter_ff=16", "conditioner.text_encoder.width=16",
    "conditioner.text_encoder.layers=1", "conditioner.text_encoder.heads=2", "fusion[0].blocks[0].heads=2",
    "sampler.hypotheses=2", "sampler.steps=2",
]


def run(capsys, *argv):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse --help / usage errors
            code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def one_line_error(err: str, command: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
    assert lines[0].startswith(f"posediff {command}: error: "), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    from posediff.checkpoints import save_lifter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lifter = posediff.build("finepose-tiny", overrides=TINY)
    return save_lifter(lifter, tmp_path_factory.mktemp("ckpt") / "tiny.pt")


# ------------------------------------------------------------------------------------------ help
@pytest.mark.parametrize("name", MINE)
def test_help_exits_zero(capsys, name):
    assert name in SUBCOMMANDS
    code, out, _ = run(capsys, name, "--help")
    assert code == 0
    assert f"usage: posediff {name}" in out
    assert "example" in out


def test_top_level_help_lists_my_commands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in MINE:
        assert name in out


# ------------------------------------------------------------------------------------------ list / show
def test_list_all_kinds(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    for header in ("sampler (", "aggregator (", "backbone (", "preset ("):
        assert header in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("ddim "))
    assert "posediff" in line and len(line.split()) > 2  # provider and summary


def test_list_kind_pattern_json_and_presets(capsys):
    code, out, _ = run(capsys, "list", "aggregators", "j*", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == [n for n in posediff.list_components("aggregator", "j*")]
    assert all(r["kind"] == "aggregator" and r["provider"] for r in rows)
    code, out, _ = run(capsys, "list", "preset", "finepose-*", "--names")
    assert code == 0
    assert out.split() == posediff.list_presets("finepose-*")
    code, out, _ = run(capsys, "list", "d*", "--names")  # a pattern over every kind
    assert code == 0 and "ddim" in out.split() and "d3dp-h36m" in out.split()


def test_list_unknown_kind_is_one_line_error(capsys):
    code, out, err = run(capsys, "list", "samplr")
    assert code == 2
    line = one_line_error(err, "list")
    assert "did you mean 'sampler'" in line


def test_show_prints_resolved_toml(capsys, tmp_path):
    code, out, _ = run(capsys, "show", "finepose-tiny", "--set", "sampler.steps=2", "--set", "aggregator.name=mean",
                       "--out", str(tmp_path / "s.toml"))
    assert code == 0
    spec = tomllib.loads(out)
    assert spec["sampler"]["steps"] == 2 and spec["aggregator"] == {"name": "mean"}
    assert spec == posediff.resolve_spec("finepose-tiny", {"sampler.steps": 2, "aggregator.name": "mean"})
    assert (tmp_path / "s.toml").read_text() == out


def test_show_raw_and_checkpoint(capsys, tiny_ckpt):
    code, out, _ = run(capsys, "show", "finepose-tiny", "--raw")
    assert code == 0 and out.startswith("#")
    code, out, _ = run(capsys, "show", str(tiny_ckpt))
    assert code == 0 and tomllib.loads(out)["lifter"]["frames"] == 9


def test_show_bad_override_exit_2(capsys):
    code, _, err = run(capsys, "show", "finepose-tiny", "--set", "sampler.stepz=2")
    assert code == 2
    assert err.startswith("posediff show: error: ") and "stepz" in err
    code, _, err = run(capsys, "show", "no-such-preset")
    assert code == 2 and "unknown preset" in err


# ------------------------------------------------------------------------------------------ lift / render
def _write_keypoints(tmp_path: Path, frames: int = 14) -> Path:
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(200, 800, (frames, 17, 2)), rng.uniform(0.5, 1, (frames, 17, 1))], -1)
    path = tmp_path / "kp.npy"
    np.save(path, kp)
    return path


def test_lift_and_render(capsys, tmp_path, tiny_ckpt):
    kp = _write_keypoints(tmp_path)
    out = tmp_path / "pose3d.npz"
    code, stdout, err = run(capsys, "lift", str(kp), "--weights", str(tiny_ckpt), "--format", "coco17",
                            "--image-size", "1000", "1000", "--out", str(out), "--keep-hypotheses", "--quiet",
                            "--render", str(tmp_path / "anim.gif"), "--max-frames", "3", "--sampling", "paper",
                            "--hypotheses", "2", "--steps", "2")
    assert code == 0, err
    assert "aggregator mean" in stdout and "warning:" in err and "mean" in err  # JPMA without camera: the mean
    res = posediff.inference.load_result(out)
    assert res.poses3d.shape == (14, 17, 3) and res.hypotheses.shape == (2, 14, 17, 3)
    assert (tmp_path / "anim.gif").is_file()

    code, stdout, err = run(capsys, "lift", str(kp), "--weights", str(tiny_ckpt), "--format", "coco17",
                            "--image-size", "1000", "1000", "--camera", "1100,1100,500,500", "--out",
                            str(tmp_path / "p2.npz"), "--quiet", "--aggregator", "jpma")
    assert code == 0 and "aggregator jpma" in stdout
    code, stdout, err = run(capsys, "lift", str(kp), "--weights", str(tiny_ckpt), "--format", "coco17",
                            "--image-size", "1000", "1000", "--out", str(tmp_path / "p3.npz"), "--quiet",
                            "--sampling", "fast")
    assert code == 0 and "sampling fast (H=2, M=2, flip on), aggregator mean" in stdout and "warning:" not in err

    code, stdout, err = run(capsys, "render", str(out), "--out", str(tmp_path / "r.gif"), "--grid",
                            str(tmp_path / "g.png"), "--spread", str(tmp_path / "s.png"), "--max-frames", "3",
                            "--num-frames", "2")
    assert code == 0, err
    for name in ("r.gif", "g.png", "s.png"):
        assert (tmp_path / name).is_file()


@pytest.mark.parametrize("argv,needle", [
    (["lift", "missing.npy", "--weights", "demo"], "INPUT not found"),
    (["lift", "{kp}", "--weights", "{ckpt}", "--format", "coco17"], "image_size"),
    (["lift", "{kp}", "--weights", "{ckpt}", "--format", "openpose-25", "--image-size", "10", "10"],
     "joints for format"),
    (["lift", "{kp}", "--weights", "{ckpt}", "--image-size", "1000", "1000", "--camera", "1,2,3"], "4 or 9"),
    (["lift", "{kp}", "--weights", "{ckpt}", "--image-size", "1000", "1000", "--out", "x.txt"], ".npz"),
    (["render", "missing.npz"], "not found"),
    (["export", "--spec", "finepose-tiny", "--out", "{tmp}/x.bin"], "format"),
    (["convert", "official", "missing.bin", "{tmp}/out.pt"], "not found"),
])
def test_bad_input_exit_2_one_line(capsys, tmp_path, tiny_ckpt, argv, needle):
    kp = _write_keypoints(tmp_path)
    argv = [a.format(kp=kp, ckpt=tiny_ckpt, tmp=tmp_path) for a in argv]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert needle in one_line_error(err, argv[0])


def test_lift_without_weights_uses_the_shipped_h36m_model(capsys, tmp_path):
    kp = _write_keypoints(tmp_path, frames=12)
    out = tmp_path / "p.npz"
    code, stdout, err = run(capsys, "lift", str(kp), "--format", "coco17", "--image-size", "1000", "1000",
                            "--out", str(out), "--quiet", "--hypotheses", "1", "--steps", "1")
    assert code == 0, err
    res = posediff.inference.load_result(out)
    assert res.metadata["weights"] == "h36m" and res.metadata["model"] == "finepose-base-h36m"


def test_lift_with_no_usable_joint_is_an_error_and_writes_nothing(capsys, tmp_path, tiny_ckpt):
    """Every coordinate NaN: nothing can be lifted, so exit 2 with one line and no output file (issue 22;
    it used to warn, print 'lifted 0 of 60 frame(s)', exit 0 and write an empty .npz)."""
    kp = tmp_path / "nan.npy"
    np.save(kp, np.full((60, 17, 2), np.nan, np.float32))
    out = tmp_path / "p.npz"
    code, stdout, err = run(capsys, "lift", str(kp), "--weights", str(tiny_ckpt), "--format", "coco17",
                            "--image-size", "1000", "1000", "--out", str(out), "--quiet")
    assert code == 2 and "nothing to lift" in one_line_error(err, "lift")
    assert not out.exists() and "lifted" not in stdout


def test_shipped_weights_load_without_the_random_tower_warning():
    """The shipped model's text tower is the one it was trained with: loading it does not warn that the
    tower is random (issue 22: every lift printed 'NOT CLIP ... fine for tests and demos')."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        posediff.load("h36m")
    assert not [w for w in caught if "NOT CLIP" in str(w.message)]


def test_missing_checkpoint_exit_3(capsys, tmp_path):
    kp = _write_keypoints(tmp_path)
    code, _, err = run(capsys, "lift", str(kp), "--weights", str(tmp_path / "nope.pt"), "--image-size", "9", "9")
    assert code == 3 and "checkpoint not found" in one_line_error(err, "lift")


# ------------------------------------------------------------------------------------------ export / convert / plugins
def test_export_torchscript_from_spec(capsys, tmp_path):
    code, out, err = run(capsys, "export", "--spec", "finepose-tiny", *sum((["--set", s] for s in TINY), []),
                         "--out", str(tmp_path / "step.pt"))
    assert code == 0, err
    assert "max |diff|" in out and (tmp_path / "step.pt").is_file()


def test_convert_rejects_posediff_checkpoint(capsys, tmp_path, tiny_ckpt):
    code, _, err = run(capsys, "convert", "official", str(tiny_ckpt), str(tmp_path / "o.pt"))
    assert code in (2, 3)
    one_line_error(err, "convert")
    assert not (tmp_path / "o.pt").exists()


def test_convert_refuses_overwrite(capsys, tmp_path, tiny_ckpt):
    (tmp_path / "o.pt").write_bytes(b"x")
    code, _, err = run(capsys, "convert", "official", str(tiny_ckpt), str(tmp_path / "o.pt"))
    assert code == 2 and "--force" in one_line_error(err, "convert")


def test_plugins_list_and_check(capsys):
    from posediff import registry

    code, out, _ = run(capsys, "plugins")
    assert code == 0 and out.strip()
    from posediff.presets import _plugin_presets

    reports = registry.load_plugins()
    code, out, _ = run(capsys, "plugins", "--check", "--json")
    rows = json.loads(out)
    assert len(rows) == len(reports) + len(_plugin_presets())
    assert {(r["kind"], r["name"]) for r in rows} >= {(r.kind, r.name) for r in reports}
    assert code == (0 if all(r["ok"] for r in rows) else 3)


# ------------------------------------------------------------------------------------------ demo
def test_demo_end_to_end(capsys, tmp_path):
    assets = REPO / "posediff" / "assets"
    assert (assets / "demo_lifter.pt").is_file() and (assets / "demo_sequence.npz").is_file(), \
        "bundled demo assets missing: run scripts/make_demo_assets.py"
    code, out, err = run(capsys, "demo", "--out-dir", str(tmp_path / "demo"), "--max-frames", "6")
    assert code == 0, err
    assert "MPJPE" in out and "jpma" in out and "mean" in out
    report = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    rows = {r["aggregator"]: r for r in report["metrics"]}
    assert {"mean", "jpma"} <= set(rows)
    for r in rows.values():
        assert 0 < r["mpjpe_mm"] < 1000 and r["p_mpjpe_mm"] <= r["mpjpe_mm"] + 1e-6
    # the bundled model is trained: far better than an untrained one (hundreds of mm)
    assert rows["jpma"]["mpjpe_mm"] < 150
    for name in ("demo.gif", "frames.png", "spread.png", "pose3d.npz"):
        assert (tmp_path / "demo" / name).is_file()


def test_module_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "posediff", "list", "schedule", "--names"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "cosine" in proc.stdout.split()


# ------------------------------------------------------------------------------------------ stream
def test_stream_writes_every_frame_and_reports_rate_and_latency(capsys, tmp_path, tiny_ckpt):
    kp = tmp_path / "kp.npz"
    np.savez(kp, keypoints=(np.random.RandomState(0).randn(25, 17, 2) * 0.1).astype(np.float32))
    out = tmp_path / "s.npz"
    code, text, _ = run(capsys, "stream", str(kp), "--weights", str(tiny_ckpt), "--format", "h36m-17",
                        "--lookahead", "2", "--precision", "fp32", "--out", str(out))
    assert code == 0, text
    assert "streamed 25 frame(s)" in text and "look-ahead 2 frame(s)" in text and "latency per frame" in text
    with np.load(out) as z:
        assert z["poses3d"].shape == (25, 17, 3)
        assert np.isfinite(z["poses3d"]).all() and (np.abs(z["poses3d"][:, 1:]).sum(-1) > 0).all()
        assert int(z["lookahead"]) == 2 and z["latency_s"].shape == (23,)


@pytest.mark.parametrize("command", ["stream", "lift"])
def test_a_17_joint_file_without_format_says_what_was_assumed(capsys, tmp_path, tiny_ckpt, command):
    kp = tmp_path / "kp.npz"
    np.savez(kp, keypoints=(np.random.RandomState(0).randn(12, 17, 2) * 0.1).astype(np.float32))
    extra = ["--quiet"] if command == "lift" else []
    code, _, err = run(capsys, command, str(kp), "--weights", str(tiny_ckpt), "--out", str(tmp_path / "s.npz"),
                       *extra)
    assert code == 0
    assert f"posediff {command}: warning: " in err and "assumed coco-17" in err and "h36m-17" in err


def test_list_summaries_are_whole_sentences_without_rst_markup(capsys):
    from posediff.registry import describe, doc_summary

    for kind in posediff.KINDS:
        for name in posediff.list_components(kind):
            s = describe(kind, name).summary
            assert "``" not in s and "**" not in s, (kind, name, s)
            assert s.endswith((".", ")")), f"{kind} {name}: summary cut mid-sentence: {s!r}"
    assert doc_summary("A first line that goes\non. Second sentence.") == "A first line that goes on."
    assert doc_summary("Keeps §3.3 and 0.5 mm whole.\n\nBody.") == "Keeps §3.3 and 0.5 mm whole."


def test_closed_pipe_ends_quietly():
    """`posediff list aggregator | head -1` sometimes ended with a BrokenPipeError traceback (issue 22): here
    the reader is closed before posediff writes, so every write fails."""
    import os

    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run([sys.executable, "-m", "posediff", "list", "aggregator"], stdout=w,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(w)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert proc.returncode == 141


def test_jpma_without_camera_is_said_in_command_line_words(capsys, tmp_path, tiny_ckpt):
    """The library says camera= / aggregator='mean'; the command line says --camera / --aggregator mean
    (issue 22)."""
    kp = _write_keypoints(tmp_path)
    code, _, err = run(capsys, "lift", str(kp), "--weights", str(tiny_ckpt), "--format", "coco17",
                       "--image-size", "1000", "1000", "--aggregator", "jpma", "--out", str(tmp_path / "p.npz"))
    line = one_line_error(err, "lift")
    assert code == 2 and "--camera" in line and "--aggregator mean" in line and "camera=" not in line
    with pytest.raises(posediff.errors.InputError, match=r"camera= intrinsics or choose aggregator='mean'"):
        posediff.lift(np.load(kp), lifter=posediff.load(tiny_ckpt), format="coco17", image_size=(1000, 1000),
                      aggregator="jpma")


def test_animation_runs_at_the_input_frame_rate(capsys, tmp_path, tiny_ckpt):
    """`posediff lift --render` used 12 frames/s whatever the input: a 41 s video became a 1:43 clip (issue
    22). The input file's frame rate is used, else 30 frames/s, said in the output."""
    from PIL import Image

    kp = np.concatenate([np.random.default_rng(0).uniform(200, 800, (14, 17, 2)), np.ones((14, 17, 1))], -1)
    np.savez(tmp_path / "kp.npz", keypoints=kp, fps=25.0)
    code, stdout, err = run(capsys, "lift", str(tmp_path / "kp.npz"), "--weights", str(tiny_ckpt), "--format",
                            "coco17", "--image-size", "1000", "1000", "--out", str(tmp_path / "p.npz"), "--quiet",
                            "--render", str(tmp_path / "a.gif"))
    assert code == 0, err
    assert "at 25 frames/s (the input's frame rate)" in stdout
    with Image.open(tmp_path / "a.gif") as im:
        assert im.info["duration"] == 40
    np.save(tmp_path / "kp.npy", kp)
    code, stdout, err = run(capsys, "lift", str(tmp_path / "kp.npy"), "--weights", str(tiny_ckpt), "--format",
                            "coco17", "--image-size", "1000", "1000", "--out", str(tmp_path / "q.npz"), "--quiet",
                            "--render", str(tmp_path / "b.gif"))
    assert code == 0 and "at 30 frames/s (the input does not say its frame rate" in stdout
    code, stdout, err = run(capsys, "render", str(tmp_path / "p.npz"), "--out", str(tmp_path / "c.gif"))
    assert code == 0 and "at 25 frames/s (the input's frame rate)" in stdout, err


def test_lift_writes_bvh(capsys, tmp_path, tiny_ckpt):
    from posediff.bvh import read_bvh

    kp = _write_keypoints(tmp_path)
    code, stdout, err = run(capsys, "lift", str(kp), "--weights", str(tiny_ckpt), "--format", "coco17",
                            "--image-size", "1000", "1000", "--out", str(tmp_path / "p.npz"), "--quiet",
                            "--bvh", str(tmp_path / "m.bvh"), "--fps", "25")
    assert code == 0, err
    assert f"BVH → {tmp_path / 'm.bvh'} (14 frames at 25 frames/s)" in stdout
    data = read_bvh(tmp_path / "m.bvh")
    assert data["frames"].shape[0] == 14 and data["frame_time"] == pytest.approx(0.04)
    assert data["names"][0] == "pelvis" and "right_wrist" in data["names"]


def test_lift_world_places_the_root_and_the_bvh_follows_it(capsys, tmp_path, tiny_ckpt):
    from posediff.bvh import read_bvh

    kp = _write_keypoints(tmp_path)
    code, stdout, err = run(capsys, "lift", str(kp), "--weights", str(tiny_ckpt), "--format", "coco17",
                            "--image-size", "1000", "1000", "--out", str(tmp_path / "p.npz"), "--quiet", "--world",
                            "--fov", "50", "--bvh", str(tmp_path / "m.bvh"))
    assert code == 0, err
    assert "world: root trajectory in camera space, metres (no intrinsics given: a pinhole camera with a 50°" in stdout
    res = posediff.inference.load_result(tmp_path / "p.npz")
    assert res.trajectory.shape == (14, 3) and (res.trajectory[:, 2] > 0).all()  # in front of the camera
    assert res.metadata["trajectory"]["assumed"] is True
    root_cm = read_bvh(tmp_path / "m.bvh")["frames"][:, :3]
    np.testing.assert_allclose(root_cm, res.trajectory * np.array([1, -1, -1]) * 100, atol=1e-4)
    code, _, err = run(capsys, "lift", str(kp), "--weights", str(tiny_ckpt), "--format", "coco17",
                       "--image-size", "1000", "1000", "--out", str(tmp_path / "q.npz"), "--fov", "50")
    assert code == 2 and "add --world" in one_line_error(err, "lift")


def test_lift_constant_bones(capsys, tmp_path, tiny_ckpt):
    from posediff.geometry.bones import bone_length_cv

    kp = _write_keypoints(tmp_path)
    common = ["lift", str(kp), "--weights", str(tiny_ckpt), "--format", "coco17", "--image-size", "1000", "1000",
              "--quiet"]
    assert run(capsys, *common, "--out", str(tmp_path / "a.npz"))[0] == 0
    assert run(capsys, *common, "--out", str(tmp_path / "b.npz"), "--constant-bones")[0] == 0
    a = posediff.inference.load_result(tmp_path / "a.npz")
    b = posediff.inference.load_result(tmp_path / "b.npz")
    assert bone_length_cv(a.poses3d).max() > 1e-3  # an untrained model's bones wander
    assert bone_length_cv(b.poses3d).max() < 1e-5  # float32 storage of constant lengths
    assert "median length" in b.metadata["bones"]
