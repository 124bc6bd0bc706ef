"""Word vectors learnt from the user's own unlabelled text: skip-gram with negative sampling
(Mikolov et al. 2013), so that taggers and classifiers can start from vectors of the same kind
of text (``data.embeddings``) while nothing is downloaded.

The recipe is word2vec's: frequent words are subsampled, each kept word predicts the words
within a window whose size is drawn anew for every word (1 to ``window``, so near words count
more), against ``negatives`` words drawn from the unigram distribution raised to 0.75, with a
learning rate that falls linearly to nearly zero. The gradients are written out by hand and
applied with ``index_add_`` to a batch of word pairs at once, which on a CPU is several times
faster than autograd with sparse embeddings. Windows do not cross line breaks (a line is a
sentence in most corpora), and words rarer than ``min_count`` are dropped before the windows
are drawn, as word2vec does.

The corpus is streamed once: every word gets an id as it is read, and the ids (4 bytes a word,
plus 8 for its line number) are what is kept, not the text.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from seqtext import checks
from seqtext.configs import MAX_SEED, WORD_SPLITS, option
from seqtext.core.files import corpus_bytes, stream_documents
from seqtext.core.modeldir import atomic_path, temporary_path
from seqtext.errors import ConfigError, DataError
from seqtext.text.tokenizers import SPECIALS, WordTokenizer

CHUNK_WORDS = 1 << 20  # words whose pairs are drawn and shuffled together
MIN_LR_SHARE = 1e-4  # the learning rate never falls below this share of ``lr`` (word2vec's floor)


@dataclass
class EmbeddingOptions:
    """How ``train_embeddings`` learns; the defaults are word2vec's for skip-gram. Each field's
    ``Flag`` is its ``seqtext train embeddings`` option (cli/embeddings.py builds them from it)."""

    text_column: str = option("text", "Column holding the text in JSONL/CSV files.")
    word_split: str = option("regex", "Split off punctuation, or split on whitespace only (pre-tokenized text).",
                             choices=WORD_SPLITS)
    lowercase: bool = option(False, "Lower-case the text (taggers look words up in lower case).")
    min_count: int = option(5, "Words seen fewer times get no vector.", low=1)
    dim: int = option(100, "Vector size (the tagger's --word-dim or the classifier's --embedding-dim follows it).", low=2)
    window: int = option(5, "Context words on each side, at most (each word draws its own window from 1 to this).", low=1)
    negatives: int = option(5, "Noise words per (word, context) pair.", low=1)
    epochs: int = option(5, "Passes over the text.", low=1)
    subsample: float = option(1e-3, "Thin out words more frequent than this share of the text (0: off).", low=0, high=1,
                              high_open=True)
    lr: float = option(0.025, "Starting learning rate (plain SGD, falling linearly to nearly 0).", low=0, high=10,
                       low_open=True)
    batch_size: int = option(1024, "(word, context) pairs per update.", low=1)
    seed: int = option(0, "Random seed; the same seed gives the same vectors on the same machine and thread count.", low=0,
                       high=MAX_SEED)

    def __post_init__(self):
        checks.positive_ints(self, "window", "negatives", "min_count", "epochs", "batch_size")
        checks.positive_ints(self, "dim")
        if self.dim < 2:  # a line "word x" is read as no vector by read_vectors (and GloVe readers)
            raise ConfigError(f"dim must be 2 or more, not {self.dim}")
        checks.fractions(self, "subsample")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and 0 < self.lr <= 10):
            raise ConfigError(f"lr must be a number above 0 and at most 10, not {self.lr!r}")
        checks.choice(self, "word_split", WORD_SPLITS)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a whole number of 0 or more, not {self.seed!r}")


@dataclass
class EmbeddingResult:
    """What a run produced: the words (most frequent first), their vectors, and its figures."""

    words: list[str]
    vectors: torch.Tensor  # (len(words), dim)
    corpus_words: int  # words read, rare ones included
    trained_words: int  # words of the vocabulary seen over all epochs (before subsampling)
    seconds: float  # training time, reading excluded
    read_seconds: float

    @property
    def words_per_second(self) -> float:
        return self.trained_words / self.seconds if self.seconds > 0 else float("inf")

    def nearest(self, word: str, count: int = 10) -> list[tuple[str, float]]:
        """The ``count`` words whose vectors have the highest cosine similarity to ``word``'s."""
        return nearest_words(self.words, self.vectors, word, count)


