"""``seqtext export``: a trained model as one ONNX or TorchScript file that runs without seqtext.

The exported file holds the network as a graph (ONNX, run with onnxruntime; or TorchScript, run
with ``torch.jit.load``) and, as metadata inside it, everything else a user needs: the
tokenizer (vocabulary, word-splitting rule, SentencePiece model), the labels or tags, and the
name, type and shape of every input and output. ONNX keeps it in ``metadata_props["seqtext"]``,
TorchScript in the extra file ``seqtext.json``; both are the same JSON object. Next to the file
``seqtext_runtime.py`` is written: a reference loader that needs only numpy and onnxruntime or
torch (and sentencepiece for SentencePiece models; never seqtext) and turns text into the
inputs below and the outputs back into tags, labels or text.

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
  ``lm_at`` (M, B, T), where each word's state lies in its row (``seqtext.contextual``).
* classifier: ``ids`` (B, T) token ids (padding 0; an empty text is one ``<pad>``; at most
  ``max_tokens``), ``lengths`` (B,) -> ``logits`` (B, C) and ``probs`` (B, C): softmax, or
  one sigmoid per label for multi-label models. ULMFiT classifiers (``--pretrained-lm``) take
  the same: the ``<bos> ... <eos>`` framing, and the reversal for a backward LM, happen inside
  the graph.

The graphs run padded batches without packed sequences: each direction of a bidirectional
layer runs on its own, the backward one on every sequence reversed within its own length, so
padding never reaches a real position and the numbers are those of seqtext's packed run.
Every export is run once on sample input and compared with seqtext's own output before it is
reported done.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import importlib
import json
import logging
import shutil
import time
import warnings
from pathlib import Path

import torch
from torch import nn

from seqtext import __version__
from seqtext.core import modeldir
from seqtext.errors import SeqtextError
from seqtext.export import runtime as export_runtime
from seqtext.export.graphs import (
    ClassifierGraph,
    ContextualTaggerGraph,
    LanguageModelGraph,
    LMClassifierGraph,
    LSTMLanguageModelGraph,
    TaggerGraph,
    _rnns_as_grus,
)
from seqtext.tagger.model import make_batch
from seqtext.text.tokenizers import (
    BOS,
    WORD_PATTERN,
    SentencePieceTokenizer,
    WordTokenizer,
    pad_batch,
)

FORMATS = ("onnx", "torchscript")
METADATA_KEY = export_runtime.METADATA_KEY
RUNTIME_NAME = "seqtext_runtime.py"
EXPORT_VERSION = 1
MAX_WORD_CHARS = 50  # what make_batch gives the character encoder of each word
TOLERANCE = 1e-4  # the largest difference from seqtext's own scores that an export may show

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


# -- the graphs ----------------------------------------------------------------------------------


# -- what the export carries ----------------------------------------------------------------------
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
    network = model.network
    config = network.config
    meta = {
        "format": "seqtext-export",
        "export_version": EXPORT_VERSION,
        "seqtext_version": __version__,
        "graph": fmt,
        "kind": model.kind,
        "model": dataclasses.asdict(config),
        "tokenizer": tokenizer_spec(model.tokenizer),
        "info": model.info,
    }
    if model.kind == "language_model":
        state = [config.num_layers, "batch", config.hidden_size]
        names = ["h", "c"] if config.cell == "lstm" else ["h"]
        meta["scores"] = "log_probs" if network.adaptive is not None else "logits"
        meta["backward"] = bool(model.backward)  # train lm --backward: it reads and writes right to left
        order = "; the text right to left, as a backward model reads it" if model.backward else ""
        meta["inputs"] = [_io("ids", "int64", ["batch", "time"], f"token ids; <bos> (2) starts a text{order}")]
        meta["inputs"] += [_io(f"{n}0", "float32", state, "initial state (zeros to start)") for n in names]
        meta["outputs"] = [_io("scores", "float32", ["batch", "time", config.vocab_size], f"{meta['scores']} of the next token")]
        meta["outputs"] += [_io(n, "float32", state, "final state") for n in names]
    elif model.kind == "tagger":
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
        meta["outputs"] = [_io("emissions", "float32", ["batch", "time", config.num_tags], "tag scores per word")]
        if fmt == "torchscript":
            meta["outputs"].append(_io("tags", "int64", ["batch", "time"], "decoded tag ids (ignore padding)"))
    else:
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
    return meta


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


# -- exporting ------------------------------------------------------------------------------------
@dataclasses.dataclass
class ExportReport:
    path: Path
    runtime: Path
    fmt: str
    kind: str
    seconds: float
    size: int
    max_abs_diff: float  # largest difference from seqtext's scores on the sample input


def require_onnx() -> None:
    """The ONNX exporter (onnx, onnxscript) and onnxruntime (to check the result) come with the
    ``export`` extra; without them, one line that says how to get them."""
    for name in ("onnx", "onnxscript", "onnxruntime"):
        try:
            importlib.import_module(name)
        except ImportError:
            raise SeqtextError(f"ONNX export needs the {name} package: pip install 'seqtext[export]'") from None


def build_graph(model, fmt: str) -> nn.Module:
    network = model.network
    if model.kind == "language_model":
        graph = (LSTMLanguageModelGraph if network.config.cell == "lstm" else LanguageModelGraph)(network)
    elif model.kind == "tagger":
        graph = (TaggerGraph if network.contextual is None else ContextualTaggerGraph)(network, decode=fmt == "torchscript")
    else:
        graph = (ClassifierGraph if network.config.encoder == "rnn" else LMClassifierGraph)(network)
    graph = graph.eval()
    return _rnns_as_grus(graph) if fmt == "onnx" else graph


def _dynamic_shapes(meta: dict) -> dict:
    """torch.export dimensions for the metadata's named axes (numbers stay fixed)."""
    dims: dict[str, object] = {}
    shapes = {}
    for entry in meta["inputs"]:
        shapes[entry["name"]] = {axis: dims.setdefault(name, torch.export.Dim(name))
                                 for axis, name in enumerate(entry["shape"]) if isinstance(name, str)}
    return shapes


