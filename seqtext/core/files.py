"""The file layer every reader shares: naming files (paths, globs, folders), checking them, and
reading documents of text from them.

Plain text is read line by line; JSONL, CSV/TSV and Parquet files, folders of them and folders
written by ``Dataset.save_to_disk`` are read through the ``datasets`` library, streamed
(``streaming=True``) or memory-mapped (``load_from_disk``), never converted into an Arrow cache:
the one file ``datasets`` writes while streaming, a lock, goes to a temporary folder removed
afterwards (``local_datasets``), so no seqtext command writes under ``~/.cache``. A check of our
own gives a one-line error naming the file and line for the usual problems: no such file (or
one that is no regular file: a FIFO, a symbolic link loop), not UTF-8, empty. A line of nothing
but whitespace and invisible characters (a byte-order mark, a zero-width space) is a blank line
wherever it stands (``is_blank``), as real files hold such lines where they mean none. The
readers of tagged and labelled data are ``seqtext.tagger.conll`` and ``seqtext.classifier.data``;
the LM's token-id streams are ``seqtext.lm.corpus``.
"""

from __future__ import annotations

import codecs
import errno
import glob
import logging
import os
import stat
import tempfile
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from seqtext.errors import DataError

TEXT_SUFFIXES = {".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "csv"}
# What ``datasets`` reads a file with, by its suffix (the folder of a corpus holds one kind).
DATA_KINDS = {**TEXT_SUFFIXES, ".parquet": "parquet"}
CHUNK_BYTES = 1 << 20  # read at once by check_text_file
BOM = "\ufeff"
# What a file that is there but no regular file is, by its stat mode, for messages.
SPECIAL_FILES = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                 (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def is_blank(line: str) -> bool:
    """Whether ``line`` holds nothing but whitespace and invisible format characters (Unicode
    category Cf: a byte-order mark U+FEFF, a zero-width space U+200B, joiners, direction marks):
    such a line separates sentences and documents as an empty one does. A visible character
    usually comes first, so a line of text costs one look-up."""
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in line)


def check_regular_file(path: Path, what: str = "file") -> None:
    """A one-line DataError unless ``path`` is a regular file (or a link to one), saying what
    it is instead: missing, a symbolic link loop or a dangling link, a FIFO, a device."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise DataError(f"{path}: a symbolic link loop (following its links leads back to them); give a {what}") from None
        if err.errno == errno.ENOENT and path.is_symlink():
            raise DataError(f"{path}: a symbolic link to {os.readlink(path)}, which does not exist") from None
        if err.errno in (errno.ENOENT, errno.ENOTDIR):
            raise DataError(f"{path}: no such {what}") from None
        raise DataError(f"{path}: cannot read it ({err.strerror})") from None
    if stat.S_ISDIR(mode):
        raise DataError(f"{path} is a directory; give a {what}")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in SPECIAL_FILES if test(mode)), "a special file")
        raise DataError(f"{path} is not a regular file but {kind}; give a {what}")


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
            check_regular_file(path)
            files.append(path)
    return files


def check_data_file(path: Path, parquet: bool = False) -> None:
    """``check_text_file`` for a corpus file that is text (JSONL, CSV, plain); a Parquet file
    (by suffix, or ``parquet`` given) is binary, and ``datasets`` checks it as it reads."""
    if not parquet and Path(path).suffix.lower() != ".parquet":
        check_text_file(path)


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
            if blank and not is_blank(text):
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
    # Deferred: datasets takes ~1 s to import; plain-text corpora and `seqtext --help` never need it.
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


@dataclass
class LocalDatasets:
    """``datasets`` set up to read local files without leaving anything behind: ``stream``
    reads files in streaming mode, with the cache folder (where the builder puts its lock file)
    a temporary one; ``saved`` memory-maps a ``save_to_disk`` folder. Made by ``local_datasets``."""

    module: Any
    scratch: str

    def stream(self, kind: str, files, **options):
        """An IterableDataset of the rows of ``files`` (one ``kind``: json, csv, parquet or text)."""
        return self.module.load_dataset(
            kind, data_files=[str(f) for f in files], split="train", streaming=True, cache_dir=self.scratch, **options
        )

    def saved(self, folder: Path):
        """The Dataset in a ``save_to_disk`` folder, memory-mapped; a DataError for a folder of
        several splits or one that holds no saved dataset."""
        folder = Path(folder)
        if (folder / "dataset_dict.json").is_file():
            splits = sorted(p.name for p in folder.iterdir() if p.is_dir())
            raise DataError(f"{folder} holds several splits ({', '.join(splits)}); name one split's folder, e.g. {folder / splits[0]}"
                            if splits else f"{folder} holds several splits; name one split's folder")
        try:
            return self.module.load_from_disk(str(folder), keep_in_memory=False)
        except FileNotFoundError as err:  # a folder that is no saved dataset
            raise DataError(f"cannot read {folder} as a saved dataset: {datasets_reason(err)}") from None


@contextmanager
def local_datasets() -> Iterator[LocalDatasets]:
    """``quiet_datasets`` and a temporary folder for what ``datasets`` writes while it streams,
    removed when the block ends. The folder is passed to each call (``cache_dir``), never through
    the environment: ``datasets.config.HF_DATASETS_CACHE`` (``~/.cache/huggingface/datasets``) is
    not touched. Generators reading rows must iterate inside the block."""
    with quiet_datasets() as datasets, tempfile.TemporaryDirectory(prefix="seqtext-datasets-") as scratch:
        yield LocalDatasets(datasets, scratch)


def is_saved_dataset(folder: Path) -> bool:
    """Whether ``folder`` was written by ``Dataset.save_to_disk`` (or ``DatasetDict``'s)."""
    return any((Path(folder) / name).is_file() for name in ("state.json", "dataset_info.json", "dataset_dict.json"))


def data_files_in(folder: Path, kinds: dict[str, str] = DATA_KINDS) -> list[Path]:
    """The data files of a corpus folder (by suffix, in name order; other files, a README say,
    are passed over); a DataError unless they are all of one kind."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in kinds)
    suffixes = sorted({p.suffix.lower() for p in files})
    if not files:
        raise DataError(f"{folder}: no {'/'.join(sorted(set(kinds)))} files and no dataset saved with save_to_disk")
    if len({kinds[s] for s in suffixes}) > 1 or {".csv", ".tsv"} <= set(suffixes):
        raise DataError(f"{folder}: files of several kinds ({', '.join(suffixes)}); put one kind in a folder")
    return files


def class_label_names(datasets, features, column: str):
    """For a ``ClassLabel`` column (or a list of them: several labels per text, a tag per token),
    a function from the stored number to its name, so that what is read is ``positive``, not
    ``1``; the Hub's -1 (no label) becomes None. None for any other column."""
    feature = (features or {}).get(column)
    feature = getattr(feature, "feature", feature)  # List(ClassLabel) / Sequence(ClassLabel)
    if not isinstance(feature, datasets.ClassLabel):
        return None
    names = list(feature.names)
    return lambda number: names[number] if isinstance(number, int) and 0 <= number < len(names) else None


def datasets_errors(datasets) -> tuple[type[Exception], ...]:
    """What ``datasets`` raises for a file it cannot parse: DatasetGenerationError wrapping the
    parser's error (non-streaming), or a ValueError (pyarrow's ArrowInvalid, pandas' ParserError,
    raised as the rows stream, or at once for a file that is no Parquet)."""
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
    """The texts (documents) of the corpus, as a list, for callers that need them all at once
    (evaluation): read by ``stream_documents``, so nothing is cached on disk on the way.

    Plain-text files give one document per file, or one per non-empty line with ``by_line``.
    JSONL, CSV/TSV and Parquet files, folders of them and ``save_to_disk`` folders give one
    document per row, from ``text_column``.
    """
    texts, pieces = [], []
    for text, starts, ends in stream_documents(patterns, text_column, by_line):
        if starts:
            pieces = []
        pieces.append(text)
        if ends:
            document = "".join(pieces)
            if not is_blank(document):
                texts.append(document)
    if not texts:
        raise DataError(f"{', '.join(map(str, corpus_targets(patterns)))}: no text found")
    return texts


PIECE_CHARS = 1 << 20  # characters of a long document handed on at once


def corpus_bytes(patterns) -> int:
    """Bytes of the plain files among ``patterns`` (for a progress bar; folders count 0)."""
    patterns = [patterns] if isinstance(patterns, (str, Path)) else patterns
    files = [p for p in patterns if not Path(p).is_dir()]
    return sum(path.stat().st_size for path in expand_paths(files)) if files else 0


def corpus_size(patterns) -> int:
    """Bytes on disk of everything ``patterns`` name, folders (datasets) included."""
    return sum(sum(f.stat().st_size for f in target.rglob("*") if f.is_file()) if target.is_dir() else target.stat().st_size
               for target in corpus_targets(patterns))


def corpus_targets(patterns: list[str] | str) -> list[Path]:
    """What ``patterns`` name: files (globs expanded, as ``expand_paths``) and folders, kept
    whole (a ``save_to_disk`` folder, or one of JSONL/CSV/Parquet files)."""
    patterns = [patterns] if isinstance(patterns, (str, Path)) else list(patterns)
    if not patterns:
        raise DataError("no files given")
    return [target for p in patterns for target in ([Path(p)] if Path(p).is_dir() else expand_paths([str(p)]))]


def is_plain_text(path: Path) -> bool:
    """Whether a corpus file is plain text (read line by line, not through ``datasets``)."""
    return not Path(path).is_dir() and Path(path).suffix.lower() not in DATA_KINDS


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
    for target in corpus_targets(patterns):
        if not target.is_dir():
            check_data_file(target)
        if is_plain_text(target):
            yield from _text_pieces(target, by_line, on_bytes)
        else:
            yield from _dataset_rows(target, text_column)


def _text_pieces(path: Path, by_line: bool, on_bytes) -> Iterator[tuple[str, bool, bool]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        if by_line:
            for line in handle:
                if on_bytes is not None:
                    on_bytes(len(line.encode("utf-8")))
                line = line.rstrip("\r\n")
                if not is_blank(line):
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
    """Rows of a saved dataset folder (memory-mapped), or of JSONL/CSV/TSV/Parquet files (a file
    or a folder of them, streamed), each ``(text, True, True)``."""
    with local_datasets() as local:
        try:
            if target.is_dir() and is_saved_dataset(target):
                data = local.saved(target)
            else:
                files = data_files_in(target) if target.is_dir() else [target]
                options = {"delimiter": "\t"} if files[0].suffix.lower() == ".tsv" else {}
                data = local.stream(DATA_KINDS[files[0].suffix.lower()], files, **options)
            columns = data.column_names  # None where streamed JSON/CSV has not been looked into yet
            if columns is not None and text_column not in columns:
                raise DataError(f"{target}: no column {text_column!r}; columns are {', '.join(columns)} (use data.text_column)")
            for row in data:
                text = row.get(text_column)
                if text is None and text_column not in row:
                    raise DataError(f"{target}: no column {text_column!r}; columns are {', '.join(row)} (use data.text_column)")
                if isinstance(text, str) and not is_blank(text):
                    yield text, True, True
        except datasets_errors(local.module) as err:
            raise DataError(f"cannot read {target} as {_kind_name(target)}: {datasets_reason(err)}") from None


def _kind_name(target: Path) -> str:
    """How a corpus target was read, for messages: json, csv, parquet or a saved dataset."""
    if target.is_dir():
        return "a saved dataset" if is_saved_dataset(target) else "a folder of data files"
    return DATA_KINDS.get(target.suffix.lower(), "text")


