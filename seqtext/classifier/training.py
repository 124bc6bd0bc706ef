"""Training a text classifier with the shared trainer: labelled examples -> tokenizer and label
list -> length-bucketed batches -> cross-entropy (or binary cross-entropy for multi-label).

With ``data.pretrained_lms`` it is ULMFiT (Howard and Ruder 2018; ``seqtext.classifier.ulmfit``):
each language model is fine-tuned on the training texts first, then the classifier's encoders
start from those weights and train with gradual unfreezing (the head alone in the first epoch,
one more layer group from the top each epoch after) and discriminative learning rates (each
group below the head at the rate of the one above / 2.6).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict
from pathlib import Path

import torch

from seqtext.classifier.baselines import tfidf_logistic_regression
from seqtext.classifier.data import read_examples
from seqtext.classifier.model import (
    DISCRIMINATIVE_FACTOR,
    ClassifierConfig,
    LMClassifier,
    RecurrentClassifier,
    TextClassifier,
    class_weights,
    classification_loss,
)
from seqtext.classifier.ngrams import choose_recurrent_weight, default_buckets
from seqtext.classifier.scoring import evaluate_classifier
from seqtext.classifier.ulmfit import (
    check_lm_options,
    direction,
    extend_vocabulary,
    finetune_language_models,
    load_pretrained_lms,
    shape,
)
from seqtext.configs import ClassifierDataOptions
from seqtext.core import distributed
from seqtext.core.batching import BucketedTask
from seqtext.core.modeldir import read_metrics
from seqtext.core.progress import Workload
from seqtext.core.recipe import Recipe, Session, run_training
from seqtext.core.registry import resolve as resolve_model
from seqtext.core.resources import check_network_fits, training_floats
from seqtext.core.runs import Run, dev_split, names, record_baseline
from seqtext.core.trainer import CHECKPOINT_FILE, TrainConfig
from seqtext.errors import DataError, SeqtextWarning
from seqtext.text.tokenizers import SPECIALS, load_tokenizer, pad_batch, train_tokenizer
from seqtext.text.vectors import init_embedding, read_vectors


def longest(tokenizer, texts: list[str], max_tokens: int, candidates: int = 100) -> int:
    """Tokens in the longest text, found among the ``candidates`` longest in characters, up to
    ``max_tokens`` (texts are cut there)."""
    longest_texts = sorted(texts, key=len)[-candidates:]
    return min(max_tokens, max((len(tokenizer.encode(text)) for text in longest_texts), default=1))


def token_floats(config: ClassifierConfig) -> float:
    """Floats per padded position of a training batch at the step's peak, measured
    (tests/core/test_memory.py): the embeddings and the recurrent stack's (resources.
    training_floats: bidirectional, or one ULMFiT encoder per direction), the padded output
    and the pooling's copy of it and their gradients."""
    E, H = config.embedding_dim, config.hidden_size
    if config.encoder == "lm":
        directions = len(config.directions or [1])
        return directions * (2 * E + training_floats(E, H, config.num_layers, config.cell) + 4 * H)
    return 2 * E + training_floats(E, H, config.num_layers, config.cell, 2, packed=True) + 8 * H


