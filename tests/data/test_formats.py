import json

import numpy as np
import pytest

from posediff.data.formats import (
    KEYPOINT_FORMATS,
    get_format,
    interpolate_missing,
    load_keypoints,
    prepare_keypoints,
    read_keypoints,
    to_h36m,
)
from posediff.errors import InputError
from posediff.geometry.cameras import normalize_screen_coordinates
from posediff.geometry.skeletons import convert_joints, get_skeleton

H36M = get_skeleton("h36m-17")


def _named_points(T=8, seed=0):
    """Random pixel positions for every joint name any format uses (one person, T frames)."""
    rng = np.random.default_rng(seed)
    names = {n for f in KEYPOINT_FORMATS.values() for n in f.joints}
    pts = {n: rng.uniform(100, 900, size=(T, 2)) for n in sorted(names)}
    pts["neck"] = 0.5 * (pts["left_shoulder"] + pts["right_shoulder"])
    pts["mid_hip"] = 0.5 * (pts["left_hip"] + pts["right_hip"])
    return pts


def _source(fmt_name, pts, conf=None):
    fmt = get_format(fmt_name)
    T = next(iter(pts.values())).shape[0]
    arr = np.ones((T, fmt.num_joints, 3))
    for j, n in enumerate(fmt.joints):
        arr[:, j, :2] = pts[n]
    return arr


def test_coco_formulas():
    pts = _named_points()
    x, conf, obs = to_h36m(_source("coco-17", pts), "coco-17")
    assert x.shape == (8, 17, 2) and obs.all() and np.all(conf == 1)
    mid = lambda a, b: 0.5 * (pts[a] + pts[b])  # noqa: E731
    np.testing.assert_allclose(x[:, 0], mid("left_hip", "right_hip"))
    np.testing.assert_allclose(x[:, 8], mid("left_shoulder", "right_shoulder"))
    np.testing.assert_allclose(x[:, 7], 0.5 * (x[:, 0] + x[:, 8]))
    np.testing.assert_allclose(x[:, 9], pts["nose"])
    np.testing.assert_allclose(x[:, 10], mid("left_eye", "right_eye"))


def test_formats_agree_on_limbs_and_sides():
    pts = _named_points()
    outs = {name: to_h36m(_source(name, pts), name)[0] for name in ("coco-17", "mediapipe-33", "openpose-25")}
    limbs = [1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16, 0, 7, 8, 9, 10]
    for name, x in outs.items():
        np.testing.assert_allclose(x[:, limbs], outs["coco-17"][:, limbs], err_msg=name)
    x = outs["coco-17"]
    for j in H36M.left:
        np.testing.assert_allclose(x[:, j], pts[H36M.joints[j]])  # h36m left_* comes from source left_*
    for j in H36M.right:
        np.testing.assert_allclose(x[:, j], pts[H36M.joints[j]])


def test_identity_and_3dhp():
    rng = np.random.default_rng(1)
    h = rng.normal(size=(4, 17, 2))
    np.testing.assert_allclose(to_h36m(h, "h36m-17")[0], h)
    src = convert_joints(h, "h36m-17", "3dhp-17")
    np.testing.assert_allclose(to_h36m(src, "3dhp-17")[0], h)


def test_fallbacks_and_interpolation():
    pts = _named_points(T=10)
    src = _source("coco-17", pts)
    src[:, 0, 2] = 0.0               # nose never seen → neck/nose from mid-eyes
    src[3:6, 9, 2] = 0.1             # left wrist missing in frames 3..5
    src[0, 10, :2] = np.nan          # right wrist NaN in frame 0
    src[7, 11, 2] = 0.0              # left hip missing in frame 7 → pelvis missing there too
    kp = prepare_keypoints(src, "coco-17", (1000, 800), threshold=0.3)
    np.testing.assert_allclose(kp.pixels[:, 9], 0.5 * (pts["left_eye"] + pts["right_eye"]), rtol=1e-6)
    assert kp.mask[:, 9].all()
    assert not kp.mask[3:6, 13].any() and kp.mask[[2, 6], 13].all()
    for i, t in enumerate(range(3, 6)):
        expect = pts["left_wrist"][2] + (i + 1) / 4 * (pts["left_wrist"][6] - pts["left_wrist"][2])
        np.testing.assert_allclose(kp.pixels[t, 13], expect, rtol=1e-5)
    np.testing.assert_allclose(kp.pixels[0, 16], pts["right_wrist"][1], rtol=1e-6)  # nearest at the end
    assert not kp.mask[7, 0] and not kp.mask[7, 4] and not kp.mask[7, 7] and kp.mask[7, 1]
    assert kp.confidence[7, 0] == 0
    np.testing.assert_allclose(kp.x2d, normalize_screen_coordinates(kp.pixels, 1000, 800), atol=1e-6)
    seq = kp.to_sequence(fps=30)
    assert seq.x3d is None and seq.image_size == (1000, 800) and seq.fps == 30


