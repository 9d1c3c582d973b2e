"""Video in: decoding (:mod:`.decode`) and per-frame keypoint detection with tracking (:mod:`.detect`).

``posediff.lift("clip.mp4")`` and ``posediff lift clip.mp4`` run :func:`detect_video` and lift what it
finds; the overlay animation (video with the 2D skeleton beside the 3D view) is
:func:`posediff.viz.render_animation` with ``video=``.
"""
from __future__ import annotations

from .decode import VIDEO_SUFFIXES, VideoInfo, is_video_path, iter_frames, probe_video, read_frames
from .detect import VideoKeypoints, detect_video

__all__ = ["VIDEO_SUFFIXES", "VideoInfo", "VideoKeypoints", "detect_video", "is_video_path", "iter_frames",
           "probe_video", "read_frames"]
