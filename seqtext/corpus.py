"""Reading training text from local files and turning it into compact token-id streams.

Files are read through the ``datasets`` library (plain text, JSONL, CSV/TSV), after a check of
our own that gives a one-line error naming the file and line for the usual problems: no such
file, not UTF-8, empty. Token ids are stored as uint16/uint32 numpy arrays, memory-mapped from
disk when a work directory is given, so a large corpus never becomes a Python list.
"""

from __future__ import annotations

import codecs
import glob
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from seqtext.errors import DataError
from seqtext.tokenizers import BOS, EOS, Tokenizer

TEXT_SUFFIXES = {".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "csv"}
CHUNK_BYTES = 1 << 20  # read at once by check_text_file
BOM = "\ufeff"


def expand_paths(patterns: list[str] | str) -> list[Path]:
    """Files named by ``patterns`` (paths or globs), in a stable order; an error if none match."""
    if isinstance(patterns, (str, Path)):
        patterns = [patterns]
    if not patterns:
        raise DataError("no files given")
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
    """Raise a DataError naming the line if ``path`` is empty or not valid UTF-8.

    The file is read CHUNK_BYTES at a time so that checking a corpus costs one chunk of memory,
    not the whole file; the incremental decoder carries a character cut at a chunk boundary
    over to the next chunk. A byte-order mark alone does not make a file non-empty.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines = 0  # in the chunks decoded so far
    at_start, blank = True, True
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(CHUNK_BYTES)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as err:
                # err.object is the bytes carried over (part of one character, never a newline)
                # followed by this chunk, so the newlines before err.start are all in this line count.
                line = newlines + err.object[: err.start].count(b"\n") + 1
                raise DataError(
                    f"{path}, line {line}: not valid UTF-8 (byte 0x{err.object[err.start]:02x}); convert the file to UTF-8"
                ) from None
            if at_start and text:
                text, at_start = text.removeprefix(BOM), False
            if blank and text.strip():
                blank = False
            if not chunk:
                break
            newlines += chunk.count(b"\n")
    if blank:
        raise DataError(f"{path}: file is empty")


@contextmanager
def quiet_datasets() -> Iterator:
    """``datasets`` (the module), with its progress bars, log messages and download-count ping
    off until the block ends.

    Our own checks name the file and line of the usual problems and we turn datasets' errors
    into one-line DataErrors, so its own reporting would only repeat them. For local files the
    one network access ``load_dataset`` makes is a best-effort HEAD request that counts
    downloads (``config.HF_UPDATE_DOWNLOAD_COUNTS``); with it off nothing leaves the machine,
    so no offline mode is needed. A library must leave the process as it found it: every
    setting is restored afterwards and no environment variable is written.
    """
    import datasets

    logger = logging.getLogger("datasets")  # the library's root logger, which set_verbosity sets
    level = logger.level
    # HF_DATASETS_DISABLE_PROGRESS_BARS in the environment decides for good: leave the bars alone.
    toggle_bars = datasets.config.HF_DATASETS_DISABLE_PROGRESS_BARS is None and not datasets.are_progress_bars_disabled()
    counts = datasets.config.HF_UPDATE_DOWNLOAD_COUNTS
    logger.setLevel(logging.CRITICAL)
    if toggle_bars:
        datasets.disable_progress_bars()
    datasets.config.HF_UPDATE_DOWNLOAD_COUNTS = False
    try:
        yield datasets
    finally:
        datasets.config.HF_UPDATE_DOWNLOAD_COUNTS = counts
        if toggle_bars:
            datasets.enable_progress_bars()
        logger.setLevel(level)


def datasets_errors(datasets) -> tuple[type[Exception], ...]:
    """What ``load_dataset`` raises for a file it cannot parse: DatasetGenerationError wrapping
    the parser's error (pyarrow, pandas, a cast), or ValueError (an ArrowInvalid, or a CSV with
    a header and no rows: "corresponds to no data")."""
    return (datasets.exceptions.DatasetGenerationError, ValueError)


def datasets_reason(err: Exception) -> str:
    """The first line of the parser's own message: DatasetGenerationError's is only "An error
    occurred while generating the dataset"."""
    return (str(err.__cause__ or err).strip().splitlines() or [type(err).__name__])[0]


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
    names = [str(p) for p in files]
    with quiet_datasets() as datasets:
        try:
            if kind == "text":
                # utf-8-sig: a byte-order mark is not text (JSON and CSV readers drop it themselves).
                sample_by = "line" if by_line else "document"
                data = datasets.load_dataset(
                    "text", data_files=names, sample_by=sample_by, encoding="utf-8-sig", split="train"
                )
                column = "text"
            else:
                options = {"delimiter": "\t"} if files[0].suffix.lower() == ".tsv" else {}
                data = datasets.load_dataset(kind, data_files=names, split="train", **options)
                column = text_column
        except datasets_errors(datasets) as err:
            raise DataError(f"cannot read {', '.join(names)} as {kind}: {datasets_reason(err)}") from None
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # per process: two runs never share one
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
