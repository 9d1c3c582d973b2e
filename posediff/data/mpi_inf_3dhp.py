"""MPI-INF-3DHP (reference §1.9): FinePOSE/P-STMO npz files, raw test ``annot_data.mat`` and ``.calib`` files.

Joint order is the 3DHP "relevant" 17-joint set (skeleton ``"3dhp-17"``, root = pelvis = index 14).
3D in the files is camera-space millimetres; sequences hold metres, root-relative with the root exactly 0,
and the camera-space root trajectory separately.

Image sizes and intrinsics (official, reference §1.9): TS1–TS4 and all training data 2048×2048; TS5–TS6
1920×1080. Intrinsics are derived from the ``.calib`` files (focal length and centre offset in mm on the sensor);
lens distortion and pixel aspect are ignored as the official code does, so the normalised 9-vector has zero
distortion.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import numpy as np

from ..errors import DataError, InputError
from ..geometry.cameras import mpi_inf_3dhp_intrinsics, normalize_screen_coordinates
from .sample import Dataset, Sequence

__all__ = [
    "MPI_ROOT",
    "MPI_TEST_SEQUENCES",
    "MPI_TEST_IMAGE_SIZE",
    "MPI_TEST_FPS",
    "MPI_TRAIN_IMAGE_SIZE",
    "CalibCamera",
    "parse_calib",
    "mpi_test_intrinsics_px",
    "mpi_test_intrinsics",
    "load_3dhp_npz",
    "read_annot_mat",
    "load_3dhp_test_mat",
    "load_3dhp_test_dir",
]

MPI_ROOT = 14
"""Index of the pelvis (root) in the 3DHP 17-joint order."""

MPI_TEST_SEQUENCES: tuple[str, ...] = ("TS1", "TS2", "TS3", "TS4", "TS5", "TS6")
MPI_TEST_IMAGE_SIZE: dict[str, tuple[int, int]] = {
    "TS1": (2048, 2048), "TS2": (2048, 2048), "TS3": (2048, 2048), "TS4": (2048, 2048),
    "TS5": (1920, 1080), "TS6": (1920, 1080),
}
"""Image size (w, h) per test sequence, as the official normalisation uses."""
MPI_TRAIN_IMAGE_SIZE: tuple[int, int] = (2048, 2048)
MPI_TEST_FPS: dict[str, float] = {"TS1": 25.0, "TS2": 25.0, "TS3": 25.0, "TS4": 25.0, "TS5": 50.0, "TS6": 50.0}
"""Frame rates of the test sequences (studio 25 Hz, outdoor 50 Hz); informational only."""

def _mm_to_px(focal: float, offset: tuple[float, float], sensor: tuple[float, float],
              size: tuple[int, int]) -> np.ndarray:
    mx, my = size[0] / sensor[0], size[1] / sensor[1]
    return np.array([focal * mx, focal * my, size[0] / 2 + offset[0] * mx, size[1] / 2 + offset[1] * my])


@dataclass(frozen=True)
class CalibCamera:
    """One camera of a 3DHP ``.calib`` file (units as in the file: millimetres on the sensor).

    Attributes:
        name: Camera name.
        sensor_size: ``(w, h)`` sensor size in mm.
        focal_length: Focal length in mm.
        pixel_aspect: Pixel aspect y/x (ignored by the official code).
        center_offset: Principal-point offset from the sensor centre in mm (positive = right, down).
        distortion: The 5 OpenCV distortion numbers as written (ignored by the official code).
        origin, up, right: Extrinsic vectors as written (world units of the capture, mm), or None.
    """

    name: str
    sensor_size: tuple[float, float]
    focal_length: float
    pixel_aspect: float = 1.0
    center_offset: tuple[float, float] = (0.0, 0.0)
    distortion: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)
    origin: tuple[float, float, float] | None = None
    up: tuple[float, float, float] | None = None
    right: tuple[float, float, float] | None = None

    def intrinsics_px(self, image_size: tuple[int, int]) -> np.ndarray:
        """``(4,)`` float64 ``[fx, fy, cx, cy]`` in pixels for an image of ``(w, h)`` pixels.

        Pixel aspect and distortion are ignored (official behaviour, reference §1.9).
        """
        return _mm_to_px(self.focal_length, self.center_offset, self.sensor_size, image_size)

    def intrinsics(self, image_size: tuple[int, int]) -> np.ndarray:
        """``(9,)`` float32 normalised-frame intrinsics with zero distortion (see :func:`mpi_test_intrinsics`)."""
        return _normalise_intrinsics(self.intrinsics_px(image_size), image_size)


def _normalise_intrinsics(px: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    w, h = image_size
    f = px[:2] / w * 2.0
    c = np.asarray(normalize_screen_coordinates(np.asarray(px[2:4], dtype=np.float64), w, h), dtype=np.float64)
    return np.concatenate([f, c, np.zeros(5)]).astype(np.float32)


def parse_calib(path: str | Path) -> list[CalibCamera]:
    """Parse a 3DHP ``.calib`` file ("tc camera calibration v0.3") into its cameras.

    Only the first ``frame`` block of each camera that holds ``sensorSize``/``focalLength`` is read.

    Raises:
        DataError: missing file, or a camera without sensor size or focal length.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"3DHP calibration file not found: {path}")
    cams: list[dict] = []
    cur: dict | None = None
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        key, vals = parts[0], parts[1:]
        if key == "camera":
            cur = {"name": vals[1] if len(vals) > 1 else (vals[0] if vals else "")}
            cams.append(cur)
            continue
        if cur is None:
            continue
        try:
            nums = [float(v) for v in vals]
        except ValueError:
            continue
        if key == "sensorSize" and "sensor_size" not in cur:
            cur["sensor_size"] = tuple(nums[:2])
        elif key == "focalLength" and "focal_length" not in cur:
            cur["focal_length"] = nums[0]
        elif key == "pixelAspect" and "pixel_aspect" not in cur:
            cur["pixel_aspect"] = nums[0]
        elif key == "centerOffset" and "center_offset" not in cur:
            cur["center_offset"] = tuple(nums[:2])
        elif key == "distortion" and "distortion" not in cur:
            cur["distortion"] = tuple(nums)
        elif key in ("origin", "up", "right") and key not in cur:
            cur[key] = tuple(nums[:3])
    out = []
    for c in cams:
        if "sensor_size" not in c or "focal_length" not in c:
            raise DataError(f"{path}: camera {c.get('name')!r} lacks sensorSize or focalLength")
        out.append(CalibCamera(**c))
    if not out:
        raise DataError(f"{path}: no camera found")
    return out


