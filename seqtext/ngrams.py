"""The classifier's "wide" path: a linear model over the text's unigrams and bigrams, whose class
scores are added to the recurrent network's (fastText-style features, trained jointly).

Why: a recurrent network learnt from scratch is starved on a corpus of a few thousand texts,
where a linear model over n-grams is not (SST-2, 1,000 sentences: Bi-GRU 63.5 % against bigram
TF-IDF + logistic regression 70.0 %). With this path the network starts as such a linear model
and the recurrent part adds what word order and context give on top.

Features come from the token ids alone, so they need no tokenizer of their own and run wherever
the network runs (the export too): each token id is a unigram feature, and each pair of adjacent
ids is hashed into one of ``buckets`` bigram features by a fixed arithmetic hash (never Python's
``hash``, which changes from process to process). Each feature is weighted by its inverse
document frequency in the training texts (a saved buffer; features never seen in training weigh
0, as n-grams outside TfidfVectorizer's vocabulary do), and a text's weights are scaled to unit
length, as TF-IDF's are. The weights are regularised like logistic regression's (an L2 penalty
that ``penalty`` gives to the training loss), and a share of the features is dropped at random in
training (n-gram dropout), so that the path cannot learn the training set by heart before the
recurrent part has learnt anything.

Shapes: B batch, T tokens, F = 2T - 1 features, C classes.
"""

from __future__ import annotations

import torch
from torch import nn

MAX_ID = 2**31  # token ids below this keep the bigram hash exact in int64

# How the path learns; the study in benchmarks/classifier_defaults.py chose them.
L2_C = 1.0  # the inverse penalty strength, as logistic regression's C: penalty |w|^2 / (2 C N)
LEARNING_SCALE = 10.0  # weights are this times the parameters: the path learns this many times faster
FEATURE_DROPOUT = 0.2  # share of a text's features dropped at random in training
LOSS = "separate"

# Bucket count by default: a budget of weights (buckets x classes), as a power of two.
BUCKET_BUDGET = 2**19
MIN_BUCKETS, MAX_BUCKETS = 2**14, 2**18


def default_buckets(num_classes: int) -> int:
    """Bigram buckets for a model with ``num_classes`` classes: 2**18 for two classes (SST-2's
    7k training sentences have 50k distinct bigrams), fewer as the classes multiply the weights."""
    buckets = MAX_BUCKETS
    while buckets > MIN_BUCKETS and buckets * max(1, num_classes) > BUCKET_BUDGET:
        buckets //= 2
    return buckets


def bigram_buckets(first: torch.Tensor, second: torch.Tensor, buckets: int) -> torch.Tensor:
    """The bucket (0 <= b < ``buckets``) of each pair of token ids: the same on every run,
    process and device. ``(a * 1,000,000,007 + b * 998,244,353) mod (2**31 - 1)``, then mod
    ``buckets``: with ids below 2**31 each product stays below 2**61 and the sum below 2**62, so
    int64 arithmetic is exact. (Numbers written out: TorchScript reads no module constants.)"""
    mixed = (first * 1000000007 + second * 998244353) % 2147483647
    return mixed % buckets


def ngram_features(ids: torch.Tensor, lengths: torch.Tensor, vocab_size: int, buckets: int):
    """ids (B, T) padded, lengths (B,) -> features (B, F) and mask (B, F) of the real ones.
    Unigram features are the ids themselves; bigram features ``vocab_size + bucket``."""
    steps = ids.size(1)
    positions = torch.arange(steps, device=ids.device)[None, :]
    lengths = lengths.to(ids.device)[:, None]
    unigram_mask = positions < lengths
    bigrams = vocab_size + bigram_buckets(ids[:, :-1], ids[:, 1:], buckets)  # (B, T - 1)
    bigram_mask = positions[:, 1:] < lengths
    return torch.cat([ids, bigrams], dim=1), torch.cat([unigram_mask, bigram_mask], dim=1)


