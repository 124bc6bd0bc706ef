"""Reading labelled text for classification, through ``datasets``.

Formats: CSV/TSV with a header (``text_column``, ``label_column``), JSONL, Parquet, the fastText
style ``__label__pos some text`` (several ``__label__`` prefixes for several labels), the plain
``label text`` one-per-line style, a folder written by ``Dataset.save_to_disk`` (memory-mapped)
and a folder of CSV/TSV, JSONL or Parquet files. Files are streamed (``local_datasets``), so
``datasets`` writes no cache of them anywhere. Labels stored as a ``ClassLabel`` (a saved or
Parquet dataset from the Hub) are read as their names. Errors name the file and, where there is
one, the line (the row, for saved and Parquet datasets), and say what is wrong: a text that is a
number, a CSV row short of the header's columns, a label that is a float, NaN or an object
(labels are strings or integers; a float such as 1.0, which a column of integers with a gap
becomes, is read as the integer).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from seqtext.configs import LABELLED_FORMATS
from seqtext.core.files import (
    check_data_file,
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

FORMATS = LABELLED_FORMATS
FASTTEXT_PREFIX = "__label__"


@dataclass
class Example:
    text: str
    labels: list[str]
    where: str  # "file, line N", for error messages


def guess_format(path: Path) -> str:
    if path.is_dir():
        return "disk"
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".parquet"):
        return suffix[1:]
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        first = next((line for line in handle if not is_blank(line)), "")
    return "fasttext" if first.startswith(FASTTEXT_PREFIX) else "label-text"


def _split_labels(value, multi_label: bool, where: str = "") -> list[str]:
    """The labels in one row's label value: a list, or one label (split at commas and
    semicolons with ``multi_label``); a DataError for a value that is no label."""
    if isinstance(value, list):
        return [_label(v, where) for v in value if v is not None]
    text = _label(value, where).strip()
    if multi_label:
        return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    return [text] if text else []


def _label(value, where: str) -> str:
    """A label as a string: strings and integers as they are, a float that is an integer (a
    column of integers with a gap is read as floats) as that integer; the rest refused."""
    if isinstance(value, (str, int)):  # bool included: True is read as "True", as before
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        what = "NaN" if math.isnan(value) else "not finite" if math.isinf(value) else "a float"
        raise DataError(f"{where}: label {value} is {what}; labels are strings or integers")
    shown = json.dumps(value, default=str)[:60]
    what = "a list inside a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__
    raise DataError(f"{where}: label {shown} is {what}; labels are strings or integers (a list of them for several labels)")


def _text(value, where: str, column: str) -> str:
    """A row's text, or a DataError saying what stands in its place."""
    if isinstance(value, str):
        return value
    if value is None:
        raise DataError(f"{where}: no text (column {column!r} holds no value)")
    kind = ("a boolean" if isinstance(value, bool) else "a number" if isinstance(value, (int, float))
            else "a list" if isinstance(value, list) else "an object")
    raise DataError(f"{where}: the text in column {column!r} is {kind} ({json.dumps(value, default=str)[:60]}), not a string")


