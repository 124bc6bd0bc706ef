"""The Bi-LSTM sequence tagger with character features and a CRF (Lample et al. 2016; Huang et
al. 2015), and the object users hold. Shapes: B sentences, T words, W unique words in the batch,
L characters, C tags.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqtext import devices, modeldir
from seqtext.configs import TaggerConfig
from seqtext.crf import CRF
from seqtext.errors import SeqtextError
from seqtext.lm import CELLS
from seqtext.tagschemes import convert, to_spans
from seqtext.tokenizers import PAD, UNK, CharTokenizer, Tokenizer

DIGITS = re.compile(r"\d")


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


class BiRNNTagger(nn.Module):
    def __init__(self, config: TaggerConfig):
        super().__init__()
        if config.cell not in CELLS:
            raise SeqtextError(f"unknown cell {config.cell!r}: choose from {', '.join(CELLS)}")
        if config.char_encoder not in ("lstm", "cnn", "none"):
            raise SeqtextError(f"unknown character encoder {config.char_encoder!r}: use lstm, cnn or none")
        if config.decoder not in ("crf", "softmax"):
            raise SeqtextError(f"unknown decoder {config.decoder!r}: use crf or softmax")
        self.config = config
        self.words = nn.Embedding(config.vocab_size, config.word_dim, padding_idx=PAD)
        self.chars = CharEncoder(config) if config.char_encoder != "none" else None
        input_dim = config.word_dim + (self.chars.output_dim if self.chars else 0)
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
               generator: torch.Generator | None = None) -> dict:
    """Tensors for a list of token lists. Each distinct word form is run through the character
    encoder once per batch; ``word_dropout`` turns that share of words into <unk> so the model
    learns what to do with words it has never seen."""
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
    return {"words": word_ids, "types": type_ids, "chars": char_ids, "char_lengths": char_lengths, "lengths": lengths, "mask": mask}


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

    @property
    def spans(self) -> bool:
        return self.train_scheme != "none"

    def extra_config(self) -> dict:
        return {"tags": self.tags, "chars": self.chars.itos, "scheme": self.scheme, "train_scheme": self.train_scheme}

    @classmethod
    def from_directory(cls, directory: Path, config: dict) -> "SequenceTagger":
        config = modeldir.check_config(directory, config, expected_kind=cls.kind)
        network = modeldir.build_network(BiRNNTagger, TaggerConfig, directory, config)
        words = modeldir.load_parts(directory, config, network)
        return cls(network, words, CharTokenizer(config["chars"]), config["tags"], config.get("scheme", "none"),
                   config.get("train_scheme", "none"), modeldir.read_metrics(directory), config.get("info", {}))

    def predict_ids(self, sentences: list[list[str]]) -> list[list[int]]:
        self.network.eval()
        batch = move_batch(make_batch(sentences, self.tokenizer, self.chars), self.device)
        with devices.autocast(self.device):
            decoded = self.network.decode(batch).cpu().tolist()
        return [row[: len(s)] for row, s in zip(decoded, sentences)]

    def tag(self, sentences: list[list[str]], scheme: str | None = None, batch_size: int = 64) -> list[list[str]]:
        """Tags for each token list, in ``scheme`` (default: the training data's scheme).
        Sentences are sorted by length into batches and returned in input order."""
        scheme = scheme or self.scheme
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        results: list[list[str]] = [[] for _ in sentences]
        for start in range(0, len(order), batch_size):
            chunk = [i for i in order[start : start + batch_size] if sentences[i]]
            if not chunk:
                continue
            for i, ids in zip(chunk, self.predict_ids([sentences[i] for i in chunk])):
                results[i] = convert([self.tags[t] for t in ids], self.train_scheme, scheme if self.spans else "none")
        return results

    def entities(self, tags: list[str], scheme: str | None = None) -> list[tuple[str, int, int]]:
        """Entity spans ``(type, start, end)`` of ``tags`` (in ``scheme``, default the model's)."""
        return to_spans(tags, scheme or self.scheme) if self.spans else []
