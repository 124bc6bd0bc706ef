"""The classifier's "wide" path: a linear model over the text's binary unigram and hashed bigram
features (NB-weighted logistic regression, Wang and Manning 2012), fitted by scikit-learn before
the network trains and kept fixed; its class scores are added to the network's. Why, and the
figures behind each choice: docs/studies/ngrams.md.

Shapes: B batch, T tokens, F = 2T - 1 features, C classes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from seqtext.text.tokenizers import SPECIALS, pad_batch

MAX_ID = 2**31  # token ids below this keep the bigram hash exact in int64

# Logistic regression's C with and without spelling features, and the naive-Bayes smoothing
# (chosen by benchmarks/classifier_defaults.py; docs/studies/ngrams.md).
L2_C = 0.3
WORD_ONLY_L2_C = 1.0
NB_ALPHA = 1.0
SPELLING_NGRAMS = (2, 5)  # character n-gram lengths of the spelling features; None: none

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


def distinct_features(ids: torch.Tensor, lengths: torch.Tensor, vocab_size: int, buckets: int):
    """``ngram_features`` with each feature of a row once: features (B, F) sorted, and the mask
    of the first occurrence of each real one."""
    features, mask = ngram_features(ids, lengths, vocab_size, buckets)
    ordered = features.masked_fill(~mask, -1).sort(dim=1).values
    first = torch.ones_like(mask)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    return ordered.clamp(min=0), first & (ordered >= 0)


class NgramLinear(nn.Module):
    """Class scores from a text's binary unigram and bigram features: ``x @ weight + bias``.

    ``weight`` and ``bias`` are buffers, not parameters: ``fit`` sets them (naive-Bayes ratios
    times logistic-regression weights) and the network's optimizer never touches them. Until
    ``fit`` they are zero, and the path says nothing."""

    def __init__(self, vocab_size: int, buckets: int, num_classes: int):
        super().__init__()
        if not 0 < vocab_size <= MAX_ID:
            raise ValueError(f"n-gram features need a vocabulary of 1 to {MAX_ID} tokens, not {vocab_size}")
        self.vocab_size = vocab_size
        self.buckets = buckets
        self.register_buffer("weight", torch.zeros(vocab_size + buckets, num_classes))
        self.register_buffer("bias", torch.zeros(num_classes))
        # How much the recurrent network's logits and this path's count: chosen on the held-out
        # data at each evaluation (choose_recurrent_weight), saved with the model.
        self.register_buffer("recurrent_weight", torch.ones(()))
        self.register_buffer("ngram_weight", torch.ones(()))

    def combine(self, recurrent: torch.Tensor, ngrams: torch.Tensor) -> torch.Tensor:
        """The classifier's logits from the recurrent network's and this path's (B, C)."""
        return self.recurrent_weight * recurrent + self.ngram_weight * ngrams

    def logits(self, recurrent: Callable[[], torch.Tensor], ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``combine`` without computing a part whose weight is 0: on small corpora the chooser
        often keeps the path alone, and then the network (nearly all the time of a batch) is
        skipped; ``recurrent`` computes the network's logits when they count."""
        if not self.recurrent_weight.item():
            return self.ngram_weight * self(ids, lengths)
        if not self.ngram_weight.item():
            return self.recurrent_weight * recurrent()
        return self.combine(recurrent(), self(ids, lengths))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids (B, T), lengths (B,) -> logits (B, C)."""
        features, present = distinct_features(ids, lengths, self.vocab_size, self.buckets)
        return (self.weight[features] * present[..., None].to(self.weight.dtype)).sum(1) + self.bias

    @torch.no_grad()
    def token_scores(self, ids: list[int], target: torch.Tensor) -> torch.Tensor:
        """Each token's part (T,) in the path's score ``logits @ target`` for one text: a
        feature's weight goes to its tokens, a bigram's half to each, a feature seen several
        times (it counts once) shared among its occurrences. The bias belongs to no token."""
        steps = len(ids)
        features, _ = ngram_features(torch.tensor([ids]), torch.tensor([steps]), self.vocab_size, self.buckets)
        features = features[0].to(self.weight.device)
        _, which, counts = torch.unique(features, return_inverse=True, return_counts=True)
        value = (self.weight[features] @ target.to(self.weight.dtype)) / counts[which]  # (2T - 1,)
        scores = value[:steps].clone()
        scores[:-1] += value[steps:] / 2
        scores[1:] += value[steps:] / 2
        return scores

    def feature_matrix(self, sequences: list[list[int]], batch_size: int = 1024):
        """The binary feature matrix (texts x features, scipy CSR) of token-id sequences."""
        from scipy import sparse  # deferred: only fitting needs scipy, and every classifier load imports this module

        rows, columns = [], []
        for start in range(0, len(sequences), batch_size):
            ids, lengths = pad_batch(sequences[start : start + batch_size])
            features, present = distinct_features(ids, lengths, self.vocab_size, self.buckets)
            row, column = present.nonzero(as_tuple=True)
            rows.append((row + start).numpy())
            columns.append(features[row, column].numpy())
        rows, columns = np.concatenate(rows), np.concatenate(columns)
        shape = (len(sequences), self.vocab_size + self.buckets)
        return sparse.csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, columns)), shape=shape)

    @torch.no_grad()
    def fit(self, sequences: list[list[int]], label_ids: list[list[int]], multi_label: bool = False, balanced: bool = False,
            words: list[str] | None = None) -> None:
        """Fit the path on the training texts' token ids and their label indices (one per text,
        or several for multi-label): for each class, logistic regression (one against the rest;
        for two classes one model, the first class's logits 0) on the binary features scaled by
        the class's naive-Bayes log-count ratio ``log((p / |p|) / (q / |q|))``, p and q the
        smoothed feature counts of the texts with and without the class. ``balanced``: classes
        weighted by inverse frequency, as ``data.class_weights`` balanced does for the network.
        ``words``: the vocabulary's words by id (a word tokenizer's), whose spellings become
        features too (``spelling_matrix``), scaled by their own ratios and folded into the
        unigram weights."""
        # Deferred: scipy and scikit-learn take ~1 s to import; only training fits the path.
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression

        features = self.feature_matrix(sequences)
        width = features.shape[1]
        spelling, matrix, blocks = None, features, [slice(0, width)]
        if words is not None and SPELLING_NGRAMS:
            spelling = spelling_matrix(words, self.vocab_size)
            # per text: its distinct words' n-grams, counted; built once, scaled per class below
            matrix = sparse.hstack([features, features[:, : self.vocab_size] @ spelling], format="csr")
            blocks.append(slice(width, None))
        classes = self.weight.size(1)
        weight, bias = np.zeros((width, classes)), np.zeros(classes)
        for c in [1] if classes == 2 and not multi_label else range(classes):
            target = np.array([c in labels for labels in label_ids])
            if target.all() or not target.any():  # a class every text has, or none: no evidence either way
                bias[c] = 10.0 if target.all() else -10.0
                continue
            ratio = nb_ratio(matrix, target, blocks)
            model = LogisticRegression(C=L2_C if spelling is not None else WORD_ONLY_L2_C, max_iter=1000,
                                       class_weight="balanced" if balanced else None)
            model.fit(matrix @ sparse.diags(ratio), target)
            coef = ratio * model.coef_[0]
            weight[:, c], bias[c] = coef[:width], model.intercept_[0]
            if spelling is not None:
                weight[: self.vocab_size, c] += spelling @ coef[width:]
        self.weight.copy_(torch.from_numpy(weight))
        self.bias.copy_(torch.from_numpy(bias))


def nb_ratio(matrix, target: np.ndarray, blocks: list[slice]) -> np.ndarray:
    """Each feature's naive-Bayes log-count ratio between the texts with the class and without,
    the counts normalised within each block of columns (n-grams; spellings). Sums by product, not
    by copying each side's rows."""
    p = target.astype(np.float64) @ matrix + NB_ALPHA
    q = (~target).astype(np.float64) @ matrix + NB_ALPHA
    ratio = np.empty_like(p)
    for block in blocks:
        ratio[block] = np.log(p[block] / p[block].sum()) - np.log(q[block] / q[block].sum())
    return ratio


