"""Skeleton plots and animations with Matplotlib (Agg backend, no display needed).

Three views:

* :func:`render_animation` — the 3D skeleton over time, with the 2D input beside it; a GIF always
  (Pillow), an MP4 when ffmpeg is installed.
* :func:`render_frames` — a static grid of chosen frames (PNG), 2D input above 3D pose per column.
* :func:`render_hypotheses` — the spread of the diffusion hypotheses of one frame: every hypothesis
  drawn faint, the aggregated pose bold.

Conventions: 3D poses are camera-space metres (``x`` right, ``y`` down, ``z`` forward) and are drawn
with ``z`` as depth and ``−y`` as up; 2D keypoints are normalised screen coordinates (``v`` down).
Left-side bones are blue, right-side bones red, the spine grey (from the skeleton's ``left`` and
``right`` lists).

Example:
    >>> import numpy as np, posediff.viz as viz
    >>> poses = np.zeros((4, 17, 3)); path = viz.render_frames(poses, "/tmp/grid.png")  # doctest: +SKIP

Size: one job (drawing skeletons); most of the lines are the plotting set-up shared by the three views.

"""
from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from .errors import InputError
from .geometry.skeletons import Skeleton, get_skeleton

__all__ = [
    "LEFT_COLOR",
    "RIGHT_COLOR",
    "CENTER_COLOR",
    "bone_colors",
    "ffmpeg_available",
    "ffmpeg_path",
    "render_animation",
    "render_frames",
    "render_hypotheses",
]

LEFT_COLOR = "#1f77b4"
"""Colour of left-side bones (blue)."""
RIGHT_COLOR = "#d62728"
"""Colour of right-side bones (red)."""
CENTER_COLOR = "#555555"
"""Colour of the spine and head (grey)."""

_PERSON_SPACING = 1.2  # metres between people drawn side by side


