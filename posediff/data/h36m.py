"""Human3.6M in the VideoPose3D file layout (reference §1.1–§1.5).

Files:

* ``data_3d_h36m.npz``: ``positions_3d`` = dict subject → action → ``(T, 32, 3)`` world coordinates in
  metres, 50 Hz. The 17 joints ``H36M_KEEP_JOINTS`` are kept.
* ``data_2d_h36m_cpn_ft_h36m_dbb.npz`` / ``data_2d_h36m_gt.npz``: ``positions_2d`` = dict subject → action →
  list of 4 ``(T, 17, 2)`` pixel arrays (one per camera, in :data:`H36M_CAMERA_IDS` order), cut to the mocap
  length. Without a 2D file the ground-truth 2D is made by projecting the camera-space 3D with the distorted
  camera model, which is how ``data_2d_h36m_gt.npz`` is made.
* ``cameras.h5`` (optional): groups ``subject{n}/camera{1..4}`` with ``R``, ``T`` (mm), ``f``, ``c``, ``k``,
  ``p``, ``Name``. The built-in table :data:`H36M_INTRINSICS` / :data:`H36M_EXTRINSICS` holds the same
  public numbers, so the file is not needed.

Camera-model conventions: the tangential coefficients are stored in the order used by the projection
``project_to_2d`` (VideoPose3D's order), which is the *reverse* of ``p`` in ``cameras.h5``. The rotation is the
camera-to-world orientation as a quaternion ``(w, x, y, z)``; its matrix equals ``R`` as stored in
``cameras.h5`` and ``X_cam = Rᵀ (X_world − t)``.

Size: one data set — its file layout, the camera table of the VideoPose3D layout and the loaders that join
them.

"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import numpy as np

from ..errors import DataError, InputError
from ..geometry.cameras import (
    normalize_intrinsics,
    normalize_screen_coordinates,
    project_to_2d,
    world_to_camera,
)
from .sample import Dataset, Sequence

__all__ = [
    "H36M_KEEP_JOINTS",
    "H36M_CAMERA_IDS",
    "H36M_TRAIN_SUBJECTS",
    "H36M_TEST_SUBJECTS",
    "H36M_ACTIONS",
    "H36M_FPS",
    "H36M_INTRINSICS",
    "H36M_EXTRINSICS",
    "H36MCamera",
    "h36m_cameras",
    "load_h36m_cameras_h5",
    "canonical_action",
    "load_h36m_3d",
    "load_h36m_2d",
    "load_h36m",
]

H36M_KEEP_JOINTS: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
"""Indices of the 32-joint mocap skeleton kept for the 17-joint set (reference §1.2)."""

H36M_CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
"""The four camera ids, in the order of the 2D files' camera lists."""

H36M_TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
H36M_TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
H36M_FPS = 50.0

H36M_ACTIONS: tuple[str, ...] = (
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
    "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether",
)
"""The 15 canonical base action names."""

# Intrinsics per camera, pixels: resolution (w, h), focal (fx, fy), centre (cx, cy), radial (k1, k2, k3),
# tangential in projection order (p1, p2) = reversed cameras.h5 ``p``. Public numbers of the data set.
H36M_INTRINSICS: dict[str, dict] = {
    "54138969": dict(
        res=(1000, 1002), f=(1145.0494384765625, 1143.7811279296875), c=(512.54150390625, 515.4514770507812),
        k=(-0.20709891617298126, 0.24777518212795258, -0.0030751503072679043),
        p=(-0.0009756988729350269, -0.00142447161488235),
    ),
    "55011271": dict(
        res=(1000, 1000), f=(1149.6756591796875, 1147.5916748046875), c=(508.8486328125, 508.0649108886719),
        k=(-0.1942136287689209, 0.2404085397720337, 0.006819975562393665),
        p=(-0.0016190266469493508, -0.0027408944442868233),
    ),
    "58860488": dict(
        res=(1000, 1000), f=(1149.1407470703125, 1148.7989501953125), c=(519.8158569335938, 501.40264892578125),
        k=(-0.2083381861448288, 0.25548800826072693, -0.0024604974314570427),
        p=(0.0014843869721516967, -0.0007599993259645998),
    ),
    "60457274": dict(
        res=(1000, 1002), f=(1145.5113525390625, 1144.77392578125), c=(514.9682006835938, 501.88201904296875),
        k=(-0.198384091258049, 0.21832367777824402, -0.008947807364165783),
        p=(-0.0005872055771760643, -0.0018133620033040643),
    ),
}
"""Pixel intrinsics per camera id (shared by all subjects)."""

