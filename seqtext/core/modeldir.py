"""The model directory, shared by every model kind: writing it, and reading it back safely.

A model directory holds ``config.json`` (format version, kind, hyper-parameters, tokenizer
settings, seqtext version), ``model.safetensors`` (weights), the tokenizer's files and
``metrics.json``. Loading reads only safetensors and JSON, never pickle, so that opening a
model someone else made cannot run their code.

Model directories are user input: they are copied, hand-edited, half-downloaded and made by
other seqtext versions. So every check lives here, in one place, and every problem becomes a
one-line ``ModelError`` that names the file and what is wrong with it, not a ``KeyError`` from
deep inside torch.

Files are written under temporary per-process names and renamed into place, so a crash while
saving never leaves a half-written file where a good one was, and two processes saving at once
never write into each other's temporary file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import math
import os
import re
import types
import typing
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from seqtext import __version__
from seqtext.core.devices import resolve_device
from seqtext.errors import ModelError, SeqtextError

# Raise when a change to the files would make older seqtext versions misread them; older
# versions then refuse the directory instead of loading something wrong.
FORMAT_VERSION = 1

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
METRICS_FILE = "metrics.json"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

# Per kind: the config.json lists each kind adds, and the model setting that must equal each
# list's length (a mismatch would give ids the network has no row for).
KIND_LISTS = {
    "language_model": {},
    "classifier": {"labels": "num_classes"},
    "tagger": {"tags": "num_tags", "chars": "char_vocab_size"},
}
KINDS = tuple(KIND_LISTS)


# -- writing -------------------------------------------------------------------------------
def temporary_path(path: Path) -> Path:
    """A hidden sibling of ``path`` for writing before the rename. The process id keeps two
    processes that save the same model at once from truncating each other's half-written file."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_failure(path, err: BaseException) -> str:
    """One line that names the file that could not be written and says why in the user's words:
    a full disk or a file size limit (``ulimit -f``: Python ignores SIGXFSZ, so the write fails
    with EFBIG) rather than torch's ``enforce fail at inline_container.cc`` or numpy's
    ``300000 requested and 20479 written``."""
    code = getattr(err, "errno", None)
    if code is None:  # safetensors: "... I/O error: File too large (os error 27)"
        found = re.search(r"os error (\d+)", str(err))
        code = int(found[1]) if found else None
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        reason = "no space left on the device"
    elif code == errno.EFBIG:
        reason = "file too large: a file size limit (ulimit -f) was reached"
    elif isinstance(err, OSError) and err.strerror:
        reason = err.strerror
    else:  # a short write that says no more (numpy, torch's zip writer)
        reason = "only part of it could be written: is the disk full, or a file size limit (ulimit -f) reached?"
    return f"cannot write {path} ({reason})"


@contextlib.contextmanager
def writing(path, also: tuple[type[BaseException], ...] = ()):
    """Around the writes of ``path``: an OSError, a SafetensorError or one of ``also`` (torch's
    writer raises RuntimeError) becomes one SeqtextError naming ``path`` (``write_failure``).
    Only writes belong inside: a failed read must not be reported as a failed write."""
    try:
        yield
    except (OSError, SafetensorError, *also) as err:
        raise SeqtextError(write_failure(path, err)) from None


@contextlib.contextmanager
def atomic_path(path: Path):
    """A temporary path beside ``path`` to write to; when the block ends without an error it
    replaces ``path`` in one step, so a reader never sees half a file and a failed write leaves
    the old file as it was. The temporary file is removed in any case."""
    path = Path(path)
    tmp = temporary_path(path)
    try:
        yield tmp
        with writing(path):
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp, writing(path):
        tmp.write_bytes(data)


