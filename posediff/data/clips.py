"""Fixed-length clips: the official training grid (reference §1.6) and test windows (reference §1.7).

Training: each sequence of T frames is cut into ``n = ceil(T / F)`` non-overlapping chunks on a grid centred
on the sequence (``offset = floor((n·F − T) / 2)``, chunk ``i`` covers ``[i·F − offset, (i+1)·F − offset)``);
frames outside the sequence are filled by edge replication. With flip augmentation every chunk appears
twice per epoch (unflipped and mirrored). The epoch order is a ``numpy.random.RandomState(seed)``
permutation, drawn once per epoch from one stream exactly like the official generator, so an epoch's order
is a pure function of ``(seed, epoch)`` and training can resume from ``(epoch, position)``.

Testing: :func:`test_windows` covers a sequence with windows of F frames; the last window is the last F
frames. By default per-frame weights make every frame count exactly once; ``official_overlap=True``
reproduces the official double counting of the overlap. :func:`stitch_windows` puts window predictions back
into one ``(T, J, 3)`` sequence.

Size: the training grid, its epoch order and the test windows share the same index arithmetic (and the exact-
resume contract); they stay together so the arithmetic is written once.

"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence as Seq

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import Sampler

from ..errors import InputError
from ..geometry.skeletons import get_skeleton
from .sample import Dataset, Sequence

__all__ = [
    "chunk_grid",
    "edge_slice",
    "training_pairs",
    "TrainingClips",
    "ClipSampler",
    "epoch_permutation",
    "TestWindows",
    "test_windows",
    "cut_windows",
    "stitch_windows",
    "sequence_windows",
]


def chunk_grid(length: int, frames: int, offset: int | None = None) -> tuple[np.ndarray, int]:
    """Start frames of the official training chunks of one sequence.

    Args:
        length: Sequence length T (≥ 1).
        frames: Chunk length F (≥ 1).
        offset: Grid offset; default the official centred ``floor((n·F − T) / 2)``. Any value in
            ``[0, n·F − T]`` still covers every frame.

    Returns:
        ``(starts (n,) int64, offset)`` with ``n = ceil(T / F)`` and ``starts[i] = i·F − offset``.
    """
    if length < 1 or frames < 1:
        raise InputError(f"length and frames must be >= 1; got length={length}, frames={frames}")
    n = -(-int(length) // int(frames))
    slack = n * frames - length
    if offset is None:
        offset = slack // 2
    elif not 0 <= offset <= slack:
        raise InputError(f"offset must be in [0, {slack}] for T={length}, F={frames}; got {offset}")
    return np.arange(n, dtype=np.int64) * frames - offset, int(offset)


def edge_slice(x: np.ndarray, start: int, end: int) -> np.ndarray:
    """Frames ``[start, end)`` of ``x (T, ...)``; frames outside ``[0, T)`` repeat the first/last frame."""
    T = x.shape[0]
    idx = np.clip(np.arange(start, end), 0, T - 1)
    return x[idx]


def training_pairs(lengths: Seq[int], frames: int, flip: bool = True,
                   offsets: Seq[int] | None = None) -> np.ndarray:
    """The official list of chunks ``(sequence, start, end, flipped)`` as an ``(N, 4)`` int64 array.

    Order as in the official generator: for each sequence its unflipped chunks, then (with ``flip``) the
    same chunks flipped.
    """
    rows = []
    for i, T in enumerate(lengths):
        starts, _ = chunk_grid(int(T), frames, None if offsets is None else int(offsets[i]))
        block = np.stack([np.full_like(starts, i), starts, starts + frames, np.zeros_like(starts)], 1)
        rows.append(block)
        if flip:
            fb = block.copy()
            fb[:, 3] = 1
            rows.append(fb)
    if not rows:
        return np.zeros((0, 4), dtype=np.int64)
    return np.concatenate(rows, 0)


def epoch_permutation(num_items: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of epoch ``epoch`` (0-based).

    As the official generator: one ``RandomState(seed)`` whose ``permutation`` is called once per epoch, so
    epoch ``e`` uses the ``(e+1)``-th permutation of that stream.
    """
    if epoch < 0:
        raise InputError(f"epoch must be >= 0; got {epoch}")
    rs = np.random.RandomState(seed)
    perm = None
    for _ in range(epoch + 1):
        perm = rs.permutation(num_items)
    return perm


