"""Pretrained word vectors from local files (word2vec text or GloVe); nothing is downloaded."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from seqtext.core.files import check_regular_file
from seqtext.errors import DataError


def read_vectors(path: str, vocabulary: dict[str, int], normalize=lambda word: word) -> tuple[dict[int, torch.Tensor], int]:
    """Vectors of the vocabulary's words from a word2vec text or GloVe file (the first line of
    word2vec, 'count dim', is skipped). File words pass through ``normalize`` before the look-up;
    the first vector found for a word wins. Returns {word id: vector} and the dimension. A vector
    read holding NaN or infinity is refused (training from it would diverge)."""
    found, dim = {}, None
    file = Path(path)
    check_regular_file(file, "embeddings file")
    with open(file, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            parts = line.rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue
            if len(parts) < 3:
                continue
            if dim is None:
                dim = len(parts) - 1
            elif len(parts) - 1 != dim:
                raise DataError(f"{path}, line {number}: {len(parts) - 1} numbers, expected {dim}")
            index = vocabulary.get(normalize(parts[0]))
            if index is not None and index not in found:
                try:
                    values = [float(x) for x in parts[1:]]
                except ValueError:
                    raise DataError(f"{path}, line {number}: not a number in the vector") from None
                bad = next((value for value in values if not math.isfinite(value)), None)
                if bad is not None:
                    raise DataError(f"{path}, line {number}: the vector of {parts[0]!r} holds {bad}; vectors must be finite numbers")
                found[index] = torch.tensor(values)
    if dim is None:
        raise DataError(f"{path}: no vectors found")
    return found, dim


def init_embedding(embedding: torch.nn.Embedding, vectors: dict[int, torch.Tensor]) -> None:
    """Copy the found vectors into the embedding rows of their words."""
    with torch.no_grad():
        for index, vector in vectors.items():
            embedding.weight[index] = vector
