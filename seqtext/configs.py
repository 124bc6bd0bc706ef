"""Every option a user can set, as typed dataclasses: the one source of defaults, of validation
(each checks itself when made, from an option, a Python call or a saved file) and of the
command-line options of ``seqtext train`` (each field's ``Flag``: cli/options.py builds the click
option from it, so that an option and its field cannot drift apart).

Each dataclass names its ``section`` (model, data or train): messages name a field as
``section.field`` (``model.hidden_size``), which the command line shows as its flag (``--hidden``).

Torch-free on purpose, so that the command line can show these defaults without importing it.
Sizes that come from the data (``vocab_size``, ``num_tags``, ``num_classes``,
``char_vocab_size``) are filled in by the trainers; a user leaves them at 0.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

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
CHAR_ENCODERS = ("lstm", "cnn", "none")
DECODERS = ("crf", "softmax")
SP_MODEL_TYPES = ("bpe", "unigram")
WORD_SPLITS = ("regex", "whitespace")
TRAIN_SCHEMES = ("bioes", "bio")
CLASSIFIER_TOKENIZERS = ("word", "sentencepiece", "char")
CLASS_WEIGHTS = ("none", "balanced")
SCHEDULES = ("cosine", "plateau", "constant")
MAX_SEED = 2**63 - 1
MAX_BEAM = 64  # beams of one generation (seqtext generate, POST /generate)


# -- what using a model defaults to: the Python API, the command line and the server ---------------
@dataclass(frozen=True)
class GenerateDefaults:
    """LanguageModel.generate/stream, ``seqtext generate`` and POST /generate."""

    max_length: int = 500
    temperature: float = 0.8
    top_k: int | None = None
    top_p: float | None = None
    beam_size: int = 1
    num_samples: int = 1
    seed: int | None = None  # None: a fresh random seed each call
    allow_unk: bool = False


@dataclass(frozen=True)
class TagDefaults:
    """SequenceTagger.tag/predict/predict_tokens and ``seqtext tag`` (the server batches itself)."""

    batch_size: int = 256  # sentences per forward pass (the command line's, whose users saw it first)


@dataclass(frozen=True)
class ClassifyDefaults:
    """TextClassifier.predict, ``seqtext classify`` and POST /classify."""

    batch_size: int = 256  # texts per forward pass
    threshold: float = 0.5  # multi-label models: a label is given from this probability on


GENERATE = GenerateDefaults()
TAG = TagDefaults()
CLASSIFY = ClassifyDefaults()


# -- how a config field appears on the command line ---------------------------------------------
@dataclass(frozen=True)
class Flag:
    """A config field's command-line option. The click type follows from the field's type: a
    flag for ``bool``, repeatable for ``list``, a Choice with ``choices``, a range for numbers
    with ``low``/``high`` (floats are always finite); ``kind`` "file" is an existing file and
    "pairs" a ``a=b,c=d`` mapping."""

    help: str
    name: str | None = None  # the flag, where it is not --field-name
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    kind: str | None = None
    metavar: str | None = None

    def flag(self, field_name: str) -> str:
        return self.name or "--" + field_name.replace("_", "-")


FLAG = "flag"  # the key of a field's Flag in its metadata


def option(default: Any, help: str, **flag) -> Any:
    """A dataclass field that is also a command-line option (``flag``: Flag's other fields)."""
    return field(default=default, metadata={FLAG: Flag(help=help, **flag)})


def flags(cls) -> dict[str, Flag]:
    """``{field name: Flag}`` for the fields of the dataclass ``cls`` that are options."""
    return {f.name: f.metadata[FLAG] for f in fields(cls) if FLAG in f.metadata}


# Language-model shape by token unit, for the options left at None: a character carries little
# (long windows, a wide two-layer state), a word more (one layer, short windows, small batches,
# dropout 0.3, small starting embeddings). Why: docs/studies/defaults.md.
LM_UNIT_DEFAULTS = {
    "char": {"embedding_dim": 128, "hidden_size": 512, "num_layers": 2, "dropout": 0.2, "batch_size": 64, "bptt": 128,
             "lr": 2e-3, "small_embeddings": False, "singleton_unk": 0.0},
    "word": {"embedding_dim": 256, "hidden_size": 256, "num_layers": 1, "dropout": 0.3, "batch_size": 20, "bptt": 35,
             "lr": 6e-3, "small_embeddings": True, "singleton_unk": 0.5},
    "sentencepiece": {"embedding_dim": 256, "hidden_size": 512, "num_layers": 1, "dropout": 0.1, "batch_size": 32,
                      "bptt": 64, "lr": 4e-3, "small_embeddings": False, "singleton_unk": 0.0},
}
# Language models: LM_UNIT_DEFAULTS. A classifier on a pretrained language model learns faster
# (its head starts alone, the layers below at the rate / 2.6 per layer): docs/studies/defaults.md.
DEFAULT_LR = {"tagger": 2e-3, "classifier": 2e-3, "classifier_lm": 1e-2}
# Epochs by model kind for train.epochs left out (taggers were still improving at 10); others 10.
DEFAULT_EPOCHS = {"tagger": 14, "classifier": 10}
EPOCHS_OTHERWISE = 10
# How long a run goes on when none of train.max_time, train.epochs and train.max_steps is given
# (seconds; settle_by_kind): a language model trains for the time, a tagger or classifier keeps its
# epochs within half an hour (measured rates: docs/studies/defaults.md).
DEFAULT_BUDGET = {"language_model": 600.0, "tagger": 1800.0, "classifier": 1800.0}
BY_BUDGET = 1_000_000  # epochs of a run that the clock ends (train.max_time without train.epochs)

# data.tokenizer auto (lm_unit_for): the unit for a corpus under each size in bytes, the last for
# any size. Characters under 300 KB (the smallest corpus swept); from there on SentencePiece
# subwords, which read several characters a step and spell any word: in 5 minutes on one core
# they beat characters and words at every corpus size of benchmarks/lm_sweep.py
# (docs/studies/lm_sizing.md).
AUTO_UNITS: tuple[tuple[int | None, str], ...] = ((300_000, "char"), (None, "sentencepiece"))


def lm_unit_for(corpus_bytes: int) -> str:
    """The token unit ``--tokenizer auto`` chooses for a training corpus of this many bytes."""
    return next(unit for below, unit in AUTO_UNITS if below is None or corpus_bytes < below)


def auto_unit_help() -> str:
    """``"char under 300 KB, sentencepiece from there on"``, from AUTO_UNITS."""
    parts = [f"{unit} under {below / 1000:g} KB" if below else f"{unit} from there on" for below, unit in AUTO_UNITS]
    return ", ".join(parts)


SIZED_HELP = "default: sized to the corpus and the budget, unless --layers, --hidden or --embedding-dim is given"


def unit_default_help(name: str) -> str:
    """``"char 512, word 256, sentencepiece 512"``: what a --help line shows for a field of
    LM_UNIT_DEFAULTS."""
    return ", ".join(f"{unit} {values[name]}" for unit, values in LM_UNIT_DEFAULTS.items())


# -- networks ------------------------------------------------------------------------------------
@dataclass
class LMConfig:
    section: ClassVar[str] = "model"
    vocab_size: int
    # None: sized to the corpus and the budget (seqtext/lm/sizing.py) unless one of the three is given;
    # then by token unit (LM_UNIT_DEFAULTS)
    embedding_dim: int | None = option(None, f"Token embedding size [{SIZED_HELP}; else by --tokenizer: "
                                             f"{unit_default_help('embedding_dim')}].", low=1)
    hidden_size: int | None = option(None, f"Hidden size of each layer [{SIZED_HELP}; else by --tokenizer: "
                                           f"{unit_default_help('hidden_size')}].", name="--hidden", low=1)
    num_layers: int | None = option(None, f"Recurrent layers [{SIZED_HELP}; else by --tokenizer: {unit_default_help('num_layers')}].",
                                    name="--layers", low=1)
    cell: str = option("lstm", "Recurrent cell.", choices=CELLS)
    dropout: float | None = option(None, "Dropout on embeddings, between layers and before the decoder [default: by the passes "
                                         "over the corpus the budget allows, when the network is sized to it; else by --tokenizer: "
                                         f"{unit_default_help('dropout')}].", low=0, high=1, high_open=True)
    tie_weights: bool = option(False, "Share the embedding matrix with the output layer.")
    adaptive_cutoffs: list | None = None  # adaptive softmax cluster boundaries (ids), e.g. [2000, 10000]
    # Embeddings starting small (seqtext.lm.model.embedding_layer), not at N(0, 1); None: by token unit
    # (models saved before: N(0, 1)).
    small_embeddings: bool | None = None

    def __post_init__(self):
        checks.positive_ints(self, "vocab_size", "embedding_dim", "hidden_size", "num_layers", allow_zero=("vocab_size",))
        cutoffs = self.adaptive_cutoffs
        if cutoffs is not None:
            ok = isinstance(cutoffs, list) and cutoffs and all(isinstance(c, int) and not isinstance(c, bool) for c in cutoffs)
            if not ok or cutoffs != sorted(set(cutoffs)) or cutoffs[0] < 1 or (self.vocab_size and cutoffs[-1] >= self.vocab_size):
                raise ConfigError(f"model.adaptive_cutoffs must be increasing ids between 1 and the vocabulary size, not {cutoffs!r}")
            if self.tie_weights:
                raise ConfigError("an adaptive softmax cannot share the embedding matrix: leave out model.tie_weights")
        if self.dropout is not None:
            checks.fractions(self, "dropout")
        checks.choice(self, "cell", CELLS)


@dataclass
class TaggerConfig:
    section: ClassVar[str] = "model"
    vocab_size: int
    num_tags: int
    char_vocab_size: int
    word_dim: int = option(100, "Word embedding size (taken from --embeddings when given).", low=1)
    char_dim: int = option(30, "Character embedding size.", low=1)
    # Two layers, dropout 0.33 and a wider character encoder (the shipped pos and chunk settings)
    # with batches of 32 and 14 epochs beat the earlier defaults (1 layer, 0.5, 50, batches of 16,
    # 10 epochs) by 1.4-2.2 points on every task of benchmarks/tagger_defaults.py.
    char_hidden: int = option(64, "Character Bi-LSTM size per direction, or CNN filters.", low=1)
    char_encoder: str = option("lstm", "Character features of each word.", choices=CHAR_ENCODERS)
    hidden_size: int = option(200, "Hidden size per direction.", name="--hidden", low=1)
    num_layers: int = option(2, "Bidirectional recurrent layers.", name="--layers", low=1)
    cell: str = option("lstm", "Recurrent cell.", choices=CELLS)
    dropout: float = option(0.33, "Dropout before and after the recurrent layers.", low=0, high=1, high_open=True)
    decoder: str = option("crf", "Output layer.", choices=DECODERS)
    # Frozen character LMs read as contextual string embeddings: one {"model", "chars", "backward",
    # "source"} per LM, filled in from TaggerDataOptions.pretrained_lms (seqtext.tagger.contextual checks them).
    contextual_lms: list | None = None

    def __post_init__(self):
        checks.positive_ints(self, "vocab_size", "num_tags", "char_vocab_size", "word_dim", "char_dim", "char_hidden",
                             "hidden_size", "num_layers", allow_zero=("vocab_size", "num_tags", "char_vocab_size"))
        if self.contextual_lms is not None and not isinstance(self.contextual_lms, list):
            raise ConfigError(f"model.contextual_lms must be a list, not {self.contextual_lms!r}")
        checks.fractions(self, "dropout")
        checks.choice(self, "cell", CELLS)
        checks.choice(self, "char_encoder", CHAR_ENCODERS)
        checks.choice(self, "decoder", DECODERS)


@dataclass
class ClassifierConfig:
    section: ClassVar[str] = "model"
    vocab_size: int
    num_classes: int
    embedding_dim: int = option(128, "Token embedding size.", low=1)
    hidden_size: int = option(128, "Hidden size per direction.", name="--hidden", low=1)
    num_layers: int = option(1, "Bidirectional recurrent layers.", name="--layers", low=1)
    cell: str = option("gru", "Recurrent cell.", choices=CELLS)
    dropout: float = option(0.3, "Dropout on embeddings, pooled vector and MLP.", low=0, high=1, high_open=True)
    pooling: str = option("attention", "How the states become one vector (concat: last, max and mean, what a --pretrained-lm encoder uses).",
                          choices=POOLINGS)
    mlp_hidden: int = 128
    multi_label: bool = option(False, "Several labels per text (comma-separated in columns, repeated __label__ in fastText files).")
    # rnn: a bidirectional RNN stack learnt from scratch. lm: one unidirectional encoder per
    # language model (ULMFiT), in ``directions`` ("forward"/"backward"), with the LM's shape
    # (embedding_dim, hidden_size, num_layers, cell) and pooling "concat"; set by --pretrained-lm.
    encoder: str = "rnn"
    directions: list | None = None
    # The linear path over unigrams and hashed bigrams (seqtext.classifier.ngrams): its bigram bucket count;
    # None: by the number of classes (the trainer fills it in); 0: no such path (older models).
    ngram_buckets: int | None = None
    # Embeddings starting small (seqtext.lm.model.embedding_layer), not at N(0, 1); None: by tokenizer
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
                raise ConfigError(f"model.directions must list forward and/or backward once each, not {self.directions!r}")
            if self.pooling != "concat":
                raise ConfigError(f"a language-model encoder pools with concat (last, max and mean), not {self.pooling!r}")
        elif self.directions is not None or self.pooling == "concat":
            raise ConfigError("model.pooling concat and model.directions belong to language-model encoders: give "
                              "data.pretrained_lms")


def settle_unit_defaults(model: "LMConfig", data: "LMDataOptions", train: "TrainConfig", unit: str | None = None):
    """Copies of ``model``, ``data`` and ``train`` with every field left at None taken from
    LM_UNIT_DEFAULTS for ``unit`` (default: ``data.tokenizer``), so that a run saves numbers."""
    table = LM_UNIT_DEFAULTS[unit or data.tokenizer]

    def filled(config):
        values = {f: table[f] for f in table if hasattr(config, f) and getattr(config, f) is None}
        return replace(config, **values)

    return filled(model), filled(data), filled(train)


def has_limits(train: "TrainConfig | None") -> bool:
    """Whether ``train`` says how long to train (max_time, epochs or max_steps)."""
    return train is not None and any(v is not None for v in (train.max_time, train.epochs, train.max_steps))


def settle_by_kind(train: "TrainConfig", kind: str, data=None) -> "TrainConfig":
    """``train`` with the limits and, for a tagger or classifier, the learning rate left at None
    set to the defaults for ``kind`` (``data``: its data options, which say whether a
    classifier starts from language models; a language model's rate comes by token unit).
    No limit given: DEFAULT_BUDGET's time (a tagger and a classifier keep their epochs within
    it); train.max_time alone: as many epochs as the time allows."""
    if not has_limits(train) and kind in DEFAULT_BUDGET:
        train = replace(train, max_time=DEFAULT_BUDGET[kind], epochs=DEFAULT_EPOCHS.get(kind, BY_BUDGET))
    elif train.epochs is None:
        by_time = train.max_time is not None and train.max_steps is None
        train = replace(train, epochs=BY_BUDGET if by_time else DEFAULT_EPOCHS.get(kind, EPOCHS_OTHERWISE))
    if train.schedule is None and kind != "language_model":  # a language model's comes with its size
        train = replace(train, schedule="cosine")
    if kind == "classifier" and getattr(data, "pretrained_lms", None):
        kind = "classifier_lm"
    return replace(train, lr=DEFAULT_LR[kind]) if train.lr is None and kind in DEFAULT_LR else train


# -- data --------------------------------------------------------------------------------------
def _weights_dtype() -> Any:
    return option("float32", "Storage type of the saved weights (float16 halves the size).", choices=("float32", "float16"))


@dataclass
class LMDataOptions:
    section: ClassVar[str] = "data"
    # auto: by corpus size (lm_unit_for)
    tokenizer: str = option("auto", f"Token unit; auto: by the training files' size on disk, {auto_unit_help()}.",
                            choices=("auto",) + TOKENIZER_KINDS)
    vocab_size: int = option(4000, "SentencePiece vocabulary size.", low=300, high=1_000_000)
    sp_model_type: str = option("bpe", "SentencePiece algorithm.", choices=SP_MODEL_TYPES)
    min_freq: int = option(1, "char/word: tokens seen fewer times become <unk>.", low=1)
    max_vocab: int | None = option(None, "char/word: keep only the most frequent tokens.", low=5)
    word_split: str = option("regex", "word: split off punctuation, or split on whitespace only (pre-tokenized text).",
                             choices=WORD_SPLITS)
    lowercase: bool = option(False, "word: lower-case the text.")
    text_column: str = option("text", "Column holding the text in JSONL/CSV files.")
    val_fraction: float = option(0.1, "Share of the corpus (its end) held out for validation.", low=0, high=1, low_open=True,
                                 high_open=True)
    # None: by token unit (LM_UNIT_DEFAULTS)
    batch_size: int | None = option(None, f"Parallel streams the corpus is cut into [default by --tokenizer: {unit_default_help('batch_size')}].",
                                    low=1)
    bptt: int | None = option(None, f"Tokens per truncated-BPTT window [default by --tokenizer: {unit_default_help('bptt')}].", low=1)
    singleton_unk: float | None = option(
        None, "Chance that a training occurrence of a token seen once in the corpus is read as <unk>, so the model learns "
              "how often unseen words come (Good-Turing) instead of never expecting one [default by --tokenizer: "
              f"{unit_default_help('singleton_unk')}].", low=0, high=1)
    eval_batch_size: int = 16
    reset_state: bool = option(False, "Start every window from a zero hidden state instead of carrying it over.")
    fresh_share: float = option(0.125, "Extra rows per batch, as a share of --batch-size, that start at a line from a fresh state "
                                       "after <bos>, so the model learns to start (0: off).", low=0, high=1)
    max_val_tokens: int | None = option(500_000, "Validation during training scores the first N tokens of the held-out text (all of "
                                                 "it when shorter); `seqtext evaluate` always scores everything.", low=1)
    adaptive_softmax: str = option("auto", "auto: an adaptive softmax (Grave et al. 2017) for word vocabularies of 10,000 tokens or "
                                           "more, several times cheaper to train than a full one; not with --tie-weights.",
                                   choices=("auto", "off"))
    backward: bool = option(False, "Learn the text right to left: with a forward model on the same text, a --pretrained-lm pair "
                                   "for taggers (contextual string embeddings).")
    weights_dtype: str = _weights_dtype()

    def __post_init__(self):
        checks.choice(self, "tokenizer", ("auto",) + TOKENIZER_KINDS)
        checks.choice(self, "sp_model_type", SP_MODEL_TYPES)
        checks.choice(self, "word_split", WORD_SPLITS)
        checks.choice(self, "adaptive_softmax", ("auto", "off"))
        checks.choice(self, "weights_dtype", WEIGHT_DTYPES)
        checks.positive_ints(self, "vocab_size", "min_freq", "max_vocab", "batch_size", "bptt", "eval_batch_size", "max_val_tokens")
        checks.fractions(self, "fresh_share", closed=True)
        if self.singleton_unk is not None:
            checks.fractions(self, "singleton_unk", closed=True)
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"data.val_fraction must be between 0 and 1, not {self.val_fraction}")


