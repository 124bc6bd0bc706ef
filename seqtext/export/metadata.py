"""What an export carries beside the graph: the metadata (tokenizer, labels or tags, and every
input and output), and the sample inputs with seqtext's own outputs that an export is checked on.

Inputs and outputs (B batch, T time steps, V vocabulary, L layers, H hidden size, W distinct
word forms, K characters of the longest form, C classes or tags); every id is int64, every
score float32, and every axis named here is dynamic:

* language model: ``ids`` (B, T) token ids (``<bos>`` = 2 starts a text), ``h0`` (L, B, H)
  the initial state (zeros to start), and for LSTMs also ``c0`` (L, B, H) the initial cell
  state -> ``scores`` (B, T, V) logits for the next token (log-probabilities when the model
  has an adaptive softmax; the metadata says which), ``h`` (and ``c``): the final state, to be
  fed back in to go on. A backward LM (metadata ``"backward": true``) reads ``ids`` right to
  left: the text's tokens reversed after ``<bos>``.
* tagger: ``words`` (B, T) word ids (of the word lower-cased with every digit made 0; padding
  0), ``types`` (B, T) the row of ``chars`` that spells each word, ``chars`` (W, K) character
  ids of each word form (its first 50 characters; padding 0), ``char_lengths`` (W,), and
  ``lengths`` (B,) words per sentence -> ``emissions`` (B, T, C); TorchScript also gives
  ``tags`` (B, T), the Viterbi-decoded tag ids (positions past a sentence's end are to be
  ignored). ONNX leaves the decoding to the loader: the CRF's ``start``, ``transitions`` and
  ``end`` scores are in the metadata. A tagger with character LMs (``--pretrained-lm``) takes
  two more: ``lm_ids`` (M, B, N), for each of its M LMs ``<bos>`` and the sentence's words
  joined by single spaces (reversed for a backward LM) as that LM's character ids, and
  ``lm_at`` (M, B, T), where each word's state lies in its row (``seqtext.tagger.contextual``).
* classifier: ``ids`` (B, T) token ids (padding 0; an empty text is one ``<pad>``; at most
  ``max_tokens``), ``lengths`` (B,) -> ``logits`` (B, C) and ``probs`` (B, C): softmax, or
  one sigmoid per label for multi-label models. ULMFiT classifiers (``--pretrained-lm``) take
  the same: the ``<bos> ... <eos>`` framing, and the reversal for a backward LM, happen inside
  the graph.
"""

from __future__ import annotations

import base64
import dataclasses

import torch

from seqtext import __version__
from seqtext.core.modeldir import shared_info, shared_name
from seqtext.tagger.model import make_batch
from seqtext.text.tokenizers import (
    BOS,
    WORD_PATTERN,
    SentencePieceTokenizer,
    WordTokenizer,
    pad_batch,
)

EXPORT_VERSION = 1
MAX_WORD_CHARS = 50  # what make_batch gives the character encoder of each word

# Checking input: real text, in batches of rows of different lengths (padding is exercised).
SAMPLE_TEXTS = ["A gorgeous, witty, seductive movie.", "ROMEO:\nIs the day so young?", "dull"]
SAMPLE_SENTENCES = [
    ["Angela", "Merkel", "visited", "Paris", "on", "Tuesday", "."],
    ["The", "U.N.", "met", "in", "2024"],
    ["Hello"],
]
# Tracing input: short (the exporter traces each time step of a recurrent layer, so its time
# grows with the length), every dynamic axis at least 2 and no two alike, so that none is
# taken for a constant or for another axis. The checking input then has other sizes.
EXAMPLE_TEXTS = ["so good", "not bad at all"]
EXAMPLE_SENTENCES = [["He", "saw", "Rome"], ["Oslo", "!"]]


