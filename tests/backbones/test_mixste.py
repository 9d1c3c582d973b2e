"""MixSTEBackbone: shapes, hook points and their layout, conditioning, errors, autocast."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from posediff import registry
from posediff.backbones.mixste import MixSTEBackbone
from posediff.errors import InputError, SpecError
from posediff.interfaces import Conditioning

N, T, J, C = 4, 9, 17, 32


def _net(**kw) -> MixSTEBackbone:
    torch.manual_seed(0)
    net = MixSTEBackbone(dim=C, frames=T, joints=J, depth=kw.pop("depth", 2), heads=4, **kw).eval()
    with torch.no_grad():  # non-zero positional embeddings so that their placement is tested
        net.spatial_pos.normal_(0, 0.1)
        net.temporal_pos.normal_(0, 0.1)
    return net


def _inputs(n: int = N):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, T, J, 2, generator=g), torch.randn(n, T, J, 3, generator=g), torch.randint(0, 1000, (n,), generator=g)


def _reference(net: MixSTEBackbone, x2d, y_t, t, vector=None, sites=None):
    """Plain re-statement of the official MixSTE2 forward (reference §2.2), explicit rearranges."""
    sites = sites or {}
    n = x2d.shape[0]

    def block(b, x):
        h = F.layer_norm(x, (C,), b.norm1.weight, b.norm1.bias, net.norm_eps)
        qkv = F.linear(h, b.attn.qkv.weight, b.attn.qkv.bias).reshape(x.shape[0], x.shape[1], 3, 4, C // 4)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-2, -1) * (C // 4) ** -0.5).softmax(-1)
        x = x + b.attn.proj((a @ v).transpose(1, 2).reshape(x.shape))
        h = F.layer_norm(x, (C,), b.norm2.weight, b.norm2.bias, net.norm_eps)
        return x + b.mlp.fc2(F.gelu(b.mlp.fc1(h)))

    half = C // 2
    freqs = torch.exp(torch.arange(half) * -(torch.log(torch.tensor(10000.0)) / (half - 1)))
    e = t.float()[:, None] * freqs[None]
    temb = net.time_embed.fc2(F.gelu(net.time_embed.fc1(torch.cat([e.sin(), e.cos()], -1))))
    v = temb if vector is None else temb + vector.repeat_interleave(n // vector.shape[0], 0)
    x = net.embed(torch.cat([x2d, y_t], -1)) + net.spatial_pos + v[:, None, None]
    x = x.reshape(n * T, J, C)
    for i in range(net.depth):
        x = net.spatial_norm(block(net.spatial_blocks[i], x))
        x = x.reshape(n, T, J, C).permute(0, 2, 1, 3).reshape(n * J, T, C)
        if f"spatial.{i}" in sites:
            x = sites[f"spatial.{i}"](x, None, v)
        if i == 0:
            x = x + net.temporal_pos
        x = net.temporal_norm(block(net.temporal_blocks[i], x))
        if f"temporal.{i}" in sites:
            x = sites[f"temporal.{i}"](x, None, v)
        x = x.reshape(n, J, T, C).permute(0, 2, 1, 3).reshape(n * T, J, C)
    x = net.head(net.head_norm(x))
    return x.reshape(n, T, J, 3)


def test_registered():
    assert registry.get("backbone", "mixste") is MixSTEBackbone


def test_shapes_and_hook_points():
    net = _net(depth=3)
    assert net.hook_points == ("spatial.0", "spatial.1", "spatial.2", "temporal.0", "temporal.1", "temporal.2")
    assert MixSTEBackbone.hook_points_for({"depth": 2}) == ("spatial.0", "spatial.1", "temporal.0", "temporal.1")
    x2d, y_t, t = _inputs()
    out = net(x2d, y_t, t, Conditioning(), {})
    assert out.shape == (N, T, J, 3) and out.is_contiguous()


def test_matches_plain_reference():
    net = _net()
    x2d, y_t, t = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(net(x2d, y_t, t), _reference(net, x2d, y_t, t), atol=2e-5, rtol=1e-5)


def test_official_constants():
    net = _net()
    blk = net.spatial_blocks[0]
    assert blk.norm1.eps == 1e-6 and net.spatial_norm.eps == 1e-6 and net.temporal_norm.eps == 1e-6
    assert net.head_norm.eps == 1e-5
    assert blk.mlp.act.approximate == "none"
    assert blk.attn.scale == pytest.approx((C // 4) ** -0.5)
    full = MixSTEBackbone(dim=512, frames=3, joints=17, depth=8)
    assert full.spatial_blocks[0].mlp.fc1.out_features == 1024 and full.spatial_blocks[0].attn.qkv.bias is not None
    rates = [b.drop_path.p for b in full.temporal_blocks]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.1) and rates[1] == pytest.approx(0.1 / 7)
    assert full.embed.in_features == 5


def test_sites_see_sample_joint_rows_in_order():
    """Every hook point is called in the official order with ((N·J), T, C) tokens; a row-dependent
    site placed at spatial and temporal hooks gives the same result as the plain reference."""
    net = _net()
    bias = torch.randn(N * J, 1, C)
    calls = []

    def site(name):
        def fn(x, cond, v):
            calls.append((name, tuple(x.shape), tuple(v.shape)))
            return x * 1.5 + bias
        return fn

    sites = {name: site(name) for name in net.hook_points}
    x2d, y_t, t = _inputs()
    with torch.no_grad():
        out = net(x2d, y_t, t, Conditioning(), sites)
        calls_net = list(calls)
        ref = _reference(net, x2d, y_t, t, sites=sites)
    assert [c[0] for c in calls_net] == ["spatial.0", "temporal.0", "spatial.1", "temporal.1"]
    assert all(c[1] == (N * J, T, C) and c[2] == (N, C) for c in calls_net)
    torch.testing.assert_close(out, ref, atol=5e-5, rtol=1e-5)


def test_conditioning_vector_broadcast_over_hypotheses():
    """cond.vector (Bc, C) is added to F(t) for rows n // K (sample-major)."""
    net = _net()
    x2d, y_t, t = _inputs()
    vec = torch.randn(2, C)  # Bc = 2 clips, K = 2 rows each
    with torch.no_grad():
        out = net(x2d, y_t, t, Conditioning(vector=vec))
        ref = _reference(net, x2d, y_t, t, vector=vec)
        plain = net(x2d, y_t, t, Conditioning())
    torch.testing.assert_close(out, ref, atol=2e-5, rtol=1e-5)
    assert (out - plain).abs().max() > 1e-3


