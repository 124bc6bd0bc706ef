"""Tokenizers: text <-> integer ids, one interface for characters, words and subwords.

Every tokenizer reserves the same four ids so that models never need to ask which tokenizer
they were built with: ``<pad>``=0, ``<unk>``=1, ``<bos>``=2, ``<eos>``=3. A tokenizer is saved
into a model directory as plain files (JSON, or SentencePiece's own protobuf model) and its
settings as a small dict inside ``config.json``.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import sentencepiece
import torch

from seqtext.core import modeldir
from seqtext.core.files import is_blank
from seqtext.errors import DataError, ModelError

SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = range(4)

VOCAB_FILE = "vocab.json"
SENTENCEPIECE_FILE = "sentencepiece.model"

# Words with inner apostrophes or hyphens stay whole; every other non-space character is a token.
WORD_PATTERN = re.compile(r"\w+(?:['’-]\w+)*|[^\w\s]", re.UNICODE)
# The word splits with line breaks as tokens of their own (WordTokenizer.encode_lines).
_SPLIT_WITH_BREAKS = {"regex": re.compile(WORD_PATTERN.pattern + r"|\n", re.UNICODE), "whitespace": re.compile(r"[^\s]+|\n")}
BLOCK_CHARS = 1 << 20  # characters of text handed to one split when counting words


def _blocks(texts: Iterable[str]) -> Iterator[str]:
    """``texts`` joined by line breaks into blocks of about BLOCK_CHARS characters."""
    block, size = [], 0
    for text in texts:
        block.append(text)
        size += len(text)
        if size >= BLOCK_CHARS:
            yield "\n".join(block)
            block, size = [], 0
    if block:
        yield "\n".join(block)


# WordTokenizer.encode_lines: a line break among the whitespace-separated chunks of the text
# (a text that holds this character itself takes the slower, equal path).
_BREAK = "\x00"
CHUNK_CACHE = 1 << 19  # distinct chunks a _ChunkCodes remembers before it starts afresh
CHUNK_CACHE_LENGTH = 64  # longer chunks (URLs, text without spaces) are encoded each time, not kept


class _ChunkCodes(dict):
    """Chunk of text -> its code, a row of a table of token ids: a corpus repeats its words, so
    each distinct chunk is encoded once (``encode_chunks`` takes a list of the chunks not seen
    yet, and gives their ids one after the other and each one's count), and ``ids`` turns a list
    of chunks into ids with numpy, no Python per token. It starts afresh after CHUNK_CACHE
    chunks and keeps no chunk over CHUNK_CACHE_LENGTH characters, so memory stays flat."""

    def __init__(self, encode_chunks, break_ids: tuple[int, ...] | None = None):
        super().__init__()
        self.encode_chunks, self.break_ids = encode_chunks, break_ids
        self._reset()

    def _reset(self) -> None:
        self.clear()
        self.table = np.zeros(1 << 12, dtype=np.int64)  # every code's ids, one after the other
        self.starts, self.lengths = np.zeros(1 << 12, dtype=np.int64), np.zeros(1 << 12, dtype=np.int64)
        self.used = self.codes = 0
        if self.break_ids is not None:  # the stand-in for a line break
            self[_BREAK] = self._add(np.asarray(self.break_ids, dtype=np.int64), np.asarray([len(self.break_ids)]))

    def _add(self, ids: np.ndarray, lengths: np.ndarray) -> int:
        """Codes for ``lengths`` more chunks whose ids are ``ids``; returns the first."""
        first = self.codes
        self.table = _put(self.table, self.used, ids)
        self.starts = _put(self.starts, self.codes, self.used + np.cumsum(lengths) - lengths)
        self.lengths = _put(self.lengths, self.codes, lengths)
        self.used += len(ids)
        self.codes += len(lengths)
        return first

    def _codes(self, chunks: list[str]) -> np.ndarray:
        """The code of each chunk, the chunks not seen yet encoded together."""
        codes = np.fromiter(map(self.get, chunks, itertools.repeat(-1)), dtype=np.int64, count=len(chunks))
        missing = np.flatnonzero(codes < 0).tolist()
        if missing:
            unseen = [chunks[i] for i in missing]
            new = list(dict.fromkeys(unseen))
            ids, lengths = self.encode_chunks(new)
            given = dict(zip(new, range(self._add(ids, lengths), self.codes)))
            codes[missing] = list(map(given.__getitem__, unseen))
            self.update((chunk, code) for chunk, code in given.items() if len(chunk) <= CHUNK_CACHE_LENGTH)
        return codes

    def ids(self, chunks: list[str]) -> np.ndarray:
        """The ids of ``chunks``, one after the other (int64)."""
        if self.codes > CHUNK_CACHE or self.used > 8 * CHUNK_CACHE:
            self._reset()
        codes = self._codes(chunks)
        starts, lengths = self.starts[codes], self.lengths[codes]
        total = int(lengths.sum())
        if total == len(codes):  # every chunk one token
            return self.table[starts]
        ends = np.cumsum(lengths)
        return self.table[np.arange(total) + np.repeat(starts - ends + lengths, lengths)]


def _put(array: np.ndarray, at: int, values: np.ndarray) -> np.ndarray:
    """``array`` with ``values`` written from index ``at`` on, grown (doubled) where needed."""
    if at + len(values) > len(array):
        grown = np.zeros(max(2 * len(array), at + len(values)), dtype=array.dtype)
        grown[:at] = array[:at]
        array = grown
    array[at : at + len(values)] = values
    return array


class Tokenizer:
    """Common interface. Subclasses fill in ``encode``, ``decode`` and the save format."""

    kind: str = ""
    # True when the tokenizer cannot represent a line break, so corpora are read line by line
    # and each line ends with <eos> (word level); False when newlines are ordinary tokens.
    line_based: bool = False
    # What goes between decoded pieces shown one by one (word tokens are space-separated).
    joiner: str = ""

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def unknown(self, text: str) -> list[str]:
        """The pieces of ``text`` this tokenizer will map to ``<unk>``, in order, unique."""
        return []

    def unknown_pieces(self, text: str) -> list[str]:
        """Every piece of ``text`` that becomes ``<unk>``, in order, repeats kept."""
        return []

    def stream_joiner(self, started: bool = False):
        """What puts the text of generated tokens together one at a time (``add(piece)`` gives
        what to append), for tokenizers whose text only grows at the end; None where only
        decoding the whole sequence gives the text. ``started``: text comes before the first."""
        return None

    def encode_lines(self, lines: list[str]) -> np.ndarray:
        """Each line as its own document, ``<bos> ... <eos>``, one after the other (int64)."""
        return np.asarray([i for line in lines for i in (BOS, *self.encode(line), EOS)], dtype=np.int64)

    def alphabet(self) -> set[str]:
        """The characters the vocabulary's tokens are made of."""
        return set()

    def pieces(self, text: str) -> list[str]:
        """The text of each token ``encode`` gives, for showing per-token scores."""
        return [self.decode([i]) for i in self.encode(text)]

    def save(self, directory: Path) -> dict:
        """Write the tokenizer's files into ``directory``; return its settings for config.json."""
        raise NotImplementedError


def storable(token: str) -> bool:
    """False for a token with a lone surrogate (text decoded from a bad JSON escape or bytes):
    no UTF-8 vocabulary file can hold it, so it stays <unk> instead of failing the save after
    training."""
    try:
        token.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate as U+FFFD, for SentencePiece, which cannot take one."""
    return text if storable(text) else LONE_SURROGATE.sub("\ufffd", text)


class _VocabTokenizer(Tokenizer):
    """A tokenizer whose vocabulary is an explicit list of strings (characters or words)."""

    def __init__(self, tokens: list[str]):
        if list(tokens[: len(SPECIALS)]) != list(SPECIALS):
            raise ModelError(f"{self.kind} vocabulary must start with {', '.join(SPECIALS)}")
        self.itos = list(tokens)
        self.stoi = {token: i for i, token in enumerate(self.itos)}

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def split(self, text: str) -> list[str]:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        get = self.stoi.get
        return [get(piece, UNK) for piece in self.split(text)]

    def unknown(self, text: str) -> list[str]:
        return list(dict.fromkeys(p for p in self.split(text) if p not in self.stoi))

    def unknown_pieces(self, text: str) -> list[str]:
        return [p for p in self.split(text) if p not in self.stoi]

    def alphabet(self) -> set[str]:
        return {char for token in self.itos[len(SPECIALS):] for char in token}

    def pieces(self, text: str) -> list[str]:
        return self.split(text)

    def _pieces(self, ids: Iterable[int]) -> list[str]:
        itos = self.itos
        return [itos[i] for i in ids if i not in (PAD, BOS, EOS)]

    def _settings(self) -> dict:
        return {}

    def save(self, directory: Path) -> dict:
        path = Path(directory) / VOCAB_FILE
        modeldir.write_atomic(path, json.dumps(self.itos, ensure_ascii=False).encode("utf-8"))
        return {"kind": self.kind, "file": VOCAB_FILE, **self._settings()}

    @staticmethod
    def _by_frequency(counts: Counter, min_freq: int, max_size: int | None) -> list[str]:
        """The specials, then the tokens most frequent first (ties alphabetical): an adaptive
        softmax's clusters are id ranges, so frequent words must have the small ids."""
        kept = sorted(((t, c) for t, c in counts.items() if c >= min_freq and t not in SPECIALS and storable(t)),
                      key=lambda tc: (-tc[1], tc[0]))
        if max_size is not None:
            kept = kept[: max(0, max_size - len(SPECIALS))]
        return list(SPECIALS) + [t for t, _ in kept]

    @staticmethod
    def _vocabulary(counts: Counter, min_freq: int, max_size: int | None) -> list[str]:
        """The specials, then the same tokens as ``_by_frequency`` in code-point order."""
        return list(SPECIALS) + sorted(_VocabTokenizer._by_frequency(counts, min_freq, max_size)[len(SPECIALS) :])


class CharTokenizer(_VocabTokenizer):
    """One token per Unicode code point; exact round trip for every character it has seen."""

    kind = "char"

    def split(self, text: str) -> list[str]:
        return list(text)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self._pieces(ids))

    def stream_joiner(self, started: bool = False):
        return _Concatenate()

    def encode_array(self, text: str):
        """``encode`` as a numpy array, vectorised over code points: no Python loop per character,
        so a corpus of any size encodes at the speed of a table lookup."""
        table = getattr(self, "_table", None)
        if table is None:
            top = max((ord(t) for t in self.itos[4:] if len(t) == 1), default=0)
            table = np.full(top + 2, UNK, dtype=np.int64)  # the last entry: anything beyond
            for token, index in self.stoi.items():
                if len(token) == 1:
                    table[ord(token)] = index
            self._table = table
        # surrogatepass: a lone surrogate (text decoded from bad JSON or bytes) is a code point like any other: <unk>
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        return table[np.minimum(points, len(table) - 1)]

    @classmethod
    def train(cls, texts: Iterable[str], min_freq: int = 1, max_size: int | None = None):
        # Counted per code point with numpy (3x Counter.update's speed on large corpora).
        totals = np.zeros(0, dtype=np.int64)
        for text in texts:
            counts = np.bincount(np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4"))
            if len(counts) > len(totals):
                counts[: len(totals)] += totals
                totals = counts
            else:
                totals[: len(counts)] += counts
        found = Counter({chr(point): int(totals[point]) for point in np.flatnonzero(totals)})
        return cls(cls._vocabulary(found, min_freq, max_size))


class _Concatenate:
    def add(self, piece: str) -> str:
        return piece


# Detokenizing words: tokens that attach to the word before them, and tokens the next one
# attaches to (PTB quotes `` and '' included, as in Brown and CoNLL text).
NO_SPACE_BEFORE = frozenset({",", ".", ";", ":", "!", "?", "%", ")", "]", "}", "...", "''", "'", "n't", "'s", "'re",
                             "'ve", "'ll", "'d", "'m", "n’t", "’s", "’re", "’ve", "’ll", "’d", "’m"})
NO_SPACE_AFTER = frozenset({"(", "[", "{", "``", "$", "#", "£", "€"})


class WordJoiner:
    """Puts word tokens together as text, one at a time: a space before each, except before
    punctuation and clitics, after an opening bracket, and inside a pair of double quotes.
    ``started``: text comes before the first token (a seed), so it gets its space too."""

    def __init__(self, started: bool = False):
        self.previous = "" if started else None
        self.quote_open = False

    def add(self, piece: str) -> str:
        if not piece:
            return ""
        previous, self.previous = self.previous, piece
        if previous is None:
            space = False
        elif piece == '"':
            space = not self.quote_open and previous not in NO_SPACE_AFTER  # an opening quote: a space before it
        else:
            opened = previous == '"' and self.quote_open
            space = not (piece.lower() in NO_SPACE_BEFORE or previous in NO_SPACE_AFTER or opened)
        if piece == '"':
            self.quote_open = not self.quote_open
        return (" " if space else "") + piece


class WordTokenizer(_VocabTokenizer):
    """Words and punctuation marks (``split="regex"``) or whitespace-separated tokens
    (``split="whitespace"``, for corpora that are tokenized already). Decoding puts the
    tokens back together as text (``WordJoiner``); the original spacing is not kept."""

    kind = "word"
    line_based = True
    joiner = " "

    def __init__(self, tokens: list[str], split: str = "regex", lowercase: bool = False):
        if split not in ("regex", "whitespace"):
            raise ModelError(f"unknown word split {split!r}: use 'regex' or 'whitespace'")
        super().__init__(tokens)
        self.split_mode = split
        self.lowercase = lowercase
        self._lookup = None

    def split(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        if self.split_mode == "whitespace":
            return text.split()
        return WORD_PATTERN.findall(text)

    def decode(self, ids: Iterable[int]) -> str:
        """The tokens as text: spaces between words, none before punctuation and clitics or
        inside quotes and brackets (``WordJoiner``), the inverse of the word splitter."""
        joiner = WordJoiner()
        return "".join(joiner.add(piece) for piece in self._pieces(ids))

    def stream_joiner(self, started: bool = False):
        return WordJoiner(started)

    def _chunk_tokens(self, chunks: list[str]) -> tuple[list[str], np.ndarray]:
        """The tokens of whitespace-free chunks of (lower-cased) text, one after the other, and
        how many each chunk has: one pass of the pattern over the chunks joined by line breaks."""
        if self.split_mode == "whitespace":
            return chunks, np.ones(len(chunks), dtype=np.int64)
        tokens = _SPLIT_WITH_BREAKS["regex"].findall("\n".join(chunks) + "\n")
        breaks = np.flatnonzero(np.fromiter(map("\n".__eq__, tokens), dtype=bool, count=len(tokens)))
        return [token for token in tokens if token != "\n"], np.diff(breaks, prepend=-1) - 1

    def _encode_chunks(self, chunks: list[str]) -> tuple[np.ndarray, np.ndarray]:
        tokens, lengths = self._chunk_tokens(chunks)
        return np.fromiter(map(self.stoi.get, tokens, itertools.repeat(UNK)), dtype=np.int64, count=len(tokens)), lengths

    def encode_lines(self, lines: list[str]) -> np.ndarray:
        """``encode_lines`` of the base class, over all the lines at once: the text is cut at
        whitespace by ``str.split`` (C speed) and each distinct chunk is split and looked up
        once (``_ChunkCodes``). No token holds whitespace and the pattern looks at nothing
        before a match, so the chunks' tokens are the text's; a line break becomes the break
        chunk, whose ids are <eos> <bos> (encode_lines_by_regex gives the same ids, slower)."""
        text = "\n".join(lines)
        if self.lowercase:
            text = text.lower()
        if _BREAK in text:  # the marker is in the text itself: split it the slow way
            return self._encode_joined(text)
        if self._lookup is None:
            self._lookup = _ChunkCodes(self._encode_chunks, (EOS, BOS))
        ids = self._lookup.ids(text.replace("\n", f" {_BREAK} ").split())
        return np.concatenate(([BOS], ids, [EOS]))

    def encode_lines_by_regex(self, lines: list[str]) -> np.ndarray:
        """What ``encode_lines`` gives, by one regular-expression pass over the joined lines (the
        reference its faster path is tested against)."""
        text = "\n".join(lines)
        return self._encode_joined(text.lower() if self.lowercase else text)

    def _encode_joined(self, text: str) -> np.ndarray:
        tokens = _SPLIT_WITH_BREAKS[self.split_mode].findall(text)
        lookup = {**self.stoi, "\n": -1}  # the vocabulary, and a line break as -1
        ids = np.fromiter(map(lookup.get, tokens, itertools.repeat(UNK)), dtype=np.int64, count=len(tokens))
        breaks = np.flatnonzero(ids == -1)
        ids[breaks] = EOS
        ids = np.insert(ids, breaks + 1, BOS)
        return np.concatenate(([BOS], ids, [EOS]))

    def _settings(self) -> dict:
        return {"split": self.split_mode, "lowercase": self.lowercase}

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        min_freq: int = 1,
        max_size: int | None = None,
        split: str = "regex",
        lowercase: bool = False,
    ):
        splitter = cls(list(SPECIALS), split=split, lowercase=lowercase)
        counts, chunks = Counter(), Counter()
        for block in _blocks(texts):  # a megabyte at a time: a call per line costs more than the split
            chunks.update((block.lower() if lowercase else block).split())
            if len(chunks) > CHUNK_CACHE:
                splitter._count_tokens(chunks, counts)
                chunks.clear()
        splitter._count_tokens(chunks, counts)
        return cls(cls._by_frequency(counts, min_freq, max_size), split=split, lowercase=lowercase)

    def _count_tokens(self, chunks: Counter, counts: Counter) -> None:
        """Add the tokens of counted whitespace-separated ``chunks`` to ``counts``: each distinct
        chunk is split once (the text's tokens are its chunks' tokens, see ``encode_lines``)."""
        if self.split_mode == "whitespace" or not chunks:
            counts.update(chunks)
            return
        tokens, lengths = self._chunk_tokens(list(chunks))
        for token, n in zip(tokens, np.repeat(np.fromiter(chunks.values(), dtype=np.int64, count=len(chunks)), lengths).tolist()):
            counts[token] += n


SP_SPACE = "\u2581"  # what SentencePiece writes a space as; in the text, it also marks a word
_SP_WORDS = re.compile(r"[ \u2581]*[^ \u2581]+|[ \u2581]+")  # SentencePiece's words (SplitIntoWords)


def _merge_spaces(rest: list[str]) -> list[str]:
    """The parts after the first of ``text.split(" ")`` with each run of empty parts (spaces in
    a row) joined to the part after it: each part is then a word without its first space."""
    merged, start = [], 0
    while True:
        try:
            empty = rest.index("", start)
        except ValueError:
            return merged + rest[start:]
        merged.extend(rest[start:empty])
        end = empty
        while end < len(rest) and not rest[end]:
            end += 1
        if end == len(rest):  # spaces at the end: a word of spaces
            merged.append(" " * (end - empty - 1))
            return merged
        merged.append(" " * (end - empty) + rest[end])
        start = end + 1


def _flat(lists: list[list[int]]) -> np.ndarray:
    return np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=sum(map(len, lists)))


