import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from posediff.data.clips import (
    ClipSampler,
    TrainingClips,
    chunk_grid,
    cut_windows,
    epoch_permutation,
    sequence_windows,
    stitch_windows,
    training_pairs,
)
from posediff.data.clips import test_windows as make_windows
from posediff.data.sample import Sequence
from posediff.errors import InputError
from posediff.geometry.skeletons import flip_pose


def _seq(T, seed=0, subject="S1", action="Walking 1"):
    rng = np.random.default_rng(seed)
    x3d = rng.normal(size=(T, 17, 3))
    x3d[:, 0] = 0
    x2d = np.broadcast_to(np.arange(T, dtype=np.float64)[:, None, None], (T, 17, 2)).copy()
    x2d[..., 1] = rng.normal(size=(T, 17))
    cam = np.arange(1.0, 10.0)
    return Sequence(subject=subject, action=action, x2d=x2d, x3d=x3d, root=rng.normal(size=(T, 1, 3)), camera=cam)


def test_official_grid_numbers():
    starts, offset = chunk_grid(500, 243)
    assert len(starts) == 3 and offset == 114
    assert starts.tolist() == [-114, 129, 372]
    covered = np.concatenate([np.arange(s, s + 243) for s in starts])
    inside = covered[(covered >= 0) & (covered < 500)]
    assert np.array_equal(np.sort(inside), np.arange(500))  # every frame exactly once
    s, off = chunk_grid(243, 243)
    assert s.tolist() == [0] and off == 0
    s, off = chunk_grid(244, 243)
    assert len(s) == 2 and off == 121
    s, off = chunk_grid(100, 243)
    assert s.tolist() == [-71] and off == 71
    with pytest.raises(InputError):
        chunk_grid(500, 243, offset=300)


def test_pairs_order_and_epoch_permutation_match_official():
    pairs = training_pairs([500, 100], 243, flip=True)
    # per sequence: unflipped chunks, then the same chunks flipped
    assert pairs[:, 0].tolist() == [0] * 6 + [1] * 2
    assert pairs[:, 3].tolist() == [0, 0, 0, 1, 1, 1, 0, 1]
    rs = np.random.RandomState(1234)
    official = [rs.permutation(pairs) for _ in range(3)]  # one stream, one call per epoch
    for epoch in range(3):
        np.testing.assert_array_equal(pairs[epoch_permutation(len(pairs), 1234, epoch)], official[epoch])


def test_training_clips_items_and_flip():
    clips = TrainingClips([_seq(500), _seq(100, seed=1, action="Eating")], frames=243, flip=True)
    assert len(clips) == 2 * (3 + 1)
    item = clips[0]
    assert item["x2d"].shape == (243, 17, 2) and item["x2d"].dtype == torch.float32
    assert item["x3d"].shape == (243, 17, 3) and item["root"].shape == (243, 1, 3)
    assert item["action"] == "Walking 1" and item["base_action"] == "Walking" and item["start"] == -114
    # edge replication before frame 0 (x2d[..., 0] holds the frame index)
    assert torch.all(item["x2d"][:115, :, 0] == 0) and item["x2d"][115, 0, 0] == 1
    assert item["padded"][:114].all() and not item["padded"][114:].any()
    flipped = clips[3]
    assert flipped["flipped"] and flipped["start"] == item["start"]
    np.testing.assert_allclose(flipped["x2d"].numpy(), flip_pose(item["x2d"].numpy()), atol=0)
    np.testing.assert_allclose(flipped["x3d"].numpy(), flip_pose(item["x3d"].numpy()), atol=0)
    assert flipped["camera"][2] == -item["camera"][2] and flipped["camera"][7] == -item["camera"][7]
    assert flipped["camera"][0] == item["camera"][0]
    short = clips[6]
    assert short["start"] == -71 and short["padded"].sum() == 243 - 100
    batch = next(iter(DataLoader(clips, batch_size=4, sampler=ClipSampler(clips))))
    assert batch["x2d"].shape == (4, 243, 17, 2) and len(batch["action"]) == 4
    assert len(TrainingClips([_seq(500)], frames=243, flip=False)) == 3


def test_sampler_resume():
    sampler = ClipSampler(50, seed=1234, epoch=2)
    full = list(sampler)
    assert sorted(full) == list(range(50))
    assert full != list(ClipSampler(50, seed=1234, epoch=1))
    resumed = ClipSampler(50, seed=1234)
    resumed.load_state_dict(sampler.state_dict(position=20))
    assert list(resumed) == full[20:] and len(resumed) == 30
    assert list(ClipSampler(5, shuffle=False)) == [0, 1, 2, 3, 4]