def test_drop_path_only_in_training():
    net = _net(drop_path=0.5)
    x2d, y_t, t = _inputs()
    with torch.no_grad():
        a, b = net(x2d, y_t, t), net(x2d, y_t, t)
        torch.testing.assert_close(a, b)
        net.train()
        torch.manual_seed(3)
        c = net(x2d, y_t, t)
    assert (a - c).abs().max() > 1e-4


@pytest.mark.parametrize(
    "change",
    [
        lambda x, y, t: (x[:, :5], y[:, :5], t),          # wrong frame count
        lambda x, y, t: (x[:, :, :16], y[:, :, :16], t),  # wrong joint count
        lambda x, y, t: (x, y[..., :2], t),               # wrong channels
        lambda x, y, t: (x, y, t[:2]),                    # one t per row
        lambda x, y, t: (x[0], y[0], t),                  # missing batch dimension
    ],
)
def test_bad_inputs_raise_input_error(change):
    net = _net()
    with pytest.raises(InputError):
        net(*change(*_inputs()))


def test_bad_params_raise_spec_error():
    with pytest.raises(SpecError, match="divisible"):
        MixSTEBackbone(dim=30, frames=T, joints=J, heads=4)
    assert MixSTEBackbone.check_params({"dim": 32, "heads": 4, "depth": 0})


def test_bf16_autocast_runs_close():
    net = _net()
    x2d, y_t, t = _inputs()
    with torch.no_grad():
        ref = net(x2d, y_t, t)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(x2d, y_t, t)
    assert torch.isfinite(out).all()
    assert (out.float() - ref).abs().max() < 0.1 * ref.abs().max()


def test_gradients_reach_every_parameter():
    net = _net()
    net.train()
    x2d, y_t, t = _inputs()
    net(x2d, y_t, t, Conditioning(vector=torch.randn(N, C))).square().mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_bad_conditioning_vector():
    net = _net()
    with pytest.raises(InputError, match="cond.vector"):
        net(*_inputs(), Conditioning(vector=torch.randn(3, C)))


def test_mlp_ratio_that_leaves_no_hidden_unit_is_a_spec_error():
    # found by tests/reliability/test_fuzz_specs.py: d3dp-tiny with mlp_ratio 1e-08 built a zero-width MLP,
    # which crashed deep inside oneDNN in bf16 ("could not create a primitive descriptor")
    import posediff

    with pytest.raises(SpecError, match=r"mlp_ratio must give at least one hidden unit .* got 1e-08"):
        posediff.build("d3dp-tiny", overrides={"lifter.precision": "bf16", "backbone.mlp_ratio": 1e-8})
    assert MixSTEBackbone.check_params({"dim": 64, "heads": 4, "mlp_ratio": 1 / 64}) == []