def spelling_matrix(words: list[str], vocab_size: int):
    """Which character n-grams each word id holds (vocabulary x n-grams, scipy CSR, 0/1): those of
    ``SPELLING_NGRAMS`` lengths in the word framed by spaces, so that a word's start and end are
    n-grams of their own. Specials (the first ids) and ids past ``words`` hold none."""
    from scipy import sparse  # deferred, as in NgramLinear.fit

    columns: dict[str, int] = {}
    rows, cols = [], []
    shortest, longest = SPELLING_NGRAMS
    for row, word in enumerate(words[len(SPECIALS) : vocab_size], start=len(SPECIALS)):
        framed = f" {word} "
        grams = {framed[i : i + n] for n in range(shortest, longest + 1) for i in range(len(framed) - n + 1)}
        for gram in grams:
            rows.append(row)
            cols.append(columns.setdefault(gram, len(columns)))
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(vocab_size, max(1, len(columns))))


# Candidate (recurrent, n-gram) weights: every pair of the two grids but (0, 0). Weights below 1
# temper an over-confident part; why these grids and SIGNIFICANCE: docs/studies/ngrams.md.
RECURRENT_WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
NGRAM_WEIGHTS = (1.0, 0.5, 0.25, 0.1, 0.0)
WEIGHTS = tuple((r, n) for n in NGRAM_WEIGHTS for r in RECURRENT_WEIGHTS if r or n)
SIGNIFICANCE = 3.0


