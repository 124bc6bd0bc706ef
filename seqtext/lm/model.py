"""The recurrent language model: the network, and the object users hold (network + tokenizer).

Shapes in comments: B batch, T time steps, V vocabulary, E embedding size, H hidden size,
L layers.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from seqtext.checks import check_flag, check_number, check_text, check_whole, type_name
from seqtext.configs import GENERATE, MAX_BEAM, MAX_SEED, LMConfig
from seqtext.core import modeldir
from seqtext.core.registry import resolve
from seqtext.errors import ArgumentError, ConfigError, ModelError, SeqtextError, SeqtextWarning
from seqtext.lm import generation
from seqtext.results import Generation
from seqtext.text.tokenizers import BOS, EOS, PAD, UNK, Tokenizer, load_model_tokenizer

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


EMBEDDING_INIT = 0.1  # small embeddings start uniform in +-EMBEDDING_INIT


def embedding_layer(num_embeddings: int, embedding_dim: int, small: bool, padding_idx: int | None = None) -> nn.Embedding:
    """An embedding whose rows start ``small`` (uniform in +-EMBEDDING_INIT) or at nn.Embedding's
    N(0, 1). Word LMs and word classifiers start small (``small_embeddings``), as in pytorch/examples
    and AWD-LSTM: a rare word's few updates then move its vector (docs/studies/defaults.md)."""
    embedding = nn.Embedding(num_embeddings, embedding_dim, padding_idx=padding_idx)
    if small:
        with torch.no_grad():
            embedding.weight.uniform_(-EMBEDDING_INIT, EMBEDDING_INIT)
            if padding_idx is not None:
                embedding.weight[padding_idx] = 0.0
    return embedding


class LMBody(nn.Module):
    """A language model without its decoder: the embedding and recurrent stack, under
    ``RecurrentLM``'s parameter names, so an LM's weights copy in as they are (``copy_from``).
    What a classifier (ULMFiT) and a tagger (contextual string embeddings) build on an LM."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, num_layers: int, cell: str, dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = CELLS[cell](embedding_dim, hidden_size, num_layers, batch_first=True,
                               dropout=dropout if num_layers > 1 else 0.0)
        self.output_dim = hidden_size

    def copy_from(self, network: "RecurrentLM") -> None:
        self.embedding.load_state_dict(network.embedding.state_dict())
        self.rnn.load_state_dict(network.rnn.state_dict())


class RecurrentLM(nn.Module):
    """Embedding -> stack of LSTM/GRU/RNN layers -> linear decoder over the vocabulary.

    With ``tie_weights`` the decoder reuses the embedding matrix (Press & Wolf 2017); when the
    hidden size differs from the embedding size a projection brings the states down to E first.
    With ``adaptive_cutoffs`` the decoder is an adaptive softmax (Grave et al. 2017): frequent
    tokens (ids below the first cutoff; word vocabularies are ordered by frequency) get a full
    output layer, rarer ones smaller clusters, so a large vocabulary costs a fraction of a full
    softmax in training; ``forward`` still gives full log-probabilities for decoding and scoring.
    """

    def __init__(self, config: LMConfig):
        super().__init__()
        if config.cell not in CELLS:
            raise SeqtextError(f"unknown model.cell {config.cell!r}: choose from {', '.join(CELLS)}")
        unsettled = [f"model.{f}" for f in ("embedding_dim", "hidden_size", "num_layers", "dropout") if getattr(config, f) is None]
        if unsettled:
            raise SeqtextError(f"{', '.join(unsettled)} left to the token unit: fill them with configs.settle_unit_defaults")
        self.config = config
        self.embedding = embedding_layer(config.vocab_size, config.embedding_dim, bool(config.small_embeddings))
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = CELLS[config.cell](
            config.embedding_dim,
            config.hidden_size,
            config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        out_dim = config.hidden_size
        self.projection = None
        if config.tie_weights and config.hidden_size != config.embedding_dim:
            self.projection = nn.Linear(config.hidden_size, config.embedding_dim)
            out_dim = config.embedding_dim
        self.adaptive = None
        if config.adaptive_cutoffs:
            self.decoder = None
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(out_dim, config.vocab_size, list(config.adaptive_cutoffs), div_value=4.0)
        else:
            self.decoder = nn.Linear(out_dim, config.vocab_size)
        if config.tie_weights:
            self.decoder.weight = self.embedding.weight

    @property
    def tied_keys(self) -> list[str]:
        """State-dict keys that alias another tensor and are not stored on disk."""
        return ["decoder.weight"] if self.config.tie_weights else []

    def features(self, ids: torch.Tensor, state=None):
        """ids (B, T) -> what the output layer reads (B, T, D), new recurrent state."""
        x = self.dropout(self.embedding(ids))  # (B, T, E)
        out, state = self.rnn(x, state)  # (B, T, H)
        out = self.dropout(out)
        if self.projection is not None:
            out = self.projection(out)  # (B, T, E)
        return out, state

    def head(self, out: torch.Tensor) -> torch.Tensor:
        """Features (..., D) -> logits (..., V); log-probabilities with an adaptive softmax."""
        if self.adaptive is None:
            return self.decoder(out)
        return self.adaptive.log_prob(out.reshape(-1, out.size(-1))).view(*out.shape[:-1], -1)

    def forward(self, ids: torch.Tensor, state=None):
        """ids (B, T) -> logits (B, T, V), new recurrent state."""
        out, state = self.features(ids, state)
        return self.head(out), state

    def nll_sum(self, ids: torch.Tensor, targets: torch.Tensor, state=None):
        """Summed negative log-likelihood of ``targets`` (-100: not scored), the number scored
        and the new state; the adaptive softmax computes only the clusters the targets need."""
        out, state = self.features(ids, state)
        flat, wanted = out.reshape(-1, out.size(-1)), targets.reshape(-1)
        keep = wanted != -100
        if self.adaptive is None:
            total = F.cross_entropy(self.decoder(flat).float(), wanted, ignore_index=-100, reduction="sum")
        else:
            total = -self.adaptive(flat[keep].float(), wanted[keep]).output.sum()
        return total, int(keep.sum()), state


    def token_nll(self, ids: torch.Tensor, targets: torch.Tensor, state=None):
        """Per-token negative log-likelihood (B * T,) of ``targets`` (0 where -100) and the new
        state; an adaptive softmax computes only the clusters the targets need, never the
        (B, T, V) log-probabilities of ``forward`` (several times the cost on a large vocabulary)."""
        out, state = self.features(ids, state)
        flat, wanted = out.reshape(-1, out.size(-1)), targets.reshape(-1)
        if self.adaptive is None:
            return F.cross_entropy(self.decoder(flat).float(), wanted, ignore_index=-100, reduction="none"), state
        keep = wanted != -100
        losses = torch.zeros(wanted.shape, dtype=torch.float32, device=flat.device)
        losses[keep] = -self.adaptive(flat[keep].float(), wanted[keep]).output
        return losses, state


def detach_state(state):
    """Cut the graph behind the state (truncated BPTT) but keep its values."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def targets_of(ids: torch.Tensor) -> torch.Tensor:
    """Targets for the loss: <bos> and <pad> are never predicted, so they are ignored."""
    targets = ids.long()
    return targets.masked_fill((targets == BOS) | (targets == PAD), -100)