def nearest_words(words: list[str], vectors: torch.Tensor, word: str, count: int = 10) -> list[tuple[str, float]]:
    """Nearest neighbours by cosine similarity (a sanity check of a set of vectors)."""
    try:
        index = words.index(word)
    except ValueError:
        raise DataError(f"{word!r} has no vector") from None
    unit = torch.nn.functional.normalize(vectors.float(), dim=1)
    similarity = unit @ unit[index]
    similarity[index] = -2.0
    best = torch.topk(similarity, min(count, len(words) - 1))
    return [(words[i], float(s)) for s, i in zip(best.values.tolist(), best.indices.tolist())]


class _Corpus:
    """The corpus as word ids and line numbers, read in one streamed pass."""

    def __init__(self, files, options: EmbeddingOptions, progress: bool):
        started = time.perf_counter()
        splitter = WordTokenizer(list(SPECIALS), split=options.word_split, lowercase=options.lowercase)
        split = splitter.split
        index: dict[str, int] = {}
        ids_parts, line_parts = [], []
        lines_so_far = 0
        bar = None

        def read(count: int) -> None:  # the bar starts with the first bytes, after the files' checks
            nonlocal bar
            if bar is None:
                bar = tqdm(total=corpus_bytes(files) or None, unit="B", unit_scale=True, desc="reading", leave=False)
            bar.update(count)

        try:
            for text, _, _ in stream_documents(files, options.text_column, on_bytes=read if progress else None):
                ids, lengths = [], []
                for line in text.splitlines():
                    tokens = split(line)
                    if tokens:
                        ids.extend([index.setdefault(token, len(index)) for token in tokens])
                        lengths.append(len(tokens))
                if ids:
                    ids_parts.append(np.asarray(ids, dtype=np.int32))
                    line_parts.append(np.repeat(np.arange(lines_so_far, lines_so_far + len(lengths), dtype=np.int64), lengths))
                    lines_so_far += len(lengths)
        finally:
            if bar is not None:
                bar.close()
        if not index:
            raise DataError(f"{', '.join(map(str, files))}: no words found")
        ids = np.concatenate(ids_parts)
        counts = np.bincount(ids, minlength=len(index))
        names = list(index)
        frequent = np.flatnonzero(counts >= options.min_count).tolist()
        kept = sorted((i for i in frequent if not _has_space(names[i])), key=lambda i: (-counts[i], names[i]))
        if not kept:
            raise DataError(f"no word occurs {options.min_count} times or more in {', '.join(map(str, files))} "
                            f"({ids.size:,} words; the most frequent occurs {_times(int(counts.max()))}); lower min_count")
        remap = np.full(len(names), -1, dtype=np.int64)
        remap[kept] = np.arange(len(kept))
        new_ids = remap[ids]
        known = new_ids >= 0
        self.corpus_words = int(ids.size)
        self.words = [names[i] for i in kept]
        self.counts = counts[kept].astype(np.int64)
        self.ids = new_ids[known].astype(np.int32)
        self.lines = np.concatenate(line_parts)[known]
        self.seconds = time.perf_counter() - started


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count:,} times"


def _has_space(word: str) -> bool:
    """A word the vectors file could not hold on one line as one field."""
    return any(ch.isspace() for ch in word)


def _keep_probabilities(counts: np.ndarray, subsample: float) -> np.ndarray:
    """word2vec's subsampling: a word of frequency f is kept with probability
    (sqrt(f / t) + 1) * t / f, with t = ``subsample`` times the corpus size."""
    if subsample <= 0:
        return np.ones(len(counts))
    threshold = subsample * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1) * threshold / counts)


