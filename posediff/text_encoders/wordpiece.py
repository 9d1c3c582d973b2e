"""BERT's uncased WordPiece tokenizer, read from a ``vocab.txt`` (no ``tokenizers``/``transformers`` needed).

Two stages, as BERT's reference tokenizer: a *basic* split (clean control characters, put spaces around
CJK characters, lower-case, strip accents, split on whitespace and punctuation) and a greedy
longest-match-first *WordPiece* split of each word into vocabulary pieces (continuations carry ``##``).
"""
from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from ..errors import CheckpointError, InputError

__all__ = ["WordPieceTokenizer"]

_MAX_WORD_CHARS = 100  # longer words become [UNK], as in BERT


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    # ASCII non-alphanumeric printable characters count as punctuation, as in BERT ("$", "^", "`" ...).
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


class WordPieceTokenizer:
    """Uncased BERT tokenizer: ``encode(text, length)`` → ``[CLS] pieces… [SEP] [PAD]…`` ids.

    Args:
        vocab_file: ``vocab.txt``, one piece per line; the line number is the id.
        lower_case: Lower-case and strip accents (uncased models).

    Example:
        >>> import tempfile, pathlib
        >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "person", "walk", "##ing", ","]
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
        >>> _ = path.write_text("\\n".join(vocab) + "\\n")
        >>> tok = WordPieceTokenizer(path)
        >>> tok.pieces("A person, walking")
        ['a', 'person', ',', 'walk', '##ing']
        >>> tok.encode("A person walking", 8)
        [2, 4, 5, 6, 7, 3, 0, 0]
    """

    def __init__(self, vocab_file: str | Path, lower_case: bool = True) -> None:
        path = Path(vocab_file)
        if not path.is_file():
            raise CheckpointError(f"vocab_file: WordPiece vocabulary not found: {str(path)!r}")
        lines = path.read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        self.vocab = {piece: i for i, piece in enumerate(lines)}
        missing = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]") if t not in self.vocab]
        if missing:
            raise CheckpointError(f"vocab_file: {path.name} lacks the special tokens {missing}")
        self.lower_case = lower_case
        self.pad_id = self.vocab["[PAD]"]
        self.unk_id = self.vocab["[UNK]"]
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]

    def __len__(self) -> int:
        return len(self.vocab)

    # ------------------------------------------------------------------ basic split
    def _words(self, text: str) -> list[str]:
        chars = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            if _is_cjk(cp):
                chars.append(f" {ch} ")
            elif ch.isspace() or unicodedata.category(ch) == "Zs":
                chars.append(" ")
            else:
                chars.append(ch)
        words = []
        for word in "".join(chars).split():
            if self.lower_case:
                word = "".join(c for c in unicodedata.normalize("NFD", word.lower())
                               if unicodedata.category(c) != "Mn")
            current = ""
            for ch in word:
                if _is_punctuation(ch):
                    if current:
                        words.append(current)
                    words.append(ch)
                    current = ""
                else:
                    current += ch
            if current:
                words.append(current)
        return words

    # ------------------------------------------------------------------ WordPiece split
    def _word_pieces(self, word: str) -> list[str]:
        if len(word) > _MAX_WORD_CHARS:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            if end == start:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def pieces(self, text: str) -> list[str]:
        """The vocabulary pieces of ``text`` (no special tokens)."""
        if not isinstance(text, str):
            raise InputError(f"text: expected a string; got {type(text).__name__}")
        return [p for word in self._words(text) for p in self._word_pieces(word)]

    def encode(self, text: str, length: int) -> list[int]:
        """``[CLS] pieces… [SEP]`` padded with ``[PAD]`` (or truncated, keeping ``[SEP]``) to ``length`` ids."""
        if length < 2:
            raise InputError(f"length: expected at least 2 (room for [CLS] and [SEP]); got {length}")
        ids = [self.vocab.get(p, self.unk_id) for p in self.pieces(text)][: length - 2]
        ids = [self.cls_id, *ids, self.sep_id]
        return ids + [self.pad_id] * (length - len(ids))

    def batch(self, texts: Sequence[str], length: int) -> Tensor:
        """``(N, length)`` long ids of ``texts`` (see :meth:`encode`)."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise InputError(f"texts: expected a list of strings; got {type(texts).__name__}")
        return torch.tensor([self.encode(t, length) for t in texts], dtype=torch.long).reshape(len(texts), length)
