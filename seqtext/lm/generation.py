"""Decoding from a recurrent language model: sampling (temperature, top-k, top-p, greedy) for
many streams in one batch, beam search, and incremental detokenisation with stop strings.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch

from seqtext.configs import MAX_BEAM
from seqtext.core.resources import check_fits
from seqtext.errors import SeqtextError
from seqtext.text.tokenizers import (
    BOS,
    EOS,
    PAD,
    Tokenizer,
)


def check_options(temperature: float, top_k: int | None, top_p: float | None, max_length: int) -> None:
    if not math.isfinite(temperature) or (top_p is not None and not math.isfinite(top_p)):
        raise SeqtextError(f"temperature and top_p must be finite numbers, not {temperature} and {top_p}")
    if temperature != 0 and not 1e-3 <= temperature <= 1e3:
        raise SeqtextError(f"temperature must be 0 (greedy) or from 0.001 to 1000, not {temperature}")
    if temperature < 0:
        raise SeqtextError(f"temperature must be 0 (greedy) or more, not {temperature}")
    if top_k is not None and top_k < 1:
        raise SeqtextError(f"top_k must be at least 1, not {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise SeqtextError(f"top_p must be in (0, 1], not {top_p}")
    if max_length < 0:
        raise SeqtextError(f"max_length must be 0 or more, not {max_length}")


def filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Set to -inf every logit outside the top k and outside the nucleus of mass p. (N, V)."""
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        ordered, order = torch.sort(logits, dim=-1, descending=True)
        probs = ordered.softmax(-1)
        # Drop a token when the mass before it already reaches p. The top token always stays,
        # set here rather than left to the comparison: a p below float32's smallest number
        # (1e-300) compares as 0, which would drop every token.
        drop = probs.cumsum(-1) - probs >= top_p
        drop[..., 0] = False
        ordered = ordered.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, ordered)
    return logits


def _ban(logits: torch.Tensor, banned: tuple[int, ...]) -> torch.Tensor:
    """Tokens that are never generated: <pad>, <bos>, and whatever else is in ``banned``."""
    logits[..., [PAD, BOS, *banned]] = float("-inf")
    return logits


PREFIX_CHUNK = 1024  # prefix tokens read per call: a seed of any length costs bounded memory
TABLE_BYTES = 64 << 20  # largest (vocabulary x gates) table of layer-0 input gates kept for decoding

_CELL_STEPS = {"lstm": torch.lstm_cell, "gru": torch.gru_cell, "rnn": torch.rnn_tanh_cell}
_GATES = {"lstm": 4, "gru": 3, "rnn": 1}


class Stepper:
    """Runs a trained network one token at a time for decoding.

    The seed goes through the network's own multi-layer kernel, in chunks. Sampling then steps
    with a ``StepKernel`` (fused weights, buffers allocated once); ``step`` is the general path
    (beam search, and networks the kernel does not take): the single-step cell functions on the
    layer weights, which skip oneDNN's per-call set-up (docs/studies/decoding.md).
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
        self.device = rnn.weight_ih_l0.device

    def prefix(self, ids: list[int]):
        """Read the seed: logits after its last token (1, V) and the state."""
        tokens = torch.tensor([ids], device=self.device)
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
        logits = self.network.head(x)  # a linear decoder or an adaptive softmax's log-probabilities
        return logits, ((torch.stack(hs), torch.stack(cs)) if self.lstm else torch.stack(hs))

    def kernel(self, state, streams: int) -> "StepKernel | None":
        """A ``StepKernel`` for ``streams`` streams that all start from ``state`` (batch 1), or
        None where the network's weights are not all float32 (``step`` then does the work)."""
        if any(p.dtype != torch.float32 for p in self.network.parameters()) or self.network.decoder is None:
            return None  # the kernel knows a linear decoder only (not an adaptive softmax)
        return StepKernel(self.network, state, streams)


