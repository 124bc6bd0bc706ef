"""``seqtext evaluate``: score a model on a file."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument("model")
@click.argument("files", nargs=-1, required=True)
@click.option("--text-column", default="text", help="Column holding the text in JSONL/CSV files.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def evaluate(model, files, text_column, as_json):
    """Score MODEL (name or directory) on FILES.

    For a language model: cross-entropy per token (nats), perplexity, bits per character and
    perplexity per whitespace-separated word (comparable across tokenizers).
    """
    from seqtext import load
    from seqtext.evaluation import evaluate_files

    result = evaluate_files(load(model), list(files), text_column=text_column)
    if as_json:
        click.echo(json.dumps(result))
        return
    for key, value in result.items():
        click.echo(f"{key:>20}  {value:.4f}" if isinstance(value, float) else f"{key:>20}  {value}")
