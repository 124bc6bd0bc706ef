"""``seqtext train``: train a model on your own data."""

from __future__ import annotations

import click

from seqtext.cli.options import logger, train_config, trainer_options


@click.group()
def train():
    """Train a model on your own files."""


@train.command("lm")
@click.argument("files", nargs=-1, required=True)
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
    """Train a language model on FILES (plain text, JSONL or CSV; globs allowed)."""
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
