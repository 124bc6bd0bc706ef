"""The trainer's task contract (``Task``) and its common case: batches of variable-length
examples with little padding (``BucketedTask``)."""

from __future__ import annotations

import hashlib

import torch

from seqtext.configs import MAX_SEED
from seqtext.core import distributed


class Task:
    """What ``Trainer`` trains: a network, its data and its loss. Subclasses implement the first
    five methods; the others are hooks whose defaults do nothing.

    - ``batches(epoch, start)`` yields the epoch's batches from index ``start`` on, in an order
      that depends only on ``(epoch, seed)``, so that a resumed run sees the same batches;
    - ``loss(batch)`` returns the loss summed over this process's share of the batch and how
      many items (tokens, sentences, texts) it sums over; the trainer divides by the count over
      all processes, so N processes train exactly as one with the same global batch;
    - ``evaluate()`` returns metrics with a ``"loss"`` (lower is better) or a ``"score"``
      (higher is better, and chosen when both are there);
    - ``save(directory, metrics)`` writes the model directory for the current weights.
    """

    # True when ``on_epoch_start`` freezes parameters: several processes must then let DDP look
    # for parameters without gradients.
    freezes_parameters: bool = False

    def __init__(self, network: torch.nn.Module):
        self.network = network

    def steps_per_epoch(self) -> int:
        raise NotImplementedError

    def batches(self, epoch: int, start: int):
        raise NotImplementedError

    def loss(self, batch) -> tuple[torch.Tensor, int]:
        raise NotImplementedError

    def evaluate(self) -> dict:
        raise NotImplementedError

    def save(self, directory, metrics: dict) -> None:
        raise NotImplementedError

    def lr_groups(self) -> list:
        """``(parameters, scale)`` pairs: those train at the learning rate times ``scale``
        (discriminative learning rates); the others at the learning rate."""
        return []

    def on_epoch_start(self, epoch: int) -> None:
        """Called before each epoch's first batch (also on resuming in the middle of one); may
        freeze parameters by the epoch alone (gradual unfreezing, ``freezes_parameters``)."""

    def state_dict(self) -> dict:
        """Task state that a resumed run needs (the language model's carried hidden state)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Take back what ``state_dict`` gave."""

    def sample(self) -> str | None:
        """A look at progress, shown after each evaluation; None for nothing to show."""
        return None


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


class BucketedTask(Task):
    """A task over examples of varying length (sentences, texts): length-bucketed batches in an
    order fixed by (seed, epoch), so a resumed run sees the same batches (each batch is
    ``(indices, counts)``: this process's share and whether it counts), and saving ``model``
    (a ``SavedModel``) in ``weights_dtype``."""

    def __init__(self, model, lengths: list[int], batch_size: int, seed: int, weights_dtype: str):
        super().__init__(model.network)
        self.model = model
        self.lengths = lengths
        self.batch_size = batch_size
        self.seed = seed
        self.weights_dtype = weights_dtype

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
