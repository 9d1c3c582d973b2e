"""Data sets, clips and keypoint formats.

* :mod:`.sample` — :class:`Sequence` (one person, one camera) and :class:`Dataset`.
* :mod:`.h36m` — Human3.6M (VideoPose3D npz layout, camera tables, ``cameras.h5``).
* :mod:`.mpi_inf_3dhp` — MPI-INF-3DHP (FinePOSE/P-STMO npz, raw test ``annot_data.mat``, ``.calib``).
* :mod:`.synthetic` — a procedural motion data set made by posediff itself (for tests and demos).
* :mod:`.clips` — the official training grid, flip augmentation, test windows and stitching.
* :mod:`.formats` — 2D keypoint formats (COCO, MediaPipe, OpenPose ...) → ``h36m-17``.
"""
from .sample import Dataset, Sequence, base_action
from .h36m import load_h36m, load_h36m_cameras_h5, h36m_cameras
from .mpi_inf_3dhp import load_3dhp_npz, load_3dhp_test_dir, load_3dhp_test_mat, parse_calib
from .synthetic import make_synthetic
from .clips import TestWindows, TrainingClips, ClipSampler, test_windows, cut_windows, stitch_windows
from .formats import KEYPOINT_FORMATS, Keypoints2D, load_keypoints, read_keypoints, to_h36m

__all__ = [
    "Sequence", "Dataset", "base_action",
    "load_h36m", "load_h36m_cameras_h5", "h36m_cameras",
    "load_3dhp_npz", "load_3dhp_test_dir", "load_3dhp_test_mat", "parse_calib",
    "make_synthetic",
    "TrainingClips", "ClipSampler", "TestWindows", "test_windows", "cut_windows", "stitch_windows",
    "KEYPOINT_FORMATS", "Keypoints2D", "load_keypoints", "read_keypoints", "to_h36m",
]
