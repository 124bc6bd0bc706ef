"""``seqtext generate``: continue a text with a language model."""

from __future__ import annotations

import json
import sys

import click

from seqtext.cli.options import SEED, FiniteFloat, LibraryOption, device_option
from seqtext.configs import GENERATE, MAX_BEAM
from seqtext.errors import SeqtextError

# The library is imported inside the command (torch costs over a second): `seqtext --help` stays fast.
# Options the library's messages name by their keyword (top_p) are LibraryOptions: the error shows the flag.


@click.command()
@click.argument("text", required=False, default="")
@click.option("-m", "--model", default="shakespeare", help="Shipped model name, user model name, or model directory.")
@click.option("-n", "--max-length", cls=LibraryOption, library_name="max_length", type=click.IntRange(0), default=GENERATE.max_length, help="Most tokens to generate after TEXT.")
@click.option("-t", "--temperature", cls=LibraryOption, library_name="temperature", type=FiniteFloat(0, 1000), default=GENERATE.temperature, help="Sampling temperature; 0 means greedy.")
@click.option("-k", "--top-k", cls=LibraryOption, library_name="top_k", type=click.IntRange(1), default=GENERATE.top_k, help="Sample only from the k most likely tokens.")
@click.option("-p", "--top-p", cls=LibraryOption, library_name="top_p", type=FiniteFloat(0, 1, min_open=True), default=GENERATE.top_p, help="Sample from the smallest set of tokens whose probability reaches p (nucleus sampling).")
@click.option("-b", "--beam-size", cls=LibraryOption, library_name="beam_size", type=click.IntRange(1, MAX_BEAM), default=GENERATE.beam_size, help="Beam search with this many beams (1: sampling).")
@click.option("-s", "--num-samples", cls=LibraryOption, library_name="num_samples", type=click.IntRange(1), default=GENERATE.num_samples, help="Independent samples, generated as one batch.")
@click.option("--seed", "random_seed", type=SEED, default=GENERATE.seed, help="Random seed, for reproducible samples.")
@click.option("--stop", multiple=True, help="End a sample at this string (repeatable); the string itself is not printed.")
@click.option("--allow-unk", is_flag=True, cls=LibraryOption, library_name="allow_unk", default=GENERATE.allow_unk, help="Let the model generate <unk> (by default it never does).")
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text", help="Plain text, or one JSON object per sample: sample, prompt (TEXT; also written as seed, its old name, for one more release), text (generated), tokens, finish.")
@device_option
def generate(text, model, max_length, temperature, top_k, top_p, beam_size, num_samples, random_seed, stop, allow_unk, fmt, device):
    """Continue TEXT with a language model until its end token or --max-length.

    TEXT may be '-' to read it from standard input; without TEXT the model starts from scratch.
    One sample in text format is printed as it is generated. A backward model (train lm
    --backward) writes the text before TEXT, printed in reading order once it is done.
    """
    from seqtext import load

    if text == "-":
        text = sys.stdin.read()
    lm = load(model, device=device)
    if getattr(lm, "kind", None) != "language_model":
        raise SeqtextError(f"model {model!r} is a {lm.kind}, not a language model")
    stop = tuple(s.replace("\\n", "\n").replace("\\t", "\t") for s in stop)  # lets users write --stop '\n\n'
    backward = lm.backward
    if backward and stop:
        raise click.BadParameter("this model writes right to left (train lm --backward), so it cannot stop at a string",
                                 param_hint="--stop")
    if fmt == "text" and num_samples == 1 and beam_size == 1 and not backward:
        click.echo(text, nl=False)
        for piece in lm.stream(text, max_length=max_length, temperature=temperature, top_k=top_k, top_p=top_p, stop=stop,
                               seed=random_seed, allow_unk=allow_unk):
            click.echo(piece, nl=False)
        click.echo()
        return
    samples = lm.generate(text, max_length=max_length, temperature=temperature, top_k=top_k, top_p=top_p, beam_size=beam_size,
                          num_samples=num_samples, stop=stop, seed=random_seed, allow_unk=allow_unk)
    for index, sample in enumerate(samples):
        if fmt == "jsonl":
            record = {"sample": index, "prompt": text, "seed": text, **sample.to_dict()}  # seed: prompt's old name
            if backward:  # the generated text comes before the prompt
                record["backward"] = True
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            if index:
                click.echo("-" * 40)
            click.echo(sample.text + text if backward else text + sample.text)
