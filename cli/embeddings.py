"""``seqtext train embeddings``: word vectors from your own unlabelled text, for the
``--embeddings`` option of ``train tagger`` and ``train classifier``."""

from __future__ import annotations

import dataclasses

import click

from seqtext.cli.options import LibraryOption, _click_type
from seqtext.configs import FLAG
from seqtext.text.embeddings import EmbeddingOptions, train_embeddings

# seqtext.text.embeddings loads torch (through core.modeldir): cli/train.py imports this module only when
# `train embeddings` is asked for.

# The library's messages name an option by its EmbeddingOptions field (min_count, lr), except the text
# column, which core.files names as the training configs do.
LIBRARY_NAMES = {"text_column": "data.text_column"}


def _field_option(field: dataclasses.Field):
    """The option of one EmbeddingOptions field, from its Flag: the error bridge shows its flag."""
    flag = field.metadata[FLAG]
    settings = {"cls": LibraryOption, "library_name": LIBRARY_NAMES.get(field.name, field.name), "help": flag.help,
                "default": field.default, "metavar": flag.metavar}
    if field.type == "bool":
        settings["is_flag"] = True
    else:
        settings["type"] = _click_type(field, flag)
    return click.option(flag.flag(field.name), **settings)


def embedding_options(command):
    """``-o/--output``, an option per EmbeddingOptions field (in field order), then ``--quiet``."""
    command = click.option("--quiet", is_flag=True, help="No progress bar or messages.")(command)
    for field in reversed(dataclasses.fields(EmbeddingOptions)):
        command = _field_option(field)(command)
    return click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
                        help="Vectors file to write (word2vec text format).")(command)


@click.command("embeddings")
@click.argument("files", nargs=-1, required=True)
@embedding_options
def embeddings(files, output, quiet, **params):
    """Learn word vectors from FILES (plain text, JSONL or CSV; globs allowed) with skip-gram
    and negative sampling (word2vec), and write them for --embeddings."""
    log = None if quiet else (lambda message: click.echo(message, err=True))
    result = train_embeddings(list(files), output, EmbeddingOptions(**params), progress=not quiet, log=log)
    click.echo(f"saved {len(result.words):,} vectors of {result.vectors.shape[1]} dimensions to {output}")
