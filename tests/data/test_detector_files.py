"""Files real 2D tools write, from fixtures made in each tool's documented layout: AlphaPose results JSON
(Halpe-26 and COCO-17, with and without ``idx`` track ids, several people per frame), MMPose/RTMPose
predictions, Halpe-26 and COCO-WholeBody-133 arrays; tracking of people across frames; lifting them."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import posediff
from posediff.data.formats import get_format, load_keypoints, read_keypoints, to_h36m
from posediff.data.tracking import Detection, assemble_tracks, link_detections
from posediff.errors import InputError


def person(fmt: str, T: int, x0: float, seed: int) -> np.ndarray:
    """``(T, J, 3)`` pixels + confidence of one person walking right from ``x0`` (joints spread ±40 px)."""
    rng = np.random.default_rng(seed)
    J = get_format(fmt).num_joints
    offsets = rng.uniform(-40, 40, size=(J, 2))
    kp = np.ones((T, J, 3))
    kp[..., :2] = offsets + np.array([x0, 300.0])
    kp[..., 0] += 5.0 * np.arange(T)[:, None]
    kp[..., 2] = rng.uniform(0.6, 1.0, size=(T, J))
    return kp


def alphapose_items(people: dict, frames: int, *, with_idx: bool, skip=()) -> list[dict]:
    """``alphapose-results.json``: one entry per detection, ``image_id`` as the frame's file name."""
    items = []
    for t in range(frames):
        for pid, kp in people.items():
            if (pid, t) in skip:
                continue
            xy = kp[t, :, :2]
            x1, y1 = xy.min(0) - 5
            x2, y2 = xy.max(0) + 5
            item = {"image_id": f"out{t + 1:07d}.png", "category_id": 1, "keypoints": kp[t].reshape(-1).tolist(),
                    "score": 2.7, "box": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]}
            if with_idx:
                item["idx"] = pid
            items.append(item)
    # AlphaPose writes detections grouped by image but not in a guaranteed person order
    rng = np.random.default_rng(0)
    rng.shuffle(items)
    return items


def test_alphapose_halpe26_with_track_ids_gives_one_track_per_person(tmp_path):
    T = 12
    people = {1: person("halpe-26", T, 200, 1), 2: person("halpe-26", T, 600, 2), 3: person("halpe-26", T, 1000, 3)}
    skip = {(3, t) for t in range(T) if not 4 <= t < 8}  # person 3 only in frames 4-7
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(alphapose_items(people, T, with_idx=True, skip=skip)))
    raw = read_keypoints(path)
    assert raw.format == "halpe-26"
    tracks = raw.people
    assert tracks.source == "track ids" and sorted(tracks.ids) == [1, 2, 3]
    order = {pid: k for k, pid in enumerate(tracks.ids)}
    assert tracks.presence[order[3]].tolist() == [4 <= t < 8 for t in range(T)]
    assert tracks.presence[order[1]].all() and tracks.presence[order[2]].all()
    np.testing.assert_allclose(tracks.keypoints[order[2]], people[2])
    # the joint mapping: Halpe's own mid hip, neck and head top become pelvis, thorax and head
    x, _, obs = to_h36m(people[1], "halpe-26")
    assert obs.all()
    np.testing.assert_allclose(x[:, 0], people[1][:, 19, :2])
    np.testing.assert_allclose(x[:, 8], people[1][:, 18, :2])
    np.testing.assert_allclose(x[:, 10], people[1][:, 17, :2])
    np.testing.assert_allclose(x[:, 1], people[1][:, 12, :2])  # right hip: COCO index 12
    # lifted as a user would: one person per track, absent frames masked
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lifter = posediff.build("finepose-tiny", overrides={"lifter.frames": 9, "sampler.hypotheses": 1,
                                                           "sampler.steps": 1})
        res = posediff.lift(path, lifter=lifter, image_size=(1280, 720), seed=0)
    assert res.poses3d.shape == (3, T, 17, 3)
    assert res.mask.tolist() == tracks.presence.tolist()
    assert res.metadata["format"] == "halpe-26" and "3 track(s) (track ids)" in res.metadata["tracks"]
    assert (res.poses3d[order[3], :4] == 0).all() and np.abs(res.poses3d[order[3], 4:8, 1:]).sum() > 0


