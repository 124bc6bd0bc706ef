"""Training a sequence tagger with the shared trainer: tagged sentences -> word, character and
tag vocabularies -> length-bucketed batches -> CRF (or softmax) loss."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import torch

from seqtext.configs import TaggerDataOptions
from seqtext.core import distributed
from seqtext.core.batching import BucketedTask
from seqtext.core.modeldir import shared_name
from seqtext.core.progress import Workload
from seqtext.core.recipe import Recipe, Session, run_training
from seqtext.core.registry import is_bare_name
from seqtext.core.resources import check_network_fits, training_floats
from seqtext.core.runs import Run, dev_split, names, record_baseline
from seqtext.core.trainer import TrainConfig
from seqtext.errors import DataError
from seqtext.tagger.baselines import most_frequent_tag
from seqtext.tagger.conll import Sentence, read_sentences
from seqtext.tagger.contextual import describe, load_language_models
from seqtext.tagger.model import (
    MAX_WORD_CHARS,
    BiRNNTagger,
    SequenceTagger,
    TaggerConfig,
    make_batch,
    move_batch,
    normalize_word,
)
from seqtext.tagger.schemes import convert, scheme_of
from seqtext.tagger.scoring import evaluate_tagger
from seqtext.text.tokenizers import (
    SPECIALS,
    CharTokenizer,
    WordTokenizer,
    load_tokenizer,
)
from seqtext.text.vectors import init_embedding, read_vectors

CACHE_BYTES = 2 * 1024**3  # the most memory that training keeps the LMs' features in (FeatureCache)


class FeatureCache:
    """The frozen LMs' features of each training sentence, computed the first time a batch holds
    it and read from memory after: the LMs never change in training, so every later epoch skips
    them (they are most of a contextual tagger's training time). Kept as float32 on the CPU, so
    training reads what it would have computed, up to ``budget`` bytes; sentences past the
    budget are computed every time, as without a cache."""

    def __init__(self, contextual, budget: int):
        self.contextual = contextual
        self.room = budget // (4 * contextual.output_dim)  # tokens that still fit
        self.stored: dict[int, torch.Tensor] = {}

    def __call__(self, sentences: list[list[str]], indices: list[int], width: int, device: torch.device) -> torch.Tensor:
        """(B, ``width``, F) features of ``sentences`` (training sentences ``indices``), zero past
        each sentence's end."""
        missing = [row for row, i in enumerate(indices) if i not in self.stored]
        computed = {}
        if missing:
            wanted = [sentences[row] for row in missing]
            features = self.contextual(move_batch(self.contextual.inputs(wanted, max(len(s) for s in wanted)), device)).float().cpu()
            for k, row in enumerate(missing):
                computed[row] = features[k, : len(sentences[row])].clone()  # not a view that keeps the batch alive
                if len(sentences[row]) <= self.room:
                    self.stored[indices[row]] = computed[row]
                    self.room -= len(sentences[row])
        out = torch.zeros(len(sentences), width, self.contextual.output_dim)
        for row, i in enumerate(indices):
            found = computed[row] if row in computed else self.stored[i]
            out[row, : found.size(0)] = found
        return out


def chars_per_word(sentences: list[list[str]]) -> float:
    """Characters the character encoder reads per word of a batch of ``sentences``: each
    distinct form once (make_batch), up to MAX_WORD_CHARS."""
    forms = {word for sentence in sentences for word in sentence}
    return sum(min(len(form), MAX_WORD_CHARS) or 1 for form in forms) / max(1, sum(map(len, sentences)))


def token_floats(config: TaggerConfig, chars_per_word: float) -> float:
    """Floats per padded word position of a training batch at the step's peak, measured
    (tests/core/test_memory.py): the word-level Bi-RNN's (resources.training_floats) over the
    words' vectors, its output and emissions; the CRF's (B, C, C) scores of each step, kept for
    backward with their exponentials; the character encoder's over each word's characters."""
    C, Dc, Hc = config.num_tags, config.char_dim, config.char_hidden
    char_dim = {"lstm": 2 * Hc, "cnn": Hc, "none": 0}[config.char_encoder]
    inputs = config.word_dim + char_dim + sum(entry["model"]["hidden_size"] for entry in config.contextual_lms or [])
    floats = training_floats(inputs, config.hidden_size, config.num_layers, config.cell, 2, packed=True) + 4 * C
    if config.decoder == "crf":
        floats += 3 * C * C
    if config.char_encoder == "lstm":
        floats += chars_per_word * training_floats(Dc, Hc, 1, "lstm", 2)
    elif config.char_encoder == "cnn":
        floats += chars_per_word * 2 * (2 * Dc + 2 * Hc)
    return floats


class TaggerTask(BucketedTask):
    def __init__(self, model: SequenceTagger, train, dev, data: TaggerDataOptions, seed: int):
        super().__init__(model, [len(s.tokens) for s in train], data.batch_size, seed, data.weights_dtype)
        self.train = train
        self.dev = dev
        self.data = data
        index = {tag: i for i, tag in enumerate(model.tags)}
        self.tag_ids = [[index[t] for t in s.tags] for s in train]
        self.cache = FeatureCache(self.network.contextual, CACHE_BYTES) if self.network.contextual is not None else None

    def loss(self, batch):
        indices, counts = batch
        sentences = [self.train[i].tokens for i in indices]
        batch = make_batch(sentences, self.model.tokenizer, self.model.chars, self.data.word_dropout)
        if self.cache is not None:
            batch["contextual"] = self.cache(sentences, indices, batch["words"].size(1), self.model.device)
        tags = torch.zeros(batch["words"].shape, dtype=torch.long)
        for row, i in enumerate(indices):
            tags[row, : len(self.tag_ids[i])] = torch.tensor(self.tag_ids[i])
        device = self.model.device
        mean = self.network.loss(move_batch(batch, device), tags.to(device))
        return (mean * len(indices), len(indices)) if counts else (mean * 0.0, 0)

    def evaluate(self) -> dict:
        report = evaluate_tagger(self.model, self.dev, None if self.data.tag_scheme == "auto" else self.data.tag_scheme)
        score = report["f1"] if self.model.spans else report["accuracy"]
        metrics = {"score": score, "accuracy": report["accuracy"]}
        if self.model.spans:
            metrics.update(precision=report["precision"], recall=report["recall"], f1=report["f1"])
        return metrics


class TaggerRecipe(Recipe):
    """A tagger's part of ``run_training``: tagged sentences, their tag scheme and vocabularies,
    the most-frequent-tag baseline on the same split, optional character LMs as features."""

    kind = "tagger"
    configs = (TaggerConfig, TaggerDataOptions, TrainConfig)

    def __init__(self, train_file, dev_file, pretrained_lms: list[str] | None):
        super().__init__(train_file, fixed={"dev_file": dev_file, "data.pretrained_lms": pretrained_lms})
        self.dev_file = dev_file
        self.baseline: dict | None = None
        self.vectors: dict = {}
        self.language_models: list = []  # a resumed run takes their weights from its checkpoint

    def prepare(self, s: Session) -> Run | None:
        if s.run is not None:
            self.train_files, self.dev_file = s.run.files["train"], s.run.files["dev"] or None
        elif not self.train_files:
            raise DataError("give a training file")
        self._read(s)
        if s.run is not None:
            self.words = load_tokenizer(s.out_dir, s.run.derived["tokenizer"])
            self.chars = CharTokenizer(s.run.derived["chars"])
        else:
            counts = Counter(normalize_word(w) for sentence in self.sentences for w in sentence.tokens)
            kept = sorted(w for w, c in counts.items() if c >= s.data.min_freq and w not in SPECIALS)
            self.words = WordTokenizer(list(SPECIALS) + kept, split="whitespace")
            self.chars = CharTokenizer.train(["".join(sentence.tokens) for sentence in self.sentences])
        self.config = self._config(s)
        # The largest batch: data.batch_size sentences as long as the longest (bucketing pads to it).
        rows, width = min(s.data.batch_size, len(self.sentences)), max((len(sentence.tokens) for sentence in self.sentences), default=1)
        per_word = chars_per_word([sentence.tokens for sentence in self.sentences[:rows]])
        check_network_fits(lambda: BiRNNTagger(self.config), "model.hidden_size, model.num_layers, model.word_dim, model.char_hidden",
                           activations=rows * width * token_floats(self.config, per_word),
                           batch=f"batches of {rows:,} sentence(s) of up to {width:,} tokens (data.batch_size)")
        if s.run is not None:
            return None
        return Run(kind="tagger", model=asdict(self.config), data=asdict(s.data), train=asdict(s.train),
                   files={"train": names(self.train_files), "dev": names(self.dev_file) if self.dev_file else []},
                   derived={"tokenizer": self.words.save(s.out_dir), "chars": self.chars.itos})

    def _read(self, s: Session) -> None:
        """The training and dev sentences, the tag scheme, the baseline (rank 0) and the tags
        trained on, in the training scheme."""
        data = s.data
        read = dict(fmt=data.format, word_column=data.word_column, tag_column=data.tag_column)
        sentences = read_sentences(self.train_files, **read)
        if self.dev_file:
            self.dev = read_sentences(self.dev_file, **read)
        else:
            sentences, self.dev = dev_split(sentences, data.dev_fraction, names(self.train_files)[0])
        scheme = scheme_of(sentences, data.tag_scheme)
        train_scheme = "none" if scheme == "none" else data.train_scheme
        if distributed.is_main():
            self.baseline = most_frequent_tag(sentences, self.dev, data.tag_scheme)
        self.sentences = [Sentence(x.tokens, convert(x.tags, scheme, train_scheme)) for x in sentences]
        self.scheme, self.train_scheme = scheme, train_scheme
        self.tags = sorted({t for x in self.sentences for t in x.tags})
        s.log(f"{len(self.sentences):,} training and {len(self.dev):,} dev sentences; {len(self.tags)} tags; "
              f"scheme {scheme}, trained as {train_scheme}")

    def _config(self, s: Session) -> TaggerConfig:
        """The network config, with the pretrained vectors' size and the character LMs read."""
        dim = None
        if s.data.embeddings and not s.resume:
            self.vectors, dim = read_vectors(s.data.embeddings, self.words.stoi, normalize_word)
            s.log(f"pretrained vectors for {len(self.vectors):,} of {self.words.vocab_size:,} words ({dim} dimensions)")
        base = asdict(s.model or TaggerConfig(0, 0, 0))
        if dim:
            base["word_dim"] = dim
        if s.data.pretrained_lms and not s.resume:
            self.language_models = load_language_models(s.data.pretrained_lms)
            if s.run is None:  # a fresh run records what it read (a worker has it from rank 0's run)
                s.data = replace(s.data, pretrained_lms=[_absolute(name) for name in s.data.pretrained_lms])
                # The model directory names them; run.json keeps where they are.
                base["contextual_lms"] = [describe(lm, shared_name(name)) for lm, name in zip(self.language_models, s.data.pretrained_lms)]
                directions = ", ".join("backward" if lm.backward else "forward" for lm in self.language_models)
                s.log(f"contextual string embeddings from {len(self.language_models)} character LMs ({directions})")
        elif s.run is None:
            base["contextual_lms"] = None  # only data.pretrained_lms fills them
        return TaggerConfig(**{**base, "vocab_size": self.words.vocab_size, "num_tags": len(self.tags),
                               "char_vocab_size": self.chars.vocab_size})

    def make_task(self, s: Session) -> TaggerTask:
        config = self.config
        network = BiRNNTagger(config)
        init_embedding(network.words, self.vectors)
        if self.language_models:
            network.contextual.load_language_models(self.language_models)
        trainable = sum(p.numel() for p in network.parameters() if p.requires_grad)
        info = {"parameters": trainable, "train_file": ", ".join(s.run.files["train"]), "data": asdict(s.data)}
        frozen = sum(p.numel() for p in network.parameters()) - trainable
        shown = f" (and {frozen:,} frozen in the language models)" if frozen else ""
        s.log(f"{config.cell} tagger with {config.char_encoder} characters and {config.decoder} output, {trainable:,} parameters{shown}")
        tagger = SequenceTagger(network, self.words, self.chars, self.tags, self.scheme, self.train_scheme, info=info)
        return TaggerTask(tagger, self.sentences, self.dev, s.data, s.train.seed)

    def finish(self, s: Session) -> None:
        if self.baseline is not None:
            record_baseline(s.out_dir, self.baseline)
            shown = f"F1 {self.baseline['f1']:.4f}, " if "f1" in self.baseline else ""
            s.log(f"baseline on the same split: {self.baseline['name']}, dev {shown}accuracy {self.baseline['accuracy']:.4f}")

    def workload(self, s: Session) -> Workload:
        return Workload(what="tagger", unit="sentences", items=len(self.sentences))

    def load(self, out_dir: Path, device: str) -> SequenceTagger:
        return SequenceTagger.load(out_dir, device=device)


def train_tagger(
    train_file,
    dev_file,
    out_dir,
    model: TaggerConfig | None = None,
    data: TaggerDataOptions | None = None,
    train: TrainConfig | None = None,
    resume: bool = False,
    overwrite: bool = False,
    given: dict | None = None,
    log=None,
) -> SequenceTagger:
    """Train a tagger on ``train_file`` (a path, glob or list of them), keep the best on
    ``dev_file`` (F1 for span tags, accuracy otherwise) in ``out_dir``.

    With ``resume`` the files and options saved in ``out_dir`` are used (``train_file`` may be
    None); ``given`` works as in ``train_language_model``. ``data.pretrained_lms`` names character
    language models whose states become word features (``seqtext.tagger.contextual``); they are
    copied into the tagger, and a resumed run keeps the ones it started with.
    """
    recipe = TaggerRecipe(train_file, dev_file, pretrained_lms=data.pretrained_lms if data is not None else None)
    return run_training(recipe, out_dir, model=model, data=data, train=train, resume=resume, overwrite=overwrite,
                        given=given, log=log)


def _absolute(name: str) -> str:
    """A model directory as an absolute path (run.json is read from anywhere); a model name as is."""
    return name if is_bare_name(name) else str(Path(name).expanduser().absolute())