# Extrinsics per subject, one (orientation quaternion (w, x, y, z), translation in mm) per camera in
# H36M_CAMERA_IDS order. The orientation rotates camera axes into the world frame.
H36M_EXTRINSICS: dict[str, tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]] = {
    "S1": (
        ((0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088),
         (1841.1070556640625, 4955.28466796875, 1563.4454345703125)),
        ((0.6157187819480896, -0.764836311340332, -0.14833825826644897, 0.11794740706682205),
         (1761.278564453125, -5078.0068359375, 1606.2650146484375)),
        ((0.14651472866535187, -0.14647851884365082, 0.7653023600578308, -0.6094175577163696),
         (-1846.7777099609375, 5215.04638671875, 1491.972412109375)),
        ((0.5834008455276489, -0.7853162288665771, 0.14548823237419128, -0.14749594032764435),
         (-1794.7896728515625, -3722.698974609375, 1574.8927001953125)),
    ),
    "S5": (
        ((0.1467377245426178, -0.162370964884758, -0.7551892995834351, 0.6178938746452332),
         (2097.3916015625, 4880.94482421875, 1605.732421875)),
        ((0.6159758567810059, -0.7626792192459106, -0.15728192031383514, 0.1189815029501915),
         (2031.7008056640625, -5167.93310546875, 1612.923095703125)),
        ((0.14291371405124664, -0.12907841801643372, 0.7678384780883789, -0.6110143065452576),
         (-1620.5948486328125, 5171.65869140625, 1496.43701171875)),
        ((0.5920479893684387, -0.7814217805862427, 0.1274748593568802, -0.15036417543888092),
         (-1637.1737060546875, -3867.3173828125, 1547.033203125)),
    ),
    "S6": (
        ((0.1337897777557373, -0.15692396461963654, -0.7571090459823608, 0.6198879480361938),
         (1935.4517822265625, 4950.24560546875, 1618.0838623046875)),
        ((0.6147197484970093, -0.7628812789916992, -0.16174767911434174, 0.11819244921207428),
         (1969.803955078125, -5128.73876953125, 1632.77880859375)),
        ((0.1529948115348816, -0.13529130816459656, 0.7646096348762512, -0.6112781167030334),
         (-1769.596435546875, 5185.361328125, 1476.993408203125)),
        ((0.5916101336479187, -0.7804774045944214, 0.12832270562648773, -0.1561593860387802),
         (-1721.668701171875, -3884.13134765625, 1540.4879150390625)),
    ),
    "S7": (
        ((0.1435241848230362, -0.1631336808204651, -0.7548328638076782, 0.6188824772834778),
         (1974.512939453125, 4926.3544921875, 1597.8326416015625)),
        ((0.6141672730445862, -0.7638262510299683, -0.1596645563840866, 0.1177929937839508),
         (1937.0584716796875, -5119.7900390625, 1631.5665283203125)),
        ((0.14550060033798218, -0.12874816358089447, 0.7660516500473022, -0.6127139329910278),
         (-1741.8111572265625, 5208.24951171875, 1464.8245849609375)),
        ((0.5912848114967346, -0.7821764349937439, 0.12445473670959473, -0.15196487307548523),
         (-1734.7105712890625, -3832.42138671875, 1548.5830078125)),
    ),
    "S8": (
        ((0.14110587537288666, -0.15589867532253265, -0.7561917304992676, 0.619644045829773),
         (2150.65185546875, 4896.1611328125, 1611.9046630859375)),
        ((0.6169601678848267, -0.7647668123245239, -0.14846350252628326, 0.11158157885074615),
         (2219.965576171875, -5148.453125, 1613.0440673828125)),
        ((0.1471444070339203, -0.13377119600772858, 0.7670128345489502, -0.6100369691848755),
         (-1571.2215576171875, 5137.0185546875, 1498.1761474609375)),
        ((0.5927824378013611, -0.7825870513916016, 0.12147816270589828, -0.14631995558738708),
         (-1476.913330078125, -3896.7412109375, 1547.97216796875)),
    ),
    "S9": (
        ((0.15540587902069092, -0.15548215806484222, -0.7532095313072205, 0.6199594736099243),
         (2044.45849609375, 4935.1171875, 1481.2275390625)),
        ((0.618784487247467, -0.7634735107421875, -0.14132238924503326, 0.11933968216180801),
         (1990.959716796875, -5123.810546875, 1568.8048095703125)),
        ((0.13357827067375183, -0.1367100477218628, 0.7689454555511475, -0.6100738644599915),
         (-1670.9921875, 5211.98583984375, 1528.387939453125)),
        ((0.5879399180412292, -0.7823407053947449, 0.1427614390850067, -0.14794869720935822),
         (-1696.04345703125, -3827.099853515625, 1591.4127197265625)),
    ),
    "S11": (
        ((0.15232472121715546, -0.15442320704460144, -0.7547563314437866, 0.6191070079803467),
         (2098.440185546875, 4926.5546875, 1500.278564453125)),
        ((0.6189449429512024, -0.7600917220115662, -0.15300633013248444, 0.1255258321762085),
         (2083.182373046875, -4912.1728515625, 1561.07861328125)),
        ((0.14943228662014008, -0.15650227665901184, 0.7681233882904053, -0.6026304364204407),
         (-1609.8153076171875, 5177.3359375, 1537.896728515625)),
        ((0.5894251465797424, -0.7818877100944519, 0.13991211354732513, -0.14715361595153809),
         (-1590.738037109375, -3854.1689453125, 1578.017578125)),
    ),
}
"""Per-subject extrinsics: orientation quaternion (w, x, y, z) and translation (mm), per camera."""


