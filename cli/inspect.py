"""``seqtext inspect``: which cells of a character language model track quotes, line position,
brackets, ... (Karpathy et al. 2015), shown as a coloured HTML page."""

from __future__ import annotations

import json

import click

from seqtext.cli.options import device_option

# The library is imported inside the command (torch costs over a second): `seqtext --help` stays fast.


@click.command()
@click.argument("model")
@click.argument("text")
@click.option("--file", "is_file", is_flag=True, help="TEXT is the path of a UTF-8 file to read, not the text itself.")
@click.option("--probe", type=click.Path(dir_okay=False), default=None, help="UTF-8 file on which the cells are chosen (default: TEXT itself).")
@click.option("-o", "--output", default="cells.html", type=click.Path(dir_okay=False), help="HTML page to write.")
@click.option("--feature", "features", multiple=True, type=click.Choice(["quote", "column", "brackets", "line_start", "sentence_end", "vowel"]), help="Feature to look for (repeatable; default all).")
@click.option("--top", type=click.IntRange(1, 50), default=3, help="Cells shown per feature.")
@click.option("--layer", "layers", multiple=True, type=click.IntRange(1), help="Only cells of this layer, from 1 (repeatable; default every layer).")
@click.option("--state", type=click.Choice(["cell", "hidden"]), default="cell", help="LSTM memory cell tanh(c) (as in the paper) or hidden state h; GRU/RNN have h only.")
@click.option("--max-chars", type=click.IntRange(100), default=5000, help="Use at most this many characters of TEXT and of the probe.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON lines instead of a table.")
@device_option
def inspect(model, text, is_file, probe, output, features, top, layers, state, max_chars, as_json, device):
    """Find the cells of a character language MODEL that track features of TEXT (quote depth,
    position in line, brackets, line start, sentence end, vowels) and write them, coloured over
    TEXT, as a self-contained HTML page."""
    from seqtext import load
    from seqtext.lm.cell_html import cells_page, write_cells_page
    from seqtext.lm.cells import inspect_text, read_text_file

    lm = load(model, device=device)
    shown_text = read_text_file(text) if is_file else text
    probe_text = read_text_file(probe) if probe else None
    activations, findings, skipped = inspect_text(
        lm, shown_text, probe_text, list(features) or None, top, list(layers) or None, state, max_chars
    )
    probe_note = f"the probe {probe} ({min(len(probe_text), max_chars):,} characters)" if probe else "the text itself"
    write_cells_page(output, cells_page(activations, findings, skipped, model_name=model, probe_note=probe_note))
    for finding in findings:
        if as_json:
            click.echo(json.dumps(finding.to_dict()))
        else:
            click.echo(f"{finding.feature:<13} layer {finding.layer} cell {finding.cell:<5} r {finding.r:+.3f}  (chance {finding.chance:.3f})")
    for name, reason in skipped.items():
        click.echo(f"{name}: skipped, {reason}", err=True)
    click.echo(f"wrote {output}", err=True)
