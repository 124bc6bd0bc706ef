"""Reading labelled text for classification, through ``datasets``.

Formats: CSV/TSV with a header (``text_column``, ``label_column``), JSONL, Parquet, the fastText
style ``__label__pos some text`` (several ``__label__`` prefixes for several labels), the plain
``label text`` one-per-line style, a folder written by ``Dataset.save_to_disk`` (memory-mapped)
and a folder of CSV/TSV, JSONL or Parquet files. Files are streamed (``local_datasets``), so
``datasets`` writes no cache of them anywhere. Labels stored as a ``ClassLabel`` (a saved or
Parquet dataset from the Hub) are read as their names. Errors name the file and, where there is
one, the line (the row, for saved and Parquet datasets).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqtext.configs import LABELLED_FORMATS
from seqtext.core.files import (
    check_data_file,
    class_label_names,
    corpus_targets,
    data_files_in,
    datasets_errors,
    datasets_reason,
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
        first = next((line for line in handle if line.strip()), "")
    return "fasttext" if first.startswith(FASTTEXT_PREFIX) else "label-text"


def _split_labels(value, multi_label: bool) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    text = str(value).strip()
    if multi_label:
        return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    return [text] if text else []


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
                if row["text"].strip()
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
            if label_names is not None and label is not None:
                label = [label_names(v) for v in label] if isinstance(label, list) else label_names(label)
            examples.append(Example(
                text if isinstance(text, str) else "",
                [] if label is None else _split_labels(label, multi_label),
                f"{name}, {unit} {index + offset}",
            ))
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
        if not example.text.strip():
            raise DataError(f"{example.where}: empty text")
        if not example.labels:
            raise DataError(f"{example.where}: no label")
    return examples