def _affine(out: torch.Tensor, bias: torch.Tensor | None, weight: torch.Tensor, x: torch.Tensor):
    """A call that writes ``bias + x @ weight.T`` into ``out`` (N, ·), or adds ``x @ weight.T`` to
    it when ``bias`` is None: ``addmv`` for one stream, ``addmm`` on the transposed view (no
    copy) for more."""
    if out.size(0) == 1:
        o, v = out[0], x[0]
        if bias is None:
            return lambda: o.addmv_(weight, v)
        return lambda: torch.addmv(bias, weight, v, out=o)
    wt = weight.t()
    if bias is None:
        return lambda: out.addmm_(x, wt)
    return lambda: torch.addmm(bias, x, wt, out=out)


class StepKernel:
    """One decoding step for a fixed batch of N streams with no allocation and no module call.

    Weights are prepared once: the embedding row times layer 0's W_ih plus both biases is one
    table of (V, gates) rows (when it is at most ``TABLE_BYTES``); every other LSTM/RNN layer
    multiplies ``[x; h]`` by ``[W_ih, W_hh]`` with summed biases in one ``addmv``/``addmm``; GRU
    keeps the two products apart, since its candidate gate needs ``r * (W_hn h + b_hn)``. Gate
    math runs in place on buffers allocated here, in torch's gate order (LSTM i, f, g, o; GRU
    r, z, n). The logits buffer (N, V) is overwritten by each ``step``.
    """

    def __init__(self, network, state, streams: int, table_bytes: int | None = None):
        config = network.config
        table_bytes = TABLE_BYTES if table_bytes is None else table_bytes
        self.cell, self.H, self.N = config.cell, config.hidden_size, streams
        self.embedding = network.embedding.weight.detach()
        self.tokens_into = None  # writes the step's tokens into the first buffer
        self.calls = []  # (matrix products, gate math) of each layer, in order
        self.h, self.c, copies = [], [], []
        x = None  # the previous layer's output: the next layer's input
        for n in range(config.num_layers):
            weights = [getattr(network.rnn, f"{name}_l{n}").detach() for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            by_table = n == 0 and config.vocab_size * _GATES[self.cell] * self.H * 4 <= table_bytes
            if self.cell == "gru":
                h = self._gru_layer(n, weights, x, by_table)
            else:
                h = self._lstm_or_rnn_layer(n, weights, by_table, copies)
            self.h.append(h)
            x = h
        # after layer n's gate math, copy its h into layer n + 1's [x; h]
        self.copies = [[] for _ in range(config.num_layers)]
        for below, target in copies:
            self.copies[below].append(lambda target=target, h=self.h[below]: target.copy_(h))
        self._output_layers(network, x)
        self.load_state(state)

    def _buffer(self, *shape) -> torch.Tensor:
        return torch.zeros(*shape, device=self.embedding.device)

    def _gru_layer(self, n: int, weights: list[torch.Tensor], x: torch.Tensor | None, by_table: bool) -> torch.Tensor:
        """Layer ``n`` of a GRU: the two products kept apart (see the class). Returns its h."""
        w_ih, w_hh, b_ih, b_hh = weights
        embedding, N, G = self.embedding, self.N, 3 * self.H
        gi, gh, h = self._buffer(N, G), self._buffer(N, G), self._buffer(N, self.H)
        products = []
        if by_table:
            table = torch.addmm(b_ih, embedding, w_ih.t())  # (V, 3H): W_ih e + b_ih per token
            self.tokens_into = lambda tokens, table=table, gi=gi: torch.index_select(table, 0, tokens, out=gi)
        else:
            if n == 0:
                x = self._buffer(N, embedding.size(1))
                self.tokens_into = lambda tokens, x=x: torch.index_select(embedding, 0, tokens, out=x)
            products.append(_affine(gi, b_ih, w_ih, x))
        products.append(_affine(gh, b_hh, w_hh, h))
        self.calls.append((products, self._gru_math(gi, gh, h)))
        return h

    def _lstm_or_rnn_layer(self, n: int, weights: list[torch.Tensor], by_table: bool, copies: list) -> torch.Tensor:
        """Layer ``n`` of an LSTM or tanh RNN: one product of ``[x; h]`` (or, by table, of h
        alone). A layer above layer 0 adds to ``copies`` where the layer below writes its h."""
        w_ih, w_hh, b_ih, b_hh = weights
        embedding, N, H = self.embedding, self.N, self.H
        gates = self._buffer(N, _GATES[self.cell] * H)
        products = []
        if by_table:
            table = torch.addmm(b_ih + b_hh, embedding, w_ih.t())  # (V, G): W_ih e + both biases
            self.tokens_into = lambda tokens, table=table, gates=gates: torch.index_select(table, 0, tokens, out=gates)
            h = self._buffer(N, H)
            products.append(_affine(gates, None, w_hh, h))
        else:
            inputs = w_ih.size(1)
            xh = self._buffer(N, inputs + H)  # [x; h]: the layer's input, then its own state
            h = xh[:, inputs:]
            if n == 0:
                self.tokens_into = lambda tokens, x=xh[:, :inputs]: torch.index_select(embedding, 0, tokens, out=x)
            else:
                copies.append((n - 1, xh[:, :inputs]))  # the layer below writes its h here too
            products.append(_affine(gates, b_ih + b_hh, torch.cat([w_ih, w_hh], 1), xh))
        if self.cell == "lstm":
            c = self._buffer(N, H)
            self.c.append(c)
            self.calls.append((products, self._lstm_math(gates, c, h)))
        else:
            self.calls.append((products, lambda gates=gates, h=h: torch.tanh(gates, out=h)))
        return h

    def _output_layers(self, network, x: torch.Tensor) -> None:
        """The projection (if any) and the decoder, writing into ``self.logits`` (N, V)."""
        if network.projection is not None:
            projected = self._buffer(self.N, network.projection.out_features)
            self.projection = _affine(projected, network.projection.bias.detach(), network.projection.weight.detach(), x)
            x = projected
        else:
            self.projection = None
        self.logits = self._buffer(self.N, network.config.vocab_size)
        self.decoder = _affine(self.logits, network.decoder.bias.detach(), network.decoder.weight.detach(), x)

    @staticmethod
    def _lstm_math(gates, c, h):
        H = c.size(1)
        i_f, i, f, g, o = gates[:, : 2 * H], gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]

        def math():
            i_f.sigmoid_()
            g.tanh_()
            o.sigmoid_()
            c.mul_(f).addcmul_(i, g)  # c' = f c + i g
            torch.tanh(c, out=h)
            h.mul_(o)  # h' = o tanh(c')

        return math

    @staticmethod
    def _gru_math(gi, gh, h):
        H = h.size(1)
        rz, r, z = gi[:, : 2 * H], gi[:, :H], gi[:, H : 2 * H]
        rz_h, n, n_h = gh[:, : 2 * H], gi[:, 2 * H :], gh[:, 2 * H :]

        def math():
            rz.add_(rz_h).sigmoid_()
            n.addcmul_(r, n_h).tanh_()  # n = tanh(W_in x + b_in + r (W_hn h + b_hn))
            h.sub_(n).mul_(z).add_(n)  # h' = n + z (h - n)

        return math

    def load_state(self, state) -> None:
        """Set every stream's state from ``state``: (L, N or 1, H), a pair for LSTM."""
        hidden, cells = state if self.cell == "lstm" else (state, None)
        for n, h in enumerate(self.h):
            h.copy_(hidden[n])
            if cells is not None:
                self.c[n].copy_(cells[n])
            for copy in self.copies[n]:
                copy()

    def state(self):
        """The current state in the network's layout: (L, N, H), a pair for LSTM."""
        hidden = torch.stack(self.h)
        return (hidden, torch.stack(self.c)) if self.cell == "lstm" else hidden

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (N,) -> logits (N, V): the kernel's own buffer, valid until the next step."""
        self.tokens_into(tokens)
        for (products, gates), copies in zip(self.calls, self.copies):
            for product in products:
                product()
            gates()
            for copy in copies:
                copy()
        if self.projection is not None:
            self.projection()
        self.decoder()
        return self.logits


