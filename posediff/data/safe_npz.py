"""Read ``.npz`` files whose arrays hold pickled Python objects without running arbitrary code.

The VideoPose3D / P-STMO data files (``data_3d_h36m.npz``, ``data_2d_h36m_*.npz``,
``data_*_3dhp_ori.npz``) store nested dicts of arrays as 0-d object arrays, which
``np.load(allow_pickle=True)`` unpickles with the full :mod:`pickle` machinery: a crafted file could
execute any code on load. :func:`load_npz` unpickles those arrays with a restricted unpickler that
only rebuilds plain containers (dict, list, tuple, ...), numbers, strings and numpy arrays/dtypes, and
refuses every other global with a :class:`~posediff.errors.DataError`.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = ["load_npz", "SAFE_GLOBALS"]

SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("builtins", "dict"), ("builtins", "list"), ("builtins", "tuple"), ("builtins", "set"),
    ("builtins", "frozenset"), ("builtins", "int"), ("builtins", "float"), ("builtins", "complex"),
    ("builtins", "str"), ("builtins", "bytes"), ("builtins", "bytearray"), ("builtins", "bool"),
    ("collections", "OrderedDict"), ("_codecs", "encode"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
})
"""``(module, name)`` globals the restricted unpickler may resolve; everything else is refused."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        if module == "numpy.dtypes" and name.endswith("DType"):
            return super().find_class(module, name)  # numpy >= 1.25 dtype classes (plain data)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def _read_member(fh, where: str) -> np.ndarray:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise DataError(f"{where}: unsupported .npy format version {version}")
    if dtype.hasobject:
        # numpy writes object arrays as one pickle of the whole array after the header
        arr = _RestrictedUnpickler(fh).load()
        if not isinstance(arr, np.ndarray):
            raise DataError(f"{where}: expected a pickled array; got {type(arr).__name__}")
        return arr
    data = fh.read()
    arr = np.frombuffer(data, dtype=dtype, count=int(np.prod(shape, dtype=np.int64)))
    return arr.reshape(shape, order="F" if fortran else "C").copy()


def load_npz(path: str | Path, what: str = "npz") -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` (or one ``.npy``) file; object arrays are unpickled safely.

    Args:
        path: The file.
        what: Description used in error messages (e.g. ``"H36M 3D"``).

    Returns:
        Array name (without ``.npy``) → array.

    Raises:
        DataError: missing or unreadable file, or a pickled object other than plain data and numpy
            arrays (such a file is refused, nothing in it is executed).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} file not found: {path}")
    out: dict[str, np.ndarray] = {}
    try:
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as fh:
                out[path.stem] = _read_member(fh, str(path))
            return out
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if not name.endswith(".npy"):
                    continue
                with zf.open(name) as member:
                    out[name[:-4]] = _read_member(io.BufferedReader(member), f"{path}[{name}]")
    except DataError:
        raise
    except pickle.UnpicklingError as exc:
        raise DataError(f"{what} file {path} must hold only arrays and plain data; refused to unpickle it: {exc}") \
            from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"cannot read {what} file {path}: {type(exc).__name__}: {exc}") from None
    return out
