"""``seqtext train``: train a model on your own data.

Each option's default is the library's (``seqtext.configs``); each option maps to one config
field (the ``*_FIELDS`` tables), which is also how ``--resume`` knows what the user changed.
"""

from __future__ import annotations

import click

from seqtext.cli.options import (
    FiniteFloat,
    configs,
    default,
    logger,
    relaunch_if_asked,
    trainer_options,
)
from seqtext.configs import (
    LABELLED_FORMATS,
    LM_UNIT_DEFAULTS,
    TAGGED_FORMATS,
    WORD_UNIT_FROM,
    ClassifierConfig,
    ClassifierDataOptions,
    LMConfig,
    LMDataOptions,
    TaggerConfig,
    TaggerDataOptions,
    unit_default_help,
)

LM_FIELDS = {
    "val_fraction": "data.val_fraction", "text_column": "data.text_column", "tokenizer": "data.tokenizer",
    "vocab_size": "data.vocab_size", "sp_model_type": "data.sp_model_type", "min_freq": "data.min_freq",
    "max_vocab": "data.max_vocab", "word_split": "data.word_split", "lowercase": "data.lowercase",
    "batch_size": "data.batch_size", "bptt": "data.bptt", "reset_state": "data.reset_state",
    "fresh_share": "data.fresh_share", "max_val_tokens": "data.max_val_tokens", "adaptive_softmax": "data.adaptive_softmax", "backward": "data.backward", "cell": "model.cell", "layers": "model.num_layers",
    "hidden": "model.hidden_size", "embedding_dim": "model.embedding_dim", "dropout": "model.dropout",
    "tie_weights": "model.tie_weights",
}

CLASSIFIER_FIELDS = {
    "dev_fraction": "data.dev_fraction", "fmt": "data.format", "text_column": "data.text_column",
    "label_column": "data.label_column", "label_names": "data.label_names", "multi_label": "model.multi_label",
    "tokenizer": "data.tokenizer", "vocab_size": "data.vocab_size", "min_freq": "data.min_freq",
    "lowercase": "data.lowercase", "max_tokens": "data.max_tokens", "cell": "model.cell", "layers": "model.num_layers",
    "hidden": "model.hidden_size", "embedding_dim": "model.embedding_dim", "dropout": "model.dropout",
    "pooling": "model.pooling", "batch_size": "data.batch_size", "class_weights": "data.class_weights",
    "embeddings": "data.embeddings", "pretrained_lm": "data.pretrained_lms", "lm_finetune_epochs": "data.lm_finetune_epochs",
}

TAGGER_FIELDS = {
    "dev_fraction": "data.dev_fraction", "fmt": "data.format", "word_column": "data.word_column",
    "tag_column": "data.tag_column", "tag_scheme": "data.tag_scheme", "train_scheme": "data.train_scheme",
    "embeddings": "data.embeddings", "char_encoder": "model.char_encoder", "decoder": "model.decoder",
    "cell": "model.cell", "layers": "model.num_layers", "hidden": "model.hidden_size", "word_dim": "model.word_dim",
    "char_dim": "model.char_dim", "char_hidden": "model.char_hidden", "dropout": "model.dropout",
    "word_dropout": "data.word_dropout", "min_freq": "data.min_freq", "batch_size": "data.batch_size",
    "pretrained_lm": "data.pretrained_lms",
}


def _parse_label_names(value):
    if value is None:
        return None
    try:
        return dict(pair.split("=", 1) for pair in value.split(","))
    except ValueError:
        raise click.BadParameter("use the form '0=negative,1=positive'", param_hint="--label-names") from None


def _finish(message_metric: str, result, output: str) -> None:
    from seqtext.core import distributed

    if not distributed.is_main():
        return
    value = result.metrics.get(message_metric)
    click.echo(f"saved to {output} ({message_metric.replace('_', ' ')} {value:.4f})" if value is not None else f"saved to {output}")
    baseline = result.metrics.get("baseline")
    if isinstance(baseline, dict):
        metric = message_metric if message_metric in baseline else baseline.get("metric", "score")
        score = baseline.get(metric, baseline.get("score"))
        click.echo(f"baseline on the same split: {baseline['name']} ({metric.replace('_', ' ')} {score:.4f})")