def _short_row(path: Path, delimiter: str, index: int, where: str) -> None:
    """A DataError if data row ``index`` of a CSV/TSV file has fewer values than its header has
    columns (pandas reads the missing ones as empty, which would be "no text" or "no label")."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = (row for row in csv.reader(handle, delimiter=delimiter) if row)  # pandas skips blank lines
        header = next(rows, [])
        row = next(islice(rows, index, None), None)
    if row is not None and len(row) < len(header):
        missing = ", ".join(repr(column) for column in header[len(row):])
        raise DataError(f"{where}: {len(row)} value{'s' if len(row) != 1 else ''} where the header names {len(header)} "
                        f"columns ({', '.join(header)}), so the row has no value for {missing}")


def read_examples(
    path_or_patterns: str | list[str],
    fmt: str = "auto",
    text_column: str = "text",
    label_column: str = "label",
    multi_label: bool = False,
) -> list[Example]:
    """The labelled examples of every file that ``path_or_patterns`` (a path, a glob, or a list
    of them) names, in order; a folder written by ``save_to_disk`` is one target, a folder of
    CSV/TSV, JSONL or Parquet files stands for its files. A DataError for empty texts, missing
    labels and such."""
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}: choose from {', '.join(FORMATS)}")
    targets: list[Path] = []
    for target in corpus_targets(path_or_patterns):
        if target.is_dir() and (fmt == "disk" or is_saved_dataset(target)):
            targets.append(target)
        elif target.is_dir():
            targets.extend(data_files_in(target))
        else:
            check_data_file(target, parquet=fmt == "parquet")
            targets.append(target)
    with local_datasets() as local:
        return [
            example
            for target in targets
            for example in _read_target(local, target, guess_format(target) if fmt == "auto" else fmt,
                                        text_column, label_column, multi_label)
        ]


def _read_target(local, target: Path, fmt: str, text_column: str, label_column: str, multi_label: bool) -> list[Example]:
    name = str(target)
    try:
        if fmt in ("fasttext", "label-text"):
            # utf-8-sig: a byte-order mark would otherwise become part of the first label.
            lines = local.stream("text", [name], encoding="utf-8-sig")
            examples = [
                _parse_line(row["text"], fmt, f"{name}, line {number}")
                for number, row in enumerate(lines, 1)
                if not is_blank(row["text"])
            ]
            return _checked(examples, name)
        if fmt == "disk":
            data = local.saved(target)
        elif fmt in ("csv", "tsv"):
            data = local.stream("csv", [name], delimiter="\t" if fmt == "tsv" else ",")
        else:
            data = local.stream("parquet" if fmt == "parquet" else "json", [name])
        # Line numbers: a header line comes first in CSV/TSV; saved and Parquet data have rows.
        offset, unit = {"csv": (2, "line"), "tsv": (2, "line"), "jsonl": (1, "line")}.get(fmt, (1, "row"))
        label_names = class_label_names(local.module, data.features, label_column)
        examples = []
        for index, row in enumerate(data):
            if index == 0 or data.column_names is None:  # streamed JSON/CSV: columns known from the rows
                _check_columns(name, list(row), text_column, label_column)
            text, label = row[text_column], row[label_column]
            where = f"{name}, {unit} {index + offset}"
            if fmt in ("csv", "tsv") and (text is None or label is None):
                _short_row(target, "\t" if fmt == "tsv" else ",", index, where)
                text = "" if text is None else text  # an empty field: pandas reads it as missing
            if label_names is not None and label is not None:
                label = [label_names(v) for v in label] if isinstance(label, list) else label_names(label)
            labels = [] if label is None else _split_labels(label, multi_label, where)
            examples.append(Example(_text(text, where, text_column), labels, where))
    except (FileNotFoundError, *datasets_errors(local.module)) as err:
        raise DataError(f"cannot read {name} as {fmt}: {datasets_reason(err)}") from None
    return _checked(examples, name)


def _check_columns(name: str, columns: list[str], text_column: str, label_column: str) -> None:
    for column in (text_column, label_column):
        if column not in columns:
            raise DataError(
                f"{name}: no column {column!r}; columns are {', '.join(columns)} (use data.text_column / data.label_column)"
            )


def _parse_line(line: str, fmt: str, where: str) -> Example:
    if fmt == "fasttext":
        labels, words = [], line.split()
        while words and words[0].startswith(FASTTEXT_PREFIX):
            labels.append(words.pop(0)[len(FASTTEXT_PREFIX):])
        return Example(" ".join(words), labels, where)
    label, _, text = line.strip().partition(" ")
    return Example(text.strip(), [label] if label else [], where)


def _checked(examples: list[Example], name: str) -> list[Example]:
    if not examples:
        raise DataError(f"{name}: no examples found")
    for example in examples:
        if is_blank(example.text):
            raise DataError(f"{example.where}: empty text")
        if not example.labels:
            raise DataError(f"{example.where}: no label")
    return examples
