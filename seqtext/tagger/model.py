"""The Bi-LSTM sequence tagger with character features and a CRF (Lample et al. 2016; Huang et
al. 2015), and the object users hold. Shapes: B sentences, T words, W unique words in the batch,
L characters, C tags.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqtext.checks import check_whole
from seqtext.configs import TAG, TaggerConfig
from seqtext.core import devices, modeldir
from seqtext.core.resources import GATES, check_fits, recurrent_floats
from seqtext.errors import ArgumentError, ModelError, SeqtextError
from seqtext.lm.model import CELLS, embedding_layer
from seqtext.results import Span, TaggedDocument, Token
from seqtext.tagger.contextual import ContextualFeatures
from seqtext.tagger.crf import CRF
from seqtext.tagger.schemes import SCHEMES, convert, from_spans, split_tag, to_spans
from seqtext.text.split import iter_sentence_offsets
from seqtext.text.tokenizers import (
    PAD,
    UNK,
    CharTokenizer,
    Tokenizer,
    load_model_tokenizer,
    vocabulary_problem,
)

DIGITS = re.compile(r"\d")
MAX_WORD_CHARS = 50  # characters of a word the character encoder reads
# Span probabilities are computed this many bytes of (S, C, C) float64 work at a time.
SPAN_CHUNK_BYTES = 1 << 26
# Bytes per token of the results' Python objects beside the tensors, measured
# (tests/core/test_memory.py): tag lists for ``tag``, Tokens with offsets and scores for ``predict``.
PYTHON_PER_TOKEN = {False: 150, True: 600}


def normalize_word(word: str) -> str:
    """What the word embedding sees: lower case, every digit 0. Case and shape reach the model
    through the character encoder instead."""
    return DIGITS.sub("0", word.lower())


class CharEncoder(nn.Module):
    """One vector per word from its characters: a Bi-LSTM's final states, or a CNN max-pooled."""

    def __init__(self, config: TaggerConfig):
        super().__init__()
        self.kind = config.char_encoder
        self.embedding = nn.Embedding(config.char_vocab_size, config.char_dim, padding_idx=PAD)
        if self.kind == "lstm":
            self.rnn = nn.LSTM(config.char_dim, config.char_hidden, batch_first=True, bidirectional=True)
            self.output_dim = 2 * config.char_hidden
        else:
            self.conv = nn.Conv1d(config.char_dim, config.char_hidden, kernel_size=3, padding=1)
            self.output_dim = config.char_hidden

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """chars (W, L), lengths (W,) -> (W, D)."""
        embedded = self.embedding(chars)  # (W, L, Dc)
        if self.kind == "lstm":
            packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
            _, (hidden, _) = self.rnn(packed)  # (2, W, H)
            return torch.cat([hidden[0], hidden[1]], dim=-1)
        features = self.conv(embedded.transpose(1, 2))  # (W, F, L)
        mask = torch.arange(chars.size(1), device=chars.device)[None, :] < lengths.to(chars.device)[:, None]
        return features.masked_fill(~mask[:, None, :], float("-inf")).max(dim=2).values


# The word embeddings start at N(0, 1), not small as a word classifier's and a word LM's
# (seqtext.lm.model.embedding_layer): small, the taggers of benchmarks/tagger_defaults.py (config
# small-init) gained 0.58 on UPOS but lost 0.92 span F1 on NER and 0.50 on chunking.
SMALL_WORD_EMBEDDINGS = False