@dataclass
class TaggerDataOptions:
    section: ClassVar[str] = "data"
    format: str = option("auto", "Input format; auto goes by the file name (.conllu, .jsonl, .parquet, a save_to_disk folder, "
                                 "else CoNLL); datasets give tokens and tags columns.", choices=("auto",) + TAGGED_FORMATS)
    word_column: int = option(0, "CoNLL: column of the words.")
    tag_column: str = option("-1", "CoNLL: column of the tags (negative counts from the end); CoNLL-U: upos or xpos; JSONL, "
                                   "Parquet and saved datasets: the column of tag lists (default tags, e.g. ner_tags; ClassLabel "
                                   "numbers are read as their names).")
    tag_scheme: str = option("auto", "Scheme of the tags in the files.", choices=("auto",) + SCHEMES)
    train_scheme: str = option("bioes", "Scheme span tags are learnt in.", choices=TRAIN_SCHEMES)
    min_freq: int = option(1, "Words seen fewer times get no embedding of their own.", low=1)
    word_dropout: float = option(0.05, "Share of training words replaced by <unk>.", low=0, high=1, high_open=True)
    batch_size: int = option(32, "Sentences per batch (bucketed by length).", low=1)
    embeddings: str | None = option(None, "Pretrained word vectors (word2vec text or GloVe); nothing is downloaded.", kind="file")
    dev_fraction: float = option(0.1, "Share of the training sentences held out when no --dev is given.", low=0, high=1,
                                 low_open=True, high_open=True)
    weights_dtype: str = _weights_dtype()
    pretrained_lms: list | None = option(
        None, "A character language model (directory or name; repeatable, e.g. a forward and a --backward one) whose states at "
              "each word's boundaries become word features (contextual string embeddings); frozen and saved inside the tagger.",
        name="--pretrained-lm", metavar="MODEL")

    def __post_init__(self):
        checks.path_list(self, "pretrained_lms")
        checks.choice(self, "format", ("auto",) + TAGGED_FORMATS)
        checks.choice(self, "tag_scheme", ("auto",) + SCHEMES)
        checks.choice(self, "train_scheme", TRAIN_SCHEMES)
        checks.choice(self, "weights_dtype", WEIGHT_DTYPES)
        checks.positive_ints(self, "min_freq", "batch_size")
        if not 0.0 < self.dev_fraction < 1.0:
            raise ConfigError(f"data.dev_fraction must be between 0 and 1, not {self.dev_fraction}")
        checks.fractions(self, "word_dropout")