@torch.no_grad()
def choose_recurrent_weight(model, examples, batch_size: int = 256) -> dict:
    """Set ``model``'s recurrent weight to the candidate whose combined logits give the lowest
    cross-entropy on ``examples`` (the held-out data; binary cross-entropy summed over classes
    for multi-label models), among the path alone at each weight and those weights of the
    network that beat the best of them by more than ``SIGNIFICANCE`` standard errors of the
    paired per-text difference. Returns it as ``recurrent_weight`` with
    ``recurrent_score``, the network's own accuracy (micro-F1 for multi-label) there, which
    chooses the epoch: a choice by the combined score would keep an untrained network whenever
    the path alone is hard to beat."""
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

    known = gold.any(1) | model.multi_label  # a held-out label never seen in training counts against every weight alike

    def losses(weights: tuple[float, float]) -> torch.Tensor:
        """Per held-out text, the cross-entropy of the combined logits (float64)."""
        logits = (weights[0] * recurrent + weights[1] * ngrams)[known].double()
        if model.multi_label:
            return torch.nn.functional.binary_cross_entropy_with_logits(logits, gold[known].double(), reduction="none").sum(1)
        return -(logits.log_softmax(-1) * gold[known]).sum(1)

    loss = {w: losses(w) for w in WEIGHTS}
    path_alone = [w for w in WEIGHTS if not w[0]]
    alone = min((loss[w] for w in path_alone), key=lambda l: l.mean().item())

    def clearly_better(weights: tuple[float, float]) -> bool:
        gain = alone - loss[weights]
        return len(gain) > 1 and gain.mean().item() > SIGNIFICANCE * gain.std().item() / len(gain) ** 0.5

    if model.multi_label:
        chosen = recurrent >= 0
        own = 2 * (chosen & gold).sum().item() / max(1, chosen.sum().item() + gold.sum().item())
    else:
        own = gold[torch.arange(len(recurrent)), recurrent.argmax(-1)].float().mean().item()
    eligible = path_alone + [w for w in WEIGHTS if w[0] and clearly_better(w)]
    best = min(eligible, key=lambda w: (loss[w].mean().item(), WEIGHTS.index(w)))
    network.ngrams.recurrent_weight.fill_(best[0])
    network.ngrams.ngram_weight.fill_(best[1])
    return {"recurrent_weight": best[0], "ngram_weight": best[1], "recurrent_score": own}
