"""Training a text classifier with the shared trainer: labelled examples -> tokenizer and label
list -> length-bucketed batches -> cross-entropy (or binary cross-entropy for multi-label)."""

from __future__ import annotations

import warnings
from dataclasses import asdict
from pathlib import Path

import torch

from seqtext.baselines import tfidf_logistic_regression
from seqtext.batching import BucketedTask
from seqtext.classifier import ClassifierConfig, RecurrentClassifier, TextClassifier, class_weights, classification_loss, pad_batch
from seqtext.errors import DataError, SeqtextWarning
from seqtext.configs import ClassifierDataOptions
from seqtext.labelled import read_examples
from seqtext.tokenizers import load_tokenizer, train_tokenizer
from seqtext.vectors import init_embedding, read_vectors
from seqtext.trainer import TrainConfig, Trainer
from seqtext.evaluation import evaluate_classifier
from seqtext.resources import check_network_fits
from seqtext import distributed
from seqtext.devices import resolve_device
from seqtext.runs import Run, dev_split, names, publish_run, prepare_run, record_baseline, save_run, settle_options

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
        logits = self.network(ids.to(device), lengths).float()
        weights = None if self.weights is None else self.weights.to(device)
        loss = classification_loss(logits, self.target_tensor(indices).to(device), self.network.config.multi_label, weights)
        return (loss * len(indices), len(indices)) if counts else (loss * 0.0, 0)

    def evaluate(self) -> dict:
        report = evaluate_classifier(self.model, self.dev)
        score = report["micro_f1"] if self.model.multi_label else report["accuracy"]
        return {"score": score, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


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
            examples, dev = dev_split(examples, data.dev_fraction, names(train_file)[0])
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
        if run is not None:
            tokenizer = load_tokenizer(out_dir, run.derived["tokenizer"])
        else:
            if data.tokenizer == "sentencepiece":
                options = {"vocab_size": data.vocab_size}
            else:
                options = {"min_freq": data.min_freq, "max_size": data.max_vocab}
                if data.tokenizer == "word":
                    options["lowercase"] = data.lowercase
            tokenizer = train_tokenizer(data.tokenizer, texts, **options)
        base = asdict(model or ClassifierConfig(0, 0))
        vectors = {}
        if data.embeddings and not resume:
            if tokenizer.kind != "word":
                raise DataError("--embeddings needs the word tokenizer")
            normalize = str.lower if data.lowercase else (lambda word: word)
            vectors, base["embedding_dim"] = read_vectors(data.embeddings, tokenizer.stoi, normalize)
            log(f"pretrained vectors for {len(vectors):,} of {tokenizer.vocab_size:,} words ({base['embedding_dim']} dimensions)")
        config = ClassifierConfig(**{**base, "vocab_size": tokenizer.vocab_size, "num_classes": len(labels)})
        check_network_fits(lambda: RecurrentClassifier(config), "--hidden, --layers, --embedding-dim")
        if run is None:
            run = Run(kind="classifier", model=asdict(config), data=asdict(data), train=asdict(train),
                      files={"train": names(train_file), "dev": names(dev_file) if dev_file else []},
                      derived={"tokenizer": tokenizer.save(out_dir), "labels": labels})
            save_run(out_dir, run)
        publish_run()
        torch.manual_seed(train.seed)
        network = RecurrentClassifier(config)
        init_embedding(network.embedding, vectors)
        info = {"parameters": sum(p.numel() for p in network.parameters()), "train_file": ", ".join(run.files["train"]),
                "data": asdict(data)}
        classifier = TextClassifier(network, tokenizer, labels, data.max_tokens, info=info, label_aliases=aliases)
        train_ids = [classifier.encode(t) for t in texts]
        if classifier.truncated:
            warnings.warn(f"{classifier.truncated} training texts were cut to {data.max_tokens} tokens", SeqtextWarning, stacklevel=2)
        log(f"{tokenizer.kind} tokenizer, {tokenizer.vocab_size} tokens; {config.cell} classifier, {info['parameters']:,} parameters")
        task = ClassifierTask(classifier, train_ids, _label_ids(train_labels, labels), dev, data, train.seed)
        Trainer(task, train, out_dir, log=log).fit(resume=resume)
        if distributed.is_main():
            dev_labels = [[aliases.get(label, label) for label in e.labels] for e in dev]
            baseline = tfidf_logistic_regression(texts, train_labels, [e.text for e in dev], dev_labels, multi_label)
            record_baseline(out_dir, baseline)
            log(f"baseline on the same split: {baseline['name']}, dev {baseline['metric']} {baseline['score']:.4f}")
    distributed.barrier()  # the best model is written
    from seqtext.registry import load

    return load(out_dir, device=train.device)