def _check_test_name(name: str) -> str:
    if name not in MPI_TEST_IMAGE_SIZE:
        raise InputError(f"3DHP test sequence must be one of {list(MPI_TEST_SEQUENCES)}; got {name!r}")
    return name


def mpi_test_intrinsics_px(name: str) -> np.ndarray:
    """``(4,)`` pixel ``[fx, fy, cx, cy]`` the official code uses for test sequence ``name`` (``"TS1"``…``"TS6"``)."""
    _check_test_name(name)
    return mpi_inf_3dhp_intrinsics(name, normalized=False)[:4]


def mpi_test_intrinsics(name: str) -> np.ndarray:
    """``(9,)`` float32 normalised intrinsics (zero distortion) for test sequence ``name``.

    Normalised with the sequence's image size (TS1–4 2048×2048, TS5–6 1920×1080), so it projects
    camera-space points straight into the sequence's normalised 2D.
    """
    _check_test_name(name)
    return mpi_inf_3dhp_intrinsics(name, normalized=True).astype(np.float32)


def _make_sequence(subject: str, action: str, x2d_px: np.ndarray, x3d_mm: np.ndarray, size: tuple[int, int],
                   camera: np.ndarray | None, camera_name: str, valid: np.ndarray | None, fps: float,
                   where: str) -> Sequence:
    x2d_px = np.asarray(x2d_px, dtype=np.float64)
    x3d_mm = np.asarray(x3d_mm, dtype=np.float64)
    if x2d_px.ndim != 3 or x2d_px.shape[1:] != (17, 2):
        raise DataError(f"{where}: 2D must have shape (T, 17, 2); got {tuple(x2d_px.shape)}")
    if x3d_mm.shape != (x2d_px.shape[0], 17, 3):
        raise DataError(f"{where}: 3D must have shape ({x2d_px.shape[0]}, 17, 3); got {tuple(x3d_mm.shape)}")
    w, h = size
    x2d = normalize_screen_coordinates(x2d_px, w, h)
    # Official: keeps mm and the absolute root inside joint 14; here metres, root-relative, root separate
    # (reference §1.9).
    root = x3d_mm[:, MPI_ROOT:MPI_ROOT + 1] / 1000.0
    x3d = x3d_mm / 1000.0 - root
    x3d[:, MPI_ROOT] = 0.0
    return Sequence(subject=subject, action=action, x2d=np.asarray(x2d, dtype=np.float32), x3d=x3d, root=root,
                    camera=camera, image_size=(w, h), camera_name=camera_name, skeleton="3dhp-17",
                    valid=valid, fps=fps, source="3dhp")


