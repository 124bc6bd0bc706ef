"""Batches of variable-length examples with little padding."""

from __future__ import annotations

import hashlib

import torch

from seqtext.configs import MAX_SEED
from seqtext.core import distributed


def bucketed_batches(lengths: list[int], batch_size: int, generator: torch.Generator) -> list[list[int]]:
    """Index batches of similar length: shuffle, sort inside windows of 50 batches by length,
    cut into batches, shuffle the batches. Little padding, and still a new order every epoch."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    window = batch_size * 50
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lengths.__getitem__)
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


class BucketedTask:
    """The parts of a trainer task over examples of varying length (sentences, texts):
    length-bucketed batches in an order fixed by (seed, epoch), so a resumed run sees the same
    batches (each batch is ``(indices, counts)``: this process's share and whether it counts),
    and saving the model held in ``self.model``. Subclasses set ``model``,
    ``network``, ``lengths``, ``batch_size``, ``seed`` and ``weights_dtype``."""

    def steps_per_epoch(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def batches(self, epoch: int, start: int):
        generator = torch.Generator().manual_seed(mix_seed(self.seed, epoch))
        for batch in bucketed_batches(self.lengths, self.batch_size, generator)[start:]:
            # Several processes: each takes its share of the same global batch. A share can be
            # empty at an epoch's short last batch; that rank still steps (DDP needs every rank)
            # on one example whose loss counts zero.
            share = distributed.shard(batch)
            yield (share, True) if share else (batch[:1], False)

    def save(self, directory, metrics: dict) -> None:
        self.model.save(directory, metrics, weights_dtype=self.weights_dtype)
        self.network.train()


def mix_seed(seed: int, *parts: int) -> int:
    """A seed for one (epoch, step, ...) of a run, from the run's seed: any seed in range gives
    a valid torch seed, and different parts give unrelated streams."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & MAX_SEED