# -- the metadata -----------------------------------------------------------------------------
def tokenizer_spec(tokenizer) -> dict:
    """Everything the loader needs to turn text into ids the way ``tokenizer`` does."""
    specials = {"pad": 0, "unk": 1, "bos": 2, "eos": 3}
    if isinstance(tokenizer, SentencePieceTokenizer):
        return {"kind": "sentencepiece", "specials": specials,
                "model": base64.b64encode(tokenizer.model_proto).decode("ascii")}
    spec = {"kind": tokenizer.kind, "specials": specials, "vocab": tokenizer.itos}
    if isinstance(tokenizer, WordTokenizer):
        spec.update(split=tokenizer.split_mode, lowercase=tokenizer.lowercase, pattern=WORD_PATTERN.pattern)
    return spec


def _io(name: str, dtype: str, shape: list, meaning: str) -> dict:
    return {"name": name, "dtype": dtype, "shape": shape, "meaning": meaning}


def describe(model, fmt: str) -> dict:
    """The metadata stored in the exported file (see the module docstring)."""
    meta = {
        "format": "seqtext-export",
        "export_version": EXPORT_VERSION,
        "seqtext_version": __version__,
        "graph": fmt,
        "kind": model.kind,
        "model": _shared_model(dataclasses.asdict(model.network.config)),
        "tokenizer": tokenizer_spec(model.tokenizer),
        "info": shared_info(model.info),  # file names, not where they lay (a model saved before recorded paths)
    }
    if model.kind == "language_model":
        _describe_language_model(model, meta)
    elif model.kind == "tagger":
        _describe_tagger(model, fmt, meta)
    else:
        _describe_classifier(model, meta)
    return meta


def _shared_model(config: dict) -> dict:
    """A tagger's character LMs by name (``shared_name``), as in the info."""
    if config.get("contextual_lms"):
        config["contextual_lms"] = [{**lm, "source": shared_name(lm["source"])} if isinstance(lm.get("source"), str) else lm
                                    for lm in config["contextual_lms"]]
    return config


def _describe_language_model(model, meta: dict) -> None:
    network = model.network
    config = network.config
    state = [config.num_layers, "batch", config.hidden_size]
    names = ["h", "c"] if config.cell == "lstm" else ["h"]
    meta["scores"] = "log_probs" if network.adaptive is not None else "logits"
    meta["backward"] = bool(model.backward)  # a backward LM reads and writes right to left
    order = "; the text right to left, as a backward model reads it" if model.backward else ""
    meta["inputs"] = [_io("ids", "int64", ["batch", "time"], f"token ids; <bos> (2) starts a text{order}")]
    meta["inputs"] += [_io(f"{n}0", "float32", state, "initial state (zeros to start)") for n in names]
    meta["outputs"] = [_io("scores", "float32", ["batch", "time", config.vocab_size], f"{meta['scores']} of the next token")]
    meta["outputs"] += [_io(n, "float32", state, "final state") for n in names]


def _describe_tagger(model, fmt: str, meta: dict) -> None:
    network = model.network
    crf = network.crf
    meta.update(tags=model.tags, chars=model.chars.itos, scheme=model.scheme, train_scheme=model.train_scheme,
                max_word_chars=MAX_WORD_CHARS, word_form="lower case, every digit 0")
    if crf is not None:
        meta["crf"] = {name: getattr(crf, name).detach().float().tolist() for name in ("start", "transitions", "end")}
    meta["inputs"] = [
        _io("words", "int64", ["batch", "time"], "word ids of the normalised words (padding 0)"),
        _io("types", "int64", ["batch", "time"], "row of chars that spells each word"),
        _io("chars", "int64", ["forms", "letters"], "character ids of each word form (padding 0)"),
        _io("char_lengths", "int64", ["forms"], "characters per word form (at least 1)"),
        _io("lengths", "int64", ["batch"], "words per sentence (at least 1)"),
    ]
    if network.contextual is not None:
        lms = len(network.contextual.lms)
        meta["inputs"] += [
            _io("lm_ids", "int64", [lms, "batch", "text"], "for each of model.contextual_lms: <bos> (2), then the "
                "sentence's words joined by single spaces (reversed for a backward LM) as its character ids (padding 0)"),
            _io("lm_at", "int64", [lms, "batch", "time"], "for each LM: where each word's state lies in lm_ids' row "
                "(forward: the place of the word's last character + 1; backward: of its first; padding 0)"),
        ]
    meta["outputs"] = [_io("emissions", "float32", ["batch", "time", network.config.num_tags], "tag scores per word")]
    if fmt == "torchscript":
        meta["outputs"].append(_io("tags", "int64", ["batch", "time"], "decoded tag ids (ignore padding)"))