def load_3dhp_npz(path: str | Path, split: Literal["train", "test", "auto"] = "auto",
                  sequences: Iterable[str] | None = None) -> Dataset:
    """Load FinePOSE/P-STMO's ``data_train_3dhp_ori.npz`` or ``data_test_3dhp_ori.npz`` (key ``data``).

    Train layout: ``"S{s} Seq{n}"`` → ``[dict camera → {data_2d (T,17,2) px, data_3d (T,17,3) mm}, fps]``;
    normalised with 2048×2048, no intrinsics (``camera=None``), subject ``"S{s}"``, action ``"Seq{n}"``.
    Test layout: ``"TS1"``…``"TS6"`` → ``{data_2d, data_3d, valid}``; normalised per sequence size, with
    the official intrinsics, subject = sequence name, action ``""`` (3DHP has no action text).
    3D is assumed absolute camera-space (the converters store ``annot3`` unchanged).

    Args:
        path: The npz file.
        split: ``"train"``, ``"test"`` or ``"auto"`` (decided from the keys).
        sequences: Keys to keep (e.g. ``["TS5", "TS6"]`` or ``["S1 Seq1"]``); default all.

    Raises:
        DataError: missing file, no ``data`` key, unexpected layout.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"3DHP npz file not found: {path}")
    from .safe_npz import load_npz

    # Never np.load(allow_pickle=True): the object arrays are unpickled by a restricted unpickler.
    npz = load_npz(path, "3DHP npz")
    if "data" not in npz:
        raise DataError(f"{path}: key 'data' missing; found {sorted(npz)}")
    try:
        data = npz["data"].item()
    except ValueError as exc:
        raise DataError(f"{path}: 'data' must be a 0-d object array holding a dict; got {exc}") from None
    if not isinstance(data, dict) or not data:
        raise DataError(f"{path}: 'data' must be a non-empty dict")
    keys = list(data)
    if split == "auto":
        split = "test" if all(str(k).startswith("TS") for k in keys) else "train"
    if split not in ("train", "test"):
        raise InputError(f"split must be 'train', 'test' or 'auto'; got {split!r}")
    if sequences is not None:
        wanted = [str(s) for s in sequences]
        absent = [s for s in wanted if s not in data]
        if absent:
            raise DataError(f"{path}: sequences {absent} not found; the file has {sorted(keys)}")
        keys = wanted
    out: list[Sequence] = []
    for key in keys:
        entry = data[key]
        where = f"{path}[{key!r}]"
        if split == "test":
            if not isinstance(entry, dict) or not {"data_2d", "data_3d"} <= set(entry):
                raise DataError(f"{where}: expected a dict with data_2d, data_3d, valid")
            name = str(key)
            _check_test_name(name)
            valid = entry.get("valid")
            out.append(_make_sequence(
                name, "", entry["data_2d"], entry["data_3d"], MPI_TEST_IMAGE_SIZE[name], mpi_test_intrinsics(name),
                name, None if valid is None else np.asarray(valid).reshape(-1) > 0, MPI_TEST_FPS[name], where))
        else:
            if not isinstance(entry, (list, tuple)) or len(entry) < 1 or not isinstance(entry[0], dict):
                raise DataError(f"{where}: expected [dict camera → {{data_2d, data_3d}}, fps]")
            fps = float(entry[1]) if len(entry) > 1 and np.isscalar(entry[1]) else 25.0
            subject, _, seq = str(key).partition(" ")
            for cam in sorted(entry[0], key=lambda c: (len(str(c)), str(c))):
                anim = entry[0][cam]
                if not isinstance(anim, dict) or not {"data_2d", "data_3d"} <= set(anim):
                    raise DataError(f"{where}[{cam!r}]: expected a dict with data_2d and data_3d")
                out.append(_make_sequence(subject, seq, anim["data_2d"], anim["data_3d"], MPI_TRAIN_IMAGE_SIZE,
                                          None, str(cam), None, fps, f"{where}[{cam!r}]"))
    return Dataset(out, name=f"3dhp-{split}")


def read_annot_mat(path: str | Path) -> dict[str, np.ndarray]:
    """Read a test ``annot_data.mat`` → ``{"annot2": (T,17,2) px, "annot3": (T,17,3) mm,
    "univ_annot3": (T,17,3) mm, "valid_frame": (T,) bool}`` (``univ_annot3`` only when present).

    MATLAB v7.3 files are read with h5py; older (v5) files with ``scipy.io`` if scipy is installed.

    Raises:
        DataError: missing file, unreadable file, missing keys or bad shapes.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"3DHP annotation file not found: {path}")
    raw: dict[str, np.ndarray] = {}
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as f:
            for k in ("annot2", "annot3", "univ_annot3", "valid_frame"):
                if k in f:
                    # h5py returns MATLAB arrays with axes reversed: (T, 1, 17, D) and (T, 1).
                    raw[k] = np.array(f[k])
    else:
        try:
            import scipy.io
        except ImportError:
            raise DataError(
                f"{path} is not a MATLAB v7.3 (HDF5) file; reading older .mat files needs scipy "
                "(pip install scipy)"
            ) from None
        try:
            mat = scipy.io.loadmat(str(path))
        except Exception as exc:  # scipy raises several types for bad files
            raise DataError(f"cannot read {path} as a .mat file: {exc}") from None
        for k in ("annot2", "annot3", "univ_annot3", "valid_frame"):
            if k in mat:
                # scipy keeps MATLAB's order (D, 17, 1, T) / (1, T): reverse to match h5py.
                raw[k] = np.transpose(np.asarray(mat[k]))
    for k in ("annot2", "annot3", "valid_frame"):
        if k not in raw:
            raise DataError(f"{path}: key {k!r} missing; found {sorted(raw)}")
    out: dict[str, np.ndarray] = {}
    for k, d in (("annot2", 2), ("annot3", 3), ("univ_annot3", 3)):
        if k not in raw:
            continue
        a = raw[k]
        a = a.reshape(a.shape[0], -1, d) if a.ndim >= 2 else a
        if a.ndim != 3 or a.shape[1:] != (17, d):
            raise DataError(f"{path}: {k} must reshape to (T, 17, {d}); got {tuple(raw[k].shape)}")
        out[k] = a.astype(np.float64)
    T = out["annot3"].shape[0]
    valid = raw["valid_frame"].reshape(-1)
    if valid.shape[0] != T or out["annot2"].shape[0] != T:
        raise DataError(
            f"{path}: frame counts differ: annot3 {T}, annot2 {out['annot2'].shape[0]}, valid_frame {valid.shape[0]}"
        )
    out["valid_frame"] = valid > 0
    return out


