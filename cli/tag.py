"""``seqtext tag``: part-of-speech tags, named entities or chunks for raw or tokenized text."""

from __future__ import annotations

import html
import sys
from itertools import islice

import click

from seqtext.cli.options import device_option

PALETTE = ["#ffd966", "#9fc5e8", "#b6d7a8", "#f4cccc", "#d9d2e9", "#fce5cd", "#d0e0e3", "#ead1dc"]


def _inline(tokens, tags, spans) -> str:
    if spans is None:
        return " ".join(f"{t}/{g}" for t, g in zip(tokens, tags))
    pieces, position = [], 0
    for kind, start, end in spans:
        pieces += tokens[position:start] + [f"[{' '.join(tokens[start:end])}]{kind}"]
        position = end
    return " ".join(pieces + tokens[position:])


def _html_sentence(tokens, spans, colours) -> str:
    pieces, position = [], 0
    for kind, start, end in spans:
        pieces += [html.escape(t) for t in tokens[position:start]]
        colour = colours.setdefault(kind, PALETTE[len(colours) % len(PALETTE)])
        text = html.escape(" ".join(tokens[start:end]))
        pieces.append(f'<mark style="background:{colour}">{text}<span class="label">{html.escape(kind)}</span></mark>')
        position = end
    pieces += [html.escape(t) for t in tokens[position:]]
    return "<p>" + " ".join(pieces) + "</p>"


HTML_HEAD = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>seqtext entities</title><style>
body { font: 16px/2.2 system-ui, sans-serif; max-width: 50em; margin: 2em auto; }
mark { padding: 0.2em 0.35em; border-radius: 0.35em; }
.label { font-size: 0.65em; font-weight: bold; margin-left: 0.4em; text-transform: uppercase; }
</style></head><body>
"""


@click.command()
@click.argument("text", required=False)
@click.option("-m", "--model", default="ner", help="pos, ner, chunk, a user model name, or a model directory.")
@click.option("--input-format", type=click.Choice(["text", "tokens", "conll", "conllu"]), default="text", help="Raw text (split into sentences and tokens), one tokenized sentence per line, or CoNLL/CoNLL-U words.")
@click.option("--format", "fmt", type=click.Choice(["inline", "conll", "jsonl", "html"]), default="inline", help="Output: word/TAG (entity spans for NER), CoNLL columns, JSON lines, or an HTML page.")
@click.option("--tag-scheme", type=click.Choice(["iob1", "bio", "bioes"]), default=None, help="Scheme of span tags in the output (default: the training data's).")
@click.option("--batch-size", type=click.IntRange(1), default=256, help="Sentences tagged together.")
@device_option
def tag(text, model, input_format, fmt, tag_scheme, batch_size, device):
    """Tag TEXT, or standard input with '-' (or no TEXT), streaming in batches so that input of
    any size is tagged in constant memory."""
    from seqtext import load
    from seqtext.errors import SeqtextError
    from seqtext.tagged import Sentence, format_conll, format_jsonl, iter_token_lists

    tagger = load(model, device=device)
    if getattr(tagger, "kind", None) != "tagger":
        raise SeqtextError(f"model {model!r} is a {tagger.kind}, not a tagger")
    source = iter([text + "\n"]) if text not in (None, "-") else sys.stdin
    sentences = iter_token_lists(source, input_format)
    scheme = tag_scheme or tagger.scheme
    colours: dict[str, str] = {}
    if fmt == "html":
        click.echo(HTML_HEAD, nl=False)
    while True:
        batch = list(islice(sentences, batch_size))
        if not batch:
            break
        for tokens, tags in zip(batch, tagger.tag(batch, scheme=scheme)):
            spans = tagger.entities(tags, scheme) if tagger.spans else None
            if fmt == "conll":
                click.echo(format_conll(Sentence(tokens, tags)), nl=False)
            elif fmt == "jsonl":
                click.echo(format_jsonl(Sentence(tokens, tags), spans))
            elif fmt == "html":
                click.echo(_html_sentence(tokens, spans or [], colours))
            else:
                click.echo(_inline(tokens, tags, spans))
    if fmt == "html":
        click.echo("</body></html>")
