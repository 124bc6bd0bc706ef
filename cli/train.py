"""``seqtext train``: train a model on your own data."""

from __future__ import annotations

import click

from seqtext.cli.options import logger, train_config, trainer_options


@click.group()
def train():
    """Train a model on your own files."""


@train.command("lm")
@click.argument("files", nargs=-1)
@click.option("--val-file", multiple=True, help="Validation file(s); without it the last --val-fraction of the corpus.")
@click.option("--val-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1, help="Share of the corpus (its end) held out for validation.")
@click.option("--text-column", default="text", help="Column holding the text in JSONL/CSV files.")
@click.option("--tokenizer", type=click.Choice(["char", "word", "sentencepiece"]), default="char", help="Token unit.")
@click.option("--vocab-size", type=click.IntRange(300), default=4000, help="SentencePiece vocabulary size.")
@click.option("--sp-model-type", type=click.Choice(["bpe", "unigram"]), default="bpe", help="SentencePiece algorithm.")
@click.option("--min-freq", type=click.IntRange(1), default=1, help="char/word: tokens seen fewer times become <unk>.")
@click.option("--max-vocab", type=click.IntRange(5), default=None, help="char/word: keep only the most frequent tokens.")
@click.option("--word-split", type=click.Choice(["regex", "whitespace"]), default="regex", help="word: split off punctuation, or split on whitespace only (pre-tokenized text).")
@click.option("--lowercase", is_flag=True, help="word: lower-case the text.")
@click.option("--cell", type=click.Choice(["lstm", "gru", "rnn"]), default="lstm", help="Recurrent cell.")
@click.option("--layers", type=click.IntRange(1), default=2, help="Recurrent layers.")
@click.option("--hidden", type=click.IntRange(1), default=512, help="Hidden size of each layer.")
@click.option("--embedding-dim", type=click.IntRange(1), default=128, help="Token embedding size.")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.2, help="Dropout on embeddings, between layers and before the decoder.")
@click.option("--tie-weights", is_flag=True, help="Share the embedding matrix with the output layer.")
@click.option("--batch-size", type=click.IntRange(1), default=64, help="Parallel streams the corpus is cut into.")
@click.option("--bptt", type=click.IntRange(1), default=128, help="Tokens per truncated-BPTT window.")
@click.option("--reset-state", is_flag=True, help="Start every window from a zero hidden state instead of carrying it over.")
@trainer_options
def train_lm(files, val_file, val_fraction, text_column, tokenizer, vocab_size, sp_model_type, min_freq, max_vocab,
             word_split, lowercase, cell, layers, hidden, embedding_dim, dropout, tie_weights, batch_size, bptt,
             reset_state, **options):
    """Train a language model on FILES (plain text, JSONL or CSV; globs allowed).

    With --resume, FILES may be left out: the run continues on the corpus it started with.
    """
    if not files and not options["resume"]:
        raise click.UsageError("give at least one training file")
    from seqtext.lm import LMConfig
    from seqtext.lm_training import LMDataOptions, train_language_model

    model = LMConfig(vocab_size=0, embedding_dim=embedding_dim, hidden_size=hidden, num_layers=layers, cell=cell,
                     dropout=dropout, tie_weights=tie_weights)
    data = LMDataOptions(tokenizer=tokenizer, vocab_size=vocab_size, sp_model_type=sp_model_type, min_freq=min_freq,
                         max_vocab=max_vocab, word_split=word_split, lowercase=lowercase, text_column=text_column,
                         val_fraction=val_fraction, batch_size=batch_size, bptt=bptt, reset_state=reset_state,
                         weights_dtype=options["weights_dtype"])
    lm = train_language_model(list(files), options["output"], model, data, train_config(options),
                              val_files=list(val_file) or None, resume=options["resume"], log=logger(options))
    loss = lm.metrics.get("loss")
    click.echo(f"saved to {options['output']} (validation loss {loss:.4f})" if loss is not None else f"saved to {options['output']}")