@click.group()
def train():
    """Train a model on your own files."""


@train.command("lm")
@click.argument("files", nargs=-1)
@click.option("--val-file", multiple=True, help="Validation file(s); without it the last --val-fraction of the corpus.")
@click.option("--val-fraction", type=FiniteFloat(0, 1, min_open=True, max_open=True), default=default(LMDataOptions, "val_fraction"), help="Share of the corpus (its end) held out for validation.")
@click.option("--text-column", default=default(LMDataOptions, "text_column"), help="Column holding the text in JSONL/CSV files.")
@click.option("--tokenizer", type=click.Choice(["auto", "char", "word", "sentencepiece"]), default=default(LMDataOptions, "tokenizer"), help=f"Token unit; auto: char for training files under {WORD_UNIT_FROM // 1_000_000} MB on disk, word from there on.")
@click.option("--vocab-size", type=click.IntRange(300, 1_000_000), default=default(LMDataOptions, "vocab_size"), help="SentencePiece vocabulary size.")
@click.option("--sp-model-type", type=click.Choice(["bpe", "unigram"]), default=default(LMDataOptions, "sp_model_type"), help="SentencePiece algorithm.")
@click.option("--min-freq", type=click.IntRange(1), default=default(LMDataOptions, "min_freq"), help="char/word: tokens seen fewer times become <unk>.")
@click.option("--max-vocab", type=click.IntRange(5), default=default(LMDataOptions, "max_vocab"), help="char/word: keep only the most frequent tokens.")
@click.option("--word-split", type=click.Choice(["regex", "whitespace"]), default=default(LMDataOptions, "word_split"), help="word: split off punctuation, or split on whitespace only (pre-tokenized text).")
@click.option("--lowercase", is_flag=True, help="word: lower-case the text.")
@click.option("--cell", type=click.Choice(["lstm", "gru", "rnn"]), default=default(LMConfig, "cell"), help="Recurrent cell.")
@click.option("--layers", type=click.IntRange(1), default=None, help=f"Recurrent layers [default by --tokenizer: {unit_default_help('num_layers')}].")
@click.option("--hidden", type=click.IntRange(1), default=None, help=f"Hidden size of each layer [default by --tokenizer: {unit_default_help('hidden_size')}].")
@click.option("--embedding-dim", type=click.IntRange(1), default=None, help=f"Token embedding size [default by --tokenizer: {unit_default_help('embedding_dim')}].")
@click.option("--dropout", type=FiniteFloat(0, 1, max_open=True), default=None, help=f"Dropout on embeddings, between layers and before the decoder [default by --tokenizer: {unit_default_help('dropout')}].")
@click.option("--tie-weights", is_flag=True, help="Share the embedding matrix with the output layer.")
@click.option("--batch-size", type=click.IntRange(1), default=None, help=f"Parallel streams the corpus is cut into [default by --tokenizer: {unit_default_help('batch_size')}].")
@click.option("--bptt", type=click.IntRange(1), default=None, help=f"Tokens per truncated-BPTT window [default by --tokenizer: {unit_default_help('bptt')}].")
@click.option("--reset-state", is_flag=True, help="Start every window from a zero hidden state instead of carrying it over.")
@click.option("--fresh-share", type=FiniteFloat(0, 1), default=default(LMDataOptions, "fresh_share"), help="Extra rows per batch, as a share of --batch-size, that start at a line from a fresh state after <bos>, so the model learns to start (0: off).")
@click.option("--max-val-tokens", type=click.IntRange(1), default=default(LMDataOptions, "max_val_tokens"), help="Validation during training scores the first N tokens of the held-out text (all of it when shorter); `seqtext evaluate` always scores everything.")
@click.option("--adaptive-softmax", type=click.Choice(["auto", "off"]), default=default(LMDataOptions, "adaptive_softmax"), help="auto: an adaptive softmax (Grave et al. 2017) for word vocabularies of 10,000 tokens or more, several times cheaper to train than a full one; not with --tie-weights.")
@click.option("--backward", is_flag=True, help="Learn the text right to left: with a forward model on the same text, a --pretrained-lm pair for taggers (contextual string embeddings).")
@click.option("--init-from", default=None, help="Start from this language model's weights and tokenizer (name or directory); its network settings replace --hidden and the like.")
@trainer_options
def train_lm(files, val_file, init_from, **params):
    """Train a language model on FILES (plain text, JSONL or CSV; globs allowed).

    With --resume, FILES may be left out: the run continues on the corpus it started with.
    """
    if not files and not params["resume"]:
        raise click.UsageError("give at least one training file")
    nproc = params.pop("nproc")
    relaunch_if_asked(nproc, None if params["resume"] or nproc <= 1 else _lm_batch_size(params, files, init_from))
    from seqtext.core.trainer import TrainConfig
    from seqtext.lm.training import train_language_model

    sections, given = configs(params, LM_FIELDS)
    lm = train_language_model(
        list(files), params["output"], model=LMConfig(vocab_size=0, **sections["model"]),
        data=LMDataOptions(**sections["data"]), train=TrainConfig(**sections["train"]), val_files=list(val_file) or None,
        resume=params["resume"], overwrite=params["overwrite"], given=given, init_from=init_from, log=logger(params),
    )
    _finish("loss", lm, params["output"])