def batchify(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """Cut one long stream into ``batch_size`` parallel streams: (N,) -> (B, N // B).

    Row b continues where row b-1's text left off, so carrying the hidden state from one window
    to the next keeps each row's context intact. A view when ``ids`` is memory-mapped.
    """
    length = len(ids) // batch_size
    return ids[: length * batch_size].reshape(batch_size, length)


def window_ids(streams: np.ndarray, start: int, bptt: int) -> torch.Tensor:
    """The ids (B, T + 1) of the window that starts at ``start``: its inputs and, one on, its targets."""
    end = min(start + bptt, streams.shape[1] - 1)
    return torch.from_numpy(np.ascontiguousarray(streams[:, start : end + 1]).astype(np.int64))


def check_stop(stop) -> tuple[str, ...]:
    """The stop strings as a tuple: one string is one stop string (never its characters)."""
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, (list, tuple)) and all(isinstance(s, str) for s in stop):
        return tuple(stop)
    raise ArgumentError(f"stop must be a string or a list of strings, not {type_name(stop)} ({repr(stop)[:40]})")


def _check_sampling(text, max_length, temperature, top_k, top_p, seed, allow_unk) -> str:
    """generate()'s and stream()'s arguments checked at the call, by name, before any work."""
    check_text(text, "text")
    check_whole(max_length, "max_length", 0)
    check_number(temperature, "temperature")
    check_whole(top_k, "top_k", 1, optional=True)
    check_number(top_p, "top_p", optional=True)
    check_whole(seed, "seed", 0, MAX_SEED, optional=True)
    check_flag(allow_unk, "allow_unk")
    return text


_UNSET = object()  # random_seed not given


