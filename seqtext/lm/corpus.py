"""A language model's corpus as a compact token-id stream on disk: encoded piece by piece,
turned right to left for a backward model, split for validation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqtext.configs import lm_unit_for
from seqtext.core import modeldir
from seqtext.core.files import corpus_size
from seqtext.errors import DataError
from seqtext.text.tokenizers import BOS, EOS, Tokenizer


def auto_unit(patterns) -> str:
    """The token unit ``train lm --tokenizer auto`` takes for the training files ``patterns``."""
    return lm_unit_for(corpus_size(patterns))


def encode_documents(pieces, tokenizer: Tokenizer, path: Path, backward: bool = False) -> np.ndarray:
    """Encode streamed ``(text, starts, ends)`` pieces into the id file ``path`` (each document
    framed as ``<bos> ... <eos>``), chunk by chunk, and return it memory-mapped; ``backward``
    turns every document right to left (``reverse_ids``). A write that fails (a full disk) is
    one SeqtextError naming ``path``, and no part of the file is left behind."""
    dtype = id_dtype(tokenizer.vocab_size)
    path = Path(path)
    with modeldir.writing(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
    with modeldir.atomic_path(path) as tmp:
        with modeldir.writing(path):
            out = open(tmp, "wb")
        with out:
            written = 0
            for framed in _framed(pieces, tokenizer):  # reading the corpus: outside the write guard
                with modeldir.writing(path):
                    framed.astype(dtype).tofile(out)
                written += len(framed)
        if written == 0:
            raise DataError("no text found in the corpus")
    if backward:
        return reverse_ids(path, dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def _framed(pieces, tokenizer: Tokenizer, block_chars: int = 1 << 20):
    """The ids of streamed ``(text, starts, ends)`` pieces, each document framed as ``<bos> ...
    <eos>``, in arrays of about ``block_chars`` characters: pieces that are whole documents (the
    lines of a line-based corpus) are encoded together (``Tokenizer.encode_lines``)."""
    encode = getattr(tokenizer, "encode_array", None) or tokenizer.encode
    lines, size = [], 0
    for text, starts, ends in pieces:
        if starts and ends:
            lines.append(text)
            size += len(text)
            if size >= block_chars:
                yield tokenizer.encode_lines(lines)
                lines, size = [], 0
            continue
        if lines:
            yield tokenizer.encode_lines(lines)
            lines, size = [], 0
        ids = np.asarray(encode(text), dtype=np.int64)
        yield np.concatenate([np.full(int(starts), BOS, np.int64), ids, np.full(int(ends), EOS, np.int64)])
    if lines:
        yield tokenizer.encode_lines(lines)


def reverse_ids(path: Path, dtype: np.dtype, chunk: int = 1 << 22) -> np.ndarray:
    """Rewrite the id file ``path`` right to left, chunk by chunk, with <bos> and <eos> swapped,
    so that every document still reads ``<bos> ... <eos>``: the corpus of a backward model."""
    path = Path(path)
    source = np.memmap(path, dtype=dtype, mode="r")
    with modeldir.atomic_path(path) as tmp:
        with modeldir.writing(path), open(tmp, "wb") as out:
            for end in range(len(source), 0, -chunk):
                piece = np.array(source[max(0, end - chunk) : end][::-1])
                bos, eos = piece == BOS, piece == EOS
                piece[bos], piece[eos] = EOS, BOS
                piece.tofile(out)
        del source  # let go of the old file before it is replaced
    return np.memmap(path, dtype=dtype, mode="r")


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type that holds every id."""
    return np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.uint32)


def split_stream(ids: np.ndarray, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """First ``1 - val_fraction`` of the stream for training, the rest for validation."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must be between 0 and 1, not {val_fraction}")
    cut = int(round(len(ids) * (1.0 - val_fraction)))
    return ids[:cut], ids[cut:]