def _check_finite(logits: torch.Tensor) -> None:
    if not bool(torch.isfinite(logits).all()):
        raise SeqtextError("the model gives scores that are not finite numbers (are its weights NaN or infinite?)")


# Bytes a decoding call holds beside its tensors, measured (tests/core/test_memory.py): each
# sample's token list, text and Generation, and each generated token's list slot, its character
# and, past id 256, its own int object.
PYTHON_PER_STREAM = 256
PYTHON_PER_TOKEN = {"small vocabulary": 16, "large vocabulary": 96}


def _sampling_copies(temperature: float, top_k: int | None, top_p: float | None, vocab_size: int) -> float:
    """How many (N, V) float32 tensors a sampling step holds at its peak, the logits included:
    softmax and multinomial take one each; top-k filtering copies the logits; top-p sorts them
    (values and int64 indices) and keeps five more (measured: 6.3 beside the logits)."""
    if temperature == 0:
        return 1
    filtered = top_k is not None and top_k < vocab_size
    if top_p is not None and top_p < 1.0:
        return 1 + filtered + 6.3
    return 3 + filtered


def decoding_bytes(network, streams: int, max_length: int, prefix_length: int = 1, copies: float = 3,
                   kernel: bool | None = None) -> int:
    """Estimated peak memory of decoding ``streams`` streams of ``max_length`` tokens after a
    seed of ``prefix_length`` tokens: the step kernel's (or the general path's) buffers per
    stream and ``copies`` (N, V) float32 tensors (``_sampling_copies``), the kernel's prepared
    weights, the seed's first chunk through the network, and the Python objects of the result."""
    config = network.config
    H, E, V, G = config.hidden_size, config.embedding_dim, config.vocab_size, _GATES[config.cell]
    if kernel is None:
        kernel = network.decoder is not None and all(p.dtype == torch.float32 for p in network.parameters())
    table = config.vocab_size * G * H * 4 <= TABLE_BYTES
    floats, weights = copies * V + (E if network.projection is not None else 0), 0
    for n in range(config.num_layers):
        inputs = E if n == 0 else H
        floats += G * H * (2 if config.cell == "gru" else 1) + H + (H if config.cell == "lstm" else 0)
        if kernel and n == 0 and table:
            weights += V * G * H
        else:
            floats += inputs if n == 0 or config.cell != "gru" else 0  # [x; h], or a GRU's x
            weights += G * H * (inputs + H) if kernel else 0
    if not kernel:  # the general path: the state before and after a step, a cell's gates, and
        # two (N, V) tensors more (an adaptive softmax's clusters, or logits cast to float32)
        floats += 2 * (2 if config.cell == "lstm" else 1) * config.num_layers * H + G * H + 2 * V
    chunk = min(max(prefix_length, 1), PREFIX_CHUNK)
    seed = chunk * (E + (G + 2) * H * config.num_layers + 2 * V)
    unit = "small vocabulary" if V <= 257 else "large vocabulary"
    python = streams * (PYTHON_PER_STREAM + max_length * PYTHON_PER_TOKEN[unit])
    return int(4 * (streams * floats + weights + seed) + python)


