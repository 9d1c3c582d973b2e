"""Streaming lifting: 2D frames in as they arrive, 3D out with a bounded latency.

:class:`StreamingLifter` keeps, per track, the last frames of 2D and lifts one window per new frame.
With a look-ahead of ``L`` frames the window ending at the newest frame ``n`` gives the pose of frame
``n − L``, read at position ``F − 1 − L`` of the ``F``-frame window: ``L = 0`` is causal (the newest frame
itself, no waiting), ``L = F // 2`` (the default) puts the output frame in the middle of its window, as
the model saw frames during training, and costs ``L`` frames of latency. The first frames of a track
are padded by repeating its first frame; :meth:`StreamingLifter.flush` (or :meth:`end_track`) emits the
last ``L`` frames from the window ending at the track's last frame.

Every :meth:`~StreamingLifter.push` lifts the windows of all tracks that received a frame in one sampler
call. Each output frame costs one window of ``H × M`` denoiser evaluations (twice that with flip), so the
cheap configurations of ``docs/performance.md`` are the ones to stream with: the default is ``"realtime"``
(H = 1, M = 1, flip, mean).

Example:
    >>> import numpy as np, torch, posediff
    >>> from posediff.streaming import StreamingLifter
    >>> lifter = posediff.build("finepose-tiny")
    >>> stream = StreamingLifter(lifter, lookahead=2, format="h36m-17", coords="normalized")
    >>> frames = np.zeros((5, 17, 2), np.float32)
    >>> out = []
    >>> for f in frames:
    ...     out += stream.push(f)          # frame n gives frame n - 2 (once n >= 2)
    >>> [o.frame for o in out]
    [0, 1, 2]
    >>> [o.frame for o in stream.flush()]
    [3, 4]
    >>> out[0].pose.shape                   # (J, 3) metres, root-relative
    (17, 3)
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Hashable, Mapping, Optional

import numpy as np
import torch

from .errors import InputError

__all__ = ["StreamingLifter", "StreamFrame"]


@dataclass(frozen=True)
class StreamFrame:
    """One lifted frame of one track.

    Attributes:
        track: The track id given to :meth:`StreamingLifter.push` (``0`` for a single array).
        frame: Index of the frame within its track (0 = the track's first pushed frame).
        pose: ``(J, 3)`` float32 metres, root-relative (root joint 0), in the model's skeleton.
        emitted_after: Index of the newest frame of the track when this pose was produced; ``emitted_after −
            frame`` is the latency in frames (the look-ahead, or less at the end of a track).
    """

    track: Hashable
    frame: int
    pose: np.ndarray
    emitted_after: int


class _TrackState:
    """The recent frames of one track (model skeleton, normalised 2D) and its counters."""

    def __init__(self, frames: int) -> None:
        self.buffer: deque[np.ndarray] = deque(maxlen=frames)
        self.first: Optional[np.ndarray] = None
        self.last_seen: Optional[np.ndarray] = None  # per joint, the last observed position (J, 2)
        self.count = 0     # frames pushed
        self.emitted = 0   # frames emitted


class StreamingLifter:
    """Lift 2D keypoints frame by frame, for one or several tracks, with ``lookahead`` frames of latency.

    Args:
        lifter: A built :class:`~posediff.lifter.PoseLifter` (e.g. ``posediff.load("h36m-streaming")``, the
            9-frame model: look-ahead 4 frames by default, 133 ms at 30 fps; the 81-frame ``"h36m"`` waits 40
            frames, 1.33 s), or a shipped model name / checkpoint path (loaded with :func:`posediff.load`).
        lookahead: Future frames each output waits for, ``0 ≤ L < F`` (default ``F // 2``).
        sampling: A named sampling configuration (:mod:`posediff.inference.sampling_configs`), default
            ``"realtime"`` (H = 1, M = 1, flip, mean: two denoiser evaluations per frame).
        hypotheses, steps, flip, aggregator: Override the configuration's values. An aggregator that needs
            a camera (``"jpma"``) needs ``camera``; with ``sampling="model"`` the model's own aggregator is
            used (the mean, with a warning, without camera).
        camera: Intrinsics for the aggregator (see :func:`posediff.inference.camera.parse_camera`).
        format: Joint layout of the pushed keypoints (``"coco-17"``, ``"h36m-17"``, ``"openpose-25"``,
            ``"mediapipe-33"``, …). Required: a stream cannot look at its data to guess.
        image_size: ``(w, h)`` pixels, for pixel coordinates.
        coords: ``"pixels"`` (default when ``image_size`` is given), ``"unit"`` or ``"normalized"``.
        threshold: Joints with confidence below this (third channel) are missing; a missing joint keeps its
            last observed position (its track's centre until it is first seen).
        action: Action label for the prompt (``None``: the neutral prompt).
        seed: Seed of the sampling noise.

    Raises:
        InputError: bad look-ahead, H or M, unknown format, pixels without ``image_size``, an aggregator
            that needs a camera without one.
    """

    def __init__(self, lifter: Any, *, lookahead: Optional[int] = None, sampling: str = "realtime",
                 hypotheses: Optional[int] = None, steps: Optional[int] = None, flip: Optional[bool] = None,
                 aggregator: Any = None, camera: Any = None, format: Optional[str] = None,
                 image_size: Optional[tuple[int, int]] = None, coords: Optional[str] = None,
                 threshold: float = 0.3, action: Optional[str] = None, seed: int = 0) -> None:
        from .data.formats import get_format
        from .inference.camera import parse_camera
        from .inference.lifting import resolve_aggregator

        if isinstance(lifter, (str, bytes)) or hasattr(lifter, "__fspath__"):
            from .loading import load

            lifter = load(lifter)
        if not hasattr(lifter, "sample") or not hasattr(lifter, "frames"):
            raise InputError(f"lifter must be a PoseLifter, a shipped model name or a checkpoint path; got "
                             f"{type(lifter).__name__}")
        self.lifter = lifter.eval()
        self.frames = int(lifter.frames)
        self.lookahead = self.frames // 2 if lookahead is None else lookahead
        if isinstance(self.lookahead, bool) or not isinstance(self.lookahead, int) or not \
                0 <= self.lookahead < self.frames:
            raise InputError(f"lookahead must be an int in [0, {self.frames - 1}] for this model's "
                             f"{self.frames}-frame window; got {lookahead!r}")
        from .inference.sampling_configs import resolve_sampling

        config = resolve_sampling(sampling, hypotheses=hypotheses, steps=steps, flip=flip, aggregator=aggregator)
        if format is None:
            raise InputError("format must be given (e.g. 'coco-17', 'h36m-17'): a stream cannot guess its joint "
                             "layout from the data")
        self._format = get_format(format)
        self.format = self._format.name
        if coords is None:
            coords = "pixels" if image_size is not None else "normalized"
        if coords not in ("pixels", "unit", "normalized"):
            raise InputError(f"coords must be 'pixels', 'unit' or 'normalized'; got {coords!r}")
        if coords != "normalized" and image_size is None:
            raise InputError(f"coords={coords!r} needs image_size=(w, h) in pixels")
        self.coords, self.image_size = coords, None if image_size is None else tuple(image_size)
        self.threshold = float(threshold)
        self.sampling, self.hypotheses, self.steps = config.name, config.hypotheses, config.steps
        self.flip = config.flip
        cam = parse_camera(camera, self.image_size, "auto")
        notes: list[str] = []
        self.aggregator, self.aggregator_name = resolve_aggregator(lifter, config.aggregator, cam is not None,
                                                                    notes)
        self.camera = None if cam is None else torch.as_tensor(cam, dtype=torch.float32, device=lifter.device)
        self.action = action
        self.generator = torch.Generator().manual_seed(int(seed))
        self.tracks: dict[Hashable, _TrackState] = {}

    # ------------------------------------------------------------------------------------------ input
    def _convert(self, keypoints: Any) -> tuple[np.ndarray, np.ndarray]:
        """One frame ``(J, 2|3)`` of ``format`` → model-skeleton normalised ``(J', 2)`` and observed mask."""
        from .data.formats import to_h36m
        from .geometry.skeletons import convert_joints
        from .inference.inputs import normalise_xy

        arr = np.asarray(keypoints.detach().cpu().numpy() if isinstance(keypoints, torch.Tensor) else keypoints,
                         dtype=np.float64)
        fmt = self._format
        if arr.ndim != 2 or arr.shape[0] != fmt.num_joints or arr.shape[1] not in (2, 3):
            raise InputError(f"a frame must have shape ({fmt.num_joints}, 2 or 3) for format {fmt.name!r}; got "
                             f"{tuple(arr.shape)}")
        xy, _conf, obs = to_h36m(arr[None], fmt.name, self.threshold)
        xy = normalise_xy(xy, self.image_size, self.coords)[0]
        obs = obs[0]
        sk = self.lifter.skeleton.name
        if sk != "h36m-17":
            xy = convert_joints(np.nan_to_num(xy), "h36m-17", sk)
            obs = convert_joints(obs[:, None].astype(np.float64), "h36m-17", sk)[:, 0] > 0.5
        return np.asarray(xy, dtype=np.float32), np.asarray(obs, dtype=bool)

    def _fill(self, st: _TrackState, xy: np.ndarray, obs: np.ndarray) -> np.ndarray:
        """Missing joints at their last observed position (the observed centre before that)."""
        if obs.all():
            st.last_seen = xy.copy()
            return xy
        out = xy.copy()
        if st.last_seen is None:
            centre = xy[obs].mean(0) if obs.any() else np.zeros(2, np.float32)
            st.last_seen = np.broadcast_to(centre, xy.shape).astype(np.float32).copy()
        out[~obs] = st.last_seen[~obs]
        st.last_seen[obs] = xy[obs]
        return out

    # ------------------------------------------------------------------------------------------ API
    def push(self, keypoints: Any) -> list[StreamFrame]:
        """Add the next frame of one track (an array ``(J, 2|3)``: track ``0``) or of several tracks (a mapping
        ``{track_id: (J, 2|3) array}``; a track missing from the mapping does not advance).

        Returns:
            The frames that became ready, one per track at most (none while a track's first ``lookahead``
            frames are buffered).
        """
        items = keypoints.items() if isinstance(keypoints, Mapping) else [(0, keypoints)]
        ready: list[tuple[Hashable, _TrackState, int, np.ndarray]] = []
        for tid, kp in items:
            if kp is None:
                continue
            st = self.tracks.get(tid)
            if st is None:
                st = self.tracks[tid] = _TrackState(self.frames)
            xy, obs = self._convert(kp)
            if not obs.any() and st.last_seen is None:
                raise InputError(f"track {tid!r}: its first frame has no joint above the confidence threshold "
                                 f"{self.threshold}; push it once the person is seen")
            xy = self._fill(st, xy, obs)
            if st.first is None:
                st.first = xy
            st.buffer.append(xy)
            st.count += 1
            t = st.count - 1 - self.lookahead
            if t >= 0:
                ready.append((tid, st, t, self._window(st, end=st.count - 1)))
        return self._lift(ready)

    def end_track(self, track: Hashable = 0) -> list[StreamFrame]:
        """Emit the remaining (look-ahead) frames of ``track`` and forget it."""
        st = self.tracks.pop(track, None)
        if st is None:
            raise InputError(f"unknown track {track!r}; open tracks: {list(self.tracks)}")
        return self._drain(track, st)

    def flush(self) -> list[StreamFrame]:
        """Emit the remaining frames of every track and forget them all (the end of the stream)."""
        out: list[StreamFrame] = []
        for tid in list(self.tracks):
            out += self._drain(tid, self.tracks.pop(tid))
        return out

    def warm_up(self) -> "StreamingLifter":
        """Run one dummy window so the first real frame does not pay the one-off costs (the reduced-precision
        copy of the denoiser, the prompt cache, allocator growth). Draws no noise from the stream's generator
        and changes no track. Returns ``self``."""
        keep = self.generator
        self.generator = torch.Generator().manual_seed(0)
        try:
            zeros = np.zeros((1, self.frames, self.lifter.skeleton.num_joints, 2), np.float32)
            self._lift_windows(zeros)
        finally:
            self.generator = keep
        return self

    # ------------------------------------------------------------------------------------------ internals
    def _window(self, st: _TrackState, end: int) -> np.ndarray:
        """The ``F`` frames ending at frame ``end`` (the newest buffered), the first frame repeated before it."""
        have = list(st.buffer)
        pad = self.frames - len(have)
        if pad > 0:
            have = [st.first] * pad + have
        return np.stack(have[-self.frames:])

    def _drain(self, tid: Hashable, st: _TrackState) -> list[StreamFrame]:
        """The frames after the last emitted one, read from the window ending at the last frame."""
        if st.emitted >= st.count:
            return []
        win = self._window(st, end=st.count - 1)
        todo = list(range(st.emitted, st.count))
        # positions of those frames in the window ending at frame count - 1
        pos = [self.frames - (st.count - t) for t in todo]
        poses = self._lift_windows(win[None])[0]
        st.emitted = st.count
        return [StreamFrame(tid, t, poses[max(p, 0)], st.count - 1) for t, p in zip(todo, pos)]

    def _lift(self, ready: list[tuple[Hashable, _TrackState, int, np.ndarray]]) -> list[StreamFrame]:
        if not ready:
            return []
        poses = self._lift_windows(np.stack([r[3] for r in ready]))
        at = self.frames - 1 - self.lookahead
        out = []
        for (tid, st, t, _), p in zip(ready, poses):
            st.emitted = t + 1
            out.append(StreamFrame(tid, t, p[at], st.count - 1))
        return out

    def _lift_windows(self, windows: np.ndarray) -> np.ndarray:
        """``(K, F, J, 2)`` windows → ``(K, F, J, 3)`` float32 aggregated poses, root joint 0."""
        from .inference.lifting import sample_windows

        model = self.lifter
        x = torch.from_numpy(windows).to(model.device)
        out, _ = sample_windows(model, x, self.aggregator,
                                actions=None if self.action is None else [self.action] * x.shape[0],
                                generator=self.generator, hypotheses=self.hypotheses, steps=self.steps,
                                flip=self.flip, camera=self.camera)
        return out.cpu().numpy()
