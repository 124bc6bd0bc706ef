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
from seqtext.core.devices import resolve_device
from seqtext.core.registry import is_bare_name
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
from seqtext.core.trainer import TrainConfig, Trainer
from seqtext.errors import DataError
from seqtext.tagger.baselines import most_frequent_tag
from seqtext.tagger.conll import Sentence, read_sentences
from seqtext.tagger.contextual import describe, load_language_models
from seqtext.tagger.model import (
    BiRNNTagger,
    SequenceTagger,
    TaggerConfig,
    make_batch,
    move_batch,
    normalize_word,
)
from seqtext.tagger.schemes import convert, detect_scheme
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


class TaggerTask(BucketedTask):
    def __init__(self, model: SequenceTagger, train, dev, data: TaggerDataOptions, seed: int):
        self.model = model
        self.network = model.network
        self.train = train
        self.dev = dev
        self.data = data
        self.seed = seed
        index = {tag: i for i, tag in enumerate(model.tags)}
        self.tag_ids = [[index[t] for t in s.tags] for s in train]
        self.lengths = [len(s.tokens) for s in train]
        self.batch_size = data.batch_size
        self.weights_dtype = data.weights_dtype
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
    language models whose states become word features (``seqtext.contextual``); they are copied
    into the tagger, and a resumed run keeps the ones it started with.
    """
    out_dir = Path(out_dir)
    distributed.setup(resolve_device((train or TrainConfig()).device))
    log = log if log is not None and distributed.is_main() else (lambda message: None)  # rank 0 reports
    with prepare_run(out_dir, "tagger", resume=resume, overwrite=overwrite) as run:
        fixed = {"--dev": dev_file, "--pretrained-lm": data.pretrained_lms if data is not None else None}
        run, model, data, train = settle_options(out_dir, run, "tagger", (TaggerConfig, TaggerDataOptions, TrainConfig), given, train_file,
                                                 (model, data, train), fixed)
        if run is not None:
            train_file, dev_file = run.files["train"], run.files["dev"] or None
        elif not train_file:
            raise DataError("give a training file")
        read = dict(fmt=data.format, word_column=data.word_column, tag_column=data.tag_column)
        sentences = read_sentences(train_file, **read)
        if dev_file:
            dev = read_sentences(dev_file, **read)
        else:
            sentences, dev = dev_split(sentences, data.dev_fraction, names(train_file)[0])
        scheme = detect_scheme([s.tags for s in sentences]) if data.tag_scheme == "auto" else data.tag_scheme
        train_scheme = "none" if scheme == "none" else data.train_scheme
        baseline = None
        if distributed.is_main():
            baseline = most_frequent_tag(sentences, dev, data.tag_scheme)
        sentences = [Sentence(s.tokens, convert(s.tags, scheme, train_scheme)) for s in sentences]
        tags = sorted({t for s in sentences for t in s.tags})
        log(f"{len(sentences):,} training and {len(dev):,} dev sentences; {len(tags)} tags; scheme {scheme}, trained as {train_scheme}")
        if run is not None:
            words = load_tokenizer(out_dir, run.derived["tokenizer"])
            chars = CharTokenizer(run.derived["chars"])
        else:
            counts = Counter(normalize_word(w) for s in sentences for w in s.tokens)
            words = WordTokenizer(list(SPECIALS) + sorted(w for w, c in counts.items() if c >= data.min_freq and w not in SPECIALS),
                                  split="whitespace")
            chars = CharTokenizer.train(["".join(s.tokens) for s in sentences])
        vectors, dim = ({}, None)
        if data.embeddings and not resume:
            vectors, dim = read_vectors(data.embeddings, words.stoi, normalize_word)
            log(f"pretrained vectors for {len(vectors):,} of {words.vocab_size:,} words ({dim} dimensions)")
        base = asdict(model or TaggerConfig(0, 0, 0))
        if dim:
            base["word_dim"] = dim
        language_models = []  # a resumed run takes their weights from its checkpoint
        if data.pretrained_lms and not resume:
            language_models = load_language_models(data.pretrained_lms)
            if run is None:  # a fresh run records what it read (a worker has it from rank 0's run)
                data = replace(data, pretrained_lms=[_absolute(name) for name in data.pretrained_lms])
                base["contextual_lms"] = [describe(lm, name) for lm, name in zip(language_models, data.pretrained_lms)]
                directions = ", ".join("backward" if lm.backward else "forward" for lm in language_models)
                log(f"contextual string embeddings from {len(language_models)} character LMs ({directions})")
        elif run is None:
            base["contextual_lms"] = None  # only --pretrained-lm fills them
        config = TaggerConfig(**{**base, "vocab_size": words.vocab_size, "num_tags": len(tags), "char_vocab_size": chars.vocab_size})
        check_network_fits(lambda: BiRNNTagger(config), "--hidden, --layers, --word-dim, --char-hidden")
        if run is None:
            run = Run(kind="tagger", model=asdict(config), data=asdict(data), train=asdict(train),
                      files={"train": names(train_file), "dev": names(dev_file) if dev_file else []},
                      derived={"tokenizer": words.save(out_dir), "chars": chars.itos})
            save_run(out_dir, run)
        publish_run()
        torch.manual_seed(train.seed)
        network = BiRNNTagger(config)
        init_embedding(network.words, vectors)
        if language_models:
            network.contextual.load_language_models(language_models)
        trainable = sum(p.numel() for p in network.parameters() if p.requires_grad)
        info = {"parameters": trainable, "train_file": ", ".join(run.files["train"]), "data": asdict(data)}
        frozen = sum(p.numel() for p in network.parameters()) - trainable
        shown = f" (and {frozen:,} frozen in the language models)" if frozen else ""
        log(f"{config.cell} tagger with {config.char_encoder} characters and {config.decoder} output, {trainable:,} parameters{shown}")
        tagger = SequenceTagger(network, words, chars, tags, scheme, train_scheme, info=info)
        task = TaggerTask(tagger, sentences, dev, data, train.seed)
        Trainer(task, train, out_dir, log=log).fit(resume=resume)
        if baseline is not None:
            record_baseline(out_dir, baseline)
            shown = f"F1 {baseline['f1']:.4f}, " if "f1" in baseline else ""
            log(f"baseline on the same split: {baseline['name']}, dev {shown}accuracy {baseline['accuracy']:.4f}")
    distributed.barrier()  # the best model is written

    return SequenceTagger.load(out_dir, device=train.device)


def _absolute(name: str) -> str:
    """A model directory as an absolute path (run.json is read from anywhere); a model name as is."""
    return name if is_bare_name(name) else str(Path(name).expanduser().absolute())