def check_memory(network, streams: int, max_length: int, prefix_length: int = 1, copies: float = 3,
                 kernel: bool | None = None) -> None:
    """Refuse a request that could never fit in memory, with the estimate, before allocating."""
    needed = decoding_bytes(network, streams, max_length, prefix_length, copies, kernel)
    check_fits(needed, f"{streams:,} streams of {max_length:,} tokens")


def select_state(state, index: torch.Tensor):
    """The state rows of the batch entries in ``index`` (repeat, reorder or drop streams)."""
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)


def _expand(state, n: int):
    first = state[0] if isinstance(state, tuple) else state
    return select_state(state, torch.zeros(n, dtype=torch.long, device=first.device))


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
        raise SeqtextError(f"num_samples must be at least 1, not {num_samples}")
    network.eval()
    check_memory(network, num_samples, max_length, len(prefix),
                 _sampling_copies(temperature, top_k, top_p, network.config.vocab_size))
    stepper = Stepper(network)
    logits, state = stepper.prefix(prefix)
    _check_finite(logits)
    kernel = stepper.kernel(state, num_samples)
    if kernel is not None:
        logits = kernel.logits.copy_(logits)  # (N, V), rewritten in place by every step
    else:
        logits = logits.float().expand(num_samples, -1).clone()
        state = _expand(state, num_samples)
    ban = torch.tensor([PAD, BOS, *banned], device=logits.device)
    done = torch.zeros(num_samples, dtype=torch.bool, device=logits.device)
    for _ in range(max_length):
        logits.index_fill_(-1, ban, float("-inf"))  # tokens never generated
        if temperature == 0:
            tokens = logits.argmax(-1)
        else:
            if temperature != 1:
                logits.div_(temperature)
            if top_k is not None or top_p is not None:
                logits = filter_logits(logits, top_k, top_p)
            tokens = torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)
        if num_samples == 1:  # one stream ends at its <eos>: no mask to keep
            yield tokens
            if int(tokens) == EOS:
                return
        else:
            tokens = tokens.masked_fill(done, EOS)
            yield tokens
            done |= tokens == EOS
            if bool(done.all()):
                return
        if kernel is not None:
            logits = kernel.step(tokens)
        else:
            logits, state = stepper.step(tokens, state)
            logits = logits.float()