@dataclass(frozen=True)
class H36MCamera:
    """One calibrated Human3.6M camera of one subject.

    Attributes:
        id: Camera id, e.g. ``"54138969"``.
        res: Image size ``(w, h)`` in pixels.
        f: Focal lengths ``(fx, fy)`` in pixels.
        c: Principal point ``(cx, cy)`` in pixels.
        k: Radial distortion ``(k1, k2, k3)``.
        p: Tangential distortion ``(p1, p2)`` in the projection's order (reversed ``cameras.h5`` ``p``).
        orientation: Camera-to-world rotation quaternion ``(w, x, y, z)``, or None (intrinsics only).
        translation: Camera centre in world coordinates, metres, or None.
    """

    id: str
    res: tuple[int, int]
    f: tuple[float, float]
    c: tuple[float, float]
    k: tuple[float, float, float]
    p: tuple[float, float]
    orientation: tuple[float, float, float, float] | None = None
    translation: tuple[float, float, float] | None = None

    def intrinsics(self) -> np.ndarray:
        """``(9,)`` float32 ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` in the normalised screen frame (§1.3)."""
        w, h = self.res
        return np.asarray(normalize_intrinsics(self.f, self.c, self.k, self.p, w=w, h=h), dtype=np.float32)

    def intrinsics_px(self) -> np.ndarray:
        """``(9,)`` float64 intrinsics in pixels (same layout as :meth:`intrinsics`)."""
        return np.array([*self.f, *self.c, *self.k, *self.p], dtype=np.float64)

    def rotation_matrix(self) -> np.ndarray:
        """``(3, 3)`` camera-to-world rotation (equals ``R`` as stored in ``cameras.h5``)."""
        if self.orientation is None:
            raise InputError(f"camera {self.id}: has no extrinsics (orientation is None)")
        return _quat_to_matrix(np.asarray(self.orientation, dtype=np.float64))

    def to_camera(self, x_world: np.ndarray) -> np.ndarray:
        """World → camera coordinates: ``(..., J, 3)`` metres → ``(..., J, 3)`` metres."""
        if self.orientation is None or self.translation is None:
            raise InputError(f"camera {self.id}: has no extrinsics; cannot transform world coordinates")
        out = world_to_camera(
            np.asarray(x_world, dtype=np.float32),
            np.asarray(self.orientation, dtype=np.float32),
            np.asarray(self.translation, dtype=np.float32),
        )
        return np.asarray(out, dtype=np.float32)


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def _matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrix → unit quaternion (w, x, y, z) with w ≥ 0 (Shepperd's method)."""
    m = np.asarray(m, dtype=np.float64)
    tr = np.trace(m)
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.asarray(q)
    q /= np.linalg.norm(q)
    return q if q[0] >= 0 else -q


def h36m_cameras(subject: str | None = None) -> list[H36MCamera]:
    """The four built-in cameras, with the extrinsics of ``subject`` (intrinsics only when None).

    Raises:
        DataError: no extrinsics for that subject (the table covers S1, S5–S9, S11).
    """
    if subject is not None and subject not in H36M_EXTRINSICS:
        raise DataError(
            f"subject {subject!r} has no built-in H36M extrinsics; expected one of {', '.join(H36M_EXTRINSICS)}"
        )
    cams = []
    for i, cid in enumerate(H36M_CAMERA_IDS):
        intr = H36M_INTRINSICS[cid]
        ori = trans = None
        if subject is not None:
            ori, trans_mm = H36M_EXTRINSICS[subject][i]
            trans = tuple(v / 1000.0 for v in trans_mm)
        cams.append(H36MCamera(id=cid, res=intr["res"], f=intr["f"], c=intr["c"], k=intr["k"], p=intr["p"],
                               orientation=ori, translation=trans))
    return cams


def load_h36m_cameras_h5(path: str | Path) -> dict[str, list[H36MCamera]]:
    """Read ``cameras.h5`` (groups ``subject{n}/camera{1..4}``) into :class:`H36MCamera` lists.

    ``R`` as stored is the camera-to-world rotation (``X_cam = Rᵀ (X_world − T)``); it is converted to a
    quaternion. ``T`` is converted from mm to metres, ``p`` is reversed into the projection's order, and the
    resolution comes from the camera id.

    Returns:
        Dict subject (``"S1"``) → the four cameras in ``camera1..camera4`` order.

    Raises:
        DataError: missing file, missing group or key, or an unknown camera id.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"H36M camera file not found: {path}")
    out: dict[str, list[H36MCamera]] = {}
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"cannot read H36M camera file {path} as HDF5: {exc}") from None
    with f:
        groups = sorted((g for g in f.keys() if g.startswith("subject")), key=lambda g: int(g[7:]))
        if not groups:
            raise DataError(f"{path}: no 'subject{{n}}' groups found; keys are {list(f.keys())}")
        for g in groups:
            cams = []
            for ci in range(1, 5):
                name = f"{g}/camera{ci}"
                if name not in f:
                    raise DataError(f"{path}: group {name!r} missing")
                grp = f[name]
                try:
                    R = np.array(grp["R"], dtype=np.float64)
                    T = np.array(grp["T"], dtype=np.float64).reshape(3)
                    fl = np.array(grp["f"], dtype=np.float64).reshape(2)
                    c = np.array(grp["c"], dtype=np.float64).reshape(2)
                    k = np.array(grp["k"], dtype=np.float64).reshape(3)
                    p = np.array(grp["p"], dtype=np.float64).reshape(2)
                    cid = "".join(chr(int(v)) for v in np.array(grp["Name"]).reshape(-1))
                except KeyError as exc:
                    raise DataError(f"{path}: {name} lacks dataset {exc}") from None
                if cid not in H36M_INTRINSICS:
                    raise DataError(f"{path}: {name} has unknown camera id {cid!r}")
                cams.append(H36MCamera(
                    id=cid, res=H36M_INTRINSICS[cid]["res"], f=tuple(fl), c=tuple(c), k=tuple(k),
                    p=(float(p[1]), float(p[0])),
                    orientation=tuple(_matrix_to_quat(R)), translation=tuple(T / 1000.0),
                ))
            out[f"S{int(g[7:])}"] = cams
    return out


_ACTION_RENAMES = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}


def canonical_action(name: str) -> str:
    """VideoPose3D's canonical action name: ``"TakingPhoto 1"`` → ``"Photo 1"``, ``"WalkingDog"`` → ``"WalkDog"``."""
    head, sep, tail = name.partition(" ")
    return _ACTION_RENAMES.get(head, head) + sep + tail


def _is_dropped(subject: str, action: str) -> bool:
    # S11 "Directions" (the unsuffixed take) is corrupted and dropped by VideoPose3D (reference §1.1).
    return subject == "S11" and action == "Directions"


def _load_npz_dict(path: str | Path, key: str, what: str) -> dict:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} file not found: {path}")
    from .safe_npz import load_npz

    # Never np.load(allow_pickle=True): the object arrays are unpickled by a restricted unpickler.
    npz = load_npz(path, what)
    if key not in npz:
        raise DataError(f"{path}: key {key!r} missing; found {sorted(npz)}")
    obj = npz[key]
    meta = npz["metadata"].item() if "metadata" in npz else None
    data = obj.item() if obj.dtype == object and obj.shape == () else obj
    if not isinstance(data, dict):
        raise DataError(f"{path}: {key!r} must hold a dict subject → action → array; got {type(data).__name__}")
    if meta is not None:
        data = {"__metadata__": meta, **data}
    return data


