"""Reading tagged sentences (CoNLL column files, CoNLL-U, JSONL and datasets) and writing CoNLL.

Every problem is reported with the file and line: a row with too few columns, a tag column that
does not exist, an empty file, bytes that are not UTF-8. Each sentence keeps the file and line it
starts at, so that later checks (a tag that is no span tag, say) can point there too. A line of
only whitespace and invisible characters (a tab, a byte-order mark) ends a sentence as an empty
line does (``is_blank``): public benchmark files hold both.

CoNLL-U is read by the ``conllu`` package, sentence by sentence (``parse_incr``); it keeps no
line numbers, so ``_NumberedLines`` notes them on the way in. The CoNLL-2000/2003 column files
("word and tags separated by spaces") have no package worth taking on, so that reader is ours.

A folder written by ``Dataset.save_to_disk`` (memory-mapped) and Parquet files (streamed) are read
through ``datasets``, one sentence per row from a ``tokens`` column and a tags column (``tags``,
or the one ``tag_column`` names, e.g. ``ner_tags``), each a list of strings per row or a list of
``ClassLabel`` numbers, read as their names. A folder of JSONL or Parquet files stands for its
files.
"""

from __future__ import annotations

import json
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Iterable, Iterator

import conllu
from conllu.exceptions import ParseException
from conllu.parser import (
    DEFAULT_FIELD_PARSERS,
    DEFAULT_FIELDS,
    parse_id_value,
    parse_line,
)

from seqtext.configs import TAGGED_FORMATS
from seqtext.core.files import (
    BOM,
    check_text_file,
    class_label_names,
    corpus_targets,
    data_files_in,
    datasets_errors,
    datasets_reason,
    is_blank,
    is_saved_dataset,
    local_datasets,
)
from seqtext.errors import DataError
from seqtext.text.split import tokenize_text

FORMATS = TAGGED_FORMATS
# The files of a folder of tagged data, by suffix.
FOLDER_SUFFIXES = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}
DATASET_TAGS = "tags"  # the tags column of a dataset, unless tag_column names another
UD_TAG_FIELDS = ("upos", "xpos")
# Fields conllu need not parse: FEATS, HEAD, DEPS, MISC cost half the reading time and would refuse
# a file over a column a tagger never reads; XPOS because conllu reads "_" there as None.
AS_TEXT = {name: (lambda columns, i: columns[i]) for name in ("xpos", "feats", "head", "deps", "misc")}
MAX_PARAGRAPH = 200  # lines of raw text split into sentences at once
MAX_TOKENS = 300  # iter_token_lists cuts longer token lists into pieces of this many
NONSPACE = re.compile(r"\S+")


@dataclass
class Sentence:
    tokens: list[str]
    tags: list[str] = field(default_factory=list)
    # Where the sentence starts, for error messages about it; not part of its identity.
    file: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)  # 0: not read from a file
    unit: str = field(default="line", compare=False)  # "row" in a dataset

    @property
    def where(self) -> str:
        """``file, line N`` (``row N`` in a dataset) for messages, or what there is of it."""
        return f"{self.file}, {self.unit} {self.line}" if self.line else self.file or "<input>"


def guess_format(path: Path) -> str:
    if path.is_dir():
        return "disk"
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return "parquet"
    return "conllu" if suffix == ".conllu" else "jsonl" if suffix in (".jsonl", ".json") else "conll"


def read_sentences(
    path_or_patterns: str | list[str],
    fmt: str = "auto",
    word_column: int = 0,
    tag_column: str = "-1",
    need_tags: bool = True,
) -> list[Sentence]:
    """Sentences of every file that ``path_or_patterns`` (a path, a glob, or a list of them)
    names, in order; a ``save_to_disk`` folder is one target, a folder of JSONL or Parquet files
    stands for its files. ``tag_column`` is a column index for CoNLL files (negative counts from
    the end; default the last), ``upos`` (default) or ``xpos`` for CoNLL-U, and a column name for
    saved and Parquet datasets (default ``tags``)."""
    if fmt != "auto" and fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}: choose from {', '.join(FORMATS)}")
    tag_column = str(tag_column)
    sentences = []
    for target in corpus_targets(path_or_patterns):
        if target.is_dir() and not is_saved_dataset(target):
            files = [(file, guess_format(file)) for file in data_files_in(target, FOLDER_SUFFIXES)]
        else:
            files = [(target, "disk" if target.is_dir() else guess_format(target) if fmt == "auto" else fmt)]
        for file, file_fmt in files:
            sentences.extend(_read_file(file, file_fmt, word_column, tag_column, need_tags))
    return sentences