def _forget_rnn_kernels() -> None:
    """Clear the kernels torch has cached for its LSTM and GRU operators.

    For dynamic lengths the exporter swaps in a loop-based LSTM/GRU while it traces, by editing
    the operator's kernel table without clearing its dispatch cache; after one export in a
    process, the next would trace with the cached step-by-step kernel and fix every time axis
    at the example's length (torch 2.13). The check in ``export`` catches that; this avoids it.
    """
    for packet in (torch.ops.aten.lstm, torch.ops.aten.gru):
        for name in packet.overloads():
            cache = getattr(getattr(packet, name), "_dispatch_cache", None)
            if cache is not None:
                cache.clear()


@contextlib.contextmanager
def _quiet_exporter():
    """torch.export's warnings about its own internals and the exporter's log lines (one per
    torchvision operator it skips) say nothing the user can act on."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _write_onnx(graph: nn.Module, inputs, meta: dict, path: Path) -> None:
    import onnx

    names = [entry["name"] for entry in meta["inputs"]]
    _forget_rnn_kernels()
    with _quiet_exporter():
        program = torch.onnx.export(
            graph, tuple(inputs), input_names=names, output_names=[entry["name"] for entry in meta["outputs"]],
            dynamic_shapes=_dynamic_shapes(meta), dynamo=True, verbose=False,
        )
    proto = program.model_proto
    # The exporter leaves the example's lengths in the shapes it declares for LSTM outputs (the
    # graph itself takes any length); onnxruntime would warn on every other length. Intermediate
    # shapes are optional, so drop them, and declare the outputs as the metadata promises.
    del proto.graph.value_info[:]
    for value, entry in zip(proto.graph.output, meta["outputs"]):
        dims = value.type.tensor_type.shape.dim
        del dims[:]
        for size in entry["shape"]:
            dim = dims.add()
            if isinstance(size, str):
                dim.dim_param = size
            else:
                dim.dim_value = size
    proto.metadata_props.add(key=METADATA_KEY, value=json.dumps(meta, ensure_ascii=False))
    modeldir.write_atomic(path, proto.SerializeToString())
    onnx.checker.check_model(str(path))


def _write_torchscript(graph: nn.Module, meta: dict, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(graph)
        with modeldir.atomic_path(path) as tmp:
            torch.jit.save(scripted, str(tmp), _extra_files={f"{METADATA_KEY}.json": json.dumps(meta, ensure_ascii=False)})


def _run_export(path: Path, fmt: str, inputs) -> list[torch.Tensor]:
    """Run the written file as a user would (onnxruntime, or ``torch.jit.load``)."""
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = {i.name: x.numpy() for i, x in zip(session.get_inputs(), inputs)}
        return [torch.from_numpy(out) for out in session.run(None, feed)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = torch.jit.load(str(path))
    with torch.no_grad():
        out = loaded(*inputs)
    return list(out) if isinstance(out, tuple) else [out]


def compare(model, expected: list[torch.Tensor], got: list[torch.Tensor], inputs) -> float:
    """The largest absolute difference in scores; a tag or state that differs is a bug."""
    if model.kind == "tagger":
        lengths = inputs[4]
        mask = torch.arange(expected[0].size(1))[None, :] < lengths[:, None]
        if len(got) > 1 and not torch.equal(got[1][mask], expected[1][mask]):
            raise RuntimeError("the exported tagger decodes other tags than seqtext on the sample sentences")
        got, expected = got[:1], expected[:1]
    worst = 0.0
    for want, have in zip(expected, got):
        if want.shape != have.shape:
            raise RuntimeError(f"the export gives shape {tuple(have.shape)} where seqtext gives {tuple(want.shape)}")
        worst = max(worst, float((want.float() - have.float()).abs().max()))
    return worst


def export(model, path, fmt: str) -> ExportReport:
    """Write ``model`` (a loaded seqtext model) to ``path`` as ``fmt`` (onnx or torchscript),
    with ``seqtext_runtime.py`` beside it, and check it against seqtext's own output."""
    if fmt not in FORMATS:
        raise SeqtextError(f"unknown export format {fmt!r}: choose from {', '.join(FORMATS)}")
    if fmt == "onnx":
        require_onnx()
    path = Path(path)
    if path.is_dir():
        raise SeqtextError(f"{path} is a directory: give the file to write, e.g. {path / ('model.' + ('onnx' if fmt == 'onnx' else 'pt'))}")
    if not path.parent.is_dir():
        raise SeqtextError(f"{path.parent}: no such directory")
    # Export a float32 copy on the CPU: the caller's model stays where and what it was.
    model = copy.copy(model)
    model.network = copy.deepcopy(model.network).cpu().float().eval()
    started = time.perf_counter()
    meta = describe(model, fmt)
    graph = build_graph(model, fmt)
    if fmt == "onnx":
        _write_onnx(graph, model_inputs(model, EXAMPLE_TEXTS, EXAMPLE_SENTENCES), meta, path)
    else:
        _write_torchscript(graph, meta, path)
    seconds = time.perf_counter() - started
    inputs = model_inputs(model, SAMPLE_TEXTS, SAMPLE_SENTENCES)
    checked = False
    try:
        difference = compare(model, reference_outputs(model, inputs), _run_export(path, fmt, inputs), inputs)
        if not difference <= TOLERANCE:
            raise RuntimeError(f"the export differs from seqtext by {difference:.2e} on the sample input (more than {TOLERANCE})")
        checked = True
    finally:  # a file that does not compute what seqtext computes must not stay behind
        if not checked:
            path.unlink(missing_ok=True)
    runtime = path.parent / RUNTIME_NAME
    shutil.copyfile(export_runtime.__file__, runtime)
    return ExportReport(path, runtime, fmt, model.kind, seconds, path.stat().st_size, difference)