def write_json(path: Path, obj) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def save_model(
    directory,
    *,
    kind: str,
    network: torch.nn.Module,
    model_config: dict,
    tokenizer,
    metrics: dict,
    info: dict | None = None,
    extra: dict | None = None,
    weights_dtype: str = "float32",
) -> Path:
    """Write a complete model directory. ``extra`` holds kind-specific entries for config.json
    (label lists and such); ``weights_dtype`` float16 halves the size on disk. config.json is
    written last, so a directory whose save was cut short is not yet a model."""
    if weights_dtype not in DTYPES:
        raise ModelError(f"unknown weights dtype {weights_dtype!r}: choose from {', '.join(DTYPES)}")
    directory = Path(directory)
    with writing(directory):
        directory.mkdir(parents=True, exist_ok=True)
    tied = set(getattr(network, "tied_keys", []))
    dtype = DTYPES[weights_dtype]
    state = {
        key: (value.to(dtype) if value.is_floating_point() else value).contiguous().cpu()
        for key, value in network.state_dict().items()
        if key not in tied
    }
    with atomic_path(directory / WEIGHTS_FILE) as tmp, writing(directory / WEIGHTS_FILE):
        save_file(state, str(tmp), metadata={"format": "pt"})
        os.chmod(tmp, 0o644)  # safetensors writes 0600; a shipped or shared model must be readable
    with writing(f"the tokenizer's files in {directory}"):
        tokenizer_settings = tokenizer.save(directory)
    config = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "seqtext_version": __version__,
        "model": model_config,
        "tokenizer": tokenizer_settings,
        "weights_dtype": weights_dtype,
        "info": shared_info(info or {}),
        **(extra or {}),
    }
    write_json(directory / METRICS_FILE, metrics)
    write_json(directory / CONFIG_FILE, config)
    return directory


# -- what a model directory tells of its sources ------------------------------------------------
# The ``info`` entries (at any depth) that name the files or models a model was made from.
SOURCE_KEYS = ("train_files", "train_file", "val_files", "dev_file", "init_from", "pretrained_lms", "embeddings")


def shared_name(source: str) -> str:
    """What a model directory or an export records of a file or model it was made from: a model
    name as it is, a path by its last part (``/data/conll2003/train.txt`` -> ``train.txt``).
    These are published; where the files lay on the machine that trained the model is not
    theirs to tell (run.json keeps the full paths a resumed run needs)."""
    text = str(source)
    return re.split(r"[\\/]", text.rstrip("/\\"))[-1] or text


def shared_info(info: dict) -> dict:
    """``info`` with every path under SOURCE_KEYS reduced to its ``shared_name`` (a tagger's
    ``train_file`` is a comma-joined list)."""
    shared = {}
    for key, value in info.items():
        if isinstance(value, dict):
            value = shared_info(value)
        elif key in SOURCE_KEYS and isinstance(value, str):
            value = ", ".join(shared_name(part) for part in value.split(", ")) if key == "train_file" else shared_name(value)
        elif key in SOURCE_KEYS and isinstance(value, list):
            value = [shared_name(part) if isinstance(part, str) else part for part in value]
        shared[key] = value
    return shared


class SavedModel:
    """What every model kind shares: ``save`` writes the model directory. Subclasses set
    ``kind`` and hold ``network``, ``tokenizer``, ``metrics`` and ``info``; kind-specific
    config.json entries come from ``extra_config``."""

    kind = ""

    @property
    def device(self) -> torch.device:
        """Where the network runs (``to`` moves it)."""
        return next(self.network.parameters()).device

    def to(self, device="auto"):
        """Move the network to ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``); returns self."""
        self.network.to(resolve_device(device))
        return self

    @classmethod
    def load(cls, directory, device="auto"):
        """The model saved in the directory ``directory`` (``seqtext.load`` also takes names)."""
        directory = Path(directory)
        return cls.from_directory(directory, read_config(directory, cls.kind)).to(device)

    def extra_config(self) -> dict:
        return {}

    def save(self, directory, metrics: dict | None = None, weights_dtype: str = "float32") -> Path:
        return save_model(
            directory,
            kind=self.kind,
            network=self.network,
            model_config=dataclasses.asdict(self.network.config),
            tokenizer=self.tokenizer,
            metrics=metrics if metrics is not None else self.metrics,
            info=self.info,
            extra=self.extra_config(),
            weights_dtype=weights_dtype,
        )


# -- reading -------------------------------------------------------------------------------
MAX_JSON_DEPTH = 100  # no file seqtext writes nests a tenth as deep


