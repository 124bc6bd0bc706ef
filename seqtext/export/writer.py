"""``seqtext export``: a trained model as one ONNX or TorchScript file that runs without seqtext.

The file holds the network as a graph (``graphs``) and, as metadata inside it, everything else a
user needs (``metadata``, whose docstring lists every input and output): ONNX keeps it in
``metadata_props["seqtext"]``, TorchScript in the extra file ``seqtext.json``. ``seqtext_runtime.py``
(``runtime``), written next to the file, loads it without seqtext. Every export is run once on
sample input and compared with seqtext's own output before it is reported done.
"""

from __future__ import annotations

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
    rnns_as_grus,
)
from seqtext.export.metadata import (
    EXAMPLE_SENTENCES,
    EXAMPLE_TEXTS,
    SAMPLE_SENTENCES,
    SAMPLE_TEXTS,
    describe,
    model_inputs,
    reference_outputs,
)

FORMATS = ("onnx", "torchscript")
METADATA_KEY = export_runtime.METADATA_KEY
RUNTIME_NAME = "seqtext_runtime.py"
TOLERANCE = 1e-4  # the largest difference from seqtext's own scores that an export may show


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
    return rnns_as_grus(graph) if fmt == "onnx" else graph


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
    import onnx  # deferred: the optional export extra

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
        with modeldir.atomic_path(path) as tmp, modeldir.writing(path, also=(RuntimeError,)):  # torch's zip writer: RuntimeError
            torch.jit.save(scripted, str(tmp), _extra_files={f"{METADATA_KEY}.json": json.dumps(meta, ensure_ascii=False)})


def _run_export(path: Path, fmt: str, inputs) -> list[torch.Tensor]:
    """Run the written file as a user would (onnxruntime, or ``torch.jit.load``)."""
    if fmt == "onnx":
        import onnxruntime  # deferred: the optional export extra

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
    path = _check_target(path, fmt)
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
    difference = _verify(model, path, fmt)
    runtime = path.parent / RUNTIME_NAME
    with modeldir.writing(runtime):
        shutil.copyfile(export_runtime.__file__, runtime)
    return ExportReport(path, runtime, fmt, model.kind, seconds, path.stat().st_size, difference)


def _check_target(path, fmt: str) -> Path:
    """Refuse an unknown format, a missing extra or a path that cannot be written, before the work."""
    if fmt not in FORMATS:
        raise SeqtextError(f"unknown export format {fmt!r}: choose from {', '.join(FORMATS)}")
    if fmt == "onnx":
        require_onnx()
    path = Path(path)
    if path.is_dir():
        raise SeqtextError(f"{path} is a directory: give the file to write, e.g. {path / ('model.' + ('onnx' if fmt == 'onnx' else 'pt'))}")
    if not path.parent.is_dir():
        raise SeqtextError(f"{path.parent}: no such directory")
    probe = modeldir.temporary_path(path)  # a place that takes no new files (/proc, read-only): refused before the work
    with modeldir.writing(path):
        probe.touch()
        probe.unlink()
    return path


def _verify(model, path: Path, fmt: str) -> float:
    """Run the written file on the sample input: its largest difference from seqtext's scores."""
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
    return difference