def load_h36m_3d(path: str | Path, subjects: Iterable[str] | None = None,
                 missing: Literal["error", "warn"] = "error") -> dict[str, dict[str, np.ndarray]]:
    """Load ``data_3d_h36m.npz`` → dict subject → canonical action → ``(T, 17, 3)`` float32 world metres.

    Actions are canonicalised, S11 "Directions" is dropped, and the 17 joints are selected.

    Args:
        path: The npz file.
        subjects: Subjects to keep (default all, in numeric order).
        missing: What to do with requested subjects the file lacks: ``"error"`` or ``"warn"`` (skip them;
            still an error when none is left).

    Raises:
        DataError: missing file, missing ``positions_3d`` key, bad array shapes or an unknown subject.
    """
    data = _load_npz_dict(path, "positions_3d", "H36M 3D")
    data.pop("__metadata__", None)
    wanted = None if subjects is None else list(subjects)
    if wanted is not None:
        absent = [s for s in wanted if s not in data]
        if absent and (missing == "error" or len(absent) == len(wanted)):
            raise DataError(f"{path}: subjects {absent} not found; the file has {sorted(data)}")
        if absent:
            warnings.warn(f"{path}: subjects {absent} not in the file; loading {[s for s in wanted if s in data]}",
                          stacklevel=3)
            wanted = [s for s in wanted if s in data]
    out: dict[str, dict[str, np.ndarray]] = {}
    for subject in wanted if wanted is not None else sorted(data, key=_subject_order):
        out[subject] = {}
        for action, pos in data[subject].items():
            canon = canonical_action(action)
            if _is_dropped(subject, canon):
                continue
            pos = np.asarray(pos)
            if pos.ndim != 3 or pos.shape[-1] != 3 or pos.shape[1] not in (32, 17):
                raise DataError(
                    f"{path}: {subject}/{action} must have shape (T, 32, 3); got {tuple(pos.shape)}"
                )
            if pos.shape[1] == 32:
                pos = pos[:, list(H36M_KEEP_JOINTS)]
            out[subject][canon] = pos.astype(np.float32)
    return out


