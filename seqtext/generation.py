"""Decoding from a recurrent language model: sampling (temperature, top-k, top-p, greedy) for
many streams in one batch, beam search, and incremental detokenisation with stop strings.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch

from seqtext.errors import SeqtextError
from seqtext.tokenizers import BOS, EOS, PAD, Tokenizer


def check_options(temperature: float, top_k: int | None, top_p: float | None, max_length: int) -> None:
    if not math.isfinite(temperature) or (top_p is not None and not math.isfinite(top_p)):
        raise SeqtextError(f"temperature and top-p must be finite numbers, not {temperature} and {top_p}")
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


PREFIX_CHUNK = 1024  # prefix tokens read per call: a seed of any length costs bounded memory
MAX_BEAM = 64  # more beams cost time linearly and hardly ever change the best sequence

_CELL_STEPS = {"lstm": torch.lstm_cell, "gru": torch.gru_cell, "rnn": torch.rnn_tanh_cell}


class Stepper:
    """Runs a trained network one token at a time for decoding.

    The seed goes through the network's own multi-layer kernel, in chunks; every later step
    calls the single-step cell functions on the layer weights directly. A one-token call to the
    full LSTM kernel pays oneDNN's set-up cost each time (measured here: one stream 4x slower),
    and avoiding it this way needs no process-wide switch.
    """

    def __init__(self, network):
        self.network = network
        config = network.config
        self.cell = _CELL_STEPS[config.cell]
        rnn = network.rnn
        self.layers = [
            (getattr(rnn, f"weight_ih_l{n}"), getattr(rnn, f"weight_hh_l{n}"),
             getattr(rnn, f"bias_ih_l{n}"), getattr(rnn, f"bias_hh_l{n}"))
            for n in range(config.num_layers)
        ]
        self.lstm = config.cell == "lstm"

    def prefix(self, ids: list[int]):
        """Read the seed: logits after its last token (1, V) and the state."""
        tokens = torch.tensor([ids])
        state = None
        for start in range(0, tokens.size(1), PREFIX_CHUNK):
            logits, state = self.network(tokens[:, start : start + PREFIX_CHUNK], state)
        return logits[:, -1], state

    def step(self, tokens: torch.Tensor, state):
        """tokens (N,) -> logits (N, V), new state; state is (L, N, H) (a pair for LSTM)."""
        x = self.network.embedding(tokens)  # (N, E)
        hs, cs = [], []
        for n, weights in enumerate(self.layers):
            if self.lstm:
                h, c = self.cell(x, (state[0][n], state[1][n]), *weights)
                cs.append(c)
            else:
                h = self.cell(x, state[n], *weights)
            hs.append(h)
            x = h
        if self.network.projection is not None:
            x = self.network.projection(x)
        logits = self.network.decoder(x)
        return logits, ((torch.stack(hs), torch.stack(cs)) if self.lstm else torch.stack(hs))


def check_memory(num_samples: int, beam_size: int, max_length: int, network) -> None:
    """Refuse a request that could never fit in memory, with the estimate, before allocating."""
    from seqtext.resources import check_fits

    config = network.config
    streams = max(num_samples, 2 * beam_size)
    per_stream = 4 * (2 * config.num_layers * config.hidden_size + 3 * config.vocab_size) + 64 * max_length
    check_fits(streams * per_stream, f"{streams:,} streams of {max_length:,} tokens")


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
    check_memory(num_samples, 1, max_length, network)
    stepper = Stepper(network)
    logits, state = stepper.prefix(prefix)
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
        logits, state = stepper.step(tokens, state)


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
    if not 1 <= beam_size <= MAX_BEAM:
        raise SeqtextError(f"beam size must be between 1 and {MAX_BEAM}, not {beam_size}")
    network.eval()
    check_memory(1, beam_size, max_length, network)
    stepper = Stepper(network)
    logits, state = stepper.prefix(prefix)
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
        logits, state = stepper.step(torch.tensor(tokens), state)
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