class BiRNNTagger(nn.Module):
    def __init__(self, config: TaggerConfig):
        super().__init__()
        if config.cell not in CELLS:
            raise SeqtextError(f"unknown model.cell {config.cell!r}: choose from {', '.join(CELLS)}")
        if config.char_encoder not in ("lstm", "cnn", "none"):
            raise SeqtextError(f"unknown model.char_encoder {config.char_encoder!r}: use lstm, cnn or none")
        if config.decoder not in ("crf", "softmax"):
            raise SeqtextError(f"unknown model.decoder {config.decoder!r}: use crf or softmax")
        self.config = config
        self.words = embedding_layer(config.vocab_size, config.word_dim, SMALL_WORD_EMBEDDINGS, padding_idx=PAD)
        self.chars = CharEncoder(config) if config.char_encoder != "none" else None
        # Frozen character LMs (``train tagger --pretrained-lm``): contextual string embeddings.
        self.contextual = ContextualFeatures(config.contextual_lms) if config.contextual_lms else None
        input_dim = config.word_dim + (self.chars.output_dim if self.chars else 0)
        input_dim += self.contextual.output_dim if self.contextual else 0
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = CELLS[config.cell](
            input_dim, config.hidden_size, config.num_layers, batch_first=True, bidirectional=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.emissions = nn.Linear(2 * config.hidden_size, config.num_tags)
        self.crf = CRF(config.num_tags) if config.decoder == "crf" else None

    def forward(self, batch: dict) -> torch.Tensor:
        """Emission scores (B, T, C) for a batch made by ``make_batch``."""
        x = self.words(batch["words"])  # (B, T, Dw)
        if self.chars is not None:
            per_type = self.chars(batch["chars"], batch["char_lengths"])  # (W, Dc)
            x = torch.cat([x, per_type[batch["types"]]], dim=-1)
        if self.contextual is not None:  # the LMs' features, unless training found them in its cache
            features = batch["contextual"] if "contextual" in batch else self.contextual(batch)
            x = torch.cat([x, features.to(x.dtype)], dim=-1)
        packed = pack_padded_sequence(self.dropout(x), batch["lengths"], batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))  # (B, T, 2H)
        return self.emissions(self.dropout(out))

    def loss(self, batch: dict, tags: torch.Tensor) -> torch.Tensor:
        emissions = self.forward(batch)
        mask = batch["mask"]
        if self.crf is not None:
            return self.crf.neg_log_likelihood(emissions, tags, mask)
        return F.cross_entropy(emissions[mask], tags[mask])

    @torch.no_grad()
    def decode(self, batch: dict) -> torch.Tensor:
        emissions = self.forward(batch)
        if self.crf is not None:
            return self.crf.decode(emissions, batch["mask"])
        return emissions.argmax(-1)


def make_batch(sentences: list[list[str]], words: Tokenizer, chars: CharTokenizer, word_dropout: float = 0.0,
               generator: torch.Generator | None = None, contextual: ContextualFeatures | None = None) -> dict:
    """Tensors for a list of token lists. Each distinct word form is run through the character
    encoder once per batch; ``word_dropout`` turns that share of words into <unk> so the model
    learns what to do with words it has never seen. With ``contextual`` (the network's frozen
    LMs) the batch also holds each LM's character input and where each word's state lies."""
    lengths = torch.tensor([len(s) for s in sentences])
    width = int(lengths.max())
    word_ids = torch.full((len(sentences), width), PAD, dtype=torch.long)
    type_ids = torch.zeros((len(sentences), width), dtype=torch.long)
    forms: dict[str, int] = {}
    stoi = words.stoi
    for row, sentence in enumerate(sentences):
        word_ids[row, : len(sentence)] = torch.tensor([stoi.get(normalize_word(w), UNK) for w in sentence])
        type_ids[row, : len(sentence)] = torch.tensor([forms.setdefault(w, len(forms)) for w in sentence])
    if word_dropout > 0:
        drop = torch.rand(word_ids.shape, generator=generator) < word_dropout
        word_ids = word_ids.masked_fill(drop & (word_ids != PAD), UNK)
    char_lists = [chars.encode(form[:50]) or [UNK] for form in forms]
    char_lengths = torch.tensor([len(c) for c in char_lists])
    char_ids = torch.full((len(char_lists), int(char_lengths.max())), PAD, dtype=torch.long)
    for row, ids in enumerate(char_lists):
        char_ids[row, : len(ids)] = torch.tensor(ids)
    mask = torch.arange(width)[None, :] < lengths[:, None]
    batch = {"words": word_ids, "types": type_ids, "chars": char_ids, "char_lengths": char_lengths, "lengths": lengths, "mask": mask}
    if contextual is not None:
        batch.update(contextual.inputs(sentences, width))
    return batch