@train.command("classifier")
@click.argument("train_file")
@click.option("--dev", "dev_file", default=None, help="Dev file for choosing the best epoch; without it the last --dev-fraction of TRAIN_FILE.")
@click.option("--dev-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1, help="Share of the training examples held out when no --dev is given.")
@click.option("--format", "fmt", type=click.Choice(["auto", "csv", "tsv", "jsonl", "fasttext", "label-text", "disk"]), default="auto", help="Input format; auto guesses from the name and first line.")
@click.option("--text-column", default="text", help="Text column (CSV/TSV/JSONL/saved dataset).")
@click.option("--label-column", default="label", help="Label column (CSV/TSV/JSONL/saved dataset).")
@click.option("--label-names", default=None, help="Rename labels, e.g. '0=negative,1=positive'.")
@click.option("--multi-label", is_flag=True, help="Several labels per text (comma-separated in columns, repeated __label__ in fastText files).")
@click.option("--tokenizer", type=click.Choice(["word", "sentencepiece", "char"]), default="word", help="Token unit.")
@click.option("--vocab-size", type=click.IntRange(300), default=8000, help="SentencePiece vocabulary size.")
@click.option("--min-freq", type=click.IntRange(1), default=1, help="word/char: rarer tokens become <unk>.")
@click.option("--lowercase", is_flag=True, help="word: lower-case the text.")
@click.option("--max-tokens", type=click.IntRange(1), default=512, help="Longer texts are cut to this many tokens (with a count, not an error).")
@click.option("--cell", type=click.Choice(["gru", "lstm", "rnn"]), default="gru", help="Recurrent cell.")
@click.option("--layers", type=click.IntRange(1), default=1, help="Bidirectional recurrent layers.")
@click.option("--hidden", type=click.IntRange(1), default=128, help="Hidden size per direction.")
@click.option("--embedding-dim", type=click.IntRange(1), default=128, help="Token embedding size.")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.3, help="Dropout on embeddings, pooled vector and MLP.")
@click.option("--pooling", type=click.Choice(["last", "mean", "max", "attention"]), default="attention", help="How the states become one vector.")
@click.option("--batch-size", type=click.IntRange(1), default=32, help="Texts per batch (bucketed by length).")
@click.option("--class-weights", type=click.Choice(["none", "balanced"]), default="none", help="Weight classes by inverse frequency for unbalanced data.")
@click.option("--embeddings", type=click.Path(exists=True, dir_okay=False), default=None, help="Pretrained word vectors (word2vec text or GloVe) for the word tokenizer; nothing is downloaded.")
@trainer_options
def train_classifier_command(train_file, dev_file, dev_fraction, fmt, text_column, label_column, label_names, multi_label,
                             tokenizer, vocab_size, min_freq, lowercase, max_tokens, cell, layers, hidden, embedding_dim,
                             dropout, pooling, batch_size, class_weights, embeddings, **options):
    """Train a text classifier on TRAIN_FILE (CSV/TSV, JSONL, fastText, 'label text' lines or a saved dataset)."""
    from seqtext.classifier import ClassifierConfig
    from seqtext.classifier_training import ClassifierDataOptions, train_classifier

    names = None
    if label_names:
        try:
            names = dict(pair.split("=", 1) for pair in label_names.split(","))
        except ValueError:
            raise click.BadParameter("use the form '0=negative,1=positive'", param_hint="--label-names") from None
    model = ClassifierConfig(vocab_size=0, num_classes=0, embedding_dim=embedding_dim, hidden_size=hidden,
                             num_layers=layers, cell=cell, dropout=dropout, pooling=pooling, multi_label=multi_label)
    data = ClassifierDataOptions(format=fmt, text_column=text_column, label_column=label_column, tokenizer=tokenizer,
                                 vocab_size=vocab_size, min_freq=min_freq, lowercase=lowercase, max_tokens=max_tokens,
                                 batch_size=batch_size, class_weights=class_weights, label_names=names, embeddings=embeddings,
                                 weights_dtype=options["weights_dtype"])
    classifier = train_classifier(train_file, dev_file, options["output"], model, data, train_config(options),
                                  dev_fraction=dev_fraction, resume=options["resume"], log=logger(options))
    accuracy = classifier.metrics.get("accuracy")
    click.echo(f"saved to {options['output']} (dev accuracy {accuracy:.4f})" if accuracy is not None else f"saved to {options['output']}")


