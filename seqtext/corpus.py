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


PIECE_CHARS = 1 << 20  # characters of a long document handed on at once


def corpus_bytes(patterns) -> int:
    """Bytes of the plain files among ``patterns`` (for a progress bar; folders count 0)."""
    patterns = [patterns] if isinstance(patterns, (str, Path)) else patterns
    files = [p for p in patterns if not Path(p).is_dir()]
    return sum(path.stat().st_size for path in expand_paths(files)) if files else 0


def stream_documents(
    patterns: list[str] | str,
    text_column: str = "text",
    by_line: bool = False,
    on_bytes=None,
) -> Iterator[tuple[str, bool, bool]]:
    """The corpus as ``(text, starts, ends)`` pieces, read lazily: nothing holds a whole file or
    a list of all texts, so a corpus of any size streams in bounded memory.

    A plain-text file is one document, handed on in pieces of about a million characters that
    end at a line break (``starts``/``ends`` mark the document's first and last piece), or one
    document per non-blank line with ``by_line``. JSONL, CSV/TSV and Parquet files, a folder of
    them, and a folder written by ``Dataset.save_to_disk`` give one document per row, from
    ``text_column``, read through ``datasets`` in streaming mode (or memory-mapped Arrow).
    ``on_bytes(n)`` is told how many bytes of plain text were read, for a progress bar.
    """
    targets = [Path(p) for p in ([patterns] if isinstance(patterns, (str, Path)) else patterns)]
    for target in targets:
        if target.is_dir():
            yield from _dataset_rows(target, text_column)
            continue
        for path in expand_paths([str(target)]):
            if path.suffix.lower() == ".parquet":  # binary: datasets checks it
                yield from _dataset_rows(path, text_column)
                continue
            check_text_file(path)
            if TEXT_SUFFIXES.get(path.suffix.lower(), "text") == "text":
                yield from _text_pieces(path, by_line, on_bytes)
            else:
                yield from _dataset_rows(path, text_column)


def _text_pieces(path: Path, by_line: bool, on_bytes) -> Iterator[tuple[str, bool, bool]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        if by_line:
            for line in handle:
                if on_bytes is not None:
                    on_bytes(len(line.encode("utf-8")))
                line = line.rstrip("\r\n")
                if line.strip():
                    yield line, True, True
            return
        pending, size, first = [], 0, True
        for line in handle:
            pending.append(line)
            size += len(line)
            if size >= PIECE_CHARS:
                text = "".join(pending)
                if on_bytes is not None:
                    on_bytes(len(text.encode("utf-8")))
                yield text, first, False
                pending, size, first = [], 0, False
        text = "".join(pending)
        if on_bytes is not None:
            on_bytes(len(text.encode("utf-8")))
        if text or not first:
            yield text, first, True


def _dataset_rows(target: Path, text_column: str) -> Iterator[tuple[str, bool, bool]]:
    """Rows of a saved dataset folder, or of JSONL/CSV/TSV/Parquet files (a file or a folder of
    them), streamed by ``datasets``; any cache it needs goes nowhere near ``~/.cache``."""
    with quiet_datasets() as datasets:
        try:
            if target.is_dir() and ((target / "dataset_info.json").is_file() or (target / "state.json").is_file()):
                data = datasets.load_from_disk(str(target))  # memory-mapped Arrow, read row by row
                if not hasattr(data, "column_names") or isinstance(data.column_names, dict):
                    raise DataError(f"{target} holds several splits; name one split's folder")
            else:
                files = sorted(p for p in target.iterdir() if p.is_file()) if target.is_dir() else [target]
                kinds = {".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}
                found = {kinds.get(p.suffix.lower()) for p in files} - {None}
                if len(found) != 1:
                    raise DataError(f"{target}: expected JSONL, CSV/TSV or Parquet files (one kind), found {len(found)} kinds")
                kind = found.pop()
                names = [str(p) for p in files if kinds.get(p.suffix.lower()) == kind]
                options = {"delimiter": "\t"} if names[0].endswith(".tsv") else {}
                data = datasets.load_dataset(kind, data_files=names, split="train", streaming=True, **options)
            columns = data.column_names
            if columns is not None and text_column not in columns:
                raise DataError(f"{target}: no column {text_column!r}; columns are {', '.join(columns)} (use --text-column)")
            for row in data:
                text = row.get(text_column)
                if text is None and text_column not in row:
                    raise DataError(f"{target}: no column {text_column!r} (use --text-column)")
                if isinstance(text, str) and text.strip():
                    yield text, True, True
        except datasets_errors(datasets) as err:
            raise DataError(f"cannot read {target}: {datasets_reason(err)}") from None


def encode_documents(pieces, tokenizer: Tokenizer, path: Path, backward: bool = False) -> np.ndarray:
    """Encode streamed ``(text, starts, ends)`` pieces into the id file ``path`` (each document
    framed as ``<bos> ... <eos>``), chunk by chunk, and return it memory-mapped; ``backward``
    turns every document right to left (``reverse_ids``)."""
    dtype = id_dtype(tokenizer.vocab_size)
    encode = getattr(tokenizer, "encode_array", None) or tokenizer.encode
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # per process: two runs never share one
    written = 0
    with open(tmp, "wb") as out:
        for text, starts, ends in pieces:
            ids = np.asarray(encode(text), dtype=dtype)
            if starts:
                np.asarray([BOS], dtype=dtype).tofile(out)
            ids.tofile(out)
            if ends:
                np.asarray([EOS], dtype=dtype).tofile(out)
            written += len(ids) + starts + ends
    if written == 0:
        tmp.unlink()
        raise DataError("no text found in the corpus")
    os.replace(tmp, path)
    if backward:
        return reverse_ids(path, dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def reverse_ids(path: Path, dtype: np.dtype, chunk: int = 1 << 22) -> np.ndarray:
    """Rewrite the id file ``path`` right to left, chunk by chunk, with <bos> and <eos> swapped,
    so that every document still reads ``<bos> ... <eos>``: the corpus of a backward model."""
    path = Path(path)
    source = np.memmap(path, dtype=dtype, mode="r")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.reversed")
    with open(tmp, "wb") as out:
        for end in range(len(source), 0, -chunk):
            piece = np.array(source[max(0, end - chunk) : end][::-1])
            bos, eos = piece == BOS, piece == EOS
            piece[bos], piece[eos] = EOS, BOS
            piece.tofile(out)
    del source
    os.replace(tmp, path)
    return np.memmap(path, dtype=dtype, mode="r")


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
