"""Training a text classifier with the shared trainer: labelled examples -> tokenizer and label
list -> length-bucketed batches -> cross-entropy (or binary cross-entropy for multi-label).

With ``pretrained_lms`` (``--pretrained-lm``) it is ULMFiT (Howard and Ruder 2018): each
language model is first fine-tuned on the training texts (never the dev texts) into
``OUTPUT/lm-finetuned`` (``lm-finetuned-backward`` for a backward one), then the classifier's
encoders start from those weights and train with gradual unfreezing (the head alone in the
first epoch, one more layer group from the top each epoch after) and discriminative learning
rates (each group below the head at the rate of the one above / 2.6).
"""

from __future__ import annotations

import json
import time
import warnings
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import torch

from seqtext.api import load as load_model
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
from seqtext.configs import ClassifierDataOptions
from seqtext.core import distributed
from seqtext.core.batching import BucketedTask
from seqtext.core.devices import resolve_device
from seqtext.core.modeldir import read_metrics
from seqtext.core.registry import resolve as resolve_model
from seqtext.core.resources import check_network_fits
from seqtext.core.runs import (
    Run,
    dev_split,
    names,
    prepare_run,
    publish_run,
    record_baseline,
    save_run,
    settle_options,
)
from seqtext.core.trainer import CHECKPOINT_FILE, TrainConfig, Trainer
from seqtext.errors import ConfigError, DataError, SeqtextWarning, TrainingError
from seqtext.lm.model import load_language_model
from seqtext.lm.training import train_language_model
from seqtext.text.tokenizers import (
    SPECIALS,
    WordTokenizer,
    load_tokenizer,
    pad_batch,
    storable,
    train_tokenizer,
)
from seqtext.text.vectors import init_embedding, read_vectors

FINETUNED_DIRS = {"forward": "lm-finetuned", "backward": "lm-finetuned-backward"}
FINETUNE_TEXT = Path("data") / "lm-finetune.jsonl"  # the training texts, one document each
# What a language model decides for the classifier built on it: options that cannot be given with it.
LM_DECIDED = ("data.tokenizer", "data.vocab_size", "data.min_freq", "data.max_vocab", "data.lowercase", "data.embeddings",
              "model.cell", "model.num_layers", "model.hidden_size", "model.embedding_dim", "model.pooling")

class ClassifierTask(BucketedTask):
    def __init__(self, model: TextClassifier, train_ids, train_labels, dev_examples, data: ClassifierDataOptions, seed: int):
        self.model = model
        self.network = model.network
        self.ids = train_ids
        self.targets = train_labels
        self.dev = dev_examples
        self.data = data
        self.seed = seed
        self.lengths = [len(i) for i in train_ids]
        self.batch_size = data.batch_size
        self.weights_dtype = data.weights_dtype
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

        if getattr(self.network, "ngrams", None) is None:
            loss = criterion(self.network(ids.to(device), lengths))
        else:  # the n-gram path was fitted before training (seqtext.ngrams): the network learns on its own
            loss = criterion(self.network.recurrent_logits(ids.to(device), lengths))
        return (loss * len(indices), len(indices)) if counts else (loss * 0.0, 0)

    def evaluate(self) -> dict:
        chosen = {}
        if getattr(self.network, "ngrams", None) is not None:  # how much the network counts beside the n-gram path
            chosen = choose_recurrent_weight(self.model, self.dev)
        report = evaluate_classifier(self.model, self.dev)
        score = report["micro_f1"] if self.model.multi_label else report["accuracy"]
        # With an n-gram path the network's own score chooses the epoch (seqtext.classifier.ngrams.choose_recurrent_weight).
        return {"score": chosen.get("recurrent_score", score), "accuracy": report["accuracy"], "macro_f1": report["macro_f1"], **chosen}


class LMClassifierTask(ClassifierTask):
    """ULMFiT's schedule on an ``LMClassifier``: layer group k from the top (the head is 0)
    trains from epoch k + 1 on, at the learning rate / 2.6^k. Which groups train follows from
    the epoch alone, so a resumed run freezes what the interrupted one had frozen."""

    def lr_groups(self):
        return [(params, DISCRIMINATIVE_FACTOR ** -depth) for depth, params in enumerate(self.network.layer_groups())]

    def on_epoch_start(self, epoch: int) -> None:
        for depth, params in enumerate(self.network.layer_groups()):
            for param in params:
                param.requires_grad_(depth <= epoch)