@train.command("tagger")
@click.argument("train_file")
@click.option("--dev", "dev_file", default=None, help="Dev file for choosing the best epoch; without it the last --dev-fraction of TRAIN_FILE.")
@click.option("--dev-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1, help="Share of the training sentences held out when no --dev is given.")
@click.option("--format", "fmt", type=click.Choice(["auto", "conll", "conllu", "jsonl"]), default="auto", help="Input format; auto goes by the file name (.conllu, .jsonl, else CoNLL).")
@click.option("--word-column", type=int, default=0, help="CoNLL: column of the words.")
@click.option("--tag-column", default="-1", help="CoNLL: column of the tags (negative counts from the end); CoNLL-U: upos or xpos.")
@click.option("--tag-scheme", type=click.Choice(["auto", "iob1", "bio", "bioes", "none"]), default="auto", help="Scheme of the tags in the files.")
@click.option("--train-scheme", type=click.Choice(["bioes", "bio"]), default="bioes", help="Scheme span tags are learnt in.")
@click.option("--embeddings", type=click.Path(exists=True, dir_okay=False), default=None, help="Pretrained word vectors (word2vec text or GloVe); nothing is downloaded.")
@click.option("--char-encoder", type=click.Choice(["lstm", "cnn", "none"]), default="lstm", help="Character features of each word.")
@click.option("--decoder", type=click.Choice(["crf", "softmax"]), default="crf", help="Output layer.")
@click.option("--cell", type=click.Choice(["lstm", "gru", "rnn"]), default="lstm", help="Recurrent cell.")
@click.option("--layers", type=click.IntRange(1), default=1, help="Bidirectional recurrent layers.")
@click.option("--hidden", type=click.IntRange(1), default=200, help="Hidden size per direction.")
@click.option("--word-dim", type=click.IntRange(1), default=100, help="Word embedding size (taken from --embeddings when given).")
@click.option("--char-dim", type=click.IntRange(1), default=30, help="Character embedding size.")
@click.option("--char-hidden", type=click.IntRange(1), default=50, help="Character Bi-LSTM size per direction, or CNN filters.")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.5, help="Dropout before and after the recurrent layers.")
@click.option("--word-dropout", type=click.FloatRange(0, 1, max_open=True), default=0.05, help="Share of training words replaced by <unk>.")
@click.option("--min-freq", type=click.IntRange(1), default=1, help="Words seen fewer times get no embedding of their own.")
@click.option("--batch-size", type=click.IntRange(1), default=16, help="Sentences per batch (bucketed by length).")
@trainer_options
def train_tagger_command(train_file, dev_file, dev_fraction, fmt, word_column, tag_column, tag_scheme, train_scheme, embeddings,
                         char_encoder, decoder, cell, layers, hidden, word_dim, char_dim, char_hidden, dropout, word_dropout,
                         min_freq, batch_size, **options):
    """Train a sequence tagger (POS, NER, chunking) on TRAIN_FILE (CoNLL, CoNLL-U or JSONL)."""
    from seqtext.tagger import TaggerConfig
    from seqtext.tagger_training import TaggerDataOptions, train_tagger

    model = TaggerConfig(0, 0, 0, word_dim=word_dim, char_dim=char_dim, char_hidden=char_hidden, char_encoder=char_encoder,
                         hidden_size=hidden, num_layers=layers, cell=cell, dropout=dropout, decoder=decoder)
    data = TaggerDataOptions(format=fmt, word_column=word_column, tag_column=tag_column, tag_scheme=tag_scheme,
                             train_scheme=train_scheme, min_freq=min_freq, word_dropout=word_dropout, batch_size=batch_size,
                             embeddings=embeddings, dev_fraction=dev_fraction, weights_dtype=options["weights_dtype"])
    tagger = train_tagger(train_file, dev_file, options["output"], model, data, train_config(options),
                          resume=options["resume"], log=logger(options))
    score = tagger.metrics.get("score")
    click.echo(f"saved to {options['output']} (dev {'F1' if tagger.spans else 'accuracy'} {score:.4f})" if score is not None else f"saved to {options['output']}")