def _describe_classifier(model, meta: dict) -> None:
    config = model.network.config
    meta.update(labels=model.labels, label_aliases=model.label_aliases, max_tokens=model.max_tokens,
                multi_label=config.multi_label)
    meta["inputs"] = [
        _io("ids", "int64", ["batch", "time"], "token ids (padding 0; an empty text is one <pad>)"),
        _io("lengths", "int64", ["batch"], "tokens per text (at least 1)"),
    ]
    meta["outputs"] = [
        _io("logits", "float32", ["batch", config.num_classes], "class scores"),
        _io("probs", "float32", ["batch", config.num_classes], "sigmoid per label" if config.multi_label else "softmax"),
    ]

# -- sample input, and seqtext's own answer to it --------------------------------------------------
def model_inputs(model, texts: list[str], sentences: list[list[str]]) -> tuple[torch.Tensor, ...]:
    """The graph's inputs for ``texts`` (language model, classifier) or ``sentences`` (tagger),
    made by seqtext's own batching code."""
    if model.kind == "language_model":
        config = model.network.config
        rows = [[BOS] + model.tokenizer.encode(text) for text in texts]
        width = min(len(r) for r in rows)
        ids = torch.tensor([r[:width] for r in rows])
        generator = torch.Generator().manual_seed(0)
        state = [0.5 * torch.randn(config.num_layers, len(rows), config.hidden_size, generator=generator)
                 for _ in range(2 if config.cell == "lstm" else 1)]
        return (ids, *state)
    if model.kind == "tagger":
        contextual = model.network.contextual
        batch = make_batch(sentences, model.tokenizer, model.chars, contextual=contextual)
        inputs = tuple(batch[k] for k in ("words", "types", "chars", "char_lengths", "lengths"))
        if contextual is None:
            return inputs
        lms = range(len(contextual.lms))
        return (*inputs, torch.stack([batch[f"lm{k}_ids"] for k in lms]), torch.stack([batch[f"lm{k}_at"] for k in lms]))

    return pad_batch([model.encode(text) for text in texts])


@torch.no_grad()
def reference_outputs(model, inputs) -> list[torch.Tensor]:
    """What seqtext itself computes for ``inputs``: the numbers the export must reproduce."""
    network = model.network.eval()
    if model.kind == "language_model":
        state = tuple(inputs[1:]) if len(inputs) == 3 else inputs[1]
        scores, state = network(inputs[0], state)
        return [scores, *(state if isinstance(state, tuple) else (state,))]
    if model.kind == "tagger":
        keys = ("words", "types", "chars", "char_lengths", "lengths")
        batch = dict(zip(keys, inputs))
        if len(inputs) > len(keys):  # the LMs' inputs, stacked
            lm_ids, lm_at = inputs[len(keys):]
            batch.update({f"lm{k}_ids": lm_ids[k] for k in range(len(lm_ids))} | {f"lm{k}_at": lm_at[k] for k in range(len(lm_at))})
            batch["lm_lengths"] = (lm_ids[0] != 0).sum(1)
        batch["mask"] = torch.arange(batch["words"].size(1))[None, :] < batch["lengths"][:, None]
        return [network(batch), network.decode(batch)]
    logits = network(*inputs)
    probs = logits.sigmoid() if network.config.multi_label else logits.softmax(-1)
    return [logits, probs]
