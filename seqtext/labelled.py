"""Reading labelled text for classification, through ``datasets``.

Formats: CSV/TSV with a header (``text_column``, ``label_column``), JSONL, the fastText style
``__label__pos some text`` (several ``__label__`` prefixes for several labels), the plain
``label text`` one-per-line style, and a folder written by ``Dataset.save_to_disk``. Errors
name the file and, where there is one, the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqtext.corpus import _quiet_datasets, check_text_file, expand_paths
from seqtext.errors import DataError

FORMATS = ("auto", "csv", "tsv", "jsonl", "fasttext", "label-text", "disk")
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
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    with open(path, encoding="utf-8", errors="replace") as handle:
        first = next((line for line in handle if line.strip()), "")
    return "fasttext" if first.startswith(FASTTEXT_PREFIX) else "label-text"


def _split_labels(value, multi_label: bool) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value).strip()
    if multi_label:
        return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    return [text] if text else []


def read_examples(
    path: str,
    fmt: str = "auto",
    text_column: str = "text",
    label_column: str = "label",
    multi_label: bool = False,
) -> list[Example]:
    """The labelled examples in ``path``; a DataError for empty texts, missing labels and such."""
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}: choose from {', '.join(FORMATS)}")
    target = Path(path)
    if not target.is_dir():
        target = expand_paths(path)[0]
        check_text_file(target)
    fmt = guess_format(target) if fmt == "auto" else fmt
    datasets = _quiet_datasets()
    name = str(target)
    if fmt in ("fasttext", "label-text"):
        lines = datasets.load_dataset("text", data_files=[name], split="train")["text"]
        examples = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            examples.append(_parse_line(line, fmt, f"{name}, line {number}"))
        return _checked(examples, name)
    try:
        if fmt == "disk":
            data = datasets.load_from_disk(name)
            if hasattr(data, "keys") and not hasattr(data, "column_names"):
                raise DataError(f"{name} holds several splits ({', '.join(data.keys())}); name one split's folder")
        elif fmt in ("csv", "tsv"):
            data = datasets.load_dataset("csv", data_files=[name], split="train", delimiter="\t" if fmt == "tsv" else ",")
        else:
            data = datasets.load_dataset("json", data_files=[name], split="train")
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"cannot read {name} as {fmt}: {str(err).splitlines()[0]}") from None
    for column in (text_column, label_column):
        if column not in data.column_names:
            raise DataError(
                f"{name}: no column {column!r}; columns are {', '.join(data.column_names)} "
                f"(use --text-column / --label-column)"
            )
    # Line numbers: a header line comes first in CSV/TSV; a saved dataset has rows, not lines.
    offset, unit = {"csv": (2, "line"), "tsv": (2, "line"), "jsonl": (1, "line")}.get(fmt, (0, "row"))
    examples = [
        Example(
            text if isinstance(text, str) else "",
            [] if label is None else _split_labels(label, multi_label),
            f"{name}, {unit} {index + offset}",
        )
        for index, (text, label) in enumerate(zip(data[text_column], data[label_column]))
    ]
    return _checked(examples, name)


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