class ClassifierTask(BucketedTask):
    def __init__(self, model: TextClassifier, train_ids, train_labels, dev_examples, data: ClassifierDataOptions, seed: int):
        super().__init__(model, [len(i) for i in train_ids], data.batch_size, seed, data.weights_dtype)
        self.ids = train_ids
        self.targets = train_labels
        self.dev = dev_examples
        self.data = data
        config = model.network.config
        self.weights = (
            class_weights(train_labels, config.num_classes, config.multi_label) if data.class_weights == "balanced" else None
        )

    def target_tensor(self, indices: list[int]) -> torch.Tensor:
        config = self.network.config
        if config.multi_label:
            targets = torch.zeros(len(indices), config.num_classes)
            for row, i in enumerate(indices):
                targets[row, self.targets[i]] = 1.0
            return targets
        return torch.tensor([self.targets[i][0] for i in indices])

    def loss(self, batch):
        indices, counts = batch
        device = self.model.device
        ids, lengths = pad_batch([self.ids[i] for i in indices])
        weights = None if self.weights is None else self.weights.to(device)
        targets = self.target_tensor(indices).to(device)

        def criterion(logits):
            return classification_loss(logits.float(), targets, self.network.config.multi_label, weights)

        if self.network.ngrams is None:
            loss = criterion(self.network(ids.to(device), lengths))
        else:  # the n-gram path was fitted before training (seqtext.classifier.ngrams): the network learns on its own
            loss = criterion(self.network.recurrent_logits(ids.to(device), lengths))
        return (loss * len(indices), len(indices)) if counts else (loss * 0.0, 0)

    def evaluate(self) -> dict:
        chosen = {}
        if self.network.ngrams is not None:  # how much the network counts beside the n-gram path
            chosen = choose_recurrent_weight(self.model, self.dev)
        report = evaluate_classifier(self.model, self.dev)
        score = report["micro_f1"] if self.model.multi_label else report["accuracy"]
        # With an n-gram path the network's own score chooses the epoch (seqtext.classifier.ngrams.choose_recurrent_weight).
        return {"score": chosen.get("recurrent_score", score), "accuracy": report["accuracy"], "macro_f1": report["macro_f1"], **chosen}


class LMClassifierTask(ClassifierTask):
    """ULMFiT's schedule on an ``LMClassifier``: layer group k from the top (the head is 0)
    trains from epoch k + 1 on, at the learning rate / 2.6^k. Which groups train follows from
    the epoch alone, so a resumed run freezes what the interrupted one had frozen."""

    freezes_parameters = True

    def lr_groups(self):
        return [(params, DISCRIMINATIVE_FACTOR ** -depth) for depth, params in enumerate(self.network.layer_groups())]

    def on_epoch_start(self, epoch: int) -> None:
        for depth, params in enumerate(self.network.layer_groups()):
            for param in params:
                param.requires_grad_(depth <= epoch)


def unseen_rows(train_ids: list[list[int]], vocab_size: int, vectors: dict) -> torch.Tensor:
    """The embedding rows (a boolean mask) of tokens no training text holds and no pretrained
    vector covers: words of the held-out share only. Zero, they stay zero (no gradient reaches
    them), so the network reads such a word as nothing rather than as a random vector."""
    unseen = torch.ones(vocab_size, dtype=torch.bool)
    unseen[torch.tensor(sorted({i for ids in train_ids for i in ids} | set(vectors)), dtype=torch.long)] = False
    unseen[: len(SPECIALS)] = False
    return unseen


def refit_ngrams(out_dir: Path, texts: list[str], labels_per_text: list[list[str]], data: ClassifierDataOptions, log) -> None:
    """Fit the saved model's n-gram path again on every training text, the held-out share
    included, once that share has chosen the epoch and the network's weight: a linear model
    gains from each text it sees (docs/studies/training.md), and the network cannot be refitted
    so cheaply. metrics.json keeps the held-out scores measured before, and says so."""
    model = TextClassifier.load(resolve_model(out_dir), device="cpu")
    index = {label: i for i, label in enumerate(model.labels)}
    known = [(text, [index[l] for l in labels if l in index]) for text, labels in zip(texts, labels_per_text)]
    known = [(text, ids) for text, ids in known if ids or model.multi_label]
    fit_ngram_path(model.network.ngrams, model.tokenizer, [model.encode(text) for text, _ in known], [ids for _, ids in known],
                   model.multi_label, data)
    metrics = {**read_metrics(out_dir), "ngram_path_fitted_on": len(known)}
    model.save(out_dir, metrics=metrics, weights_dtype=data.weights_dtype)
    log(f"n-gram path fitted again on all {len(known):,} training texts (the held-out scores above were measured before)")


