"""The ``--data`` selector shared by ``posediff train`` and ``posediff evaluate``.

Selectors:

* ``synthetic`` or ``synthetic:subjects=3,cameras=2,frames=243,seed=0,noise_px=0`` — posediff's procedural
  data set (:func:`posediff.data.make_synthetic`; not motion capture). Default split: train ``synth-0`` …
  ``synth-(n-2)``, validate on the last subject.
* ``h36m:DIR`` — Human3.6M in the VideoPose3D layout (``DIR/data_3d_h36m.npz``, or the npz path itself).
  2D: ground truth by projecting the 3D with the distorted camera model unless ``keypoints`` names a
  VideoPose3D 2D file. Default split: train S1, S5, S6, S7; validate on S8 (held-out training subject;
  the official split is train S1, S5–S8 and test S9, S11).
* ``3dhp:PATH`` — MPI-INF-3DHP: a folder with ``TS{n}/annot_data.mat`` (raw test set), or a FinePOSE/P-STMO
  npz (``data_train_3dhp_ori.npz`` / ``data_test_3dhp_ori.npz``). Subjects are ``S1``…``S8`` (train npz)
  or the test sequence names ``TS1``…``TS6``.
"""
from __future__ import annotations

import os

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Optional

from ..data import Dataset
from ..errors import DataError, InputError

__all__ = ["DataSelection", "parse_data", "load_dataset", "default_subjects", "to_skeleton",
           "accepted_actions"]

_SYNTH_KEYS = {"subjects": int, "cameras": int, "frames": int, "seed": int, "noise_px": float}
_CACHE: dict[tuple, Dataset] = {}


@dataclass(frozen=True)
class DataSelection:
    """A parsed ``--data`` selector.

    Attributes:
        kind: ``"synthetic"``, ``"h36m"`` or ``"3dhp"``.
        path: Folder or file (None for synthetic).
        options: Keyword options (synthetic generator arguments).
        text: The selector as given.
    """

    kind: Literal["synthetic", "h36m", "3dhp"]
    path: Path | None = None
    options: dict = field(default_factory=dict)
    text: str = ""


