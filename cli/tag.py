"""``seqtext tag``: part-of-speech tags, named entities or chunks for raw or tokenized text."""

from __future__ import annotations

import html
import json
import os
import stat
import sys
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

import click

from seqtext.cli.options import LibraryOption, device_option
from seqtext.configs import TAG

# The library is imported inside the functions (torch costs over a second): `seqtext --help` stays fast.

# Pale backgrounds for entity marks, dark text colours for tag labels (one per type or tag).
PALETTE = ["#ffd966", "#9fc5e8", "#b6d7a8", "#f4cccc", "#d9d2e9", "#fce5cd", "#d0e0e3", "#ead1dc"]
INK = ["#b45f06", "#0b5394", "#38761d", "#990000", "#674ea7", "#a64d79", "#134f5c", "#7f6000",
       "#351c75", "#274e13", "#660000", "#1155cc", "#bf9000", "#45818e", "#741b47", "#3d85c6"]


# -- input: TEXT, --input FILE or standard input, with a progress bar -----------------------------
def input_option(function):
    """``-i/--input FILE`` and ``--progress/--no-progress``, shared by ``tag`` and ``classify``."""
    function = click.option(
        "--progress/--no-progress", default=None,
        help="Progress bar (rate, ETA) on stderr while reading a file or standard input [default: when stderr is a terminal].",
    )(function)
    return click.option(
        "-i", "--input", "input_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
        help="Read the input from this UTF-8 file instead of TEXT or standard input.",
    )(function)


def input_lines(text: str | None, input_path: Path | None, progress: bool | None) -> Iterator[str]:
    """The lines to work on, each with its newline: TEXT itself (one line, whatever newlines it
    holds), the lines of ``--input`` or of standard input, read lazily. Reading a file or
    standard input shows a tqdm bar on stderr, in bytes (with an ETA where the size is known:
    a file, or standard input redirected from one); ``progress`` None means: when stderr is a
    terminal. The bar never touches stdout."""
    from seqtext.core.files import check_text_file
    from seqtext.errors import SeqtextError

    if input_path is not None and text not in (None, "-"):
        raise SeqtextError("give TEXT or --input FILE, not both")
    if input_path is None and text not in (None, "-"):
        yield text + "\n"
        return
    if input_path is not None:
        check_text_file(input_path)  # not UTF-8 or empty: one line naming the file and line
        with open(input_path, encoding="utf-8-sig") as lines:
            yield from _with_progress(lines, os.path.getsize(input_path), progress)
        return
    yield from _with_progress(_without_bom(sys.stdin), _stdin_size(), progress)


def _with_progress(lines: Iterable[str], total: int | None, progress: bool | None) -> Iterator[str]:
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    if not show:
        yield from lines
        return
    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, mininterval=0.5,
              dynamic_ncols=True) as bar:
        for line in lines:
            bar.update(len(line.encode("utf-8")))
            yield line


def _stdin_size() -> int | None:
    """Bytes left on standard input when it is a regular file (``< file``), else None."""
    try:
        info = os.fstat(sys.stdin.fileno())
        return info.st_size - sys.stdin.buffer.tell() if stat.S_ISREG(info.st_mode) else None
    except (OSError, ValueError, AttributeError):  # a pipe, or not a real file (tests)
        return None


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    lines = iter(lines)
    first = next(lines, None)
    if first is not None:
        yield first.removeprefix("\ufeff")
        yield from lines


def _line_text(line: str) -> str:
    """A line without its line break (``\\n`` or ``\\r\\n``): what offsets index."""
    return line.removesuffix("\n").removesuffix("\r")


# -- output formats --------------------------------------------------------------------------
def _inline(tokens, tags, spans) -> str:
    if spans is None:
        return " ".join(f"{t}/{g}" for t, g in zip(tokens, tags))
    pieces, position = [], 0
    for kind, start, end in spans:
        pieces += tokens[position:start] + [f"[{' '.join(tokens[start:end])}]{kind}"]
        position = end
    pieces += tokens[position:]
    return " ".join(pieces)


def _colour(name: str, colours: dict[str, str], palette: list[str]) -> str:
    return colours.setdefault(name, palette[len(colours) % len(palette)])


def _html_document(document, marks: dict[str, str], inks: dict[str, str]) -> str:
    """One ``<p>`` showing the document's original text, spacing and line breaks kept: every
    token with its tag in colour under it, and each span in a coloured mark with its label."""
    text, pieces, position = document.text, [], 0
    spans = iter(document.spans)
    span = next(spans, None)
    for token in document.tokens:
        pieces.append(html.escape(text[position : token.start_char]))
        if span is not None and token.start_char == span.start_char:
            colour = _colour(span.label, marks, PALETTE)
            pieces.append(f'<mark style="background:{colour}" title="{html.escape(span.label)} {span.score:.3f}">')
        kind = token.tag.partition("-")[2] or token.tag
        ink = "#999" if token.tag == "O" else _colour(kind, inks, INK)
        pieces.append(
            f'<span class="t" title="{html.escape(token.tag)} {token.score:.3f}"><span class="w">{html.escape(token.text)}</span>'
            f'<span class="g" style="color:{ink}">{html.escape(token.tag)}</span></span>'
        )
        if span is not None and token.end_char == span.end_char:
            pieces.append(f'<span class="label">{html.escape(span.label)}</span></mark>')
            span = next(spans, None)
        position = token.end_char
    pieces.append(html.escape(text[position:]))
    return "<p>" + "".join(pieces) + "</p>"