def _read_file(file: Path, fmt: str, word_column: int, tag_column: str, need_tags: bool) -> list[Sentence]:
    if fmt in ("parquet", "disk"):
        sentences = _read_dataset(file, fmt, tag_column, need_tags)
        if not sentences:
            raise DataError(f"{file}: no sentences found")
        return sentences
    check_text_file(file)
    # utf-8-sig: a byte-order mark is dropped, not read as part of the first word.
    with open(file, encoding="utf-8-sig") as lines:
        if fmt == "jsonl":
            sentences = list(_read_jsonl(lines, file, need_tags))
        elif fmt == "conllu":
            tag_field = "upos" if tag_column == "-1" else tag_column
            if tag_field not in UD_TAG_FIELDS:
                raise DataError(f"CoNLL-U tag column must be upos or xpos, not {tag_column!r}")
            sentences = list(_read_conllu(lines, file, tag_field if need_tags else None))
        else:
            if not tag_column.lstrip("-").isdigit():
                raise DataError(f"CoNLL tag column must be a column number, not {tag_column!r}")
            column = int(tag_column)
            # Counted from the end, the tag column is only the same column in every row if every
            # row is as wide: a word without its tag would otherwise be its own tag.
            width = _usual_width(file) if need_tags and column < 0 else None
            sentences = list(_read_columns(lines, file, word_column, column, need_tags, width=width))
    if not sentences:
        raise DataError(f"{file}: no sentences found")
    return sentences


def _read_dataset(target: Path, fmt: str, tag_column: str, need_tags: bool) -> list[Sentence]:
    """Sentences of a ``save_to_disk`` folder (memory-mapped) or a Parquet file (streamed), read
    a thousand rows at a time: ``tokens`` and the tags column of each row."""
    if tag_column == "-1":
        tags_column = DATASET_TAGS
    elif tag_column.lstrip("-").isdigit():
        raise DataError(f"{target}: a dataset's tag column is a column name (such as ner_tags), not {tag_column!r}")
    else:
        tags_column = tag_column
    wanted = ["tokens", tags_column] if need_tags else ["tokens"]
    sentences = []
    with local_datasets() as local:
        try:
            data = local.saved(target) if fmt == "disk" else local.stream("parquet", [target])
            columns = data.column_names or []
            for column in wanted:
                if column not in columns:
                    raise DataError(f"{target}: no column {column!r}; columns are {', '.join(columns)} "
                                    f"(a dataset needs 'tokens' and 'tags', or data.tag_column naming the tags column)")
            names = class_label_names(local.module, data.features, tags_column) if need_tags else None
            row = 0
            for batch in data.select_columns(wanted).iter(batch_size=1000):
                for tokens, tags in zip(batch["tokens"], batch[tags_column] if need_tags else batch["tokens"]):
                    row += 1
                    sentence = _dataset_sentence(target, row, tokens, tags if need_tags else None, names, tags_column)
                    if sentence.tokens:
                        sentences.append(sentence)
        except datasets_errors(local.module) as err:
            raise DataError(f"cannot read {target} as {'a saved dataset' if fmt == 'disk' else fmt}: {datasets_reason(err)}") from None
    return sentences


def _dataset_sentence(target: Path, row: int, tokens, tags, names, tags_column: str) -> Sentence:
    """One row's sentence, checked as a JSONL line is: lists of strings, as many tags as tokens."""
    where = f"{target}, row {row}"
    if names is not None and isinstance(tags, list):
        tags = [names(number) for number in tags]
    for key, value in (("tokens", tokens), (tags_column, tags)):
        if value is None and key != "tokens":  # tags not wanted
            continue
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise DataError(f"{where}: {key!r} must be a list of strings (or of ClassLabel numbers), "
                            f"not {json.dumps(value, default=str)[:60]}")
    if tags is not None and len(tags) != len(tokens):
        raise DataError(f"{where}: {len(tokens)} tokens but {len(tags)} tags")
    return Sentence(tokens, tags or [], str(target), row, unit="row")


def _usual_width(file: Path) -> int:
    """The number of columns most rows of a CoNLL file have (the wider on a tie)."""
    widths: Counter[int] = Counter()
    with open(file, encoding="utf-8-sig") as lines:
        for line in lines:
            if not is_blank(line) and not line.startswith("-DOCSTART-"):
                widths[len(line.split())] += 1
    return max(widths, key=lambda width: (widths[width], width), default=0)


