"""Every option a user can set, as typed dataclasses: the one source of defaults (the command
line reads them) and of validation (each checks itself when made, from an option, a Python
call or a saved file).

Torch-free on purpose, so that the command line can show these defaults without importing it.
Sizes that come from the data (``vocab_size``, ``num_tags``, ``num_classes``,
``char_vocab_size``) are filled in by the trainers; a user leaves them at 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from seqtext import checks
from seqtext.errors import ConfigError

CELLS = ("lstm", "gru", "rnn")
POOLINGS = ("last", "mean", "max", "attention", "concat")  # concat: last, max and mean (language-model encoders)
ENCODERS = ("rnn", "lm")
DIRECTIONS = ("forward", "backward")
TOKENIZER_KINDS = ("char", "word", "sentencepiece")
SCHEMES = ("iob1", "bio", "bioes", "none")
TAGGED_FORMATS = ("conll", "conllu", "jsonl", "parquet", "disk")  # disk: a save_to_disk folder
LABELLED_FORMATS = ("auto", "csv", "tsv", "jsonl", "parquet", "fasttext", "label-text", "disk")
EVALUATE_FORMATS = tuple(dict.fromkeys(LABELLED_FORMATS + TAGGED_FORMATS))  # seqtext evaluate: a classifier's or a tagger's
WEIGHT_DTYPES = ("float32", "float16", "bfloat16")
MAX_SEED = 2**63 - 1


# -- networks ------------------------------------------------------------------------------------
@dataclass
class LMConfig:
    vocab_size: int
    embedding_dim: int | None = None  # None: by token unit (LM_UNIT_DEFAULTS)
    hidden_size: int | None = None  # None: by token unit
    num_layers: int | None = None  # None: by token unit
    cell: str = "lstm"
    dropout: float | None = None  # None: by token unit
    tie_weights: bool = False
    adaptive_cutoffs: list | None = None  # adaptive softmax cluster boundaries (ids), e.g. [2000, 10000]
    # Embeddings starting small (seqtext.lm.embedding_layer), not at N(0, 1); None: by token unit
    # (models saved before: N(0, 1)).
    small_embeddings: bool | None = None

    def __post_init__(self):
        checks.positive_ints(self, "vocab_size", "embedding_dim", "hidden_size", "num_layers", allow_zero=("vocab_size",))
        cutoffs = self.adaptive_cutoffs
        if cutoffs is not None:
            ok = isinstance(cutoffs, list) and cutoffs and all(isinstance(c, int) and not isinstance(c, bool) for c in cutoffs)
            if not ok or cutoffs != sorted(set(cutoffs)) or cutoffs[0] < 1 or (self.vocab_size and cutoffs[-1] >= self.vocab_size):
                raise ConfigError(f"adaptive-cutoffs must be increasing ids between 1 and the vocabulary size, not {cutoffs!r}")
            if self.tie_weights:
                raise ConfigError("an adaptive softmax cannot share the embedding matrix: leave out --tie-weights")
        if self.dropout is not None:
            checks.fractions(self, "dropout")
        checks.choice(self, "cell", CELLS)


@dataclass
class TaggerConfig:
    vocab_size: int
    num_tags: int
    char_vocab_size: int
    word_dim: int = 100
    char_dim: int = 30
    # Two layers, dropout 0.33 and a wider character encoder (the shipped pos and chunk settings)
    # with batches of 32 and 14 epochs beat the earlier defaults (1 layer, 0.5, 50, batches of 16,
    # 10 epochs) by 1.4-2.2 points on every task of benchmarks/tagger_defaults.py.
    char_hidden: int = 64  # per direction (lstm) or number of filters (cnn)
    char_encoder: str = "lstm"  # lstm | cnn | none
    hidden_size: int = 200  # per direction
    num_layers: int = 2
    cell: str = "lstm"
    dropout: float = 0.33
    decoder: str = "crf"  # crf | softmax
    # Frozen character LMs read as contextual string embeddings: one {"model", "chars", "backward",
    # "source"} per LM, filled in from TaggerDataOptions.pretrained_lms (seqtext.contextual checks them).
    contextual_lms: list | None = None

    def __post_init__(self):
        checks.positive_ints(self, "vocab_size", "num_tags", "char_vocab_size", "word_dim", "char_dim", "char_hidden",
                             "hidden_size", "num_layers", allow_zero=("vocab_size", "num_tags", "char_vocab_size"))
        if self.contextual_lms is not None and not isinstance(self.contextual_lms, list):
            raise ConfigError(f"contextual-lms must be a list, not {self.contextual_lms!r}")
        checks.fractions(self, "dropout")
        checks.choice(self, "cell", CELLS)
        checks.choice(self, "char_encoder", ("lstm", "cnn", "none"))
        checks.choice(self, "decoder", ("crf", "softmax"))


@dataclass
class ClassifierConfig:
    vocab_size: int
    num_classes: int
    embedding_dim: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    cell: str = "gru"
    dropout: float = 0.3
    pooling: str = "attention"
    mlp_hidden: int = 128
    multi_label: bool = False
    # rnn: a bidirectional RNN stack learnt from scratch. lm: one unidirectional encoder per
    # language model (ULMFiT), in ``directions`` ("forward"/"backward"), with the LM's shape
    # (embedding_dim, hidden_size, num_layers, cell) and pooling "concat"; set by --pretrained-lm.
    encoder: str = "rnn"
    directions: list | None = None
    # The linear path over unigrams and hashed bigrams (seqtext.ngrams): its bigram bucket count;
    # None: by the number of classes (the trainer fills it in); 0: no such path (older models).
    ngram_buckets: int | None = None
    # Embeddings starting small (seqtext.lm.embedding_layer), not at N(0, 1); None: by tokenizer
    # (the trainer fills it in: word tokens; models saved before: N(0, 1)).
    small_embeddings: bool | None = None

    def __post_init__(self):
        checks.positive_ints(self, "vocab_size", "num_classes", "embedding_dim", "hidden_size", "num_layers", "mlp_hidden",
                             "ngram_buckets", allow_zero=("vocab_size", "num_classes", "ngram_buckets"))
        checks.fractions(self, "dropout")
        checks.choice(self, "cell", CELLS)
        checks.choice(self, "pooling", POOLINGS)
        checks.choice(self, "encoder", ENCODERS)
        if self.encoder == "lm":
            ok = isinstance(self.directions, list) and 0 < len(self.directions) <= 2 and len(set(map(str, self.directions))) == len(self.directions)
            if not ok or any(d not in DIRECTIONS for d in self.directions):
                raise ConfigError(f"directions must list forward and/or backward once each, not {self.directions!r}")
            if self.pooling != "concat":
                raise ConfigError(f"a language-model encoder pools with concat (last, max and mean), not {self.pooling!r}")
        elif self.directions is not None or self.pooling == "concat":
            raise ConfigError("directions and concat pooling belong to language-model encoders (encoder lm, --pretrained-lm)")


# Language-model shape by token unit, for the options left at None. A character carries little:
# long windows and a wide two-layer state (the shipped shakespeare model). A word or subword
# carries more, and a corpus has several times fewer of them, so the same tokens per step would
# leave a few dozen steps per epoch: one layer, short windows and small batches learn far more in
# the same time (benchmarks/peer_lm.py, word-level tiny Shakespeare on 2 threads: perplexity 430
# in 45 s against the peer's 625 in 91 s, at dropout 0.1 with N(0, 1) embeddings; seqtext with the
# peer's two-layer shape: 652). Word dropout 0.3, not 0.1: a run of several passes (20 minutes on
# 1.5 M words of reviews) overfits at 0.1 (validation perplexity 176.7, rising in the last pass)
# and reaches 167.0 at 0.3, while a 40-second run loses 3 % (tiny Shakespeare words: 456 against
# 443). Small starting embeddings (seqtext.lm.embedding_layer) for words, whose rare ones N(0, 1)
# left at random vectors (the same 20 minutes: 189.9 -> 176.7); not for characters, each seen
# thousands of times, where they only slowed a short run (the 150-step model of tests/conftest.py:
# perplexity 20.5, where test_lm.py wants under 17.8), nor, unmeasured, for subwords.
LM_UNIT_DEFAULTS = {
    "char": {"embedding_dim": 128, "hidden_size": 512, "num_layers": 2, "dropout": 0.2, "batch_size": 64, "bptt": 128,
             "lr": 2e-3, "small_embeddings": False},
    "word": {"embedding_dim": 256, "hidden_size": 256, "num_layers": 1, "dropout": 0.3, "batch_size": 20, "bptt": 35,
             "lr": 6e-3, "small_embeddings": True},
    "sentencepiece": {"embedding_dim": 256, "hidden_size": 512, "num_layers": 1, "dropout": 0.1, "batch_size": 32,
                      "bptt": 64, "lr": 4e-3, "small_embeddings": False},
}
# Language models: LM_UNIT_DEFAULTS. A classifier on a pretrained language model (--pretrained-lm)
# learns faster: its batch-normalised head starts alone and the layers below train at the rate
# / 2.6 per layer (SST-2, 6,920 sentences, 20-minute reviews LM: the network alone 72.6 % at
# 2e-3, 78.1 % at 1e-2; benchmarks/classifier_defaults.py).
DEFAULT_LR = {"tagger": 2e-3, "classifier": 2e-3, "classifier_lm": 1e-2}
# Epochs by model kind for --epochs left out. Taggers: 14, since at 10 every tagger in
# benchmarks/tagger_defaults.py (2,000-3,000 sentences) and the shipped ner was still improving in
# its last epoch; others (and a Trainer given no number): 10.
DEFAULT_EPOCHS = {"tagger": 14}
EPOCHS_OTHERWISE = 10

# --tokenizer auto (train lm): characters for a corpus under WORD_UNIT_FROM bytes, words from there
# on. A small corpus holds too few of most words for a word model to learn them (tiny Shakespeare,
# 1.1 MB: a character model, 1.43 nats/char; words, perplexity 430), while on a larger one a
# character model spends the time spelling: in 20 minutes on 2 CPU threads the default character
# model reads 6.5 M characters, under one pass of a 7.7 MB review corpus, and the word model four
# passes over it, which is what a classifier built on it (--pretrained-lm) needs.
WORD_UNIT_FROM = 3_000_000


def lm_unit_for(corpus_bytes: int) -> str:
    """The token unit ``--tokenizer auto`` chooses for a training corpus of this many bytes."""
    return "word" if corpus_bytes >= WORD_UNIT_FROM else "char"


def unit_default_help(name: str) -> str:
    """``"char 512, word 256, sentencepiece 512"``: what a --help line shows for a field of
    LM_UNIT_DEFAULTS."""
    return ", ".join(f"{unit} {values[name]}" for unit, values in LM_UNIT_DEFAULTS.items())


def settle_unit_defaults(model: "LMConfig", data: "LMDataOptions", train: "TrainConfig", unit: str | None = None):
    """Copies of ``model``, ``data`` and ``train`` with every field left at None taken from
    LM_UNIT_DEFAULTS for ``unit`` (default: ``data.tokenizer``), so that a run saves numbers."""
    table = LM_UNIT_DEFAULTS[unit or data.tokenizer]

    def filled(config):
        values = {f: table[f] for f in table if hasattr(config, f) and getattr(config, f) is None}
        return replace(config, **values)

    return filled(model), filled(data), filled(train)


def settle_by_kind(train: "TrainConfig", kind: str, data=None) -> "TrainConfig":
    """``train`` with the epochs and, for a tagger or classifier, the learning rate left at None
    set to the defaults for ``kind`` (``data``: its data options, which say whether a
    classifier starts from language models; a language model's rate comes by token unit)."""
    if train.epochs is None:
        train = replace(train, epochs=DEFAULT_EPOCHS.get(kind, EPOCHS_OTHERWISE))
    if kind == "classifier" and getattr(data, "pretrained_lms", None):
        kind = "classifier_lm"
    return replace(train, lr=DEFAULT_LR[kind]) if train.lr is None and kind in DEFAULT_LR else train


# -- data --------------------------------------------------------------------------------------
@dataclass
class LMDataOptions:
    tokenizer: str = "auto"  # auto (by corpus size: lm_unit_for) | char | word | sentencepiece
    vocab_size: int = 4000  # sentencepiece only
    sp_model_type: str = "bpe"  # sentencepiece: bpe | unigram
    min_freq: int = 1  # char/word: rarer tokens become <unk>
    max_vocab: int | None = None  # char/word: keep at most this many tokens
    word_split: str = "regex"  # word: regex | whitespace
    lowercase: bool = False  # word
    text_column: str = "text"
    val_fraction: float = 0.1
    batch_size: int | None = None  # None: by token unit (LM_UNIT_DEFAULTS)
    bptt: int | None = None  # None: by token unit
    eval_batch_size: int = 16
    reset_state: bool = False  # zero the hidden state at every window instead of carrying it
    fresh_share: float = 0.125  # extra rows per batch, as a share of batch_size, that start a line from zero
    max_val_tokens: int | None = 500_000  # validation during training scores at most this many tokens
    adaptive_softmax: str = "auto"  # auto: for word vocabularies of 10,000 tokens or more | off
    backward: bool = False  # learn the text right to left (the second half of contextual string embeddings)
    weights_dtype: str = "float32"  # how the saved model stores its weights

    def __post_init__(self):
        checks.choice(self, "tokenizer", ("auto",) + TOKENIZER_KINDS)
        checks.choice(self, "sp_model_type", ("bpe", "unigram"))
        checks.choice(self, "word_split", ("regex", "whitespace"))
        checks.choice(self, "adaptive_softmax", ("auto", "off"))
        checks.choice(self, "weights_dtype", WEIGHT_DTYPES)
        checks.positive_ints(self, "vocab_size", "min_freq", "max_vocab", "batch_size", "bptt", "eval_batch_size", "max_val_tokens")
        checks.fractions(self, "fresh_share", closed=True)
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val-fraction must be between 0 and 1, not {self.val_fraction}")


@dataclass
class TaggerDataOptions:
    format: str = "auto"  # conll | conllu | jsonl
    word_column: int = 0
    tag_column: str = "-1"  # CoNLL column number, or upos/xpos for CoNLL-U
    tag_scheme: str = "auto"  # scheme of the files: auto | iob1 | bio | bioes | none
    train_scheme: str = "bioes"  # scheme span tags are learnt in: bioes | bio
    min_freq: int = 1
    word_dropout: float = 0.05
    batch_size: int = 32
    embeddings: str | None = None  # word2vec/GloVe text file
    dev_fraction: float = 0.1  # held out of train when no dev file is given
    weights_dtype: str = "float32"
    pretrained_lms: list | None = None  # character LMs (directories or names) for contextual string embeddings

    def __post_init__(self):
        checks.path_list(self, "pretrained_lms")
        checks.choice(self, "format", ("auto",) + TAGGED_FORMATS)
        checks.choice(self, "tag_scheme", ("auto",) + SCHEMES)
        checks.choice(self, "train_scheme", ("bioes", "bio"))
        checks.choice(self, "weights_dtype", WEIGHT_DTYPES)
        checks.positive_ints(self, "min_freq", "batch_size")
        if not 0.0 < self.dev_fraction < 1.0:
            raise ConfigError(f"dev-fraction must be between 0 and 1, not {self.dev_fraction}")
        checks.fractions(self, "word_dropout")


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
    dev_fraction: float = 0.1  # held out of train when no dev file is given
    weights_dtype: str = "float32"
    # ULMFiT: language models (directories or names; a forward and/or a backward one) whose
    # tokenizer and weights the encoder starts from, each first fine-tuned on the training texts
    # for lm_finetune_epochs (0: not at all).
    pretrained_lms: list | None = None
    lm_finetune_epochs: int = 1

    def __post_init__(self):
        checks.path_list(self, "pretrained_lms")
        checks.positive_ints(self, "lm_finetune_epochs", allow_zero=("lm_finetune_epochs",))
        checks.choice(self, "format", LABELLED_FORMATS)
        checks.choice(self, "tokenizer", ("word", "sentencepiece", "char"))
        checks.choice(self, "class_weights", ("none", "balanced"))
        checks.choice(self, "weights_dtype", WEIGHT_DTYPES)
        checks.positive_ints(self, "vocab_size", "min_freq", "max_vocab", "max_tokens", "batch_size")
        if not 0.0 < self.dev_fraction < 1.0:
            raise ConfigError(f"dev-fraction must be between 0 and 1, not {self.dev_fraction}")


# -- training ----------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    epochs: int | None = None  # None: by model kind (DEFAULT_EPOCHS)
    max_steps: int | None = None  # stop after this many optimizer steps in all
    lr: float | None = None  # None: by model kind, and for language models by token unit (DEFAULT_LR, LM_UNIT_DEFAULTS)
    weight_decay: float = 0.01
    schedule: str = "cosine"  # cosine | plateau | constant
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05  # cosine decays to lr * this
    plateau_factor: float = 0.5  # plateau: multiply lr by this when validation stops improving
    clip_norm: float = 1.0
    eval_every: int | None = None  # steps between evaluations; None: at the end of each epoch
    checkpoint_every: int = 200  # steps between checkpoints
    patience: int | None = None  # evaluations without improvement before stopping early
    seed: int = 0
    max_time: float | None = None  # seconds of training (all sessions together) before stopping
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    progress: bool = True
    tensorboard: bool = False  # also write each log.jsonl record as TensorBoard scalars into RUN_DIR/tensorboard

    def __post_init__(self):
        for name in ("lr", "weight_decay", "min_lr_ratio", "plateau_factor", "clip_norm"):
            value = getattr(self, name)
            if name == "lr" and value is None:
                continue
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name.replace('_', '-')} must be a finite number of 0 or more, not {value}")
        if self.lr is not None and not 0 < self.lr <= 10:
            raise ConfigError(f"learning rate must be above 0 and at most 10, not {self.lr}")
        if self.schedule not in ("cosine", "plateau", "constant"):
            raise ConfigError(f"unknown schedule {self.schedule!r}: use cosine, plateau or constant")
        if not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be an integer from 0 to {MAX_SEED}, not {self.seed}")
        for name in ("epochs", "max_steps", "eval_every", "checkpoint_every", "patience"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name.replace('_', '-')} must be a whole number of 1 or more, not {value}")
        if self.max_time is not None and not (math.isfinite(self.max_time) and self.max_time > 0):
            raise ConfigError(f"max-time must be a positive number of seconds, not {self.max_time}")