def test_alphapose_coco17_without_ids_is_linked_by_boxes(tmp_path):
    T = 10
    people = {"a": person("coco-17", T, 200, 4), "b": person("coco-17", T, 700, 5)}
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(alphapose_items(people, T, with_idx=False, skip={("b", 3), ("b", 4)})))
    raw = read_keypoints(path)
    assert raw.format == "coco-17" and raw.people.source == "linked by box IoU"
    assert len(raw.people.ids) == 2  # b's two-frame gap is bridged, not a new person
    starts = [kp[p.argmax(), 0, 0] for kp, p in zip(raw.people.keypoints, raw.people.presence)]
    a, b = np.argsort(starts)
    np.testing.assert_allclose(raw.people.keypoints[a], people["a"])
    assert raw.people.presence[b].tolist() == [t not in (3, 4) for t in range(T)]
    np.testing.assert_allclose(raw.people.keypoints[b][raw.people.presence[b]], people["b"][raw.people.presence[b]])
    # the single-person readers take the person seen in most frames
    np.testing.assert_allclose(raw.keypoints, people["a"])
    kp = load_keypoints(path, image_size=(1280, 720))
    assert kp.num_frames == T and kp.source_format == "coco-17"


def test_mmpose_predictions_with_and_without_frames(tmp_path):
    T = 6
    p1, p2 = person("coco-17", T, 250, 6), person("coco-17", T, 800, 7)

    def inst(kp, track=None):
        xy = kp[:, :2]
        d = {"keypoints": xy.tolist(), "keypoint_scores": kp[:, 2].tolist(),
             "bbox": [[*(xy.min(0) - 5).tolist(), *(xy.max(0) + 5).tolist()]], "bbox_score": 0.9}
        if track is not None:
            d["track_id"] = track
        return d

    video = {"meta_info": {"dataset_name": "coco"},
             "instance_info": [{"frame_id": t, "instances": [inst(p2[t]), inst(p1[t])]} for t in reversed(range(T))]}
    path = tmp_path / "results_video.json"
    path.write_text(json.dumps(video))
    raw = read_keypoints(path)
    assert raw.format == "coco-17" and len(raw.people.ids) == 2
    got = sorted(raw.people.keypoints, key=lambda k: k[0, 0, 0])
    np.testing.assert_allclose(got[0], p1)
    np.testing.assert_allclose(got[1], p2)
    one_image = tmp_path / "frame.json"
    one_image.write_text(json.dumps([inst(p1[0], track=5)]))
    single = read_keypoints(one_image)
    assert single.people is None and single.keypoints.shape == (1, 17, 3)
    np.testing.assert_allclose(single.keypoints[0], p1[0])


def test_wholebody_and_halpe_arrays_use_their_body_joints(tmp_path):
    wb = person("coco-wholebody-133", 4, 300, 8)
    np.save(tmp_path / "wb.npy", wb)
    kp = load_keypoints(tmp_path / "wb.npy", image_size=(1280, 720))
    assert kp.source_format == "coco-wholebody-133"
    np.testing.assert_allclose(to_h36m(wb, "coco-wholebody-133")[0], to_h36m(wb[:, :17], "coco-17")[0])
    halpe = person("halpe-26", 4, 300, 9)
    np.save(tmp_path / "halpe.npy", halpe)
    assert load_keypoints(tmp_path / "halpe.npy", image_size=(1280, 720)).source_format == "halpe-26"


def test_mixed_joint_counts_and_unsupported_counts_are_clear_errors(tmp_path):
    a = alphapose_items({1: person("coco-17", 2, 200, 1)}, 2, with_idx=True)
    b = alphapose_items({2: person("halpe-26", 2, 600, 2)}, 2, with_idx=True)
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(a + b))
    with pytest.raises(InputError, match=r"detections disagree on the joint count \(17, 26\)"):
        read_keypoints(path)
    odd = alphapose_items({1: person("openpose-25", 2, 200, 1)}, 2, with_idx=True)
    path.write_text(json.dumps(odd))
    with pytest.raises(InputError, match="25 keypoints per person is not supported; expected 17"):
        read_keypoints(path)


