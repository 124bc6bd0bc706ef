"""The exported graphs, one per model kind: each network rebuilt from plain layers that ONNX and
TorchScript run on padded batches, with the numbers of seqtext's own packed run (each direction
of a bidirectional layer runs alone, the backward one on every row reversed within its length).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from seqtext.classifier.model import BatchNorm


def reverse_within(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each row of ``x`` (B, T, D) reversed within its first ``lengths[b]`` steps; the padding
    after them stays where it is. Its own inverse."""
    steps = torch.arange(x.size(1), device=x.device)[None, :]
    last = lengths[:, None] - 1
    index = torch.where(steps <= last, last - steps, steps)  # (B, T)
    return x.gather(1, index[:, :, None].expand(-1, -1, x.size(2)))


def _one_direction(rnn: nn.RNNBase, layer: int, suffix: str) -> nn.RNNBase:
    """A one-layer, one-direction copy of ``rnn``'s layer ``layer`` (``suffix`` "_reverse" for
    the backward direction), with the same weights."""
    input_size = rnn.input_size if layer == 0 else 2 * rnn.hidden_size
    options = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
    cell = type(rnn)(input_size, rnn.hidden_size, 1, batch_first=True, bias=rnn.bias, **options)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if rnn.bias else ()):
            getattr(cell, f"{name}_l0").copy_(getattr(rnn, f"{name}_l{layer}{suffix}"))
    return cell


SATURATED = 1e4  # a gate bias that makes sigmoid exactly 0 or 1 in float32


def gru_twin(rnn: nn.RNN) -> nn.GRU:
    """A GRU that computes exactly what the tanh RNN ``rnn`` computes.

    torch 2.13's ONNX exporter keeps the time axis dynamic for LSTMs and GRUs only (it fixes a
    plain RNN's at the example's length). A GRU whose reset gate is always 1 and update gate
    always 0 is ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``, the tanh RNN: zero gate weights,
    and gate biases of +-1e4 saturate the sigmoids.
    """
    if rnn.nonlinearity != "tanh" or not rnn.bias:
        raise ValueError("only a tanh RNN with biases has a GRU twin")
    gru = nn.GRU(rnn.input_size, rnn.hidden_size, rnn.num_layers, batch_first=rnn.batch_first,
                 bidirectional=rnn.bidirectional)
    size = rnn.hidden_size
    with torch.no_grad():
        for name, value in gru.named_parameters():
            source = getattr(rnn, name)
            value.zero_()
            value[2 * size :] = source  # the candidate state n: the RNN's own weights and biases
            if name.startswith("bias_ih"):
                value[:size] = SATURATED  # reset gate r = 1
                value[size : 2 * size] = -SATURATED  # update gate z = 0
    return gru.eval()


def rnns_as_grus(graph: nn.Module) -> nn.Module:
    """``graph`` with every plain RNN replaced by its GRU twin (for the ONNX exporter)."""
    for module in list(graph.modules()):
        for name, child in list(module.named_children()):
            if type(child) is nn.RNN:
                setattr(module, name, gru_twin(child))
    return graph


class BiLayer(nn.Module):
    """One bidirectional layer on a padded batch."""

    def __init__(self, rnn: nn.RNNBase, layer: int):
        super().__init__()
        self.forward_rnn = _one_direction(rnn, layer, "")
        self.backward_rnn = _one_direction(rnn, layer, "_reverse")

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, 2H); at padding positions the values mean nothing."""
        ahead = self.forward_rnn(x)[0]
        behind = reverse_within(self.backward_rnn(reverse_within(x, lengths))[0], lengths)
        return torch.cat([ahead, behind], dim=-1)


class BiRecurrent(nn.Module):
    """A bidirectional ``nn.LSTM``/``GRU``/``RNN`` stack (batch first, eval mode) as layers of
    ``BiLayer``: the outputs and final states of the packed run, from a padded batch."""

    def __init__(self, rnn: nn.RNNBase):
        super().__init__()
        if not (rnn.bidirectional and rnn.batch_first):
            raise ValueError("BiRecurrent copies a bidirectional, batch-first recurrent network")
        self.layers = nn.ModuleList([BiLayer(rnn, layer) for layer in range(rnn.num_layers)])
        self.hidden_size = rnn.hidden_size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, D), (B,) -> outputs (B, T, 2H) with zeros at padding (as ``pad_packed_sequence``
        gives them), and the last layer's final states (B, 2H): forward, then backward."""
        for layer in self.layers:
            x = layer(x, lengths)
        mask = torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None]
        x = x * mask[:, :, None].to(x.dtype)
        last = (lengths - 1)[:, None, None].expand(-1, 1, self.hidden_size)
        ahead = x[:, :, : self.hidden_size].gather(1, last)[:, 0]
        behind = x[:, 0, self.hidden_size :]
        return x, torch.cat([ahead, behind], dim=-1)


