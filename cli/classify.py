"""``seqtext classify``: label texts with a classifier."""

from __future__ import annotations

import csv
import io
import json

import click

from seqtext.cli.options import LibraryOption, device_option
from seqtext.cli.tag import input_lines, input_option
from seqtext.configs import CLASSIFY

# The library is imported inside the command (torch costs over a second): `seqtext --help` stays fast.


def _highlight(scores: list[tuple[str, float]], joiner: str) -> str:
    """Tokens that moved the decision most in bold colour: green for, red against."""
    if not scores:
        return ""
    top = max(abs(s) for _, s in scores) or 1.0
    shown = []
    for piece, score in scores:
        strength = abs(score) / top
        if strength >= 0.5:
            shown.append(click.style(piece, fg="green" if score >= 0 else "red", bold=True))
        elif strength >= 0.2:
            shown.append(click.style(piece, fg="green" if score >= 0 else "red"))
        else:
            shown.append(piece)
    return joiner.join(shown)


def _echo_csv(row: list) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(row)
    click.echo(buffer.getvalue(), nl=False)


@click.command()
@click.argument("text", required=False)
@click.option("-m", "--model", default="sentiment", help="Shipped name, user model name, or model directory.")
@click.option("--probs", is_flag=True, help="Print every class probability.")
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl", "csv"]), default="text", help="Output format.")
@click.option("--explain", is_flag=True, help="Show which tokens moved the decision most, highlighted.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=CLASSIFY.threshold, help="Multi-label models: a label is given from this probability on.")
@click.option("--batch-size", type=click.IntRange(1), cls=LibraryOption, library_name="batch_size", default=CLASSIFY.batch_size, help="Texts classified together.")
@input_option
@device_option
def classify(text, model, probs, fmt, explain, threshold, batch_size, input_path, progress, device):
    """Classify TEXT, or one text per line of a file (--input) or standard input ('-' or no TEXT).

    Input is read and classified batch by batch, so a file of any size runs in constant memory.
    """
    from seqtext import load
    from seqtext.errors import SeqtextError

    classifier = load(model, device=device)
    if getattr(classifier, "kind", None) != "classifier":
        raise SeqtextError(f"model {model!r} is a {classifier.kind}, not a classifier")
    lines = (line.removesuffix("\n") for line in input_lines(text, input_path, progress))
    if fmt == "csv":
        _echo_csv(["text", "label", *(f"p_{label}" for label in classifier.labels)] if probs else ["text", "label"])

    for result in classifier.predict(lines, batch_size=batch_size, threshold=threshold):
        line = result.text
        label = ",".join(result.labels) if classifier.multi_label else result.label
        if fmt == "jsonl":
            record = {"text": line, "labels": result.labels} if classifier.multi_label else {"text": line, "label": result.label}
            if probs:
                record["probs"] = result.probs
            click.echo(json.dumps(record, ensure_ascii=False))
        elif fmt == "csv":
            _echo_csv([line, label, *(f"{p:.4f}" for p in result.probs.values())] if probs else [line, label])
        else:
            shown = label
            if probs:
                shown += "\t" + " ".join(f"{name}={p:.4f}" for name, p in result.probs.items())
            if explain:
                shown += "\t" + _highlight(classifier.explain(line), classifier.tokenizer.joiner)
            click.echo(shown)
    if classifier.truncated:
        click.echo(f"Warning: {classifier.truncated} text(s) were cut to {classifier.max_tokens} tokens", err=True)