def det(x, track=None):
    return Detection(np.zeros((17, 3)), box=(x, 0.0, x + 10.0, 10.0), track=track)


def test_linking_bridges_short_gaps_and_opens_new_tracks_after_long_ones():
    frames = [[det(0)], [det(1)], [], [], [det(2)]]
    assert link_detections(frames, max_gap=2) == [[0], [0], [], [], [0]]
    assert link_detections(frames, max_gap=1) == [[0], [0], [], [], [1]]
    assert link_detections([[det(0)], [det(30)]]) == [[0], [1]]  # no overlap: another person
    with pytest.raises(InputError, match="iou_threshold"):
        link_detections(frames, iou_threshold=2)


def test_assemble_keeps_the_better_of_two_detections_of_one_track():
    a, b = det(0, track=7), det(0, track=7)
    a.keypoints[:] = 1.0
    a.score, b.score = 0.2, 0.9
    other = det(100, track=8)
    tr = assemble_tracks([[a, b, other]], 17)
    assert tr.ids == [7, 8] and tr.keypoints[0, 0].sum() == 0  # b (zeros) scored higher
    assert "2 track(s) (track ids): 7: 1 frames, 8: 1 frames" == tr.describe()


def _lift_with_a_tiny_model(path, tmp_path, capsys) -> tuple[int, str]:
    """`posediff lift FILE` with a tiny untrained FinePOSE; returns the exit code and stdout."""
    from posediff.checkpoints import save_lifter
    from posediff.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lifter = posediff.build("finepose-tiny", overrides={"lifter.frames": 9, "lifter.dim": 16, "backbone.depth": 1,
                                                           "backbone.heads": 2, "sampler.hypotheses": 1,
                                                           "sampler.steps": 1})
        ckpt = save_lifter(lifter, tmp_path / "tiny.pt")
        code = main(["lift", str(path), "--weights", str(ckpt), "--image-size", "1280", "720", "--out",
                     str(tmp_path / "p.npz"), "--quiet"])
    return code, capsys.readouterr().out


def test_lift_command_prints_the_tracks_it_found(tmp_path, capsys):
    T = 6
    people = {1: person("halpe-26", T, 200, 1), 2: person("halpe-26", T, 600, 2)}
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(alphapose_items(people, T, with_idx=True)))
    code, out = _lift_with_a_tiny_model(path, tmp_path, capsys)
    assert code == 0 and "lifted 2 people" in out and "people: 2 track(s) (track ids): 1: 6 frames, 2: 6 frames" in out


def test_alphapose_without_tracking_is_linked_by_boxes_and_the_lift_command_says_so(tmp_path, capsys):
    """AlphaPose run without tracking writes idx 0 for every person: the ids are not tracks, so people are
    linked by box overlap, and `posediff lift` says so, names the detected format and explains its count
    of person-frames (issue 22)."""
    from posediff.checkpoints import save_lifter
    from posediff.cli import main

    T = 6
    people = {1: person("halpe-26", T, 200, 1), 2: person("halpe-26", T, 600, 2)}
    items = alphapose_items(people, T, with_idx=True, skip={(2, 5)})
    for it in items:
        it["idx"] = 0
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(items))
    tracks = read_keypoints(path).people
    assert len(tracks.ids) == 2 and tracks.source.startswith("linked by box IoU")
    assert "every detection has id 0" in tracks.source
    code, out = _lift_with_a_tiny_model(path, tmp_path, capsys)
    assert code == 0
    assert "lifted 2 people over 6 frames (11 person-frames: each person in the frames they were seen)" in out
    assert "format: halpe-26 (read from the file)" in out
    assert "people: 2 track(s) (linked by box IoU; the file's track ids were not used" in out
