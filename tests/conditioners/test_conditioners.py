"""Prompt conditioners: FPP layout, pooling, labels, caching, gradients, and the M/S/C/AL/none variants."""
from __future__ import annotations

import warnings

import pytest
import torch

from posediff import registry
from posediff.conditioners.coarse import CoarsePromptConditioner
from posediff.conditioners.fpp import H36M_ACTIONS, FPPConditioner
from posediff.conditioners.learnable import LearnablePromptConditioner
from posediff.conditioners.manual import H36M_SENTENCES, ManualConditioner
from posediff.conditioners.none import NoneConditioner
from posediff.conditioners.single import SinglePromptConditioner
from posediff.errors import InputError, SpecError
from posediff.text_encoders.offline import OfflineTextEncoder

import open_clip  # noqa: E402,F401  (a required dependency: missing it is a failure, not a skip)

W, DIM = 32, 16
HEAD = dict(adapter_layers=1, adapter_heads=2, adapter_ff=64)


@pytest.fixture(scope="module")
def encoder() -> OfflineTextEncoder:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return OfflineTextEncoder(width=W, layers=1, heads=2, seed=5)


def _fpp(encoder, cls=FPPConditioner, **kw):
    torch.manual_seed(0)
    return cls(text_encoder=encoder, dim=DIM, **{**HEAD, **kw}).eval()


def test_registered():
    for name, cls in [("fpp", FPPConditioner), ("manual", ManualConditioner), ("single", SinglePromptConditioner),
                      ("coarse", CoarsePromptConditioner), ("learnable", LearnablePromptConditioner),
                      ("none", NoneConditioner)]:
        assert registry.get("conditioner", name) is cls


def test_fpp_shapes_and_dims(encoder):
    cond = _fpp(encoder)
    out = cond(["Walking 1", "SittingDown", None], 3)
    assert out.tokens.shape == (3, 77, W) and out.vector.shape == (3, DIM)
    assert cond.token_dim == W and cond.vector_dim == DIM
    assert [m.shape[0] for m in cond.modifiers] == [3, 8, 6, 6, 6, 10, 10]
    assert 0.01 < torch.cat(list(cond.modifiers)).std() < 0.03  # N(0, 0.02²)


def test_fpp_prompt_layout(encoder):
    """[r_k ; token_emb(first 4 ids of text_k)] in block order; SittingDown loses its EOT."""
    cond = _fpp(encoder)
    emb = cond.prompt_embeddings(["SittingDown"])[0]
    tok = encoder.tower.token_embedding.weight
    pos = 0
    for part, mod in zip(cond.parts, cond.modifiers):
        text = part.replace("{action}", "SittingDown")
        ids = encoder.tokenize([text])[0, :4]
        torch.testing.assert_close(emb[pos:pos + len(mod)], mod)
        torch.testing.assert_close(emb[pos + len(mod):pos + len(mod) + 4], tok[ids])
        pos += len(mod) + 4
    assert pos == 77
    assert encoder.tokenize(["SittingDown"])[0, :4].tolist() == [49406, 42988, 653, 1136]


def test_fpp_pool_index_is_action_eot(encoder):
    cond = _fpp(encoder)
    assert cond.pool_indices(["Walking", "Phoning", "SittingDown", None]).tolist() == [2, 3, 4, 1]
    out = cond(["Phoning"], 1)
    torch.testing.assert_close(out.vector[0], cond.pool_proj(out.tokens[0, 3]))
    fixed = _fpp(encoder, pool="fixed", pool_index=10)
    out = fixed(["Phoning"], 1)
    torch.testing.assert_close(out.vector[0], fixed.pool_proj(out.tokens[0, 10]))


def test_labels(encoder):
    cond = _fpp(encoder)
    a, b, c = cond(["Walking 1", "walking", "Walking"], 3).tokens
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)
    with pytest.raises(InputError, match="Directions"):
        cond(["Dancing"], 1)
    with pytest.raises(InputError, match="3 labels"):
        cond(["Walking"], 3)
    neutral = cond(None, 2)
    torch.testing.assert_close(neutral.tokens[0], cond([None], 1).tokens[0])
    assert (neutral.tokens[0] - a).abs().max() > 1e-4
    whole = cond("Eating 2", 2)
    torch.testing.assert_close(whole.tokens[1], cond(["Eating"], 1).tokens[0])
    free = _fpp(encoder, actions=[])
    assert free.prompt_key("Jumping jacks 3") == "Jumping jacks"
    assert free(["Dancing"], 1).tokens.shape == (1, 77, W)
    assert H36M_ACTIONS[0] == "Directions" and len(H36M_ACTIONS) == 15


def test_cache_computes_each_prompt_once(encoder, monkeypatch):
    cond = _fpp(encoder)
    calls = []
    real = cond.compute
    monkeypatch.setattr(cond, "compute", lambda keys: calls.append(list(keys)) or real(keys))
    first = cond(["Walking", "Eating", "Walking"], 3)
    again = cond(["Eating", "Walking"], 2)
    assert calls == [["Walking", "Eating"]]
    torch.testing.assert_close(again.tokens[1], first.tokens[0])
    uncached = _fpp(encoder, cache=False)
    uncached.load_state_dict(cond.state_dict())
    torch.testing.assert_close(uncached(["Walking", "Eating", "Walking"], 3).tokens, first.tokens)
    # an in-place parameter update (optimizer step, load_state_dict) invalidates the cache
    with torch.no_grad():
        cond.pool_proj.bias.add_(1.0)
    torch.testing.assert_close(cond(["Walking"], 1).vector[0], first.vector[0] + 1.0)
    assert len(calls) == 2