def load_pretrained_lms(names_or_paths: list[str]) -> list:
    """The language models ``--pretrained-lm`` names, checked to make one classifier: at most
    one forward and one backward model, with the same tokenizer and network shape."""
    lms = [load_language_model(name) for name in names_or_paths]
    directions = [_direction(lm) for lm in lms]
    if len(set(directions)) != len(directions):
        raise ConfigError(f"--pretrained-lm: give at most one forward and one backward language model, not {len(lms)} "
                          f"{directions[0]} ones")
    first = lms[0]
    for name, lm in zip(names_or_paths[1:], lms[1:]):
        if _tokenizer_identity(lm.tokenizer) != _tokenizer_identity(first.tokenizer):
            raise ConfigError(f"--pretrained-lm {name}: its tokenizer differs from {names_or_paths[0]}'s; "
                              f"train both language models with the same --tokenizer on the same text")
        if _shape(lm.network.config) != _shape(first.network.config):
            raise ConfigError(f"--pretrained-lm {name}: its network ({_shape(lm.network.config)}) differs from "
                              f"{names_or_paths[0]}'s ({_shape(first.network.config)}); give both the same --cell, --layers, "
                              f"--hidden and --embedding-dim")
    return lms


def _direction(lm) -> str:
    return "backward" if lm.backward else "forward"


def _shape(config) -> dict:
    return {"cell": config.cell, "num_layers": config.num_layers, "hidden_size": config.hidden_size,
            "embedding_dim": config.embedding_dim}


def _tokenizer_identity(tokenizer) -> tuple:
    return (tokenizer.kind, getattr(tokenizer, "itos", None), getattr(tokenizer, "split_mode", None),
            getattr(tokenizer, "lowercase", None), getattr(tokenizer, "model_proto", None))


def finetune_language_models(out_dir: Path, run: Run, texts: list[str], data: ClassifierDataOptions, train: TrainConfig,
                             log) -> list:
    """ULMFiT's second stage: each pretrained language model of the run trained on ``texts``
    (one document each, so every text is framed <bos> ... <eos> as the classifier reads it) for
    ``data.lm_finetune_epochs`` into its subdirectory of ``out_dir``; a backward model goes on
    backwards. A run interrupted here resumes there. Returns the networks to start from."""
    sources = run.files["pretrained_lms"]
    if not data.lm_finetune_epochs:
        return [load_model(source, device="cpu").network for source in sources]
    finetune = TrainConfig(epochs=data.lm_finetune_epochs, seed=train.seed, device=train.device, progress=train.progress,
                           checkpoint_every=train.checkpoint_every)
    networks = []
    for source, direction in zip(sources, run.model["directions"]):
        target = out_dir / FINETUNED_DIRS[direction]
        done = target.name in run.derived.get("lm_finetuned", [])
        if done:
            networks.append(load_model(target, device="cpu").network)
            continue
        started = (target / CHECKPOINT_FILE).is_file()
        if not started and distributed.is_main():
            text = out_dir / FINETUNE_TEXT
            text.parent.mkdir(parents=True, exist_ok=True)
            text.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
        log(f"{'resuming the fine-tuning of' if started else 'fine-tuning'} the {direction} language model {source} on the "
            f"training texts ({data.lm_finetune_epochs} epoch(s)) in {target}")
        lm = train_language_model([] if started else [str(out_dir / FINETUNE_TEXT)], target, train=finetune, resume=started,
                                  overwrite=not started, init_from=None if started else source, log=log)
        if lm.backward != (direction == "backward"):
            raise TrainingError(f"{target} holds a {_direction(lm)} language model where the run needs a {direction} one; "
                                f"start a new run with --overwrite")
        networks.append(lm.network.cpu())
        if distributed.is_main():
            run.derived["lm_finetuned"] = [*run.derived.get("lm_finetuned", []), target.name]
            save_run(out_dir, run)
    return networks