def read_json(path: Path):
    """The parsed file, or a ModelError that says which file and where it breaks. JSON nested
    deeper than MAX_JSON_DEPTH is refused: Python's parser gives up with a RecursionError near a
    thousand levels, and whatever read a value nested just under that would fail the same way."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise ModelError(f"{path}: cannot read ({err.strerror or err})") from None
    except UnicodeDecodeError:
        raise ModelError(f"{path}: not valid JSON (not UTF-8 text)") from None
    too_deep = f"{path}: JSON nested more than {MAX_JSON_DEPTH} levels deep (no seqtext file nests so deep)"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ModelError(f"{path}: not valid JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
    except RecursionError:
        raise ModelError(too_deep) from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ModelError(too_deep)
    return value


def json_depth(value) -> int:
    """How deep lists and objects nest in a parsed JSON value (0 for a number or string),
    counted without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def read_metrics(directory: Path) -> dict:
    """metrics.json is optional (a model saved by hand may have none), but when present it must
    be a JSON object: ``seqtext models`` and the README tables read it."""
    path = Path(directory) / METRICS_FILE
    if not path.is_file():
        return {}
    metrics = read_json(path)
    if not isinstance(metrics, dict):
        raise ModelError(f"{path}: expected a JSON object, found {_json_type(metrics)}")
    return metrics


def read_config(directory: Path, expected_kind: str | None = None) -> dict:
    """config.json, checked with ``check_config``, so that a bad directory fails here with one
    clear line rather than later with a ``KeyError``."""
    directory = Path(directory)
    path = directory / CONFIG_FILE
    try:
        found = path.is_file()
    except OSError as err:  # is_file passes on only "no such file": a name too long, a directory not to be entered
        raise ModelError(f"{path}: cannot read ({err.strerror or err})") from None
    if not found:
        raise ModelError(f"{directory} is not a model directory (no {CONFIG_FILE})")
    return check_config(directory, read_json(path), expected_kind)


def check_config(directory: Path, config, expected_kind: str | None = None) -> dict:
    """Check the structure of a parsed config.json and return it unchanged.

    What it checks here is what every kind shares plus each kind's lists; the ``model``
    section's keys and types are checked against the kind's config dataclass in
    ``build_network``, what only one kind holds by that kind's ``from_directory``, the tokenizer's
    settings and files in ``load_tokenizer``.
    """
    path = Path(directory) / CONFIG_FILE
    if not isinstance(config, dict):
        raise ModelError(f"{path}: expected a JSON object, found {_json_type(config)}")
    version = config.get("format_version", 1)  # directories written before the field existed
    if not _is_int(version) or version < 1:
        raise ModelError(f"{path}: format_version must be a positive integer, not {version!r}")
    if version > FORMAT_VERSION:
        raise ModelError(
            f"{path}: format_version {version} was made by a newer seqtext "
            f"(this one reads up to {FORMAT_VERSION}); upgrade seqtext to load it"
        )
    for key in ("kind", "model", "tokenizer"):
        if key not in config:
            raise ModelError(f"{path}: missing key {key!r}")
    kind = config["kind"]
    if kind not in KINDS:
        raise ModelError(f"{path}: unknown model kind {kind!r} (known: {', '.join(KINDS)})")
    if expected_kind is not None and kind != expected_kind:
        raise ModelError(f"{path}: kind is {kind!r}, expected {expected_kind!r}")
    for key in ("model", "tokenizer"):
        if not isinstance(config[key], dict):
            raise ModelError(f"{path}: {key} must be a JSON object, not {_json_type(config[key])}")
    _check_optional(path, config, "info", dict, "a JSON object")
    _check_optional(path, config, "seqtext_version", str, "a string")
    dtype = config.get("weights_dtype", "float32")
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise ModelError(f"{path}: weights_dtype must be one of {', '.join(DTYPES)}, not {config['weights_dtype']!r}")
    for key in KIND_LISTS[kind]:
        if key not in config:
            raise ModelError(f"{path}: missing key {key!r} (a {kind} needs it)")
        values = config[key]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ModelError(f"{path}: {key} must be a list of strings")
        if not values:
            raise ModelError(f"{path}: {key} is empty")
        duplicate = _first_duplicate(values)
        if duplicate is not None:
            raise ModelError(f"{path}: {key} lists {duplicate!r} twice")
    return config