@dataclass
class ClassifierDataOptions:
    section: ClassVar[str] = "data"
    format: str = option("auto", "Input format; auto guesses from the name and first line; disk: a folder written by save_to_disk.",
                         choices=LABELLED_FORMATS)
    text_column: str = option("text", "Text column (CSV/TSV/JSONL/saved dataset).")
    label_column: str = option("label", "Label column (CSV/TSV/JSONL/saved dataset).")
    tokenizer: str = option("word", "Token unit.", choices=CLASSIFIER_TOKENIZERS)
    vocab_size: int = option(8000, "SentencePiece vocabulary size.", low=300, high=1_000_000)
    min_freq: int = option(1, "word/char: rarer tokens become <unk>.", low=1)
    max_vocab: int | None = 50000
    lowercase: bool = option(False, "word: lower-case the text.")
    max_tokens: int = option(512, "Longer texts are cut to this many tokens (with a count, not an error).", low=1)
    batch_size: int = option(32, "Texts per batch (bucketed by length).", low=1)
    class_weights: str = option("none", "Weight classes by inverse frequency for unbalanced data.", choices=CLASS_WEIGHTS)
    # Rename labels found in the files, e.g. {"1": "positive"}
    label_names: dict | None = option(None, "Rename labels, e.g. '0=negative,1=positive'.", kind="pairs")
    embeddings: str | None = option(None, "Pretrained word vectors (word2vec text or GloVe) for the word tokenizer; nothing is "
                                          "downloaded.", kind="file")
    dev_fraction: float = option(0.1, "Share of the training examples held out when no --dev is given.", low=0, high=1,
                                 low_open=True, high_open=True)
    weights_dtype: str = _weights_dtype()
    # ULMFiT: language models (directories or names; a forward and/or a backward one) whose
    # tokenizer and weights the encoder starts from, each first fine-tuned on the training texts
    # for lm_finetune_epochs (0: not at all).
    pretrained_lms: list | None = option(
        None, "ULMFiT: start the encoder from this language model (directory or name; repeatable: a forward and a --backward "
              "one), with its tokenizer and shape; it is fine-tuned on the training texts first, then the classifier trains "
              "with gradual unfreezing and discriminative learning rates.", name="--pretrained-lm", metavar="MODEL")
    lm_finetune_epochs: int = option(1, "--pretrained-lm: epochs of fine-tuning each language model on the training texts, into "
                                        "OUTPUT/lm-finetuned (0: none).", low=0)

    def __post_init__(self):
        checks.path_list(self, "pretrained_lms")
        checks.positive_ints(self, "lm_finetune_epochs", allow_zero=("lm_finetune_epochs",))
        checks.choice(self, "format", LABELLED_FORMATS)
        checks.choice(self, "tokenizer", CLASSIFIER_TOKENIZERS)
        checks.choice(self, "class_weights", CLASS_WEIGHTS)
        checks.choice(self, "weights_dtype", WEIGHT_DTYPES)
        checks.positive_ints(self, "vocab_size", "min_freq", "max_vocab", "max_tokens", "batch_size")
        if not 0.0 < self.dev_fraction < 1.0:
            raise ConfigError(f"data.dev_fraction must be between 0 and 1, not {self.dev_fraction}")


