"""Reading training text from local files and turning it into compact token-id streams.

Files are read through the ``datasets`` library (plain text, JSONL, CSV/TSV), after a check of
our own that gives a one-line error naming the file and line for the usual problems: no such
file, not UTF-8, empty. Token ids are stored as uint16/uint32 numpy arrays, memory-mapped from
disk when a work directory is given, so a large corpus never becomes a Python list.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np

from seqtext.errors import DataError
from seqtext.tokenizers import BOS, EOS, Tokenizer

TEXT_SUFFIXES = {".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "csv"}


def expand_paths(patterns: list[str] | str) -> list[Path]:
    """Files named by ``patterns`` (paths or globs), in a stable order; an error if none match."""
    if isinstance(patterns, (str, Path)):
        patterns = [patterns]
    files: list[Path] = []
    for pattern in patterns:
        pattern = str(pattern)
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise DataError(f"no file matches {pattern!r}")
        for match in matches:
            path = Path(match)
            if path.is_dir():
                raise DataError(f"{path} is a directory; give files or a glob such as '{path}/*.txt'")
            if not path.is_file():
                raise DataError(f"{path}: no such file")
            files.append(path)
    return files


def check_text_file(path: Path) -> None:
    """Raise a DataError naming the line if ``path`` is empty or not valid UTF-8."""
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"{path}: file is empty")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: not valid UTF-8 (byte 0x{data[err.start]:02x}); convert the file to UTF-8") from None


def _quiet_datasets():
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return datasets


def read_texts(
    patterns: list[str] | str,
    text_column: str = "text",
    by_line: bool = False,
) -> list[str]:
    """The texts (documents) in the files.

    Plain-text files give one document per file, or one per non-empty line with ``by_line``.
    JSONL and CSV/TSV files give one document per row, from ``text_column``.
    """
    files = expand_paths(patterns)
    kinds = {TEXT_SUFFIXES.get(path.suffix.lower(), "text") for path in files}
    if len(kinds) > 1:
        raise DataError("mix of file formats: give plain text, JSONL or CSV files, not several at once")
    kind = kinds.pop()
    for path in files:
        check_text_file(path)
    datasets = _quiet_datasets()
    names = [str(p) for p in files]
    try:
        if kind == "text":
            sample_by = "line" if by_line else "document"
            data = datasets.load_dataset("text", data_files=names, sample_by=sample_by, split="train")
            column = "text"
        else:
            options = {"delimiter": "\t"} if files[0].suffix.lower() == ".tsv" else {}
            data = datasets.load_dataset(kind, data_files=names, split="train", **options)
            column = text_column
    except Exception as err:  # datasets wraps parser errors in many types
        raise DataError(f"cannot read {', '.join(names)} as {kind}: {str(err).splitlines()[0]}") from None
    if column not in data.column_names:
        raise DataError(
            f"{names[0]}: no column {column!r}; columns are {', '.join(data.column_names)} (use --text-column)"
        )
    texts = [t for t in data[column] if isinstance(t, str) and t.strip()]
    if not texts:
        raise DataError(f"{', '.join(names)}: no text found")
    return texts


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type that holds every id."""
    return np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.uint32)


def encode_stream(texts: list[str], tokenizer: Tokenizer, path: Path | None = None) -> np.ndarray:
    """All texts as one id stream, each framed as ``<bos> ... <eos>``.

    With ``path`` the ids are written there in chunks and returned memory-mapped; otherwise they
    are returned as an in-memory array. Either way one id costs 2 (or 4) bytes.
    """
    dtype = id_dtype(tokenizer.vocab_size)
    chunks = (np.asarray([BOS, *tokenizer.encode(text), EOS], dtype=dtype) for text in texts)
    if path is None:
        return np.concatenate(list(chunks))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as out:
        for chunk in chunks:
            chunk.tofile(out)
    os.replace(tmp, path)
    return np.memmap(path, dtype=dtype, mode="r")


def split_stream(ids: np.ndarray, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """First ``1 - val_fraction`` of the stream for training, the rest for validation."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"validation fraction must be between 0 and 1, not {val_fraction}")
    cut = int(round(len(ids) * (1.0 - val_fraction)))
    return ids[:cut], ids[cut:]
