"""posediff.viz: GIF animation, PNG frame grid and hypothesis spread are written, small and valid."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from posediff import viz
from posediff.data.synthetic import make_synthetic
from posediff.errors import InputError


@pytest.fixture(scope="module")
def seq():
    return make_synthetic(subjects=1, motions=["walking"], cameras=1, frames=20, seed=3)[0]


def test_bone_colours_follow_left_right():
    colours = {child: c for _, child, c in viz.bone_colors("h36m-17")}
    assert colours[5] == viz.LEFT_COLOR and colours[12] == viz.LEFT_COLOR     # left knee, left elbow
    assert colours[2] == viz.RIGHT_COLOR and colours[15] == viz.RIGHT_COLOR   # right knee, right elbow
    assert colours[8] == viz.CENTER_COLOR
    assert len(colours) == 16


def test_gif_written(seq, tmp_path):
    out = viz.render_animation(seq.x3d, tmp_path / "a.gif", x2d=seq.x2d, max_frames=5, fps=5, dpi=40, size=2.0)
    assert out == tmp_path / "a.gif" and out.is_file()
    assert 1_000 < out.stat().st_size < 500_000
    with Image.open(out) as im:
        assert im.format == "GIF" and im.n_frames == 5


def test_gif_max_frames_and_all_frames(seq, tmp_path):
    out = viz.render_animation(seq.x3d[:4], tmp_path / "b.gif", max_frames=None, dpi=30, size=1.5)
    with Image.open(out) as im:
        assert im.n_frames == 4


def test_mp4_without_ffmpeg_falls_back_to_gif(seq, tmp_path, monkeypatch):
    monkeypatch.setattr(viz, "ffmpeg_path", lambda: None)
    with pytest.warns(UserWarning, match="ffmpeg"):
        out = viz.render_animation(seq.x3d, tmp_path / "c.mp4", max_frames=3, dpi=30, size=1.5)
    assert out.suffix == ".gif" and out.is_file()


def test_default_animation_has_every_frame_at_a_readable_size(seq, tmp_path):
    out = viz.render_animation(seq.x3d, tmp_path / "d.gif", x2d=seq.x2d)
    with Image.open(out) as im:
        assert im.n_frames == 20 and im.size == (960, 480)  # 2D and 3D panels of 480 px


def test_mp4_is_decodable_with_every_frame(seq, tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="pip install 'posediff[video]' for MP4")
    out = viz.render_animation(seq.x3d[:12], tmp_path / "e.mp4", x2d=seq.x2d[:12], fps=12)
    assert out.suffix == ".mp4" and out.is_file()
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = reader.__next__()
    frames = sum(1 for _ in reader)
    assert tuple(meta["size"]) == (960, 480) and frames == 12


def test_multi_person_with_mask(seq, tmp_path):
    poses = np.stack([seq.x3d, seq.x3d])
    x2d = np.stack([seq.x2d, seq.x2d + 0.1])
    mask = np.ones((2, 20), bool)
    mask[1, 10:] = False
    out = viz.render_animation(poses, tmp_path / "m.gif", x2d=x2d, mask=mask, max_frames=3, dpi=30, size=1.5)
    assert out.is_file()
    grid = viz.render_frames(poses, tmp_path / "m.png", x2d=x2d, mask=mask, num_frames=3, dpi=40, size=1.5)
    assert grid.is_file()


def test_frame_grid_png(seq, tmp_path):
    out = viz.render_frames(seq.x3d, tmp_path / "g.png", x2d=seq.x2d, reference=seq.x3d, frames=[0, 5, 19],
                            dpi=40, size=1.5)
    assert out.is_file() and out.stat().st_size < 300_000
    with Image.open(out) as im:
        assert im.format == "PNG"
        w, h = im.size
        assert w > h  # three columns, two rows (2D above 3D)


def test_hypothesis_spread_png(seq, tmp_path):
    rng = np.random.default_rng(0)
    hyps = seq.x3d[None] + rng.normal(0, 0.02, size=(6,) + seq.x3d.shape)
    out = viz.render_hypotheses(hyps, tmp_path / "h.png", aggregated=seq.x3d, x2d=seq.x2d, frame=3, dpi=40)
    assert out.is_file()
    out1 = viz.render_hypotheses(hyps[:, 0], tmp_path / "h1.png", dpi=40)
    assert out1.is_file()


def test_bad_inputs(seq, tmp_path):
    with pytest.raises(InputError, match=".gif"):
        viz.render_animation(seq.x3d, tmp_path / "a.png")
    with pytest.raises(InputError, match="shape"):
        viz.render_animation(np.zeros((5, 16, 3)), tmp_path / "a.gif")
    with pytest.raises(InputError, match="x2d"):
        viz.render_animation(seq.x3d, tmp_path / "a.gif", x2d=seq.x2d[:5])
    with pytest.raises(InputError, match="frames"):
        viz.render_frames(seq.x3d, tmp_path / "g.png", frames=[25])
    with pytest.raises(InputError, match="frame"):
        viz.render_hypotheses(np.zeros((3, 20, 17, 3)), tmp_path / "h.png", frame=40)
    with pytest.raises(InputError, match="mask"):
        viz.render_animation(seq.x3d, tmp_path / "a.gif", mask=np.ones(3, bool))


def test_blitted_frames_show_what_a_full_redraw_shows(seq, tmp_path):
    """The fast path draws the static figure once and only the skeleton per frame: each frame must be the
    picture a full redraw gives. Anti-aliased line ends may differ by a few levels, and the GIF palette
    (64 colours from the first frame) moves a colour by at most its distance to the nearest palette entry,
    so compare per pixel with a tolerance and bound the share of pixels that differ visibly."""
    fast = viz.render_animation(seq.x3d[:8], tmp_path / "fast.gif", x2d=seq.x2d[:8], dpi=40, size=2.0)
    slow = viz.render_animation(seq.x3d[:8], tmp_path / "slow.gif", x2d=seq.x2d[:8], dpi=40, size=2.0,
                                blit=False)
    with Image.open(fast) as a, Image.open(slow) as b:
        assert a.n_frames == b.n_frames == 8
        for k in (0, 3, 7):
            a.seek(k)
            b.seek(k)
            fa = np.asarray(a.convert("RGB"), dtype=int)
            fb = np.asarray(b.convert("RGB"), dtype=int)
            visibly = (np.abs(fa - fb).sum(-1) > 90).mean()
            assert visibly < 0.01, (k, visibly)


def test_gif_plays_at_the_given_frame_rate(seq, tmp_path):
    out = viz.render_animation(seq.x3d[:6], tmp_path / "r.gif", fps=50, dpi=30, size=1.5)
    with Image.open(out) as im:
        assert im.info["duration"] == 20  # ms per frame: 6 frames at 50 fps last 0.12 s, like the input
