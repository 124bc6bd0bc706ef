"""``seqtext evaluate``: score a model on files."""

from __future__ import annotations

import functools
import inspect
import json
import sys

import click

from seqtext.cli.options import LibraryOption, device_option
from seqtext.configs import EVALUATE_FORMATS

# The library is imported inside the command (torch costs over a second): `seqtext --help` stays fast.


@functools.cache
def _library_defaults() -> dict:
    """``evaluate_files``'s keyword defaults: the one place they are written."""
    from seqtext.api import evaluate_files  # torch: only for this command or its --help

    return {name: p.default for name, p in inspect.signature(evaluate_files).parameters.items()
            if p.default is not inspect.Parameter.empty}


class EvaluateOption(LibraryOption):
    """An option whose default is ``evaluate_files``'s keyword of the same name, read when it is
    wanted, so that `seqtext --help` does not load the library."""

    def get_default(self, ctx, call=True):
        return _library_defaults()[self.name]


def _print_report(result: dict) -> None:
    for key, value in result.items():
        if isinstance(value, dict):
            continue
        click.echo(f"{key:>20}  {value:.4f}" if isinstance(value, float) else f"{key:>20}  {value}")
    per_class = result.get("per_class") or result.get("per_type")
    if per_class:
        width = max(10, *(len(label) for label in per_class))
        click.echo(f"\n{'class':<{width}}  precision  recall      f1  support")
        for label, scores in per_class.items():
            click.echo(f"{label:<{width}}  {scores['precision']:9.4f}  {scores['recall']:6.4f}  {scores['f1']:6.4f}  {scores['support']:7d}")
    if result.get("top_confusions"):
        click.echo("\nmost frequent confusions (gold -> predicted)")
        for row in result["top_confusions"]:
            click.echo(f"{row['gold']:>10} -> {row['predicted']:<10} {row['count']:6d}")
    confusion = result.get("confusion")
    if confusion:
        labels = list(confusion)
        width = max(8, *(len(label) for label in labels))
        click.echo("\nconfusion (rows: gold, columns: predicted)")
        click.echo(" " * width + "".join(f"{label:>{width + 1}}" for label in labels))
        for gold in labels:
            click.echo(f"{gold:<{width}}" + "".join(f"{confusion[gold][p]:>{width + 1}}" for p in labels))


@click.command()
@click.argument("model")
@click.argument("files", nargs=-1, required=True)
@click.option("--text-column", cls=EvaluateOption, library_name="data.text_column", help="Column holding the text in JSONL/CSV files.")
@click.option("--label-column", cls=EvaluateOption, library_name="data.label_column", help="Column holding the label (classifiers).")
@click.option("--format", "fmt", cls=EvaluateOption, library_name="fmt", type=click.Choice(EVALUATE_FORMATS), help="Input format (classifiers and taggers); auto goes by the file.")
@click.option("--tag-column", cls=EvaluateOption, library_name="data.tag_column", help="Taggers: CoNLL tag column, or upos/xpos for CoNLL-U; JSONL, Parquet and saved datasets: the column of tag lists (default tags, e.g. ner_tags; ClassLabel numbers are read as their names).")
@click.option("--tag-scheme", cls=EvaluateOption, library_name="data.tag_scheme", type=click.Choice(["auto", "iob1", "bio", "bioes"]), help="Taggers: scheme of the gold tags (default: the model's training data's).")
@click.option("--batch-size", cls=EvaluateOption, library_name="batch_size", type=click.IntRange(1), help="Documents (language models) scored together: changes the speed, never the figures.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress bar (there is none either when stderr is not a terminal).")
@device_option
def evaluate(model, files, text_column, label_column, fmt, tag_column, tag_scheme, batch_size, as_json, quiet, device):
    """Score MODEL (name or directory) on FILES.

    Language model: cross-entropy per token (nats; every token scored once, each document read
    in order from a fresh state), perplexity, bits per character and perplexity per
    whitespace-separated word (comparable across tokenizers), and the cross-entropy of the
    first 64 tokens of a line after a fresh state (how well the model starts).
    Classifier: accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix.
    Tagger: token accuracy; span precision/recall/F1 per type and micro-averaged as conlleval
    does (seqeval) for NER and chunking; the most frequent confusions for POS.

    While the model works, a progress bar with rate and time left is drawn on stderr when stderr
    is a terminal (never on stdout, so --json output stays one clean line); --quiet hides it.
    """
    from seqtext import load
    from seqtext.api import evaluate_files

    result = evaluate_files(load(model, device=device), list(files), text_column=text_column, label_column=label_column, fmt=fmt,
                            tag_column=tag_column, tag_scheme=tag_scheme, batch_size=batch_size,
                            progress=not quiet and sys.stderr.isatty())
    if as_json:
        click.echo(json.dumps(result))
    else:
        _print_report(result)