def _read_columns(
    lines: Iterable[str],
    file,
    word_column: int,
    tag_column: int,
    need_tags: bool,
    width: int | None = None,
    max_tokens: int | None = None,
) -> Iterator[Sentence]:
    """Sentences of CoNLL rows. ``width``: the number of columns every row must have;
    ``max_tokens``: yield a longer sentence in pieces, so that one without blank lines does not
    pile up in memory."""
    tokens, tags, start = [], [], 0
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\n").rstrip("\r")
        if is_blank(line):
            if tokens:
                yield Sentence(tokens, tags, str(file), start)
                tokens, tags = [], []
            continue
        if line.startswith("-DOCSTART-"):
            continue
        columns = line.split()
        if need_tags:
            if width is not None and len(columns) != width:
                raise DataError(
                    f"{file}, line {number}: {len(columns)} column{'s' if len(columns) != 1 else ''} "
                    f"where the file's other rows have {width}"
                )
            if len(columns) == 1:
                raise DataError(
                    f"{file}, line {number}: 1 column, so no tag; a CoNLL file has a word and its tag(s) "
                    f"on each line and a blank line after each sentence"
                )
        word = _column(columns, word_column, "data.word_column", file, number)
        tag = _column(columns, tag_column, "data.tag_column", file, number) if need_tags else None
        if not tokens:
            start = number
        tokens.append(word)
        if need_tags:
            tags.append(tag)
        if max_tokens is not None and len(tokens) >= max_tokens:
            yield Sentence(tokens, tags, str(file), start)
            tokens, tags = [], []
    if tokens:
        yield Sentence(tokens, tags, str(file), start)


def _column(columns: list[str], index: int, name: str, file, number: int) -> str:
    """``columns[index]``, or a DataError naming the column asked for and how many there are."""
    if -len(columns) <= index < len(columns):
        return columns[index]
    width = len(columns)
    raise DataError(f"{file}, line {number}: no column {index} for {name}: the line has {width} "
                    f"column{'s' if width != 1 else ''}, numbered 0 to {width - 1} (or -1 to -{width} from the end)")


class _NumberedLines:
    """``lines`` as ``conllu.parse_incr`` reads them (it wants a file, so there is ``read``),
    noting the line numbers that conllu does not keep: for each block of non-blank lines, the
    rows that are not comments, whose i-th is the i-th token of the block's sentence.
    ``max_rows`` ends a block after that many rows (a blank line put in), so that input without
    blank lines never piles up in memory."""

    def __init__(self, lines: Iterable[str], max_rows: int | None = None):
        self.lines, self.max_rows = lines, max_rows
        self.blocks: deque[list[tuple[int, str]]] = deque()

    def __iter__(self) -> Iterator[str]:
        rows = None
        for number, line in enumerate(self.lines, 1):
            if is_blank(line):
                rows = None
                line = "\n"  # conllu ends a sentence only at a line that strip() empties
            else:
                if rows is None:
                    rows = []
                    self.blocks.append(rows)
                if not line.strip().startswith("#"):  # conllu's test for a comment, after its strip()
                    rows.append((number, line))
            yield line
            if rows and self.max_rows is not None and len(rows) >= self.max_rows:
                rows = None
                yield "\n"

    def read(self) -> str:
        return "".join(self)


def _read_conllu(lines: Iterable[str], file, tag_field: str | None, max_tokens: int | None = None) -> Iterator[Sentence]:
    """Sentences of CoNLL-U ``lines``: the FORM of each word row and its ``tag_field`` column
    (upos or xpos; None: words only). Comments, multi-word ranges (1-2) and empty nodes (8.1)
    have no word of their own and are skipped. ``max_tokens``: see ``_NumberedLines``."""
    numbered = _NumberedLines(lines, max_tokens)
    sentences = conllu.parse_incr(numbered, field_parsers=AS_TEXT)
    while True:
        try:
            tokenlist = next(sentences)
        except StopIteration:
            return
        except ParseException as err:
            raise _conllu_error(file, numbered.blocks[0], err) from None
        rows = numbered.blocks.popleft()
        width = len(tokenlist.default_fields or DEFAULT_FIELDS)  # 10, or those of "# global.columns ="
        tokens, tags, start = [], [], 0
        for token, (number, _) in zip(tokenlist, rows):
            if len(token) < width:  # conllu takes short rows; a tagger reading one would miss its tag
                raise DataError(f"{file}, line {number}: CoNLL-U needs {width} tab-separated columns, found {len(token)}")
            for name in ("id", "form", tag_field):  # a "# global.columns =" line may leave them out
                if name is not None and name not in token:
                    raise DataError(f"{file}, line {number}: no {name.upper()} column (columns: {' '.join(token).upper()})")
            if isinstance(token["id"], tuple):  # a range or an empty node: no word of its own
                continue
            if token["id"] is None:
                raise DataError(f"{file}, line {number}: CoNLL-U id '_' is not a word number")
            if not tokens:
                start = number
            tokens.append(token["form"])
            if tag_field is not None:
                tags.append(token[tag_field])
        if tokens:
            yield Sentence(tokens, tags, str(file), start)


