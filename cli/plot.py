"""``seqtext plot``: training curves of one or several runs in one image."""

from __future__ import annotations

import click

# The library is imported inside the command (torch costs over a second): `seqtext --help` stays fast.


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", default="curves.png", type=click.Path(dir_okay=False), help="Image file to write; its suffix picks the format (.png, .pdf, .svg).")
@click.option("--metric", default=None, help="Validation metric to show for every run (loss, perplexity, fresh_loss, f1, accuracy, macro_f1, ...); default: each run's own (F1, else accuracy, else loss).")
@click.option("--dpi", type=click.IntRange(30, 600), default=120, help="Resolution of a PNG.")
def plot(runs, output, metric, dpi):
    """Plot training loss, validation metric and learning rate against step for the RUNS
    (the -o directories of `seqtext train`), overlaid, into one image (needs matplotlib:
    pip install "seqtext[plot]")."""
    from seqtext.core.plotting import save_plot

    written = save_plot(runs, output, metric=metric, dpi=dpi)
    click.echo(f"wrote {written}")