def test_errors():
    pts = _named_points()
    src = _source("coco-17", pts)
    with pytest.raises(InputError, match="unknown keypoint format"):
        prepare_keypoints(src, "alphapose-136", (100, 100))
    with pytest.raises(InputError, match=r"\(T, 33"):
        prepare_keypoints(src, "mediapipe-33", (100, 100))
    src[:, 15, 2] = 0  # left ankle never seen
    with pytest.raises(InputError, match="left_ankle"):
        prepare_keypoints(src, "coco-17", (100, 100))
    with pytest.raises(InputError, match="image_size"):
        prepare_keypoints(_source("coco-17", pts), "coco", (0, 100))
    with pytest.raises(InputError):
        interpolate_missing(np.zeros((3, 2, 2)), np.ones((3, 3), bool))
    assert get_format("BODY25").name == "openpose-25" and get_format("MediaPipe").name == "mediapipe-33"


def test_mediapipe_unit_coordinates():
    pts = _named_points()
    src = _source("mediapipe-33", pts)
    unit = src.copy()
    unit[..., 0] /= 1000
    unit[..., 1] /= 500
    a = prepare_keypoints(src, "mediapipe-33", (1000, 500))
    b = prepare_keypoints(unit, "mediapipe-33", (1000, 500), coords="unit")
    np.testing.assert_allclose(a.x2d, b.x2d, atol=1e-5)


def _openpose_person(arr, scale=1.0, shift=0.0):
    a = arr.copy()
    a[:, :2] += shift
    a[:, 2] *= scale
    return {"pose_keypoints_2d": a.reshape(-1).tolist()}


def test_openpose_folder(tmp_path):
    pts = _named_points(T=4)
    src = _source("openpose-25", pts)
    folder = tmp_path / "op"
    folder.mkdir()
    for t in range(4):
        people = [] if t == 2 else [_openpose_person(src[t], 0.4, shift=50), _openpose_person(src[t], 0.9)]
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    raw = read_keypoints(folder)
    assert raw.format == "openpose-25" and raw.keypoints.shape == (4, 25, 3)
    np.testing.assert_allclose(raw.keypoints[0, :, :2], src[0, :, :2])  # the more confident person
    kp = load_keypoints(folder, image_size=(1000, 1000))
    assert not kp.mask[2].any() and kp.mask[[0, 1, 3]].all()
    np.testing.assert_allclose(kp.pixels[2], 0.5 * (kp.pixels[1] + kp.pixels[3]), rtol=1e-5)


def test_coco_results_json(tmp_path):
    pts = _named_points(T=3)
    src = _source("coco-17", pts)
    items = []
    for t in (2, 0, 1):
        items.append({"image_id": t, "category_id": 1, "keypoints": src[t].reshape(-1).tolist(), "score": 0.9})
        items.append({"image_id": t, "category_id": 1, "keypoints": (src[t] * 0).reshape(-1).tolist(),
                      "score": 0.2})
    path = tmp_path / "results.json"
    path.write_text(json.dumps(items))
    kp = load_keypoints(path, image_size=(1000, 1000))
    assert kp.source_format == "coco-17"
    np.testing.assert_allclose(kp.pixels, to_h36m(src, "coco-17")[0], rtol=1e-5)


def test_npz_csv_and_plain_json(tmp_path):
    pts = _named_points(T=5)
    src = _source("mediapipe-33", pts)
    npz = tmp_path / "kp.npz"
    np.savez(npz, keypoints=src, image_size=np.array([1280, 720]))
    a = load_keypoints(npz)  # 33 joints → mediapipe-33; image size from the file
    assert a.image_size == (1280, 720)
    csv_path = tmp_path / "kp.csv"
    header = "frame," + ",".join(f"{n}_{c}" for n in get_format("mediapipe-33").joints for c in "xyc")
    rows = [f"{t}," + ",".join(f"{v:.6f}" for v in src[t].reshape(-1)) for t in range(5)]
    csv_path.write_text("\n".join([header, *rows]) + "\n")
    b = load_keypoints(csv_path, image_size=(1280, 720))
    np.testing.assert_allclose(a.x2d, b.x2d, atol=1e-5)
    js = tmp_path / "kp.json"
    js.write_text(json.dumps({"keypoints": src[..., :2].tolist(), "image_size": [1280, 720]}))
    c = load_keypoints(js, format="mediapipe-33")
    np.testing.assert_allclose(a.x2d, c.x2d, atol=1e-5)
    coco_csv = tmp_path / "coco.csv"
    coco_csv.write_text("\n".join(",".join(["1"] * 51) for _ in range(3)))
    with pytest.warns(UserWarning, match="17 joints and no format given: assumed coco-17.*pass format="):
        assert load_keypoints(coco_csv, image_size=(100, 100)).source_format == "coco-17"
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(InputError, match="columns"):
        read_keypoints(bad)
    with pytest.raises(InputError, match="unsupported"):
        read_keypoints(_touch(tmp_path / "x.txt"))
    with pytest.raises(InputError, match="image_size"):
        load_keypoints(csv_path)


def _touch(p):
    p.write_text("")
    return p
