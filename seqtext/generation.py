"""Decoding from a recurrent language model: sampling (temperature, top-k, top-p, greedy) for
many streams in one batch, beam search, and incremental detokenisation with stop strings.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from seqtext.errors import SeqtextError
from seqtext.tokenizers import BOS, EOS, PAD, Tokenizer


def check_options(temperature: float, top_k: int | None, top_p: float | None, max_length: int) -> None:
    if temperature < 0:
        raise SeqtextError(f"temperature must be 0 (greedy) or more, not {temperature}")
    if top_k is not None and top_k < 1:
        raise SeqtextError(f"top-k must be at least 1, not {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise SeqtextError(f"top-p must be in (0, 1], not {top_p}")
    if max_length < 0:
        raise SeqtextError(f"max length must be 0 or more, not {max_length}")


def filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Set to -inf every logit outside the top k and outside the nucleus of mass p. (N, V)."""
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        ordered, order = torch.sort(logits, dim=-1, descending=True)
        probs = ordered.softmax(-1)
        # Drop a token when the mass before it already reaches p; the top token always stays.
        drop = probs.cumsum(-1) - probs >= top_p
        ordered = ordered.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, ordered)
    return logits


def _ban(logits: torch.Tensor, banned: tuple[int, ...]) -> torch.Tensor:
    """Tokens that are never generated: <pad>, <bos>, and whatever else is in ``banned``."""
    logits[..., [PAD, BOS, *banned]] = float("-inf")
    return logits


@contextmanager
def _native_rnn_kernels():
    """oneDNN's LSTM kernel is the faster one for training on whole windows, but it pays a set-up
    cost on every call, which dominates when decoding one token at a time (measured here: one
    stream 4x slower, 32 streams 1.4x). Decoding steps use PyTorch's own kernel instead."""
    get = getattr(torch._C, "_get_mkldnn_enabled", None)
    set_enabled = getattr(torch._C, "_set_mkldnn_enabled", None)
    if get is None or set_enabled is None:
        yield
        return
    previous = get()
    set_enabled(False)
    try:
        yield
    finally:
        set_enabled(previous)


def _step(network, tokens: torch.Tensor, state):
    """One decoding step: tokens (N, T) -> logits of the last position (N, V), new state."""
    with _native_rnn_kernels():
        logits, state = network(tokens, state)
    return logits[:, -1], state


def select_state(state, index: torch.Tensor):
    """The state rows of the batch entries in ``index`` (repeat, reorder or drop streams)."""
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)


def _expand(state, n: int):
    return select_state(state, torch.zeros(n, dtype=torch.long))


@torch.inference_mode()
def sample(
    network,
    prefix: list[int],
    max_length: int,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    num_samples: int,
    generator: torch.Generator,
    banned: tuple[int, ...] = (),
) -> Iterator[torch.Tensor]:
    """Yield the next token of each of ``num_samples`` streams, (N,), until every stream has
    produced <eos> or ``max_length`` tokens. Temperature 0 picks the most likely token."""
    check_options(temperature, top_k, top_p, max_length)
    if num_samples < 1:
        raise SeqtextError(f"number of samples must be at least 1, not {num_samples}")
    network.eval()
    logits, state = _step(network, torch.tensor([prefix]), None)
    logits = logits.expand(num_samples, -1)  # (N, V)
    state = _expand(state, num_samples)
    done = torch.zeros(num_samples, dtype=torch.bool)
    for _ in range(max_length):
        logits = _ban(logits.float().clone(), banned)
        if temperature == 0:
            tokens = logits.argmax(-1)
        else:
            probs = filter_logits(logits / temperature, top_k, top_p).softmax(-1)
            tokens = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        tokens = tokens.masked_fill(done, EOS)
        yield tokens
        done |= tokens == EOS
        if bool(done.all()):
            return
        logits, state = _step(network, tokens[:, None], state)