def load_3dhp_test_mat(path: str | Path, name: str | None = None, universal: bool = False) -> Sequence:
    """Load one raw test sequence ``TS{n}/annot_data.mat`` as a :class:`Sequence`.

    Args:
        path: The ``annot_data.mat`` file.
        name: ``"TS1"``…``"TS6"``; default: the parent folder's name.
        universal: Use ``univ_annot3`` (rescaled to the H36M universal skeleton) instead of ``annot3``.
            Official FinePOSE uses ``annot3`` (reference §1.9).

    Returns:
        A sequence with the sequence size's normalisation, official zero-distortion intrinsics and the
        ``valid_frame`` mask.
    """
    path = Path(path)
    name = name or path.parent.name
    _check_test_name(name)
    ann = read_annot_mat(path)
    key = "univ_annot3" if universal else "annot3"
    if key not in ann:
        raise DataError(f"{path}: key {key!r} missing")
    return _make_sequence(name, "", ann["annot2"], ann[key], MPI_TEST_IMAGE_SIZE[name], mpi_test_intrinsics(name),
                          name, ann["valid_frame"], MPI_TEST_FPS[name], str(path))


def load_3dhp_test_dir(root: str | Path, sequences: Iterable[str] | None = None,
                       universal: bool = False) -> Dataset:
    """Load ``root/TS{n}/annot_data.mat`` for the requested test sequences (default: those present).

    Raises:
        DataError: a requested sequence is absent, or none is present.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"3DHP test folder not found: {root}")
    if sequences is None:
        names = [n for n in MPI_TEST_SEQUENCES if (root / n / "annot_data.mat").is_file()]
        if not names:
            raise DataError(f"{root}: no TS1..TS6/annot_data.mat found")
    else:
        names = [_check_test_name(str(n)) for n in sequences]
        absent = [n for n in names if not (root / n / "annot_data.mat").is_file()]
        if absent:
            raise DataError(f"{root}: annot_data.mat missing for {absent}")
    return Dataset([load_3dhp_test_mat(root / n / "annot_data.mat", n, universal) for n in names], name="3dhp-test")