def parse_data(text: str) -> DataSelection:
    """Parse a ``--data`` selector (see the module docstring).

    Raises:
        InputError: unknown kind, missing path, or a bad synthetic option.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"data must be 'synthetic', 'h36m:DIR' or '3dhp:PATH'; got {text!r}")
    kind, sep, rest = text.strip().partition(":")
    kind = kind.lower()
    if kind == "synthetic":
        opts: dict[str, Any] = {}
        for item in filter(None, (s.strip() for s in rest.split(","))):
            key, eq, val = item.partition("=")
            if not eq or key not in _SYNTH_KEYS:
                raise InputError(
                    f"data 'synthetic' options must be KEY=VALUE with KEY in {sorted(_SYNTH_KEYS)}; got {item!r}"
                )
            try:
                opts[key] = _SYNTH_KEYS[key](val)
            except ValueError:
                raise InputError(f"data option {key} must be a {_SYNTH_KEYS[key].__name__}; got {val!r}") from None
        return DataSelection("synthetic", None, opts, text)
    if kind in ("h36m", "3dhp"):
        if not sep or not rest:
            raise InputError(f"data {kind!r} needs a path: '{kind}:PATH'; got {text!r}")
        # environment variables are expanded, so a recorded '$POSEDIFF_SHARED/data/h36m' works on any machine
        path = os.path.expandvars(rest)
        if "$" in path:
            raise InputError(f"data {kind!r}: {rest!r} names an environment variable that is not set "
                             f"(e.g. export POSEDIFF_SHARED=../shared)")
        return DataSelection(kind, Path(path).expanduser(), {}, text)  # type: ignore[arg-type]
    raise InputError(f"data must start with 'synthetic', 'h36m:' or '3dhp:'; got {text!r}")


def default_subjects(sel: DataSelection, role: Literal["train", "val"]) -> list[str]:
    """The default subjects of a data set for training (``role="train"``) or validation/evaluation."""
    if sel.kind == "synthetic":
        n = int(sel.options.get("subjects", 3))
        if n < 2:
            return [f"synth-{k}" for k in range(n)]
        return [f"synth-{k}" for k in range(n - 1)] if role == "train" else [f"synth-{n - 1}"]
    if sel.kind == "h36m":
        return ["S1", "S5", "S6", "S7"] if role == "train" else ["S8"]
    return []  # 3DHP: every sequence in the file/folder


def _h36m_file(path: Path) -> Path:
    if path.is_dir():
        f = path / "data_3d_h36m.npz"
        if not f.is_file():
            raise DataError(f"h36m folder {str(path)!r} has no data_3d_h36m.npz")
        return f
    if path.is_file():
        return path
    raise DataError(f"h36m data not found: {str(path)!r} (expected a folder with data_3d_h36m.npz)")


def load_dataset(
    data: str | DataSelection,
    subjects: Iterable[str] | None = None,
    *,
    role: Literal["train", "val"] = "train",
    keypoints: str = "",
    cache: bool = True,
) -> Dataset:
    """Load the sequences of some subjects of a data set.

    Args:
        data: A selector string or :class:`DataSelection`.
        subjects: Subjects to keep; None or empty = :func:`default_subjects` for ``role``.
        role: ``"train"`` or ``"val"`` (only chooses the default subjects).
        keypoints: H36M 2D file (path, or a name inside the data folder); ``""`` = projected ground truth.
        cache: Keep loaded data sets in memory for the process (training loads train and val from one file).

    Returns:
        A :class:`~posediff.data.Dataset` (skeleton ``h36m-17`` for synthetic/H36M, ``3dhp-17`` for 3DHP).

    Raises:
        InputError: bad selector. DataError: missing files, unknown subjects or nothing left.
    """
    sel = parse_data(data) if isinstance(data, str) else data
    subj = [s for s in (subjects or []) if s]
    if not subj:
        subj = default_subjects(sel, role)
    key = (sel.kind, str(sel.path), tuple(sorted(sel.options.items())), tuple(subj), keypoints)
    if cache and key in _CACHE:
        return _CACHE[key]
    if sel.kind == "synthetic":
        from ..data import make_synthetic

        full_key = ("synthetic-full", tuple(sorted(sel.options.items())))
        full = _CACHE.get(full_key) if cache else None
        if full is None:
            full = make_synthetic(**{"subjects": 3, **sel.options})
            if cache:
                _CACHE[full_key] = full
        unknown = [s for s in subj if s not in full.subjects]
        if unknown:
            raise DataError(f"subjects must be among the synthetic data's {full.subjects}; got unknown {unknown}")
        ds = full.filter(subjects=subj)
    elif sel.kind == "h36m":
        from ..data import load_h36m

        f = _h36m_file(sel.path)
        kp = None
        if keypoints:
            kp_path = Path(keypoints)
            if not kp_path.is_file() and (f.parent / keypoints).is_file():
                kp_path = f.parent / keypoints
            kp = kp_path
        ds = load_h36m(f, kp, subjects=subj)
    else:
        from ..data import load_3dhp_npz, load_3dhp_test_dir

        p = sel.path
        if p.is_dir():
            ds = load_3dhp_test_dir(p, sequences=subj or None)
        elif p.is_file():
            ds = load_3dhp_npz(p)
            if subj:
                unknown = [s for s in subj if s not in ds.subjects]
                if unknown:
                    raise DataError(f"subjects must be among the subjects of {str(p)!r}, {ds.subjects}; got unknown {unknown}")
                ds = ds.filter(subjects=subj)
        else:
            raise DataError(f"3dhp data not found: {str(p)!r} (a folder with TS*/annot_data.mat or an npz file)")
    if len(ds) == 0:
        raise DataError(f"data {sel.text!r}: no sequences for subjects {subj}")
    if cache:
        _CACHE[key] = ds
    return ds


def to_skeleton(dataset: Dataset, skeleton: str) -> Dataset:
    """The same sequences with joints reordered to ``skeleton`` (h36m-17 ↔ 3dhp-17, cross-dataset use).

    The root-relative convention is kept: both sets have the pelvis as root, so a pose whose pelvis is 0
    stays so after the reordering (the pelvis moves from index 14 of ``3dhp-17`` to index 0 of
    ``h36m-17``). Joint meanings differ slightly between the sets (3DHP neck ↔ H36M thorax, 3DHP head ↔
    H36M neck/nose, 3DHP head top ↔ H36M head): see :func:`posediff.geometry.skeletons.convert_joints`.
    """
    from ..geometry.skeletons import convert_joints

    seqs = []
    for s in dataset:
        if s.skeleton == skeleton:
            seqs.append(s)
            continue
        seqs.append(s.replace(
            x2d=convert_joints(s.x2d, s.skeleton, skeleton),
            x3d=None if s.x3d is None else convert_joints(s.x3d, s.skeleton, skeleton),
            skeleton=skeleton,
        ))
    return Dataset(seqs, name=dataset.name)


def accepted_actions(lifter, labels: Iterable[str]) -> tuple[dict[str, Optional[str]], list[str]]:
    """Which action labels the lifter's conditioner accepts.

    Returns:
        ``(mapping label → label or None, rejected labels)``. Empty labels and labels the conditioner
        rejects (e.g. motions outside its action vocabulary) map to ``None`` (the neutral prompt).
    """
    from ..errors import PosediffError

    cond = lifter.conditioner
    out: dict[str, Optional[str]] = {}
    rejected: list[str] = []
    for label in dict.fromkeys(labels):
        if not label:
            out[label] = None
            continue
        try:
            if cond is not None:
                cond.prompt_key(label)
            out[label] = label
        except PosediffError:
            out[label] = None
            rejected.append(label)
    return out, rejected
