"""posediff.lift: formats, normalisation, windows of any length, blending, people, gaps, aggregator choice."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import posediff
from posediff.data.formats import to_h36m
from posediff.errors import InputError
from posediff.geometry.cameras import normalize_intrinsics, normalize_screen_coordinates
from posediff.inference import (LiftResult, blend_weights, lift, load_result, parse_camera, window_plan)

pytestmark = pytest.mark.filterwarnings("ignore:aggregator 'jpma' needs camera:UserWarning")

F = 9  # window of the tiny test model
TINY = {
    "lifter.dim": 16, "lifter.frames": F, "backbone.depth": 1, "backbone.heads": 2,
    "conditioner.adapter_layers": 1, "conditioner.adapter_heads": 2, "conditioner.adapter_ff": 16,
    "conditioner.text_encoder.width": 16, "conditioner.text_encoder.layers": 1,
    "conditioner.text_encoder.heads": 2, "fusion[0].blocks[0].heads": 2,
    "sampler.hypotheses": 2, "sampler.steps": 2,
}
W, H = 1000, 800


@pytest.fixture(scope="module")
def tiny():
    """A tiny randomly initialised FinePOSE (window 9, JPMA aggregator)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return posediff.build("finepose-tiny", overrides=TINY)


@pytest.fixture(scope="module")
def stub():
    """A lifter whose denoiser ignores the noise: x̂0 = (u, v, mean v of the window) for every joint.

    The output is flip-invariant, so every hypothesis and the flipped copies agree; x and y of the
    result must therefore equal the input 2D frame by frame (window alignment), and z is the window
    constant blended with the cross-fade weights (blending).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = posediff.build("finepose-tiny", overrides=TINY)

    def run_backbone(x2d, y_t, t, cond):
        z = x2d[..., 1].mean(dim=(1, 2), keepdim=True).unsqueeze(-1).expand(*x2d.shape[:-1], 1)
        return torch.cat([x2d, z], dim=-1)

    model.run_denoiser = run_backbone
    return model


def _pixels(n, people=None, seed=0, joints=17):
    rng = np.random.default_rng(seed)
    shape = (n, joints, 2) if people is None else (people, n, joints, 2)
    return rng.uniform([100, 100], [900, 700], size=shape)


def _expected_z(x2d_norm: np.ndarray, frames: int, overlap: int) -> np.ndarray:
    L = x2d_norm.shape[0]
    starts = window_plan(L, frames, overlap)
    w = blend_weights(starts, frames, L)
    acc, tot = np.zeros(L), np.zeros(L)
    for a, s in enumerate(starts):
        idx = np.clip(np.arange(s, s + frames), 0, L - 1)
        c = x2d_norm[idx, :, 1].mean()
        ok = w[a] > 0
        acc[s + np.flatnonzero(ok)] += w[a][ok] * c
        tot[s + np.flatnonzero(ok)] += w[a][ok]
    return acc / tot


# ------------------------------------------------------------------------------------------ windows
@pytest.mark.parametrize("length,overlap", [(1, 2), (5, 2), (9, 2), (10, 2), (23, 0), (40, 4), (100, 8), (31, 7)])
def test_window_plan_covers_with_overlap(length, overlap):
    starts = window_plan(length, F, overlap)
    assert starts[0] == 0
    if length <= F:
        assert starts.tolist() == [0]
    else:
        assert starts[-1] == length - F
        assert (np.diff(starts) > 0).all()
        assert (starts[:-1] + F - starts[1:] >= overlap).all()
        # the fewest windows that keep the overlap
        assert len(starts) == 1 + int(np.ceil((length - F) / (F - overlap)))


@pytest.mark.parametrize("length,overlap", [(10, 2), (40, 4), (100, 8), (31, 8), (12, 8)])
def test_blend_weights_sum_to_one_and_ramp(length, overlap):
    starts = window_plan(length, F, overlap)
    w = blend_weights(starts, F, length)
    tot = np.zeros(length)
    for a, s in enumerate(starts):
        tot[s:s + F] += w[a][: max(0, min(F, length - s))]
    np.testing.assert_allclose(tot, 1.0, atol=1e-12)
    assert (w > 0).all()
    if len(starts) >= 2 and (len(starts) == 2 or starts[2] >= starts[0] + F):  # pairwise overlaps only
        o = int(starts[0] + F - starts[1])
        # linear ramps over the overlap, weight 1 outside it
        np.testing.assert_allclose(w[1, :o], (np.arange(o) + 1) / (o + 1))
        np.testing.assert_allclose(w[0, F - o:], (o - np.arange(o)) / (o + 1))
        assert w[0, 0] == 1.0 and w[-1, -1] == 1.0


def test_blend_weights_zero_on_padding():
    w = blend_weights(window_plan(5, F, 2), F, 5)
    assert w.shape == (1, F)
    assert (w[0, :5] == 1).all() and (w[0, 5:] == 0).all()


def test_window_plan_rejects_bad_overlap():
    with pytest.raises(InputError, match="overlap"):
        window_plan(20, F, F)
    with pytest.raises(InputError, match="overlap"):
        window_plan(20, F, -1)


# ------------------------------------------------------------------------------------------ lengths
@pytest.mark.parametrize("length", [1, 4, F, F + 1, 3 * F + 5])
def test_any_length_aligned_and_blended(stub, length):
    px = _pixels(length, seed=length)
    res = lift(px, lifter=stub, format="h36m-17", image_size=(W, H), overlap=3, seed=0, aggregator="mean")
    assert isinstance(res, LiftResult)
    assert res.poses3d.shape == (length, 17, 3) and res.mask.shape == (length,) and res.mask.all()
    norm = normalize_screen_coordinates(px, W, H)
    np.testing.assert_allclose(res.x2d, norm, atol=1e-5)
    nonroot = np.arange(1, 17)
    np.testing.assert_allclose(res.poses3d[:, nonroot, :2], norm[:, nonroot], atol=1e-5)
    np.testing.assert_allclose(res.poses3d[:, 0], 0.0)
    np.testing.assert_allclose(res.poses3d[:, 1, 2], _expected_z(norm, F, 3), atol=1e-5)
    assert res.metadata["windows"] == len(window_plan(length, F, 3))


def test_longer_sequence_blend_differs_from_hard_cut(stub):
    """The cross-fade really mixes neighbouring windows inside their overlap."""
    px = _pixels(2 * F - 4, seed=3)
    res = lift(px, lifter=stub, format="h36m-17", image_size=(W, H), overlap=4, camera=[2.0, 2.0, 0.0, 0.0])
    norm = normalize_screen_coordinates(px, W, H)
    starts = window_plan(2 * F - 4, F, 4)
    assert starts.tolist() == [0, F - 4]
    consts = [norm[s:s + F, :, 1].mean() for s in starts]
    z = res.poses3d[:, 1, 2]
    o_start = starts[1]
    inside = z[o_start: starts[0] + F]
    assert inside.size > 0
    lo, hi = min(consts[0], consts[1]), max(consts[0], consts[1])
    assert ((inside > lo - 1e-6) & (inside < hi + 1e-6)).all()
    assert not np.allclose(inside, consts[0]) and not np.allclose(inside, consts[1])
    np.testing.assert_allclose(z[0], consts[0], atol=1e-6)


def test_real_model_seeded_and_finite(tiny):
    px = _pixels(20, seed=1)
    kw = dict(lifter=tiny, format="h36m-17", image_size=(W, H), camera=[1100, 1100, 500, 400], aggregator="jpma")
    a = lift(px, seed=3, **kw)
    b = lift(px, seed=3, **kw)
    c = lift(px, seed=4, **kw)
    assert np.isfinite(a.poses3d).all()
    np.testing.assert_array_equal(a.poses3d, b.poses3d)
    assert not np.allclose(a.poses3d, c.poses3d)
    assert (a.poses3d[:, 0] == 0).all()
    assert a.aggregator_used == "jpma"


# ------------------------------------------------------------------------------------------ aggregator
def test_no_camera_falls_back_to_mean_with_warning(stub):
    px = _pixels(12)
    with pytest.warns(UserWarning, match="mean"):
        res = lift(px, lifter=stub, format="h36m-17", image_size=(W, H), sampling="paper")
    assert res.aggregator_used == "mean"
    assert res.metadata["aggregator_model"] == "jpma"
    assert any("mean" in n for n in res.metadata["notes"])


def test_camera_keeps_jpma_and_is_normalised(stub):
    px = _pixels(12)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        res = lift(px, lifter=stub, format="h36m-17", image_size=(W, H), camera=[1100, 1120, 510, 390],
                   sampling="paper")
    assert res.aggregator_used == "jpma"
    want = normalize_intrinsics([1100, 1120], [510, 390], w=W, h=H)
    np.testing.assert_allclose(res.metadata["camera"], want, rtol=1e-6)


def test_explicit_aggregator_that_needs_camera_errors(stub):
    with pytest.raises(InputError, match="camera"):
        lift(_pixels(5), lifter=stub, format="h36m-17", image_size=(W, H), aggregator="jpma")


def test_parse_camera_forms_agree():
    vec9 = parse_camera([1100, 1100, 500, 400, 0, 0, 0, 0, 0], (W, H))
    vec4 = parse_camera([1100, 1100, 500, 400], (W, H))
    K = parse_camera(np.array([[1100, 0, 500], [0, 1100, 400], [0, 0, 1]]), (W, H))
    d = parse_camera({"fx": 1100, "fy": 1100, "cx": 500, "cy": 400}, (W, H))
    for v in (vec4, K, d):
        np.testing.assert_allclose(v, vec9)
    np.testing.assert_allclose(vec9[:4], [2.2, 2.2, 0.0, 0.0], atol=1e-6)
    # already normalised intrinsics pass through
    np.testing.assert_allclose(parse_camera([2.29, 2.29, 0.02, 0.01], (W, H)), [2.29, 2.29, 0.02, 0.01, 0, 0, 0, 0, 0],
                               rtol=1e-6)
    with pytest.raises(InputError, match="image_size"):
        parse_camera([1100, 1100, 500, 400], None, units="pixels")
    with pytest.raises(InputError, match="shape"):
        parse_camera([1, 2, 3], (W, H))
    with pytest.raises(InputError, match="> 0"):
        parse_camera([-1, 2, 3, 4], (W, H))


# ------------------------------------------------------------------------------------------ formats
def test_coco17_converted_and_normalised(stub):
    rng = np.random.default_rng(5)
    kp = np.concatenate([_pixels(10, seed=5), rng.uniform(0.6, 1, (10, 17, 1))], -1)
    res = lift(kp, lifter=stub, format="coco17", image_size=(W, H))
    conv, _, obs = to_h36m(kp, "coco-17", 0.3)
    assert obs.all()
    np.testing.assert_allclose(res.x2d, normalize_screen_coordinates(conv, W, H), atol=1e-5)
    assert res.metadata["format"] == "coco-17"


@pytest.mark.parametrize("joints,name", [(25, "openpose-25"), (33, "mediapipe-33"), (17, "coco-17")])
def test_format_guessed_from_joint_count(stub, joints, name):
    res = lift(_pixels(6, joints=joints), lifter=stub, image_size=(W, H))
    assert res.metadata["format"] == name
    assert res.poses3d.shape == (6, 17, 3)


def test_format_mismatch_and_unknown(stub):
    with pytest.raises(InputError, match="25 joints"):
        lift(_pixels(6, joints=25), lifter=stub, format="coco17", image_size=(W, H))
    with pytest.raises(InputError, match="unknown keypoint format"):
        lift(_pixels(6), lifter=stub, format="bogus", image_size=(W, H))
    with pytest.raises(InputError, match="joints"):
        lift(_pixels(6, joints=20), lifter=stub, image_size=(W, H))


def test_pixels_without_image_size_error(stub):
    with pytest.raises(InputError, match="image_size"):
        lift(_pixels(6), lifter=stub, format="h36m-17")


def test_unit_and_normalised_coordinates(stub):
    px = _pixels(6)
    a = lift(px, lifter=stub, format="h36m-17", image_size=(W, H))
    b = lift(px / [W, H], lifter=stub, format="h36m-17", image_size=(W, H), coords="unit")
    c = lift(normalize_screen_coordinates(px, W, H), lifter=stub, format="h36m-17")
    np.testing.assert_allclose(a.x2d, b.x2d, atol=1e-5)
    np.testing.assert_allclose(a.x2d, c.x2d, atol=1e-5)
    assert c.metadata["coords"] == "normalized"


def test_bad_shapes(stub):
    with pytest.raises(InputError, match="shape"):
        lift(np.zeros((5, 17)), lifter=stub, image_size=(W, H))
    with pytest.raises(InputError, match="last dimension"):
        lift(np.zeros((5, 17, 4)), lifter=stub, image_size=(W, H))


def test_no_model_without_shipped_weights(monkeypatch):
    """Without weights= or lifter=, lift uses the shipped 'h36m' model; an installation without shipped
    weights says what to pass instead."""
    import posediff.weights as W_

    monkeypatch.setattr(W_, "list_weights", lambda: [])
    with pytest.raises(InputError, match="needs a model"):
        lift(_pixels(5), image_size=(W, H))


# ------------------------------------------------------------------------------------------ missing joints
def test_low_confidence_joint_interpolated(stub):
    px = _pixels(12, seed=9)
    kp = np.concatenate([px, np.ones((12, 17, 1))], -1)
    kp[4:7, 13, 2] = 0.05  # left wrist missing in frames 4-6
    res = lift(kp, lifter=stub, format="h36m-17", image_size=(W, H))
    norm = normalize_screen_coordinates(px, W, H)
    assert not res.joint_mask[4:7, 13].any() and res.joint_mask[3, 13] and res.joint_mask[7, 13]
    assert res.joint_mask.sum() == 12 * 17 - 3
    for f in (4, 5, 6):
        a = (f - 3) / 4
        np.testing.assert_allclose(res.x2d[f, 13], (1 - a) * norm[3, 13] + a * norm[7, 13], atol=1e-5)
    assert res.mask.all()


def test_nan_joint_and_never_seen_joint(stub):
    px = _pixels(8, seed=2).copy()
    px[2, 5] = np.nan
    px[:, 10] = np.nan                      # head never observed → placed at its parent (neck)
    with pytest.warns(UserWarning, match="never observed"):
        res = lift(px, lifter=stub, format="h36m-17", image_size=(W, H))
    assert not res.joint_mask[2, 5] and not res.joint_mask[:, 10].any()
    np.testing.assert_allclose(res.x2d[:, 10], res.x2d[:, 9])
    assert np.isfinite(res.poses3d).all()


# ------------------------------------------------------------------------------------------ people
def test_multi_person_presence_mask(stub):
    C, N = 3, 30
    px = _pixels(N, people=C, seed=4)
    pres = np.ones((C, N), bool)
    pres[0, 10:13] = False          # short gap: bridged
    pres[1, 8:25] = False           # long gap: two segments
    pres[2, :20] = False            # enters late
    res = lift(px, lifter=stub, format="h36m-17", image_size=(W, H), presence=pres, max_gap=5)
    assert res.multi_person and res.poses3d.shape == (C, N, 17, 3) and res.mask.shape == (C, N)
    np.testing.assert_array_equal(res.mask, pres)
    assert (res.poses3d[~pres] == 0).all() and (res.x2d[~pres] == 0).all()
    assert not res.joint_mask[~pres].any()
    norm = normalize_screen_coordinates(px, W, H)
    np.testing.assert_allclose(res.poses3d[pres][:, 1:, :2], norm[pres][:, 1:], atol=1e-5)
    # person 2 = lifting its present frames alone
    alone = lift(px[2, 20:], lifter=stub, format="h36m-17", image_size=(W, H))
    np.testing.assert_allclose(res.poses3d[2, 20:], alone.poses3d, atol=1e-6)
    # person 1's second segment is lifted separately from its first
    seg2 = lift(px[1, 25:], lifter=stub, format="h36m-17", image_size=(W, H))
    np.testing.assert_allclose(res.poses3d[1, 25:], seg2.poses3d, atol=1e-6)
    one = res.person(1)
    assert one.poses3d.shape == (N, 17, 3) and one.metadata["person"] == 1


def test_multi_person_actions_and_presence_shape(stub):
    px = _pixels(10, people=2)
    with pytest.raises(InputError, match="presence"):
        lift(px, lifter=stub, format="h36m-17", image_size=(W, H), presence=np.ones((3, 10), bool))
    with pytest.raises(InputError, match="one per person"):
        lift(px, lifter=stub, format="h36m-17", image_size=(W, H), actions=["Walking"])
    res = lift(px, lifter=stub, format="h36m-17", image_size=(W, H), actions=["Walking", None])
    assert res.metadata["actions"] == ["Walking", None]


def test_absent_everywhere_person_is_zero(stub):
    px = _pixels(10, people=2)
    pres = np.ones((2, 10), bool)
    pres[1] = False
    res = lift(px, lifter=stub, format="h36m-17", image_size=(W, H), presence=pres)
    assert not res.mask[1].any() and (res.poses3d[1] == 0).all() and res.mask[0].all()


# ------------------------------------------------------------------------------------------ I/O
def test_save_load_roundtrip(stub, tmp_path):
    res = lift(_pixels(12), lifter=stub, format="h36m-17", image_size=(W, H), keep_hypotheses=True)
    assert res.hypotheses.shape == (2, 12, 17, 3)
    path = res.save(tmp_path / "r.npz")
    back = load_result(path)
    np.testing.assert_array_equal(back.poses3d, res.poses3d)
    np.testing.assert_array_equal(back.mask, res.mask)
    np.testing.assert_array_equal(back.hypotheses, res.hypotheses)
    assert back.aggregator_used == res.aggregator_used and back.metadata["window"] == F
    with pytest.raises(InputError, match=".npz"):
        res.save(tmp_path / "r.txt")


def test_lift_from_files_and_weights(tiny, tmp_path):
    from posediff.checkpoints import save_lifter

    ckpt = save_lifter(tiny, tmp_path / "tiny.pt")
    px = _pixels(11, seed=8)
    np.savez(tmp_path / "kp.npz", keypoints=px, image_size=np.array([W, H]), format=np.array("h36m-17"))
    res = lift(tmp_path / "kp.npz", weights=ckpt, seed=0, camera=[1100, 1100, 500, 400])
    assert res.poses3d.shape == (11, 17, 3) and res.metadata["image_size"] == (W, H)
    ref = lift(px, lifter=tiny, format="h36m-17", image_size=(W, H), seed=0, camera=[1100, 1100, 500, 400])
    np.testing.assert_allclose(res.poses3d, ref.poses3d, atol=1e-6)
    # multi-person npz with presence
    pres = np.ones((2, 11), bool)
    pres[1, :4] = False
    np.savez(tmp_path / "multi.npz", keypoints=_pixels(11, people=2), presence=pres, image_size=np.array([W, H]),
             format=np.array("h36m-17"))
    multi = lift(str(tmp_path / "multi.npz"), lifter=tiny, camera=[1100, 1100, 500, 400], seed=0)
    np.testing.assert_array_equal(multi.mask, pres)


# ------------------------------------------------------------------------------------------ named sampling
def _record_sampling(model, monkeypatch):
    seen = []
    real = model.sample

    def sample(x, **kw):
        seen.append({"flip": kw.get("flip"), "H": kw.get("hypotheses"), "M": kw.get("steps")})
        return real(x, **kw)

    monkeypatch.setattr(model, "sample", sample)
    return seen


def test_sampling_fast_sets_h_m_flip_and_mean_for_the_call_only(tiny, monkeypatch):
    seen = _record_sampling(tiny, monkeypatch)
    before = tiny.sampling
    assert before.flip is True
    res = lift(_pixels(20), lifter=tiny, format="h36m-17", image_size=(W, H), sampling="fast", seed=0)
    assert {(s["flip"], s["H"], s["M"]) for s in seen} == {(True, 2, 2)}
    assert res.aggregator_used == "mean"
    assert (res.metadata["sampling"], res.metadata["hypotheses"], res.metadata["steps"], res.metadata["flip"]) == \
        ("fast", 2, 2, True)
    seen.clear()
    res = lift(_pixels(20), lifter=tiny, format="h36m-17", image_size=(W, H), sampling="realtime", flip=False)
    assert {(s["flip"], s["H"], s["M"]) for s in seen} == {(False, 1, 1)} and res.metadata["flip"] is False
    assert tiny.sampling is before  # the call's flip was given to the call, the model was never changed
    seen.clear()
    res = lift(_pixels(20), lifter=tiny, format="h36m-17", image_size=(W, H))
    assert res.metadata["sampling"] == "model"
    assert {(s["flip"], s["H"], s["M"]) for s in seen} == {(before.flip, before.hypotheses, before.steps)}  # the spec
    assert res.aggregator_used == "mean"


def test_explicit_arguments_override_the_named_configuration(tiny, monkeypatch):
    seen = _record_sampling(tiny, monkeypatch)
    res = lift(_pixels(12), lifter=tiny, format="h36m-17", image_size=(W, H), sampling="paper", hypotheses=3,
               aggregator="mean", seed=0)
    assert {(s["flip"], s["H"], s["M"]) for s in seen} == {(True, 3, 10)}
    assert res.metadata["hypotheses"] == 3 and res.metadata["steps"] == 10 and res.aggregator_used == "mean"


def test_a_failing_call_leaves_the_model_as_it_was(tiny, monkeypatch):
    before = tiny.sampling

    def boom(x, **kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(tiny, "sample", boom)
    with pytest.raises(RuntimeError, match="boom"):
        lift(_pixels(12), lifter=tiny, format="h36m-17", image_size=(W, H), sampling="realtime", flip=False)
    assert tiny.sampling is before and tiny.sampling.flip is True


def test_concurrent_calls_with_other_flips_do_not_see_each_other(tiny):
    """`lift(flip=False)` used to set sampler.flip in place for the duration of the call (issue 20): a call
    running meanwhile in another thread (evaluation workers) sampled with the other call's flip. Each call now
    gives its settings to the loop."""
    import threading

    x = torch.randn(2, tiny.frames, 17, 2, generator=torch.Generator().manual_seed(0)) * 0.2
    want = {f: tiny.sample(x, generator=torch.Generator().manual_seed(1), hypotheses=1, steps=1, flip=f)
            for f in (True, False)}
    got: dict = {}
    barrier = threading.Barrier(2)

    def run(flip: bool) -> None:
        barrier.wait()
        got[flip] = [tiny.sample(x, generator=torch.Generator().manual_seed(1), hypotheses=1, steps=1, flip=flip)
                     for _ in range(3)]

    threads = [threading.Thread(target=run, args=(f,)) for f in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for f in (True, False):
        assert all(torch.equal(out, want[f]) for out in got[f])
    assert not torch.equal(want[True], want[False])


def test_unknown_sampling_name_lists_the_known_ones(tiny):
    with pytest.raises(InputError, match=r"sampling must be one of \['fast', 'model', 'paper', 'realtime'\]; got 'quick'"):
        lift(_pixels(12), lifter=tiny, format="h36m-17", image_size=(W, H), sampling="quick")


def test_17_joints_without_format_warns_and_records_the_assumption(tiny):
    with pytest.warns(UserWarning, match=r"17 joints and no format given: assumed coco-17"):
        res = lift(_pixels(12), lifter=tiny, image_size=(W, H), seed=0)
    assert res.metadata["format"] == "coco-17"
    assert "assumed coco-17" in res.metadata["format_assumed"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", "aggregator 'jpma' needs")
        res = lift(_pixels(12), lifter=tiny, image_size=(W, H), format="coco17", seed=0)  # named: no warning
    assert "format_assumed" not in res.metadata


def test_load_keypoints_follows_the_same_rule(tmp_path):
    from posediff.data.formats import load_keypoints

    path = tmp_path / "kp.npy"
    np.save(path, _pixels(5))
    with pytest.warns(UserWarning, match="assumed coco-17"):
        kp = load_keypoints(path, image_size=(W, H))
    assert kp.source_format == "coco-17"


def test_flip_argument_overrides_the_configuration(tiny, monkeypatch):
    seen = _record_sampling(tiny, monkeypatch)
    res = lift(_pixels(12), lifter=tiny, format="h36m-17", image_size=(W, H), sampling="fast", flip=True, seed=0)
    assert {s["flip"] for s in seen} == {True} and res.metadata["flip"] is True
    with pytest.raises(InputError, match="flip must be True, False or None"):
        lift(_pixels(12), lifter=tiny, format="h36m-17", image_size=(W, H), flip="yes")


def test_input_shorter_than_the_window_is_padded_and_says_so(stub):
    """A clip shorter than the model's window (e.g. 5 frames for a 9-frame model, or a 2-second video for an
    81-frame one) is lifted in one edge-padded window; only the real frames are returned, and a note says
    the model saw less context than it was trained with (issue 19)."""
    F = stub.frames
    with pytest.warns(UserWarning, match=rf"5 frame\(s\), fewer than the model's window of {F}: lifted in one window "
                                         r"padded by repeating the last frame"):
        res = lift(_pixels(5), lifter=stub, format="h36m-17", image_size=(W, H), aggregator="mean")
    assert res.poses3d.shape == (5, 17, 3) and res.metadata["windows"] == 1
    # the stub returns the window's own 2D: every real frame comes back in place, the padding is dropped
    np.testing.assert_allclose(res.poses3d[:, 1:, :2], normalize_screen_coordinates(_pixels(5), W, H)[:, 1:],
                               atol=1e-5)


def test_save_json_of_several_people_marks_absent_frames(tmp_path):
    """`posediff lift --json` (and every video lift) writes a JSON a person can read; absent frames are null."""
    import json

    from posediff.inference.result import LiftResult

    poses = np.random.default_rng(0).normal(size=(2, 4, 17, 3)).astype(np.float32)
    mask = np.array([[True, True, False, True], [False, True, True, True]])
    poses[~mask] = 0
    res = LiftResult(poses, mask, np.zeros((2, 4, 17, 2), np.float32), np.ones((2, 4, 17), bool), "mean", "h36m-17",
                     metadata={"fps": 25.0, "format": "coco-17"})
    doc = json.loads(res.save_json(tmp_path / "r.json").read_text())
    assert [p["person"] for p in doc["people"]] == [0, 1] and doc["fps"] == 25.0
    f = doc["people"][0]["frames"]
    assert f[2] == {"frame": 2, "time_s": 0.08, "present": False, "joints": None}
    np.testing.assert_allclose(np.array(f[3]["joints"]), poses[0, 3], rtol=0, atol=5e-5 + 1e-6)
    assert "root" not in f[3] and len(doc["joints"]) == 17
    with pytest.raises(InputError, match="must end in .json"):
        res.save_json(tmp_path / "r.txt")


def test_padding_note_of_the_default_model_points_to_the_short_window_model(stub):
    """The default 81-frame model pads short clips; on held-out clips of 20-40 frames the 9-frame
    'h36m-streaming' was more accurate (scripts/short_clips_eval.sh), so its padding note says so — and only
    the default model's note (another model has no shorter twin to point to)."""
    from posediff.weights import ALIASES, DEFAULT_WEIGHTS, short_clip_hint

    assert short_clip_hint(stub.meta.get("name")) == ""
    before = stub.meta.get("name")
    stub.meta["name"] = ALIASES[DEFAULT_WEIGHTS]
    try:
        with pytest.warns(UserWarning, match=r"fewer than the model's window.*weights='h36m-streaming' \(the 9-frame "
                                             r"model\) was more accurate"):
            lift(_pixels(5), lifter=stub, format="h36m-17", image_size=(W, H), aggregator="mean")
    finally:
        stub.meta["name"] = before