class AdaptiveLogProb(nn.Module):
    """``nn.AdaptiveLogSoftmaxWithLoss.log_prob`` with the same weights and arithmetic, written
    so that TorchScript and the ONNX exporter both take it (no slice assignment)."""

    def __init__(self, adaptive: nn.AdaptiveLogSoftmaxWithLoss):
        super().__init__()
        self.head = adaptive.head
        self.tail = adaptive.tail
        self.shortlist_size = adaptive.shortlist_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D) -> (N, V) log-probabilities."""
        head = F.log_softmax(self.head(x), dim=1)
        pieces = [head[:, : self.shortlist_size]]
        for index, cluster in enumerate(self.tail):
            gate = head[:, self.shortlist_size + index : self.shortlist_size + index + 1]
            pieces.append(F.log_softmax(cluster(x), dim=1) + gate)
        return torch.cat(pieces, dim=1)


class _LMBody(nn.Module):
    """What both LM graphs share: embedding, recurrent stack, projection, output layer."""

    def __init__(self, network):
        super().__init__()
        self.embedding = network.embedding
        self.rnn = network.rnn
        self.projection = network.projection if network.projection is not None else nn.Identity()
        self.head = AdaptiveLogProb(network.adaptive) if network.adaptive is not None else network.decoder

    def scores(self, out: torch.Tensor) -> torch.Tensor:
        out = self.projection(out)
        return self.head(out.reshape(-1, out.size(-1))).reshape(out.size(0), out.size(1), -1)


class LSTMLanguageModelGraph(_LMBody):
    def forward(self, ids: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor):
        out, (h, c) = self.rnn(self.embedding(ids), (h0, c0))
        return self.scores(out), h, c


class LanguageModelGraph(_LMBody):
    """GRU and plain RNN language models: one state tensor."""

    def forward(self, ids: torch.Tensor, h0: torch.Tensor):
        out, h = self.rnn(self.embedding(ids), h0)
        return self.scores(out), h


def viterbi(emissions: torch.Tensor, lengths: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor,
            end: torch.Tensor) -> torch.Tensor:
    """``CRF.decode`` over (B, T, C) emissions, with the mask made from ``lengths`` (TorchScript
    compiles it with the tagger graph that calls it; its loop runs over any length)."""
    batch, length, num_tags = emissions.size(0), emissions.size(1), emissions.size(2)
    mask = torch.arange(length, device=emissions.device)[None, :] < lengths[:, None]
    score = start + emissions[:, 0]
    identity = torch.arange(num_tags, device=emissions.device).expand(batch, num_tags)
    history: list[torch.Tensor] = []
    for t in range(1, length):
        best, pointers = (score[:, :, None] + transitions[None]).max(dim=1)
        keep = mask[:, t, None]
        score = torch.where(keep, best + emissions[:, t], score)
        history.append(torch.where(keep, pointers, identity))
    tags = [(score + end).argmax(dim=1)]
    for index in range(len(history) - 1, -1, -1):
        tags.append(history[index].gather(1, tags[-1][:, None]).squeeze(1))
    tags.reverse()
    return torch.stack(tags, dim=1)


class CharFeatures(nn.Module):
    """``CharEncoder`` on padded character ids, without packing."""

    __constants__ = ("is_lstm",)  # a constant, so that TorchScript compiles only the branch taken

    def __init__(self, encoder):
        super().__init__()
        self.embedding = encoder.embedding
        self.is_lstm = encoder.kind == "lstm"
        self.rnn = BiRecurrent(encoder.rnn) if self.is_lstm else nn.Identity()
        self.conv = encoder.conv if not self.is_lstm else nn.Identity()

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        embedded = self.embedding(chars)
        if self.is_lstm:
            return self.rnn(embedded, lengths)[1]
        features = self.conv(embedded.transpose(1, 2))
        mask = torch.arange(chars.size(1), device=chars.device)[None, :] < lengths[:, None]
        return features.masked_fill(~mask[:, None, :], float("-inf")).max(dim=2).values


class LMStates(nn.Module):
    """One of a tagger's frozen character LMs (``seqtext.tagger.contextual.LMEncoder``) on a
    right-padded batch: its top layer's outputs at the given positions. A left-to-right network
    never sees the padding before a real position, so no packing is needed."""

    def __init__(self, encoder):
        super().__init__()
        self.embedding = encoder.embedding
        self.rnn = encoder.rnn

    def forward(self, ids: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
        """ids (B, N), at (B, T) -> (B, T, H)."""
        out = self.rnn(self.embedding(ids))[0]
        return out.gather(1, at[:, :, None].expand(-1, -1, out.size(2)))


class TaggerGraph(nn.Module):
    """Emission scores (and with ``decode`` the Viterbi tags) of ``BiRNNTagger``."""

    __constants__ = ("has_chars", "decode", "crf")

    def __init__(self, network, decode: bool):
        super().__init__()
        self.words = network.words
        self.has_chars = network.chars is not None
        self.chars = CharFeatures(network.chars) if network.chars is not None else nn.Identity()
        self.rnn = BiRecurrent(network.rnn)
        self.emissions = network.emissions
        self.decode = decode
        self.crf = network.crf is not None
        tags = network.config.num_tags
        crf = network.crf
        self.register_buffer("start", crf.start.detach().clone() if crf is not None else torch.zeros(tags))
        self.register_buffer("transitions", crf.transitions.detach().clone() if crf is not None else torch.zeros(tags, tags))
        self.register_buffer("end", crf.end.detach().clone() if crf is not None else torch.zeros(tags))

    def scores(self, words, types, chars, char_lengths, lengths, contextual: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = self.words(words)
        if self.has_chars:
            x = torch.cat([x, self.chars(chars, char_lengths)[types]], dim=-1)
        if contextual is not None:
            x = torch.cat([x, contextual], dim=-1)
        return self.emissions(self.rnn(x, lengths)[0])

    def outputs(self, emissions: torch.Tensor, lengths: torch.Tensor):
        if not self.decode:
            return emissions
        if self.crf:
            return emissions, viterbi(emissions, lengths, self.start, self.transitions, self.end)
        return emissions, emissions.argmax(-1)

    def forward(self, words: torch.Tensor, types: torch.Tensor, chars: torch.Tensor, char_lengths: torch.Tensor,
                lengths: torch.Tensor):
        return self.outputs(self.scores(words, types, chars, char_lengths, lengths), lengths)


class ContextualTaggerGraph(TaggerGraph):
    """A tagger with character LMs (``data.pretrained_lms``): two more inputs, each
    LM's character ids and the positions of the words' states, stacked over the LMs."""

    def __init__(self, network, decode: bool):
        super().__init__(network, decode)
        self.lms = nn.ModuleList(LMStates(encoder) for encoder in network.contextual.lms)

    def forward(self, words: torch.Tensor, types: torch.Tensor, chars: torch.Tensor, char_lengths: torch.Tensor,
                lengths: torch.Tensor, lm_ids: torch.Tensor, lm_at: torch.Tensor):
        features: list[torch.Tensor] = []
        for k, lm in enumerate(self.lms):
            features.append(lm(lm_ids[k], lm_at[k]))
        return self.outputs(self.scores(words, types, chars, char_lengths, lengths, torch.cat(features, dim=-1)), lengths)


class ClassifierGraph(nn.Module):
    """``RecurrentClassifier`` on a padded batch: logits and probabilities (the n-gram path's
    features come from the ids inside the graph, so it needs no input of its own)."""

    __constants__ = ("pooling", "multi_label", "has_ngrams")

    def __init__(self, network):
        super().__init__()
        self.embedding = network.embedding
        self.rnn = BiRecurrent(network.rnn)
        self.pooling = network.config.pooling
        self.attention = network.attention if network.attention is not None else nn.Identity()
        self.head = network.head
        self.multi_label = network.config.multi_label
        self.has_ngrams = network.ngrams is not None
        self.ngrams = network.ngrams if self.has_ngrams else nn.Identity()

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor):
        out, final = self.rnn(self.embedding(ids), lengths)
        mask = torch.arange(out.size(1), device=out.device)[None, :] < lengths[:, None]
        if self.pooling == "last":
            pooled = final
        elif self.pooling == "mean":
            pooled = out.sum(1) / lengths[:, None].clamp(min=1).to(out.dtype)
        elif self.pooling == "max":
            pooled = out.masked_fill(~mask[:, :, None], float("-inf")).max(1).values
        else:
            weights = self.attention(out).squeeze(-1).masked_fill(~mask, float("-inf")).softmax(-1)
            pooled = (weights[:, :, None] * out).sum(1)
        logits = self.head(pooled)
        if self.has_ngrams:
            logits = self.ngrams.combine(logits, self.ngrams(ids, lengths))
        probs = logits.sigmoid() if self.multi_label else logits.softmax(-1)
        return logits, probs


class LMPooled(nn.Module):
    """One language-model encoder of ``LMClassifier`` on a padded batch: the text framed
    ``<bos> ... <eos>`` (reversed within its length for a backward LM), run left to right
    (padding comes only after a row's real steps, so no packing is needed), its top-layer
    outputs pooled as the last, the max and the mean over the framed steps."""

    __constants__ = ("reverse",)

    def __init__(self, encoder, reverse: bool):
        super().__init__()
        self.embedding = encoder.embedding
        self.rnn = encoder.rnn
        self.reverse = reverse

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """ids (B, T), mask (B, T) of the real steps, tokens (B,) real tokens -> (B, 3H)."""
        steps = torch.arange(ids.size(1), device=ids.device)[None, :]
        if self.reverse:
            last = tokens[:, None] - 1
            ids = ids.gather(1, torch.where(steps <= last, last - steps, steps))
        edge = torch.zeros_like(ids[:, :1])
        # <bos> = 2, <eos> = 3, <pad> = 0 (numbers written out: TorchScript reads no module constants)
        framed = torch.cat([edge + 2, ids.masked_fill(~mask, 0), edge], dim=1)  # (B, T + 2)
        frame_steps = torch.arange(framed.size(1), device=ids.device)[None, :]
        framed = torch.where(frame_steps == tokens[:, None] + 1, torch.full_like(framed, 3), framed)
        out = self.rnn(self.embedding(framed))[0]  # (B, T + 2, H)
        valid = (frame_steps < tokens[:, None] + 2)[:, :, None]
        last = out.gather(1, (tokens + 1)[:, None, None].expand(-1, 1, out.size(2)))[:, 0]
        biggest = out.masked_fill(~valid, float("-inf")).max(1).values
        mean = (out * valid.to(out.dtype)).sum(1) / (tokens + 2)[:, None].to(out.dtype)
        return torch.cat([last, biggest, mean], dim=-1)


def _plain_batch_norms(head: nn.Sequential) -> nn.Sequential:
    """``head`` with seqtext's ``BatchNorm`` (which treats a training batch of one apart) as the
    plain ``nn.BatchNorm1d`` it computes in eval mode, which both exporters take."""
    layers = []
    for layer in head:
        if isinstance(layer, BatchNorm):
            plain = nn.BatchNorm1d(layer.num_features, eps=layer.eps, momentum=layer.momentum, affine=layer.affine)
            plain.load_state_dict(layer.state_dict())
            layer = plain.eval()
        layers.append(layer)
    return nn.Sequential(*layers)


class LMClassifierGraph(nn.Module):
    """``LMClassifier`` (ULMFiT) on a padded batch: the same inputs and outputs as
    ``ClassifierGraph``."""

    __constants__ = ("multi_label", "has_ngrams")

    def __init__(self, network):
        super().__init__()
        self.encoders = nn.ModuleList(LMPooled(encoder, backward) for encoder, backward in zip(network.encoders, network.backward))
        self.head = _plain_batch_norms(network.head)
        self.multi_label = network.config.multi_label
        self.has_ngrams = network.ngrams is not None
        self.ngrams = network.ngrams if self.has_ngrams else nn.Identity()

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor):
        mask = torch.arange(ids.size(1), device=ids.device)[None, :] < lengths[:, None]
        tokens = ((ids != 0) & mask).sum(1)
        pooled: list[torch.Tensor] = []
        for encoder in self.encoders:
            pooled.append(encoder(ids, mask, tokens))
        logits = self.head(torch.cat(pooled, dim=-1))
        if self.has_ngrams:
            logits = self.ngrams.combine(logits, self.ngrams(ids, lengths))
        probs = logits.sigmoid() if self.multi_label else logits.softmax(-1)
        return logits, probs