def fit_ngram_path(ngrams, tokenizer, ids: list[list[int]], label_ids: list[list[int]], multi_label: bool,
                   data: ClassifierDataOptions) -> None:
    """Fit the n-gram path on token ids and label indices, learning from the spellings of a word
    vocabulary (the pieces of a subword or character vocabulary are spellings already)."""
    ngrams.fit(ids, label_ids, multi_label, balanced=data.class_weights == "balanced",
               words=tokenizer.itos if tokenizer.kind == "word" else None)


def _label_ids(labels_per_example: list[list[str]], labels: list[str]) -> list[list[int]]:
    index = {label: i for i, label in enumerate(labels)}
    return [[index[label] for label in example] for example in labels_per_example]


class ClassifierRecipe(Recipe):
    """A classifier's part of ``run_training``: labelled examples, a tokenizer (trained, or a
    language model's), the n-gram path fitted before training, and the TF-IDF baseline after."""

    kind = "classifier"
    configs = (ClassifierConfig, ClassifierDataOptions, TrainConfig)

    def __init__(self, train_file, dev_file):
        super().__init__(train_file, fixed={"dev_file": dev_file})
        self.dev_file = dev_file
        self.lms: list = []  # a fresh ULMFiT run's language models
        self.lm_networks: list = []  # their fine-tuned networks, the encoder's start
        self.resume_training = False

    def prepare(self, s: Session) -> Run | None:
        if s.run is not None:
            self.train_files, self.dev_file = s.run.files["train"], s.run.files["dev"] or None
        elif not self.train_files:
            raise DataError("give a training file")
        self._read(s)
        self.tokenizer = self._tokenizer(s)
        self.config = self._config(s)
        self.network_cls = LMClassifier if self.config.encoder == "lm" else RecurrentClassifier
        # The largest batch: data.batch_size texts as long as the longest (in tokens, up to data.max_tokens)
        rows = min(s.data.batch_size, len(self.texts))
        width = longest(self.tokenizer, self.texts, s.data.max_tokens) + (2 if self.config.encoder == "lm" else 0)  # <bos>, <eos>
        check_network_fits(lambda: self.network_cls(self.config), "model.hidden_size, model.num_layers, model.embedding_dim",
                           activations=rows * width * token_floats(self.config),
                           batch=f"batches of {rows:,} text(s) of up to {width:,} tokens (data.batch_size)")
        if s.run is not None:
            return None
        files = {"train": names(self.train_files), "dev": names(self.dev_file) if self.dev_file else []}
        if self.lms:  # where each model was found, so that a resumed run fine-tunes the same ones
            files["pretrained_lms"] = [str(resolve_model(name).absolute()) for name in s.data.pretrained_lms]
        return Run(kind="classifier", model=asdict(self.config), data=asdict(s.data), train=asdict(s.train), files=files,
                   derived={"tokenizer": self.tokenizer.save(s.out_dir), "labels": self.labels})

    def _read(self, s: Session) -> None:
        """The training and dev examples, their labels renamed by ``data.label_names``."""
        data = s.data
        self.multi_label = multi_label = bool(s.model and s.model.multi_label)
        read = dict(fmt=data.format, text_column=data.text_column, label_column=data.label_column, multi_label=multi_label)
        examples = read_examples(self.train_files, **read)
        if self.dev_file:
            self.dev = read_examples(self.dev_file, **read)
        else:
            examples, self.dev = dev_split(examples, data.dev_fraction, names(self.train_files)[0], at_random=True)
        self.aliases = aliases = data.label_names or {}
        self.train_labels = [[aliases.get(label, label) for label in e.labels] for e in examples]
        self.labels = labels = sorted({label for example in self.train_labels for label in example})
        stray = sorted(source for source, target in aliases.items() if target not in labels)
        if stray:
            raise DataError(f"data.label_names renames {', '.join(map(repr, stray))}, but no training example has that label "
                            f"(labels: {', '.join(sorted({l for e in examples for l in e.labels}))})")
        if len(labels) < 2 and not multi_label:
            raise DataError(f"{names(self.train_files)[0]}: only one label ({labels[0]}); a classifier needs at least two")
        s.log(f"{len(examples):,} training and {len(self.dev):,} dev examples; labels: {', '.join(labels)}")
        self.texts = [e.text for e in examples]

    def _tokenizer(self, s: Session):
        """The run's tokenizer: saved, a language model's (extended), or trained on the texts."""
        # Without a dev_file the held-out share is training text too: its words get ids, for the
        # n-gram path that is fitted again on every text at the end (refit_ngrams); the network,
        # which never trains on them, reads them as zero vectors (unseen_rows).
        vocabulary_texts = self.texts if self.dev_file else self.texts + [e.text for e in self.dev]
        data = s.data
        if data.pretrained_lms and s.run is None:
            check_lm_options(data, s.given)
            self.lms = load_pretrained_lms(data.pretrained_lms)
        if s.run is not None:
            return load_tokenizer(s.out_dir, s.run.derived["tokenizer"])
        if self.lms:
            tokenizer = extend_vocabulary(self.lms[0].tokenizer, vocabulary_texts)
            s.log(f"encoder from {len(self.lms)} language model(s): {', '.join(data.pretrained_lms)}"
                  + (f"; {tokenizer.vocab_size - self.lms[0].tokenizer.vocab_size:,} words of the training texts added to its "
                     f"vocabulary" if tokenizer is not self.lms[0].tokenizer else ""))
            return tokenizer
        if data.tokenizer == "sentencepiece":
            options = {"vocab_size": data.vocab_size}
        else:
            options = {"min_freq": data.min_freq, "max_size": data.max_vocab}
            if data.tokenizer == "word":
                options["lowercase"] = data.lowercase
        return train_tokenizer(data.tokenizer, vocabulary_texts, **options)

    def _config(self, s: Session) -> ClassifierConfig:
        """The network config: the pretrained vectors' size, the language models' shape, and the
        defaults that depend on the data."""
        tokenizer, fresh = self.tokenizer, s.run is None
        base = asdict(s.model or ClassifierConfig(0, 0))
        self.vectors = {}
        if s.data.embeddings and not s.resume:
            if tokenizer.kind != "word":
                raise DataError("data.embeddings needs the word tokenizer")
            normalize = str.lower if s.data.lowercase else (lambda word: word)
            self.vectors, base["embedding_dim"] = read_vectors(s.data.embeddings, tokenizer.stoi, normalize)
            s.log(f"pretrained vectors for {len(self.vectors):,} of {tokenizer.vocab_size:,} words ({base['embedding_dim']} dimensions)")
        if self.lms:
            base.update(shape(self.lms[0].network.config), encoder="lm", pooling="concat", directions=[direction(lm) for lm in self.lms])
        if base.get("ngram_buckets") is None:  # by the classes; none for a run saved before n-gram features,
            # nor beside a character language model (its letters' unigrams and bigrams say little of a class)
            wanted = base["encoder"] == "rnn" or tokenizer.kind != "char"
            base["ngram_buckets"] = default_buckets(len(self.labels)) if fresh and wanted else 0
        if base.get("small_embeddings") is None:  # as a word LM's (seqtext.lm.model); a run saved before: N(0, 1)
            base["small_embeddings"] = fresh and tokenizer.kind == "word"
        return ClassifierConfig(**{**base, "vocab_size": tokenizer.vocab_size, "num_classes": len(self.labels)})

    def ready(self, s: Session) -> None:
        self.resume_training = s.resume
        if self.config.encoder == "lm":
            # Interrupted before the classifier's first checkpoint (while fine-tuning, say): it starts now.
            self.resume_training = s.resume and (s.out_dir / CHECKPOINT_FILE).is_file()
            if not self.resume_training:
                self.lm_networks = finetune_language_models(s.out_dir, s.run, self.texts, s.data, s.train, s.log)

    def resumes_checkpoint(self, s: Session) -> bool:
        return self.resume_training

    def make_task(self, s: Session) -> ClassifierTask:
        config, tokenizer = self.config, self.tokenizer
        network = self.network_cls(config)
        if config.encoder == "lm":
            if self.lm_networks:
                network.load_language_models(self.lm_networks)
        else:
            init_embedding(network.embedding, self.vectors)
        info = {"parameters": sum(p.numel() for p in network.parameters()), "train_file": ", ".join(s.run.files["train"]),
                "data": asdict(s.data)}
        if config.encoder == "lm":
            info["pretrained_lms"] = s.run.files["pretrained_lms"]
        classifier = TextClassifier(network, tokenizer, self.labels, s.data.max_tokens, info=info, label_aliases=self.aliases)
        train_ids = [classifier.encode(t) for t in self.texts]
        if config.encoder == "rnn":
            with torch.no_grad():
                network.embedding.weight[unseen_rows(train_ids, tokenizer.vocab_size, self.vectors)] = 0.0
        if network.ngrams is not None:
            started = time.perf_counter()
            fit_ngram_path(network.ngrams, tokenizer, train_ids, _label_ids(self.train_labels, self.labels), config.multi_label, s.data)
            s.log(f"n-gram path (NB-weighted logistic regression over unigrams, bigrams and spellings) fitted in "
                  f"{time.perf_counter() - started:.1f} s")
        if classifier.truncated:  # stacklevel: the caller of train_classifier
            warnings.warn(f"{classifier.truncated} training texts were cut to {s.data.max_tokens} tokens", SeqtextWarning, stacklevel=4)
        s.log(f"{tokenizer.kind} tokenizer, {tokenizer.vocab_size} tokens; {config.cell} classifier, {info['parameters']:,} parameters")
        task_cls = LMClassifierTask if config.encoder == "lm" else ClassifierTask
        return task_cls(classifier, train_ids, _label_ids(self.train_labels, self.labels), self.dev, s.data, s.train.seed)

    def workload(self, s: Session) -> Workload:
        return Workload(what="classifier", unit="texts", items=len(self.texts))

    def finish(self, s: Session) -> None:
        if not distributed.is_main():
            return
        dev_labels = [[self.aliases.get(label, label) for label in e.labels] for e in self.dev]
        baseline = tfidf_logistic_regression(self.texts, self.train_labels, [e.text for e in self.dev], dev_labels, self.multi_label)
        record_baseline(s.out_dir, baseline)
        s.log(f"baseline on the same split: {baseline['name']}, dev {baseline['metric']} {baseline['score']:.4f}")
        if read_metrics(s.out_dir).get("recurrent_weight") == 0:
            longer = "a longer train.max_time" if s.train.max_time is not None else "more train.epochs"
            s.log("the network did not beat the n-gram path on the dev data in the time it had: the model is the n-gram "
                  f"path alone (predictions skip the network; {longer} may let it count)")
        if not self.dev_file and self.config.ngram_buckets:
            refit_ngrams(s.out_dir, self.texts + [e.text for e in self.dev], self.train_labels + dev_labels, s.data, s.log)

    def load(self, out_dir: Path, device: str) -> TextClassifier:
        return TextClassifier.load(out_dir, device=device)


def train_classifier(
    train_file,
    dev_file,
    out_dir,
    model: ClassifierConfig | None = None,
    data: ClassifierDataOptions | None = None,
    train: TrainConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    given: dict | None = None,
    log=None,
) -> TextClassifier:
    """Train a classifier on ``train_file`` (a path, glob or list of them), choose the best
    epoch on ``dev_file`` (or on the last ``data.dev_fraction`` of the training examples),
    keep it in ``out_dir``. With ``resume`` the saved files and options are used;
    ``given`` works as in ``train_language_model``."""
    return run_training(ClassifierRecipe(train_file, dev_file), out_dir, model=model, data=data, train=train, resume=resume,
                        overwrite=overwrite, given=given, log=log)