def test_batches_follow_the_sampler_order():
    clips = TrainingClips([_seq(500), _seq(300, seed=1)], frames=243)
    order = list(ClipSampler(clips, seed=1234, epoch=1))
    batches = list(clips.batches(epoch=1, batch_size=3))
    assert [b["x2d"].shape[0] for b in batches] == [3, 3, 3, 1]  # (3 + 2 chunks) × 2 flips
    starts = [int(s) for b in batches for s in b["start"]]
    assert starts == [int(clips.pairs[i, 1]) for i in order]
    resumed = list(clips.batches(epoch=1, batch_size=3, start=3))
    torch.testing.assert_close(resumed[0]["x2d"], batches[1]["x2d"])


def test_random_offsets_are_seeded_and_cover():
    clips = TrainingClips([_seq(500), _seq(300, seed=1)], frames=243, flip=False, random_offset=True, seed=5)
    again = TrainingClips([_seq(500), _seq(300, seed=1)], frames=243, flip=False, random_offset=True, seed=5)
    starts = []
    for epoch in range(6):
        clips.set_epoch(epoch)
        again.set_epoch(epoch)
        np.testing.assert_array_equal(clips.pairs, again.pairs)
        starts.append(tuple(clips.pairs[:, 1]))
        for si, T in enumerate([500, 300]):
            rows = clips.pairs[clips.pairs[:, 0] == si]
            frames = np.concatenate([np.arange(s, e) for _, s, e, _ in rows])
            assert np.array_equal(np.sort(frames[(frames >= 0) & (frames < T)]), np.arange(T))
    assert len(set(starts)) > 1


@pytest.mark.parametrize("T,F", [(500, 243), (486, 243), (243, 243), (1000, 81), (7, 4)])
def test_windows_weights_sum_to_one(T, F):
    w = make_windows(T, F)
    total = np.zeros(T)
    np.add.at(total, w.frame_index()[w.mask], w.weights[w.mask])
    assert np.array_equal(total, np.ones(T))  # exactly one per frame
    assert w.num_windows == -(-T // F)
    assert w.starts[-1] == T - F and np.all(w.weights[~w.mask] == 0)


def test_windows_official_overlap_double_counts():
    w = make_windows(500, 243, official_overlap=True)
    assert w.starts.tolist() == [0, 243, 257]
    assert w.weights.sum() == 3 * 243  # frames 257..485 counted twice (official)
    d = make_windows(500, 243)
    assert d.weights.sum() == 500
    np.testing.assert_allclose(d.weights[2, :229], 0.5)


def test_short_sequence_padded_and_masked():
    w = make_windows(100, 243)
    assert w.num_windows == 1 and w.mask[0].sum() == 100 and w.weights.sum() == 100
    x = np.arange(100.0)
    cut = cut_windows(x, w)
    assert cut.shape == (1, 243) and np.all(cut[0, 100:] == 99)


@pytest.mark.parametrize("official", [False, True])
def test_stitch_roundtrip(official):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 17, 3)).astype(np.float32)
    w = make_windows(500, 243, official_overlap=official)
    np.testing.assert_allclose(stitch_windows(cut_windows(x, w), w), x, atol=1e-6)
    xt = torch.from_numpy(x)
    out = stitch_windows(cut_windows(xt, w), w)
    assert isinstance(out, torch.Tensor)
    torch.testing.assert_close(out, xt)
    # overlapping predictions are averaged
    pred = np.zeros((3, 243, 1))
    pred[2] = 1.0
    st = stitch_windows(pred, w)
    assert st[300, 0] == 0.5 and st[490, 0] == 1.0 and st[10, 0] == 0.0
    with pytest.raises(InputError):
        stitch_windows(np.zeros((2, 243, 1)), w)


def test_stride_windows_and_sequence_windows():
    w = make_windows(100, 20, stride=10)
    total = np.zeros(100)
    np.add.at(total, w.frame_index()[w.mask], w.weights[w.mask])
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    seq = _seq(300)
    seq.valid[:10] = False
    out = sequence_windows(seq, 243)
    assert out["x2d"].shape == (2, 243, 17, 2) and out["x3d"].shape == (2, 243, 17, 3)
    assert out["weights"].sum() == pytest.approx(290)
    assert out["action"] == "Walking 1" and out["camera"].shape == (9,)