def _lm_batch_size(params: dict, files, init_from) -> int | None:
    """The global batch a new language-model run will use, for --nproc to share out (None: the
    model given by --init-from decides)."""
    unit = params["tokenizer"]
    if params["batch_size"] or init_from:
        return params["batch_size"]
    if unit == "auto":
        from seqtext.lm.corpus import auto_unit

        unit = auto_unit(list(files))
    return LM_UNIT_DEFAULTS[unit]["batch_size"]


@train.command("classifier")
@click.argument("train_files", nargs=-1)
@click.option("--dev", "dev_file", default=None, help="Dev file for choosing the best epoch; without it --dev-fraction of the training examples, drawn at random (fixed seed).")
@click.option("--dev-fraction", type=FiniteFloat(0, 1, min_open=True, max_open=True), default=default(ClassifierDataOptions, "dev_fraction"), help="Share of the training examples held out when no --dev is given.")
@click.option("--format", "fmt", type=click.Choice(LABELLED_FORMATS), default=default(ClassifierDataOptions, "format"), help="Input format; auto guesses from the name and first line; disk: a folder written by save_to_disk.")
@click.option("--text-column", default=default(ClassifierDataOptions, "text_column"), help="Text column (CSV/TSV/JSONL/saved dataset).")
@click.option("--label-column", default=default(ClassifierDataOptions, "label_column"), help="Label column (CSV/TSV/JSONL/saved dataset).")
@click.option("--label-names", default=None, callback=lambda ctx, param, value: _parse_label_names(value), help="Rename labels, e.g. '0=negative,1=positive'.")
@click.option("--multi-label", is_flag=True, help="Several labels per text (comma-separated in columns, repeated __label__ in fastText files).")
@click.option("--tokenizer", type=click.Choice(["word", "sentencepiece", "char"]), default=default(ClassifierDataOptions, "tokenizer"), help="Token unit.")
@click.option("--vocab-size", type=click.IntRange(300, 1_000_000), default=default(ClassifierDataOptions, "vocab_size"), help="SentencePiece vocabulary size.")
@click.option("--min-freq", type=click.IntRange(1), default=default(ClassifierDataOptions, "min_freq"), help="word/char: rarer tokens become <unk>.")
@click.option("--lowercase", is_flag=True, help="word: lower-case the text.")
@click.option("--max-tokens", type=click.IntRange(1), default=default(ClassifierDataOptions, "max_tokens"), help="Longer texts are cut to this many tokens (with a count, not an error).")
@click.option("--cell", type=click.Choice(["gru", "lstm", "rnn"]), default=default(ClassifierConfig, "cell"), help="Recurrent cell.")
@click.option("--layers", type=click.IntRange(1), default=default(ClassifierConfig, "num_layers"), help="Bidirectional recurrent layers.")
@click.option("--hidden", type=click.IntRange(1), default=default(ClassifierConfig, "hidden_size"), help="Hidden size per direction.")
@click.option("--embedding-dim", type=click.IntRange(1), default=default(ClassifierConfig, "embedding_dim"), help="Token embedding size.")
@click.option("--dropout", type=FiniteFloat(0, 1, max_open=True), default=default(ClassifierConfig, "dropout"), help="Dropout on embeddings, pooled vector and MLP.")
@click.option("--pooling", type=click.Choice(["last", "mean", "max", "attention"]), default=default(ClassifierConfig, "pooling"), help="How the states become one vector.")
@click.option("--batch-size", type=click.IntRange(1), default=default(ClassifierDataOptions, "batch_size"), help="Texts per batch (bucketed by length).")
@click.option("--class-weights", type=click.Choice(["none", "balanced"]), default=default(ClassifierDataOptions, "class_weights"), help="Weight classes by inverse frequency for unbalanced data.")
@click.option("--embeddings", type=click.Path(exists=True, dir_okay=False), default=None, help="Pretrained word vectors (word2vec text or GloVe) for the word tokenizer; nothing is downloaded.")
@click.option("--pretrained-lm", "pretrained_lm", multiple=True, metavar="MODEL", help="ULMFiT: start the encoder from this language model (directory or name; repeatable: a forward and a --backward one), with its tokenizer and shape; it is fine-tuned on the training texts first, then the classifier trains with gradual unfreezing and discriminative learning rates.")
@click.option("--lm-finetune-epochs", type=click.IntRange(0), default=default(ClassifierDataOptions, "lm_finetune_epochs"), help="--pretrained-lm: epochs of fine-tuning each language model on the training texts, into OUTPUT/lm-finetuned (0: none).")
@trainer_options
def train_classifier_command(train_files, dev_file, **params):
    """Train a text classifier on TRAIN_FILES (CSV/TSV, JSONL, fastText, 'label text' lines or a
    saved dataset; globs allowed). With --resume they may be left out."""
    if not train_files and not params["resume"]:
        raise click.UsageError("give a training file")
    relaunch_if_asked(params.pop("nproc"), None if params["resume"] else params["batch_size"])
    from seqtext.classifier.training import train_classifier
    from seqtext.core.trainer import TrainConfig

    sections, given = configs(params, CLASSIFIER_FIELDS)
    classifier = train_classifier(
        list(train_files), dev_file, params["output"], model=ClassifierConfig(vocab_size=0, num_classes=0, **sections["model"]),
        data=ClassifierDataOptions(**sections["data"]), train=TrainConfig(**sections["train"]), resume=params["resume"],
        overwrite=params["overwrite"], given=given, log=logger(params),
    )
    _finish("accuracy", classifier, params["output"])


