"""Text encoders: tokenizer ids, seeded init, warnings, freezing, causality, checkpoint loading."""
from __future__ import annotations

import argparse
import warnings

import pytest
import torch

from posediff import registry
from posediff.errors import CheckpointError, InputError
from posediff.text_encoders import clip_tower
from posediff.text_encoders.offline import OfflineTextEncoder
from posediff.text_encoders.open_clip import OpenCLIPTextEncoder

import open_clip  # noqa: E402,F401  (a required dependency: missing it is a failure, not a skip)

SMALL = dict(width=32, layers=2, heads=2)


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    monkeypatch.setattr(clip_tower, "_warned", set())


def _offline(**kw) -> OfflineTextEncoder:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return OfflineTextEncoder(**{**SMALL, **kw})


def test_registered():
    assert registry.get("text_encoder", "open_clip") is OpenCLIPTextEncoder
    assert registry.get("text_encoder", "offline") is OfflineTextEncoder


def test_tokenize_matches_clip_ids():
    enc = _offline()
    ids = enc.tokenize(["A person", "SittingDown", "Phoning", "speed"])
    assert ids.shape == (4, 77) and ids.dtype == torch.long
    assert ids[0, :5].tolist() == [49406, 320, 2533, 49407, 0]
    assert ids[1, :5].tolist() == [49406, 42988, 653, 1136, 49407]
    assert ids[2, :4].tolist() == [49406, 745, 5197, 49407]
    assert ids[3, :4].tolist() == [49406, 4163, 49407, 0]
    with pytest.raises(InputError):
        enc.tokenize("not a list")