def _pairs(ids: np.ndarray, lines: np.ndarray, window: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(word, context) pairs of a run of words: each word's window is drawn from 1 to
    ``window`` (so a word d places away is a context with probability (window - d + 1) /
    window), and stops at the line's ends."""
    reach = rng.integers(1, window + 1, size=ids.size)
    words, contexts = [], []
    for distance in range(1, min(window, ids.size - 1) + 1):
        same_line = lines[:-distance] == lines[distance:]
        right = same_line & (reach[:-distance] >= distance)  # the left word looks right
        words.append(ids[:-distance][right])
        contexts.append(ids[distance:][right])
        left = same_line & (reach[distance:] >= distance)  # the right word looks left
        words.append(ids[distance:][left])
        contexts.append(ids[:-distance][left])
    if not words:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
    return np.concatenate(words), np.concatenate(contexts)


class _SkipGram:
    """The two tables of skip-gram (input vectors, which are the result, and output vectors)
    and one plain SGD step on a batch of pairs, with the gradients written out by hand."""

    def __init__(self, vocab_size: int, options: EmbeddingOptions, rng: np.random.Generator, noise: np.ndarray):
        dim = options.dim
        self.inputs = torch.from_numpy((rng.random((vocab_size, dim), dtype=np.float32) - 0.5) / dim)
        self.outputs = torch.zeros(vocab_size, dim)
        self.negatives = options.negatives
        self.noise_table = _noise_table(noise)
        self.rng = rng

    def step(self, words: torch.Tensor, contexts: torch.Tensor, lr: float) -> None:
        count, dim = words.numel(), self.inputs.shape[1]
        draws = self.rng.integers(0, self.noise_table.size, size=count * self.negatives)
        noise = torch.from_numpy(self.noise_table[draws].astype(np.int64)).view(count, self.negatives)
        targets = torch.cat([contexts.unsqueeze(1), noise], dim=1)  # (B, 1 + K): the true context first
        # index_select and multiply-and-sum: several times faster on a CPU than [] and bmm here
        word_vectors = self.inputs.index_select(0, words)  # (B, D)
        target_vectors = self.outputs.index_select(0, targets.view(-1)).view(count, -1, dim)  # (B, 1 + K, D)
        scores = (target_vectors * word_vectors.unsqueeze(1)).sum(2)
        # d log-likelihood / d score = label - sigmoid(score), scaled by the learning rate
        gain = torch.sigmoid(scores).neg_()
        gain[:, 0] += 1.0
        gain[:, 1:].masked_fill_(noise == contexts.unsqueeze(1), 0.0)  # the context drawn as noise: no update
        gain.mul_(lr)
        word_step = torch.bmm(gain.unsqueeze(1), target_vectors).squeeze(1)
        target_step = gain.unsqueeze(2) * word_vectors.unsqueeze(1)
        self.outputs.index_add_(0, targets.view(-1), target_step.view(-1, dim))
        self.inputs.index_add_(0, words, word_step)


def _noise_table(weights: np.ndarray) -> np.ndarray:
    """word2vec's sampling table: word i fills a share of the entries proportional to
    ``weights[i]`` (at least one), so a uniform draw of an entry is a draw from the noise
    distribution."""
    size = min(10_000_000, max(100_000, 1000 * weights.size))
    entries = np.maximum(1, np.rint(weights / weights.sum() * size)).astype(np.int64)
    return np.repeat(np.arange(weights.size, dtype=np.int32), entries)


def train_embeddings(files, output, options: EmbeddingOptions | None = None, progress: bool = False,
                     log=None) -> EmbeddingResult:
    """Learn word vectors from ``files`` (plain text, JSONL or CSV/TSV, globs allowed; see
    ``stream_documents``) and write them to ``output`` in word2vec text format (``N DIM`` then
    one ``word v1 ... vDIM`` line per word, most frequent first), which ``data.embeddings`` reads.
    ``output`` may be None to keep the vectors in memory only."""
    options = options or EmbeddingOptions()
    log = log or (lambda message: None)
    files = [files] if isinstance(files, (str, Path)) else list(files)
    if not files:
        raise DataError("no files given")
    output = Path(output) if output is not None else None
    if output is not None:
        _check_writable(output)
    corpus = _Corpus(files, options, progress)
    log(f"{corpus.corpus_words:,} words read in {corpus.seconds:.1f} s; a vector for each of the {len(corpus.words):,} "
        f"words seen {_times(options.min_count)} or more ({corpus.ids.size:,} of the running words)")
    rng = np.random.default_rng(options.seed)
    model = _SkipGram(len(corpus.words), options, rng, corpus.counts.astype(np.float64) ** 0.75)
    started = time.perf_counter()
    total = _train(model, corpus, options, rng, progress)
    seconds = time.perf_counter() - started
    if not torch.isfinite(model.inputs).all():
        raise DataError("the vectors diverged (not finite); lower lr")
    result = EmbeddingResult(corpus.words, model.inputs, corpus.corpus_words, total, seconds, corpus.seconds)
    log(f"{total:,} words trained in {seconds:.1f} s ({result.words_per_second:,.0f} words/s)")
    if output is not None:
        write_vectors(output, result.words, result.vectors)
    return result


def _train(model: _SkipGram, corpus: _Corpus, options: EmbeddingOptions, rng: np.random.Generator,
           progress: bool) -> int:
    """``options.epochs`` passes over the corpus, a chunk of CHUNK_WORDS words at a time: subsample,
    draw the pairs, take SGD steps on them. Returns the words trained (before subsampling)."""
    keep = _keep_probabilities(corpus.counts.astype(np.float64), options.subsample)
    total = corpus.ids.size * options.epochs
    done = 0
    with tqdm(total=total, unit="word", unit_scale=True, dynamic_ncols=True, desc="training", leave=False,
              disable=not progress) as bar:
        for _ in range(options.epochs):
            for start in range(0, corpus.ids.size, CHUNK_WORDS):
                ids = corpus.ids[start:start + CHUNK_WORDS]
                kept = rng.random(ids.size) < keep[ids]
                words, contexts = _pairs(ids[kept], corpus.lines[start:start + CHUNK_WORDS][kept], options.window, rng)
                _chunk_steps(model, words, contexts, options, rng, done=done, chunk=ids.size, total=total)
                done += ids.size
                bar.update(ids.size)
    return total


def _chunk_steps(model: _SkipGram, words: np.ndarray, contexts: np.ndarray, options: EmbeddingOptions,
                 rng: np.random.Generator, *, done: int, chunk: int, total: int) -> None:
    """SGD steps over one chunk's pairs, shuffled; the learning rate falls linearly with the share
    of all words trained (``done`` before this chunk of ``chunk`` words, out of ``total``)."""
    order = rng.permutation(words.size)
    words = torch.from_numpy(words[order].astype(np.int64))
    contexts = torch.from_numpy(contexts[order].astype(np.int64))
    batches = max(1, math.ceil(words.numel() / options.batch_size))
    for batch in range(batches):
        share = (done + chunk * batch / batches) / total
        lr = options.lr * max(MIN_LR_SHARE, 1.0 - share)
        section = slice(batch * options.batch_size, (batch + 1) * options.batch_size)
        if words[section].numel():
            model.step(words[section], contexts[section], lr)


def _check_writable(output: Path) -> None:
    """Refuse an output that cannot be written before spending the training time on it."""
    if output.is_dir():
        raise DataError(f"cannot write {output}: it is a directory")
    if not output.parent.is_dir():
        raise DataError(f"cannot write {output}: the directory {output.parent} does not exist")
    probe = temporary_path(output)
    try:
        probe.open("wb").close()
    except OSError as err:
        raise DataError(f"cannot write {output}: {err.strerror or err}") from None
    finally:
        probe.unlink(missing_ok=True)


def write_vectors(output, words: list[str], vectors: torch.Tensor) -> None:
    """Write word2vec text format atomically: a reader never sees half a file, and a failed
    write leaves an older file of the same name as it was."""
    output = Path(output)
    matrix = vectors.detach().float().cpu().numpy()
    try:
        with atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(f"{len(words)} {matrix.shape[1]}\n")
            for word, row in zip(words, matrix):
                handle.write(word + " " + " ".join(f"{x:.6g}" for x in row.tolist()) + "\n")
    except OSError as err:
        raise DataError(f"cannot write {output}: {err.strerror or err}") from None