@train.command("tagger")
@click.argument("train_files", nargs=-1)
@click.option("--dev", "dev_file", default=None, help="Dev file for choosing the best epoch; without it the last --dev-fraction of the training sentences.")
@click.option("--dev-fraction", type=FiniteFloat(0, 1, min_open=True, max_open=True), default=default(TaggerDataOptions, "dev_fraction"), help="Share of the training sentences held out when no --dev is given.")
@click.option("--format", "fmt", type=click.Choice(("auto",) + TAGGED_FORMATS), default=default(TaggerDataOptions, "format"), help="Input format; auto goes by the file name (.conllu, .jsonl, .parquet, a save_to_disk folder, else CoNLL); datasets give tokens and tags columns.")
@click.option("--word-column", type=int, default=default(TaggerDataOptions, "word_column"), help="CoNLL: column of the words.")
@click.option("--tag-column", default=default(TaggerDataOptions, "tag_column"), help="CoNLL: column of the tags (negative counts from the end); CoNLL-U: upos or xpos; JSONL, Parquet and saved datasets: the column of tag lists (default tags, e.g. ner_tags; ClassLabel numbers are read as their names).")
@click.option("--tag-scheme", type=click.Choice(["auto", "iob1", "bio", "bioes", "none"]), default=default(TaggerDataOptions, "tag_scheme"), help="Scheme of the tags in the files.")
@click.option("--train-scheme", type=click.Choice(["bioes", "bio"]), default=default(TaggerDataOptions, "train_scheme"), help="Scheme span tags are learnt in.")
@click.option("--embeddings", type=click.Path(exists=True, dir_okay=False), default=None, help="Pretrained word vectors (word2vec text or GloVe); nothing is downloaded.")
@click.option("--pretrained-lm", "pretrained_lm", multiple=True, metavar="MODEL", help="A character language model (directory or name; repeatable, e.g. a forward and a --backward one) whose states at each word's boundaries become word features (contextual string embeddings); frozen and saved inside the tagger.")
@click.option("--char-encoder", type=click.Choice(["lstm", "cnn", "none"]), default=default(TaggerConfig, "char_encoder"), help="Character features of each word.")
@click.option("--decoder", type=click.Choice(["crf", "softmax"]), default=default(TaggerConfig, "decoder"), help="Output layer.")
@click.option("--cell", type=click.Choice(["lstm", "gru", "rnn"]), default=default(TaggerConfig, "cell"), help="Recurrent cell.")
@click.option("--layers", type=click.IntRange(1), default=default(TaggerConfig, "num_layers"), help="Bidirectional recurrent layers.")
@click.option("--hidden", type=click.IntRange(1), default=default(TaggerConfig, "hidden_size"), help="Hidden size per direction.")
@click.option("--word-dim", type=click.IntRange(1), default=default(TaggerConfig, "word_dim"), help="Word embedding size (taken from --embeddings when given).")
@click.option("--char-dim", type=click.IntRange(1), default=default(TaggerConfig, "char_dim"), help="Character embedding size.")
@click.option("--char-hidden", type=click.IntRange(1), default=default(TaggerConfig, "char_hidden"), help="Character Bi-LSTM size per direction, or CNN filters.")
@click.option("--dropout", type=FiniteFloat(0, 1, max_open=True), default=default(TaggerConfig, "dropout"), help="Dropout before and after the recurrent layers.")
@click.option("--word-dropout", type=FiniteFloat(0, 1, max_open=True), default=default(TaggerDataOptions, "word_dropout"), help="Share of training words replaced by <unk>.")
@click.option("--min-freq", type=click.IntRange(1), default=default(TaggerDataOptions, "min_freq"), help="Words seen fewer times get no embedding of their own.")
@click.option("--batch-size", type=click.IntRange(1), default=default(TaggerDataOptions, "batch_size"), help="Sentences per batch (bucketed by length).")
@trainer_options
def train_tagger_command(train_files, dev_file, **params):
    """Train a sequence tagger (POS, NER, chunking) on TRAIN_FILES (CoNLL, CoNLL-U or JSONL;
    globs allowed). With --resume they may be left out."""
    if not train_files and not params["resume"]:
        raise click.UsageError("give a training file")
    relaunch_if_asked(params.pop("nproc"), None if params["resume"] else params["batch_size"])
    from seqtext.core.trainer import TrainConfig
    from seqtext.tagger.training import train_tagger

    sections, given = configs(params, TAGGER_FIELDS)
    tagger = train_tagger(
        list(train_files), dev_file, params["output"], model=TaggerConfig(0, 0, 0, **sections["model"]),
        data=TaggerDataOptions(**sections["data"]), train=TrainConfig(**sections["train"]), resume=params["resume"],
        overwrite=params["overwrite"], given=given, log=logger(params),
    )
    _finish("f1" if tagger.spans else "accuracy", tagger, params["output"])


from seqtext.cli.embeddings import embeddings as _embeddings  # noqa: E402  (its own module; registered here)

train.add_command(_embeddings)
