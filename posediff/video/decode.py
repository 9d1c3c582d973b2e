"""Reading video files: what a file holds (frame rate, size, length) and its frames, one at a time.

Decoding goes through the ffmpeg binary of ``imageio-ffmpeg`` (``pip install 'posediff[video]'``), the
same one rendering uses. Every failure is an :class:`~posediff.errors.InputError` that names the file
and says what was expected: a missing file, a file that is not a video, a corrupt or empty one.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from ..errors import DependencyError, InputError

__all__ = ["VIDEO_SUFFIXES", "VideoInfo", "is_video_path", "probe_video", "iter_frames", "read_frames"]

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv",
                  ".3gp", ".ts")
"""File name endings that :func:`posediff.lift` and ``posediff lift`` treat as video."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds.

    Attributes:
        path: The file.
        fps: Frames per second (from the container).
        size: ``(w, h)`` pixels of the decoded frames (rotation metadata applied).
        frames: Number of frames, estimated from duration × fps (the decoder gives the exact count).
        duration: Seconds.
        codec: The video codec's name.
    """

    path: str
    fps: float
    size: tuple[int, int]
    frames: int
    duration: float
    codec: str

    def describe(self) -> str:
        """One line: size, frame rate, length."""
        w, h = self.size
        return f"{w}×{h} px, {self.fps:g} frames/s, {self.duration:.1f} s (about {self.frames} frames, {self.codec})"


def is_video_path(path: Any) -> bool:
    """Whether ``path`` (str or Path) ends like a video file (:data:`VIDEO_SUFFIXES`)."""
    return isinstance(path, (str, os.PathLike)) and Path(path).suffix.lower() in VIDEO_SUFFIXES


def _imageio_ffmpeg() -> Any:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise DependencyError("reading video needs imageio-ffmpeg (an ffmpeg binary in a wheel), which is not "
                              "installed; pip install 'posediff[video]'") from None
    return imageio_ffmpeg


def _check_file(path: Any) -> Path:
    p = Path(path)
    if not p.exists():
        raise InputError(f"video not found: {str(p)!r}")
    if not p.is_file():
        raise InputError(f"video must be a file; {str(p)!r} is a folder")
    if p.stat().st_size == 0:
        raise InputError(f"video {str(p)!r} is empty (0 bytes)")
    return p


def _open_and_close(p: Path) -> dict:
    """The metadata ffmpeg reports for ``p`` (ffmpeg is stopped before it decodes a frame)."""
    iio = _imageio_ffmpeg()
    reader = iio.read_frames(str(p), pix_fmt="rgb24")
    try:
        meta = next(reader)
    except (RuntimeError, OSError, StopIteration) as exc:
        reader.close()
        first = str(exc).strip().splitlines()
        why = first[-1] if first else type(exc).__name__
        raise InputError(f"{str(p)!r} is not a readable video (ffmpeg: {why[:300]}); expected a video file such "
                         f"as .mp4, .mov, .avi, .mkv or .webm") from None
    size = meta.get("size")
    if not size or not all(int(v) > 0 for v in size):
        reader.close()
        raise InputError(f"{str(p)!r} holds no video stream (ffmpeg found no frame size); expected a video file")
    reader.close()
    return meta


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Frame rate, size and length of a video file, without decoding its frames.

    Raises:
        InputError: the file is missing, empty, not a video or unreadable.
        DependencyError: imageio-ffmpeg is not installed.

    Example:
        >>> probe_video("no-such-file.mp4")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        posediff.errors.InputError: video not found: 'no-such-file.mp4'
    """
    p = _check_file(path)
    return _info(p, _open_and_close(p))


def _info(p: Path, meta: dict) -> VideoInfo:
    fps = float(meta.get("fps") or 0.0)
    if not fps > 0:
        raise InputError(f"{str(p)!r}: the video does not state a frame rate")
    duration = float(meta.get("duration") or 0.0)
    w, h = (int(v) for v in meta["size"])
    return VideoInfo(path=str(p), fps=fps, size=(w, h), frames=int(round(duration * fps)), duration=duration,
                     codec=str(meta.get("codec", "?")))


def iter_frames(path: str | os.PathLike, *, max_frames: Optional[int] = None) -> Iterator[np.ndarray]:
    """Decode a video one frame at a time: ``(H, W, 3)`` uint8 RGB arrays, in order.

    Only one frame is held in memory at a time (plus ffmpeg's pipe), so videos of any length can be read.
    ffmpeg runs as a child process (the binary of ``imageio-ffmpeg``) and is stopped when the iteration ends,
    also when it ends early.

    Args:
        path: The video file.
        max_frames: Stop after this many frames (default: all).

    Raises:
        InputError: missing, empty, not a video, or corrupt (a decoding error mid-file is reported with the
            number of frames read before it; a video that decodes to no frame at all is an error too).
        DependencyError: imageio-ffmpeg is not installed.
    """
    if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 1):
        raise InputError(f"max_frames must be an int >= 1; got {max_frames!r}")
    p = _check_file(path)
    info = _info(p, _open_and_close(p))
    w, h = info.size
    size = w * h * 3
    exe = _imageio_ffmpeg().get_ffmpeg_exe()
    cmd = [exe, "-nostdin", "-v", "error", "-i", str(p), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    count = 0
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        finished = False
        try:
            while max_frames is None or count < max_frames:
                raw = proc.stdout.read(size)
                if not raw:
                    finished = True
                    break
                if len(raw) != size:
                    raise InputError(f"{str(p)!r} is corrupt: frame {count} ends after {len(raw)} of {size} bytes")
                count += 1
                yield np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
        finally:
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
            code = proc.wait()
        if finished and code != 0:
            errors.seek(0)
            text = errors.read().decode(errors="replace").strip().splitlines()
            raise InputError(f"{str(p)!r} is corrupt: decoding failed after {count} frame(s) "
                             f"(ffmpeg: {text[-1][:300] if text else f'exit code {code}'})")
    if count == 0:
        raise InputError(f"{str(p)!r} decodes to no frame (an empty or corrupt video)")


def read_frames(path: str | os.PathLike, *, max_frames: Optional[int] = None) -> tuple[np.ndarray, VideoInfo]:
    """Every frame of a short video in one array ``(T, H, W, 3)`` uint8 RGB, and its :class:`VideoInfo`.

    For long videos prefer :func:`iter_frames` (one frame in memory at a time).
    """
    info = probe_video(path)
    frames = np.stack(list(iter_frames(path, max_frames=max_frames)))
    return frames, info