class TrainingClips(TorchDataset):
    """Training clips of F frames on the official grid, with optional flip and random-offset augmentation.

    ``clips[i]`` is chunk ``i`` of the unshuffled official list (:func:`training_pairs`); use
    :class:`ClipSampler` (or :meth:`order`) for the shuffled epoch order.

    Each item is a dict:
        ``x2d`` ``(F, J, 2)`` float32 tensor, normalised screen coordinates;
        ``x3d`` ``(F, J, 3)`` float32 tensor, root-relative metres (zeros when the sequence has no 3D);
        ``root`` ``(F, 1, 3)`` float32 tensor (zeros when unknown);
        ``camera`` ``(9,)`` float32 tensor (zeros when unknown; ``cx`` and ``p1`` negated when flipped);
        ``valid`` ``(F,)`` bool tensor (the sequence's valid mask, edge-replicated);
        ``padded`` ``(F,)`` bool tensor, True for replicated frames outside the sequence;
        ``action`` raw action str, ``base_action`` str, ``subject`` str, ``sequence`` int, ``start`` int,
        ``flipped`` bool.

    Args:
        dataset: The sequences (all with the same skeleton).
        frames: Clip length F (official 243).
        flip: Flip augmentation (official True): every chunk twice per epoch.
        random_offset: Draw the grid offset of every sequence uniformly in ``[0, n·F − T]`` per epoch
            (seeded by ``(seed, epoch, sequence)``) instead of the official centred grid.
        seed: Seed of the random offsets (the shuffle seed belongs to :class:`ClipSampler`).
        require_3d: Raise if a sequence has no 3D.
    """

    def __init__(self, dataset: Dataset | Seq[Sequence], frames: int = 243, flip: bool = True,
                 random_offset: bool = False, seed: int = 1234, require_3d: bool = True) -> None:
        self.sequences: list[Sequence] = list(dataset)
        if not self.sequences:
            raise InputError("dataset must hold at least one sequence; got 0")
        if frames < 1:
            raise InputError(f"frames must be >= 1; got {frames}")
        skeletons = {s.skeleton for s in self.sequences}
        if len(skeletons) != 1:
            raise InputError(f"all sequences must share one skeleton; got {sorted(skeletons)}")
        if require_3d:
            no3d = [s.key for s in self.sequences if s.x3d is None]
            if no3d:
                raise InputError(f"dataset must hold 3D targets (x3d) for training; got sequences without x3d: {no3d[:5]}")
        self.frames = int(frames)
        self.flip = bool(flip)
        self.random_offset = bool(random_offset)
        self.seed = int(seed)
        self.skeleton = get_skeleton(skeletons.pop())
        self._perm = self.skeleton.flip_permutation
        self._lengths = [s.num_frames for s in self.sequences]
        self.epoch = 0
        self.pairs = self._make_pairs(0)

    def _offsets(self, epoch: int) -> list[int] | None:
        if not self.random_offset:
            return None
        # Official: the grid is fixed and centred, no temporal jitter (reference §1.6); opt-in augmentation.
        out = []
        for i, T in enumerate(self._lengths):
            n = -(-T // self.frames)
            slack = n * self.frames - T
            out.append(int(np.random.default_rng([self.seed, epoch, i]).integers(0, slack + 1)))
        return out

    def _make_pairs(self, epoch: int) -> np.ndarray:
        return training_pairs(self._lengths, self.frames, self.flip, self._offsets(epoch))

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (only matters with ``random_offset``); call before creating the loader iterator."""
        self.epoch = int(epoch)
        if self.random_offset:
            self.pairs = self._make_pairs(self.epoch)

    def order(self, epoch: int, seed: int = 1234) -> np.ndarray:
        """Shuffled item order of ``epoch`` (see :func:`epoch_permutation`)."""
        return epoch_permutation(len(self), seed, epoch)

    def __len__(self) -> int:
        return int(self.pairs.shape[0])

    def batches(self, epoch: int, batch_size: int = 4, start: int = 0, seed: int = 1234) -> Iterator[dict]:
        """Collated batches of one epoch in the shuffled order, without a DataLoader.

        Args:
            epoch: Epoch number (selects the permutation and, with ``random_offset``, the grid).
            batch_size: Clips per batch (official 4); the last batch may be smaller.
            start: Position within the epoch to resume from (a multiple of ``batch_size`` to keep batches).
            seed: Shuffle seed (official 1234).

        Yields:
            Dicts as :meth:`__getitem__` with a leading batch dimension B (strings become lists).
        """
        from torch.utils.data import default_collate

        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1; got {batch_size}")
        self.set_epoch(epoch)
        order = self.order(epoch, seed)[int(start):]
        for i in range(0, len(order), batch_size):
            yield default_collate([self[int(j)] for j in order[i:i + batch_size]])

    def __getitem__(self, index: int) -> dict:
        if not -len(self) <= index < len(self):
            raise IndexError(f"clip index {index} out of range for {len(self)} clips")
        si, start, end, flipped = (int(v) for v in self.pairs[index])
        seq = self.sequences[si]
        T = seq.num_frames
        x2d = edge_slice(seq.x2d, start, end)
        x3d = edge_slice(seq.x3d, start, end) if seq.x3d is not None else np.zeros((end - start, seq.num_joints, 3),
                                                                                     np.float32)
        root = edge_slice(seq.root, start, end) if seq.root is not None else np.zeros((end - start, 1, 3),
                                                                                       np.float32)
        cam = seq.camera.copy() if seq.camera is not None else np.zeros(9, np.float32)
        valid = edge_slice(seq.valid, start, end)
        padded = (np.arange(start, end) < 0) | (np.arange(start, end) >= T)
        if flipped:
            x2d = x2d[:, self._perm].copy()
            x2d[..., 0] *= -1
            x3d = x3d[:, self._perm].copy()
            x3d[..., 0] *= -1
            root = root.copy()
            root[..., 0] *= -1
            cam[2] *= -1
            cam[7] *= -1
        return {
            "x2d": torch.from_numpy(np.ascontiguousarray(x2d, dtype=np.float32)),
            "x3d": torch.from_numpy(np.ascontiguousarray(x3d, dtype=np.float32)),
            "root": torch.from_numpy(np.ascontiguousarray(root, dtype=np.float32)),
            "camera": torch.from_numpy(np.ascontiguousarray(cam, dtype=np.float32)),
            "valid": torch.from_numpy(np.ascontiguousarray(valid)),
            "padded": torch.from_numpy(padded),
            "action": seq.action,
            "base_action": seq.base_action,
            "subject": seq.subject,
            "sequence": si,
            "start": start,
            "flipped": bool(flipped),
        }


class ClipSampler(Sampler):
    """Deterministic shuffled order of :class:`TrainingClips`, resumable from ``(epoch, position)``.

    Epoch ``e`` yields ``epoch_permutation(len, seed, e)[start:]`` (official: ``RandomState(1234)``,
    one permutation per epoch). Record ``position = batches_done · batch_size`` to resume.

    Args:
        num_items: Number of clips (``len(clips)``); or pass the dataset itself.
        seed: Shuffle seed (official 1234).
        epoch: Epoch to start with.
        start: Position within that epoch to start from.
        shuffle: False → sequential order.
    """

    def __init__(self, num_items, seed: int = 1234, epoch: int = 0, start: int = 0, shuffle: bool = True) -> None:
        self.num_items = int(len(num_items) if hasattr(num_items, "__len__") else num_items)
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.set_epoch(epoch, start)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch and the position to start from within it."""
        if not 0 <= start <= self.num_items:
            raise InputError(f"start must be in [0, {self.num_items}]; got {start}")
        if epoch < 0:
            raise InputError(f"epoch must be >= 0; got {epoch}")
        self.epoch, self.start = int(epoch), int(start)

    def order(self) -> np.ndarray:
        """The full order of the current epoch."""
        if not self.shuffle:
            return np.arange(self.num_items)
        return epoch_permutation(self.num_items, self.seed, self.epoch)

    def __iter__(self) -> Iterator[int]:
        return iter(int(i) for i in self.order()[self.start:])

    def __len__(self) -> int:
        return self.num_items - self.start

    def state_dict(self, position: int | None = None) -> dict:
        """``{"epoch", "position", "seed"}`` (position defaults to this epoch's start)."""
        return {"epoch": self.epoch, "position": self.start if position is None else int(position),
                "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        """Resume from :meth:`state_dict`."""
        self.seed = int(state.get("seed", self.seed))
        self.set_epoch(int(state["epoch"]), int(state["position"]))


# --------------------------------------------------------------------------- test windows
@dataclass(frozen=True)
class TestWindows:
    """Windows of F frames covering a sequence of T frames.

    Attributes:
        length: Sequence length T.
        frames: Window length F.
        starts: ``(n,)`` first frame of each window (in the unpadded sequence; may run past T when T < F).
        weights: ``(n, F)`` float64 weight of each window frame in metrics; 0 for padded frames. By default
            every real frame's weights sum to exactly 1 over the windows (``official_overlap=False``); the
            official mode gives weight 1 everywhere, so the overlap counts twice.
        mask: ``(n, F)`` bool, True for real (not padded) frames.
        official_overlap: Whether the official double-counting weights are used.
    """

    __test__ = False  # not a pytest class

    length: int
    frames: int
    starts: np.ndarray
    weights: np.ndarray
    mask: np.ndarray
    official_overlap: bool = False

    @property
    def num_windows(self) -> int:
        """Number of windows n."""
        return int(self.starts.shape[0])

    def frame_index(self) -> np.ndarray:
        """``(n, F)`` source frame of each window frame (padded frames repeat the last frame)."""
        idx = self.starts[:, None] + np.arange(self.frames)[None]
        return np.clip(idx, 0, self.length - 1)


def test_windows(length: int, frames: int, official_overlap: bool = False, stride: int | None = None) -> TestWindows:
    """Windows covering a sequence for evaluation (reference §1.7).

    Windows start at ``0, stride, 2·stride, …`` (default ``stride = F``: non-overlapping) and the last
    window is always the last F frames ``[T − F, T)``. Sequences shorter than F get one window,
    right-padded by edge replication, with the padded frames masked out (weight 0).

    Args:
        length: Sequence length T.
        frames: Window length F.
        official_overlap: True → weight 1 for every real frame of every window (official: frames in the
            overlap of the last window count twice). False → each frame's weights sum to exactly 1
            (split equally among the windows that cover it).
        stride: Distance between window starts (``1 ≤ stride ≤ F``); default F.
    """
    if length < 1 or frames < 1:
        raise InputError(f"length and frames must be >= 1; got length={length}, frames={frames}")
    stride = frames if stride is None else int(stride)
    if not 1 <= stride <= frames:
        raise InputError(f"stride must be in [1, {frames}]; got {stride}")
    if length <= frames:
        starts = np.array([0], dtype=np.int64)
    else:
        starts = np.arange(0, length - frames, stride, dtype=np.int64)
        starts = np.append(starts, length - frames)
        starts = np.unique(starts)
    idx = starts[:, None] + np.arange(frames)[None]
    mask = idx < length
    if official_overlap:
        weights = mask.astype(np.float64)
    # Official: every window frame has weight 1, so the last window's overlap counts twice (reference §1.7);
    # the default below splits each frame's weight equally among the windows that cover it.
    else:
        count = np.zeros(length, dtype=np.float64)
        np.add.at(count, idx[mask], 1.0)
        weights = np.where(mask, 1.0 / count[np.clip(idx, 0, length - 1)], 0.0)
    return TestWindows(int(length), int(frames), starts, weights, mask, bool(official_overlap))


test_windows.__test__ = False  # a library function, not a pytest test


def cut_windows(x, windows: TestWindows):
    """Cut ``x (T, ...)`` into ``(n, F, ...)`` windows (numpy or torch), padding by edge replication."""
    if x.shape[0] != windows.length:
        raise InputError(f"x must have {windows.length} frames for these windows; got shape {tuple(x.shape)}")
    idx = windows.frame_index()
    if isinstance(x, torch.Tensor):
        return x[torch.from_numpy(idx).to(x.device)]
    return np.asarray(x)[idx]


def stitch_windows(pred, windows: TestWindows):
    """Put window predictions ``(n, F, ...)`` back into one ``(T, ...)`` sequence.

    Each frame is the weighted mean of the predictions of the windows that cover it (weights of
    ``windows``; with the official weights the overlap is a plain average). Padded frames are ignored.
    numpy in → numpy out; torch in → torch out.
    """
    n, F = windows.num_windows, windows.frames
    if tuple(pred.shape[:2]) != (n, F):
        raise InputError(f"pred must have shape ({n}, {F}, ...); got {tuple(pred.shape)}")
    idx = windows.frame_index()[windows.mask]
    w = windows.weights[windows.mask]
    if isinstance(pred, torch.Tensor):
        wt = torch.as_tensor(w, dtype=pred.dtype, device=pred.device)
        it = torch.as_tensor(idx, device=pred.device)
        vals = pred[torch.as_tensor(windows.mask, device=pred.device)]
        shape = (windows.length,) + tuple(pred.shape[2:])
        wsh = (-1,) + (1,) * (pred.dim() - 2)
        out = torch.zeros(shape, dtype=pred.dtype, device=pred.device).index_add_(0, it, vals * wt.view(wsh))
        tot = torch.zeros(windows.length, dtype=pred.dtype, device=pred.device).index_add_(0, it, wt)
        return out / tot.view((-1,) + (1,) * (pred.dim() - 2))
    pred = np.asarray(pred)
    vals = pred[windows.mask].astype(np.float64)
    out = np.zeros((windows.length,) + pred.shape[2:], dtype=np.float64)
    wsh = (-1,) + (1,) * (pred.ndim - 2)
    np.add.at(out, idx, vals * w.reshape(wsh))
    tot = np.zeros(windows.length, dtype=np.float64)
    np.add.at(tot, idx, w)
    return (out / tot.reshape(wsh)).astype(pred.dtype if pred.dtype.kind == "f" else np.float64)


def sequence_windows(seq: Sequence, frames: int = 243, official_overlap: bool = False,
                     stride: int | None = None) -> dict:
    """A sequence cut into evaluation windows.

    Returns:
        Dict with ``windows`` (:class:`TestWindows`), ``x2d`` ``(n, F, J, 2)`` float32 tensor, ``x3d``
        ``(n, F, J, 3)`` (or None), ``root`` ``(n, F, 1, 3)`` (or None), ``weights`` ``(n, F)`` float64 tensor
        with the evaluation weight of each frame (0 for padded and for invalid frames), ``camera`` ``(9,)``
        (or None), ``action``, ``base_action``, ``subject``, ``camera_name``.
    """
    win = test_windows(seq.num_frames, frames, official_overlap, stride)
    valid = cut_windows(seq.valid, win)

    def t(a):
        return None if a is None else torch.from_numpy(np.ascontiguousarray(cut_windows(a, win)))

    return {
        "windows": win,
        "x2d": t(seq.x2d),
        "x3d": t(seq.x3d),
        "root": t(seq.root),
        "weights": torch.from_numpy(win.weights * valid),
        "camera": None if seq.camera is None else torch.from_numpy(seq.camera.copy()),
        "action": seq.action,
        "base_action": seq.base_action,
        "subject": seq.subject,
        "camera_name": seq.camera_name,
    }