def tagging_bytes(config: TaggerConfig, sentences: list[list[str]], scores: bool = True) -> int:
    """Estimated peak memory of tagging ``sentences`` as one batch (``scores``: with marginals
    and span probabilities, as ``predict`` gives them), from the batch's shape before any of it
    is built: B x T padded word positions, the distinct word forms' characters (the character
    encoder reads each once), each sentence's text for the character LMs. Measured
    (tests/core/test_memory.py): the largest phase's peak and a third of the others', whose
    freed memory the next phase, shaped otherwise, reuses only in part."""
    rows, width = len(sentences), max(map(len, sentences), default=0)
    cells, tokens = rows * width, sum(map(len, sentences))
    lengths = [min(len(form), MAX_WORD_CHARS) or 1 for form in {word for sentence in sentences for word in sentence}]
    padded_chars = len(lengths) * max(lengths, default=0)
    C, H, Dc, Hc = config.num_tags, config.hidden_size, config.char_dim, config.char_hidden
    char_dim = {"lstm": 2 * Hc, "cnn": Hc, "none": 0}[config.char_encoder]
    lms = [entry["model"] for entry in config.contextual_lms or []]
    inputs = config.word_dim + char_dim + sum(lm["hidden_size"] for lm in lms)
    # The word level: the words' input vectors, the Bi-RNN, its padded output, the emissions;
    # then the CRF's float64 forward, backward and marginals (or Viterbi's pointers alone).
    phases = [cells * (inputs + recurrent_floats(inputs, H, config.num_layers, config.cell, 2)
                       + 2 * H + C), cells * (14 * C if scores else 2 * C)]
    if config.char_encoder == "lstm":  # embedded (W, L, Dc), the packed characters through a Bi-LSTM
        phases.append(padded_chars * Dc + sum(lengths) * (Dc + 2 * GATES["lstm"] * Hc + 2 * Hc))
    elif config.char_encoder == "cnn":
        phases.append(padded_chars * (2 * Dc + 2 * Hc))
    if lms:  # one LM at a time over the padded text (<bos> first; the fused kernel), and its outputs at the words
        columns = max((sum(map(len, sentence)) + len(sentence) for sentence in sentences), default=0) + 1
        phases.append(rows * columns * max(lm["embedding_dim"] + (lm["num_layers"] + 1) * lm["hidden_size"] for lm in lms)
                      + cells * 2 * sum(lm["hidden_size"] for lm in lms))
    floats = max(phases) + (sum(phases) - max(phases)) / 3
    return int(4 * floats + tokens * PYTHON_PER_TOKEN[scores])


def check_batch(config: TaggerConfig, sentences: list[list[str]], scores: bool = True) -> None:
    """Refuse a batch that could never fit in memory, with the estimate, before allocating."""
    width = max(map(len, sentences), default=0)
    check_fits(tagging_bytes(config, sentences, scores),
               f"tagging {len(sentences):,} sentence(s) of up to {width:,} tokens at once (batch_size)")


def move_batch(batch: dict, device: torch.device) -> dict:
    """The batch's tensors on ``device``, except the lengths, which packing wants on the CPU."""
    return {key: value if key.endswith("lengths") else value.to(device) for key, value in batch.items()}