def build_network(network_cls, config_cls, directory: Path, config: dict) -> torch.nn.Module:
    """The network that the ``model`` section describes, before its weights are loaded.

    The section is checked against ``config_cls`` (the kind's config dataclass) key by key,
    because the dataclass would otherwise fail with a bare ``TypeError`` (an unknown key) or
    accept a string where a number belongs and fail later inside torch.
    """
    path = Path(directory) / CONFIG_FILE
    section = config["model"]
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    for key, value in section.items():
        if key not in fields:
            raise ModelError(f"{path}: unknown key 'model.{key}' (known: {', '.join(fields)})")
        if not _matches(value, hints[key]):
            raise ModelError(f"{path}: model.{key} must be {_type_name(hints[key])}, not {value!r}")
    for key, field in fields.items():
        no_default = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if no_default and key not in section:
            raise ModelError(f"{path}: missing key 'model.{key}'")
    for list_key, size_key in KIND_LISTS[config["kind"]].items():
        if section[size_key] != len(config[list_key]):
            raise ModelError(
                f"{path}: model.{size_key} is {section[size_key]} but {list_key} has {len(config[list_key])} entries"
            )
    try:
        return network_cls(config_cls(**section))
    except SeqtextError as err:  # the config's and network's own checks: unknown cell, sizes, ...
        raise ModelError(f"{path}: {err}") from None
    except (TypeError, ValueError, RuntimeError) as err:  # torch: negative sizes, dropout > 1, ...
        raise ModelError(f"{path}: the model settings do not make a network ({err})") from None


LATER_KEYS = ("ngrams.ngram_weight",)  # seqtext.classifier.ngrams.NgramLinear: 1 for models saved before it


def load_weights(path: Path, network: torch.nn.Module) -> None:
    """Copy the weights in ``path`` into ``network`` (as float32: CPUs here have no fast
    half-precision arithmetic). Shapes are compared first so that a mismatch names the tensor
    instead of surfacing as torch's multi-line ``RuntimeError``."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: weights file is missing")
    try:
        state = load_file(str(path))
    except SafetensorError as err:
        raise ModelError(f"{path}: not a complete safetensors file ({err})") from None
    except OSError as err:
        raise ModelError(f"{path}: cannot read ({err.strerror or err})") from None
    expected = network.state_dict()
    tied = set(getattr(network, "tied_keys", []))
    # Tensors added after models were saved, whose starting value is what those models meant.
    later = {key for key in expected if key.endswith(LATER_KEYS)}
    missing = sorted(set(expected) - set(state) - tied - later)
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelError(
            f"{path}: weights do not match {CONFIG_FILE} "
            f"(missing: {_some(missing)}; unexpected: {_some(unexpected)})"
        )
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise ModelError(
                f"{path}: tensor {key!r} has shape {tuple(value.shape)} but {CONFIG_FILE} "
                f"needs {tuple(expected[key].shape)}"
            )
        if value.is_floating_point() != expected[key].is_floating_point():
            raise ModelError(f"{path}: tensor {key!r} has type {value.dtype}, expected {expected[key].dtype}")
    network.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=False)
    network.eval()


# -- helpers -------------------------------------------------------------------------------
def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not a size


def _matches(value, hint) -> bool:
    """Whether a JSON value fits a dataclass field's type; only the types config dataclasses use."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return _is_int(value)
    if hint is float:  # JSON writes 0.0 as 0 only if a person edits it; accept both, not NaN
        return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    return True  # a type this check does not know: leave it to the dataclass


def _type_name(hint) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(hint))
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "null"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _json_type(value) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def _check_optional(path: Path, config: dict, key: str, expected: type, described: str) -> None:
    if key in config and not isinstance(config[key], expected):
        raise ModelError(f"{path}: {key} must be {described}, not {_json_type(config[key])}")


def _some(names: list[str], shown: int = 4) -> str:
    """A list short enough for a one-line message."""
    if not names:
        return "none"
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _first_duplicate(values: list[str]):
    seen = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None