def _conllu_error(file, rows: list[tuple[int, str]], err: ParseException) -> DataError:
    """A one-line error naming the first row of the block that conllu refused, and why."""
    for number, line in rows:
        try:
            parse_line(line.strip(), DEFAULT_FIELDS, {**DEFAULT_FIELD_PARSERS, **AS_TEXT})
        except ParseException as row_err:
            columns = line.strip().split("\t")
            try:
                if len(columns) > 1:
                    parse_id_value(columns[0])
            except ParseException:
                return DataError(
                    f"{file}, line {number}: CoNLL-U id {columns[0]!r} is not a word number, a range N-M or an empty node N.M"
                )
            return DataError(f"{file}, line {number}: not a CoNLL-U row ({row_err})")
    return DataError(f"{file}, line {rows[0][0]}: not CoNLL-U ({err})")


def _read_jsonl(lines: Iterable[str], file, need_tags: bool) -> Iterator[Sentence]:
    expected = 'expected {"tokens": ["word", ...], "tags": ["tag", ...]}'
    for number, line in enumerate(lines, 1):
        if is_blank(line):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{file}, line {number}: not JSON ({err}); {expected}") from None
        except RecursionError:  # Python's parser gives up near a thousand levels
            raise DataError(f"{file}, line {number}: JSON nested too deep; {expected}") from None
        if not isinstance(record, dict) or "tokens" not in record:
            raise DataError(f"{file}, line {number}: {expected}")
        tokens, tags = record["tokens"], record.get("tags", [])
        # A string is iterable too: "abc" would become the tokens a, b, c.
        for key, value in (("tokens", tokens), ("tags", tags)):
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise DataError(f"{file}, line {number}: {key!r} must be a list of strings, not {json.dumps(value)[:60]}")
        if need_tags and len(tags) != len(tokens):
            raise DataError(f"{file}, line {number}: {len(tokens)} tokens but {len(tags)} tags")
        if tokens:
            yield Sentence(tokens, tags, str(file), number)


def format_conll(sentence: Sentence) -> str:
    return "".join(f"{token}\t{tag}\n" for token, tag in zip(sentence.tokens, sentence.tags)) + "\n"


def iter_token_lists(lines: Iterable[str], input_format: str = "text") -> Iterator[list[str]]:
    """Token lists to tag, read lazily from ``lines``: raw ``text`` (split into sentences and
    tokens paragraph by paragraph), ``tokens`` (one tokenized sentence per line), or the words of
    ``conll``/``conllu`` input. A list longer than MAX_TOKENS comes in pieces of MAX_TOKENS, so
    that one enormous line or sentence neither fills memory nor makes one enormous batch."""
    lines = _without_bom(lines)
    if input_format == "tokens":
        for line in lines:
            if is_blank(line):
                continue
            words = (match.group() for match in NONSPACE.finditer(line))
            while piece := list(islice(words, MAX_TOKENS)):
                yield piece
    elif input_format == "conllu":
        for sentence in _read_conllu(lines, "<input>", None, max_tokens=MAX_TOKENS):
            yield sentence.tokens
    elif input_format == "conll":
        for sentence in _read_columns(lines, "<input>", 0, 0, need_tags=False, max_tokens=MAX_TOKENS):
            yield sentence.tokens
    else:
        # Raw text is split paragraph by paragraph; a paragraph that runs past MAX_PARAGRAPH
        # lines is split at a line break, so memory stays flat on text without blank lines.
        paragraph = []
        for line in lines:
            if not is_blank(line) and len(paragraph) < MAX_PARAGRAPH:
                paragraph.append(line)
                continue
            yield from _pieces(tokenize_text("".join(paragraph)))
            paragraph = [] if is_blank(line) else [line]
        yield from _pieces(tokenize_text("".join(paragraph)))


def _pieces(token_lists: Iterable[list[str]]) -> Iterator[list[str]]:
    for tokens in token_lists:
        for start in range(0, len(tokens), MAX_TOKENS):
            yield tokens[start : start + MAX_TOKENS]


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    """``lines`` with a byte-order mark at the very start dropped (stdin decodes it as text)."""
    lines = iter(lines)
    first = next(lines, None)
    if first is not None:
        yield first.removeprefix(BOM)
        yield from lines