def _seed_arguments(text, seed, random_seed) -> tuple[str, int | None]:
    """``(text, seed)`` from generate()'s or stream()'s arguments, taking the old spellings with a
    DeprecationWarning: ``random_seed=`` for the random seed, ``seed="..."`` for the text."""
    if isinstance(seed, str):
        warnings.warn("the text to continue is the first argument, `text`; `seed` is the random seed", DeprecationWarning,
                      stacklevel=3)
        if text:
            raise SeqtextError("give the text once: as `text`, not also as `seed`")
        text, seed = seed, None
    if random_seed is not _UNSET:
        warnings.warn("random_seed is now seed, as on the command line and the server", DeprecationWarning,
                      stacklevel=3)
        if seed is not None and seed != random_seed:
            raise SeqtextError(f"seed ({seed}) and random_seed ({random_seed}) differ: give seed only")
        seed = random_seed
    return text, seed


def _banned(allow_unk: bool) -> tuple[int, ...]:
    return () if allow_unk else (UNK,)


class LanguageModel(modeldir.SavedModel):
    """A trained language model: what ``seqtext.load`` returns for kind ``language_model``."""

    kind = "language_model"

    def __init__(self, network: RecurrentLM, tokenizer: Tokenizer, metrics: dict | None = None, info: dict | None = None,
                 backward: bool = False):
        self.network = network.eval()
        self.tokenizer = tokenizer
        self.metrics = metrics or {}
        self.info = info or {}
        self.backward = backward  # learnt the text right to left (``data.backward``)

    def extra_config(self) -> dict:
        return {"backward": True} if self.backward else {}

    @classmethod
    def from_directory(cls, directory: Path, config: dict) -> "LanguageModel":
        config = modeldir.check_config(directory, config, expected_kind=cls.kind)
        backward = config.get("backward", False)
        if not isinstance(backward, bool):
            raise ModelError(f"{directory}/config.json: backward must be true or false, not {backward!r}")
        network = modeldir.build_network(RecurrentLM, LMConfig, directory, config)
        modeldir.load_weights(Path(directory) / modeldir.WEIGHTS_FILE, network)
        tokenizer = load_model_tokenizer(Path(directory), config)
        return cls(network, tokenizer, modeldir.read_metrics(directory), config.get("info", {}), backward)

    # -- generation --------------------------------------------------------------------------
    def _prefix(self, seed: str) -> list[int]:
        unknown = self.tokenizer.unknown(seed)
        if unknown:
            shown = " ".join(repr(u) for u in unknown[:10])
            warnings.warn(f"the model does not know {shown} in the seed; they are read as <unk>", SeqtextWarning, stacklevel=3)
        return [BOS] + self.reading_ids(seed)

    def reading_ids(self, text: str) -> list[int]:
        """``text``'s token ids in the order the model reads them: right to left for a backward
        model (``data.backward``), as its corpus was (``seqtext.lm.corpus.reverse_ids``)."""
        ids = self.tokenizer.encode(text)
        return ids[::-1] if self.backward else ids

    def _forbid_backward(self, what: str) -> None:
        if self.backward:
            raise SeqtextError(f"this model writes right to left (data.backward), so it cannot {what}; ask for "
                               f"the whole text at once (generate(), or \"stream\": false when served): it is the "
                               f"text before the seed, in reading order")

    def _generator(self, seed: int | None) -> torch.Generator:
        generator = torch.Generator(device=self.device)
        if seed is not None and not (isinstance(seed, int) and 0 <= seed <= MAX_SEED):
            raise SeqtextError(f"random seed must be an integer from 0 to {MAX_SEED}, not {seed!r}")
        if seed is None:
            generator.seed()  # non-deterministic, and leaves the global RNG alone
        else:
            generator.manual_seed(seed)
        return generator

    def stream(
        self,
        text: str = "",
        max_length: int = GENERATE.max_length,
        temperature: float = GENERATE.temperature,
        top_k: int | None = GENERATE.top_k,
        top_p: float | None = GENERATE.top_p,
        stop: tuple[str, ...] = (),
        seed: int | None = GENERATE.seed,
        allow_unk: bool = GENERATE.allow_unk,
        *,
        random_seed: object = _UNSET,
    ) -> Iterator[str]:
        """Yield the continuation of ``text`` piece by piece as it is sampled (one stream); the
        generator's return value (``StopIteration.value``) is the whole ``Generation``.
        ``seed``: the random seed (``random_seed`` is its old, deprecated name)."""
        text, seed = _seed_arguments(text, seed, random_seed)
        _check_sampling(text, max_length, temperature, top_k, top_p, seed, allow_unk)
        stop = check_stop(stop)
        generation.check_options(temperature, top_k, top_p, max_length)  # at the call, not at the first next()
        return self._stream(text, max_length, temperature, top_k, top_p, stop, seed, allow_unk)

    def _stream(self, text: str, max_length: int, temperature: float, top_k: int | None, top_p: float | None,
                stop: tuple[str, ...], seed: int | None, allow_unk: bool) -> Iterator[str]:
        self._forbid_backward("stream its output")
        ids = self._prefix(text)
        tokens = generation.sample(
            self.network, ids, max_length, temperature, top_k, top_p, 1, self._generator(seed), _banned(allow_unk)
        )
        decoder = generation.StreamDecoder(self.tokenizer, stop)
        for step in tokens:
            piece = decoder.add(int(step[0]))
            if piece:
                yield piece
            if decoder.stopped:
                return Generation(decoder.text, decoder.count, decoder.finish())
        rest = decoder.rest()
        if rest:
            yield rest
        return Generation(decoder.text, decoder.count, decoder.finish())  # the generator's value, for who wants it

    def generate(
        self,
        text: str = "",
        max_length: int = GENERATE.max_length,
        temperature: float = GENERATE.temperature,
        top_k: int | None = GENERATE.top_k,
        top_p: float | None = GENERATE.top_p,
        beam_size: int = GENERATE.beam_size,
        num_samples: int = GENERATE.num_samples,
        stop: tuple[str, ...] = (),
        seed: int | None = GENERATE.seed,
        allow_unk: bool = GENERATE.allow_unk,
        *,
        random_seed: object = _UNSET,
    ) -> list[Generation]:
        """Continuations of ``text``: a list of ``Generation`` (``text``, ``tokens``, ``finish``).

        ``finish`` says why a sample ended: ``eos`` (the model's end token), ``stop`` (a stop
        string; the text is cut before it) or ``length`` (``max_length`` tokens).
        Beam search returns the ``num_samples`` best beams, best first. ``<unk>`` is not
        generated unless ``allow_unk``. ``seed`` is the random seed (``random_seed`` is its old,
        deprecated name). A backward model (``data.backward``) returns the text that comes
        before ``text``, in reading order.
        """
        text, seed = _seed_arguments(text, seed, random_seed)
        _check_sampling(text, max_length, temperature, top_k, top_p, seed, allow_unk)
        check_whole(beam_size, "beam_size", 1, MAX_BEAM)
        check_whole(num_samples, "num_samples", 1)
        stop = check_stop(stop)
        if stop:
            self._forbid_backward("stop at a string")
        ids = self._prefix(text)
        if beam_size > 1:
            if num_samples > beam_size:
                raise SeqtextError(f"num_samples ({num_samples}) cannot exceed beam_size ({beam_size})")
            sequences = generation.beam_search(self.network, ids, max_length, beam_size, _banned(allow_unk))[:num_samples]
        else:
            steps = generation.sample(
                self.network, ids, max_length, temperature, top_k, top_p, num_samples, self._generator(seed),
                _banned(allow_unk),
            )
            sequences = generation.collect(steps, num_samples)
        if self.backward:
            return [self._leftwards(sequence) for sequence in sequences]
        return [self._decoded(sequence, stop) for sequence in sequences]

    def _decoded(self, sequence: list[int], stop: tuple[str, ...]) -> Generation:
        """A forward model's sample as text, cut at its end token or the first stop string."""
        decoder = generation.StreamDecoder(self.tokenizer, stop)
        for token in sequence:
            decoder.add(token)
            if decoder.stopped:
                break
        return Generation(decoder.text, decoder.count, decoder.finish())

    def _leftwards(self, sequence: list[int]) -> Generation:
        """A backward model's sample, cut at its end token and put back in reading order."""
        ended = EOS in sequence
        tokens = sequence[: sequence.index(EOS)] if ended else list(sequence)
        text = self.tokenizer.decode(tokens[::-1]) + (self.tokenizer.joiner if tokens else "")  # text + seed reads right
        return Generation(text, len(tokens), "eos" if ended else "length")

    __call__ = generate  # ``lm(text)`` generates, as a Hugging Face pipeline is called


def load_language_model(name_or_path, option: str = "data.pretrained_lms"):
    """A language model named by ``option`` (the config field or argument that gave it: a
    directory or a model name), on the CPU; a missing model or one of another kind is refused in
    one line naming it."""
    try:
        directory = resolve(name_or_path)
        config = modeldir.read_config(directory)
        if config["kind"] != LanguageModel.kind:
            raise ConfigError(f"{option} {name_or_path}: a {config['kind']}, not a language model (train one with `seqtext train lm`)")
        model = LanguageModel.from_directory(directory, config)
    except ModelError as err:
        raise ModelError(f"{option}: {err}") from None
    return model
