"""``seqtext train embeddings``: word vectors from your own unlabelled text, for the
``--embeddings`` option of ``train tagger`` and ``train classifier``."""

from __future__ import annotations

import click

from seqtext.cli.options import SEED, FiniteFloat, default
from seqtext.text.embeddings import EmbeddingOptions

# seqtext.text.embeddings loads torch (through core.modeldir): cli/train.py imports this module only when
# `train embeddings` is asked for, and train_embeddings is imported inside the command.


@click.command("embeddings")
@click.argument("files", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Vectors file to write (word2vec text format).")
@click.option("--text-column", default=default(EmbeddingOptions, "text_column"), help="Column holding the text in JSONL/CSV files.")
@click.option("--word-split", type=click.Choice(["regex", "whitespace"]), default=default(EmbeddingOptions, "word_split"), help="Split off punctuation, or split on whitespace only (pre-tokenized text).")
@click.option("--lowercase", is_flag=True, help="Lower-case the text (taggers look words up in lower case).")
@click.option("--min-count", type=click.IntRange(1), default=default(EmbeddingOptions, "min_count"), help="Words seen fewer times get no vector.")
@click.option("--dim", type=click.IntRange(2), default=default(EmbeddingOptions, "dim"), help="Vector size (the tagger's --word-dim or the classifier's --embedding-dim follows it).")
@click.option("--window", type=click.IntRange(1), default=default(EmbeddingOptions, "window"), help="Context words on each side, at most (each word draws its own window from 1 to this).")
@click.option("--negatives", type=click.IntRange(1), default=default(EmbeddingOptions, "negatives"), help="Noise words per (word, context) pair.")
@click.option("--epochs", type=click.IntRange(1), default=default(EmbeddingOptions, "epochs"), help="Passes over the text.")
@click.option("--subsample", type=FiniteFloat(0, 1, max_open=True), default=default(EmbeddingOptions, "subsample"), help="Thin out words more frequent than this share of the text (0: off).")
@click.option("--lr", type=FiniteFloat(0, 10, min_open=True), default=default(EmbeddingOptions, "lr"), help="Starting learning rate (plain SGD, falling linearly to nearly 0).")
@click.option("--batch-size", type=click.IntRange(1), default=default(EmbeddingOptions, "batch_size"), help="(word, context) pairs per update.")
@click.option("--seed", type=SEED, default=default(EmbeddingOptions, "seed"), help="Random seed; the same seed gives the same vectors on the same machine and thread count.")
@click.option("--quiet", is_flag=True, help="No progress bar or messages.")
def embeddings(files, output, quiet, **params):
    """Learn word vectors from FILES (plain text, JSONL or CSV; globs allowed) with skip-gram
    and negative sampling (word2vec), and write them for --embeddings."""
    from seqtext.text.embeddings import train_embeddings

    log = None if quiet else (lambda message: click.echo(message, err=True))
    result = train_embeddings(list(files), output, EmbeddingOptions(**params), progress=not quiet, log=log)
    click.echo(f"saved {len(result.words):,} vectors of {result.vectors.shape[1]} dimensions to {output}")
