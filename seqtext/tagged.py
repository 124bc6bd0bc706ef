"""Reading and writing tagged sentences: CoNLL column files, CoNLL-U and JSONL.

Every problem is reported with the file and line: a row with too few columns, a tag column that
does not exist, an empty file, bytes that are not UTF-8.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from seqtext.corpus import check_text_file, expand_paths
from seqtext.errors import DataError

FORMATS = ("conll", "conllu", "jsonl")
UD_COLUMNS = {"upos": 3, "xpos": 4}
MAX_PARAGRAPH = 200  # lines of raw text split into sentences at once


@dataclass
class Sentence:
    tokens: list[str]
    tags: list[str] = field(default_factory=list)


def guess_format(path: Path) -> str:
    suffix = path.suffix.lower()
    return "conllu" if suffix == ".conllu" else "jsonl" if suffix in (".jsonl", ".json") else "conll"


def read_sentences(
    path: str, fmt: str = "auto", word_column: int = 0, tag_column: str = "-1", need_tags: bool = True
) -> list[Sentence]:
    """Sentences of ``path``. ``tag_column`` is a column index for CoNLL files (negative counts
    from the end; default the last) and ``upos`` (default) or ``xpos`` for CoNLL-U."""
    file = expand_paths(path)[0]
    check_text_file(file)
    fmt = guess_format(file) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}: choose from {', '.join(FORMATS)}")
    tag_column = str(tag_column)
    with open(file, encoding="utf-8") as lines:
        if fmt == "jsonl":
            sentences = list(_read_jsonl(lines, file, need_tags))
        elif fmt == "conllu":
            column = UD_COLUMNS["upos"] if tag_column == "-1" else UD_COLUMNS.get(tag_column)
            if column is None:
                raise DataError(f"CoNLL-U tag column must be upos or xpos, not {tag_column!r}")
            sentences = list(_read_columns(lines, file, 1, column, need_tags, conllu=True))
        else:
            if not tag_column.lstrip("-").isdigit():
                raise DataError(f"CoNLL tag column must be a column number, not {tag_column!r}")
            sentences = list(_read_columns(lines, file, word_column, int(tag_column), need_tags, conllu=False))
    if not sentences:
        raise DataError(f"{file}: no sentences found")
    return sentences


def _read_columns(lines: Iterable[str], file, word_column: int, tag_column: int, need_tags: bool, conllu: bool) -> Iterator[Sentence]:
    tokens, tags = [], []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\n").rstrip("\r")
        if not line.strip():
            if tokens:
                yield Sentence(tokens, tags)
                tokens, tags = [], []
            continue
        if conllu and line.startswith("#"):
            continue
        if line.startswith("-DOCSTART-"):
            continue
        columns = line.split("\t") if conllu else line.split()
        if conllu:
            if len(columns) != 10:
                raise DataError(f"{file}, line {number}: CoNLL-U needs 10 tab-separated columns, found {len(columns)}")
            if not columns[0].isdigit():  # multi-word ranges 1-2 and empty nodes 8.1
                continue
        try:
            word = columns[word_column]
            tag = columns[tag_column] if need_tags else None
        except IndexError:
            raise DataError(
                f"{file}, line {number}: {len(columns)} column(s), no column {tag_column if need_tags else word_column} "
                f"(choose with --word-column/--tag-column)"
            ) from None
        tokens.append(word)
        if need_tags:
            tags.append(tag)
    if tokens:
        yield Sentence(tokens, tags)


def _read_jsonl(lines: Iterable[str], file, need_tags: bool) -> Iterator[Sentence]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            tokens, tags = record["tokens"], record.get("tags", [])
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise DataError(f"{file}, line {number}: expected {{\"tokens\": [...], \"tags\": [...]}} ({err})") from None
        if need_tags and len(tags) != len(tokens):
            raise DataError(f"{file}, line {number}: {len(tokens)} tokens but {len(tags)} tags")
        if tokens:
            yield Sentence([str(t) for t in tokens], [str(t) for t in tags])


def format_conll(sentence: Sentence) -> str:
    return "".join(f"{token}\t{tag}\n" for token, tag in zip(sentence.tokens, sentence.tags)) + "\n"


def format_jsonl(sentence: Sentence, spans=None) -> str:
    record = {"tokens": sentence.tokens, "tags": sentence.tags}
    if spans is not None:
        record["entities"] = [
            {"type": kind, "start": start, "end": end, "text": " ".join(sentence.tokens[start:end])}
            for kind, start, end in spans
        ]
    return json.dumps(record, ensure_ascii=False)


def iter_token_lists(lines: Iterable[str], input_format: str = "text") -> Iterator[list[str]]:
    """Token lists to tag, read lazily from ``lines``: raw ``text`` (split into sentences and
    tokens paragraph by paragraph), ``tokens`` (one tokenized sentence per line), or the words of
    ``conll``/``conllu`` input."""
    from seqtext.textsplit import tokenize_text

    if input_format == "tokens":
        for line in lines:
            if line.strip():
                yield line.split()
    elif input_format in ("conll", "conllu"):
        column = 1 if input_format == "conllu" else 0
        for sentence in _read_columns(lines, "<input>", column, column, need_tags=False, conllu=input_format == "conllu"):
            yield sentence.tokens
    else:
        # Raw text is split paragraph by paragraph; a paragraph that runs past MAX_PARAGRAPH
        # lines is split at a line break, so memory stays flat on text without blank lines.
        paragraph = []
        for line in lines:
            if line.strip() and len(paragraph) < MAX_PARAGRAPH:
                paragraph.append(line)
                continue
            yield from tokenize_text("".join(paragraph))
            paragraph = [line] if line.strip() else []
        yield from tokenize_text("".join(paragraph))