def load_h36m_2d(path: str | Path) -> dict[str, dict[str, list[np.ndarray]]]:
    """Load a VideoPose3D 2D file → dict subject → canonical action → list of 4 ``(T, 17, 2)`` pixel arrays.

    Raises:
        DataError: missing file, missing ``positions_2d`` key or ``metadata.num_joints`` ≠ 17.
    """
    data = _load_npz_dict(path, "positions_2d", "H36M 2D")
    meta = data.pop("__metadata__", None)
    if isinstance(meta, dict) and meta.get("num_joints", 17) != 17:
        raise DataError(f"{path}: metadata num_joints must be 17; got {meta.get('num_joints')}")
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, actions in data.items():
        out[subject] = {}
        for action, per_cam in actions.items():
            out[subject][canonical_action(action)] = list(per_cam)
    return out


def _subject_order(s: str) -> tuple[int, str]:
    return (int(s[1:]) if s[1:].isdigit() else 10**6, s)


def load_h36m(
    path_3d: str | Path,
    path_2d: str | Path | None = None,
    subjects: Iterable[str] | None = None,
    split: Literal["train", "test", "all"] | None = None,
    cameras: Iterable[str | int] | None = None,
    cameras_h5: str | Path | None = None,
    actions: Iterable[str] | None = None,
) -> Dataset:
    """Load Human3.6M as a :class:`Dataset` of camera-space sequences (one per subject, action, camera).

    Args:
        path_3d: ``data_3d_h36m.npz``.
        path_2d: a 2D file (CPN detections or GT). None → ground-truth 2D by projecting the camera-space 3D
            with the distorted camera model (like ``data_2d_h36m_gt.npz``).
        subjects: Subjects to load. Overrides ``split``.
        split: ``"train"`` (S1, S5, S6, S7, S8), ``"test"`` (S9, S11) or ``"all"`` (every subject in the file).
            Default: ``"all"`` when ``subjects`` is None. Split subjects absent from the file are skipped
            with a warning (explicit ``subjects`` must all be present).
        cameras: Camera ids or indices 0–3 to keep (default all four).
        cameras_h5: Read extrinsics/intrinsics from this ``cameras.h5`` instead of the built-in table.
        actions: Base action names to keep (default all).

    Returns:
        Sequences with ``x2d`` normalised per camera, ``x3d`` root-relative metres (root exactly 0), ``root``
        the camera-space trajectory, ``camera`` the normalised 9-vector, 50 fps, skeleton ``"h36m-17"``.
        Sequences that the 2D file lacks are skipped with one warning that lists them.

    Raises:
        DataError: missing files or keys, a 2D sequence shorter than its mocap, unknown subjects.
        InputError: bad ``split``/``cameras`` arguments.
    """
    if subjects is not None:
        split = None
    else:
        split = split or "all"
        if split == "train":
            subjects = H36M_TRAIN_SUBJECTS
        elif split == "test":
            subjects = H36M_TEST_SUBJECTS
        elif split != "all":
            raise InputError(f"split must be 'train', 'test' or 'all'; got {split!r}")
    from_split = split is not None and split != "all"
    subjects = None if subjects is None else [str(s) for s in subjects]
    cam_index = _camera_indices(cameras)
    base_filter = None if actions is None else {str(a) for a in actions}

    poses = load_h36m_3d(path_3d, subjects, missing="warn" if from_split else "error")
    kps = load_h36m_2d(path_2d) if path_2d is not None else None
    cam_table = load_h36m_cameras_h5(cameras_h5) if cameras_h5 is not None else None

    sequences: list[Sequence] = []
    missing: list[str] = []
    for subject, acts in poses.items():
        if cam_table is not None:
            if subject not in cam_table:
                raise DataError(f"{cameras_h5}: no cameras for subject {subject!r}")
            cams = cam_table[subject]
        else:
            cams = h36m_cameras(subject)
        for action in sorted(acts):
            if base_filter is not None and action.split(" ")[0] not in base_filter:
                continue
            world = acts[action]
            T = world.shape[0]
            per_cam_2d = None
            if kps is not None:
                per_cam_2d = kps.get(subject, {}).get(action)
                if per_cam_2d is None:
                    missing.append(f"{subject}/{action}")
                    continue
            for ci in cam_index:
                cam = cams[ci]
                w, h = cam.res
                cam3d = cam.to_camera(world)
                # Official: joint 0 keeps the trajectory and the loop zeroes it (reference §1.4); here the
                # trajectory is stored separately and x3d's root is exactly 0 from the start.
                root = cam3d[:, :1].copy()
                x3d = cam3d - root
                x3d[:, 0] = 0.0
                intr = cam.intrinsics()
                if per_cam_2d is not None:
                    if ci >= len(per_cam_2d) or per_cam_2d[ci] is None:
                        missing.append(f"{subject}/{action}/cam{ci}")
                        continue
                    kp = np.asarray(per_cam_2d[ci])[..., :2]
                    if kp.ndim != 3 or kp.shape[1] != 17:
                        raise DataError(
                            f"{path_2d}: {subject}/{action} camera {ci} must have shape (T, 17, 2); "
                            f"got {tuple(kp.shape)}"
                        )
                    if kp.shape[0] < T:
                        raise DataError(
                            f"{path_2d}: {subject}/{action} camera {ci} must have at least the {T} frames of the "
                            f"mocap; got {kp.shape[0]}"
                        )
                    x2d = normalize_screen_coordinates(kp[:T].astype(np.float32), w, h)
                else:
                    x2d = project_to_2d(cam3d, intr)
                sequences.append(Sequence(
                    subject=subject, action=action, x2d=np.asarray(x2d, dtype=np.float32), x3d=x3d, root=root,
                    camera=intr, image_size=(w, h), camera_name=cam.id, skeleton="h36m-17", fps=H36M_FPS,
                    source="h36m",
                ))
    if missing:
        warnings.warn(
            f"{path_2d}: {len(missing)} sequences have no 2D and were skipped: {', '.join(missing)}",
            stacklevel=2,
        )
    if not sequences:
        raise DataError(f"{path_3d}: no sequences left after filtering (subjects={subjects}, actions={actions})")
    return Dataset(sequences, name="h36m")


def _camera_indices(cameras: Iterable[str | int] | None) -> list[int]:
    if cameras is None:
        return [0, 1, 2, 3]
    out = []
    for c in cameras:
        if isinstance(c, (int, np.integer)) and not isinstance(c, bool) and 0 <= int(c) < 4:
            out.append(int(c))
        elif str(c) in H36M_CAMERA_IDS:
            out.append(H36M_CAMERA_IDS.index(str(c)))
        else:
            raise InputError(f"cameras must hold indices 0-3 or ids {list(H36M_CAMERA_IDS)}; got {c!r}")
    return out
