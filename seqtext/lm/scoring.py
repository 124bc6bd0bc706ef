"""Scoring a language model: cross-entropy, perplexity and bits per character of a text, each
document read in order from a fresh state. Batch sizes change only speed: documents are
batched with right padding, which cannot change any earlier position's result.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from seqtext.core import devices
from seqtext.core.files import corpus_targets, is_blank, is_plain_text, read_texts
from seqtext.core.progress import progress_bar
from seqtext.errors import DataError
from seqtext.text.tokenizers import BOS, EOS, PAD

FRESH_SPAN = 64  # tokens scored after a fresh state in the cold-start figure
FRESH_WINDOWS = 256  # line starts it averages over, spread evenly over the text


def safe_exp(x: float) -> float:
    """exp that says ``inf`` instead of raising OverflowError (a diverged model's perplexity)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def frame(texts: list[str], model) -> np.ndarray:
    """One document's ids for the language model ``model``: each text as ``<bos> ... <eos>``, in
    order; for a backward model as its corpus was read: the last text first, each right to left
    (``LanguageModel.reading_ids``), still ``<bos> ... <eos>``."""
    ordered = reversed(texts) if model.backward else texts
    return np.asarray([i for text in ordered for i in (BOS, *model.reading_ids(text), EOS)], dtype=np.int64)


@torch.inference_mode()
def score_documents(network, documents: list[np.ndarray], batch_size: int = 16, bptt: int = 256,
                    progress: bool = False) -> dict:
    """Negative log-likelihood (nats) of every token after the first of each document, each
    document read in order from a zero state.

    Returns ``nll`` and ``tokens`` (every predicted token, so exactly ``len(doc) - 1`` per
    document minus the <bos>/<pad> targets that are never predicted), and ``eos_nll`` and ``eos``
    for the <eos> predictions among them.
    """
    network.eval()
    device = next(network.parameters()).device
    wide = torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64
    vocab = network.config.vocab_size
    order = sorted(range(len(documents)), key=lambda i: -len(documents[i]))
    totals = {"nll": 0.0, "tokens": 0, "eos_nll": 0.0, "eos": 0}
    bar = progress_bar(progress, sum(max(len(d) - 1, 0) for d in documents), "token")
    for start in range(0, len(order), batch_size):
        group = [documents[i] for i in order[start : start + batch_size]]
        width = max(len(d) for d in group)
        # Windows short enough that the logits (rows x T x V floats) stay near 128 MB (an adaptive
        # softmax makes none); ids are copied window by window, so a memory-mapped document is
        # never read whole.
        span = bptt if network.adaptive is not None else max(8, min(bptt, (1 << 25) // max(1, len(group) * vocab)))
        state = None
        for begin in range(0, width - 1, span):
            chunk = torch.full((len(group), min(span + 1, width - begin)), PAD, dtype=torch.long)
            for row, doc in enumerate(group):
                piece = np.asarray(doc[begin : begin + span + 1], dtype=np.int64)
                chunk[row, : len(piece)] = torch.from_numpy(piece)
            chunk = chunk.to(device)
            targets = chunk[:, 1:].masked_fill((chunk[:, 1:] == PAD) | (chunk[:, 1:] == BOS), -100).flatten()
            with devices.autocast(device):
                losses, state = network.token_nll(chunk[:, :-1], targets, state)
            is_eos = targets == EOS
            totals["nll"] += losses.to(wide).sum().item()
            totals["tokens"] += int((targets != -100).sum())
            totals["eos_nll"] += losses[is_eos].to(wide).sum().item()
            totals["eos"] += int(is_eos.sum())
            bar.update(int((chunk[:, 1:] != PAD).sum()))
    bar.close()
    return totals


def line_start_ids(tokenizer) -> set[int]:
    """Ids after which a new line begins: <bos>, and every token whose text ends in a newline."""
    ids = {BOS}
    if not tokenizer.line_based:
        ids.update(i for i in range(4, tokenizer.vocab_size) if tokenizer.decode([i]).endswith("\n"))
    return ids


@torch.inference_mode()
def fresh_start_loss(network, ids: np.ndarray, starts: set[int], span: int = FRESH_SPAN,
                     max_windows: int = FRESH_WINDOWS) -> float | None:
    """Mean cross-entropy of the first ``span`` tokens of a line when the model starts there
    from a zero state after <bos>: what a user's seed meets. None when the text has no line
    start with ``span`` tokens after it.

    Windows start at up to ``max_windows`` line starts spread evenly over ``ids``.
    """
    ids = np.asarray(ids)
    positions = np.flatnonzero(np.isin(ids[:-span], np.fromiter(starts, dtype=np.int64))) + 1
    if len(positions) == 0:
        return None
    chosen = positions[np.linspace(0, len(positions) - 1, min(max_windows, len(positions))).round().astype(int)]
    chosen = np.unique(chosen)
    rows = np.stack([ids[p : p + span] for p in chosen]).astype(np.int64)
    inputs = torch.from_numpy(np.concatenate([np.full((len(rows), 1), BOS), rows[:, :-1]], axis=1))
    targets = torch.from_numpy(rows)
    targets = targets.masked_fill((targets == PAD) | (targets == BOS), -100)
    network.eval()
    total, count = 0.0, 0
    for begin in range(0, len(rows), 64):
        device = next(network.parameters()).device
        target = targets[begin : begin + 64].flatten().to(device)
        with devices.autocast(device):
            losses, _ = network.token_nll(inputs[begin : begin + 64].to(device), target, None)
        total += losses.sum().item()
        count += int((target != -100).sum())
    return total / count if count else None


def lm_documents(files, text_column: str = "text", line_based: bool = False) -> list[list[str]]:
    """The documents of ``files``, each a list of texts read in order with carried state: a
    plain-text file is one document (its lines, for line-based tokenizers); a row of a JSONL, CSV
    or Parquet file, of a folder of them or of a ``save_to_disk`` folder is one."""
    documents = []
    for path in corpus_targets(files):
        if is_plain_text(path):
            documents.append(read_texts([str(path)], text_column, by_line=line_based))
        else:
            for text in read_texts([str(path)], text_column):
                documents.append([line for line in text.splitlines() if not is_blank(line)] if line_based else [text])
    return [d for d in documents if d]


def unknown_cost(tokenizer, documents: list[list[str]]) -> tuple[int, float]:
    """How many tokens of ``documents`` the model can only call ``<unk>``, and the bits it takes
    to spell them: each character, and an end mark, uniform over the characters of the model's
    vocabulary. ``<unk>`` names no word, so without this a word model's bits per character
    would leave every rare word out; a tokenizer without ``<unk>`` (SentencePiece with byte
    fallback) owes nothing."""
    unknown = spelled = 0
    for texts in documents:
        for text in texts:
            pieces = tokenizer.unknown_pieces(text)
            unknown += len(pieces)
            spelled += sum(len(piece) + 1 for piece in pieces)
    per_char = math.log2(len(tokenizer.alphabet()) + 1) if unknown else 0.0
    return unknown, spelled * per_char


def evaluate_language_model(model, documents: list[list[str]], batch_size: int = 16, progress: bool = False) -> dict:
    """Cross-entropy per token (every token scored once), perplexity, bits per character and
    perplexity per word, and the cross-entropy of the first 64 tokens after a fresh state.

    Characters and words are those of the text scored (a line break counts as one character,
    also where a line-based tokenizer predicts <eos> in its place), so models with different
    tokenizers compare on bits per character and perplexity per word. A backward model
    (``train lm --backward``) reads the text right to left, as it learnt it.
    """
    if batch_size < 1:
        raise DataError(f"batch_size must be at least 1, not {batch_size}")
    tokenizer = model.tokenizer
    encoded = [frame(texts, model) for texts in documents]
    totals = score_documents(model.network, encoded, batch_size, progress=progress)
    nll, count = totals["nll"], totals["tokens"]
    if count == 0:
        raise DataError("no tokens to score: the text is empty")
    if tokenizer.line_based:
        chars = sum(len(text) + 1 for texts in documents for text in texts)
    else:
        chars = sum(len(text) for texts in documents for text in texts)
    words = sum(len(text.split()) for texts in documents for text in texts)
    unknown, spelled = unknown_cost(tokenizer, documents)
    result = {
        "documents": len(documents),
        "tokens": count,
        "characters": chars,
        "words": words,
        "cross_entropy": nll / count,
        "perplexity": safe_exp(nll / count),
        "bits_per_character": (nll / math.log(2) + spelled) / max(chars, 1),
        "bits_per_character_unk_free": nll / max(chars, 1) / math.log(2),
        "unknown_tokens": unknown,
        "word_perplexity": safe_exp(nll / max(words, 1)),
    }
    if tokenizer.line_based and count > totals["eos"]:
        # Word models end every line with <eos>: also the perplexity of the words alone.
        result["perplexity_without_eos"] = safe_exp((nll - totals["eos_nll"]) / (count - totals["eos"]))
    fresh = fresh_start_loss(model.network, np.concatenate(encoded), line_start_ids(tokenizer))
    if fresh is not None:
        result["fresh_cross_entropy"] = fresh
    return result