class SequenceTagger(modeldir.SavedModel):
    """A trained tagger: what ``seqtext.load`` returns for kind ``tagger``.

    ``tags`` are in the scheme it was trained in (``train_scheme``: bioes, bio or none); output
    is converted to ``scheme``, the scheme of the user's training data, unless asked otherwise.
    """

    kind = "tagger"

    def __init__(self, network: BiRNNTagger, words: Tokenizer, chars: CharTokenizer, tags: list[str],
                 scheme: str = "none", train_scheme: str = "none", metrics: dict | None = None, info: dict | None = None):
        self.network = network.eval()
        self.tokenizer = words
        self.chars = chars
        self.tags = list(tags)
        self.scheme = scheme
        self.train_scheme = train_scheme
        self.metrics = metrics or {}
        self.info = info or {}
        self._zero_chain: CRF | None = None  # softmax taggers: the chain without transitions
        self._transitions_cache = None  # span_transitions(tags), on the model's device

    @property
    def spans(self) -> bool:
        return self.train_scheme != "none"

    def extra_config(self) -> dict:
        return {"tags": self.tags, "chars": self.chars.itos, "scheme": self.scheme, "train_scheme": self.train_scheme}

    @classmethod
    def from_directory(cls, directory: Path, config: dict) -> "SequenceTagger":
        config = modeldir.check_config(directory, config, expected_kind=cls.kind)
        check_tagger_config(Path(directory) / modeldir.CONFIG_FILE, config)
        network = modeldir.build_network(BiRNNTagger, TaggerConfig, directory, config)
        modeldir.load_weights(Path(directory) / modeldir.WEIGHTS_FILE, network)
        words = load_model_tokenizer(Path(directory), config)
        return cls(network, words, CharTokenizer(config["chars"]), config["tags"], config.get("scheme", "none"),
                   config.get("train_scheme", "none"), modeldir.read_metrics(directory), config.get("info", {}))

    def _batch(self, sentences: list[list[str]], scores: bool = False) -> dict:
        """``make_batch`` for this tagger's vocabularies and language models, on its device,
        once the memory tagging it needs (``check_batch``) is known to fit."""
        check_batch(self.network.config, sentences, scores)
        return move_batch(make_batch(sentences, self.tokenizer, self.chars, contextual=self.network.contextual), self.device)

    def predict_ids(self, sentences: list[list[str]]) -> list[list[int]]:
        self.network.eval()
        batch = self._batch(sentences)
        with devices.autocast(self.device):
            decoded = self.network.decode(batch).cpu().tolist()
        return [row[: len(s)] for row, s in zip(decoded, sentences)]

    def _output_scheme(self, scheme: str | None) -> str:
        """``scheme`` checked (a span scheme a span model can write), or the training data's."""
        if scheme is None or scheme == self.scheme:
            return self.scheme
        if scheme not in ("iob1", "bio", "bioes") or not self.spans:
            can = "iob1, bio or bioes" if self.spans else "none: its tags are not spans"
            raise SeqtextError(f"unknown tag scheme {scheme!r} for this model: use {can}")
        return scheme

    def tag(self, sentences: list[list[str]], scheme: str | None = None, batch_size: int = TAG.batch_size) -> list[list[str]]:
        """Tags for each token list, in ``scheme`` (default: the training data's scheme).
        Sentences are sorted by length into batches and returned in input order. Raw text
        goes to ``predict``; a list of strings here is refused, never read as characters."""
        _check_token_lists(sentences, "tag")
        check_whole(batch_size, "batch_size", 1)
        scheme = self._output_scheme(scheme)
        results: list[list[str]] = [[] for _ in sentences]
        for chunk in _length_batches(sentences, batch_size, by_characters=self.network.contextual is not None):
            for i, ids in zip(chunk, self.predict_ids([sentences[i] for i in chunk])):
                results[i] = convert([self.tags[t] for t in ids], self.train_scheme, scheme if self.spans else "none")
        return results

    def entities(self, tags: list[str], scheme: str | None = None) -> list[tuple[str, int, int]]:
        """Entity spans ``(type, start, end)`` of ``tags`` (in ``scheme``, default the model's)."""
        return to_spans(tags, self._output_scheme(scheme)) if self.spans else []

    # -- predictions with offsets and probabilities ---------------------------------------------
    def predict(self, text: str | list[str], scheme: str | None = None, batch_size: int = TAG.batch_size):
        """Tag raw text: a ``TaggedDocument`` for a string, a list of them for a list of strings.

        The text is split into sentences and tokens that keep their character offsets, so for
        every token and span ``text[start_char:end_char]`` is exactly its ``text``, whatever the
        spacing. Tags are in ``scheme`` (default: the training data's). Scores are probabilities:

        - ``Token.score``: the marginal probability of the token's tag as the decoder chose it
          (in the scheme the model was trained in), p(y_t = tag | sentence), from the CRF's
          forward-backward pass (the softmax probability for a softmax tagger);
        - ``Span.score``: the probability of the span as decoded: that the model's tag
          sequence holds this entity with exactly these boundaries and this type, summed over
          every tag sequence that does (for a softmax tagger, over the independent per-token
          distributions). Not a product of token marginals: those are not independent.
        """
        check_whole(batch_size, "batch_size", 1)
        if isinstance(text, str):
            return self._documents([text], scheme, batch_size)[0]
        if isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text):
            return self._documents(list(text), scheme, batch_size)
        raise ArgumentError(
            f"text must be a string or a list of strings (raw text), not {repr(text)[:40]}; for token lists use "
            f"predict_tokens()"
        )

    __call__ = predict  # ``ner(text)``, as spaCy's ``nlp(text)``

    def predict_tokens(self, sentences: list[list[str]], scheme: str | None = None,
                       batch_size: int = TAG.batch_size) -> list[TaggedDocument]:
        """Tag pre-tokenized input: one ``TaggedDocument`` per token list, whose ``text`` is the
        tokens joined by single spaces (what the offsets index). Each list is one sentence."""
        _check_token_lists(sentences, "predict_tokens")
        check_whole(batch_size, "batch_size", 1)
        texts, offsets = [], []
        for tokens in sentences:
            spans, position = [], 0
            for token in tokens:
                spans.append((position, position + len(token)))
                position += len(token) + 1
            texts.append(" ".join(tokens))
            offsets.append([(spans[0][0], spans[-1][1], spans)] if spans else [])
        return self._assemble(texts, offsets, scheme, batch_size)

    def _documents(self, texts: list[str], scheme: str | None, batch_size: int) -> list[TaggedDocument]:
        offsets = [list(iter_sentence_offsets(text)) for text in texts]
        return self._assemble(texts, offsets, scheme, batch_size)

    def _assemble(self, texts: list[str], offsets: list[list], scheme: str | None, batch_size: int) -> list[TaggedDocument]:
        """Documents from texts and their sentences' token offsets: every sentence of every text
        tagged in length-sorted batches, then put back in place."""
        scheme = self._output_scheme(scheme) if self.spans else "none"
        sentences = [[text[a:b] for a, b in tokens] for text, pieces in zip(texts, offsets) for _, _, tokens in pieces]
        scored = self.score_sentences(sentences, batch_size)
        documents, index = [], 0
        for text, pieces in zip(texts, offsets):
            document = TaggedDocument(text, sentences=[(start, end) for start, end, _ in pieces])
            for _, _, tokens in pieces:
                ids, probs, spans = scored[index]
                index += 1
                tags = [self.tags[i] for i in ids]
                if scheme not in ("none", self.train_scheme):  # convert(), reusing the spans at hand
                    tags = from_spans([(label, first, last) for label, first, last, _ in spans], len(tags), scheme)
                document.tokens += [Token(text[a:b], a, b, tag, p) for (a, b), tag, p in zip(tokens, tags, probs)]
                for label, first, last, p in spans:
                    a, b = tokens[first][0], tokens[last - 1][1]
                    document.spans.append(Span(text[a:b], label, a, b, p))
            documents.append(document)
        return documents

    @torch.no_grad()
    def score_sentences(self, sentences: list[list[str]], batch_size: int = TAG.batch_size) -> list[tuple[list[int], list[float], list]]:
        """For each token list: the decoded tag ids (in the training scheme), the marginal
        probability of each, and its spans as ``(type, start, end, probability)`` (token
        indices, end exclusive). See ``predict`` for what the probabilities are."""
        self.network.eval()
        results: list = [([], [], []) for _ in sentences]
        for chunk in _length_batches(sentences, batch_size, by_characters=self.network.contextual is not None):
            batch = self._batch([sentences[i] for i in chunk], scores=True)
            with devices.autocast(self.device):
                emissions = self.network(batch)
            mask = batch["mask"]
            chain = self.network.crf
            if chain is None:  # softmax decoder: independent positions, a CRF without transitions
                emissions, chain = emissions.double().log_softmax(-1), self._independent_chain()
            decoded = chain.decode(emissions.float(), mask)
            fb = chain.forward_backward(emissions, mask)
            marginals = chain.marginals(emissions, mask, fb).gather(2, decoded[..., None]).squeeze(2)
            decoded_rows, marginal_rows = decoded.cpu().tolist(), marginals.cpu().tolist()
            spans = []  # (row in batch, type, start, end)
            for row, i in enumerate(chunk):
                ids = decoded_rows[row][: len(sentences[i])]
                results[i] = (ids, marginal_rows[row][: len(ids)], [])
                if self.spans:
                    spans += [(row, kind, start, end) for kind, start, end in to_spans([self.tags[t] for t in ids], self.train_scheme)]
            if spans:
                for (row, kind, start, end), log_p in zip(spans, self._span_log_probs(chain, emissions, mask, fb, spans)):
                    results[chunk[row]][2].append((kind, start, end, math.exp(log_p)))
        return results

    def _span_log_probs(self, chain: CRF, emissions, mask, fb, spans) -> list[float]:
        """log p of each ``(row, type, start, end)`` span, a bounded number of spans at a time:
        each holds (C+1, C) float64 tables and the work on them (about 7 KB for 17 tags)."""
        kinds, enter, inside, leave = self._span_transitions()
        device, emissions = emissions.device, emissions.double()  # once, not per chunk (CRF.span_log_probs is exact)
        step = max(1, SPAN_CHUNK_BYTES // (64 * (len(self.tags) + 1) ** 2))
        log_probs: list[float] = []
        for first in range(0, len(spans), step):
            part = spans[first : first + step]
            index = torch.tensor([kinds[kind] for _, kind, _, _ in part], device=device)
            rows, starts, ends = (torch.tensor([span[field] for span in part], device=device) for field in (0, 2, 3))
            log_probs += chain.span_log_probs(emissions, mask, fb, rows, starts, ends, enter[index], inside[index],
                                              leave[index]).cpu().tolist()
        return log_probs

    def _independent_chain(self) -> CRF:
        if self._zero_chain is None:
            self._zero_chain = CRF(len(self.tags)).to(self.device)
        return self._zero_chain

    def _span_transitions(self):
        """The allowed transitions that make a span, per type, cached (see ``span_transitions``)."""
        if self._transitions_cache is None or self._transitions_cache[1].device != self.device:
            kinds, enter, inside, leave = span_transitions(self.tags)
            self._transitions_cache = (kinds, enter.to(self.device), inside.to(self.device), leave.to(self.device))
        return self._transitions_cache


def span_transitions(tags: list[str]):
    """For each entity type X, the tag transitions by which a tag sequence holds an X span with
    given boundaries, as ``to_spans`` reads it (conlleval's repairs included, so every tag
    sequence counts, valid or not):

    - the first tag is an X tag; an I-X or E-X there begins the span only if the tag before it
      does not leave an X entity open (B-X, I-X do);
    - inside, the previous tag leaves X open and the next is I-X or E-X;
    - after the last tag, the span is closed: it ended with E-X or S-X, or the next tag is
      not I-X or E-X (the sentence end closes it too).

    Returns ``{type: index}`` and boolean tensors ``enter`` (K, C+1, C), ``inside`` (K, C, C)
    and ``leave`` (K, C, C+1) in the layout of ``CRF.span_log_probs``.
    """
    parts = [split_tag(tag) for tag in tags]
    kinds = sorted({kind for prefix, kind in parts if prefix != "O"})
    num_tags = len(tags)
    enter = torch.zeros(len(kinds), num_tags + 1, num_tags, dtype=torch.bool)
    inside = torch.zeros(len(kinds), num_tags, num_tags, dtype=torch.bool)
    leave = torch.zeros(len(kinds), num_tags, num_tags + 1, dtype=torch.bool)
    for k, kind in enumerate(kinds):
        of_kind = torch.tensor([tag_kind == kind and prefix != "O" for prefix, tag_kind in parts])
        opens = torch.tensor([tag_kind == kind and prefix in ("B", "I") for prefix, tag_kind in parts])
        continues = torch.tensor([tag_kind == kind and prefix in ("I", "E") for prefix, tag_kind in parts])
        closes = of_kind & ~opens
        # enter[i, j]: a B-X or S-X always begins; an I-X or E-X begins unless X is open before it.
        enter[k, :, of_kind & ~continues] = True
        enter[k, :num_tags, continues] = ~opens[:, None]
        enter[k, num_tags, continues] = True
        inside[k] = opens[:, None] & continues[None, :]
        leave[k, closes, :] = True
        leave[k, opens, :num_tags] = ~continues[None, :]
        leave[k, opens, num_tags] = True
    return {kind: k for k, kind in enumerate(kinds)}, enter, inside, leave


def _length_batches(sentences: list[list[str]], batch_size: int, by_characters: bool = False):
    """Indices of the non-empty sentences, sorted by length, in batches of ``batch_size``. By
    characters for a tagger with language models, whose run over each text costs the most."""
    def length(i: int) -> int:
        return sum(map(len, sentences[i])) + len(sentences[i]) if by_characters else len(sentences[i])

    order = sorted((i for i in range(len(sentences)) if sentences[i]), key=length)
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def _check_token_lists(sentences, method: str) -> None:
    """A list of strings given where token lists belong would be tagged character by character
    (a string is a list of characters): refuse it, and say where raw text goes."""
    if isinstance(sentences, str) or not isinstance(sentences, (list, tuple)):
        raise ArgumentError(f"sentences: {method}() takes a list of token lists, not {repr(sentences)[:40]}; for raw "
                            f"text use predict(text)")
    for sentence in sentences:
        if not isinstance(sentence, (list, tuple)) or not all(isinstance(token, str) for token in sentence):
            shown = repr(sentence)[:40]
            raise ArgumentError(
                f"sentences: {method}() takes a list of token lists, e.g. [['Angela', 'Merkel']], not {shown}; "
                f"for raw text use predict(text)"
            )


def check_tagger_config(path: Path, config: dict) -> None:
    """What only a tagger's config.json holds: its character vocabulary and tag schemes."""
    problem = vocabulary_problem(config["chars"])
    if problem:
        raise ModelError(f"{path}: chars: {problem}")
    for key in ("scheme", "train_scheme"):
        if config.get(key, "none") not in SCHEMES:
            raise ModelError(f"{path}: {key} must be one of {', '.join(SCHEMES)}, not {config[key]!r}")