class SentencePieceTokenizer(Tokenizer):
    """Subwords (BPE or unigram) learned with the sentencepiece library.

    Trained with identity normalisation, no dummy prefix and byte fallback, so that decoding
    gives back the exact text, spaces, newlines, Chinese and emoji included, even for characters
    never seen in training (they become UTF-8 byte pieces). The one exception is the character
    U+2581, which SentencePiece itself uses to mark spaces.
    """

    kind = "sentencepiece"

    def __init__(self, model_proto: bytes):
        self.model_proto = model_proto
        self.processor = sentencepiece.SentencePieceProcessor(model_proto=model_proto)
        self._words = None  # chunk codes for encode_array, False where it cannot go word by word
        self._cut_lines = False
        if [self.processor.id_to_piece(i) for i in range(4)] != list(SPECIALS):
            raise ModelError("SentencePiece model does not reserve <pad> <unk> <bos> <eos> as ids 0-3")

    @property
    def vocab_size(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.processor.encode(without_lone_surrogates(text))

    def encode_array(self, text: str) -> np.ndarray:
        """``encode`` as a numpy array, for corpora: the text is cut into SentencePiece's own
        words (a space that follows a non-space starts one), and before each line break where
        no piece holds one (a model seqtext trains learns from lines), and each distinct word is
        encoded once (``_ChunkCodes``). No piece spans two words, so the words' pieces are the
        text's, as ``encode`` gives them for any text up to ~100 KB. (On a megabyte at once,
        the unigram model's float32 scores lose precision: ``encode`` splits a few words
        otherwise.)"""
        text = without_lone_surrogates(text)
        if not self._by_words():
            return np.asarray(self.processor.encode(text), dtype=np.int64)
        if SP_SPACE in text:  # U+2581 marks words too: the regular expression, nothing kept
            return _flat(self.processor.encode(_SP_WORDS.findall(text), num_threads=1))
        if self._cut_lines:  # a space before each line break cuts there; _encode_words takes it out
            text = text.replace("\n", " \n")
        parts = text.split(" ")  # "a  b" -> "a", "", "b": words "a", "  b"
        first, rest = parts[0], parts[1:]
        if "" in rest:
            rest = _merge_spaces(rest)
        ids = self._words.ids(rest)
        return np.concatenate([self.processor.encode(first), ids]) if first else ids

    def _by_words(self) -> bool:
        """Whether this model encodes text word by word as seqtext trains it (no dummy prefix,
        spaces kept, none collapsed, no piece with a space after its start): a probe encoded
        whole and by words gives the same ids; and whether a line break starts a word too."""
        if self._words is None:
            pieces = [self.processor.id_to_piece(i) for i in range(self.vocab_size)]
            inner = any(SP_SPACE in piece.lstrip(SP_SPACE) for piece in pieces)
            probe = "  The 12 cats'  naps,\nlate  \n  at 3:45pm   .  "
            same = self.processor.encode(probe) == _flat([self.processor.encode(w) for w in _SP_WORDS.findall(probe)]).tolist()
            self._cut_lines = not any("\n" in piece for piece in pieces)
            by_words = same and not inner and self.decode(self.encode(probe)) == probe
            self._words = _ChunkCodes(self._encode_words) if by_words else False
        return self._words is not False

    def _encode_words(self, rest: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the words ``" " + part`` for each of ``rest`` (less the space put before a
        line break), and how many each has."""
        words = [" " + part for part in rest]
        if self._cut_lines:
            words = [word.replace(" \n", "\n", 1) for word in words]
        pieces = self.processor.encode(words, num_threads=1)
        return _flat(pieces), np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))

    def decode(self, ids: Iterable[int]) -> str:
        return self.processor.decode([int(i) for i in ids if i not in (PAD, BOS, EOS)])

    def save(self, directory: Path) -> dict:
        (Path(directory) / SENTENCEPIECE_FILE).write_bytes(self.model_proto)
        return {"kind": self.kind, "file": SENTENCEPIECE_FILE}

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 4000, model_type: str = "bpe"):
        if model_type not in ("bpe", "unigram"):
            raise DataError(f"unknown SentencePiece model type {model_type!r}: use 'bpe' or 'unigram'")
        # SentencePiece learns from sentences; long lines are cut to keep training memory flat.
        lines = (line[:4096] for text in texts for line in without_lone_surrogates(text).splitlines() if not is_blank(line))
        # Memory stays bounded on a corpus of any size: SentencePiece keeps a random sample of
        # at most this many sentences (reservoir sampling over the stream).
        model = io.BytesIO()
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=lines,
                model_writer=model,
                vocab_size=vocab_size,
                model_type=model_type,
                byte_fallback=True,
                character_coverage=0.9995,
                normalization_rule_name="identity",
                remove_extra_whitespaces=False,
                add_dummy_prefix=False,
                allow_whitespace_only_pieces=True,
                split_digits=True,
                input_sentence_size=2_000_000,
                shuffle_input_sentence=True,
                hard_vocab_limit=False,
                pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS,
                pad_piece=SPECIALS[PAD], unk_piece=SPECIALS[UNK],
                bos_piece=SPECIALS[BOS], eos_piece=SPECIALS[EOS],
                minloglevel=2,
            )
        except RuntimeError as err:
            raise DataError(f"SentencePiece training failed: {str(err).splitlines()[-1]}") from None
        return cls(model.getvalue())


TOKENIZERS = {cls.kind: cls for cls in (CharTokenizer, WordTokenizer, SentencePieceTokenizer)}


def train_tokenizer(kind: str, texts: list[str], **options) -> Tokenizer:
    """Build a tokenizer of ``kind`` from ``texts``; options are passed to its ``train``."""
    if kind not in TOKENIZERS:
        raise DataError(f"unknown tokenizer {kind!r}: choose from {', '.join(TOKENIZERS)}")
    return TOKENIZERS[kind].train(texts, **options)


def vocabulary_problem(tokens) -> str | None:
    """What makes ``tokens`` unusable as a vocabulary, or None. Ids are positions in the list,
    so a repeated token or a missing special would silently shift what every id means."""
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        return "not a vocabulary (expected a JSON list of strings)"
    if tokens[: len(SPECIALS)] != list(SPECIALS):
        return f"not a seqtext vocabulary (it must start with {', '.join(SPECIALS)})"
    if len(set(tokens)) != len(tokens):
        repeated = next(t for t, n in Counter(tokens).items() if n > 1)
        return f"lists the token {repeated!r} twice"
    return None


def _tokenizer_file(directory: Path, name) -> Path:
    """The tokenizer file that config.json names, kept inside the model directory: a model may
    come from anyone, and ``../``, an absolute path or a symlink out of the directory would let
    it read any file of the user's."""
    where = directory / "config.json"
    if not isinstance(name, str) or not name:
        raise ModelError(f"{where}: tokenizer.file must be a file name, not {name!r}")
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise ModelError(f"{where}: tokenizer.file {name!r} points outside the model directory")
    path = directory / name
    resolved = path.resolve()
    if directory.resolve() not in resolved.parents:  # a symbolic link on the way leads out
        raise ModelError(f"{where}: tokenizer.file {name!r} resolves to {resolved}, outside the model directory")
    if not path.is_file():
        raise ModelError(f"{path}: tokenizer file is missing")
    return path


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise ModelError(f"{path}: cannot read ({err.strerror or err})") from None


def load_tokenizer(directory: Path, settings: dict) -> Tokenizer:
    """Rebuild the tokenizer described by ``settings`` (from config.json) from its files.

    Everything here is user input, so each problem is a ModelError naming the file; the files
    are read as JSON or as SentencePiece's protobuf, never unpickled.
    """
    directory = Path(directory)
    where = directory / "config.json"
    if not isinstance(settings, dict):
        raise ModelError(f"{where}: tokenizer must be a JSON object")
    kind = settings.get("kind")
    if not isinstance(kind, str) or kind not in TOKENIZERS:
        raise ModelError(f"{where}: unknown tokenizer kind {kind!r} (known: {', '.join(TOKENIZERS)})")
    path = _tokenizer_file(directory, settings.get("file"))
    if kind == "sentencepiece":
        try:
            return SentencePieceTokenizer(_read_file(path))
        except (RuntimeError, IndexError):  # protobuf parse failure; an empty model has no ids
            raise ModelError(f"{path}: not a SentencePiece model") from None
        except ModelError as err:
            raise ModelError(f"{path}: {err}") from None
    tokens = modeldir.read_json(path)  # the same checks as config.json: UTF-8, valid, not nested too deep
    problem = vocabulary_problem(tokens)
    if problem:
        raise ModelError(f"{path}: {problem}")
    if kind == "word":
        split = settings.get("split", "regex")
        lowercase = settings.get("lowercase", False)
        if split not in ("regex", "whitespace"):
            raise ModelError(f"{where}: tokenizer.split must be 'regex' or 'whitespace', not {split!r}")
        if not isinstance(lowercase, bool):
            raise ModelError(f"{where}: tokenizer.lowercase must be true or false, not {lowercase!r}")
        return WordTokenizer(tokens, split=split, lowercase=lowercase)
    return CharTokenizer(tokens)


def pad_batch(sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Lists of ids -> ids (B, T) padded with <pad>, lengths (B,). Empty lists count as length 1."""
    lengths = torch.tensor([max(1, len(s)) for s in sequences])
    ids = torch.full((len(sequences), int(lengths.max())), PAD, dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
    return ids, lengths


def load_model_tokenizer(directory: Path, config: dict):
    """The tokenizer of a model directory, checked to have exactly the vocabulary the network was
    built for (``model.vocab_size`` in config.json)."""
    tokenizer = load_tokenizer(directory, config["tokenizer"])
    expected = config["model"].get("vocab_size")
    if expected is not None and tokenizer.vocab_size != expected:
        raise ModelError(
            f"{directory}: the tokenizer has {tokenizer.vocab_size} tokens but {modeldir.CONFIG_FILE} "
            f"says model.vocab_size is {expected}"
        )
    return tokenizer