def _plt():
    """Import pyplot on the Agg backend without touching a user's interactive backend choice."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg", force=True)
        except Exception:  # pragma: no cover - backend already fixed by an interactive session
            pass
    import matplotlib.pyplot as plt

    return plt


def ffmpeg_path() -> Optional[str]:
    """An ``ffmpeg`` executable: the one of the ``imageio-ffmpeg`` package (``pip install posediff[video]``, a
    binary inside a wheel) when installed, else one on ``PATH``; None when there is none."""
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        if exe and os.path.isfile(exe):
            return exe
    except Exception:  # not installed, or its binary is missing on this platform
        pass
    return shutil.which("ffmpeg")


def ffmpeg_available() -> bool:
    """Whether MP4 files can be written (:func:`ffmpeg_path` finds an ``ffmpeg``)."""
    return ffmpeg_path() is not None


def bone_colors(skeleton: str | Skeleton = "h36m-17") -> list[tuple[int, int, str]]:
    """``(parent, child, colour)`` of every bone: left blue, right red, centre grey.

    A bone takes the side of its child joint.
    """
    sk = get_skeleton(skeleton)
    left, right = set(sk.left), set(sk.right)
    out = []
    for p, c in sk.bones():
        colour = LEFT_COLOR if c in left else RIGHT_COLOR if c in right else CENTER_COLOR
        out.append((p, c, colour))
    return out


# ----------------------------------------------------------------------------------- input checks
def _as_people(name: str, x: Any, dim: int, joints: int) -> np.ndarray:
    """``(T, J, D)`` or ``(C, T, J, D)`` → ``(C, T, J, D)`` float64."""
    if x is None:
        return None
    try:
        arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{name} must be an array of numbers; got {type(x).__name__}") from exc
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] < dim or arr.shape[-2] != joints:
        raise InputError(
            f"{name} must have shape (T, J={joints}, {dim}) or (C, T, J={joints}, {dim}); got {tuple(arr.shape)}"
        )
    return arr[..., :dim]


def _as_mask(mask: Any, people: int, frames: int) -> np.ndarray:
    if mask is None:
        return np.ones((people, frames), dtype=bool)
    m = np.asarray(mask, dtype=bool)
    if m.ndim == 1:
        m = m[None]
    if m.shape != (people, frames):
        raise InputError(f"mask must have shape ({frames},) or ({people}, {frames}); got {tuple(np.shape(mask))}")
    return m


def _frame_indices(frames: int, max_frames: int | None, indices: Sequence[int] | None = None) -> np.ndarray:
    if indices is not None:
        idx = np.asarray(list(indices), dtype=np.int64)
        if idx.size == 0 or idx.min() < -frames or idx.max() >= frames:
            raise InputError(f"frames must be indices in [0, {frames - 1}]; got {list(indices)}")
        return idx % frames
    if max_frames is not None and max_frames < 1:
        raise InputError(f"max_frames must be >= 1; got {max_frames}")
    if max_frames is None or frames <= max_frames:
        return np.arange(frames)
    return np.unique(np.round(np.linspace(0, frames - 1, max_frames)).astype(np.int64))


def _to_display(p: np.ndarray) -> np.ndarray:
    """Camera-space (x right, y down, z forward) → plot axes (x, depth, up)."""
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


def _offsets(people: int) -> np.ndarray:
    off = (np.arange(people) - (people - 1) / 2.0) * _PERSON_SPACING
    return np.stack([off, np.zeros(people), np.zeros(people)], -1)


def _setup_3d(ax, radius: float, centre: np.ndarray, title: str | None = None, elev: float = 15.0,
              azim: float = -70.0) -> None:
    ax.view_init(elev=elev, azim=azim)
    ax.set_xlim3d(centre[0] - radius, centre[0] + radius)
    ax.set_ylim3d(centre[1] - radius, centre[1] + radius)
    ax.set_zlim3d(centre[2] - radius, centre[2] + radius)
    try:
        ax.set_box_aspect((1, 1, 1))
    except Exception:  # pragma: no cover - old matplotlib
        pass
    ax.set_xticklabels([])
    ax.set_yticklabels([])
    ax.set_zticklabels([])
    ax.tick_params(length=0)
    if title:
        ax.set_title(title, fontsize=9)


def _setup_2d(ax, pts: np.ndarray, title: str | None = None) -> None:
    finite = pts[np.isfinite(pts).all(-1)]
    if finite.size:
        lo, hi = finite.min(0), finite.max(0)
    else:
        lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    centre = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2 * 1.15, 0.05)
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] + half, centre[1] - half)  # v points down
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def _extent(points: np.ndarray) -> tuple[float, np.ndarray]:
    finite = points[np.isfinite(points).all(-1)]
    if finite.size == 0:
        return 1.0, np.zeros(3)
    lo, hi = finite.min(0), finite.max(0)
    return max(float((hi - lo).max()) / 2 * 1.1, 0.5), (lo + hi) / 2


def _save_figure(fig, path: Path, dpi: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)


def _check_out(path: str | os.PathLike, allowed: tuple[str, ...]) -> Path:
    p = Path(path)
    if p.suffix.lower() not in allowed:
        raise InputError(f"output path must end in {' or '.join(allowed)}; got {str(p)!r}")
    return p


# ----------------------------------------------------------------------------------- animation
def render_animation(
    poses3d: Any,
    path: str | os.PathLike,
    *,
    x2d: Any = None,
    skeleton: str | Skeleton = "h36m-17",
    mask: Any = None,
    fps: float = 12.0,
    max_frames: int | None = None,
    size: float = 4.8,
    dpi: int = 100,
    title: str | None = None,
    azim: float = -70.0,
    elev: float = 15.0,
    blit: bool = True,
    video: str | os.PathLike | None = None,
) -> Path:
    """Animate 3D skeletons (with the 2D input beside them, drawn over the video when given) into a GIF or MP4.

    The figure's static parts (axes, panes, titles) are drawn once; each frame restores them and draws only
    the skeleton lines and the frame label, and goes to the encoder as soon as it is drawn (MP4: piped into
    ffmpeg; GIF: palette frames). ``benchmarks/render_speed.py`` measures it against redrawing the whole
    figure for every frame (``blit=False``, matplotlib's ``FuncAnimation.save``).

    Args:
        poses3d: ``(T, J, 3)`` or, for several people, ``(C, T, J, 3)`` camera-space metres
            (root-relative poses of different people are drawn side by side).
        path: Output file, ``.gif`` (Pillow, always available) or ``.mp4`` (needs ffmpeg; without it a
            ``.gif`` is written next to it instead, with a warning).
        x2d: Optional ``(T, J, 2)`` / ``(C, T, J, 2)`` 2D input in normalised screen coordinates, drawn
            in a panel on the left.
        skeleton: Joint set (bones and left/right colours).
        mask: Optional ``(T,)`` / ``(C, T)`` presence; absent people are not drawn in that frame.
        fps: Playback frames per second: give the input's frame rate (video, data set) so that the animation
            lasts as long as the input (``posediff lift`` and ``posediff render`` do).
        max_frames: At most this many frames, evenly spaced over the sequence (default ``None``: every frame).
        size: Panel size in inches (default 4.8: 480 px per panel at the default 100 dpi).
        dpi: Resolution (dots per inch).
        title: Figure title.
        azim, elev: 3D view angles in degrees.
        blit: Draw only what moves (default); ``False`` redraws the whole figure for every frame (slower, the
            same pictures up to anti-aliasing at line ends).
        video: The video the 2D keypoints came from (needs ``x2d``, one frame per pose frame): the left panel
            shows each video frame with the 2D skeleton drawn on it. The frames are decoded one at a time.

    Returns:
        The path actually written. Its frames are ``size·dpi`` pixels high and ``size·dpi`` wide per panel
        (two panels with ``x2d``), rounded down to even numbers.
    """
    from matplotlib import animation

    sk = get_skeleton(skeleton)
    out = _check_out(path, (".gif", ".mp4"))
    p3 = _as_people("poses3d", poses3d, 3, sk.num_joints)
    people, frames = p3.shape[:2]
    p2 = _as_people("x2d", x2d, 2, sk.num_joints)
    if p2 is not None and p2.shape[:2] != (people, frames):
        raise InputError(f"x2d must match poses3d's people and frames {(people, frames)}; got {p2.shape[:2]}")
    m = _as_mask(mask, people, frames)
    if fps <= 0:
        raise InputError(f"fps must be > 0; got {fps}")
    idx = _frame_indices(frames, max_frames)
    ffmpeg = ffmpeg_path() if out.suffix.lower() == ".mp4" else None
    if out.suffix.lower() == ".mp4" and ffmpeg is None:
        warnings.warn(f"ffmpeg not found (pip install 'posediff[video]' installs one): writing "
                      f"{out.with_suffix('.gif').name} instead of {out.name}", stacklevel=2)
        out = out.with_suffix(".gif")

    backdrop = None
    if video is not None:
        if p2 is None:
            raise InputError("video= draws the 2D skeleton over the video: x2d is needed too")
        backdrop = _VideoBackdrop(video, frames)

    disp = _to_display(p3) + _offsets(people)[:, None, None, :]
    radius, centre = _extent(disp[m] if m.any() else disp.reshape(-1, sk.num_joints, 3))
    bones = bone_colors(sk)

    plt = _plt()
    ncols = 2 if p2 is not None else 1
    # whole, even pixel sizes: H.264 needs even width and height
    w_px, h_px = 2 * int(size * ncols * dpi / 2), 2 * int(size * dpi / 2)
    fig = plt.figure(figsize=(w_px / dpi, h_px / dpi), dpi=dpi)
    ax2 = None
    image = None
    if p2 is not None:
        ax2 = fig.add_subplot(1, ncols, 1)
        if backdrop is not None:
            image = backdrop.setup(ax2, int(idx[0]))
        else:
            _setup_2d(ax2, p2[m] if m.any() else p2.reshape(-1, 2), "2D input")
    ax3 = fig.add_subplot(1, ncols, ncols, projection="3d")
    _setup_3d(ax3, radius, centre, "3D", elev=elev, azim=azim)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()

    lines3 = [[ax3.plot([], [], [], color=c, lw=2)[0] for _, _, c in bones] for _ in range(people)]
    lines2 = [[ax2.plot([], [], color=c, lw=1.5)[0] for _, _, c in bones] for _ in range(people)] if ax2 else None
    label = fig.text(0.01, 0.01, "", fontsize=7)

    def update(k: int):
        f = int(idx[k])
        for c in range(people):
            present = bool(m[c, f])
            for b, (pa, ch, _) in enumerate(bones):
                line = lines3[c][b]
                if present:
                    seg = disp[c, f, [pa, ch]]
                    line.set_data_3d(seg[:, 0], seg[:, 1], seg[:, 2])
                else:
                    line.set_data_3d([], [], [])
                if lines2 is not None:
                    l2 = lines2[c][b]
                    if present:
                        seg2 = p2[c, f, [pa, ch]]
                        l2.set_data(seg2[:, 0], seg2[:, 1])
                    else:
                        l2.set_data([], [])
        if image is not None:
            image.set_data(backdrop.frame(f))
        label.set_text(f"frame {f}")
        return []

    out.parent.mkdir(parents=True, exist_ok=True)
    if blit:
        moving = [ln for per in lines3 for ln in per] + ([ln for per in lines2 for ln in per] if lines2 else [])
        moving.append(label)
        if image is not None:
            moving.insert(0, image)  # the video frame first: the skeleton lines are drawn over it
        try:
            frames_iter = _blitted_frames(fig, moving, update, len(idx))
            if out.suffix.lower() == ".mp4":
                _write_mp4(out, frames_iter, fps, ffmpeg)
            else:
                _write_gif(out, frames_iter, fps)
        finally:
            plt.close(fig)
            if backdrop is not None:
                backdrop.close()
        return out
    anim = animation.FuncAnimation(fig, update, frames=len(idx), interval=1000.0 / fps, blit=False)
    try:
        if out.suffix.lower() == ".mp4":
            import matplotlib

            matplotlib.rcParams["animation.ffmpeg_path"] = ffmpeg
            # H.264 in yuv420p plays everywhere; it needs even frame sizes (the figure is sized for that)
            writer = animation.FFMpegWriter(fps=fps, codec="libx264", extra_args=["-pix_fmt", "yuv420p"])
        else:
            writer = animation.PillowWriter(fps=fps)
        anim.save(str(out), writer=writer, dpi=dpi)
    finally:
        plt.close(fig)
        if backdrop is not None:
            backdrop.close()
    return out


class _VideoBackdrop:
    """The frames of a video, read forward as an animation asks for them (one frame decoded at a time).

    Normalised screen coordinates put the image at x ∈ [−1, 1], y ∈ [−h/w, h/w] (y down), so the 2D
    skeleton in those coordinates lands on the person without any conversion.
    """

    def __init__(self, path: str | os.PathLike, frames: int) -> None:
        from .video.decode import iter_frames, probe_video

        self.info = probe_video(path)
        self.path = path
        self.frames = frames
        self._iter = iter_frames(path)
        self._index = -1
        self._current: Optional[np.ndarray] = None

    def frame(self, f: int) -> np.ndarray:
        """Frame ``f`` (``f`` never decreases between calls)."""
        if f < self._index:
            raise InputError(f"video frames are read forward only; asked for frame {f} after {self._index}")
        while self._index < f:
            try:
                self._current = next(self._iter)
            except StopIteration:
                raise InputError(f"the video {str(self.path)!r} has {self._index + 1} frame(s), fewer than the "
                                 f"{self.frames} pose frames to draw over it") from None
            self._index += 1
        return self._current

    def close(self) -> None:
        """Stop decoding (ffmpeg is stopped and its pipes closed)."""
        self._iter.close()

    def setup(self, ax, first: int) -> Any:
        """Set the panel to the video's extent and return its image artist showing frame ``first``."""
        w, h = self.info.size
        extent = (-1.0, 1.0, h / w, -h / w)
        image = ax.imshow(self.frame(first), extent=extent, interpolation="bilinear")
        ax.set_xlim(-1.0, 1.0)
        ax.set_ylim(h / w, -h / w)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("video and 2D keypoints", fontsize=9)
        return image


def _blitted_frames(fig, moving: list, update: Callable[[int], Any], count: int) -> Iterator[np.ndarray]:
    """RGB frames ``(H, W, 3)`` uint8 of an animation whose only changing parts are ``moving``.

    The figure is drawn once without them (they are marked animated), that picture is kept, and each frame
    restores it and draws just the moving artists (the 3D projection matrix of the first draw still holds:
    the view never changes).
    """
    canvas = fig.canvas
    for artist in moving:
        artist.set_animated(True)
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    for k in range(count):
        update(k)
        canvas.restore_region(background)
        for artist in moving:
            fig.draw_artist(artist)
        yield np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _write_mp4(out: Path, frames: Iterator[np.ndarray], fps: float, ffmpeg: str) -> None:
    """Pipe RGB frames into ffmpeg as they are drawn (H.264, yuv420p: plays everywhere)."""
    import subprocess

    proc = None
    try:
        for frame in frames:
            if proc is None:
                h, w = frame.shape[:2]
                proc = subprocess.Popen(
                    [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                     "-r", f"{fps:g}", "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)],
                    stdin=subprocess.PIPE, stderr=subprocess.PIPE)
            proc.stdin.write(frame.tobytes())
    finally:
        if proc is not None:
            proc.stdin.close()
            err = proc.stderr.read().decode(errors="replace")
            proc.stderr.close()
            if proc.wait() != 0:
                raise RuntimeError(f"ffmpeg could not write {out}: {err.strip()[-500:]}")


def _write_gif(out: Path, frames: Iterator[np.ndarray], fps: float) -> None:
    """Encode frames into a looping GIF; each frame becomes a palette image as soon as it is drawn.

    One 64-colour palette, made from the first frame (background, axes and every bone colour are in it),
    serves every frame: mapping to a given palette is about 20x faster than an adaptive palette per frame,
    and the figure's colours do not change."""
    from PIL import Image

    images: list = []
    for f in frames:
        img = Image.fromarray(f)
        if not images:
            images.append(img.convert("P", palette=Image.Palette.ADAPTIVE, colors=64))
        else:
            images.append(img.quantize(palette=images[0], dither=Image.Dither.NONE))
    if not images:
        raise InputError("no frame to write")
    images[0].save(out, save_all=True, append_images=images[1:], duration=max(1, int(round(1000.0 / fps))),
                   loop=0, optimize=False)


# ----------------------------------------------------------------------------------- static views
def render_frames(
    poses3d: Any,
    path: str | os.PathLike,
    *,
    x2d: Any = None,
    skeleton: str | Skeleton = "h36m-17",
    mask: Any = None,
    frames: Sequence[int] | None = None,
    num_frames: int = 6,
    cols: int | None = None,
    reference: Any = None,
    size: float = 2.2,
    dpi: int = 80,
    title: str | None = None,
) -> Path:
    """A static grid of frames (PNG): per column the 2D input (if given) above the 3D pose.

    Args:
        poses3d: ``(T, J, 3)`` or ``(C, T, J, 3)`` metres.
        path: Output ``.png`` (or ``.jpg`` / ``.pdf`` / ``.svg``).
        x2d: Optional ``(T, J, 2)`` / ``(C, T, J, 2)`` normalised 2D input.
        skeleton: Joint set.
        mask: Optional presence ``(T,)`` / ``(C, T)``.
        frames: Frame indices to show; default ``num_frames`` evenly spaced frames.
        num_frames: Number of frames when ``frames`` is not given.
        cols: Columns of the grid (default: all frames in one row, at most 6 per row).
        reference: Optional ground truth ``(T, J, 3)`` / ``(C, T, J, 3)``, drawn as thin black lines.
        size: Panel size in inches.
        dpi: Resolution.
        title: Figure title.

    Returns:
        The path written.
    """
    sk = get_skeleton(skeleton)
    out = _check_out(path, (".png", ".jpg", ".jpeg", ".pdf", ".svg"))
    p3 = _as_people("poses3d", poses3d, 3, sk.num_joints)
    people, T = p3.shape[:2]
    p2 = _as_people("x2d", x2d, 2, sk.num_joints)
    ref = _as_people("reference", reference, 3, sk.num_joints)
    for name, arr in (("x2d", p2), ("reference", ref)):
        if arr is not None and arr.shape[:2] != (people, T):
            raise InputError(f"{name} must match poses3d's people and frames {(people, T)}; got {arr.shape[:2]}")
    m = _as_mask(mask, people, T)
    idx = _frame_indices(T, max(1, int(num_frames)), frames)
    n = len(idx)
    cols = int(cols) if cols else min(n, 6)
    if cols < 1:
        raise InputError(f"cols must be >= 1; got {cols}")
    rows_per = 2 if p2 is not None else 1
    grid_rows = -(-n // cols)
    disp = _to_display(p3) + _offsets(people)[:, None, None, :]
    rdisp = None if ref is None else _to_display(ref) + _offsets(people)[:, None, None, :]
    shown = disp[m] if m.any() else disp.reshape(-1, sk.num_joints, 3)
    if rdisp is not None:
        shown = np.concatenate([shown, rdisp[m] if m.any() else rdisp.reshape(-1, sk.num_joints, 3)], 0)
    radius, centre = _extent(shown)
    bones = bone_colors(sk)

    plt = _plt()
    fig = plt.figure(figsize=(size * cols, size * rows_per * grid_rows))
    for k, f in enumerate(idx):
        r, c = divmod(k, cols)
        if p2 is not None:
            ax2 = fig.add_subplot(grid_rows * rows_per, cols, (r * rows_per) * cols + c + 1)
            _setup_2d(ax2, p2[:, f][m[:, f]] if m[:, f].any() else p2[:, f], f"frame {int(f)}")
            for person in range(people):
                if m[person, f]:
                    for pa, ch, col in bones:
                        seg = p2[person, f, [pa, ch]]
                        ax2.plot(seg[:, 0], seg[:, 1], color=col, lw=1.5)
        ax3 = fig.add_subplot(grid_rows * rows_per, cols, (r * rows_per + rows_per - 1) * cols + c + 1,
                              projection="3d")
        _setup_3d(ax3, radius, centre, None if p2 is not None else f"frame {int(f)}")
        for person in range(people):
            if not m[person, f]:
                continue
            for pa, ch, col in bones:
                seg = disp[person, f, [pa, ch]]
                ax3.plot(seg[:, 0], seg[:, 1], seg[:, 2], color=col, lw=2)
                if rdisp is not None:
                    rs = rdisp[person, f, [pa, ch]]
                    ax3.plot(rs[:, 0], rs[:, 1], rs[:, 2], color="black", lw=0.8, alpha=0.6)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        _save_figure(fig, out, dpi)
    finally:
        plt.close(fig)
    return out


def render_hypotheses(
    hypotheses: Any,
    path: str | os.PathLike,
    *,
    aggregated: Any = None,
    frame: int | None = None,
    x2d: Any = None,
    skeleton: str | Skeleton = "h36m-17",
    size: float = 3.2,
    dpi: int = 80,
    title: str | None = None,
) -> Path:
    """The hypothesis spread of one frame: all ``H`` hypotheses faint, the aggregated pose bold.

    Args:
        hypotheses: ``(H, J, 3)`` for one frame or ``(H, T, J, 3)`` (then ``frame`` picks one; default
            the middle frame), metres.
        path: Output ``.png`` (or ``.jpg`` / ``.pdf`` / ``.svg``).
        aggregated: The aggregated pose ``(J, 3)`` or ``(T, J, 3)``; default the mean of the hypotheses.
        frame: Frame index when sequences are given.
        x2d: Optional 2D input ``(J, 2)`` or ``(T, J, 2)``, drawn in a panel on the left.
        skeleton: Joint set.
        size: Panel size in inches.
        dpi: Resolution.
        title: Figure title (default: ``"H hypotheses, frame f"``).

    Returns:
        The path written.
    """
    sk = get_skeleton(skeleton)
    out = _check_out(path, (".png", ".jpg", ".jpeg", ".pdf", ".svg"))
    hyp = np.asarray(hypotheses.detach().cpu().numpy() if hasattr(hypotheses, "detach") else hypotheses,
                     dtype=np.float64)
    if hyp.ndim == 3:
        hyp = hyp[:, None]
    if hyp.ndim != 4 or hyp.shape[-2:] != (sk.num_joints, 3):
        raise InputError(
            f"hypotheses must have shape (H, J={sk.num_joints}, 3) or (H, T, J={sk.num_joints}, 3); "
            f"got {tuple(hyp.shape)}"
        )
    H, T = hyp.shape[:2]
    f = T // 2 if frame is None else int(frame)
    if not -T <= f < T:
        raise InputError(f"frame must be in [0, {T - 1}]; got {frame}")
    f %= T
    hyp_f = hyp[:, f]
    if aggregated is None:
        agg = hyp_f.mean(0)
    else:
        agg = np.asarray(aggregated.detach().cpu().numpy() if hasattr(aggregated, "detach") else aggregated,
                         dtype=np.float64)
        if agg.ndim == 3:
            agg = agg[f]
        if agg.shape != (sk.num_joints, 3):
            raise InputError(f"aggregated must have shape (J={sk.num_joints}, 3) or (T, J, 3); got {agg.shape}")
    p2 = None
    if x2d is not None:
        p2 = np.asarray(x2d.detach().cpu().numpy() if hasattr(x2d, "detach") else x2d, dtype=np.float64)
        if p2.ndim == 3:
            p2 = p2[f]
        if p2.shape != (sk.num_joints, 2):
            raise InputError(f"x2d must have shape (J={sk.num_joints}, 2) or (T, J, 2); got {p2.shape}")
    dh, da = _to_display(hyp_f), _to_display(agg)
    radius, centre = _extent(np.concatenate([dh.reshape(-1, 3), da], 0)[None])
    bones = bone_colors(sk)
    plt = _plt()
    ncols = 2 if p2 is not None else 1
    fig = plt.figure(figsize=(size * ncols, size))
    if p2 is not None:
        ax2 = fig.add_subplot(1, ncols, 1)
        _setup_2d(ax2, p2, "2D input")
        for pa, ch, col in bones:
            ax2.plot(p2[[pa, ch], 0], p2[[pa, ch], 1], color=col, lw=1.5)
    ax3 = fig.add_subplot(1, ncols, ncols, projection="3d")
    _setup_3d(ax3, radius, centre, title or f"{H} hypotheses, frame {f}")
    alpha = float(np.clip(2.5 / max(H, 1), 0.08, 0.5))
    for h in range(H):
        for pa, ch, col in bones:
            seg = dh[h, [pa, ch]]
            ax3.plot(seg[:, 0], seg[:, 1], seg[:, 2], color=col, lw=1, alpha=alpha)
    for pa, ch, col in bones:
        seg = da[[pa, ch]]
        ax3.plot(seg[:, 0], seg[:, 1], seg[:, 2], color=col, lw=3)
    fig.tight_layout()
    try:
        _save_figure(fig, out, dpi)
    finally:
        plt.close(fig)
    return out