def extend_vocabulary(tokenizer, texts: list[str]):
    """A word language model's tokenizer with the words of ``texts`` it lacks appended, most
    frequent first (other tokenizers as they are). Without them every such word would be
    <unk> to the n-gram path, which is the classifier's strongest part on a small corpus (SST-2,
    6,920 sentences, a reviews LM without 19 % of their distinct words: the words-only path alone
    79.0 % instead of 80.3 %); the encoder starts them at the mean word vector (``load_language_models``)."""
    if not isinstance(tokenizer, WordTokenizer):
        return tokenizer
    known = set(tokenizer.itos)
    counts = Counter(word for text in texts for word in tokenizer.split(text) if word not in known)
    new = [word for word, _ in counts.most_common() if storable(word)]
    if not new:
        return tokenizer
    return WordTokenizer(tokenizer.itos + new, tokenizer.split_mode, tokenizer.lowercase)


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
    gains from each text it sees (SST-2, 3,000 sentences: 2 points from the last 10 %), and the
    network cannot be refitted so cheaply. metrics.json keeps the held-out scores measured
    before, and says so."""
    model = load_model(out_dir, device="cpu")
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
    out_dir = Path(out_dir)
    distributed.setup(resolve_device((train or TrainConfig()).device))
    log = log if log is not None and distributed.is_main() else (lambda message: None)  # rank 0 reports
    with prepare_run(out_dir, "classifier", resume=resume, overwrite=overwrite) as run:
        run, model, data, train = settle_options(out_dir, run, "classifier", (ClassifierConfig, ClassifierDataOptions, TrainConfig), given, train_file,
                                                 (model, data, train), {"--dev": dev_file})
        if run is not None:
            train_file, dev_file = run.files["train"], run.files["dev"] or None
        elif not train_file:
            raise DataError("give a training file")
        multi_label = bool(model and model.multi_label)
        read = dict(fmt=data.format, text_column=data.text_column, label_column=data.label_column, multi_label=multi_label)
        examples = read_examples(train_file, **read)
        if dev_file:
            dev = read_examples(dev_file, **read)
        else:
            examples, dev = dev_split(examples, data.dev_fraction, names(train_file)[0], at_random=True)
        aliases = data.label_names or {}
        train_labels = [[aliases.get(label, label) for label in e.labels] for e in examples]
        labels = sorted({label for example in train_labels for label in example})
        stray = sorted(source for source, target in aliases.items() if target not in labels)
        if stray:
            raise DataError(f"--label-names renames {', '.join(map(repr, stray))}, but no training example has that label "
                            f"(labels: {', '.join(sorted({l for e in examples for l in e.labels}))})")
        if len(labels) < 2 and not multi_label:
            raise DataError(f"{names(train_file)[0]}: only one label ({labels[0]}); a classifier needs at least two")
        log(f"{len(examples):,} training and {len(dev):,} dev examples; labels: {', '.join(labels)}")
        texts = [e.text for e in examples]
        # Without --dev the held-out share is training text too: its words get ids, for the n-gram
        # path that is fitted again on every text at the end (refit_ngrams); the network, which
        # never trains on them, reads them as zero vectors (unseen_rows).
        vocabulary_texts = texts if dev_file else texts + [e.text for e in dev]
        lms = []
        if data.pretrained_lms and run is None:
            decided = [label for key, label in (given or {}).items() if key in LM_DECIDED]
            if decided or data.embeddings:
                raise ConfigError(f"{', '.join(decided) or '--embeddings'} cannot be given with --pretrained-lm: the classifier "
                                  f"takes the language model's tokenizer, embeddings and network shape")
            lms = load_pretrained_lms(data.pretrained_lms)
        if run is not None:
            tokenizer = load_tokenizer(out_dir, run.derived["tokenizer"])
        elif lms:
            tokenizer = extend_vocabulary(lms[0].tokenizer, vocabulary_texts)
            log(f"encoder from {len(lms)} language model(s): {', '.join(data.pretrained_lms)}"
                + (f"; {tokenizer.vocab_size - lms[0].tokenizer.vocab_size:,} words of the training texts added to its "
                   f"vocabulary" if tokenizer is not lms[0].tokenizer else ""))
        else:
            if data.tokenizer == "sentencepiece":
                options = {"vocab_size": data.vocab_size}
            else:
                options = {"min_freq": data.min_freq, "max_size": data.max_vocab}
                if data.tokenizer == "word":
                    options["lowercase"] = data.lowercase
            tokenizer = train_tokenizer(data.tokenizer, vocabulary_texts, **options)
        base = asdict(model or ClassifierConfig(0, 0))
        vectors = {}
        if data.embeddings and not resume:
            if tokenizer.kind != "word":
                raise DataError("--embeddings needs the word tokenizer")
            normalize = str.lower if data.lowercase else (lambda word: word)
            vectors, base["embedding_dim"] = read_vectors(data.embeddings, tokenizer.stoi, normalize)
            log(f"pretrained vectors for {len(vectors):,} of {tokenizer.vocab_size:,} words ({base['embedding_dim']} dimensions)")
        if lms:
            base.update(_shape(lms[0].network.config), encoder="lm", pooling="concat", directions=[_direction(lm) for lm in lms])
        if base.get("ngram_buckets") is None:  # by the classes; none for a run saved before n-gram features,
            # nor beside a character language model (its letters' unigrams and bigrams say little of a class)
            wanted = base["encoder"] == "rnn" or tokenizer.kind != "char"
            base["ngram_buckets"] = default_buckets(len(labels)) if run is None and wanted else 0
        if base.get("small_embeddings") is None:  # as a word LM's (seqtext.lm.embedding_layer); a run saved before: N(0, 1)
            base["small_embeddings"] = run is None and tokenizer.kind == "word"
        config = ClassifierConfig(**{**base, "vocab_size": tokenizer.vocab_size, "num_classes": len(labels)})
        network_cls = LMClassifier if config.encoder == "lm" else RecurrentClassifier
        check_network_fits(lambda: network_cls(config), "--hidden, --layers, --embedding-dim")
        if run is None:
            files = {"train": names(train_file), "dev": names(dev_file) if dev_file else []}
            if lms:  # where each model was found, so that a resumed run fine-tunes the same ones
                files["pretrained_lms"] = [str(resolve_model(name).absolute()) for name in data.pretrained_lms]
            run = Run(kind="classifier", model=asdict(config), data=asdict(data), train=asdict(train), files=files,
                      derived={"tokenizer": tokenizer.save(out_dir), "labels": labels})
            save_run(out_dir, run)
        publish_run()
        resume_training = resume
        if config.encoder == "lm":
            # Interrupted before the classifier's first checkpoint (while fine-tuning, say): it starts now.
            resume_training = resume and (out_dir / CHECKPOINT_FILE).is_file()
            lm_networks = [] if resume_training else finetune_language_models(out_dir, run, texts, data, train, log)
        torch.manual_seed(train.seed)
        network = network_cls(config)
        if config.encoder == "lm":
            if lm_networks:
                network.load_language_models(lm_networks)
        else:
            init_embedding(network.embedding, vectors)
        info = {"parameters": sum(p.numel() for p in network.parameters()), "train_file": ", ".join(run.files["train"]),
                "data": asdict(data)}
        if config.encoder == "lm":
            info["pretrained_lms"] = run.files["pretrained_lms"]
        classifier = TextClassifier(network, tokenizer, labels, data.max_tokens, info=info, label_aliases=aliases)
        train_ids = [classifier.encode(t) for t in texts]
        if config.encoder == "rnn":
            with torch.no_grad():
                network.embedding.weight[unseen_rows(train_ids, tokenizer.vocab_size, vectors)] = 0.0
        if getattr(network, "ngrams", None) is not None:
            started = time.perf_counter()
            fit_ngram_path(network.ngrams, tokenizer, train_ids, _label_ids(train_labels, labels), config.multi_label, data)
            log(f"n-gram path (NB-weighted logistic regression over unigrams, bigrams and spellings) fitted in "
                f"{time.perf_counter() - started:.1f} s")
        if classifier.truncated:
            warnings.warn(f"{classifier.truncated} training texts were cut to {data.max_tokens} tokens", SeqtextWarning, stacklevel=2)
        log(f"{tokenizer.kind} tokenizer, {tokenizer.vocab_size} tokens; {config.cell} classifier, {info['parameters']:,} parameters")
        task_cls = LMClassifierTask if config.encoder == "lm" else ClassifierTask
        task = task_cls(classifier, train_ids, _label_ids(train_labels, labels), dev, data, train.seed)
        Trainer(task, train, out_dir, log=log).fit(resume=resume_training)
        if distributed.is_main():
            dev_labels = [[aliases.get(label, label) for label in e.labels] for e in dev]
            baseline = tfidf_logistic_regression(texts, train_labels, [e.text for e in dev], dev_labels, multi_label)
            record_baseline(out_dir, baseline)
            log(f"baseline on the same split: {baseline['name']}, dev {baseline['metric']} {baseline['score']:.4f}")
            if not dev_file and config.ngram_buckets:
                refit_ngrams(out_dir, texts + [e.text for e in dev], train_labels + dev_labels, data, log)
    distributed.barrier()  # the best model is written

    return TextClassifier.load(out_dir, device=train.device)
