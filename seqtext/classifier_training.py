"""Training a text classifier with the shared trainer: labelled examples -> tokenizer and label
list -> length-bucketed batches -> cross-entropy (or binary cross-entropy for multi-label)."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from seqtext.batching import BucketedTask
from seqtext.classifier import ClassifierConfig, RecurrentClassifier, TextClassifier, class_weights, classification_loss, pad_batch
from seqtext.errors import DataError, SeqtextWarning
from seqtext.labelled import read_examples
from seqtext.tokenizers import load_tokenizer, train_tokenizer
from seqtext.vectors import init_embedding, read_vectors
from seqtext.trainer import TrainConfig, Trainer, load_run, save_run

@dataclass
class ClassifierDataOptions:
    format: str = "auto"
    text_column: str = "text"
    label_column: str = "label"
    tokenizer: str = "word"  # word | sentencepiece | char
    vocab_size: int = 8000  # sentencepiece
    min_freq: int = 1  # word/char
    max_vocab: int | None = 50000
    lowercase: bool = False
    max_tokens: int = 512
    batch_size: int = 32
    class_weights: str = "none"  # none | balanced
    label_names: dict | None = None  # rename labels found in the files, e.g. {"1": "positive"}
    embeddings: str | None = None  # word2vec/GloVe text file (word tokenizer)
    weights_dtype: str = "float32"


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

    def loss(self, indices):
        ids, lengths = pad_batch([self.ids[i] for i in indices])
        logits = self.network(ids, lengths)
        loss = classification_loss(logits, self.target_tensor(indices), self.network.config.multi_label, self.weights)
        return loss, len(indices)

    def evaluate(self) -> dict:
        report = self.model.evaluate_examples(self.dev)
        score = report["micro_f1"] if self.model.multi_label else report["accuracy"]
        return {"score": score, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}


def _label_ids(examples, labels: list[str]) -> list[list[int]]:
    index = {label: i for i, label in enumerate(labels)}
    return [[index[label] for label in e.labels] for e in examples]


def train_classifier(
    train_file: str,
    dev_file: str | None,
    out_dir,
    model: ClassifierConfig | None = None,
    data: ClassifierDataOptions | None = None,
    train: TrainConfig | None = None,
    dev_fraction: float = 0.1,
    resume: bool = False,
    log=None,
) -> TextClassifier:
    """Train a classifier on ``train_file``, choose the best epoch on ``dev_file`` (or on the
    last ``dev_fraction`` of the training examples), keep it in ``out_dir``."""
    out_dir = Path(out_dir)
    log = log or (lambda message: None)
    if resume:
        run = load_run(out_dir)
        model, data, train = ClassifierConfig(**run["model"]), ClassifierDataOptions(**run["data"]), TrainConfig(**run["train"])
        train_file, dev_file, dev_fraction = run["train_file"], run["dev_file"], run["dev_fraction"]
    data = data or ClassifierDataOptions()
    train = train or TrainConfig()
    multi_label = bool(model and model.multi_label)
    read = dict(fmt=data.format, text_column=data.text_column, label_column=data.label_column, multi_label=multi_label)
    examples = read_examples(train_file, **read)
    if dev_file:
        dev = read_examples(dev_file, **read)
    else:
        cut = int(len(examples) * (1 - dev_fraction))
        if cut == 0 or cut == len(examples):
            raise DataError(f"{train_file}: too few examples to hold out a dev set; give --dev")
        examples, dev = examples[:cut], examples[cut:]
    aliases = data.label_names or {}
    for example in examples + dev:
        example.labels = [aliases.get(label, label) for label in example.labels]
    labels = sorted({label for e in examples for label in e.labels})
    if len(labels) < 2 and not multi_label:
        raise DataError(f"{train_file}: only one label ({labels[0]}); a classifier needs at least two")
    log(f"{len(examples):,} training and {len(dev):,} dev examples; labels: {', '.join(labels)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = [e.text for e in examples]
    if resume:
        tokenizer = load_tokenizer(out_dir, run["tokenizer"])
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
    if not resume:
        run = {
            "model": asdict(config), "data": asdict(data), "train": asdict(train), "tokenizer": tokenizer.save(out_dir),
            "train_file": str(train_file), "dev_file": str(dev_file) if dev_file else None, "dev_fraction": dev_fraction,
        }
        save_run(out_dir, run)
    torch.manual_seed(train.seed)
    network = RecurrentClassifier(config)
    init_embedding(network.embedding, vectors)
    info = {"parameters": sum(p.numel() for p in network.parameters()), "train_file": str(train_file), "data": asdict(data)}
    classifier = TextClassifier(network, tokenizer, labels, data.max_tokens, info=info, label_aliases=aliases)
    train_ids = [classifier.encode(t) for t in texts]
    if classifier.truncated:
        warnings.warn(f"{classifier.truncated} training texts were cut to {data.max_tokens} tokens", SeqtextWarning, stacklevel=2)
    log(f"{tokenizer.kind} tokenizer, {tokenizer.vocab_size} tokens; {config.cell} classifier, {info['parameters']:,} parameters")
    task = ClassifierTask(classifier, train_ids, _label_ids(examples, labels), dev, data, train.seed)
    Trainer(task, train, out_dir, log=log).fit(resume=resume)
    from seqtext.modelio import load

    return load(out_dir)
