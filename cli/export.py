"""``seqtext export``: a model as one ONNX or TorchScript file that runs without seqtext."""

from __future__ import annotations

from pathlib import Path

import click

from seqtext.errors import SeqtextError

# The library is imported inside the command (torch costs over a second): `seqtext --help` stays fast.

SUFFIXES = {".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript", ".torchscript": "torchscript"}


@click.command()
@click.argument("model")
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript"]), default=None,
              help="onnx (run with onnxruntime; needs `pip install seqtext[export]`) or torchscript (torch.jit.load). Default: from FILE's suffix (.onnx; .pt or .ts).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), metavar="FILE", help="The file to write; seqtext_runtime.py is written beside it.")
def export(model, fmt, output):
    """Write MODEL (shipped name, user model name or directory) as one ONNX or TorchScript file.

    The file holds the network and, as metadata, the vocabulary, labels or tags and the name and
    shape of each input and output; seqtext_runtime.py beside it loads it without seqtext. The
    export is run on sample text and compared with seqtext's own scores before it is reported.
    """
    from seqtext import load
    from seqtext.export.writer import export as export_model

    if fmt is None:
        fmt = SUFFIXES.get(Path(output).suffix.lower())
        if fmt is None:
            raise SeqtextError(f"cannot tell the format from {output!r}: give --format onnx or --format torchscript")
    report = export_model(load(model, device="cpu"), output, fmt)
    click.echo(f"wrote {report.path} ({report.fmt}, {report.kind}, {report.size / 2**20:.1f} MiB) in {report.seconds:.1f} s; "
               f"largest difference from seqtext's scores: {report.max_abs_diff:.1e}")
    click.echo(f"wrote {report.runtime} (loads it without seqtext)")