def collect(steps: Iterator[torch.Tensor], num_samples: int) -> list[list[int]]:
    """Gather sampled steps into one token list per stream, ending at its <eos> if any."""
    sequences: list[list[int]] | None = None
    for tokens in steps:
        if sequences is None:  # only after the first step: sample() refuses a batch too large for memory first
            sequences = [[] for _ in range(num_samples)]
        for sequence, token in zip(sequences, tokens.tolist()):
            if not sequence or sequence[-1] != EOS:
                sequence.append(token)
    return sequences if sequences is not None else [[] for _ in range(num_samples)]


@torch.inference_mode()
def beam_search(network, prefix: list[int], max_length: int, beam_size: int, banned: tuple[int, ...] = ()) -> list[list[int]]:
    """The ``beam_size`` most likely continuations, best first, scored by mean log-probability
    per token (so that short endings are not favoured). Finished ones end with <eos>."""
    check_options(1.0, None, None, max_length)
    if not 1 <= beam_size <= MAX_BEAM:
        raise SeqtextError(f"beam_size must be between 1 and {MAX_BEAM}, not {beam_size}")
    network.eval()
    # beams step on the general path; each holds its log-probabilities, its candidates and what
    # topk over all of them takes (measured: 9 to 14 (N, V) float32 tensors in all)
    check_memory(network, beam_size, max_length, len(prefix), copies=10, kernel=False)
    stepper = Stepper(network)
    logits, state = stepper.prefix(prefix)
    _check_finite(logits)
    log_probs = _ban(logits.float().log_softmax(-1), banned)  # (1, V)
    alive: list[list[int]] = [[]]
    scores = torch.zeros(1, device=stepper.device)
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
        alive, scores = next_alive, torch.tensor(next_scores, device=stepper.device)
        state = select_state(state, torch.tensor(parents, device=stepper.device))
        logits, state = stepper.step(torch.tensor(tokens, device=stepper.device), state)
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
    Character and word tokenizers decode token by token (their text only ever grows at the
    end), so they append each piece and look for stop strings near the end only: linear time.
    """

    def __init__(self, tokenizer: Tokenizer, stop: tuple[str, ...] = ()):
        self.tokenizer = tokenizer
        self.stop = tuple(s for s in stop if s)
        self.joiner = tokenizer.joiner
        self.pieces = tokenizer.stream_joiner(started=True)  # None: the text is the whole sequence decoded
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
        before = len(self.text)
        if self.pieces is None:
            self.text, before = self.joiner + self.tokenizer.decode(self.ids), 0
        else:
            self.text += self.pieces.add(self.tokenizer.decode([token]))
        for stop in self.stop:
            at = self.text.find(stop, max(0, before - len(stop) + 1))  # earlier text held no stop
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
