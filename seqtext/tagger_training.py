"""Training a sequence tagger with the shared trainer: tagged sentences -> word, character and
tag vocabularies -> length-bucketed batches -> CRF (or softmax) loss."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from seqtext.batching import BucketedTask
from seqtext.errors import DataError
from seqtext.tagged import read_sentences
from seqtext.tagger import BiRNNTagger, SequenceTagger, TaggerConfig, make_batch, normalize_word
from seqtext.vectors import init_embedding, read_vectors
from seqtext.tagschemes import SCHEMES, convert, detect_scheme
from seqtext.tokenizers import SPECIALS, CharTokenizer, WordTokenizer, load_tokenizer
from seqtext.trainer import TrainConfig, Trainer, load_run, save_run

@dataclass
class TaggerDataOptions:
    format: str = "auto"  # conll | conllu | jsonl
    word_column: int = 0
    tag_column: str = "-1"  # CoNLL column number, or upos/xpos for CoNLL-U
    tag_scheme: str = "auto"  # scheme of the files: auto | iob1 | bio | bioes | none
    train_scheme: str = "bioes"  # scheme span tags are learnt in: bioes | bio
    min_freq: int = 1
    word_dropout: float = 0.05
    batch_size: int = 16
    embeddings: str | None = None  # word2vec/GloVe text file
    dev_fraction: float = 0.1  # held out of train when no dev file is given
    weights_dtype: str = "float32"


class TaggerTask(BucketedTask):
    def __init__(self, model: SequenceTagger, train, dev, dev_scheme: str, data: TaggerDataOptions, seed: int):
        self.model = model
        self.network = model.network
        self.train = train
        self.dev = dev
        self.dev_scheme = dev_scheme
        self.data = data
        self.seed = seed
        index = {tag: i for i, tag in enumerate(model.tags)}
        self.tag_ids = [[index[t] for t in s.tags] for s in train]
        self.lengths = [len(s.tokens) for s in train]
        self.batch_size = data.batch_size
        self.weights_dtype = data.weights_dtype

    def loss(self, indices):
        batch = make_batch([self.train[i].tokens for i in indices], self.model.tokenizer, self.model.chars, self.data.word_dropout)
        tags = torch.zeros(batch["words"].shape, dtype=torch.long)
        for row, i in enumerate(indices):
            tags[row, : len(self.tag_ids[i])] = torch.tensor(self.tag_ids[i])
        return self.network.loss(batch, tags), len(indices)

    def evaluate(self) -> dict:
        report = self.model.evaluate_sentences(self.dev, self.dev_scheme)
        score = report["f1"] if self.model.spans else report["accuracy"]
        metrics = {"score": score, "accuracy": report["accuracy"]}
        if self.model.spans:
            metrics.update(precision=report["precision"], recall=report["recall"], f1=report["f1"])
        return metrics


def train_tagger(
    train_file: str,
    dev_file: str | None,
    out_dir,
    model: TaggerConfig | None = None,
    data: TaggerDataOptions | None = None,
    train: TrainConfig | None = None,
    resume: bool = False,
    log=None,
) -> SequenceTagger:
    """Train a tagger on ``train_file``, keep the best on ``dev_file`` (F1 for span tags,
    accuracy otherwise) in ``out_dir``."""
    out_dir = Path(out_dir)
    log = log or (lambda message: None)
    run = None
    if resume:
        run = load_run(out_dir)
        model, data, train = TaggerConfig(**run["model"]), TaggerDataOptions(**run["data"]), TrainConfig(**run["train"])
        train_file, dev_file = run["train_file"], run["dev_file"]
    data = data or TaggerDataOptions()
    train = train or TrainConfig()
    if data.tag_scheme not in SCHEMES + ("auto",):
        raise DataError(f"unknown tag scheme {data.tag_scheme!r}: choose from auto, {', '.join(SCHEMES)}")
    read = dict(fmt=data.format, word_column=data.word_column, tag_column=data.tag_column)
    sentences = read_sentences(train_file, **read)
    if dev_file:
        dev = read_sentences(dev_file, **read)
    else:
        cut = int(len(sentences) * (1 - data.dev_fraction))
        if cut in (0, len(sentences)):
            raise DataError(f"{train_file}: too few sentences to hold out a dev set; give --dev")
        sentences, dev = sentences[:cut], sentences[cut:]
    scheme = detect_scheme([s.tags for s in sentences]) if data.tag_scheme == "auto" else data.tag_scheme
    train_scheme = "none" if scheme == "none" else data.train_scheme
    for sentence in sentences:
        sentence.tags = convert(sentence.tags, scheme, train_scheme)
    tags = sorted({t for s in sentences for t in s.tags})
    log(f"{len(sentences):,} training and {len(dev):,} dev sentences; {len(tags)} tags; scheme {scheme}, trained as {train_scheme}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if run is not None:
        words = load_tokenizer(out_dir, run["tokenizer"])
        chars = CharTokenizer(run["chars"])
    else:
        counts = Counter(normalize_word(w) for s in sentences for w in s.tokens)
        words = WordTokenizer(list(SPECIALS) + sorted(w for w, c in counts.items() if c >= data.min_freq and w not in SPECIALS),
                              split="whitespace")
        chars = CharTokenizer.train(["".join(s.tokens) for s in sentences])
    vectors, dim = ({}, None)
    if data.embeddings and run is None:
        vectors, dim = read_vectors(data.embeddings, words.stoi, normalize_word)
        log(f"pretrained vectors for {len(vectors):,} of {words.vocab_size:,} words ({dim} dimensions)")
    base = asdict(model or TaggerConfig(0, 0, 0))
    if dim:
        base["word_dim"] = dim
    config = TaggerConfig(**{**base, "vocab_size": words.vocab_size, "num_tags": len(tags), "char_vocab_size": chars.vocab_size})
    if run is None:
        run = {"model": asdict(config), "data": asdict(data), "train": asdict(train), "tokenizer": words.save(out_dir),
               "chars": chars.itos, "train_file": str(train_file), "dev_file": str(dev_file) if dev_file else None}
        save_run(out_dir, run)
    torch.manual_seed(train.seed)
    network = BiRNNTagger(config)
    init_embedding(network.words, vectors)
    info = {"parameters": sum(p.numel() for p in network.parameters()), "train_file": str(train_file), "data": asdict(data)}
    log(f"{config.cell} tagger with {config.char_encoder} characters and {config.decoder} output, {info['parameters']:,} parameters")
    tagger = SequenceTagger(network, words, chars, tags, scheme, train_scheme, info=info)
    task = TaggerTask(tagger, sentences, dev, scheme, data, train.seed)
    Trainer(task, train, out_dir, log=log).fit(resume=resume)
    from seqtext.modelio import load

    return load(out_dir)