HTML_HEAD = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>seqtext tags</title><style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 50em; margin: 2em auto; }
p { white-space: pre-wrap; margin: 0 0 1.2em; }
mark { padding: 0.1em 0.3em; border-radius: 0.35em; white-space: nowrap; }
.t { display: inline-flex; flex-direction: column; align-items: center; vertical-align: top; }
.g { font-size: 0.6em; font-weight: bold; line-height: 1.2; padding: 0 0.25em; }
.label { font-size: 0.65em; font-weight: bold; margin-left: 0.4em; text-transform: uppercase; vertical-align: top; }
</style></head><body>
"""


def _write_documents(documents, fmt: str) -> None:
    """Each tagged document as a JSON line (jsonl, displacy, hf) or a paragraph of one HTML page."""
    marks: dict[str, str] = {}
    inks: dict[str, str] = {}
    as_json = {"jsonl": lambda d: d.to_dict(), "displacy": lambda d: d.to_displacy(), "hf": lambda d: d.to_hf()}.get(fmt)
    if fmt == "html":
        click.echo(HTML_HEAD, nl=False)
    for document in documents:
        if as_json is not None:
            click.echo(json.dumps(as_json(document), ensure_ascii=False))
        else:
            click.echo(_html_document(document, marks, inks))
    if fmt == "html":
        click.echo("</body></html>")


def _documents(tagger, lines: Iterator[str], input_format: str, scheme: str, batch_size: int):
    """Tagged documents with offsets and scores: one per line of raw text (TEXT is one), one per
    sentence of tokenized input (its tokens joined by spaces)."""
    from seqtext.tagger.conll import iter_token_lists

    if input_format == "text":
        while batch := [_line_text(line) for line in islice(lines, batch_size)]:
            yield from tagger.predict(batch, scheme=scheme, batch_size=batch_size)
        return
    sentences = iter_token_lists(lines, input_format)
    while batch := list(islice(sentences, batch_size)):
        yield from tagger.predict_tokens(batch, scheme=scheme, batch_size=batch_size)


@click.command()
@click.argument("text", required=False)
@click.option("-m", "--model", default="ner", help="pos, ner, chunk (with character LMs), pos-fast, ner-fast, chunk-fast (without: 4-6 times faster), a user model name, or a model directory.")
@click.option("--input-format", type=click.Choice(["text", "tokens", "conll", "conllu"]), default="text", help="Raw text (split into sentences and tokens), one tokenized sentence per line, or CoNLL/CoNLL-U words.")
@click.option("--format", "fmt", type=click.Choice(["inline", "conll", "jsonl", "html", "displacy", "hf"]), default="inline", help="Output: word/TAG (entity spans for NER), CoNLL columns, JSON lines with character offsets and probabilities, an HTML page, or JSON lines in displaCy's manual format or as the Hugging Face token-classification pipeline's entities.")
@click.option("--tag-scheme", type=click.Choice(["iob1", "bio", "bioes"]), default=None, help="Scheme of span tags in the output (default: the training data's).")
@click.option("--batch-size", type=click.IntRange(1), cls=LibraryOption, library_name="batch_size", default=TAG.batch_size, help="Sentences tagged together.")
@input_option
@device_option
def tag(text, model, input_format, fmt, tag_scheme, batch_size, input_path, progress, device):
    """Tag TEXT, a file (--input) or standard input ('-' or no TEXT), streaming in batches so
    that input of any size is tagged in constant memory.

    jsonl and html read raw text as one document per line (TEXT is one document), and give
    character offsets into it: jsonl writes {"text", "tokens", "spans", "sentences"} per document,
    every token and span with start_char, end_char and its probability ("score").

    displacy and hf read the same way and write one JSON line per document: displaCy's manual
    format {"text", "ents": [{"start", "end", "label"}]} (spacy.displacy.render(...,
    style="ent", manual=True)), or the list of {"entity_group", "score", "word", "start", "end"}
    that Hugging Face's token-classification pipeline gives."""
    from seqtext import load
    from seqtext.errors import SeqtextError
    from seqtext.tagger.conll import Sentence, format_conll, iter_token_lists

    tagger = load(model, device=device)
    if getattr(tagger, "kind", None) != "tagger":
        raise SeqtextError(f"model {model!r} is a {tagger.kind}, not a tagger")
    lines = input_lines(text, input_path, progress)
    scheme = tag_scheme or tagger.scheme
    if fmt in ("jsonl", "html", "displacy", "hf"):
        _write_documents(_documents(tagger, lines, input_format, scheme, batch_size), fmt)
        return
    sentences = iter_token_lists(lines, input_format)
    while batch := list(islice(sentences, batch_size)):
        for tokens, tags in zip(batch, tagger.tag(batch, scheme=scheme, batch_size=batch_size)):
            if fmt == "conll":
                click.echo(format_conll(Sentence(tokens, tags)), nl=False)
            else:
                click.echo(_inline(tokens, tags, tagger.entities(tags, scheme) if tagger.spans else None))
