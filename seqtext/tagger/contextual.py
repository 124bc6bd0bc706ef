"""Contextual string embeddings (Akbik, Blythe and Vollgraf 2018) from the user's own character
language models: the feature of a word is a frozen character LM's state at the word's boundary
in the sentence read as text.

A sentence is read as its tokens joined by single spaces, after ``<bos>`` from a zero state:
what a character LM meets at the start of a line in training (``train lm`` frames each document
with ``<bos>`` and adds rows that start at a line from a zero state after ``<bos>``).

- A forward LM reads the text left to right; a word's feature is its output just after the
  word's last character.
- A backward LM (``data.backward``, which learnt every document reversed, still framed
  ``<bos> ... <eos>``) reads the reversed text; a word's feature is its output just after the
  word's first character, seen from the right.

The feature is the top recurrent layer's output (what ``RecurrentLM.features`` gives with
dropout off, before the projection a tied-weights model may add). The LMs are frozen: no
gradients, no dropout, eval mode whatever mode the tagger is in. Their embedding and recurrent
weights become part of the tagger (its ``model.safetensors``) and their vocabularies and
settings part of its ``config.json``, so a saved tagger needs no LM directory. One batch runs
each LM once over all its sentences (right-padded: a left-to-right network never sees the
padding before a real position) and gathers every word's state with one index operation.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from seqtext.configs import LMConfig
from seqtext.errors import SeqtextError
from seqtext.lm.model import LMBody, load_language_model
from seqtext.text.tokenizers import BOS, CharTokenizer, vocabulary_problem

SEGMENTS = 8  # stretches of time a batch of texts is run in (LMEncoder.forward)


# -- what a tagger keeps of each language model ---------------------------------------------------
def describe(lm, source: str) -> dict:
    """The config entry (``TaggerConfig.contextual_lms``) that rebuilds ``lm``'s encoder."""
    return {"source": source, "backward": bool(lm.backward), "chars": list(lm.tokenizer.itos),
            "model": dataclasses.asdict(lm.network.config)}


def check_entry(entry, index: int) -> tuple[LMConfig, CharTokenizer, bool]:
    """An entry of ``contextual_lms`` as (LM config, character tokenizer, backward), or a
    SeqtextError saying what is wrong with it (config.json is user input)."""
    where = f"contextual_lms[{index}]"
    if not isinstance(entry, dict) or not {"model", "chars", "backward"} <= set(entry):
        raise SeqtextError(f"{where} must be an object with model, chars and backward")
    if not isinstance(entry["backward"], bool):
        raise SeqtextError(f"{where}.backward must be true or false, not {entry['backward']!r}")
    problem = vocabulary_problem(entry["chars"])
    if problem:
        raise SeqtextError(f"{where}.chars: {problem}")
    if not isinstance(entry["model"], dict):
        raise SeqtextError(f"{where}.model must be an object")
    try:
        config = LMConfig(**entry["model"])
    except TypeError as err:
        raise SeqtextError(f"{where}.model: {err}") from None
    unsettled = [f for f in ("embedding_dim", "hidden_size", "num_layers") if getattr(config, f) is None]
    if unsettled:
        raise SeqtextError(f"{where}.model: {', '.join(unsettled)} missing")
    if config.vocab_size != len(entry["chars"]):
        raise SeqtextError(f"{where}: model.vocab_size is {config.vocab_size} but chars has {len(entry['chars'])} entries")
    return config, CharTokenizer(entry["chars"]), entry["backward"]


