"""The recurrent text classifier: the network, and the object users hold (network, tokenizer,
labels). Shapes: B batch, T tokens, E embedding size, H hidden size, C classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqtext.checks import check_number, check_text, check_whole
from seqtext.classifier.ngrams import NgramLinear
from seqtext.configs import CLASSIFY, POOLINGS, ClassifierConfig
from seqtext.core import devices, modeldir
from seqtext.core.resources import GATES, check_fits
from seqtext.errors import ArgumentError, ConfigError, ModelError, SeqtextError
from seqtext.lm.model import CELLS, LMBody, embedding_layer
from seqtext.results import Classification
from seqtext.text.tokenizers import (
    BOS,
    EOS,
    PAD,
    SPECIALS,
    Tokenizer,
    load_model_tokenizer,
    pad_batch,
)


class PathClassifier(nn.Module):
    """What both networks share: their own logits (``recurrent_logits``) beside the optional
    n-gram path (``self.ngrams``, seqtext.classifier.ngrams), combined at the chosen weights."""

    ngrams: NgramLinear | None

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids (B, T) padded with <pad>, lengths (B,) -> logits (B, C)."""
        if self.ngrams is None:
            return self.recurrent_logits(ids, lengths)
        return self.ngrams.logits(lambda: self.recurrent_logits(ids, lengths), ids, lengths)

    def recurrent_logits(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def scores(self, ids: torch.Tensor, lengths: torch.Tensor):
        """The network's logits (B, C) and the n-gram path's (B, C, or None without one),
        which ``forward`` combines (``NgramLinear.combine``)."""
        return self.recurrent_logits(ids, lengths), None if self.ngrams is None else self.ngrams(ids, lengths)


class RecurrentClassifier(PathClassifier):
    """Embedding -> bidirectional RNN stack (packed) -> pooling over time -> MLP -> logits.

    ``attention`` pooling learns a score per time step and averages the states with the
    softmax of those scores (Bahdanau-style attention over a single sequence); its weights are
    also what ``explain`` shows.
    """

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        if config.cell not in CELLS:
            raise SeqtextError(f"unknown model.cell {config.cell!r}: choose from {', '.join(CELLS)}")
        if config.pooling not in POOLINGS:
            raise SeqtextError(f"unknown model.pooling {config.pooling!r}: choose from {', '.join(POOLINGS)}")
        self.config = config
        self.embedding = embedding_layer(config.vocab_size, config.embedding_dim, bool(config.small_embeddings), padding_idx=PAD)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = CELLS[config.cell](
            config.embedding_dim,
            config.hidden_size,
            config.num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        states = 2 * config.hidden_size
        self.attention = nn.Linear(states, 1) if config.pooling == "attention" else None
        self.head = nn.Sequential(
            nn.Linear(states, config.mlp_hidden), nn.ReLU(), nn.Dropout(config.dropout), nn.Linear(config.mlp_hidden, config.num_classes)
        )
        # The linear path over unigrams and hashed bigrams (seqtext.classifier.ngrams), its logits added to the head's.
        self.ngrams = NgramLinear(config.vocab_size, config.ngram_buckets, config.num_classes) if config.ngram_buckets else None

    def encode(self, embedded: torch.Tensor, lengths: torch.Tensor):
        """(B, T, E), (B,) -> pooled (B, 2H), attention weights (B, T) or None."""
        packed = pack_padded_sequence(self.dropout(embedded), lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, final = self.rnn(packed)
        out, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=embedded.size(1))  # (B, T, 2H)
        lengths = lengths.to(out.device)
        mask = torch.arange(out.size(1), device=out.device)[None, :] < lengths[:, None]  # (B, T)
        pooling = self.config.pooling
        weights = None
        if pooling == "last":
            hidden = final[0] if isinstance(final, tuple) else final  # (2L, B, H)
            pooled = torch.cat([hidden[-2], hidden[-1]], dim=-1)
        elif pooling == "mean":
            pooled = (out * mask[..., None]).sum(1) / lengths[:, None].clamp(min=1)
        elif pooling == "max":
            pooled = out.masked_fill(~mask[..., None], float("-inf")).max(1).values
        else:
            scores = self.attention(out).squeeze(-1).masked_fill(~mask, float("-inf"))  # (B, T)
            weights = scores.softmax(-1)
            pooled = (weights[..., None] * out).sum(1)
        return self.dropout(pooled), weights

    def recurrent_logits(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The recurrent part's logits (B, C): what training fits (the n-gram path is fitted
        before, and fixed)."""
        pooled, _ = self.encode(self.embedding(ids), lengths)
        return self.head(pooled)

    def token_scores(self, ids: torch.Tensor, lengths: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Gradient x input on the embeddings (B, T) for the recurrent logits' score ``logits @
        target`` (for ``TextClassifier.explain``)."""
        embedded = self.embedding(ids).detach().requires_grad_(True)
        pooled, _ = self.encode(embedded, lengths)
        (self.head(pooled) @ target).sum().backward()
        self.zero_grad(set_to_none=True)  # only the inputs' gradients were wanted
        return (embedded.grad * embedded).sum(-1).detach()


DISCRIMINATIVE_FACTOR = 2.6  # ULMFiT: each layer group trains at the learning rate of the one above / 2.6


def reverse_within(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T) -> each row's first ``lengths[b]`` entries in reverse order (the rest unchanged)."""
    steps = torch.arange(ids.size(1), device=ids.device)[None, :]
    lengths = lengths.to(ids.device)[:, None]
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return ids.gather(1, index)


class BatchNorm(nn.BatchNorm1d):
    """``BatchNorm1d`` that normalises a training batch of one example with its running
    statistics (a batch of one has no spread; an epoch's last batch can be that small)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.size(0) == 1:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)


class LMClassifier(PathClassifier):
    """ULMFiT's classifier (Howard and Ruder 2018): for each direction an ``LMBody`` (seqtext.lm) reads
    the text framed ``<bos> ... <eos>`` (reversed for "backward", as a backward LM was trained),
    its top-layer states are pooled by concatenating the last state, the max and the mean over
    time, the directions' pooled vectors are concatenated, and an MLP with batch normalisation
    gives the logits. The normalisation matters: a language model's pooled states differ little
    from one text to the next (a standard deviation of 0.04 around a large common part for a
    character LM), and without it the head does not learn at all in its frozen first epoch.

    Parameters come in layer groups for gradual unfreezing and discriminative learning rates
    (``layer_groups``): the head, then each recurrent layer from the top, then the embeddings.
    """

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        if config.encoder != "lm":
            raise SeqtextError(f"LMClassifier needs model.encoder 'lm', not {config.encoder!r}")
        self.config = config
        self.backward = [direction == "backward" for direction in config.directions]
        self.encoders = nn.ModuleList(LMBody(config.vocab_size, config.embedding_dim, config.hidden_size, config.num_layers,
                                             config.cell, config.dropout) for _ in config.directions)
        self.dropout = nn.Dropout(config.dropout)
        features = 3 * config.hidden_size * len(self.encoders)
        self.head = nn.Sequential(
            BatchNorm(features), nn.Dropout(config.dropout), nn.Linear(features, config.mlp_hidden), nn.ReLU(),
            BatchNorm(config.mlp_hidden), nn.Dropout(config.dropout), nn.Linear(config.mlp_hidden, config.num_classes),
        )
        # The n-gram path (seqtext.classifier.ngrams) over the language model's tokens, for word and subword
        # models: a pretrained encoder adds to the linear model rather than replacing it.
        self.ngrams = NgramLinear(config.vocab_size, config.ngram_buckets, config.num_classes) if config.ngram_buckets else None

    @torch.no_grad()
    def load_language_models(self, networks: list) -> None:
        """Copy each ``RecurrentLM``'s embedding and recurrent weights into its encoder. Rows
        past the LM's vocabulary (words of the training texts it never saw, ``extend_vocabulary``)
        start at the mean of its word vectors, as ULMFiT starts them."""
        for encoder, source in zip(self.encoders, networks):
            known = source.embedding.weight.size(0)
            encoder.embedding.weight[:known] = source.embedding.weight
            encoder.embedding.weight[known:] = source.embedding.weight[len(SPECIALS):].mean(0)
            encoder.rnn.load_state_dict(source.rnn.state_dict())

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters from the top down: the head, recurrent layer L-1 of every encoder, ...,
        layer 0, the embeddings."""
        groups = [list(self.head.parameters())]
        for layer in reversed(range(self.config.num_layers)):
            groups.append([param for encoder in self.encoders for name, param in encoder.rnn.named_parameters()
                           if name.endswith(f"_l{layer}")])
        groups.append([encoder.embedding.weight for encoder in self.encoders])
        return groups

    def features(self, ids: torch.Tensor, lengths: torch.Tensor, embedded: list | None = None) -> torch.Tensor:
        """ids (B, T) padded with <pad>, lengths (B,) -> pooled features (B, 3H x directions).
        With a list for ``embedded``, each encoder's embedded input (B, T + 2, E) is added to
        it as a leaf that keeps its gradient (for ``explain``)."""
        mask = torch.arange(ids.size(1), device=ids.device)[None, :] < lengths.to(ids.device)[:, None]
        tokens = ((ids != PAD) & mask).sum(1)  # an empty text (one <pad>) has none
        rows = torch.arange(ids.size(0), device=ids.device)
        pooled = []
        for encoder, backward in zip(self.encoders, self.backward):
            framed = torch.full((ids.size(0), ids.size(1) + 2), PAD, dtype=ids.dtype, device=ids.device)
            framed[:, 1:-1] = (reverse_within(ids, tokens) if backward else ids).masked_fill(~mask, PAD)
            framed[:, 0] = BOS
            framed[rows, tokens + 1] = EOS
            x = encoder.embedding(framed)  # (B, T + 2, E)
            if embedded is not None:
                x = x.detach().requires_grad_(True)
                embedded.append(x)
            steps = (tokens + 2).cpu()
            packed = pack_padded_sequence(self.dropout(x), steps, batch_first=True, enforce_sorted=False)
            out, _ = pad_packed_sequence(encoder.rnn(packed)[0], batch_first=True, total_length=framed.size(1))  # (B, T + 2, H)
            valid = (torch.arange(out.size(1), device=out.device)[None, :] < (tokens + 2)[:, None])[..., None]
            last = out[rows, tokens + 1]
            biggest = out.masked_fill(~valid, float("-inf")).max(1).values
            mean = (out * valid).sum(1) / (tokens + 2)[:, None].to(out.dtype)
            pooled += [last, biggest, mean]
        return torch.cat(pooled, dim=-1)

    def recurrent_logits(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The encoders' and head's logits (B, C), without the n-gram path: what training fits."""
        return self.head(self.features(ids, lengths))

    def token_scores(self, ids: torch.Tensor, lengths: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Gradient x input on every encoder's embeddings for the score ``logits @ target``,
        summed over the encoders at each token of the text: (B, T) for ``explain``."""
        embedded: list = []
        (self.head(self.features(ids, lengths, embedded)) @ target).sum().backward()
        self.zero_grad(set_to_none=True)  # only the inputs' gradients were wanted
        mask = torch.arange(ids.size(1), device=ids.device)[None, :] < lengths.to(ids.device)[:, None]
        tokens = ((ids != PAD) & mask).sum(1)
        scores = torch.zeros(ids.shape, device=ids.device)
        for x, backward in zip(embedded, self.backward):
            framed = (x.grad * x).sum(-1)[:, 1:-1]  # (B, T): the text's tokens, in the order read
            scores += reverse_within(framed, tokens) if backward else framed
        return scores


class TextClassifier(modeldir.SavedModel):
    """A trained classifier: what ``seqtext.load`` returns for kind ``classifier``."""

    kind = "classifier"

    def __init__(self, network: RecurrentClassifier | LMClassifier, tokenizer: Tokenizer, labels: list[str], max_tokens: int = 512,
                 metrics: dict | None = None, info: dict | None = None, label_aliases: dict | None = None):
        self.network = network.eval()
        self.tokenizer = tokenizer
        self.labels = list(labels)
        # Names in data files -> label names, e.g. {"1": "positive"}: files keep their own labels.
        self.label_aliases = dict(label_aliases or {})
        self.max_tokens = max_tokens
        self.metrics = metrics or {}
        self.info = info or {}
        self.truncated = 0  # texts cut to max_tokens so far

    @property
    def multi_label(self) -> bool:
        return self.network.config.multi_label

    def extra_config(self) -> dict:
        return {"labels": self.labels, "label_aliases": self.label_aliases, "max_tokens": self.max_tokens}

    @classmethod
    def from_directory(cls, directory: Path, config: dict) -> "TextClassifier":
        config = modeldir.check_config(directory, config, expected_kind=cls.kind)
        check_classifier_config(Path(directory) / modeldir.CONFIG_FILE, config)
        if "ngram_buckets" not in config["model"]:  # saved before n-gram features: none
            config = {**config, "model": {**config["model"], "ngram_buckets": 0}}
        network_cls = LMClassifier if config["model"].get("encoder") == "lm" else RecurrentClassifier
        network = modeldir.build_network(network_cls, ClassifierConfig, directory, config)
        modeldir.load_weights(Path(directory) / modeldir.WEIGHTS_FILE, network)
        tokenizer = load_model_tokenizer(Path(directory), config)
        return cls(network, tokenizer, config["labels"], config.get("max_tokens", 512), modeldir.read_metrics(directory),
                   config.get("info", {}), config.get("label_aliases"))

    def encode(self, text: str) -> list[int]:
        ids = self.tokenizer.encode(text)
        if len(ids) > self.max_tokens:
            self.truncated += 1
            ids = ids[: self.max_tokens]
        return ids

    @torch.inference_mode()
    def probabilities(self, texts: list[str]) -> torch.Tensor:
        """(N, C): softmax over classes, or one sigmoid per label for multi-label models. A batch
        that could never fit in memory (``classifying_bytes``) is refused before it is built."""
        self.network.eval()
        _check_texts(texts)
        encoded = [self.encode(t) for t in texts]
        width = max(map(len, encoded), default=0)
        check_fits(classifying_bytes(self.network.config, len(encoded), width),
                   f"classifying {len(encoded):,} text(s) of up to {width:,} tokens at once (batch_size)")
        ids, lengths = pad_batch(encoded)
        with devices.autocast(self.device):
            logits = self.network(ids.to(self.device), lengths).float()
        return (logits.sigmoid() if self.multi_label else logits.softmax(-1)).cpu()

    def predict(self, texts, batch_size: int = CLASSIFY.batch_size, threshold: float = CLASSIFY.threshold):
        """A ``Classification`` for one text (a ``str``), a list of them for a list or tuple of
        texts (as a tagger's ``predict``), and for any other iterable (a file, a generator) an
        iterator that reads it lazily in batches, so input of any length classifies in constant
        memory, in input order. ``label`` is the most probable class (None for multi-label
        models, whose ``labels`` are those with probability at least ``threshold``); ``probs``
        the softmax (or per-label sigmoid) probabilities. Arguments of the wrong type are refused
        at the call (a TypeError naming them); an iterable's items, as they are read."""
        check_whole(batch_size, "batch_size", 1)
        check_number(threshold, "threshold")
        if not 0 <= threshold <= 1:
            raise ConfigError(f"threshold must be from 0 to 1, not {threshold}")
        if isinstance(texts, str):
            return self._predict_batch([texts], threshold)[0]
        if isinstance(texts, (list, tuple)):
            _check_texts(texts)
            return list(self._predict_lazily(texts, batch_size, threshold))
        if isinstance(texts, (bytes, bytearray, Mapping)) or not isinstance(texts, Iterable):
            raise ArgumentError(f"texts must be a string, a list of strings or an iterable of strings (a file, a "
                                f"generator), not {type(texts).__name__} ({repr(texts)[:40]})")
        return self._predict_lazily(texts, batch_size, threshold)

    __call__ = predict  # ``sentiment(texts)``, as spaCy's ``nlp(text)`` and a Hugging Face pipeline

    def _predict_lazily(self, texts: Iterable[str], batch_size: int, threshold: float) -> Iterator[Classification]:
        batch: list[str] = []
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise ArgumentError(f"texts[{index}] must be a string, not {type(text).__name__} ({repr(text)[:40]})")
            batch.append(text)
            if len(batch) == batch_size:
                yield from self._predict_batch(batch, threshold)
                batch = []
        if batch:
            yield from self._predict_batch(batch, threshold)

    def _predict_batch(self, texts: list[str], threshold: float) -> list[Classification]:
        probs = self.probabilities(texts).tolist()
        results = []
        for text, row in zip(texts, probs):
            if self.multi_label:
                label, labels = None, [name for name, p in zip(self.labels, row) if p >= threshold]
            else:
                label = self.labels[max(range(len(row)), key=row.__getitem__)]
                labels = [label]
            results.append(Classification(text, label, labels, dict(zip(self.labels, row))))
        return results

    def explain(self, text: str) -> list[tuple[str, float]]:
        """How much each token moved the decision, in logits: its part in the margin of the
        predicted class over the mean of the others (in the predicted label's logit for
        multi-label models), through the network (gradient x input on its embeddings) and
        through the n-gram path (``NgramLinear.token_scores``), each scaled by the weight it
        has in the model's logits. A model whose n-gram path does not count and that pools by
        attention shows its attention weights instead."""
        ids = self.encode(check_text(text, "text"))
        if not ids:
            return []
        pieces = self.tokenizer.pieces(text)[: len(ids)]
        batch, lengths = pad_batch([ids])
        network = self.network.eval()
        batch = batch.to(self.device)
        ngrams = getattr(network, "ngrams", None)
        recurrent_weight, ngram_weight = (1.0, 0.0) if ngrams is None else (ngrams.recurrent_weight.item(), ngrams.ngram_weight.item())
        if not ngram_weight and isinstance(network, RecurrentClassifier) and network.config.pooling == "attention":
            with torch.no_grad():
                _, weights = network.encode(network.embedding(batch), lengths)
            return list(zip(pieces, weights[0].cpu().tolist()))
        with torch.no_grad():
            logits = network(batch, lengths)[0].float()
        target = torch.zeros_like(logits)
        predicted = int(logits.argmax())
        if not self.multi_label and len(target) > 1:
            target -= 1.0 / (len(target) - 1)
            target[predicted] = 1.0
        else:
            target[predicted] = 1.0
        scores = torch.zeros(len(ids), device=self.device)
        if recurrent_weight:  # cuDNN runs no RNN backward in eval mode (dropout must stay off): the native kernels do
            with torch.backends.cudnn.flags(enabled=False):
                scores += recurrent_weight * network.token_scores(batch, lengths, target)[0].float()
        if ngram_weight:
            scores += ngram_weight * ngrams.token_scores(ids, target).float()
        return list(zip(pieces, scores.cpu().tolist()))


# Bytes per text of its ``Classification`` (the probabilities' dict, the labels) beside the
# tensors, and int64 work per token of the n-gram path (bigram hashes, sorting, masks): measured.
PYTHON_PER_TEXT = 600
NGRAM_FLOATS_PER_TOKEN = 40


def classifying_bytes(config: ClassifierConfig, texts: int, width: int) -> int:
    """Estimated peak memory of classifying ``texts`` texts of up to ``width`` tokens as one
    batch, measured (tests/core/test_memory.py): per padded position, the embeddings and their
    packed copy, each layer's outputs and half of its gates (the packed kernel's work), the
    padded output and the pooling's copy of it; a ULMFiT classifier's encoders run one after
    the other over <bos> text <eos>, the first's memory half reused; the n-gram path's work."""
    H, E, C, G = config.hidden_size, config.embedding_dim, config.num_classes, GATES[config.cell]
    if config.encoder == "lm":
        cells = texts * (width + 2)
        floats = cells * (E + (config.num_layers + 2) * H) * (1 + (len(config.directions or [1]) - 1) / 2) + 2 * cells
    else:
        cells = texts * max(width, 1)
        floats = cells * (2 * E + config.num_layers * (G * H // 2 + 2 * H) + 4 * H)
    if config.ngram_buckets:
        floats += texts * width * (NGRAM_FLOATS_PER_TOKEN + 2 * C)
    return int(4 * floats + texts * (PYTHON_PER_TEXT + 16 * C))


def _check_texts(texts) -> None:
    """``texts`` is a list (or tuple) of strings, or the first item that is not is named."""
    if not isinstance(texts, (list, tuple)):
        raise ArgumentError(f"texts must be a list of strings, not {type(texts).__name__} ({repr(texts)[:40]})")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ArgumentError(f"texts[{index}] must be a string, not {type(text).__name__} ({repr(text)[:40]})")


def class_weights(label_ids: list[list[int]], num_classes: int, multi_label: bool) -> torch.Tensor:
    """"Balanced" weights: N / (C * n_c) per class, or (N - n_c) / n_c as the positive weight
    of each label in multi-label training. Classes never seen get weight 1."""
    counts = torch.zeros(num_classes)
    for ids in label_ids:
        for i in ids:
            counts[i] += 1
    total = len(label_ids)
    if multi_label:
        return torch.where(counts > 0, (total - counts) / counts.clamp(min=1), torch.ones(num_classes))
    return torch.where(counts > 0, total / (num_classes * counts.clamp(min=1)), torch.ones(num_classes))


def classification_loss(logits: torch.Tensor, targets: torch.Tensor, multi_label: bool, weights: torch.Tensor | None):
    """Cross-entropy over classes, or binary cross-entropy per label (targets (B, C) of 0/1)."""
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits, targets.float(), pos_weight=weights)
    return F.cross_entropy(logits, targets, weight=weights)



def check_classifier_config(path: Path, config: dict) -> None:
    """What only a classifier's config.json holds: its token limit and label aliases."""
    max_tokens = config.get("max_tokens", 512)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise ModelError(f"{path}: max_tokens must be a positive integer, not {max_tokens!r}")
    aliases = config.get("label_aliases") or {}
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise ModelError(f"{path}: label_aliases must be a JSON object of label names")
    unknown = [v for v in aliases.values() if v not in config["labels"]]
    if unknown:
        raise ModelError(f"{path}: label_aliases maps to {unknown[0]!r}, which is not in labels")