def collect(steps: Iterator[torch.Tensor], num_samples: int) -> list[list[int]]:
    """Gather sampled steps into one token list per stream, ending at its <eos> if any."""
    sequences: list[list[int]] = [[] for _ in range(num_samples)]
    for tokens in steps:
        for sequence, token in zip(sequences, tokens.tolist()):
            if not sequence or sequence[-1] != EOS:
                sequence.append(token)
    return sequences


@torch.inference_mode()
def beam_search(network, prefix: list[int], max_length: int, beam_size: int, banned: tuple[int, ...] = ()) -> list[list[int]]:
    """The ``beam_size`` most likely continuations, best first, scored by mean log-probability
    per token (so that short endings are not favoured). Finished ones end with <eos>."""
    check_options(1.0, None, None, max_length)
    network.eval()
    logits, state = _step(network, torch.tensor([prefix]), None)
    log_probs = _ban(logits.float().log_softmax(-1), banned)  # (1, V)
    alive: list[list[int]] = [[]]
    scores = torch.zeros(1)
    finished: list[tuple[float, list[int]]] = []
    vocab = log_probs.size(-1)
    for _ in range(max_length):
        candidates = (scores[:, None] + log_probs).flatten()
        top = torch.topk(candidates, min(2 * beam_size, candidates.numel()))
        parents, tokens, next_alive, next_scores = [], [], [], []
        for score, index in zip(top.values.tolist(), top.indices.tolist()):
            parent, token = divmod(index, vocab)
            sequence = alive[parent] + [token]
            if token == EOS:
                finished.append((score / len(sequence), sequence))
            else:
                parents.append(parent)
                tokens.append(token)
                next_alive.append(sequence)
                next_scores.append(score)
            if len(next_alive) == beam_size:
                break
        if len(finished) >= beam_size or not next_alive:
            break
        alive, scores = next_alive, torch.tensor(next_scores)
        state = select_state(state, torch.tensor(parents))
        logits, state = _step(network, torch.tensor(tokens)[:, None], state)
        log_probs = _ban(logits.float().log_softmax(-1), banned)
    else:
        finished += [(s / max(1, len(seq)), seq) for s, seq in zip(scores.tolist(), alive)]
    finished.sort(key=lambda pair: pair[0], reverse=True)
    return [sequence for _, sequence in finished[:beam_size]]


class StreamDecoder:
    """Turns generated ids into text one token at a time.

    It decodes the whole continuation each time and hands out only the new part, holding back
    what could still change: an incomplete UTF-8 byte sequence (shown by the decoder as U+FFFD)
    or a tail that may be the start of a stop string. A stop string ends the text before it.
    """

    def __init__(self, tokenizer: Tokenizer, stop: tuple[str, ...] = ()):
        self.tokenizer = tokenizer
        self.stop = tuple(s for s in stop if s)
        self.joiner = tokenizer.joiner
        self.ids: list[int] = []
        self.text = ""
        self.emitted = 0
        self.stopped = False
        self.reason = None

    @property
    def count(self) -> int:
        return len(self.ids)

    def add(self, token: int) -> str:
        if self.stopped:
            return ""
        if token == EOS:
            self.stopped, self.reason = True, "eos"
            return self._flush(len(self.text))
        self.ids.append(token)
        self.text = self.joiner + self.tokenizer.decode(self.ids)
        for stop in self.stop:
            at = self.text.find(stop)
            if at != -1:
                self.text = self.text[:at]
                self.stopped, self.reason = True, "stop"
                return self._flush(len(self.text))
        safe = len(self.text)
        while safe > self.emitted and self.text[safe - 1] == "\ufffd":
            safe -= 1
        for stop in self.stop:
            for n in range(min(len(stop) - 1, safe - self.emitted), 0, -1):
                if self.text[safe - n : safe] == stop[:n]:
                    safe -= n
                    break
        return self._flush(safe)

    def _flush(self, upto: int) -> str:
        piece = self.text[self.emitted : upto]
        self.emitted = max(self.emitted, upto)
        return piece

    def finish(self) -> str:
        """Why the text ended: "eos", "stop" or "length"."""
        return self.reason or "length"

    def rest(self) -> str:
        """Whatever was held back, once generation has ended."""
        return self._flush(len(self.text))