class LMEncoder(LMBody):
    """The part of a character LM that a tagger reads (``LMBody``: no output layer, no dropout),
    read at chosen positions only."""

    def __init__(self, config: LMConfig):
        super().__init__(config.vocab_size, config.embedding_dim, config.hidden_size, config.num_layers, config.cell)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, positions: torch.Tensor):
        """ids (B, L), lengths (B,), positions (B, T) -> the top-layer outputs at those positions
        of each row (B, T, H); positions past a row's length give zeros.

        The rows run longest first in at most ``SEGMENTS`` stretches of time, each over only the
        rows still going, their state carried: what a packed sequence computes, at the padded
        kernel's speed. Each stretch hands over the outputs ``positions`` asks for at once, so the
        (B, L, H) outputs are never stored (figures: docs/studies/contextual.md)."""
        order = torch.argsort(lengths, descending=True, stable=True)
        longest = lengths[order].tolist()
        ids, positions = ids[order.to(ids.device)], positions[order.to(ids.device)]
        step = max(1, len(longest) // SEGMENTS)
        ends = sorted({longest[i] for i in range(len(longest) - 1, -1, -step)} | {longest[0]})
        found, state, start = None, None, 0
        for end in ends:
            rows = sum(length > start for length in longest)  # a prefix: longest first
            if state is not None:
                state = tuple(s[:, :rows].contiguous() for s in state) if isinstance(state, tuple) else state[:, :rows].contiguous()
            piece, state = self.rnn(self.embedding(ids[:rows, start:end]), state)
            if found is None:
                found = piece.new_zeros(ids.size(0), positions.size(1), piece.size(-1))
            inside = (positions[:rows] >= start) & (positions[:rows] < end)
            row, slot = inside.nonzero(as_tuple=True)
            found[row, slot] = piece[row, positions[row, slot] - start]
            start = end
        unsorted = torch.empty_like(found)
        unsorted[order.to(found.device)] = found
        return unsorted


class ContextualFeatures(nn.Module):
    """The frozen LMs of a tagger: ``inputs`` turns token lists into their batch entries,
    ``forward`` turns those into one feature vector per word, the LMs' outputs concatenated."""

    def __init__(self, entries: list):
        super().__init__()
        checked = [check_entry(entry, i) for i, entry in enumerate(entries)]
        self.lms = nn.ModuleList(LMEncoder(config) for config, _, _ in checked)
        self.tokenizers = [tokenizer for _, tokenizer, _ in checked]
        self.backward = [backward for _, _, backward in checked]
        self.output_dim = sum(lm.output_dim for lm in self.lms)
        # LMs with the same vocabulary share one encoding of the batch's text.
        firsts: dict[tuple, int] = {}
        self.shares = [firsts.setdefault(tuple(t.itos), k) for k, t in enumerate(self.tokenizers)]
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True):
        """Always eval mode: the LMs are fixed feature extractors, in training too."""
        return super().train(False)

    def load_language_models(self, models: list) -> None:
        """Copy the weights of the ``LanguageModel`` objects this was described from."""
        for encoder, model in zip(self.lms, models, strict=True):
            encoder.copy_from(model.network)

    def inputs(self, sentences: list[list[str]], width: int) -> dict:
        """For LM k: ``lm{k}_ids`` (B, N+1), ``<bos>`` and the sentence's text (reversed for a
        backward LM), right-padded; ``lm{k}_at`` (B, ``width``), where each word's feature lies
        in its row of that LM's outputs (padding words point at position 0); and ``lm_lengths``
        (B,), each row's length with ``<bos>``."""
        count = len(sentences)
        texts = [" ".join(sentence) for sentence in sentences]
        text_lengths = np.array([len(text) for text in texts], dtype=np.int64)
        columns = int(text_lengths.max(initial=0)) + 1
        rows = np.repeat(np.arange(count), text_lengths)  # the sentence of each character of "".join(texts)
        places = np.arange(len(rows)) - np.repeat(np.cumsum(text_lengths) - text_lengths, text_lengths)  # in its text
        # Each word's first character and the one after its last, in its sentence's text.
        word_lengths = np.fromiter((len(w) for s in sentences for w in s), dtype=np.int64)
        counts = np.array([len(s) for s in sentences], dtype=np.int64)
        word_rows = np.repeat(np.arange(count), counts)
        firsts = np.cumsum(counts) - counts  # index of each sentence's first word
        ends = np.cumsum(word_lengths + 1) - 1  # as if the whole batch were one text
        starts = ends - word_lengths
        starts -= np.repeat(starts[firsts[counts > 0]], counts[counts > 0])
        ends = starts + word_lengths
        slots = np.arange(len(word_lengths)) - np.repeat(firsts, counts)
        # Forward: character i of the text is input i + 1 (after <bos>); reversed, it is input N - i.
        at_forward = ends
        at_backward = text_lengths[word_rows] - starts
        batch, encoded = {"lm_lengths": torch.from_numpy(text_lengths + 1)}, {}
        for k, backward in enumerate(self.backward):
            key = (self.shares[k], backward)
            if key not in encoded:
                codes = self.tokenizers[self.shares[k]].encode_array("".join(texts))
                ids = np.zeros((count, columns), dtype=np.int64)
                ids[:, 0] = BOS
                ids[rows, text_lengths[rows] - places if backward else places + 1] = codes
                encoded[key] = torch.from_numpy(ids)
            at = np.zeros((count, width), dtype=np.int64)
            at[word_rows, slots] = at_backward if backward else at_forward
            batch[f"lm{k}_ids"] = encoded[key]
            batch[f"lm{k}_at"] = torch.from_numpy(at)
        return batch

    def forward(self, batch: dict) -> torch.Tensor:
        """Features (B, T, sum of the LMs' H) for a batch made by ``make_batch``."""
        features = []
        with torch.no_grad():
            for k, lm in enumerate(self.lms):
                features.append(lm(batch[f"lm{k}_ids"], batch["lm_lengths"], batch[f"lm{k}_at"]))  # (B, T, H)
        return torch.cat(features, dim=-1) if len(features) > 1 else features[0]


# -- finding the user's language models -----------------------------------------------------------
def load_language_models(names: list[str]) -> list:
    """The character language models named by ``data.pretrained_lms`` (directories or model names),
    on the CPU; anything else is refused with one line naming it."""
    models = []
    for name in names:
        model = load_language_model(name)
        if not isinstance(model.tokenizer, CharTokenizer):
            raise SeqtextError(
                f"data.pretrained_lms {name}: a {model.tokenizer.kind}-level language model; contextual string embeddings "
                f"need a character language model (one trained with tokenizer char)"
            )
        models.append(model)
    return models