# -- training ----------------------------------------------------------------------------------
def _epochs_help() -> str:
    return (f"Passes over the training data [default: as many as --max-time allows; with no limit given, taggers "
            f"{DEFAULT_EPOCHS['tagger']} and classifiers {DEFAULT_EPOCHS['classifier']} (within the default --max-time); with "
            f"--max-steps, taggers {DEFAULT_EPOCHS['tagger']}, others {EPOCHS_OTHERWISE}].")


def _max_time_help() -> str:
    def minutes(kind: str) -> str:
        return f"{DEFAULT_BUDGET[kind] / 60:g}m"

    return ("Train for this long (all resumed sessions together, the last evaluation included), keeping the best model: "
            "seconds (300) or a duration (90s, 5m, 1h, 1h30m) [default, when none of --max-time, --epochs and --max-steps "
            f"is given: language models {minutes('language_model')}, taggers and classifiers their epochs within "
            f"{minutes('tagger')}].")


# Seconds alone, or hours, minutes and seconds each with its letter, in that order.
DURATION = re.compile(r"(\d*\.?\d+)|(?=[\d.])(?:(\d*\.?\d+)h)?(?:(\d*\.?\d+)m)?(?:(\d*\.?\d+)s)?")


def parse_duration(value) -> float:
    """Seconds from a number of seconds or a string: ``300``, ``"90s"``, ``"5m"``, ``"1h"``,
    ``"1h30m"``, ``"2m30s"``, ``"1.5h"`` (what train.max_time takes); a ConfigError naming
    train.max_time for anything else, zero and below included."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"train.max_time must be a number of seconds or a duration such as 5m, not {value!r}")
    if isinstance(value, str):
        text = "".join(value.split()).lower()
        match = DURATION.fullmatch(text) if text else None
        if match is None:
            raise ConfigError(f"train.max_time must be seconds (300) or a duration such as 90s, 5m, 1h or 1h30m, not {value!r}")
        alone, hours, minutes, seconds = (float(part) if part else 0.0 for part in match.groups())
        value = alone + hours * 3600 + minutes * 60 + seconds
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"train.max_time must be a positive number of seconds, not {value}")
    return float(value)


def _lr_help() -> str:
    return (f"Peak learning rate (AdamW) [default: taggers and classifiers {DEFAULT_LR['tagger']}, classifiers with "
            f"--pretrained-lm {DEFAULT_LR['classifier_lm']}, language models by --tokenizer: {unit_default_help('lr')}].")


@dataclass
class TrainConfig:
    section: ClassVar[str] = "train"
    epochs: int | None = option(None, _epochs_help(), low=1)  # None: by model kind (DEFAULT_EPOCHS)
    max_steps: int | None = option(None, "Stop after this many optimizer steps.", low=1)
    # None: by model kind, and for language models by token unit (DEFAULT_LR, LM_UNIT_DEFAULTS)
    lr: float | None = option(None, _lr_help(), low=0, high=10, low_open=True)
    weight_decay: float = option(0.01, "AdamW weight decay on weight matrices (not on embeddings, norms, biases or CRF transitions).",
                                 low=0)
    schedule: str | None = option(None, "Learning rate after warm-up: cosine decay, halve on a validation plateau, or constant "
                                        "[default: cosine; plateau for a language model sized to a budget that reads its corpus "
                                        "more than 16 times, unless --patience or --eval-every is given].", choices=SCHEDULES)
    warmup_steps: int = option(100, "Steps of linear learning-rate warm-up.", low=0)
    min_lr_ratio: float = 0.05  # cosine decays to lr * this
    plateau_factor: float = 0.5  # plateau: multiply lr by this when validation stops improving
    clip_norm: float = option(1.0, "Clip the gradient norm to this (0: off).", low=0)
    eval_every: int | None = option(None, "Evaluate every N steps (default: each epoch).", low=1)
    checkpoint_every: int = option(200, "Write a checkpoint every N steps.", low=1)
    patience: int | None = option(None, "Stop after N evaluations without improvement.", low=1)
    seed: int = option(0, "Random seed; the same seed gives the same run on the same machine.", low=0, high=MAX_SEED)
    # Seconds; a duration string ("5m", "1h30m") is read by parse_duration. None: DEFAULT_BUDGET
    # when no other limit is given (settle_by_kind).
    max_time: float | None = option(None, _max_time_help(), kind="duration", metavar="DURATION")
    device: str = option("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps.")
    progress: bool = True  # the command line's --quiet turns it off
    tensorboard: bool = option(False, "Also write each logged evaluation as TensorBoard scalars into OUTPUT/tensorboard (needs the "
                                      "tensorboard package).")

    def __post_init__(self):
        for name in ("lr", "weight_decay", "min_lr_ratio", "plateau_factor", "clip_norm"):
            value = getattr(self, name)
            if name == "lr" and value is None:
                continue
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"train.{name} must be a finite number of 0 or more, not {value}")
        if self.lr is not None and not 0 < self.lr <= 10:
            raise ConfigError(f"train.lr must be above 0 and at most 10, not {self.lr}")
        if self.schedule is not None and self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown train.schedule {self.schedule!r}: use cosine, plateau or constant")
        if not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"train.seed must be an integer from 0 to {MAX_SEED}, not {self.seed}")
        for name in ("epochs", "max_steps", "eval_every", "checkpoint_every", "patience"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"train.{name} must be a whole number of 1 or more, not {value}")
        if self.max_time is not None:
            self.max_time = parse_duration(self.max_time)