def test_training_bypasses_cache_and_gradients(encoder):
    trained = _fpp(encoder, train_modifiers=True).train()
    trained(["Walking", "Eating"], 2).tokens.square().sum().backward()
    assert all(m.grad is not None and m.grad.abs().sum() > 0 for m in trained.modifiers)
    assert all(p.grad is None for p in trained.text_encoder.parameters())
    assert not trained.text_encoder.training
    official = _fpp(encoder, train_modifiers=False).train()
    out = official(["Walking", "Eating"], 2)
    (out.tokens.square().sum() + out.vector.sum()).backward()
    assert all(not m.requires_grad and m.grad is None for m in official.modifiers)
    assert official.adapter.layers[0].linear1.weight.grad is not None
    assert official.pool_proj.weight.grad is not None
    assert len(official._cache) == 0 and len(official._text_cache) == 2  # frozen tower output reused


def test_3dhp_prompt_is_constant(encoder):
    cond = _fpp(encoder, parts=["A person", "speed", "head", "body", "arm", "leg"],
                lengths=[9, 12, 12, 12, 16, 16], pool="fixed", pool_index=76)
    out = cond(["anything", None], 2)
    torch.testing.assert_close(out.tokens[0], out.tokens[1])
    torch.testing.assert_close(out.vector[0], cond.pool_proj(out.tokens[0, 76]))
    assert [m.shape[0] for m in cond.modifiers] == [5, 8, 8, 8, 12, 12]


def test_fpp_spec_checks(encoder):
    with pytest.raises(SpecError, match="same length"):
        _fpp(encoder, lengths=[7, 12])
    with pytest.raises(SpecError, match="at most 77"):
        _fpp(encoder, lengths=[7, 12, 10, 10, 10, 14, 15])
    with pytest.raises(SpecError, match="action_eot"):
        _fpp(encoder, parts=["A person"], lengths=[7])
    assert FPPConditioner.check_params({"parts": ["a"], "lengths": [3], "pool": "fixed"})


def test_coarse_pads_with_token_zero(encoder):
    cond = _fpp(encoder, CoarsePromptConditioner)
    emb = cond.prompt_embeddings(["Walking"])[0]
    pad = encoder.tower.token_embedding.weight[0]
    torch.testing.assert_close(emb[29:], pad.expand(48, W))
    assert cond(["Walking"], 1).tokens.shape == (1, 77, W)


def test_single_prompt(encoder):
    cond = _fpp(encoder, SinglePromptConditioner)
    assert [m.shape[0] for m in cond.modifiers] == [73] and cond.modifier_length == 73
    emb = cond.prompt_embeddings(["Walking"])[0]
    ids = encoder.tokenize(["Walking"])[0, :4]
    torch.testing.assert_close(emb[73:], encoder.tower.token_embedding.weight[ids])
    assert cond(["Walking", "Eating"], 2).vector.shape == (2, DIM)


def test_learnable_prompt_ignores_labels(encoder):
    cond = _fpp(encoder, LearnablePromptConditioner)
    assert [m.shape[0] for m in cond.modifiers] == [77]
    out = cond(["Walking", "Eating"], 2)
    torch.testing.assert_close(out.tokens[0], out.tokens[1])
    torch.testing.assert_close(cond.prompt_embeddings([""])[0], cond.modifiers[0])


def test_manual_prompt(encoder):
    cond = _fpp(encoder, ManualConditioner)
    assert len(H36M_SENTENCES) == 15 and H36M_SENTENCES[0] == "a person is pointing directions with hands"
    ids = encoder.tokenize([H36M_SENTENCES[0]])[0]
    torch.testing.assert_close(cond.prompt_embeddings(["Directions"])[0], encoder.tower.token_embedding.weight[ids])
    out = cond(["Directions 1"], 1)
    eot = int(ids.argmax())
    assert eot == len(H36M_SENTENCES[0].split()) + 1
    torch.testing.assert_close(out.vector[0], cond.pool_proj(out.tokens[0, eot]))
    with pytest.raises(InputError):
        cond(["Dancing"], 1)
    assert cond([None], 1).tokens.shape == (1, 77, W)
    with pytest.raises(SpecError):
        _fpp(encoder, ManualConditioner, sentences=["only one"])


def test_none_conditioner():
    cond = NoneConditioner()
    out = cond(["Walking"], 1)
    assert out.tokens is None and out.vector is None and cond.token_dim == 0


def test_inference_mode_cache_is_usable_with_autograd(encoder):
    cond = _fpp(encoder)
    with torch.inference_mode():
        cond(["Walking"], 1)
    x = torch.randn(DIM, requires_grad=True)
    (cond(["Walking"], 1).vector[0] * x).sum().backward()  # cached inference tensors are recomputed
    assert x.grad is not None


def test_cache_cleared_when_moved(encoder):
    cond = _fpp(encoder)
    cond(["Walking"], 1)
    assert cond._cache
    cond.to(torch.float64)
    assert not cond._cache and not cond._text_cache
    assert cond(["Walking"], 1).tokens.dtype == torch.float64