class NgramLinear(nn.Module):
    """Class scores from a text's idf-weighted, length-normalised unigram and bigram features.

    The weights start at zero, so at first the path says nothing; ``fit_idf`` must see the
    training texts before training (until then every feature weighs 1)."""

    def __init__(self, vocab_size: int, buckets: int, num_classes: int):
        super().__init__()
        if not 0 < vocab_size <= MAX_ID:
            raise ValueError(f"n-gram features need a vocabulary of 1 to {MAX_ID} tokens, not {vocab_size}")
        self.vocab_size = vocab_size
        self.buckets = buckets
        self.scale = LEARNING_SCALE
        self.dropout = FEATURE_DROPOUT
        self.weight = nn.Parameter(torch.zeros(vocab_size + buckets, num_classes))
        self.register_buffer("idf", torch.ones(vocab_size + buckets))
        # How much the recurrent network's logits count beside this path's: chosen on the held-out
        # data at each evaluation (choose_recurrent_weight), saved with the model.
        self.register_buffer("recurrent_weight", torch.ones(()))

    def combine(self, recurrent: torch.Tensor, ngrams: torch.Tensor) -> torch.Tensor:
        """The classifier's logits from the recurrent network's and this path's (B, C)."""
        return self.recurrent_weight * recurrent + ngrams

    def feature_weights(self, ids: torch.Tensor, lengths: torch.Tensor):
        """features (B, F) and their weights (B, F): idf, 0 for padding (and for dropped
        features in training), each row scaled to unit length."""
        features, mask = ngram_features(ids, lengths, self.vocab_size, self.buckets)
        weights = self.idf[features] * mask.to(self.idf.dtype)
        if self.training and self.dropout > 0:
            keep = torch.rand(weights.shape, device=weights.device) >= self.dropout
            weights = weights * keep.to(weights.dtype)
        norm = weights.pow(2).sum(1, keepdim=True).sqrt().clamp(min=1e-6)
        return features, weights / norm

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids (B, T), lengths (B,) -> logits (B, C)."""
        features, weights = self.feature_weights(ids, lengths)
        return self.scale * (weights[:, :, None] * self.weight[features]).sum(1)

    def training_loss(self, recurrent: torch.Tensor, ngrams: torch.Tensor, criterion, num_examples: int) -> torch.Tensor:
        """The training loss of a classifier whose logits are ``recurrent + ngrams`` (``criterion``
        maps logits to the mean loss of the batch), with this path's L2 term."""
        if LOSS == "joint":
            loss = criterion(recurrent + ngrams)
        elif LOSS == "aux":
            loss = criterion(recurrent + ngrams) + criterion(ngrams)
        elif LOSS == "residual":
            loss = criterion(ngrams) + criterion(ngrams.detach() + recurrent)
        else:
            loss = criterion(ngrams) + criterion(recurrent)
        return loss + self.penalty(num_examples)

    def penalty(self, num_examples: int) -> torch.Tensor:
        """Logistic regression's L2 term per training example, ``|w|^2 / (2 C N)``: added to the
        mean training loss, it makes the path's optimum that of the regularised linear model."""
        return (self.scale * self.weight).pow(2).sum() / (2 * L2_C * max(1, num_examples))

    @torch.no_grad()
    def fit_idf(self, sequences: list[list[int]], batch_size: int = 1024) -> None:
        """Set the idf buffer from the training texts' token ids: ``ln((1 + N) / (1 + df)) + 1``
        (scikit-learn's smoothed idf) for features seen in training, 0 for the rest."""
        from seqtext.classifier import pad_batch

        total = self.vocab_size + self.buckets
        df = torch.zeros(total, dtype=torch.long)
        for start in range(0, len(sequences), batch_size):
            ids, lengths = pad_batch(sequences[start : start + batch_size])
            features, mask = ngram_features(ids, lengths, self.vocab_size, self.buckets)
            rows = torch.arange(features.size(0))[:, None].expand_as(features)
            present = torch.unique(rows[mask] * total + features[mask]) % total  # each feature once per text
            df += torch.bincount(present, minlength=total)
        n = len(sequences)
        idf = torch.log(torch.tensor((1.0 + n)) / (1.0 + df.double())) + 1.0
        idf[df == 0] = 0.0
        self.idf.copy_(idf.to(self.idf.dtype))


# Candidates for the recurrent network's weight, in order of preference on a tie.
RECURRENT_WEIGHTS = (1.0, 0.5, 2.0, 0.25, 4.0, 0.0)


@torch.no_grad()
def choose_recurrent_weight(model, examples, batch_size: int = 256) -> float:
    """Set ``model``'s recurrent weight to the candidate that scores best on ``examples`` (the
    held-out data that also chooses the epoch: accuracy, or micro-F1 for multi-label models) and
    return it. Few texts and a starved network: the linear path decides (weight 0); many texts:
    the network counts as much as the path or more."""
    from seqtext.classifier import pad_batch

    network = model.network.eval()
    index = {label: i for i, label in enumerate(model.labels)}
    parts = []
    for start in range(0, len(examples), batch_size):
        batch = examples[start : start + batch_size]
        ids, lengths = pad_batch([model.encode(e.text) for e in batch])
        parts.append(network.scores(ids.to(model.device), lengths))
    recurrent = torch.cat([r for r, _ in parts]).float().cpu()
    ngrams = torch.cat([n for _, n in parts]).float().cpu()
    gold = torch.zeros_like(recurrent, dtype=torch.bool)
    for row, example in enumerate(examples):
        for label in example.labels:
            column = index.get(model.label_aliases.get(label, label))
            if column is not None:
                gold[row, column] = True

    def score(weight: float) -> float:
        logits = weight * recurrent + ngrams
        if model.multi_label:
            chosen = logits >= 0
            hits = (chosen & gold).sum().item()
            return 2 * hits / max(1, chosen.sum().item() + gold.sum().item())
        return gold[torch.arange(len(logits)), logits.argmax(-1)].float().mean().item()

    best = max(RECURRENT_WEIGHTS, key=lambda w: (score(w), -RECURRENT_WEIGHTS.index(w)))
    network.ngrams.recurrent_weight.fill_(best)
    return best