def test_seeded_init_is_independent_of_global_rng():
    torch.manual_seed(1)
    a = _offline(seed=3)
    state = torch.get_rng_state()
    torch.manual_seed(99)
    b = _offline(seed=3)
    c = _offline(seed=4)
    for (k, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), k
    assert not torch.equal(a.tower.token_embedding.weight, c.tower.token_embedding.weight)
    torch.manual_seed(1)
    _offline(seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # construction does not consume the global RNG


def test_random_init_warns_once_per_process():
    with pytest.warns(UserWarning, match="NOT CLIP"):
        OfflineTextEncoder(**SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OfflineTextEncoder(**SMALL)  # second construction: silent
    with pytest.warns(UserWarning, match="NOT pretrained CLIP"):
        OpenCLIPTextEncoder(**SMALL)


def test_expect_external_weights_silences_the_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with clip_tower.expect_external_weights():
            OpenCLIPTextEncoder(**SMALL)


def test_frozen_stays_in_eval_and_passes_gradients_to_inputs():
    enc = _offline()
    assert not any(p.requires_grad for p in enc.parameters())
    enc.train()
    assert not enc.training and not enc.tower.training
    emb = enc.embed(enc.tokenize(["a person walking"])).detach().requires_grad_(True)
    enc.encode(emb).sum().backward()
    assert emb.grad is not None and emb.grad.abs().sum() > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainable = OpenCLIPTextEncoder(**SMALL, frozen=False)
    trainable.train()
    assert trainable.training and all(p.requires_grad for p in trainable.parameters())


def test_tower_is_causal_with_quickgelu():
    enc = _offline()
    emb = torch.randn(1, 77, 32)
    out = enc.encode(emb)
    emb2 = emb.clone()
    emb2[:, 40:] += torch.randn(1, 37, 32)  # not a constant shift: LayerNorm would remove it
    out2 = enc.encode(emb2)
    torch.testing.assert_close(out[:, :40], out2[:, :40])
    assert (out[:, 40:] - out2[:, 40:]).abs().max() > 1e-3
    x = torch.linspace(-3, 3, 7)
    torch.testing.assert_close(enc.tower.transformer.resblocks[0].mlp.gelu(x), x * torch.sigmoid(1.702 * x))
    assert enc.tower.ln_final.eps == 1e-5
    with pytest.raises(InputError):
        enc.encode(torch.randn(1, 76, 32))


def _clip_state(enc) -> dict:
    sd = {k: v.clone() for k, v in enc.tower.state_dict().items()}
    sd["text_projection"] = torch.randn(32, 32)
    sd["logit_scale"] = torch.tensor(4.6)
    sd["visual.conv1.weight"] = torch.randn(4, 3, 2, 2)
    return sd


def test_open_clip_loads_local_weights(tmp_path):
    src = _offline(seed=7)
    path = tmp_path / "clip.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in _clip_state(src).items()}}, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # weights given: no random-init warning
        enc = OpenCLIPTextEncoder(weights=str(path), **SMALL)
    for k, v in src.tower.state_dict().items():
        assert torch.equal(enc.tower.state_dict()[k], v), k
    emb = enc.embed(enc.tokenize(["walking"]))
    torch.testing.assert_close(enc.encode(emb), src.encode(emb))


def test_open_clip_safetensors(tmp_path):
    import safetensors.torch as safetensors  # installed with open_clip_torch (a required dependency)
    src = _offline(seed=8)
    path = tmp_path / "clip.safetensors"
    safetensors.save_file({k: v.contiguous() for k, v in _clip_state(src).items()}, str(path))
    enc = OpenCLIPTextEncoder(weights=str(path), **SMALL)
    assert torch.equal(enc.tower.positional_embedding, src.tower.positional_embedding)


def test_open_clip_checkpoint_errors(tmp_path):
    src = _offline()
    sd = _clip_state(src)
    missing = dict(sd)
    del missing["ln_final.weight"], missing["transformer.resblocks.1.mlp.c_fc.bias"]
    torch.save(missing, tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="ln_final.weight") as info:
        OpenCLIPTextEncoder(weights=str(tmp_path / "missing.pt"), **SMALL)
    assert "resblocks.1.mlp.c_fc.bias" in str(info.value)
    torch.save(sd, tmp_path / "full.pt")
    with pytest.raises(CheckpointError, match="does not have"):  # 2-layer checkpoint, 1-layer tower
        OpenCLIPTextEncoder(weights=str(tmp_path / "full.pt"), width=32, layers=1, heads=2)
    with pytest.raises(CheckpointError, match="shape"):
        OpenCLIPTextEncoder(weights=str(tmp_path / "full.pt"), width=64, layers=2, heads=2)
    with pytest.raises(CheckpointError, match="not found"):
        OpenCLIPTextEncoder(weights=str(tmp_path / "nope.pt"), **SMALL)

    torch.save({"args": argparse.Namespace(lr=1.0)}, tmp_path / "pickle.pt")  # arbitrary pickled object
    with pytest.raises(CheckpointError, match="weights_only"):
        OpenCLIPTextEncoder(weights=str(tmp_path / "pickle.pt"), **SMALL)


def test_open_clip_refuses_hub_and_unknown_models():
    from posediff.errors import SpecError

    for name in ("hf-hub:someone/clip", "not-a-model", "local-dir:/tmp"):
        with pytest.raises(SpecError, match="never downloads"):
            OpenCLIPTextEncoder(model=name, **SMALL)


def test_plain_bpe_tokenizer_gives_open_clips_ids_without_importing_open_clip():
    """The first `posediff lift` spent most of its time importing open_clip (timm, torchvision) only to
    tokenize the prompts; the tokenizer module is now loaded on its own and must give the same ids."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from posediff.text_encoders.clip_tower import bpe_tokenizer\n"
        "tok = bpe_tokenizer('ViT-B-32')\n"
        "assert 'open_clip' not in sys.modules, 'open_clip was imported'\n"
        "print(type(tok).__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "posediff._open_clip_tokenizer"

    import open_clip

    from posediff.text_encoders.clip_tower import _plain_bpe_tokenizer

    texts = ["A person is walking.", "the left arm of a person who is Eating", "", "Photo!! 'smoking' WalkDog",
             "é ü 中文 😀 &amp; <b>html</b>", "word " * 100]
    ours = _plain_bpe_tokenizer()(texts, context_length=77)
    theirs = open_clip.get_tokenizer("ViT-B-32")(texts, context_length=77)
    assert torch.equal(ours, theirs)
