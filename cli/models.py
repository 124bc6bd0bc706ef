"""``seqtext models``: what models are there."""

from __future__ import annotations

import json

import click

# The library is imported inside the command (torch costs over a second): `seqtext --help` stays fast.


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per model.")
def models(as_json):
    """List the shipped models and the user's models (in $SEQTEXT_HOME/models, default ~/.seqtext/models)."""
    from seqtext.api import list_models
    from seqtext.core.registry import user_model_dir

    found = list_models()
    if as_json:
        for entry in found:
            click.echo(json.dumps(entry))
        return
    if not found:
        click.echo(f"no models found (user models go in {user_model_dir()})")
    for entry in found:
        if "broken" in entry:  # listed, not skipped: the user should see why their model does not load
            click.echo(f"{entry['name']:<14} {entry['source']:<8} broken: {entry['broken']}")
            continue
        metrics = {k: v for k, v in entry["metrics"].items() if isinstance(v, (int, float))}
        if "f1" in metrics:
            score = f"dev F1 {100 * metrics['f1']:.2f}"
        elif "accuracy" in metrics:
            score = f"dev accuracy {100 * metrics['accuracy']:.2f}"
        elif "loss" in metrics:
            score = f"val loss {metrics['loss']:.3f}"
        else:
            score = ""
        click.echo(f"{entry['name']:<14} {entry['source']:<8} {str(entry['kind']):<16} {str(entry['tokenizer'] or ''):<14} {score}")
