"""Reading labelled text for classification, through ``datasets``.

Formats: CSV/TSV with a header (``text_column``, ``label_column``), JSONL, the fastText style
``__label__pos some text`` (several ``__label__`` prefixes for several labels), the plain
``label text`` one-per-line style, and a folder written by ``Dataset.save_to_disk``. Errors
name the file and, where there is one, the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqtext.corpus import check_text_file, datasets_errors, datasets_reason, expand_paths, quiet_datasets
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
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
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
    path_or_patterns: str | list[str],
    fmt: str = "auto",
    text_column: str = "text",
    label_column: str = "label",
    multi_label: bool = False,
) -> list[Example]:
    """The labelled examples of every file that ``path_or_patterns`` (a path, a glob, or a list
    of them) names, in order; a folder written by ``save_to_disk`` is one target. A DataError
    for empty texts, missing labels and such."""
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}: choose from {', '.join(FORMATS)}")
    patterns = [path_or_patterns] if isinstance(path_or_patterns, (str, Path)) else list(path_or_patterns)
    targets: list[Path] = []
    for pattern in patterns:
        if Path(pattern).is_dir():
            targets.append(Path(pattern))
            continue
        for file in expand_paths(pattern):
            check_text_file(file)
            targets.append(file)
    if not targets:
        raise DataError("no files given")
    with quiet_datasets() as datasets:
        return [
            example
            for target in targets
            for example in _read_target(datasets, target, guess_format(target) if fmt == "auto" else fmt,
                                        text_column, label_column, multi_label)
        ]


def _read_target(datasets, target: Path, fmt: str, text_column: str, label_column: str, multi_label: bool) -> list[Example]:
    name = str(target)
    if fmt in ("fasttext", "label-text"):
        # utf-8-sig: a byte-order mark would otherwise become part of the first label.
        lines = datasets.load_dataset("text", data_files=[name], encoding="utf-8-sig", split="train")["text"]
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
    except (FileNotFoundError, *datasets_errors(datasets)) as err:  # FileNotFoundError: a folder that is no saved dataset
        raise DataError(f"cannot read {name} as {fmt}: {datasets_reason(err)}") from None
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
